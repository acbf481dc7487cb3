"""What LiveQuery triggers receive (`req`): Parse's beforeConnect, beforeSubscribe and
afterLiveQueryEvent requests in snake_case. What user code may change there: a subscription's
query (`SubscriptionQuery`, a `ParseQuery`) and, per subscriber, an event's objects
(`ParseObject`s). `user` is the client's `_User` (None without a session), `user_id` its id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from parsnip.core.cloud.objects import ParseObject
from parsnip.core.cloud.query import ParseQuery
from parsnip.core.cloud.requests import CLOUD_LOG


class SubscriptionQuery(ParseQuery):
    """The query of a subscription, as a before_subscribe trigger may change it (Parse hands
    its trigger a `Parse.Query`): every `ParseQuery` constraint, `select` for the fields sent,
    and `watch` for the fields whose change makes an update; `where` is its Parse JSON."""

    def __init__(self, class_name: str, where: dict, keys: list[str] | None = None,
                 watched: list[str] | None = None) -> None:
        super().__init__(class_name)
        self._where = where
        self._keys = keys
        self.watched = watched

    @property
    def where(self) -> dict:
        return self._where

    @property
    def keys(self) -> list[str] | None:
        return self._keys

    def watch(self, *keys: str) -> "SubscriptionQuery":
        """An update is sent only when one of these fields changes."""
        self.watched = [*(self.watched or []), *keys]
        return self

    def to_json(self) -> dict[str, Any]:
        """The query as a client's subscribe carries it (`keys` as Parse.Query writes them)."""
        out = super().to_json()
        if self.watched is not None:
            out["watch"] = self.watched
        return out


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
    user: ParseObject | None = None
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
    user: ParseObject | None = None
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
    object: ParseObject
    original: ParseObject | None
    request_id: Any
    session_token: str | None
    installation_id: str | None
    use_master_key: bool
    user_id: str | None
    send_event: bool = True
    user: ParseObject | None = None
    trigger_name: str = "afterEvent"
    log: Any = CLOUD_LOG

    @property
    def master(self) -> bool:
        return self.use_master_key

    @property
    def params(self) -> dict:
        """What Parse's validators read for an event: the object's fields."""
        return self.object.to_json() if isinstance(self.object, ParseObject) else {}

