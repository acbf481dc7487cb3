"""The cloud module's LiveQuery triggers (`@cloud.before_connect()`, `@cloud.before_subscribe(cls)`,
`@cloud.after_live_query_event(cls)`) on the LiveQuery seam (`livequery/hooks.py`): each seam
request becomes the `req` Parse hands its trigger (`core/cloud/live.py`), validators first.

Only what is registered is active: no before_connect, no hook on connect; an after-event trigger
takes only its own classes off the shared-body path (`after_event_on`).
"""

from __future__ import annotations

import copy
import inspect
from typing import Any, Awaitable, Callable

import trio

from parsnip.core.cloud import codec
from parsnip.core.cloud.live import (ConnectTriggerRequest, EventObject, LiveEventTriggerRequest,
                                     SubscribeTriggerRequest, SubscriptionQuery)
from parsnip.core.cloud.registry import Cloud, Registration
from parsnip.core.errors import ParseError
from parsnip.livequery.hooks import NO_HOOKS, ConnectRequest, LiveEvent, LiveQueryHooks, SubscribeRequest

_KINDS = ("before_subscribe", "after_live_query_event")


def hooks_for(cloud: Cloud | None) -> LiveQueryHooks:
    """The LiveQuery hooks of a cloud module (none without one, or when it registers none)."""
    if cloud is None or not any(kind == "before_connect" or kind in _KINDS for kind, _ in cloud.triggers):
        return NO_HOOKS
    return CloudHooks(cloud)


class CloudHooks(LiveQueryHooks):
    def __init__(self, cloud: Cloud) -> None:
        self._connect = cloud.trigger("before_connect")
        by_kind: dict[str, dict[str, Registration]] = {kind: {} for kind in _KINDS}
        for (kind, class_name), registration in cloud.triggers.items():
            if kind in by_kind and class_name is not None:
                by_kind[kind][class_name] = registration
        self._subscribe = by_kind["before_subscribe"]
        self._event = by_kind["after_live_query_event"]

    def active(self, name: str) -> Callable[..., Awaitable[None]] | None:
        registered = {"before_connect": self._connect is not None, "before_subscribe": bool(self._subscribe),
                      "after_event": bool(self._event)}
        return super().active(name) if registered.get(name) else None

    def after_event_on(self, class_name: str) -> bool:
        return class_name in self._event

    async def before_connect(self, request: ConnectRequest) -> None:
        auth = request.auth
        req = ConnectTriggerRequest(request.installation_id, request.session_token, request.use_master_key,
                                    auth.user_id, request.client_ip, request.clients, request.subscriptions)
        await _run(self._connect, req, auth.user_id)

    async def before_subscribe(self, request: SubscribeRequest) -> None:
        registration = self._subscribe.get(request.class_name)
        if registration is None:
            return
        auth = request.auth
        query = SubscriptionQuery(request.class_name, copy.deepcopy(request.where), _listed(request.keys),
                                  _listed(request.watch))
        req = SubscribeTriggerRequest(query, request.request_id, request.session_token, request.installation_id,
                                      auth.master, auth.user_id, request.client_ip)
        await _run(registration, req, auth.user_id)
        request.where, request.keys, request.watch = _subscription_of(req.query)

    async def after_event(self, event: LiveEvent) -> None:
        registration = self._event.get(event.class_name)
        if registration is None:
            return
        auth = event.auth
        original = EventObject(event.class_name, event.original) if event.original is not None else None
        req = LiveEventTriggerRequest(event.event, EventObject(event.class_name, event.object), original,
                                      event.request_id, auth.session_token, event.installation_id, auth.master,
                                      auth.user_id)
        await _run(registration, req, auth.user_id)
        event.send = bool(req.send_event)
        event.event = req.event
        if req.object is not None:
            event.object = _fields_of(req.object)
        if req.original is not None:
            event.original = _fields_of(req.original)


async def _run(registration: Registration, req: Any, user_id: str | None) -> None:
    """The trigger's validator, then the trigger (`async def` awaited, `def` in a worker thread)."""
    if registration.validation is not None:
        await registration.validation.check(req, has_user=user_id is not None)
    handler = registration.handler
    if inspect.iscoroutinefunction(handler):
        await handler(req)
        return
    result = await trio.to_thread.run_sync(handler, req)
    if inspect.isawaitable(result):
        await result


def _listed(names: tuple[str, ...] | None) -> list[str] | None:
    return list(names) if names is not None else None


def _subscription_of(query: Any) -> tuple[dict, tuple[str, ...] | None, tuple[str, ...] | None]:
    """(where, keys, watch) of the query a trigger left: ours, or anything with Parse's
    `toJSON` shape (`keys` a list or a comma-separated string, as Parse.Query writes it)."""
    shape = query.to_json() if hasattr(query, "to_json") else query
    if not isinstance(shape, dict) or not isinstance(shape.get("where", {}), dict):
        raise ParseError(ParseError.INVALID_QUERY, "before_subscribe left a query that is not a query")
    return codec.encode(shape.get("where", {})), _names(shape.get("keys")), _names(shape.get("watch"))


def _names(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise ParseError(ParseError.INVALID_QUERY, "before_subscribe left keys that are not field names")
    return tuple(names)


def _fields_of(obj: Any) -> dict:
    """The Parse JSON fields of what a trigger left as an event's object (ours, a dict, or
    anything with `to_json`)."""
    fields = codec.encode(obj.to_json() if hasattr(obj, "to_json") else obj)
    if not isinstance(fields, dict):
        raise TypeError(f"after_live_query_event left an object that is a {type(obj).__name__}")
    return {k: v for k, v in fields.items() if k not in ("className", "__type")}
