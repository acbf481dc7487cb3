"""authData on users, as Parse Server answers it: POST with authData logs the provider's user
in (200) or signs a new one up (201, random username); PUT on one's own user links providers
(`{p: {...}}`) and unlinks them (`{p: null}`).

Every provider's data is checked with its adapter (`core/accounts/authdata/`) before anything
is written; a provider id already held by another user is 208 here, and again inside the
writer's transaction when two requests race (`core/accounts/authdata/store.py: check_unique`).
"""

from __future__ import annotations

import secrets
import string
import weakref
from typing import Any, Mapping

from parsnip.core.accounts import users
from parsnip.core.accounts.authdata import registry as _registry
from parsnip.core.accounts.authdata import store
from parsnip.core.commands import Create, Update, build_ops
from parsnip.core.errors import ParseError
from parsnip.core.operations import Op
from parsnip.core.security.auth import MASTER
from parsnip.core.services import objects
from parsnip.core.services.access import require_writable
from parsnip.core.services.base import Backend, Caller
from parsnip.core.services.objects import Saved
from parsnip.core.services.own_account import (
    after_login, before_login, hashed, new_session, own_view, revoke_installation_sessions, session_token,
)
from parsnip.core.values import new_object_id

USER = users.USER_CLASS

_registries: "weakref.WeakKeyDictionary[Any, _registry.Registry]" = weakref.WeakKeyDictionary()

_USERNAME_CHARS = string.ascii_letters + string.digits


def registry(rt) -> _registry.Registry:
    """The runtime's providers, built from its config on first use."""
    reg = _registries.get(rt)
    if reg is None:
        reg = _registries[rt] = _registry.build(rt.config)
    return reg


def random_username() -> str:
    """25 letters and digits, the shape of the usernames Parse makes for authData signups."""
    return "".join(secrets.choice(_USERNAME_CHARS) for _ in range(25))


def is_auth_signup(body: Mapping[str, Any]) -> bool:
    """Whether a POST /users is an authData login or signup: some provider carries data.
    Otherwise (no authData, `{}`, only nulls or empty objects) it is an ordinary signup."""
    auth_data = body.get("authData")
    if not isinstance(auth_data, dict):
        return False
    return any(v != {} for v in auth_data.values() if v is not None)


async def validated(rt, given: Mapping[str, Any]) -> dict[str, str]:
    """{provider: id} of the providers in `given`, each enabled (252), with an id (250, 162),
    and accepted by its provider (101)."""
    reg = registry(rt)
    checked = []
    for provider, data in given.items():
        adapter, options = reg.get(provider)
        if not isinstance(data, dict):
            raise ParseError(ParseError.UNSUPPORTED_SERVICE, _registry.UNSUPPORTED)
        checked.append((provider, adapter, options, data, adapter.id_of(data)))
    for _provider, adapter, options, data, _pid in checked:
        await adapter.validate(data, options)
    return {provider: pid for provider, _a, _o, _d, pid in checked}


def _already_linked() -> ParseError:
    return ParseError(ParseError.ACCOUNT_ALREADY_LINKED, store.ALREADY_LINKED)


def _with_auth_response(text: str) -> str:
    return text[:-1] + ',"authDataResponse":{}}'


# -- signup with authData ------------------------------------------------------------------

async def signup_or_login(rt: Backend, caller: Caller, body: dict[str, Any]) -> Saved:
    """Log in the user who holds these provider ids, or sign a new one up with them."""
    require_writable(caller.auth)
    users.check_user_fields(body)
    users.check_client_fields(body, caller.master)
    given = {p: d for p, d in body["authData"].items() if d is not None}
    ids = await validated(rt, given)
    found = await rt.read(store.users_with, ids)
    if len(found) > 1:
        raise _already_linked()
    provider = ",".join(ids)
    if found:
        [(user_id, data)] = found.values()
        return await _login(rt, caller, user_id, data, given, provider)
    return await _signup(rt, caller, body, given, ids, provider)


async def _login(rt: Backend, caller: Caller, user_id: str, data: dict, given: dict, provider: str) -> Saved:
    stored = data.get("authData") if isinstance(data.get("authData"), dict) else {}
    merged = {**stored, **given}
    await before_login(rt, caller, user_id)
    if merged != stored:  # e.g. a new access token: keep the latest, as Parse does
        await rt.write([Update(USER, user_id, {"authData": Op("Set", merged)})], caller.context, MASTER)
    session = new_session(rt, caller, user_id, "login", provider)
    await rt.write([session], caller.context, MASTER)
    await revoke_installation_sessions(rt, caller, user_id, session_token(session))
    text = await own_view(rt, user_id, session_token(session))
    await after_login(rt, caller, user_id, text)
    return Saved(user_id, text=_with_auth_response(text), located=True)


async def _signup(rt: Backend, caller: Caller, body: dict, given: dict, ids: dict[str, str], provider: str) -> Saved:
    fields = {k: v for k, v in body.items() if k not in ("password", "authData")}
    generated = "username" not in fields
    if generated:
        fields["username"] = random_username()
    user_id = new_object_id()
    fields["ACL"] = users.owner_acl(user_id, body.get("ACL"), public_read=not rt.config.enforcePrivateUsers)
    ops, _ = build_ops(USER, fields)
    ops["authData"] = Op("Set", given)
    if isinstance(body.get("password"), str) and body["password"]:
        ops["_hashed_password"] = Op("Set", await hashed(body["password"]))
    user = Create(USER, ops, user_id, server_chosen_id=True)
    # Parse records an authData signup's session as a login with that provider.
    session = new_session(rt, caller, user_id, "login", provider)
    [created, _] = await rt.write([user, session], caller.context, caller.auth)
    await revoke_installation_sessions(rt, caller, user_id, session_token(session))
    reply: dict[str, Any] = objects.created_body(user, created)
    if generated:
        reply["username"] = fields["username"]
    reply["sessionToken"] = session_token(session)
    reply["authDataResponse"] = {}
    return Saved(user_id, reply, created=True, located=True)


# -- a user update with authData ----------------------------------------------------------------

async def link_op(rt: Backend, object_id: str, auth_data: Any) -> Op:
    """The operation on `authData` that links the providers given with data and unlinks those
    given as null; the rest of the user's providers stay."""
    if not isinstance(auth_data, dict):
        raise ParseError(ParseError.UNSUPPORTED_SERVICE, _registry.UNSUPPORTED)
    given = {p: d for p, d in auth_data.items() if d is not None}
    ids = await validated(rt, given)
    holders = await rt.read(store.users_with, ids)
    if any(uid != object_id for uid in holders):
        raise _already_linked()
    current = await rt.read(store.auth_data_of, object_id)
    merged = {**current, **given}
    for provider in (p for p, d in auth_data.items() if d is None):
        merged.pop(provider, None)
    return Op("Set", merged) if merged else Op("Delete")
