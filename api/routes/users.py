"""/login, /verifyPassword, /loginAs, /logout, /users/me, /upgradeToRevocableSession and /sessions/me: the caller's own
account (`core/services/users.py`, `core/services/sessions.py`). The user and session objects
themselves are served by `objects.py`'s routes."""

from __future__ import annotations

from parsnip.api.routes import Reply
from parsnip.core.services import sessions, users


def _credentials(req) -> dict:
    return {**req.params, **(req.body if isinstance(req.body, dict) else {})}


async def login(rt, req) -> Reply:
    return Reply(raw=await users.login(rt, req.caller, _credentials(req)))


async def verify_password(rt, req) -> Reply:
    return Reply(raw=await users.verify_password(rt, req.caller, _credentials(req)))


async def login_as(rt, req) -> Reply:
    return Reply(raw=await users.login_as(rt, req.caller, _credentials(req).get("userId")))


async def me(rt, req) -> Reply:
    return Reply(raw=await users.me(rt, req.caller))


async def logout(rt, req) -> Reply:
    await users.logout(rt, req.caller)
    return Reply({})


async def upgrade_to_revocable(rt, req) -> Reply:
    return Reply(raw=await users.upgrade_to_revocable(rt, req.caller))


async def session_me(rt, req) -> Reply:
    return Reply(raw=await sessions.me(rt, req.caller))
