"""/login, /logout, /users/me, /upgradeToRevocableSession and /sessions/me: the caller's own
account (`core/services/users.py`, `core/services/sessions.py`). The user and session objects
themselves are served by `objects.py`'s routes."""

from __future__ import annotations

from parsnip.api.routes import Reply
from parsnip.core.services import sessions, users


async def login(rt, req) -> Reply:
    credentials = {**req.params, **(req.body if isinstance(req.body, dict) else {})}
    return Reply(raw=await users.login(rt, req.caller, credentials))


async def me(rt, req) -> Reply:
    return Reply(raw=await users.me(rt, req.caller))


async def logout(rt, req) -> Reply:
    await users.logout(rt, req.caller)
    return Reply({})


async def upgrade_to_revocable(rt, req) -> Reply:
    return Reply(raw=await users.upgrade_to_revocable(rt, req.caller))


async def session_me(rt, req) -> Reply:
    return Reply(raw=await sessions.me(rt, req.caller))
