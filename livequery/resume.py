"""Resume: a subscribe carrying a log position first gets, in order, every matching event it
missed after that position, read from the log, then the live events held meanwhile; only then
does it take live events directly. A replay waits for room in its client's queue rather than
cutting its own client off; one that fails ends its subscription, with an error to its client.
"""

from __future__ import annotations

from parsnip.core import log as event_log
from parsnip.core.events import CREATE, DELETE, UPDATE, Event
from parsnip.livequery import protocol
from parsnip.livequery.connection import Subscription
from parsnip.livequery.fanout import Bodies, replayed
from parsnip.livequery.hooks import LiveQueryHooks, after_event_message
from parsnip.livequery.settings import Runtime
from parsnip.livequery.subscriptions import Subscriptions

_OBJECT_KINDS = (CREATE, UPDATE, DELETE)
_BATCH = 1000


class Replayer:
    def __init__(self, runtime: Runtime, subs: Subscriptions, files_base: str, hooks: LiveQueryHooks) -> None:
        self._rt = runtime
        self._subs = subs
        self._files_base = files_base
        self._after_event = hooks.active("after_event")
        self._after_event_on = hooks.after_event_on

    async def replay(self, sub: Subscription, after: int, upto: int) -> None:
        """Send what the subscription missed in (after, upto], then what arrived meanwhile."""
        try:
            await self._replay(sub, after, upto)
        except Exception as e:
            self._subs.fail(sub, e)

    async def _replay(self, sub: Subscription, after: int, upto: int) -> None:
        position = after
        while position < upto and sub.active:
            events = await self._rt.read(event_log.read_class_range, sub.query.class_name, position, upto, _BATCH)
            if not events:
                break
            for ev in events:
                position = ev.position
                if ev.kind in _OBJECT_KINDS:
                    await self._send(sub, ev)
        while sub.held and sub.active:
            await self._send(sub, sub.held.pop(0))
        sub.held = None

    async def _send(self, sub: Subscription, ev: Event) -> None:
        seen = replayed(sub, ev, self._files_base)
        if seen is None:
            return
        bodies = Bodies(ev.class_name, ev.position, self._files_base)
        conn = sub.connection
        if self._after_event is not None and self._after_event_on(ev.class_name):
            await conn.push_when_room(after_event_message(self._after_event, sub, ev, seen, bodies))  # type: ignore[arg-type]
            return
        kind, obj, original, hidden, hidden_original = seen
        body = bodies.body(kind, obj, original, sub.keys, hidden, hidden_original)
        await conn.push_when_room(protocol.event(conn.prefixes[kind], sub.request_id_json, body))
