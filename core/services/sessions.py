"""Sessions: a user's own (all of them for the master key), the caller's current one, a new
one, and revoking one by deleting it. Session objects are protected by their ACL (the user only)."""

from __future__ import annotations

from typing import Any

from parsnip.core.accounts import sessions
from parsnip.core.errors import ParseError
from parsnip.core.security.auth import MASTER
from parsnip.core.services import objects
from parsnip.core.services.access import require_writable
from parsnip.core.services.base import Backend, Caller
from parsnip.core.services.objects import Found, Saved, create_command
from parsnip.core.services.own_account import revoke_installation_sessions

SESSION = sessions.SESSION_CLASS
# Set by the server only: a client may not forge a token, move a session to another user,
# or extend it.
_RESERVED = frozenset({"sessionToken", "user", "expiresAt", "createdWith", "restricted", "installationId"})


def _require_user(caller: Caller) -> None:
    if not caller.master and caller.auth.user_id is None:
        raise ParseError(ParseError.INVALID_SESSION_TOKEN, "Session token required.")


def _refuse_reserved(body: Any) -> None:
    if isinstance(body, dict) and _RESERVED & body.keys():
        raise ParseError(ParseError.OPERATION_FORBIDDEN, "Permission denied")


async def find(rt: Backend, caller: Caller, class_name: str, params: dict[str, Any]) -> Found:
    _require_user(caller)
    return await objects.find(rt, caller, SESSION, params)


async def get(rt: Backend, caller: Caller, class_name: str, object_id: str, params: dict[str, Any]) -> str:
    _require_user(caller)
    return await objects.get(rt, caller, SESSION, object_id, params)


async def me(rt: Backend, caller: Caller) -> str:
    """The caller's current session, read as the server (209 without one)."""
    if caller.auth.session_id is None:
        raise ParseError(ParseError.INVALID_SESSION_TOKEN, "Invalid session token")
    return await objects.get(rt, caller.acting_as(MASTER), SESSION, caller.auth.session_id, {})


async def create(rt: Backend, caller: Caller, class_name: str, body: Any) -> Saved:
    """A new session for the current user (Parse: createdWith action "create"); the master
    key creates any session it describes."""
    require_writable(caller.auth)
    if caller.master:
        return await objects.create(rt, caller, SESSION, body)
    _require_user(caller)
    _refuse_reserved(body)
    cmd = sessions.create_session(caller.auth.user_id, "create", "password",
                                  rt.config.sessionLength if rt.config.expireInactiveSessions else None,
                                  caller.auth.installation_id)
    extra = create_command(rt, SESSION, body).ops
    cmd = type(cmd)(SESSION, {**extra, **cmd.ops})
    [result] = await rt.write([cmd], caller.context, MASTER)
    await revoke_installation_sessions(rt, caller, caller.auth.user_id, cmd.ops["sessionToken"].value,
                                       caller.auth.installation_id)
    return Saved(result.object_id, {"objectId": result.object_id, "createdAt": objects.iso(result.created_at),
                                    "sessionToken": cmd.ops["sessionToken"].value}, created=True)


async def update(rt: Backend, caller: Caller, class_name: str, object_id: str, body: Any) -> Saved:
    if not caller.master:
        _require_user(caller)
        _refuse_reserved(body)
    return await objects.update(rt, caller, SESSION, object_id, body)


async def delete(rt: Backend, caller: Caller, class_name: str, object_id: str) -> None:
    if not caller.master:
        _require_user(caller)
    await objects.delete(rt, caller, SESSION, object_id)
