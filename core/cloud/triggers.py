"""Cloud Code's triggers on the hook registry (`core/pipeline/hooks.py`): each `@cloud.before_save`,
`after_save`, `before_delete`, `after_delete`, `before_find`, `after_find`, `before_login`,
`after_login`, `after_logout` and `before_password_reset_request` becomes a hook that hands user
code a `TriggerRequest`, checks its validator first, and applies what it did or returned.

`req.object` and `req.original` are `ParseObject`s (`trigger_objects.py`); a before_save's
changes to `req.object` are written back to the save when the handler returns. A find
trigger's `req.query` is a `ParseQuery` (`find_query.py`). Triggers whose writes run triggers
nest: a contextvar counts how deep, and a trigger entered past `MAX_DEPTH` is refused with
Parse.com's 124, so a trigger saving its own class stops instead of looping forever.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping

from parsnip.core.cloud import binding
from parsnip.core.cloud.context import trigger_context
from parsnip.core.cloud.errors import too_deep
from parsnip.core.cloud.invoke import call_handler
from parsnip.core.cloud.find_query import options_from, query_for
from parsnip.core.cloud.objects import ParseObject
from parsnip.core.cloud.query import ParseQuery
from parsnip.core.cloud.registry import Cloud, Registration
from parsnip.core.cloud.requests import CLOUD_LOG, caller_user
from parsnip.core.events import CONFIG_CLASS, FILE_CLASS
from parsnip.core.cloud.trigger_objects import before_save_object, original_object, write_back, written_object
from parsnip.core.pipeline.hooks import (
    AFTER_DELETE, AFTER_FIND, AFTER_LOGIN, AFTER_LOGOUT, AFTER_SAVE, BEFORE_DELETE, BEFORE_FIND, BEFORE_LOGIN,
    BEFORE_PASSWORD_RESET_REQUEST, BEFORE_SAVE, Hooks,
)

# Parse's trigger names, as `req.trigger_name` gives them.
_TRIGGER_NAMES = {
    BEFORE_SAVE: "beforeSave", AFTER_SAVE: "afterSave", BEFORE_DELETE: "beforeDelete", AFTER_DELETE: "afterDelete",
    BEFORE_FIND: "beforeFind", AFTER_FIND: "afterFind", BEFORE_LOGIN: "beforeLogin", AFTER_LOGIN: "afterLogin",
    AFTER_LOGOUT: "afterLogout", BEFORE_PASSWORD_RESET_REQUEST: "beforePasswordResetRequest",
}
_CLASS_KINDS = (BEFORE_SAVE, AFTER_SAVE, BEFORE_DELETE, AFTER_DELETE, BEFORE_FIND, AFTER_FIND)
# The account triggers name no class in user code; their hooks hang on these.
_ACCOUNT_CLASS = {BEFORE_LOGIN: "_User", AFTER_LOGIN: "_User", AFTER_LOGOUT: "_Session",
                  BEFORE_PASSWORD_RESET_REQUEST: "_User"}
_USER = "cloud_user"  # and the one carrying req.user: read once per write

# How deep triggers may nest (a trigger's write running triggers, and so on) before the next is
# refused with 124: far past any real cascade, well before a loop hurts.
MAX_DEPTH = 16
_DEPTH: ContextVar[int] = ContextVar("parsnip_trigger_depth", default=0)

LoadObject = Callable[[str, str], Awaitable["dict | None"]]


@dataclass
class TriggerRequest:
    """What a trigger receives: Parse's request fields in snake_case. `object` is the object
    saved, deleted or logging in (None for a find); `original` the stored object (None on a
    create); `user` the caller's `_User` (None without a session); `query`, `count`, `is_get`
    and `objects` are a find's."""

    trigger_name: str
    object: ParseObject | None
    original: ParseObject | None
    master: bool
    user_id: str | None
    installation_id: str | None
    context: dict[str, Any] = field(default_factory=dict)
    user: ParseObject | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    log: Any = CLOUD_LOG
    query: ParseQuery | None = None
    count: bool = False
    is_get: bool = False
    objects: list[ParseObject] | None = None
    ip: str | None = None
    is_read_only: bool = False

    @property
    def params(self) -> dict:
        """What Parse's validators read for a trigger: the object's fields (none for a find)."""
        return dict(self.object.to_json()) if self.object is not None else {}


class Installed:
    """The hooks one `install` put on a registry, so `uninstall` takes exactly those off (a
    `--dev` reload); it registers as `Hooks.register` does."""

    def __init__(self, hooks: Hooks) -> None:
        self.hooks = hooks
        self.registered: list[tuple[str, str, Any]] = []

    def register(self, kind: str, class_name: str, fn: Any) -> None:
        self.hooks.register(kind, class_name, fn)
        self.registered.append((kind, class_name, fn))


def install(cloud: Cloud, hooks: Hooks, load_object: LoadObject | None = None) -> Installed:
    """Register the cloud module's triggers as hooks; what it returns is `uninstall`'s to undo.
    `load_object` reads a stored object (the caller's user, for `require_user_keys`)."""
    installed = Installed(hooks)
    for (kind, class_name), registration in cloud.triggers.items():
        if kind in _ACCOUNT_CLASS:
            installed.register(kind, _ACCOUNT_CLASS[kind], _hook(kind, registration, load_object))
        elif kind in _CLASS_KINDS and class_name not in (None, CONFIG_CLASS, FILE_CLASS):
            # Parse.Config's triggers are run by PUT /config itself (core/cloud/config_triggers.py),
            # files' by the files service (core/cloud/file_triggers.py).
            installed.register(kind, class_name, _hook(kind, registration, load_object))
    return installed


def uninstall(installed: Installed) -> None:
    """Take off the hooks an `install` registered (the built-ins and others' stay)."""
    for kind, class_name, fn in installed.registered:
        installed.hooks.unregister(kind, class_name, fn)
    installed.registered.clear()


def _hook(kind: str, registration: Registration, load_object: LoadObject | None):
    async def hook(pipeline_req: Any) -> None:
        depth = _DEPTH.get()
        if depth >= MAX_DEPTH:
            raise too_deep()
        token = _DEPTH.set(depth + 1)
        try:
            req = await _request(kind, pipeline_req)
            if registration.validation is not None:
                signup = kind == BEFORE_SAVE and pipeline_req.class_name == "_User" and pipeline_req.is_create
                skip = await registration.validation.check(
                    req, has_user=req.user_id is not None or signup, roles=pipeline_req.auth.roles,
                    load_user=_user_loader(req, signup, load_object))
                if skip:
                    return
            result = await call_handler(registration.handler, req)
            _apply(kind, pipeline_req, req, result)
        finally:
            _DEPTH.reset(token)

    return hook


def _user_loader(req: TriggerRequest, signup: bool, load_object: LoadObject | None):
    async def load() -> dict | None:
        if signup and req.object is not None:  # a signup's user is the object being saved (as Parse)
            return req.object.to_json()
        if req.user is not None:
            return req.user.to_json()
        if req.user_id is None or load_object is None:
            return None
        return await load_object("_User", req.user_id)

    return load


async def _request(kind: str, pipeline_req: Any) -> TriggerRequest:
    auth = pipeline_req.auth
    cls = pipeline_req.class_name
    obj, original, query, objects = None, None, None, None
    if kind == BEFORE_SAVE:
        obj = before_save_object(pipeline_req)
        original = original_object(cls, pipeline_req.object_id, pipeline_req.original)
    elif kind == AFTER_SAVE:
        obj = written_object(cls, pipeline_req.object_id, pipeline_req.object, pipeline_req.created_at,
                             pipeline_req.updated_at)
        original = original_object(cls, pipeline_req.object_id, pipeline_req.original)
    elif kind == BEFORE_DELETE:
        obj = written_object(cls, pipeline_req.object_id, pipeline_req.original)
    elif kind == AFTER_DELETE:
        obj = written_object(cls, pipeline_req.object_id, pipeline_req.object)
    elif kind in (BEFORE_FIND, AFTER_FIND):
        query = query_for(cls, pipeline_req.query)
        if kind == AFTER_FIND:
            objects = [ParseObject.from_json(o, cls) for o in pipeline_req.objects]
    else:  # the account triggers: the user (or, after a logout, the session)
        obj = ParseObject.from_json(pipeline_req.object, cls)
    if kind == AFTER_LOGIN:
        user = obj  # Parse's afterLogin runs as the user who just logged in
    else:
        user = await _caller_user(pipeline_req, auth)
    opts = getattr(pipeline_req, "query", None)
    ip = getattr(pipeline_req, "client_ip", None) or getattr(getattr(pipeline_req, "context", None), "client_ip", None)
    return TriggerRequest(
        _TRIGGER_NAMES[kind], obj, original, auth.master, auth.user_id, auth.installation_id,
        trigger_context(pipeline_req), user=user, query=query, count=bool(getattr(opts, "count", False)),
        is_get=bool(getattr(pipeline_req, "is_get", False)), objects=objects, ip=ip, is_read_only=auth.read_only)


async def _caller_user(pipeline_req: Any, auth: Any) -> ParseObject | None:
    """`req.user`, read once per write (kept in its notes) or once per request otherwise."""
    notes = getattr(pipeline_req, "notes", None)
    if notes is None:
        return await caller_user(binding.current(), auth)
    if _USER not in notes:
        notes[_USER] = await caller_user(binding.current(), auth)
    return notes[_USER]


def _apply(kind: str, pipeline_req: Any, req: TriggerRequest, result: Any) -> None:
    """What a trigger did or returned: a before_save's changes; a find trigger's query to run
    instead, objects to answer with (before) or results to answer with (after)."""
    if kind == BEFORE_SAVE:
        write_back(req.object, pipeline_req)
    elif kind == BEFORE_FIND:
        if isinstance(result, ParseQuery) and result is not req.query:
            pipeline_req.query = options_from(result, pipeline_req.query, replace_where=True)
        else:
            pipeline_req.query = options_from(req.query, pipeline_req.query, replace_where=False)
        answered = _objects(result)
        if answered is not None:
            pipeline_req.answered = answered
    elif kind == AFTER_FIND:
        chosen = _objects(result)
        pipeline_req.objects = chosen if chosen is not None else [_result(o) for o in req.objects or ()]


def _objects(result: Any) -> list[dict] | None:
    """Objects a find trigger returned (one, or a list of them), as results; None otherwise."""
    if isinstance(result, ParseObject):
        return [_result(result)]
    if isinstance(result, (list, tuple)) and all(isinstance(o, (ParseObject, dict)) for o in result):
        return [_result(o) for o in result]
    return None


def _result(obj: ParseObject | dict) -> dict:
    """An object as a find result (REST JSON, without `className`)."""
    data = dict(obj.to_json()) if isinstance(obj, ParseObject) else dict(obj)
    data.pop("className", None)
    data.pop("__type", None)
    return data
