"""GET /metrics (and GET <mountPath>/metrics): the Prometheus text format, for scrapers.

Prometheus sends no Parse keys, so the answer does not depend on the application id: it is
given to addresses in `metricsIps` (loopback by default: a scraper on the same host), and to a
request with the master key, as X-Parse-Master-Key or `Authorization: Bearer <masterKey>`
(Prometheus' own `authorization` setting), from `masterKeyIps`. Anyone else gets 403.

Gauges are read from the running parts when the scrape comes (`refresh`): the pool, the
database (a one-row read of the log head, which is also the up/down probe unless the runtime
keeps its own `database_up`), the bus and LiveQuery. With --cluster the workers share one
directory of values (prometheus_client's multiprocess mode) and any worker's answer is the node's.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
from typing import Any, Callable

import trio
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from parsnip.api.request import allowed_ip
from parsnip.core import metrics
from parsnip.core.config import Config

logger = logging.getLogger("parsnip.metrics")

PROBE_SECONDS = 1.0  # a scrape never waits longer than this for the database
_LIVE_FILE = re.compile(r"^gauge_live\w+_(\d+)\.db$")


def multiprocess() -> bool:
    """Whether this process writes its metrics for a node of several workers (--cluster)."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


async def serve(config: Config, runtime: Callable[[], Any], livequery: Callable[[], Any], scope: dict,
                send: Callable) -> None:
    """Answer one scrape (an ASGI http scope), or refuse it."""
    if not _allowed(config, scope):
        await _answer(send, 403, b'{"error":"unauthorized"}', "application/json; charset=utf-8")
        return
    rt = runtime()
    if rt is not None:
        await refresh(rt, livequery())
    body = await trio.to_thread.run_sync(render) if multiprocess() else render()
    await _answer(send, 200, b"" if scope["method"] == "HEAD" else body, CONTENT_TYPE_LATEST)


def render() -> bytes:
    """The text format: this process's registry, or in multiprocess mode every live worker's."""
    if not multiprocess():
        return generate_latest(REGISTRY)
    from prometheus_client import multiprocess as mp

    _forget_gone_workers(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    registry = CollectorRegistry()
    mp.MultiProcessCollector(registry)
    return generate_latest(registry)


def _forget_gone_workers(directory: str) -> None:
    """Drop the live gauges of processes that no longer serve: a worker that died, and the
    master, which made its (zero) values when it imported the metrics before forking."""
    from prometheus_client import multiprocess as mp

    master = os.getppid()
    for name in os.listdir(directory):
        m = _LIVE_FILE.match(name)
        if m is None:
            continue
        pid = int(m.group(1))
        if pid == master or not _alive(pid):
            mp.mark_process_dead(pid, directory)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def refresh(rt: Any, lq: Any) -> None:
    """Set every gauge from the runtime's parts as they are now."""
    head = await _probe_head(rt)
    up = getattr(rt, "database_up", None)  # the runtime's own database monitor, when it has one
    metrics.DATABASE_UP.set(1 if (head is not None if up is None else up) else 0)
    delivered = rt.bus.last_position
    metrics.DELIVERED.set(delivered)
    if head is not None:
        metrics.LOG_HEAD.set(head)
        metrics.FOLLOWER_LAG.set(max(0, head - delivered))
    pool = getattr(rt.gateway, "pool", None)
    if pool is not None:
        size = pool.get_size()
        metrics.POOL_SIZE.set(size)
        metrics.POOL_IN_USE.set(size - pool.get_idle_size())
        metrics.POOL_MAX.set(pool.get_max_size())
    else:
        metrics.POOL_SIZE.set(0)
        metrics.POOL_IN_USE.set(0)
    if lq is not None:
        connections = list(lq.connections)
        depths = [c.queued() for c in connections] or [0]
        metrics.LQ_CONNECTIONS.set(len(connections))
        metrics.LQ_SUBSCRIPTIONS.set(sum(len(c.subscriptions) for c in connections))
        metrics.LQ_QUEUED.set(sum(depths))
        metrics.LQ_QUEUE_MAX.set(max(depths))
        metrics.LQ_DISPATCH_LAG.set(max(0, delivered - lq.position))


async def _probe_head(rt: Any) -> int | None:
    """The log head from the database, or None when it does not answer within PROBE_SECONDS."""
    with trio.move_on_after(PROBE_SECONDS):
        try:
            return await rt.gateway.fetchval("SELECT position FROM parsnip_log_head")
        except Exception:  # noqa: BLE001 - any failure means the database is not usable now
            return None
    return None


def _allowed(config: Config, scope: dict) -> bool:
    client = (scope.get("client") or (None,))[0]
    if allowed_ip(client, config.metricsIps):
        return True
    given = None
    for name, value in scope.get("headers", ()):
        if name == b"x-parse-master-key":
            given = value
        elif name == b"authorization" and value[:7].lower() == b"bearer ":
            given = value[7:].strip()
    if given is None or not allowed_ip(client, config.masterKeyIps):
        return False
    return any(key and hmac.compare_digest(given, key.encode())
               for key in (config.masterKey, config.readOnlyMasterKey))


async def _answer(send: Callable, status: int, body: bytes, content_type: str) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
