"""What a signup, a login or a change to a _User may contain, checked before anything is
written. The password never reaches the log: it is replaced by its bcrypt hash
(`_hashed_password`, a server-internal field no read returns)."""

from __future__ import annotations

import re
from typing import Any, Mapping

import asyncpg

from parsnip.core import js
from parsnip.core.errors import ParseError
from parsnip.core.layout import USER_TABLE

USER_CLASS = "_User"

# Parse's check: something@something.something, no spaces.
_EMAIL = re.compile(r"^[^\s@]+@[^\s@]+\.[^\s@]+$")

# Fields only the master key may set on a _User.
MASTER_ONLY = frozenset({"emailVerified"})


def check_signup(body: Mapping[str, Any], has_auth_data: bool) -> None:
    """200 / 201 / 125 for a signup body without a usable username, password or email."""
    if not has_auth_data:
        username = body.get("username")
        if not isinstance(username, str) or not username:
            raise ParseError(ParseError.USERNAME_MISSING, "bad or missing username")
        password = body.get("password")
        if not isinstance(password, str) or not password:
            raise ParseError(ParseError.PASSWORD_MISSING, "password is required")
    check_user_fields(body)


def check_user_fields(body: Mapping[str, Any]) -> None:
    """Types of the fields a _User write may set (signup or update)."""
    if "username" in body and (not isinstance(body["username"], str) or not body["username"]):
        raise ParseError(ParseError.USERNAME_MISSING, "bad or missing username")
    if "password" in body and (not isinstance(body["password"], str) or not body["password"]):
        raise ParseError(ParseError.PASSWORD_MISSING, "password is required")
    email = body.get("email")
    if email is not None and not (isinstance(email, str) and _EMAIL.match(email)):
        if isinstance(email, dict) and email.get("__op") == "Delete":
            return
        raise ParseError(ParseError.INVALID_EMAIL_ADDRESS, "Email address format is invalid.")


def check_client_fields(body: Mapping[str, Any], master: bool) -> None:
    """Clients may not verify their own email."""
    if not master and any(k in body for k in MASTER_ONLY):
        raise ParseError(ParseError.OPERATION_FORBIDDEN, "Clients aren't allowed to manually update email verification.")


def owner_acl(user_id: str, given: Any, public_read: bool) -> dict[str, Any]:
    """A new user's ACL: what the client gave (or public read unless users are private), and
    always read and write for the user themself."""
    acl: dict[str, Any] = dict(given) if isinstance(given, dict) else ({"*": {"read": True}} if public_read else {})
    acl[user_id] = {"read": True, "write": True}
    return acl


def login_credentials(params: Mapping[str, Any]) -> tuple[str | None, str | None, str]:
    """(username, email, password) of a login or password check, read as Parse reads them: 200
    / 201 when missing (JavaScript's falsy: absent, null, "", 0, false), then 101 for any that
    is not a string, as a wrong password is answered."""
    username, email, password = params.get("username"), params.get("email"), params.get("password")
    if not js.truthy(username) and not js.truthy(email):
        raise ParseError(ParseError.USERNAME_MISSING, "username/email is required.")
    if not js.truthy(password):
        raise ParseError(ParseError.PASSWORD_MISSING, "password is required.")
    if (not isinstance(password, str) or (js.truthy(email) and not isinstance(email, str))
            or (js.truthy(username) and not isinstance(username, str))):
        raise ParseError(ParseError.OBJECT_NOT_FOUND, INVALID_LOGIN)
    return (username or None, email or None, password)


INVALID_LOGIN = "Invalid username/password."


def locked_by_acl(user: Mapping[str, Any]) -> bool:
    """An empty ACL locks a user out of password logins (Parse: "set the ACL to {}")."""
    return user.get("ACL") == {}


async def find_for_login(conn: Any, username: str | None, email: str | None) -> tuple[str, dict] | None:
    """(objectId, data with its "ACL") of the user a login names, or None. A username alone may
    also be the user's email, as Parse allows; a user whose username it is comes first."""
    try:
        if username is not None and email is not None:
            row = await conn.fetchrow(
                f"""SELECT object_id, acl, data FROM {USER_TABLE} WHERE lower(data->>'username') = lower($1)
                   AND data->>'username' = $1 AND lower(data->>'email') = lower($2)""", username, email)
        elif username is not None:
            row = await conn.fetchrow(
                f"""SELECT object_id, acl, data FROM {USER_TABLE} WHERE lower(data->>'username') = lower($1)
                   AND data->>'username' = $1""", username)
            if row is None:
                row = await conn.fetchrow(
                    f"""SELECT object_id, acl, data FROM {USER_TABLE} WHERE lower(data->>'email') = lower($1)""",
                    username)
        else:
            row = await conn.fetchrow(
                f"""SELECT object_id, acl, data FROM {USER_TABLE} WHERE lower(data->>'email') = lower($1)""", email)
    except asyncpg.exceptions.UndefinedTableError:
        return None
    if row is None:
        return None
    data = dict(row["data"])
    if row["acl"] is not None:
        data["ACL"] = row["acl"]
    return row["object_id"], data


async def user_exists(conn: Any, user_id: str) -> bool:
    try:
        return await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {USER_TABLE} WHERE object_id = $1)", user_id)
    except asyncpg.exceptions.UndefinedTableError:
        return False
