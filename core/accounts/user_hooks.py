"""What signup, login and a user update add for the account options (verifyUserEmails,
passwordPolicy, accountLockout).

On signup and update they are built-in hooks of the write pipeline on `_User` (`install`): the
before-save one checks the plain password the command carries against the policy, hashes it
and adds the operations the options call for, after any user hook (as Parse applies its rules
after beforeSave); the after-save one mails the verification link once the write committed.
Login asks `check_login`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import trio

from parsnip.core.accounts import email_flows, lockout, passwords
from parsnip.core.accounts.email_flows import Runtime
from parsnip.core.accounts.policy import EXPIRED, PasswordPolicy
from parsnip.core.accounts.users import locked_by_acl
from parsnip.core.commands import Update
from parsnip.core.errors import ParseError
from parsnip.core.events import Context
from parsnip.core.operations import Op
from parsnip.core.pipeline.hooks import AFTER_SAVE, BEFORE_SAVE, Hooks
from parsnip.core.pipeline.requests import AfterWriteRequest, SaveRequest
from parsnip.core.security.auth import MASTER
from parsnip.core.values import date_value, now, parse_iso

UNVERIFIED = "User email is not verified."
USER = "_User"
PASSWORD_HASH = "_hashed_password"


@dataclass(frozen=True, slots=True)
class PendingMail:
    """A verification mail to send after the write commits."""

    email: str
    token: str


_MAIL = "verification_mail"  # the note a before-save leaves for the after-save


def install(hooks: Hooks, rt: Runtime) -> None:
    """Register the `_User` rules as built-in hooks of the write pipeline."""

    async def before_save(req: SaveRequest) -> None:
        pending = await (_before_signup(rt, req) if req.is_create else _before_update(rt, req))
        if pending is not None:
            req.notes[_MAIL] = pending

    async def after_save(req: AfterWriteRequest) -> None:
        pending = req.notes.get(_MAIL)
        if pending is not None:
            await email_flows.send_verification(rt.config, pending.email, pending.token)

    hooks.register(BEFORE_SAVE, USER, before_save, builtin=True)
    hooks.register(AFTER_SAVE, USER, after_save, builtin=True)


async def _before_signup(rt: Runtime, req: SaveRequest) -> PendingMail | None:
    """A password signup: the password checked against the policy and hashed; the email marked
    unverified with a token. (An authData signup, which carries no password, gets neither.)"""
    password = req.password
    if password is None:
        return None
    policy = PasswordPolicy.from_option(rt.config.passwordPolicy)
    if policy is not None:
        policy.check(password, _str_set(req.ops, "username"))
        if policy.max_age_days:
            req.set("_password_changed_at", date_value(now()))
    req.set(PASSWORD_HASH, await trio.to_thread.run_sync(passwords.hash_password, password))
    email = _str_set(req.ops, "email")
    if rt.config.verifyUserEmails and email is not None:
        return _verify(rt, req, email)
    return None


async def _before_update(rt: Runtime, req: SaveRequest) -> PendingMail | None:
    """A new password: policy, hash, history. A new email: unverified with a token. Either one
    ends a pending password reset."""
    password = req.password
    email_op = req.ops.get("email")
    if password is None and (email_op is None or (email_op.kind == "Set" and email_op.value is None)):
        return None
    found = await rt.read(email_flows.user_by_id, req.object_id)
    user = found[1] if found else {}
    if password is not None:
        for name, op in (await email_flows.password_ops(rt.config, password, user,
                                                        _str_set(req.ops, "username"))).items():
            req.apply(name, op)
    req.unset(email_flows.RESET_TOKEN)
    req.unset(email_flows.RESET_EXPIRES)
    email = _str_set(req.ops, "email")
    if rt.config.verifyUserEmails and email is not None and email != user.get("email"):
        return _verify(rt, req, email)
    return None


def _verify(rt: Runtime, req: SaveRequest, email: str) -> PendingMail:
    ops, token = email_flows.verify_ops(rt.config)
    for name, op in ops.items():
        req.apply(name, op)
    return PendingMail(email, token)


def _str_set(ops: Mapping[str, Op], name: str) -> str | None:
    """The string a request sets `name` to, if it does."""
    op = ops.get(name)
    return op.value if op is not None and op.kind == "Set" and isinstance(op.value, str) else None


async def check_login(rt: Runtime, ctx: Context, found: tuple[str, dict] | None, password_ok: bool, *,
                      master: bool = False, expiry: bool = True, verified_email: bool = True) -> None:
    """Refuse a login (or a password check, which has no `expiry`) as Parse does, in its order:
    locked out (even with the right password), wrong password (counted), an empty ACL (unless
    the master key asks), email not verified, password expired."""
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
    if not master and locked_by_acl(user):
        raise ParseError(ParseError.OBJECT_NOT_FOUND, "Invalid username/password.")
    if (verified_email and rt.config.verifyUserEmails and rt.config.preventLoginWithUnverifiedEmail
            and user.get("emailVerified") is not True):
        raise ParseError(ParseError.EMAIL_NOT_FOUND, UNVERIFIED)
    policy = PasswordPolicy.from_option(rt.config.passwordPolicy)
    if expiry and policy is not None and policy.max_age_days:
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
