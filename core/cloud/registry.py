"""`Cloud`: where a cloud module registers its functions, jobs and triggers, one method per
Parse hook, in snake_case. Registering records the handler (and its validator); the services
and the hook registry (`core/pipeline/hooks.py`) look them up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from parsnip.core.cloud.validators import Validation

Handler = Callable[[Any], Any]


@dataclass(frozen=True)
class Registration:
    """One registered handler: what it hooks (`kind`, and a function/job name or class name),
    the handler, and its validation (None: none)."""

    kind: str
    target: str | None
    handler: Handler
    validation: Validation | None = None




class Cloud:
    """The registry of a cloud module: `cloud = Cloud()`, then `@cloud.define("hello")`,
    `@cloud.before_save("Review")`, ... The loader takes the module's attribute `cloud`."""

    def __init__(self) -> None:
        self.functions: dict[str, Registration] = {}
        self.jobs: dict[str, Registration] = {}
        # (kind, class name or None) -> registration: one handler per hook and class, as in Parse.
        self.triggers: dict[tuple[str, str | None], Registration] = {}

    def define(self, name: str, *, validator: Callable[[Any], Any] | None = None,
               **options: Any) -> Callable[[Handler], Handler]:
        """Register a function called by `POST /functions/{name}` (`Parse.Cloud.run`), with
        Parse's validator options as keyword arguments or a `validator=` callable."""
        validation = Validation.of(options, validator)

        def register(handler: Handler) -> Handler:
            self.functions[_name(name, "function")] = Registration("function", name, _callable(handler),
                                                                   validation)
            return handler

        return register

    def job(self, name: str) -> Callable[[Handler], Handler]:
        """Register a job, started by `POST /jobs/{name}` with the master key."""
        def register(handler: Handler) -> Handler:
            self.jobs[_name(name, "job")] = Registration("job", name, _callable(handler))
            return handler

        return register

    def _trigger(self, kind: str, class_name: str | None, validator: Callable[[Any], Any] | None,
                 options: dict[str, Any]) -> Callable[[Handler], Handler]:
        validation = Validation.of(options, validator)
        if class_name is not None:
            _name(class_name, "class")

        def register(handler: Handler) -> Handler:
            self.triggers[(kind, class_name)] = Registration(kind, class_name, _callable(handler), validation)
            return handler

        return register

    def trigger(self, kind: str, class_name: str | None = None) -> Registration | None:
        """The handler registered for `kind` on `class_name`, or None."""
        return self.triggers.get((kind, class_name))

    # One method per Parse hook. Class hooks take the class name as a string ("_User" included).
    def before_save(self, class_name: str, *, validator=None, **options: Any):
        return self._trigger("before_save", class_name, validator, options)

    def after_save(self, class_name: str, *, validator=None, **options: Any):
        return self._trigger("after_save", class_name, validator, options)

    def before_delete(self, class_name: str, *, validator=None, **options: Any):
        return self._trigger("before_delete", class_name, validator, options)

    def after_delete(self, class_name: str, *, validator=None, **options: Any):
        return self._trigger("after_delete", class_name, validator, options)

    def before_find(self, class_name: str, *, validator=None, **options: Any):
        return self._trigger("before_find", class_name, validator, options)

    def after_find(self, class_name: str, *, validator=None, **options: Any):
        return self._trigger("after_find", class_name, validator, options)

    def before_login(self, *, validator=None, **options: Any):
        return self._trigger("before_login", None, validator, options)

    def after_login(self, *, validator=None, **options: Any):
        return self._trigger("after_login", None, validator, options)

    def after_logout(self, *, validator=None, **options: Any):
        return self._trigger("after_logout", None, validator, options)

    def before_password_reset_request(self, *, validator=None, **options: Any):
        return self._trigger("before_password_reset_request", None, validator, options)

    def before_connect(self, *, validator=None, **options: Any):
        return self._trigger("before_connect", None, validator, options)

    def before_subscribe(self, class_name: str, *, validator=None, **options: Any):
        return self._trigger("before_subscribe", class_name, validator, options)

    def after_live_query_event(self, class_name: str, *, validator=None, **options: Any):
        return self._trigger("after_live_query_event", class_name, validator, options)


def _name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not name:
        raise TypeError(f"a {what} name must be a non-empty string, not {name!r}")
    return name


def _callable(handler: Any) -> Handler:
    if not callable(handler):
        raise TypeError(f"a cloud handler must be callable, not {handler!r}")
    return handler
