"""Parse's validator options on a function or trigger (`require_user=True`, `fields={...}`, or
`validator=` a callable), checked before the handler runs, with Parse's messages and codes:
a failed check is 142 (VALIDATION_ERROR) unless the validator raised a `ParseError` of its own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from parsnip.core.cloud.invoke import call_handler
from parsnip.core.errors import ParseError
from parsnip.core.js import type_of

# Parse's options that Parsnip does not check yet: refused at registration, so that code
# written for them never runs unprotected.
_NOT_YET = ("rate_limit",)
_KNOWN = ("require_user", "require_master", "validate_master_key", "skip_with_master_key", "fields",
          "require_any_user_roles", "require_all_user_roles", "require_user_keys")

LoadUser = Callable[[], Awaitable["dict | None"]]

# JavaScript's `typeof` names, which Parse's messages use, for the Python types a user gives.
_TYPE_NAMES = {str: "string", int: "number", float: "number", bool: "boolean", dict: "object", list: "array"}


class _Refused(Exception):
    """A built-in check failed: Parse throws a string here, which becomes 142."""


@dataclass(frozen=True)
class Validation:
    """A handler's validator: the built-in options and an optional callable (sync or async)."""

    require_user: bool = False
    require_master: bool = False
    validate_master_key: bool = False
    fields: Any = None  # a list of required names, or {name: name | {type, required, default, constant, options, error}}
    validator: Callable[[Any], Any] | None = None
    skip_with_master_key: bool = False  # a trigger called with the master key is not run
    require_any_user_roles: Any = None  # role names, or a callable giving them
    require_all_user_roles: Any = None
    require_user_keys: Any = None  # user fields that must be set, or {name: {options, error}}

    @classmethod
    def of(cls, options: dict[str, Any], validator: Callable[[Any], Any] | None) -> "Validation | None":
        """The validation for a registration's keyword arguments (None when there is none)."""
        for name in options:
            if name in _NOT_YET:
                raise NotImplementedError(f"the validator option {name!r} is not supported yet")
            if name not in _KNOWN:
                raise TypeError(f"unknown validator option {name!r}")
        if validator is not None and not callable(validator):
            raise TypeError("validator= must be callable")
        if not options and validator is None:
            return None
        fields_ = options.get("fields")
        if fields_ is not None and not isinstance(fields_, (list, tuple, dict)):
            raise TypeError("fields= must be a list of names or a dict of per-field options")
        for name in ("require_any_user_roles", "require_all_user_roles"):
            roles = options.get(name)
            if roles is not None and not (callable(roles) or isinstance(roles, (list, tuple))):
                raise TypeError(f"{name}= must be a list of role names or a callable giving them")
        keys = options.get("require_user_keys")
        if keys is not None and not isinstance(keys, (list, tuple, dict)):
            raise TypeError("require_user_keys= must be a list of names or a dict of per-field options")
        return cls(bool(options.get("require_user")), bool(options.get("require_master")),
                   bool(options.get("validate_master_key")), fields_, validator,
                   bool(options.get("skip_with_master_key")), options.get("require_any_user_roles"),
                   options.get("require_all_user_roles"), keys)

    async def check(self, req: Any, has_user: bool, *, roles: frozenset[str] = frozenset(),
                    load_user: LoadUser | None = None) -> bool:
        """Raise Parse's error when `req` fails; `req.params` (and a trigger's object) may gain
        fields' defaults. `roles` are the caller's role names, `load_user` gives the caller's
        fields. True when the handler is to be skipped (`skip_with_master_key` and the master key)."""
        try:
            if not (req.master and not self.validate_master_key):
                await self._built_in(req, has_user, roles, load_user)
            if self.validator is not None:
                await call_handler(self.validator, req)
        except ParseError:
            raise
        except _Refused as refused:
            raise ParseError(ParseError.VALIDATION_ERROR, str(refused)) from None
        except Exception as exc:  # a callable validator's own failure: 142 with its message
            raise ParseError(ParseError.VALIDATION_ERROR, str(exc) or "Validation failed.") from None
        return self.skip_with_master_key and bool(req.master)

    async def _built_in(self, req: Any, has_user: bool, roles: frozenset[str], load_user: LoadUser | None) -> None:
        wants_roles = self.require_any_user_roles is not None or self.require_all_user_roles is not None
        if (self.require_user or wants_roles) and not has_user:
            raise _Refused("Validation failed. Please login to continue.")
        if self.require_master and not req.master:
            raise _Refused("Validation failed. Master key is required to complete this request.")
        params = req.params if isinstance(req.params, dict) else {}
        obj = getattr(req, "object", None)
        if isinstance(self.fields, (list, tuple)):
            for key in self.fields:
                _required(params, key)
        else:
            for key, opt in (self.fields or {}).items():
                if isinstance(opt, str):
                    _required(params, opt)
                if isinstance(opt, dict):
                    _default_and_constant(req, obj, params, key, opt)
                    await _check_field(params, key, opt)
        if wants_roles:
            await _check_roles(self.require_any_user_roles, self.require_all_user_roles, roles)
        if self.require_user_keys:
            await _check_user_keys(self.require_user_keys, has_user, load_user)


def _default_and_constant(req: Any, obj: Any, params: dict, key: str, opt: dict) -> None:
    """A field's `default` fills it when absent (on the trigger's object too); `constant` keeps
    the stored value on an update, and the default on a create, whatever the client sent."""
    writable = obj is not None and callable(getattr(obj, "set", None))
    if opt.get("default") is not None and params.get(key) is None:
        params[key] = opt["default"]
        if writable:
            obj.set(key, opt["default"])
    if not (opt.get("constant") and writable):
        return
    original = getattr(req, "original", None)  # a ParseObject (or the stored fields)
    if original is not None:
        stored = original.get(key)
        if stored is not None:
            obj.set(key, stored)
            params[key] = stored
        else:
            obj.unset(key)
            params.pop(key, None)
    elif opt.get("default") is not None:
        obj.set(key, opt["default"])
        params[key] = opt["default"]


async def _role_names(given: Any) -> list[str]:
    if callable(given):
        given = await call_handler(given)
    return [str(r) for r in given or ()]


async def _check_roles(any_of: Any, all_of: Any, roles: frozenset[str]) -> None:
    """Parse's requireAnyUserRoles / requireAllUserRoles, over the caller's role names."""
    if any_of is not None and not any(r in roles for r in await _role_names(any_of)):
        raise _Refused("Validation failed. User does not match the required roles.")
    if all_of is not None and not all(r in roles for r in await _role_names(all_of)):
        raise _Refused("Validation failed. User does not match all the required roles.")


async def _check_user_keys(keys: Any, has_user: bool, load_user: LoadUser | None) -> None:
    """Parse's requireUserKeys: fields the caller's user must have set (a list), or whose
    values must pass their options (a dict)."""
    user = (await load_user() if load_user is not None and has_user else None) or {}
    if isinstance(keys, (list, tuple)):
        for key in keys:
            if not has_user:
                raise _Refused("Please login to make this request.")
            if user.get(key) is None:
                raise _Refused(f"Validation failed. Please set data for {key} on your account.")
        return
    for key, opt in keys.items():
        if isinstance(opt, dict) and opt.get("options") is not None:
            await _check_options(opt, key, user.get(key))


async def _check_field(params: dict, key: str, opt: dict) -> None:
    """One field's options, in Parse's order (its default already filled): required, type, options."""
    val = params.get(key)
    if opt.get("required"):
        _required(params, key)
    if not opt.get("required") and key not in params:
        return  # optional and absent
    kind = opt.get("type")
    if kind is not None:
        expected = _TYPE_NAMES.get(kind, getattr(kind, "__name__", str(kind)).lower())
        if type_of(val) != expected:
            raise _Refused(f"Validation failed. Invalid type for {key}. Expected: {expected}")
    if opt.get("options") is not None:
        await _check_options(opt, key, val)


async def _check_options(opt: dict, key: str, val: Any) -> None:
    """A value against `options`: a list of choices, one choice, or a callable that says."""
    allowed = opt["options"]
    if callable(allowed):
        try:
            result = await call_handler(allowed, val)
        except Exception as exc:
            raise _Refused(opt.get("error") or str(exc) or f"Validation failed. Invalid value for {key}.") from None
        if not result and result is not None:
            raise _Refused(opt.get("error") or f"Validation failed. Invalid value for {key}.")
        return
    choices = list(allowed) if isinstance(allowed, (list, tuple, set, frozenset)) else [allowed]
    if val not in choices:
        shown = ", ".join(_js_text(c) for c in choices)
        raise _Refused(opt.get("error") or f"Validation failed. Invalid option for {key}. Expected: {shown}")


def _required(params: dict, key: str) -> None:
    if params.get(key) is None:
        raise _Refused(f"Validation failed. Please specify data for {key}.")


def _js_text(value: Any) -> str:
    """A choice as JavaScript's Array.join writes it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
