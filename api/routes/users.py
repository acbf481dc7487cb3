"""/users, /login, /logout, /users/me, /upgradeToRevocableSession: signup, login and the
user's own account. /classes/_User routes here too, as in Parse.

Passwords are hashed in a worker thread (bcrypt is slow on purpose) and only the hash is
written. A new user and its first session are one unit of the writer: both or neither.
"""

from __future__ import annotations

import json

import trio

from parsnip.api.routes import Reply, authdata, objects
from parsnip.core.accounts import passwords, sessions, user_hooks, users
from parsnip.core.commands import Create, Delete, Update, build_ops
from parsnip.core.errors import ParseError
from parsnip.core.security import guard
from parsnip.core.security.auth import MASTER
from parsnip.core.values import new_object_id
from parsnip.projections import reader

USER = users.USER_CLASS


def _session_length(rt) -> int | None:
    return rt.config.sessionLength if rt.config.expireInactiveSessions else None


def new_session(rt, req, user_id: str, action: str, provider: str = "password") -> Create:
    return sessions.create_session(user_id, action, provider, _session_length(rt),
                                   req.keys.get("installation_id"))


def _token(cmd: Create) -> str:
    return cmd.ops["sessionToken"].value


async def own_view(rt, user_id: str, session_token: str | None = None) -> str:
    """The user as they see themself (internal fields never), plus their session token."""
    # Read as the server (the user's own CLP may not allow `get`); internal fields stay hidden.
    opts = reader.FindOptions(access=guard.ReadAccess(USER, MASTER))
    text = await rt.read(reader.get, USER, user_id, opts)
    if text is None:
        raise ParseError(ParseError.OBJECT_NOT_FOUND, "Object not found.")
    if session_token:
        text = text[:-1] + f',"sessionToken":{json.dumps(session_token)}}}'
    return text


async def hashed(password: str) -> str:
    return await trio.to_thread.run_sync(passwords.hash_password, password)


# -- signup ----------------------------------------------------------------------------------

async def signup(rt, req) -> Reply:
    objects._check_writable(req)
    body = req.body if isinstance(req.body, dict) else None
    if body is None:
        raise ParseError(ParseError.INVALID_JSON, "request body must be a JSON object")
    if authdata.is_auth_signup(body):
        return await authdata.signup_or_login(rt, req, body)
    users.check_signup(body, has_auth_data=False)
    users.check_client_fields(body, req.master)
    fields = {k: v for k, v in body.items() if k != "password"}
    user_id = new_object_id()
    fields["ACL"] = users.owner_acl(user_id, body.get("ACL"), public_read=not rt.config.enforcePrivateUsers)
    ops, _ = build_ops(USER, fields)
    # The password is checked and hashed by the `_User` rules (core/accounts/user_hooks.py).
    user = Create(USER, ops, user_id, server_chosen_id=True, password=body["password"])
    session = new_session(rt, req, user_id, "signup")
    [created, _] = await rt.write([user, session], req.context, req.auth)
    reply = {**objects.created_body(user, created), "sessionToken": _token(session)}
    location = f"{rt.config.serverURL}/users/{user_id}"
    return Reply(reply, status=201, headers={"Location": location})


# -- login, logout, me -------------------------------------------------------------------------

async def login(rt, req) -> Reply:
    params = {**req.params, **(req.body if isinstance(req.body, dict) else {})}
    username, email, password = users.login_credentials(params)
    found = await rt.read(users.find_for_login, username, email)
    stored = found[1].get("_hashed_password") if found else None
    ok = await trio.to_thread.run_sync(passwords.verify, password, stored)
    await user_hooks.check_login(rt, req.context, found, ok)  # lockout, verified email, password age
    if not ok or found is None:
        raise ParseError(ParseError.OBJECT_NOT_FOUND, users.INVALID_LOGIN)
    user_id = found[0]
    session = new_session(rt, req, user_id, "login")
    await rt.write([session], req.context, MASTER)
    return Reply(raw=await own_view(rt, user_id, _token(session)))


async def me(rt, req) -> Reply:
    if req.auth.user_id is None:
        raise ParseError(ParseError.INVALID_SESSION_TOKEN, "Invalid session token")
    return Reply(raw=await own_view(rt, req.auth.user_id, req.auth.session_token))


async def logout(rt, req) -> Reply:
    if req.auth.session_id is not None:
        try:
            await rt.write([Delete(sessions.SESSION_CLASS, req.auth.session_id)], req.context, MASTER)
        except ParseError as e:
            if e.code != ParseError.OBJECT_NOT_FOUND:  # logged out twice at once: already gone
                raise
    return Reply({})


async def upgrade_to_revocable(rt, req) -> Reply:
    """Every Parsnip session is revocable already; this hands out a new one, as Parse does
    for a legacy token."""
    if req.auth.user_id is None:
        raise ParseError(ParseError.INVALID_SESSION_TOKEN, "Invalid session token")
    session = new_session(rt, req, req.auth.user_id, "upgrade")
    [result] = await rt.write([session], req.context, MASTER)
    return Reply(raw=await rt.read(reader.get, sessions.SESSION_CLASS, result.object_id, reader.FindOptions()))


# -- the user's own object ------------------------------------------------------------------

async def update(rt, req, object_id: str) -> Reply:
    objects._check_writable(req)
    body = req.body if isinstance(req.body, dict) else None
    if body is None:
        raise ParseError(ParseError.INVALID_JSON, "request body must be a JSON object")
    users.check_user_fields(body)
    users.check_client_fields(body, req.master)
    password = body.get("password")
    linked = await authdata.link_op(rt, req, object_id, body["authData"]) if "authData" in body else None
    ops, new_id = build_ops(USER, {k: v for k, v in body.items() if k not in ("password", "authData")},
                            allow_object_id=True)
    if new_id is not None and new_id != object_id:
        raise ParseError(ParseError.INVALID_KEY_NAME, "objectId is an invalid field name.")
    if linked is not None:
        ops["authData"] = linked
    cmd = Update(USER, object_id, ops, password=password)  # hashed by the `_User` rules
    [result] = await rt.write([cmd], req.context, req.auth)
    if password is not None:  # a new password ends every other session of the user
        await _revoke_sessions(rt, req, object_id, keep=req.auth.session_token)
    reply = objects.updated_body(cmd, result)
    return Reply({**reply, "authDataResponse": {}} if linked is not None else reply)


async def delete(rt, req, object_id: str) -> Reply:
    objects._check_writable(req)
    await rt.write([Delete(USER, object_id)], req.context, req.auth)
    await _revoke_sessions(rt, req, object_id)
    return Reply({})


async def _revoke_sessions(rt, req, user_id: str, keep: str | None = None) -> None:
    doomed = [Delete(sessions.SESSION_CLASS, oid) for oid, token in await rt.read(sessions.sessions_of, user_id)
              if token != keep]
    for cmd in doomed:  # one by one: a session may be gone already (logged out meanwhile)
        try:
            await rt.write([cmd], req.context, MASTER)
        except ParseError:
            pass


# -- routing -------------------------------------------------------------------------------

async def find(rt, req) -> Reply:
    return await objects.find(rt, req, USER)


async def get(rt, req, object_id: str) -> Reply:
    return await objects.get(rt, req, USER, object_id)


