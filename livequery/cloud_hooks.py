"""The cloud module's LiveQuery triggers (`@cloud.before_connect()`, `@cloud.before_subscribe(cls)`,
`@cloud.after_live_query_event(cls)`) on the LiveQuery seam (`livequery/hooks.py`): each seam
request becomes the `req` Parse hands its trigger (`core/cloud/live.py`), validators first.

Only what is registered is active: no before_connect, no hook on connect; an after-event trigger
takes only its own classes off the shared-body path (`after_event_on`). Registrations are looked
up in the cloud module in use at each call (`Runtime.cloud`), so a `--dev` reload's triggers
take over at once. `req.user` is read once per connect and subscribe, and for events at most
once per `_USER_TTL` per session (as Parse's LiveQuery caches a session's user).
"""

from __future__ import annotations

import copy
from typing import Any, Awaitable, Callable

import trio

from parsnip.core.cloud import binding, codec
from parsnip.core.cloud.invoke import call_handler
from parsnip.core.cloud.live import (ConnectTriggerRequest, LiveEventTriggerRequest, SubscribeTriggerRequest,
                                     SubscriptionQuery)
from parsnip.core.cloud.objects import ParseObject
from parsnip.core.cloud.registry import Registration
from parsnip.core.cloud.requests import caller_user
from parsnip.core.errors import ParseError
from parsnip.core.security.auth import Auth
from parsnip.livequery.hooks import NO_HOOKS, ConnectRequest, LiveEvent, LiveQueryHooks, SubscribeRequest

_KINDS = ("before_connect", "before_subscribe", "after_live_query_event")
_SEAM = {"before_connect": "before_connect", "before_subscribe": "before_subscribe",
         "after_live_query_event": "after_event"}
_USER_TTL = 5.0  # seconds an event trigger's req.user may be reused for a session


def hooks_for(rt: Any, *, every_kind: bool = False) -> LiveQueryHooks:
    """The LiveQuery hooks of the runtime's cloud module (`rt.cloud`, which a `--dev` reload
    swaps): none when it registers no LiveQuery trigger. Only the kinds it registers now are
    active, unless `every_kind` (for a reload that may bring a kind the server started without)."""
    cloud = rt.cloud
    kinds = set(_KINDS) if every_kind else {kind for kind, _ in (cloud.triggers if cloud else ()) if kind in _KINDS}
    if not kinds:
        return NO_HOOKS
    return CloudHooks(rt, {_SEAM[kind] for kind in kinds})


class CloudHooks(LiveQueryHooks):
    def __init__(self, rt: Any, active: set[str]) -> None:
        self._rt = rt
        self._active = active  # the seam's hook names the server is to call
        self._users: dict[tuple[str, str | None], tuple[float, ParseObject | None]] = {}

    def active(self, name: str) -> Callable[..., Awaitable[None]] | None:
        return super().active(name) if name in self._active else None

    def after_event_on(self, class_name: str) -> bool:
        return self._trigger("after_live_query_event", class_name) is not None

    def _trigger(self, kind: str, class_name: str | None) -> Registration | None:
        cloud = self._rt.cloud
        return cloud.trigger(kind, class_name) if cloud is not None else None

    async def _run(self, registration: Registration, req: Any, auth: Auth) -> None:
        """The trigger's validator (with the client's roles and user), then the trigger, acting
        on this runtime (ParseObject / ParseQuery in it)."""
        with binding.bound(self._rt):
            if registration.validation is not None:
                user = req.user

                async def load_user() -> dict | None:
                    return user.to_json() if user is not None else None

                if await registration.validation.check(req, has_user=auth.user_id is not None, roles=auth.roles,
                                                       load_user=load_user):
                    return  # skip_with_master_key and the master key
            await call_handler(registration.handler, req)

    async def _user(self, auth: Auth) -> ParseObject | None:
        """The session's user for an event trigger, read at most once per `_USER_TTL`; each
        call gets its own copy."""
        if auth.user_id is None:
            return None
        key, now = (auth.user_id, auth.session_token), trio.current_time()
        known = self._users.get(key)
        if known is None or now - known[0] > _USER_TTL:
            if len(self._users) > 10_000:
                self._users = {k: v for k, v in self._users.items() if now - v[0] <= _USER_TTL}
            known = self._users[key] = (now, await caller_user(self._rt, auth))
        user = known[1]
        return ParseObject.from_json(user.to_json(), user.class_name) if user is not None else None

    async def before_connect(self, request: ConnectRequest) -> None:
        registration = self._trigger("before_connect", None)
        if registration is None:
            return
        auth = request.auth
        req = ConnectTriggerRequest(request.installation_id, request.session_token, request.use_master_key,
                                    auth.user_id, request.client_ip, request.clients, request.subscriptions,
                                    user=await caller_user(self._rt, auth))
        await self._run(registration, req, auth)

    async def before_subscribe(self, request: SubscribeRequest) -> None:
        registration = self._trigger("before_subscribe", request.class_name)
        if registration is None:
            return
        auth = request.auth
        query = SubscriptionQuery(request.class_name, copy.deepcopy(request.where), _listed(request.keys),
                                  _listed(request.watch))
        req = SubscribeTriggerRequest(query, request.request_id, request.session_token, request.installation_id,
                                      auth.master, auth.user_id, request.client_ip,
                                      user=await caller_user(self._rt, auth))
        await self._run(registration, req, auth)
        request.where, request.keys, request.watch = _subscription_of(req.query)

    async def after_event(self, event: LiveEvent) -> None:
        registration = self._trigger("after_live_query_event", event.class_name)
        if registration is None:
            return
        auth = event.auth
        original = _object(event.class_name, event.original) if event.original is not None else None
        req = LiveEventTriggerRequest(event.event, _object(event.class_name, event.object), original,
                                      event.request_id, auth.session_token, event.installation_id, auth.master,
                                      auth.user_id, user=await self._user(auth))
        await self._run(registration, req, auth)
        event.send = bool(req.send_event)
        event.event = req.event
        if req.object is not None:
            event.object = _fields_of(req.object)
        if req.original is not None:
            event.original = _fields_of(req.original)


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


def _object(class_name: str, fields: dict) -> ParseObject:
    return ParseObject.from_json(fields, class_name)


def _fields_of(obj: Any) -> dict:
    """The Parse JSON fields of what a trigger left as an event's object (ours, a dict, or
    anything with `to_json`)."""
    fields = codec.encode(obj.to_json() if hasattr(obj, "to_json") else obj)
    if not isinstance(fields, dict):
        raise TypeError(f"after_live_query_event left an object that is a {type(obj).__name__}")
    return {k: v for k, v in fields.items() if k not in ("className", "__type")}
