"""/sessions: a user's own sessions (all of them for the master key), /sessions/me, and
revoking one by deleting it. Session objects are protected by their ACL (the user only)."""

from __future__ import annotations

from parsnip.api.routes import Reply, objects
from parsnip.core.accounts import sessions
from parsnip.core.errors import ParseError
from parsnip.core.security.auth import MASTER

SESSION = sessions.SESSION_CLASS
# Set by the server only: a client may not forge a token, move a session to another user,
# or extend it.
_RESERVED = frozenset({"sessionToken", "user", "expiresAt", "createdWith", "restricted", "installationId"})


def _require_user(req) -> None:
    if not req.master and req.auth.user_id is None:
        raise ParseError(ParseError.INVALID_SESSION_TOKEN, "Session token required.")


async def find(rt, req) -> Reply:
    _require_user(req)
    return await objects.find(rt, req, SESSION)


async def get(rt, req, object_id: str) -> Reply:
    _require_user(req)
    return await objects.get(rt, req, SESSION, object_id)


async def me(rt, req) -> Reply:
    if req.auth.session_id is None:
        raise ParseError(ParseError.INVALID_SESSION_TOKEN, "Invalid session token")
    return await objects.get(rt, type(req)(
        "GET", req.path, {}, {}, master=True, keys=req.keys, client_ip=req.client_ip, auth=MASTER,
    ), SESSION, req.auth.session_id)


async def create(rt, req) -> Reply:
    """A new session for the current user (Parse: createdWith action "create")."""
    objects._check_writable(req)
    if req.master:
        return await objects.create(rt, req, SESSION)
    _require_user(req)
    _refuse_reserved(req.body)
    cmd = sessions.create_session(req.auth.user_id, "create", "password",
                                  rt.config.sessionLength if rt.config.expireInactiveSessions else None,
                                  req.auth.installation_id)
    extra = objects.create_command(rt, SESSION, req.body).ops
    cmd = type(cmd)(SESSION, {**extra, **cmd.ops})
    [result] = await rt.write([cmd], req.context, MASTER)
    return Reply({"objectId": result.object_id, "createdAt": objects.iso(result.created_at),
                  "sessionToken": cmd.ops["sessionToken"].value}, status=201)


async def update(rt, req, object_id: str) -> Reply:
    if not req.master:
        _require_user(req)
        _refuse_reserved(req.body)
    return await objects.update(rt, req, SESSION, object_id)


async def delete(rt, req, object_id: str) -> Reply:
    if not req.master:
        _require_user(req)
    return await objects.delete(rt, req, SESSION, object_id)


def _refuse_reserved(body) -> None:
    if isinstance(body, dict) and _RESERVED & body.keys():
        raise ParseError(ParseError.OPERATION_FORBIDDEN, "Permission denied")
