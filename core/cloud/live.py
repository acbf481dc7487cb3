"""What LiveQuery triggers receive (`req`): Parse's beforeConnect, beforeSubscribe and
afterLiveQueryEvent requests in snake_case, and the two things user code may change there: a
subscription's query (`SubscriptionQuery`) and an event's objects (`EventObject`).

Values are Parse-encoded both ways: `get` gives a Date as `datetime`, `set` and the query's
constraints take one. `user` is None until `ParseObject` comes; `user_id` says who meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from parsnip.core.cloud import codec
from parsnip.core.cloud.requests import CLOUD_LOG


class SubscriptionQuery:
    """The query of a subscription, as a before_subscribe trigger may change it (Parse hands
    its trigger a `Parse.Query`): `where` is Parse's JSON, `keys` what `select` keeps (None:
    every field), `watched` the fields whose change makes an update (None: any)."""

    def __init__(self, class_name: str, where: dict, keys: list[str] | None, watched: list[str] | None) -> None:
        self.class_name = class_name
        self.where = where
        self.keys = keys
        self.watched = watched

    def equal_to(self, key: str, value: Any) -> "SubscriptionQuery":
        self.where[key] = codec.encode(value)
        return self

    def not_equal_to(self, key: str, value: Any) -> "SubscriptionQuery":
        return self._add(key, "$ne", value)

    def less_than(self, key: str, value: Any) -> "SubscriptionQuery":
        return self._add(key, "$lt", value)

    def less_than_or_equal_to(self, key: str, value: Any) -> "SubscriptionQuery":
        return self._add(key, "$lte", value)

    def greater_than(self, key: str, value: Any) -> "SubscriptionQuery":
        return self._add(key, "$gt", value)

    def greater_than_or_equal_to(self, key: str, value: Any) -> "SubscriptionQuery":
        return self._add(key, "$gte", value)

    def contained_in(self, key: str, values: list) -> "SubscriptionQuery":
        return self._add(key, "$in", list(values))

    def not_contained_in(self, key: str, values: list) -> "SubscriptionQuery":
        return self._add(key, "$nin", list(values))

    def contains_all(self, key: str, values: list) -> "SubscriptionQuery":
        return self._add(key, "$all", list(values))

    def exists(self, key: str) -> "SubscriptionQuery":
        return self._add(key, "$exists", True)

    def does_not_exist(self, key: str) -> "SubscriptionQuery":
        return self._add(key, "$exists", False)

    def select(self, *keys: str) -> "SubscriptionQuery":
        """Only these fields (and objectId, createdAt, updatedAt, ACL) reach the client."""
        self.keys = [*(self.keys or []), *keys]
        return self

    def watch(self, *keys: str) -> "SubscriptionQuery":
        """An update is sent only when one of these fields changes."""
        self.watched = [*(self.watched or []), *keys]
        return self

    def to_json(self) -> dict:
        """The query as a client's subscribe carries it."""
        out: dict[str, Any] = {"className": self.class_name, "where": self.where}
        if self.keys is not None:
            out["keys"] = self.keys
        if self.watched is not None:
            out["watch"] = self.watched
        return out

    def _add(self, key: str, op: str, value: Any) -> "SubscriptionQuery":
        # Parse.Query's addCondition: constraints on one field combine; a plain value is replaced.
        current = self.where.get(key)
        constraints = current if isinstance(current, dict) and not _is_typed(current) else {}
        self.where[key] = {**constraints, op: codec.encode(value)}
        return self


class EventObject:
    """An event's object (or original) for one subscriber: an after_live_query_event trigger may
    change it, and that subscriber alone gets the change."""

    def __init__(self, class_name: str, fields: dict) -> None:
        self.class_name = class_name
        self._fields = fields  # Parse JSON, objectId and dates included

    @property
    def id(self) -> str | None:
        return self._fields.get("objectId")

    def get(self, name: str, default: Any = None) -> Any:
        return codec.decode(self._fields[name]) if name in self._fields else default

    def set(self, name: str, value: Any) -> None:
        self._fields[name] = codec.encode(value)

    def unset(self, name: str) -> None:
        self._fields.pop(name, None)

    def to_json(self) -> dict:
        return {**self._fields, "className": self.class_name}


@dataclass
class ConnectTriggerRequest:
    """A before_connect trigger's `req` (Parse's beforeConnect request): raise to refuse."""

    installation_id: str | None
    session_token: str | None
    use_master_key: bool
    user_id: str | None
    ip: str | None
    clients: int
    subscriptions: int
    user: Any = None
    event: str = "connect"
    trigger_name: str = "beforeConnect"
    log: Any = CLOUD_LOG

    @property
    def master(self) -> bool:
        """Whether the client connected with the master key (what validators ask)."""
        return self.use_master_key

    @property
    def params(self) -> dict:
        return {}


@dataclass
class SubscribeTriggerRequest:
    """A before_subscribe trigger's `req` (Parse's beforeSubscribe request): raise to refuse;
    change `req.query` and the subscription is made on what it leaves."""

    query: SubscriptionQuery
    request_id: Any
    session_token: str | None
    installation_id: str | None
    use_master_key: bool
    user_id: str | None
    ip: str | None
    user: Any = None
    trigger_name: str = "beforeSubscribe"
    log: Any = CLOUD_LOG

    @property
    def master(self) -> bool:
        return self.use_master_key

    @property
    def class_name(self) -> str:
        return self.query.class_name

    @property
    def params(self) -> dict:
        return {}


@dataclass
class LiveEventTriggerRequest:
    """An after_live_query_event trigger's `req`, once per subscriber (Parse's afterEvent
    request): set `send_event = False` to withhold the event from this subscriber, change
    `object`/`original` (or `event`) to change what it gets; raise to send it an error instead."""

    event: str  # create, enter, update, leave, delete
    object: EventObject
    original: EventObject | None
    request_id: Any
    session_token: str | None
    installation_id: str | None
    use_master_key: bool
    user_id: str | None
    send_event: bool = True
    user: Any = None
    trigger_name: str = "afterEvent"
    log: Any = CLOUD_LOG

    @property
    def master(self) -> bool:
        return self.use_master_key

    @property
    def params(self) -> dict:
        """What Parse's validators read for an event: the object's fields."""
        return self.object.to_json() if self.object is not None else {}


def _is_typed(value: dict) -> bool:
    """A Parse-encoded value (a Pointer, a Date, ...) rather than a set of constraints."""
    return "__type" in value
