"""What signup and every kind of login share: a new session for the caller, the user's own
view of themself with its token, a password's hash, and the login hooks."""

from __future__ import annotations

import json

import trio

from parsnip.core.accounts import passwords, sessions
from parsnip.core.accounts.users import USER_CLASS as USER
from parsnip.core.commands import Create, Delete
from parsnip.core.errors import ParseError
from parsnip.core.pipeline import account
from parsnip.core.pipeline.hooks import AFTER_LOGIN, BEFORE_LOGIN
from parsnip.core.reads import FindOptions
from parsnip.core.security import guard
from parsnip.core.security.auth import MASTER, Auth
from parsnip.core.services.base import Backend, Caller


def new_session(rt: Backend, caller: Caller, user_id: str, action: str, provider: str = "password") -> Create:
    """A new session of `user_id` for the installation the caller named."""
    length = rt.config.sessionLength if rt.config.expireInactiveSessions else None
    return sessions.create_session(user_id, action, provider, length, caller.installation_id)


async def revoke_installation_sessions(rt: Backend, caller: Caller, user_id: str, keep: str,
                                      installation_id: str | None = None) -> None:
    """A new session (`keep`) ends the user's other sessions on the same installation (the
    caller's unless named), as Parse does: one device, one session."""
    installation_id = installation_id or caller.installation_id
    if installation_id:
        await end_sessions(rt, caller, await rt.read(sessions.installation_sessions, user_id, installation_id), keep)


async def end_sessions(rt: Backend, caller: Caller, found: list[tuple[str, str]], keep: str | None = None) -> None:
    """Delete these (objectId, token) sessions but `keep`'s; one already gone is no matter."""
    for oid, token in found:  # one by one: a session may be gone already (logged out meanwhile)
        if token == keep:
            continue
        try:
            await rt.write([Delete(sessions.SESSION_CLASS, oid)], caller.context, MASTER)
        except ParseError:
            pass


def session_token(cmd: Create) -> str:
    """The token of a new session command."""
    return cmd.ops["sessionToken"].value


async def own_view(rt: Backend, user_id: str, session_token: str | None = None) -> str:
    """The user as they see themself (internal fields never), plus their session token."""
    # Read as the server (the user's own CLP may not allow `get`); internal fields stay hidden.
    opts = FindOptions(access=guard.ReadAccess(USER, MASTER))
    text = await rt.read(rt.reads.get, USER, user_id, opts)
    if text is None:
        raise ParseError(ParseError.OBJECT_NOT_FOUND, "Object not found.")
    if session_token:
        text = text[:-1] + f',"sessionToken":{json.dumps(session_token)}}}'
    return text


async def hashed(password: str) -> str:
    return await trio.to_thread.run_sync(passwords.hash_password, password)


async def before_login(rt: Backend, caller: Caller, user_id: str) -> None:
    """The before-login hooks (Parse's beforeLogin): they see the user; their error refuses the login."""
    await account.run(rt.hooks, BEFORE_LOGIN, USER, lambda: own_view(rt, user_id), caller.auth,
                      cloud_context=caller.cloud_context, client_ip=caller.client_ip)


async def after_login(rt: Backend, caller: Caller, user_id: str, view: str) -> None:
    """The after-login hooks (Parse's afterLogin), once the session exists, as the user."""
    auth = Auth(user_id=user_id, installation_id=caller.installation_id)
    await account.run(rt.hooks, AFTER_LOGIN, USER, view, auth, cloud_context=caller.cloud_context,
                      client_ip=caller.client_ip)

