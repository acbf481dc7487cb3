"""Cloud Code's save triggers on the hook registry (`core/pipeline/hooks.py`): each
`@cloud.before_save` / `@cloud.after_save` becomes a hook that hands user code a `TriggerRequest`.

First slice: before_save and after_save only (the other triggers are recorded, not run yet).
`req.object` and `req.original` are `ParseObject`s (`trigger_objects.py`); a before_save's
changes to `req.object` are written back to the save when the handler returns.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Mapping

import trio

from parsnip.core.cloud import binding
from parsnip.core.cloud.objects import ParseObject
from parsnip.core.cloud.registry import Cloud, Registration
from parsnip.core.cloud.requests import CLOUD_LOG, caller_user
from parsnip.core.cloud.trigger_objects import before_save_object, original_object, write_back, written_object
from parsnip.core.pipeline.hooks import AFTER_SAVE, BEFORE_SAVE, Hooks

# Parse's trigger names, as `req.trigger_name` gives them.
_TRIGGER_NAMES = {BEFORE_SAVE: "beforeSave", AFTER_SAVE: "afterSave"}
_CONTEXT = "cloud_context"  # the key in a write's notes carrying req.context to after_save
_USER = "cloud_user"  # and the one carrying req.user: read once per write


@dataclass
class TriggerRequest:
    """What a save trigger receives: Parse's request fields in snake_case. `original` is the
    stored object (None on a create); `user` the caller's `_User` (None without a session)."""

    trigger_name: str
    object: ParseObject
    original: ParseObject | None
    master: bool
    user_id: str | None
    installation_id: str | None
    context: dict[str, Any] = field(default_factory=dict)
    user: ParseObject | None = None
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
        req = await _request(kind, pipeline_req)
        if registration.validation is not None:
            await registration.validation.check(req, has_user=req.user_id is not None)
        await _invoke(registration.handler, req)
        if kind == BEFORE_SAVE:
            write_back(req.object, pipeline_req)

    return hook


async def _request(kind: str, pipeline_req: Any) -> TriggerRequest:
    auth = pipeline_req.auth
    context = pipeline_req.notes.setdefault(_CONTEXT, {})  # one dict from before_save to after_save
    class_name, object_id = pipeline_req.class_name, pipeline_req.object_id
    if kind == BEFORE_SAVE:
        obj = before_save_object(pipeline_req)
    else:
        obj = written_object(class_name, object_id, pipeline_req.object, pipeline_req.created_at,
                             pipeline_req.updated_at)
    if _USER not in pipeline_req.notes:
        pipeline_req.notes[_USER] = await caller_user(binding.current(), auth)
    return TriggerRequest(_TRIGGER_NAMES[kind], obj, original_object(class_name, object_id, pipeline_req.original),
                          auth.master, auth.user_id, auth.installation_id, context, user=pipeline_req.notes[_USER])


async def _invoke(handler: Any, req: TriggerRequest) -> None:
    if inspect.iscoroutinefunction(handler):
        await handler(req)
        return
    result = await trio.to_thread.run_sync(handler, req)
    if inspect.isawaitable(result):
        await result
