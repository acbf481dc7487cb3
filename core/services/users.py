"""Users: signup, login, logout, me, upgrading to a revocable session, and the user's own
object (update, delete; find and get are the objects' own).

A password travels on its command to the `_User` rules (`core/accounts/user_hooks.py`, a
built-in before-save hook), which check it and hash it in a worker thread; only the hash is
written. A new user and its first session are one unit of the writer: both or neither.
Third-party and anonymous login (`authData`) are in `core/services/authdata.py`.
"""

from __future__ import annotations

from typing import Any

import trio

from parsnip.core import js
from parsnip.core.accounts import passwords, sessions, user_hooks, users
from parsnip.core.commands import Create, Delete, Update, build_ops
from parsnip.core.errors import ParseError
from parsnip.core.pipeline import account
from parsnip.core.pipeline.hooks import AFTER_LOGOUT
from parsnip.core.reads import FindOptions
from parsnip.core.security.auth import MASTER
from parsnip.core.services import authdata, objects
from parsnip.core.services.access import require_writable
from parsnip.core.services.base import Backend, Caller
from parsnip.core.services.objects import Found, Saved
from parsnip.core.services.own_account import (
    after_login, before_login, end_sessions, new_session, own_view, revoke_installation_sessions, session_token,
)
from parsnip.core.values import new_object_id

USER = users.USER_CLASS


# -- signup, login, logout, me ---------------------------------------------------------------

async def signup(rt: Backend, caller: Caller, body: Any) -> Saved:
    """A new user with its first session; with `authData`, a login if a user holds it."""
    require_writable(caller.auth)
    if not isinstance(body, dict):
        raise ParseError(ParseError.INVALID_JSON, "request body must be a JSON object")
    if authdata.is_auth_signup(body):
        return await authdata.signup_or_login(rt, caller, body)
    users.check_signup(body, has_auth_data=False)
    users.check_client_fields(body, caller.master)
    fields = {k: v for k, v in body.items() if k != "password"}
    user_id = new_object_id()
    fields["ACL"] = users.owner_acl(user_id, body.get("ACL"), public_read=not rt.config.enforcePrivateUsers)
    ops, _ = build_ops(USER, fields)
    # The password is checked and hashed by the `_User` rules (core/accounts/user_hooks.py).
    user = Create(USER, ops, user_id, server_chosen_id=True, password=body["password"])
    if caller.master and not caller.installation_id:
        # The master key creating a user for someone else (Parse 9): no session, no token.
        [created] = await rt.write([user], caller.context, caller.auth, cloud_context=caller.cloud_context)
        return Saved(user_id, objects.created_body(user, created), created=True, located=True)
    session = new_session(rt, caller, user_id, "signup")
    [created, _] = await rt.write([user, session], caller.context, caller.auth, cloud_context=caller.cloud_context)
    await revoke_installation_sessions(rt, caller, user_id, session_token(session))
    return Saved(user_id, {**objects.created_body(user, created), "sessionToken": session_token(session)},
                 created=True, located=True)


async def _authenticate(rt: Backend, caller: Caller, credentials: dict[str, Any], *, login: bool) -> str:
    """The id of the user these credentials name, with Parse's refusals (101 for any wrong name
    or password, lockout, an empty ACL, unverified email; password age for a login only)."""
    username, email, password = users.login_credentials(credentials)
    found = await rt.read(users.find_for_login, username, email)
    stored = found[1].get("_hashed_password") if found else None
    ok = await trio.to_thread.run_sync(passwords.verify, password, stored)
    # The master key may skip the verified-email rule (the SDKs' ignoreEmailVerification).
    skip_email = caller.master and js.truthy(credentials.get("ignoreEmailVerification"))
    await user_hooks.check_login(rt, caller.context, found, ok, master=caller.master, expiry=login,
                                 verified_email=not skip_email)
    if not ok or found is None:
        raise ParseError(ParseError.OBJECT_NOT_FOUND, users.INVALID_LOGIN)
    return found[0]


async def login(rt: Backend, caller: Caller, credentials: dict[str, Any]) -> str:
    """The user's own view with a new session token; 101 for any wrong name or password."""
    user_id = await _authenticate(rt, caller, credentials, login=True)
    await before_login(rt, caller, user_id)
    session = new_session(rt, caller, user_id, "login")
    await rt.write([session], caller.context, MASTER)
    await revoke_installation_sessions(rt, caller, user_id, session_token(session))
    view = await own_view(rt, user_id, session_token(session))
    await after_login(rt, caller, user_id, view)
    return view


async def verify_password(rt: Backend, caller: Caller, credentials: dict[str, Any]) -> str:
    """Check a user's password as a login would, creating no session: the user's own view."""
    return await own_view(rt, await _authenticate(rt, caller, credentials, login=False))


async def login_as(rt: Backend, caller: Caller, user_id: Any) -> str:
    """The master key opens a session for any user (Parse's /loginAs: no login hooks, no
    lockout): the user's own view with the new token."""
    if not caller.master:
        raise ParseError(ParseError.OPERATION_FORBIDDEN, "Permission denied")
    require_writable(caller.auth)
    if not js.truthy(user_id):
        raise ParseError(ParseError.INVALID_VALUE, "userId must not be empty, null, or undefined")
    if not isinstance(user_id, str) or not await rt.read(users.user_exists, user_id):
        raise ParseError(ParseError.OBJECT_NOT_FOUND, "user not found")
    session = new_session(rt, caller, user_id, "login", "masterkey")
    await rt.write([session], caller.context, MASTER)
    await revoke_installation_sessions(rt, caller, user_id, session_token(session))
    return await own_view(rt, user_id, session_token(session))


async def me(rt: Backend, caller: Caller) -> str:
    """The caller's own user, with their session token (209 without a session)."""
    if caller.auth.user_id is None:
        raise ParseError(ParseError.INVALID_SESSION_TOKEN, "Invalid session token")
    return await own_view(rt, caller.auth.user_id, caller.auth.session_token)


async def logout(rt: Backend, caller: Caller) -> None:
    """End the caller's session (none: nothing to do); then the after-logout hooks see it."""
    session_id = caller.auth.session_id
    if session_id is None:
        return
    ended = None
    if account.wanted(rt.hooks, AFTER_LOGOUT, sessions.SESSION_CLASS):
        ended = await rt.read(rt.reads.get, sessions.SESSION_CLASS, session_id, FindOptions())
    try:
        await rt.write([Delete(sessions.SESSION_CLASS, session_id)], caller.context, MASTER)
    except ParseError as e:
        if e.code != ParseError.OBJECT_NOT_FOUND:  # logged out twice at once: already gone
            raise
        return
    await account.run(rt.hooks, AFTER_LOGOUT, sessions.SESSION_CLASS, ended, caller.auth,
                      cloud_context=caller.cloud_context, client_ip=caller.client_ip)


async def upgrade_to_revocable(rt: Backend, caller: Caller) -> str:
    """Every Parsnip session is revocable already; this hands out a new one, as Parse does
    for a legacy token. The new session's JSON text."""
    if caller.auth.user_id is None:
        raise ParseError(ParseError.INVALID_SESSION_TOKEN, "Invalid session token")
    session = new_session(rt, caller, caller.auth.user_id, "upgrade")
    [result] = await rt.write([session], caller.context, MASTER)
    return await rt.read(rt.reads.get, sessions.SESSION_CLASS, result.object_id, FindOptions())


# -- the user's object -----------------------------------------------------------------------

async def find(rt: Backend, caller: Caller, class_name: str, params: dict[str, Any]) -> Found:
    return await objects.find(rt, caller, USER, params)


async def get(rt: Backend, caller: Caller, class_name: str, object_id: str, params: dict[str, Any]) -> str:
    return await objects.get(rt, caller, USER, object_id, params)


async def create(rt: Backend, caller: Caller, class_name: str, body: Any) -> Saved:
    return await signup(rt, caller, body)


async def update(rt: Backend, caller: Caller, class_name: str, object_id: str, body: Any) -> Saved:
    """Change a user; a new password ends the user's other sessions; `authData` links and
    unlinks providers."""
    require_writable(caller.auth)
    if not isinstance(body, dict):
        raise ParseError(ParseError.INVALID_JSON, "request body must be a JSON object")
    users.check_user_fields(body)
    users.check_client_fields(body, caller.master)
    password = body.get("password")
    linked = await authdata.link_op(rt, object_id, body["authData"]) if "authData" in body else None
    ops, new_id = build_ops(USER, {k: v for k, v in body.items() if k not in ("password", "authData")},
                            allow_object_id=True)
    if new_id is not None and new_id != object_id:
        raise ParseError(ParseError.INVALID_KEY_NAME, "objectId is an invalid field name.")
    if linked is not None:
        ops["authData"] = linked
    cmd = Update(USER, object_id, ops, password=password)  # hashed by the `_User` rules
    [result] = await rt.write([cmd], caller.context, caller.auth, cloud_context=caller.cloud_context)
    if password is not None:  # a new password ends every other session of the user
        await _revoke_sessions(rt, caller, object_id, keep=caller.auth.session_token)
    reply = objects.updated_body(cmd, result)
    return Saved(object_id, {**reply, "authDataResponse": {}} if linked is not None else reply)


async def delete(rt: Backend, caller: Caller, class_name: str, object_id: str) -> None:
    """Delete a user and end its sessions."""
    require_writable(caller.auth)
    await rt.write([Delete(USER, object_id)], caller.context, caller.auth, cloud_context=caller.cloud_context)
    await _revoke_sessions(rt, caller, object_id)


async def _revoke_sessions(rt: Backend, caller: Caller, user_id: str, keep: str | None = None) -> None:
    await end_sessions(rt, caller, await rt.read(sessions.sessions_of, user_id), keep)
