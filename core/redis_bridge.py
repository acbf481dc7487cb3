"""Redis between nodes, for latency: each node publishes its own commits, and feeds the bus
with everyone else's as soon as Redis brings them.

Redis is never trusted for completeness. The bus delivers strictly by position and holds back
anything after a gap; the log follower (`core/follower.py`) reads the log after every commit's
NOTIFY, every second, and promptly whenever the bus waits on a gap, so a lost Redis message,
Redis down or restarting, costs latency, never an event. Messages are msgpack: one per commit
batch, each event with its position and its whole payload (object states included), so a node
that receives it needs no read.

All Redis work runs on the gateway's asyncio loop (redis-py is asyncio-only), as one task that
the runtime's trio nursery owns through `Gateway.call`: cancelling it stops Redis cleanly.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Any, Sequence

import msgpack

from parsnip.core.events import Context, Event

logger = logging.getLogger("parsnip.redis")

_QUEUE = 10_000  # commit batches waiting for Redis; beyond, they are dropped (the log has them)
_BACKOFF = (0.1, 0.2, 0.5, 1.0, 2.0)


def encode(events: Sequence[Event]) -> bytes:
    return msgpack.packb([
        [e.position, e.kind, e.class_name, e.object_id, e.version, e.at.timestamp(),
         [e.context.user_id, e.context.session_id, e.context.installation_id, e.context.master,
          e.context.request_id, e.context.client_ip], e.payload]
        for e in events
    ], use_bin_type=True)


def decode(data: bytes) -> list[Event]:
    out = []
    for position, kind, cls, oid, version, at, ctx, payload in msgpack.unpackb(data, raw=False, strict_map_key=False):
        out.append(Event(kind, cls, oid, version, datetime.fromtimestamp(at, timezone.utc), Context(*ctx), payload,
                         position))
    return out


class RedisBridge:
    def __init__(self, url: str, channel: str, node_id: str, deliver) -> None:
        """`deliver(events)` is called on the gateway's loop with other nodes' events."""
        self.url = url
        self.channel = channel
        self.node_id = node_id.encode()
        self._deliver = deliver
        self._queue: asyncio.Queue[bytes] | None = None
        self.received = 0  # batches from other nodes (for tests and metrics)
        self.published = 0
        self.drop_incoming = 0  # tests: drop this many incoming batches, as a lost message would be

    def offer(self, events: Sequence[Event]) -> None:
        """On the gateway's loop, right after a commit: queue our events for Redis."""
        if self._queue is None or not events:
            return
        try:
            self._queue.put_nowait(self.node_id + b"\n" + encode(events))
        except asyncio.QueueFull:
            pass  # Redis is behind or down: other nodes read these from the log

    async def run(self) -> None:
        """Publish and subscribe until cancelled, reconnecting with backoff."""
        import redis.asyncio as aioredis

        self._queue = asyncio.Queue(_QUEUE)
        attempt = 0
        while True:
            client = aioredis.Redis.from_url(self.url)
            try:
                pubsub = client.pubsub()
                await pubsub.subscribe(self.channel)
                if attempt:
                    logger.info("Redis at %s is back", self.url)
                attempt = 0
                tasks = [asyncio.ensure_future(self._publish(client)), asyncio.ensure_future(self._listen(pubsub))]
                try:
                    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
                finally:
                    for t in tasks:
                        t.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                for t in done:
                    t.result()  # raises what ended it (a lost connection)
                raise ConnectionError("Redis subscription ended")
            except asyncio.CancelledError:
                raise
            except Exception as e:  # Redis unreachable or gone: the log carries everything meanwhile
                if attempt == 0:
                    logger.warning("Redis at %s unavailable (%s); following the log alone until it is back", self.url, e)
                await asyncio.sleep(_BACKOFF[min(attempt, len(_BACKOFF) - 1)])
                attempt += 1
            finally:
                try:
                    await client.aclose()
                except Exception:
                    pass

    async def _publish(self, client) -> None:
        assert self._queue is not None
        while True:
            message = await self._queue.get()
            await client.publish(self.channel, message)
            self.published += 1

    async def _listen(self, pubsub) -> None:
        async for message in pubsub.listen():
            if message.get("type") != "message":
                continue
            sender, _, data = message["data"].partition(b"\n")
            if sender == self.node_id:
                continue
            if self.drop_incoming:
                self.drop_incoming -= 1
                continue
            self.received += 1
            try:
                self._deliver(decode(data))
            except Exception:
                logger.exception("a malformed message on %s was ignored", self.channel)


def redis_url(config: Any) -> str | None:
    """Parse's options: liveQuery.redisURL or liveQueryServerOptions.redisURL."""
    for options in (config.liveQuery, config.liveQueryServerOptions):
        if isinstance(options, dict) and options.get("redisURL"):
            return str(options["redisURL"])
    return None
