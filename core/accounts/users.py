"""What a signup, a login or a change to a _User may contain, checked before anything is
written. The password never reaches the log: it is replaced by its bcrypt hash
(`_hashed_password`, a server-internal field no read returns)."""

from __future__ import annotations

import re
from typing import Any, Mapping

import asyncpg

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
    """(username, email, password) of a login; 200 / 201 when they are missing."""
    username = params.get("username")
    email = params.get("email")
    password = params.get("password")
    if not (isinstance(username, str) and username) and not (isinstance(email, str) and email):
        raise ParseError(ParseError.USERNAME_MISSING, "username/email is required.")
    if not isinstance(password, str) or not password:
        raise ParseError(ParseError.PASSWORD_MISSING, "password is required.")
    return (username if isinstance(username, str) and username else None,
            email if isinstance(email, str) and email else None, password)


INVALID_LOGIN = "Invalid username/password."


async def find_for_login(conn: Any, username: str | None, email: str | None) -> tuple[str, dict] | None:
    """(objectId, data) of the user a login names, or None."""
    try:
        if username is not None:
            row = await conn.fetchrow(
                f"""SELECT object_id, data FROM {USER_TABLE} WHERE lower(data->>'username') = lower($1)
                   AND data->>'username' = $1""", username)
        else:
            row = await conn.fetchrow(
                f"""SELECT object_id, data FROM {USER_TABLE} WHERE lower(data->>'email') = lower($1)""", email)
    except asyncpg.exceptions.UndefinedTableError:
        return None
    return (row["object_id"], dict(row["data"])) if row else None
