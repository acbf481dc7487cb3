"""The dispatcher: every committed event on the bus, in log order, turned into the messages
each subscriber may see, handed to the subscribers' queues without waiting for any client.

Events come from the bus (this node's writes and, through the follower or Redis, every other
node's); `original` and `object` are the states the event itself carries
(`core/events.py: object_states`), never a read that could race with a later write. The
registry names the few queries an event can concern; each is matched once, and subscribers
that would get the same body share one decision and one serialization (`livequery/fanout.py`).
Whatever matching or deciding one subscription raises ends that subscription with an error to
its client; the dispatcher goes on with every other one.
"""

from __future__ import annotations

import logging
from typing import Any, Iterator

import trio

from parsnip.core import log as event_log
from parsnip.core.events import CREATE, DELETE, ERASE, SCHEMA, UPDATE, Event, object_states
from parsnip.core.query.match_regex import time_budget
from parsnip.core.security import guard
from parsnip.livequery.access_refresh import AccessRefresh
from parsnip.livequery.fanout import Bodies, matched, message_body, visible
from parsnip.livequery.hooks import LiveQueryHooks, after_event_message
from parsnip.livequery.settings import Runtime, Settings
from parsnip.livequery.subscriptions import Subscriptions, now

logger = logging.getLogger("parsnip.livequery")

OBJECT_KINDS = (CREATE, UPDATE, DELETE)
_UNDECIDED = object()
_BUS_BUFFER = 100_000
REPLAY_BATCH = 1000
_DRAIN = 256  # events dispatched back to back before the senders get a turn
_REGEX_BUDGET = 0.1  # seconds of backtracking regular expressions per dispatcher turn, in all


class Dispatcher:
    def __init__(self, runtime: Runtime, settings: Settings, subs: Subscriptions, hooks: LiveQueryHooks) -> None:
        self._rt = runtime
        self._settings = settings
        self._subs = subs
        self._registry = subs.registry
        self._access = AccessRefresh(runtime, subs)
        self._after_event = hooks.active("after_event")
        self._after_event_on = hooks.after_event_on
        self.position = runtime.bus.last_position  # every event up to here has been dispatched

    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Dispatch bus events until cancelled (the owner's nursery holds this task)."""
        channel = self._rt.bus.subscribe(_BUS_BUFFER)
        self.position = self._rt.bus.last_position
        task_status.started()
        closed = (trio.EndOfChannel, trio.ClosedResourceError, trio.BrokenResourceError)
        while True:
            try:
                batch = [await channel.receive()]
            except closed:
                channel = await self._catch_up()
                continue
            # Everything already waiting (a group commit's events) is dispatched before any
            # client's sender runs, so each connection gets one write for the lot.
            cut_off = False
            while len(batch) < _DRAIN:
                try:
                    batch.append(channel.receive_nowait())
                except trio.WouldBlock:
                    break
                except closed:
                    cut_off = True
                    break
            with time_budget(_REGEX_BUDGET):
                for ev in batch:
                    if ev.position is not None and ev.position <= self.position:
                        continue
                    await self._dispatch(ev)
            if cut_off:
                channel = await self._catch_up()

    async def _catch_up(self) -> Any:
        """The bus cut this consumer off (it fell behind): read what it missed from the log,
        retrying while the database cannot answer (the position keeps what was dispatched)."""
        logger.warning("LiveQuery fell behind the bus at position %s; catching up from the log", self.position)
        channel = self._rt.bus.subscribe(_BUS_BUFFER)
        upto = self._rt.bus.last_position
        delay = 0.1
        while self.position < upto:
            try:
                events = await self._rt.read(event_log.read_after, self.position, REPLAY_BATCH)
            except Exception as e:
                logger.warning("LiveQuery could not read the log after position %s (%s); retrying in %.1f s",
                               self.position, e, delay)
                await trio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.1
            with time_budget(_REGEX_BUDGET):
                for ev in events:
                    if ev.position > upto:
                        break
                    await self._dispatch(ev)
            if not events:
                break
        return channel

    async def _dispatch(self, ev: Event) -> None:
        cls = ev.class_name
        try:
            if ev.kind == SCHEMA:
                self._access.schema_changed(cls)
            elif cls == "_Role":
                await self._access.roles_changed()
            elif cls == guard.SESSION_CLASS or (cls == guard.USER_CLASS and ev.kind in (DELETE, ERASE)):
                self._access.sessions_changed(ev)
            if ev.kind in OBJECT_KINDS and self._registry.has_class(cls) and self._settings.publishes(cls):
                self._fan_out(ev)
        except Exception:  # never reached by one subscription's failure (see _fan_out)
            logger.error("LiveQuery could not dispatch the event at position %s (%s %s)",
                         ev.position, ev.kind, cls, exc_info=True)
        self.position = ev.position

    def _fan_out(self, ev: Event) -> None:
        before, after = object_states(ev)
        bodies = Bodies(ev.class_name, ev.position, self._settings.files_base)
        at = now()
        max_queue = self._settings.max_queue
        fail = self._subs.fail
        if self._after_event is not None and self._after_event_on(ev.class_name):
            self._fan_out_hooked(ev, before, after, bodies, at)
            return
        for query, mb, ma in self._matching(ev, before, after):
            # Subscribers with one principal, operation, keys and watch get the very same
            # message body: decide once for all of them (a broadcast to thousands of anonymous
            # subscribers is one decision and one serialization).
            decided: dict[tuple, tuple[str, str] | None] = {}
            for sub in list(query.subscriptions):
                if sub.held is not None:
                    sub.held.append(ev)
                    if len(sub.held) > max_queue:
                        sub.connection.cut_off()
                    continue
                principal = sub.principal
                if principal.expired(at):
                    self._subs.end_principal(principal)
                    continue
                key = (principal, sub.operation, sub.keys, sub.watch)
                try:
                    result = decided.get(key, _UNDECIDED)
                    if result is _UNDECIDED:
                        result = decided[key] = message_body(sub, ev, before, after, mb, ma, bodies)
                except Exception as e:
                    fail(sub, e)
                    continue
                if result is not None:
                    conn = sub.connection
                    conn.push(conn.prefixes[result[0]] + sub.request_id_json + result[1])

    def _matching(self, ev: Event, before, after) -> Iterator[tuple[Any, bool, bool]]:
        """The candidate queries the object matched before or after the change, with which; a
        query whose match raises fails its subscriptions alone."""
        for query in self._registry.candidates(ev.class_name, (before, after)):
            try:
                mb = before is not None and matched(query.node, before)
                ma = after is not None and matched(query.node, after)
            except Exception as e:
                for sub in list(query.subscriptions):
                    self._subs.fail(sub, e)
                continue
            if mb or ma:
                yield query, mb, ma

    def _fan_out_hooked(self, ev: Event, before, after, bodies: Bodies, at) -> None:
        """The same with an after-event hook: each subscriber's message is made on its own
        connection's task once the hook has seen that subscriber's copy."""
        hook = self._after_event
        for query, mb, ma in self._matching(ev, before, after):
            for sub in list(query.subscriptions):
                if sub.held is not None:
                    sub.held.append(ev)
                    if len(sub.held) > self._settings.max_queue:
                        sub.connection.cut_off()
                    continue
                if sub.principal.expired(at):
                    self._subs.end_principal(sub.principal)
                    continue
                try:
                    seen = visible(sub, ev, before, after, mb, ma)
                except Exception as e:
                    self._subs.fail(sub, e)
                    continue
                if seen is not None:
                    sub.connection.push_later(after_event_message(hook, sub, ev, seen, bodies))
