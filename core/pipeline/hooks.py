"""The hook registry: code that runs around the writes and reads of one class.

Internal: the runtime owns one `Hooks` (`Runtime.hooks`); built-in rules (the `_User` options
of core/accounts/user_hooks.py) register here at start-up, and Cloud Code will put its public
API on top. A lookup is one dict access, so a class with no hooks costs nothing more.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable

from parsnip.core.cloud.errors import TRIGGER_FAILED, script_failed
from parsnip.core.errors import ParseError

logger = logging.getLogger("parsnip.hooks")

BEFORE_SAVE = "before_save"
AFTER_SAVE = "after_save"
BEFORE_DELETE = "before_delete"
AFTER_DELETE = "after_delete"
BEFORE_FIND = "before_find"
AFTER_FIND = "after_find"
# Around logins, logouts and password reset requests (core/pipeline/account.py), on `_User`
# (after_logout: on `_Session`); they are neither writes nor reads of their class.
BEFORE_LOGIN = "before_login"
AFTER_LOGIN = "after_login"
AFTER_LOGOUT = "after_logout"
BEFORE_PASSWORD_RESET_REQUEST = "before_password_reset_request"
ACCOUNT_KINDS = (BEFORE_LOGIN, AFTER_LOGIN, AFTER_LOGOUT, BEFORE_PASSWORD_RESET_REQUEST)
KINDS = (BEFORE_SAVE, AFTER_SAVE, BEFORE_DELETE, AFTER_DELETE, BEFORE_FIND, AFTER_FIND, *ACCOUNT_KINDS)
_WRITE_KINDS = (BEFORE_SAVE, AFTER_SAVE, BEFORE_DELETE, AFTER_DELETE)
_READ_KINDS = (BEFORE_FIND, AFTER_FIND)

HookFn = Callable[[Any], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Hook:
    """One registered function. A built-in (`builtin`) is the server's own rule: it runs after
    the others of its kind (as Parse applies its `_User` rules after beforeSave) and is not
    user code, so it neither needs the stored object nor makes the write authorize first."""

    kind: str
    class_name: str
    fn: HookFn
    builtin: bool = False


class Hooks:
    """Hooks by (kind, class name), in registration order, built-ins last."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], tuple[Hook, ...]] = {}
        self._write_classes: frozenset[str] = frozenset()
        self._read_classes: frozenset[str] = frozenset()

    def register(self, kind: str, class_name: str, fn: HookFn, *, builtin: bool = False) -> HookFn:
        """Run `fn(request)` for `kind` on `class_name`; returns `fn` (so it can decorate)."""
        if kind not in KINDS:
            raise ValueError(f"unknown hook kind {kind!r}")
        hook = Hook(kind, class_name, fn, builtin)
        hooks = (*self._by_key.get((kind, class_name), ()), hook)
        self._by_key[(kind, class_name)] = (tuple(h for h in hooks if not h.builtin)
                                            + tuple(h for h in hooks if h.builtin))
        self._reindex()
        return fn

    def unregister(self, kind: str, class_name: str, fn: HookFn) -> None:
        found = tuple(h for h in self._by_key.get((kind, class_name), ()) if h.fn is not fn)
        if found:
            self._by_key[(kind, class_name)] = found
        else:
            self._by_key.pop((kind, class_name), None)
        self._reindex()

    def clear(self, *, builtins: bool = False) -> None:
        """Forget every hook registered (and the built-ins too with `builtins`)."""
        for key, found in list(self._by_key.items()):
            kept = tuple(h for h in found if h.builtin and not builtins)
            if kept:
                self._by_key[key] = kept
            else:
                del self._by_key[key]
        self._reindex()

    def of(self, kind: str, class_name: str) -> tuple[Hook, ...]:
        """The hooks of `kind` on `class_name`, in the order they run."""
        return self._by_key.get((kind, class_name), ())

    def on_write(self, class_name: str) -> bool:
        """Whether any save or delete hook is registered on the class."""
        return class_name in self._write_classes

    def on_read(self, class_name: str) -> bool:
        """Whether any find hook is registered on the class."""
        return class_name in self._read_classes

    def touches(self, commands: Iterable[Any]) -> bool:
        """Whether a unit of commands has any save or delete hook to run (False at once with none)."""
        classes = self._write_classes
        if classes:
            for cmd in commands:
                if cmd.class_name in classes:
                    return True
        return False

    # Decorators, one per kind: `@hooks.before_save("Review")`.
    def before_save(self, class_name: str) -> Callable[[HookFn], HookFn]:
        return lambda fn: self.register(BEFORE_SAVE, class_name, fn)

    def after_save(self, class_name: str) -> Callable[[HookFn], HookFn]:
        return lambda fn: self.register(AFTER_SAVE, class_name, fn)

    def before_delete(self, class_name: str) -> Callable[[HookFn], HookFn]:
        return lambda fn: self.register(BEFORE_DELETE, class_name, fn)

    def after_delete(self, class_name: str) -> Callable[[HookFn], HookFn]:
        return lambda fn: self.register(AFTER_DELETE, class_name, fn)

    def before_find(self, class_name: str) -> Callable[[HookFn], HookFn]:
        return lambda fn: self.register(BEFORE_FIND, class_name, fn)

    def after_find(self, class_name: str) -> Callable[[HookFn], HookFn]:
        return lambda fn: self.register(AFTER_FIND, class_name, fn)

    def _reindex(self) -> None:
        self._write_classes = frozenset(c for (k, c) in self._by_key if k in _WRITE_KINDS)
        self._read_classes = frozenset(c for (k, c) in self._by_key if k in _READ_KINDS)


async def run_hook(hook: Hook, req: Any) -> None:
    """Run a hook whose failure is the caller's answer (before save/delete/find): a ParseError
    as it is; any other exception of user code is Parse's 141 with its message (the traceback
    goes to the log)."""
    try:
        await hook.fn(req)
    except ParseError:
        raise
    except Exception as e:
        if hook.builtin:
            raise
        logger.warning("%s hook on %s failed", hook.kind, hook.class_name, exc_info=e)
        raise script_failed(e, TRIGGER_FAILED) from e
