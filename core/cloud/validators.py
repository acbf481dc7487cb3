"""Parse's validator options on a function or trigger (`require_user=True`, `fields={...}`, or
`validator=` a callable), checked before the handler runs, with Parse's messages and codes:
a failed check is 142 (VALIDATION_ERROR) unless the validator raised a `ParseError` of its own."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable

import trio

from parsnip.core.errors import ParseError

# Parse's options that this slice does not check yet: refused at registration, so that code
# written for them never runs unprotected.
_NOT_YET = ("skip_with_master_key", "require_any_user_roles", "require_all_user_roles", "require_user_keys",
            "rate_limit")
_KNOWN = ("require_user", "require_master", "validate_master_key", "fields")

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
    fields: Any = None  # a list of required names, or {name: name | {type, required, default, options, error}}
    validator: Callable[[Any], Any] | None = None

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
        return cls(bool(options.get("require_user")), bool(options.get("require_master")),
                   bool(options.get("validate_master_key")), fields_, validator)

    async def check(self, req: Any, has_user: bool) -> None:
        """Raise Parse's error when `req` fails; `req.params` may gain fields' defaults."""
        try:
            if not (req.master and not self.validate_master_key):
                await self._built_in(req, has_user)
            if self.validator is not None:
                await _call(self.validator, req)
        except ParseError:
            raise
        except _Refused as refused:
            raise ParseError(ParseError.VALIDATION_ERROR, str(refused)) from None
        except Exception as exc:  # a callable validator's own failure: 142 with its message
            raise ParseError(ParseError.VALIDATION_ERROR, str(exc) or "Validation failed.") from None

    async def _built_in(self, req: Any, has_user: bool) -> None:
        if self.require_user and not has_user:
            raise _Refused("Validation failed. Please login to continue.")
        if self.require_master and not req.master:
            raise _Refused("Validation failed. Master key is required to complete this request.")
        params = req.params if isinstance(req.params, dict) else {}
        if isinstance(self.fields, (list, tuple)):
            for key in self.fields:
                _required(params, key)
            return
        for key, opt in (self.fields or {}).items():
            if isinstance(opt, str):
                _required(params, opt)
            if isinstance(opt, dict):
                await _check_field(params, key, opt)


async def _check_field(params: dict, key: str, opt: dict) -> None:
    """One field's options, in Parse's order: default, required, type, options."""
    val = params.get(key)
    if opt.get("default") is not None and val is None:
        val = params[key] = opt["default"]
    if opt.get("required"):
        _required(params, key)
    if not opt.get("required") and key not in params:
        return  # optional and absent
    kind = opt.get("type")
    if kind is not None:
        expected = _TYPE_NAMES.get(kind, getattr(kind, "__name__", str(kind)).lower())
        if _js_type(val) != expected:
            raise _Refused(f"Validation failed. Invalid type for {key}. Expected: {expected}")
    allowed = opt.get("options")
    if allowed is None:
        return
    if callable(allowed):
        try:
            result = await _call(allowed, val)
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


def _js_type(value: Any) -> str:
    """What JavaScript's `typeof` says of the decoded value (arrays as "array", as Parse does)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"  # dicts, None (typeof null), dates and other decoded values


def _js_text(value: Any) -> str:
    """A choice as JavaScript's Array.join writes it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


async def _call(fn: Callable[..., Any], *args: Any) -> Any:
    """`fn(*args)`: awaited when it is async, else in a worker thread (user code may block)."""
    if inspect.iscoroutinefunction(fn):
        return await fn(*args)
    result = await trio.to_thread.run_sync(fn, *args)
    if inspect.isawaitable(result):
        return await result
    return result
