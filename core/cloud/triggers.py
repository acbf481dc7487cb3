"""Cloud Code's triggers on the hook registry (`core/pipeline/hooks.py`): each `@cloud.before_save`,
`after_save`, `before_delete`, `after_delete`, `before_find`, `after_find`, `before_login`,
`after_login`, `after_logout` and `before_password_reset_request` becomes a hook that hands user
code a `TriggerRequest`, checks its validator first, and applies what it returned.

Triggers that write through the service layer nest: a contextvar counts how deep, and a trigger
entered past `MAX_DEPTH` is refused with Parse.com's 124, so a trigger saving its own class
stops instead of looping forever.

`req.object` is a small view with `get`/`set`/`unset`, `id`, `class_name` and `req.query` a
`TriggerQuery` (core/cloud/find_query.py) until `ParseObject` and `ParseQuery` come.
"""

from __future__ import annotations

import inspect
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping

import trio

from parsnip.core.cloud.errors import too_deep
from parsnip.core.cloud.find_query import TriggerQuery
from parsnip.core.cloud.registry import Cloud, Registration
from parsnip.core.cloud.requests import CLOUD_LOG
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
_CONTEXT = "cloud_context"  # the key in a write's notes carrying req.context to after_save

# How deep triggers may nest (a trigger's write running triggers, and so on) before the next is
# refused with 124: far past any real cascade, well before a loop hurts.
MAX_DEPTH = 16
_DEPTH: ContextVar[int] = ContextVar("parsnip_trigger_depth", default=0)

LoadObject = Callable[[str, str], Awaitable["dict | None"]]


class TriggerObject:
    """The object a trigger sees: before a save, writable (its changes are what is stored and
    answered); after a find, writable (the client gets it as left); otherwise as stored."""

    def __init__(self, class_name: str, object_id: str | None, fields: Any, *, writable: bool = False) -> None:
        self.class_name = class_name
        self.id = object_id
        self._fields = fields  # a SaveRequest (writable) or the object's fields (a dict)
        self._writable = writable or not isinstance(fields, dict)

    def get(self, name: str, default: Any = None) -> Any:
        return self._fields.get(name, default)

    def set(self, name: str, value: Any) -> None:
        self._check_writable()
        if isinstance(self._fields, dict):
            self._fields[name] = value
        else:
            self._fields.set(name, value)

    def unset(self, name: str) -> None:
        self._check_writable()
        if isinstance(self._fields, dict):
            self._fields.pop(name, None)
        else:
            self._fields.unset(name)

    def _check_writable(self) -> None:
        if not self._writable:
            raise TypeError("this trigger's object is already written; it cannot be changed")

    def fields(self) -> dict:
        return dict(self._fields.object if not isinstance(self._fields, dict) else self._fields)

    def to_json(self) -> dict:
        return {**self.fields(), "className": self.class_name, **({"objectId": self.id} if self.id else {})}


@dataclass
class TriggerRequest:
    """What a trigger receives: Parse's request fields in snake_case. `original` is the stored
    object's fields (None on a create); `query`, `count`, `is_get` and `objects` are a find's;
    `user` is None until `ParseObject` comes (`user_id` says who is logged in meanwhile)."""

    trigger_name: str
    object: TriggerObject | None
    original: Mapping[str, Any] | None
    master: bool
    user_id: str | None
    installation_id: str | None
    context: dict[str, Any] = field(default_factory=dict)
    user: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    log: Any = CLOUD_LOG
    query: TriggerQuery | None = None
    count: bool = False
    is_get: bool = False
    objects: list[TriggerObject] | None = None
    ip: str | None = None
    is_read_only: bool = False

    @property
    def params(self) -> dict:
        """What Parse's validators read for a trigger: the object's fields (none for a find)."""
        return dict(self.object.to_json()) if self.object is not None else {}


def install(cloud: Cloud, hooks: Hooks, load_object: LoadObject | None = None) -> None:
    """Register the cloud module's triggers as hooks; `load_object` reads a stored object
    (the caller's user, for validators' `require_user_keys`)."""
    for (kind, class_name), registration in cloud.triggers.items():
        if kind in _ACCOUNT_CLASS:
            hooks.register(kind, _ACCOUNT_CLASS[kind], _hook(kind, registration, load_object))
        elif kind in _CLASS_KINDS and class_name is not None:
            hooks.register(kind, class_name, _hook(kind, registration, load_object))


def _hook(kind: str, registration: Registration, load_object: LoadObject | None):
    async def hook(pipeline_req: Any) -> None:
        depth = _DEPTH.get()
        if depth >= MAX_DEPTH:
            raise too_deep()
        token = _DEPTH.set(depth + 1)
        try:
            req = _request(kind, pipeline_req)
            if registration.validation is not None:
                signup = kind == BEFORE_SAVE and pipeline_req.class_name == "_User" and pipeline_req.is_create
                has_user = req.user_id is not None or signup
                skip = await registration.validation.check(
                    req, has_user=has_user, roles=pipeline_req.auth.roles,
                    load_user=_user_loader(req, signup, load_object))
                if skip:
                    return
            _apply(kind, pipeline_req, req, await _invoke(registration.handler, req))
        finally:
            _DEPTH.reset(token)

    return hook


def _user_loader(req: TriggerRequest, signup: bool, load_object: LoadObject | None):
    async def load() -> dict | None:
        if signup and req.object is not None:  # a signup's user is the object being saved (as Parse)
            return req.object.fields()
        if req.user_id is None or load_object is None:
            return None
        return await load_object("_User", req.user_id)

    return load


def _request(kind: str, pipeline_req: Any) -> TriggerRequest:
    auth = pipeline_req.auth
    cls = pipeline_req.class_name
    obj, original, query, objects, user = None, None, None, None, None
    if kind == BEFORE_SAVE:
        obj = TriggerObject(cls, pipeline_req.object_id, pipeline_req)
        original = pipeline_req.original
    elif kind in (AFTER_SAVE, AFTER_DELETE):
        obj = TriggerObject(cls, pipeline_req.object_id, dict(pipeline_req.object or {}))
        original = pipeline_req.original if kind == AFTER_SAVE else None
    elif kind == BEFORE_DELETE:
        obj = TriggerObject(cls, pipeline_req.object_id, dict(pipeline_req.original or {}))
    elif kind in (BEFORE_FIND, AFTER_FIND):
        query = TriggerQuery(cls, pipeline_req.query)
        if kind == AFTER_FIND:
            objects = [_found(cls, o) for o in pipeline_req.objects]
    else:  # the account triggers: the user (or, after a logout, the session)
        fields = {k: v for k, v in pipeline_req.object.items() if k != "objectId"}
        obj = TriggerObject(cls, pipeline_req.object.get("objectId"), fields)
        user = obj if kind == AFTER_LOGIN else None
    opts = getattr(pipeline_req, "query", None)
    return TriggerRequest(
        _TRIGGER_NAMES[kind], obj, original, auth.master, auth.user_id, auth.installation_id,
        _context_of(pipeline_req), user=user, query=query, count=bool(getattr(opts, "count", False)),
        is_get=bool(getattr(pipeline_req, "is_get", False)), objects=objects,
        ip=getattr(pipeline_req, "client_ip", None) or getattr(getattr(pipeline_req, "context", None), "client_ip", None),
        is_read_only=auth.read_only,
    )


def _context_of(pipeline_req: Any) -> dict:
    """`req.context`: the client's (or a new) dict, the same one from before to after hooks."""
    given = getattr(pipeline_req, "cloud_context", None)
    notes = getattr(pipeline_req, "notes", None)
    if notes is not None:  # a write: the before hooks hand it on in the notes
        return notes.setdefault(_CONTEXT, given if given is not None else {})
    if given is None:
        given = {}
        pipeline_req.cloud_context = given  # a find: before_find's reaches after_find
    return given


def _found(class_name: str, obj: dict) -> TriggerObject:
    fields = {k: v for k, v in obj.items() if k != "objectId"}
    return TriggerObject(class_name, obj.get("objectId"), fields, writable=True)


def _apply(kind: str, pipeline_req: Any, req: TriggerRequest, result: Any) -> None:
    """What a find trigger returned: a query to run instead, objects to answer with (before),
    or the results to answer with (after)."""
    if kind == BEFORE_FIND:
        pipeline_req.query = (result if isinstance(result, TriggerQuery) else req.query).options()
        answered = _objects(result)
        if answered is not None:
            pipeline_req.answered = answered
    elif kind == AFTER_FIND:
        chosen = _objects(result)
        pipeline_req.objects = chosen if chosen is not None else [_result(o) for o in req.objects or ()]


def _objects(result: Any) -> list[dict] | None:
    """Objects a find trigger returned (one, or a list of them), as results; None otherwise."""
    if isinstance(result, (list, tuple)):
        if all(_is_object(o) for o in result):
            return [_result(o) for o in result]
        return None
    return [_result(result)] if _is_object(result) and not isinstance(result, dict) else None


def _is_object(value: Any) -> bool:
    return isinstance(value, (TriggerObject, dict)) or callable(getattr(value, "to_json", None)) and \
        not isinstance(value, TriggerQuery)


def _result(obj: Any) -> dict:
    """An object as a find result (REST JSON, without `className`)."""
    if isinstance(obj, TriggerObject):
        return {**obj.fields(), **({"objectId": obj.id} if obj.id else {})}
    data = dict(obj) if isinstance(obj, dict) else dict(obj.to_json())
    data.pop("className", None)
    data.pop("__type", None)
    return data


async def _invoke(handler: Any, req: TriggerRequest) -> Any:
    if inspect.iscoroutinefunction(handler):
        return await handler(req)
    result = await trio.to_thread.run_sync(handler, req)
    if inspect.isawaitable(result):
        return await result
    return result
