"""Email verification and password reset: the tokens stored on the user, the mails with their
links, and what following a link does. Every change is a write through the runtime's writer
(as the master), so each token, verification and reset is an event in the log.

Links point at the page routes (`api/routes/pages.py`) under `publicServerURL` (or, when that
is unset, the server's own URL): `/apps/{appId}/verify_email?token=...` and
`/apps/{appId}/request_password_reset?token=...`.
"""

from __future__ import annotations

import logging
import secrets
import string
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable, Protocol, Sequence
from urllib.parse import urlencode

import asyncpg
import trio

from parsnip.core.accounts import lockout as _lockout
from parsnip.core.accounts import mail, passwords, sessions
from parsnip.core.accounts.policy import PasswordPolicy
from parsnip.core.commands import Command, Delete, Update
from parsnip.core.config import Config
from parsnip.core.errors import ParseError
from parsnip.core.layout import USER_TABLE
from parsnip.core.events import Context
from parsnip.core.operations import Op
from parsnip.core.pipeline import account
from parsnip.core.pipeline.hooks import BEFORE_PASSWORD_RESET_REQUEST
from parsnip.core.security.auth import MASTER, NOBODY, Auth
from parsnip.core.values import date_value, now, parse_iso

logger = logging.getLogger("parsnip.accounts")

USER = "_User"
VERIFY_TOKEN = "_email_verify_token"
VERIFY_EXPIRES = "_email_verify_token_expires_at"
RESET_TOKEN = "_perishable_token"
RESET_EXPIRES = "_perishable_token_expires_at"

NOT_CONFIGURED = ("An appName, publicServerURL, and emailAdapter are required for password reset "
                  "and email verification functionality.")

_ALPHABET = string.ascii_letters + string.digits


class Runtime(Protocol):
    """The part of `api.runtime.Runtime` the flows use."""

    config: Config
    hooks: Any  # core/pipeline/hooks.py: Hooks

    async def read(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any: ...

    async def write(self, commands: Sequence[Command], context: Context, auth: Auth | None = None) -> list: ...


def new_token() -> str:
    """25 random letters and digits, like Parse's tokens."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(25))


def base_url(config: Config) -> str:
    return (config.publicServerURL or config.serverURL or "").rstrip("/")


def adapter(config: Config) -> mail.MailAdapter | None:
    return mail.load_adapter(config.emailAdapter)


def require_mail(config: Config) -> mail.MailAdapter:
    """The configured adapter; error 1 (as Parse) when mail is not configured."""
    found = adapter(config)
    if found is None or not config.appName:
        raise ParseError(ParseError.INTERNAL_SERVER_ERROR, NOT_CONFIGURED)
    return found


def check_email_param(body: Any) -> str:
    """The `email` of a /requestPasswordReset or /verificationEmailRequest body (204 / 125)."""
    email = body.get("email") if isinstance(body, dict) else None
    if not email:
        raise ParseError(ParseError.EMAIL_MISSING, "you must provide an email")
    if not isinstance(email, str):
        raise ParseError(ParseError.INVALID_EMAIL_ADDRESS, "you must provide a valid email string")
    return email


# -- reads ---------------------------------------------------------------------------------

async def _user_where(conn: Any, condition: str, value: Any) -> tuple[str, dict] | None:
    try:
        row = await conn.fetchrow(f'SELECT object_id, data FROM {USER_TABLE} WHERE {condition} LIMIT 1', value)
    except asyncpg.exceptions.UndefinedTableError:
        return None
    return (row["object_id"], dict(row["data"])) if row else None


async def user_by_id(conn: Any, object_id: str) -> tuple[str, dict] | None:
    return await _user_where(conn, "object_id = $1", object_id)


async def user_by_username(conn: Any, username: str) -> tuple[str, dict] | None:
    return await _user_where(conn, "data->>'username' = $1", username)


async def user_by_email(conn: Any, email: str) -> tuple[str, dict] | None:
    return await _user_where(conn, "data->>'email' = $1", email)


async def user_for_reset(conn: Any, email: str) -> tuple[str, dict] | None:
    """The user a reset request names: by email, or by username when the user has no email."""
    return await _user_where(
        conn, "data->>'email' = $1 OR (data->>'username' = $1 AND NOT data ? 'email')", email)


async def user_by_verify_token(conn: Any, token: str) -> tuple[str, dict] | None:
    return await _user_where(conn, f"data->>'{VERIFY_TOKEN}' = $1", token)


async def user_by_reset_token(conn: Any, token: str) -> tuple[str, dict] | None:
    return await _user_where(conn, f"data->>'{RESET_TOKEN}' = $1", token)


def _date(value: Any) -> datetime | None:
    if isinstance(value, dict) and isinstance(value.get("iso"), str):
        return parse_iso(value["iso"])
    return None


# -- email verification ----------------------------------------------------------------------

def verify_ops(config: Config) -> tuple[dict[str, Op], str]:
    """The ops that mark a user's email unverified with a fresh token, and the token."""
    token = new_token()
    ops = {"emailVerified": Op("Set", False), VERIFY_TOKEN: Op("Set", token)}
    if config.emailVerifyTokenValidityDuration:
        ops[VERIFY_EXPIRES] = Op("Set", date_value(now() + timedelta(seconds=config.emailVerifyTokenValidityDuration)))
    return ops, token


async def send_verification(config: Config, email: str, token: str) -> None:
    """Mail the verification link; a failing mail server is logged, never a failed request."""
    sender = adapter(config)
    if sender is None:
        return
    link = f"{base_url(config)}/apps/{config.appId}/verify_email?" + urlencode({"token": token})
    subject, text = mail.verification_mail(config.appName, email, link)
    try:
        await sender.send_mail(email, subject, text)
    except Exception:  # noqa: BLE001 - a mail failure must not fail the write that caused it
        logger.exception("could not send the verification email to %s", email)


async def request_verification(rt: Runtime, ctx: Context, body: Any) -> None:
    """POST /verificationEmailRequest: a new token (or the still-valid one) mailed again."""
    require_mail(rt.config)
    email = check_email_param(body)
    found = await rt.read(user_by_email, email)
    if found is None:
        raise ParseError(ParseError.EMAIL_NOT_FOUND, f"No user found with email {email}")
    user_id, user = found
    if user.get("emailVerified") is True:
        raise ParseError(ParseError.OTHER_CAUSE, f"Email {email} is already verified.")
    if not rt.config.verifyUserEmails:
        return
    token = user.get(VERIFY_TOKEN)
    expires = _date(user.get(VERIFY_EXPIRES))
    reuse = (rt.config.emailVerifyTokenReuseIfValid and rt.config.emailVerifyTokenValidityDuration
             and token and expires is not None and expires > now())
    if not reuse:
        ops, token = verify_ops(rt.config)
        await rt.write([Update(USER, user_id, ops)], ctx, MASTER)
    await send_verification(rt.config, email, token)


async def verify_email(rt: Runtime, ctx: Context, token: str) -> tuple[bool, str | None]:
    """Follow a verification link: (verified, username). False for an unknown or expired token."""
    if not rt.config.verifyUserEmails or not token:
        return False, None
    found = await rt.read(user_by_verify_token, token)
    if found is None:
        return False, None
    user_id, user = found
    expires = _date(user.get(VERIFY_EXPIRES))
    if rt.config.emailVerifyTokenValidityDuration and (expires is None or expires <= now()):
        return False, user.get("username")
    ops = {"emailVerified": Op("Set", True), VERIFY_TOKEN: Op("Delete"), VERIFY_EXPIRES: Op("Delete")}
    await rt.write([Update(USER, user_id, ops)], ctx, MASTER)
    return True, user.get("username")


# -- password reset --------------------------------------------------------------------------

async def request_password_reset(rt: Runtime, ctx: Context, body: Any, *, auth: Auth = NOBODY,
                                 cloud_context: dict | None = None) -> None:
    """POST /requestPasswordReset: store a reset token and mail the link. An unknown email
    answers success too (Parse's resetPasswordSuccessOnInvalidEmail, true by default)."""
    sender = require_mail(rt.config)
    email = check_email_param(body)
    found = await rt.read(user_for_reset, email)
    if found is None:
        if (rt.config.passwordPolicy or {}).get("resetPasswordSuccessOnInvalidEmail", True):
            return
        raise ParseError(ParseError.OBJECT_NOT_FOUND, "A user with that email does not exist.")
    user_id, user = found
    # Parse's beforePasswordResetRequest: user code may refuse before any token exists.
    await account.run(rt.hooks, BEFORE_PASSWORD_RESET_REQUEST, USER, {**user, "objectId": user_id}, auth,
                      cloud_context=cloud_context)
    token = new_token()
    ops = {RESET_TOKEN: Op("Set", token)}
    policy = PasswordPolicy.from_option(rt.config.passwordPolicy)
    if policy and policy.reset_token_seconds:
        ops[RESET_EXPIRES] = Op("Set", date_value(now() + timedelta(seconds=policy.reset_token_seconds)))
    await rt.write([Update(USER, user_id, ops)], ctx, MASTER)
    link = f"{base_url(rt.config)}/apps/{rt.config.appId}/request_password_reset?" + urlencode({"token": token})
    subject, text = mail.reset_mail(rt.config.appName, user.get("username"), link)
    try:
        await sender.send_mail(user.get("email") or user.get("username"), subject, text)
    except Exception:  # noqa: BLE001
        logger.exception("could not send the password reset email to %s", email)


async def reset_token_user(rt: Runtime, token: str) -> tuple[str, dict]:
    """The user a reset token belongs to; the error text Parse shows when it is unknown or expired."""
    found = await rt.read(user_by_reset_token, token) if token else None
    if found is None:
        raise ParseError(ParseError.OTHER_CAUSE, "Failed to reset password: username / email / token is invalid")
    policy = PasswordPolicy.from_option(rt.config.passwordPolicy)
    if policy and policy.reset_token_seconds:
        expires = _date(found[1].get(RESET_EXPIRES))
        if expires is None or expires < now():
            raise ParseError(ParseError.OTHER_CAUSE, "The password reset link has expired")
    return found


async def reset_password(rt: Runtime, ctx: Context, token: str, password: str) -> str | None:
    """Set a new password through a reset token (policy checked, token cleared, lockout lifted
    when configured, sessions revoked unless revokeSessionOnPasswordReset is false); the username."""
    user_id, user = await reset_token_user(rt, token)
    ops = await password_ops(rt.config, password, user)
    ops[RESET_TOKEN] = Op("Delete")
    ops[RESET_EXPIRES] = Op("Delete")
    lock = _lockout.Lockout.from_option(rt.config.accountLockout)
    if lock and lock.unlock_on_password_reset:
        ops.update(_lockout.UNLOCK_OPS)
    await rt.write([Update(USER, user_id, ops)], ctx, MASTER)
    if rt.config.revokeSessionOnPasswordReset:
        await revoke_sessions(rt, ctx, user_id)
    return user.get("username")


async def password_ops(config: Config, password: str, user: dict, username: str | None = None,
                       hashed: str | None = None) -> dict[str, Op]:
    """The ops that replace a user's password, after `passwordPolicy` accepts it (142 if not):
    the hash (`hashed` when the caller made it already), and the change time and history the
    policy keeps."""
    policy = PasswordPolicy.from_option(config.passwordPolicy)
    current = user.get("_hashed_password")
    history = user.get("_password_history") if isinstance(user.get("_password_history"), list) else None
    if policy is not None:
        policy.check(password, username or user.get("username"))
        if current and await trio.to_thread.run_sync(policy.reused, password, current, history):
            raise policy.reuse_error()
    ops = {"_hashed_password": Op("Set", hashed or await trio.to_thread.run_sync(passwords.hash_password, password))}
    if policy is not None and policy.max_age_days:
        ops["_password_changed_at"] = Op("Set", date_value(now()))
    if policy is not None and policy.max_history and current:
        ops["_password_history"] = Op("Set", policy.next_history(current, history))
    return ops


async def revoke_sessions(rt: Runtime, ctx: Context, user_id: str) -> None:
    """Delete every session of a user, one by one (one may be gone already)."""
    for object_id, _ in await rt.read(sessions.sessions_of, user_id):
        try:
            await rt.write([Delete(sessions.SESSION_CLASS, object_id)], ctx, MASTER)
        except ParseError:
            pass
