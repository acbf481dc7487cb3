"""What signup, login and a user update add for the account options (verifyUserEmails,
passwordPolicy, accountLockout), kept out of the routes so they call one hook each.

A `before_*` hook checks the request and adds operations to the user's write; it returns what
must happen once the write committed (`after_write`: the verification mail).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from parsnip.core.accounts import email_flows, lockout
from parsnip.core.accounts.email_flows import Runtime
from parsnip.core.accounts.policy import EXPIRED, PasswordPolicy
from parsnip.core.commands import Update
from parsnip.core.errors import ParseError
from parsnip.core.events import Context
from parsnip.core.operations import Op
from parsnip.core.security.auth import MASTER
from parsnip.core.values import date_value, now, parse_iso

UNVERIFIED = "User email is not verified."


@dataclass(frozen=True, slots=True)
class PendingMail:
    """A verification mail to send after the write commits."""

    email: str
    token: str


async def before_signup(rt: Runtime, body: Mapping[str, Any], ops: dict[str, Op]) -> PendingMail | None:
    """Check the password against the policy; mark the email unverified with a token."""
    policy = PasswordPolicy.from_option(rt.config.passwordPolicy)
    password = body.get("password")
    if policy is not None and isinstance(password, str):
        policy.check(password, body.get("username"))
        if policy.max_age_days:
            ops["_password_changed_at"] = Op("Set", date_value(now()))
    email = body.get("email")
    if rt.config.verifyUserEmails and isinstance(email, str):
        verify, token = email_flows.verify_ops(rt.config)
        ops.update(verify)
        return PendingMail(email, token)
    return None


async def before_update(rt: Runtime, object_id: str, body: Mapping[str, Any],
                        ops: dict[str, Op]) -> PendingMail | None:
    """A new password: policy, hash, history (replaces any `_hashed_password` op). A new email:
    unverified with a token. Either one ends a pending password reset."""
    password = body.get("password")
    email = body.get("email")
    if password is None and email is None:
        return None
    found = await rt.read(email_flows.user_by_id, object_id)
    user = found[1] if found else {}
    if isinstance(password, str):
        username = body.get("username") if isinstance(body.get("username"), str) else None
        made = ops["_hashed_password"].value if "_hashed_password" in ops else None
        ops.update(await email_flows.password_ops(rt.config, password, user, username, made))
    ops[email_flows.RESET_TOKEN] = Op("Delete")
    ops[email_flows.RESET_EXPIRES] = Op("Delete")
    if rt.config.verifyUserEmails and isinstance(email, str) and email != user.get("email"):
        verify, token = email_flows.verify_ops(rt.config)
        ops.update(verify)
        return PendingMail(email, token)
    return None


async def after_write(rt: Runtime, pending: PendingMail | None) -> None:
    if pending is not None:
        await email_flows.send_verification(rt.config, pending.email, pending.token)


async def check_login(rt: Runtime, ctx: Context, found: tuple[str, dict] | None, password_ok: bool) -> None:
    """Refuse a login as Parse does, in its order: locked out (even with the right password),
    wrong password (counted), email not verified, password expired."""
    lock = lockout.Lockout.from_option(rt.config.accountLockout)
    if lock is not None and found is not None:
        user_id, user = found
        if lock.locked(user, now()):
            raise lock.error()
        if not password_ok:
            await _count_failure(rt, ctx, user_id, lock)
        elif user.get(lockout.COUNT):
            await _write(rt, ctx, user_id, dict(lockout.RESET_OPS))
    if not password_ok or found is None:
        raise ParseError(ParseError.OBJECT_NOT_FOUND, "Invalid username/password.")
    user_id, user = found
    if rt.config.verifyUserEmails and rt.config.preventLoginWithUnverifiedEmail and user.get("emailVerified") is not True:
        raise ParseError(ParseError.EMAIL_NOT_FOUND, UNVERIFIED)
    policy = PasswordPolicy.from_option(rt.config.passwordPolicy)
    if policy is not None and policy.max_age_days:
        changed = user.get("_password_changed_at")
        if not (isinstance(changed, dict) and isinstance(changed.get("iso"), str)):
            # Set before the policy existed: its age counts from now on.
            await _write(rt, ctx, user_id, {"_password_changed_at": Op("Set", date_value(now()))})
        elif policy.expired(parse_iso(changed["iso"]), now()):
            raise ParseError(ParseError.OBJECT_NOT_FOUND, EXPIRED)


async def _count_failure(rt: Runtime, ctx: Context, user_id: str, lock: lockout.Lockout) -> None:
    results = await _write(rt, ctx, user_id, dict(lockout.FAILED_OPS))
    if results and lock.reached(results[0].fields.get(lockout.COUNT)):
        await _write(rt, ctx, user_id, lock.lock_ops(now()))


async def _write(rt: Runtime, ctx: Context, user_id: str, ops: dict[str, Op]) -> list:
    try:
        return await rt.write([Update("_User", user_id, ops)], ctx, MASTER)
    except ParseError as e:
        if e.code != ParseError.OBJECT_NOT_FOUND:  # deleted meanwhile: nothing to count
            raise
        return []
