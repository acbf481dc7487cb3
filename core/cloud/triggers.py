"""Cloud Code's save triggers on the hook registry (`core/pipeline/hooks.py`): each
`@cloud.before_save` / `@cloud.after_save` becomes a hook that hands user code a `TriggerRequest`.

First slice: before_save and after_save only (the other triggers are recorded, not run yet);
`req.object` is a small view with `get`/`set`/`unset`, `id`, `class_name` until `ParseObject`.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Mapping

import trio

from parsnip.core.cloud.registry import Cloud, Registration
from parsnip.core.cloud.requests import CLOUD_LOG
from parsnip.core.pipeline.hooks import AFTER_SAVE, BEFORE_SAVE, Hooks

# Parse's trigger names, as `req.trigger_name` gives them.
_TRIGGER_NAMES = {BEFORE_SAVE: "beforeSave", AFTER_SAVE: "afterSave"}
_CONTEXT = "cloud_context"  # the key in a write's notes carrying req.context to after_save


class TriggerObject:
    """The object a trigger sees: before a save, writable (its changes are what is stored and
    answered); after it, the object as written."""

    def __init__(self, class_name: str, object_id: str | None, fields: Any) -> None:
        self.class_name = class_name
        self.id = object_id
        self._fields = fields  # a SaveRequest (writable) or the written fields (a dict)

    def get(self, name: str, default: Any = None) -> Any:
        return self._fields.get(name, default)

    def set(self, name: str, value: Any) -> None:
        if isinstance(self._fields, dict):
            raise TypeError("the object of an after_save trigger is already written")
        self._fields.set(name, value)

    def unset(self, name: str) -> None:
        if isinstance(self._fields, dict):
            raise TypeError("the object of an after_save trigger is already written")
        self._fields.unset(name)

    def to_json(self) -> dict:
        fields = self._fields.object if not isinstance(self._fields, dict) else self._fields
        return {**fields, "className": self.class_name, **({"objectId": self.id} if self.id else {})}


@dataclass
class TriggerRequest:
    """What a save trigger receives: Parse's request fields in snake_case. `original` is the
    stored object's fields (None on a create); `user` is None until `ParseObject` comes."""

    trigger_name: str
    object: TriggerObject
    original: Mapping[str, Any] | None
    master: bool
    user_id: str | None
    installation_id: str | None
    context: dict[str, Any] = field(default_factory=dict)
    user: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    log: Any = CLOUD_LOG

    @property
    def params(self) -> dict:
        """What Parse's validators read for a trigger: the object's fields."""
        return dict(self.object.to_json())


class Installed:
    """The hooks one `install` put on a registry, so `uninstall` takes exactly those off (a
    `--dev` reload); it registers as `Hooks.register` does."""

    def __init__(self, hooks: Hooks) -> None:
        self.hooks = hooks
        self.registered: list[tuple[str, str, Any]] = []

    def register(self, kind: str, class_name: str, fn: Any) -> None:
        self.hooks.register(kind, class_name, fn)
        self.registered.append((kind, class_name, fn))


def install(cloud: Cloud, hooks: Hooks) -> Installed:
    """Register the cloud module's triggers as hooks; what it returns is `uninstall`'s to undo."""
    installed = Installed(hooks)
    for (kind, class_name), registration in cloud.triggers.items():
        if kind in (BEFORE_SAVE, AFTER_SAVE) and class_name is not None:
            installed.register(kind, class_name, _hook(kind, registration))
    return installed


def uninstall(installed: Installed) -> None:
    """Take off the hooks an `install` registered (the built-ins and others' stay)."""
    for kind, class_name, fn in installed.registered:
        installed.hooks.unregister(kind, class_name, fn)
    installed.registered.clear()


def _hook(kind: str, registration: Registration):
    async def hook(pipeline_req: Any) -> None:
        req = _request(kind, pipeline_req)
        if registration.validation is not None:
            await registration.validation.check(req, has_user=req.user_id is not None)
        await _invoke(registration.handler, req)

    return hook


def _request(kind: str, pipeline_req: Any) -> TriggerRequest:
    auth = pipeline_req.auth
    context = pipeline_req.notes.setdefault(_CONTEXT, {})  # one dict from before_save to after_save
    if kind == BEFORE_SAVE:
        obj = TriggerObject(pipeline_req.class_name, pipeline_req.object_id, pipeline_req)
    else:
        obj = TriggerObject(pipeline_req.class_name, pipeline_req.object_id, dict(pipeline_req.object or {}))
    return TriggerRequest(_TRIGGER_NAMES[kind], obj, pipeline_req.original, auth.master, auth.user_id,
                          auth.installation_id, context)


async def _invoke(handler: Any, req: TriggerRequest) -> None:
    if inspect.iscoroutinefunction(handler):
        await handler(req)
        return
    result = await trio.to_thread.run_sync(handler, req)
    if inspect.isawaitable(result):
        await result
