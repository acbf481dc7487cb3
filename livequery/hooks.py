"""Where user code runs for LiveQuery clients: before a connect, before a subscribe and after
each event a subscriber is to get (Parse's `Parse.Cloud.beforeConnect`, `beforeSubscribe` and
`afterLiveQueryEvent`). Cloud Code's triggers come here through `livequery/cloud_hooks.py`.

Subclass `LiveQueryHooks` and override what you need; the server calls only the methods a
subclass overrides (`active`), so with none there is no added work on any path. A hook refuses
by raising: a `ParseError` reaches the client with its code and message, anything else as
Parse's 141 (SCRIPT_FAILED) with the exception's text, and is logged. After an event, the
subscriber's message is built from `LiveEvent.object`/`original` as the hook left them, or not
sent when the hook sets `send = False`; it goes as the event type `LiveEvent.event` names then.
Only the classes `after_event_on` names pay for the hook: the others keep one body per shape.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from parsnip.core.cloud.errors import script_failed
from parsnip.core.errors import ParseError
from parsnip.core.security.auth import Auth
from parsnip.livequery import protocol

logger = logging.getLogger("parsnip.livequery")


@dataclass(slots=True)
class ConnectRequest:
    """A client's connect, its keys already checked."""

    installation_id: str | None
    session_token: str | None
    use_master_key: bool
    auth: Auth  # who the session token stands for (nobody without one, or if it is not valid)
    client_ip: str | None
    clients: int  # other websockets open on this node
    subscriptions: int  # subscriptions on this node


@dataclass(slots=True)
class SubscribeRequest:
    """A subscribe (or update) as the client sent it; a hook may narrow `where`, `keys` or
    `watch`, and the subscription is admitted on what it leaves."""

    class_name: str
    request_id: Any
    where: dict
    keys: tuple[str, ...] | None
    watch: tuple[str, ...] | None
    session_token: str | None
    installation_id: str | None
    auth: Auth
    client_ip: str | None


@dataclass(slots=True)
class LiveEvent:
    """One event for one subscriber: `object` and `original` are that subscriber's copies."""

    event: str  # create, enter, update, leave, delete
    class_name: str
    object: dict
    original: dict | None
    request_id: Any
    auth: Auth
    installation_id: str | None
    position: int
    send: bool = True


class LiveQueryHooks:
    """No-op defaults; the server calls the ones a subclass overrides."""

    async def before_connect(self, request: ConnectRequest) -> None:
        """Raise to refuse the connect."""

    async def before_subscribe(self, request: SubscribeRequest) -> None:
        """Raise to refuse the subscription; change `request` to narrow it."""

    async def after_event(self, event: LiveEvent) -> None:
        """Change `event.object`/`original`, set `event.send = False`, or raise to send an error instead."""

    def after_event_on(self, class_name: str) -> bool:
        """Whether `after_event` wants events of `class_name`; the others keep the shared-body path."""
        return True

    def active(self, name: str) -> Callable[..., Awaitable[None]] | None:
        """The bound hook `name` when a subclass overrides it, else None (nothing to call)."""
        if getattr(type(self), name) is getattr(LiveQueryHooks, name):
            return None
        return getattr(self, name)


NO_HOOKS = LiveQueryHooks()


def refusal(error: BaseException, hook: str, client: Any) -> ParseError:
    """The Parse error a client gets when hook `hook` raised `error` (logged unless a ParseError)."""
    if not isinstance(error, ParseError):
        logger.error("LiveQuery %s hook failed for client %s", hook, client, exc_info=error)
    return script_failed(error)


def after_event_message(hook: Callable[[LiveEvent], Awaitable[None]], sub: Any, ev: Any,
                        seen: tuple, bodies: Any) -> Callable[[], Awaitable[str | None]]:
    """The subscriber's message for `ev`, made once the after-event hook has run on its copies
    (None: the hook said not to send it; a refusal becomes an error message, as Parse's)."""
    kind, obj, original, hidden, hidden_original = seen
    conn = sub.connection

    async def render() -> str | None:
        event = LiveEvent(kind, ev.class_name, dict(obj), dict(original) if original is not None else None,
                          sub.request_id, sub.principal.auth, conn.installation_id, ev.position)
        try:
            await hook(event)
            # A hook may rename the event (Parse sends it as the type it names; none if unknown).
            if not event.send or not sub.active or event.event not in conn.prefixes:
                return None
            body = bodies.fresh(event.event, event.object, event.original, sub.keys, hidden, hidden_original)
        except Exception as e:
            error = refusal(e, "after_event", conn.id)
            return protocol.error(error.code, error.message, False, sub.request_id)
        return protocol.event(conn.prefixes[event.event], sub.request_id_json, body)

    return render
