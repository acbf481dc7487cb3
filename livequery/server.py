"""The LiveQuery server of one node: its parts put together, and what the rest of Parsnip
uses of it (`api/server.py` runs it and hands it websockets; `api/routes/metrics.py` reads
its connections and position).

The parts, one job each: `session.py` serves a client's websocket and routes its messages;
`subscriptions.py` admits and ends subscriptions; `resume.py` replays what a resuming
subscription missed; `dispatcher.py` turns bus events into subscribers' messages (decided by
`fanout.py`), and `access_refresh.py` applies security changes to live subscriptions;
`hooks.py` is where user code runs. Security is `core/security/guard.py`, as for REST reads.
"""

from __future__ import annotations

import trio

from parsnip.livequery.connection import Connection
from parsnip.livequery.dispatcher import Dispatcher
from parsnip.livequery.hooks import NO_HOOKS, LiveQueryHooks
from parsnip.livequery.principal import Principals
from parsnip.livequery.registry import Registry
from parsnip.livequery.resume import Replayer
from parsnip.livequery.session import Sessions
from parsnip.livequery.settings import Runtime, Settings
from parsnip.livequery.subscriptions import Subscriptions
from parsnip.livequery.websocket import Transport

__all__ = ["LiveQueryServer", "Runtime"]


class LiveQueryServer:
    def __init__(self, runtime: Runtime, hooks: LiveQueryHooks = NO_HOOKS) -> None:
        settings = Settings(runtime.config, getattr(runtime, "files", None))
        self.subscriptions = Subscriptions(runtime, settings, hooks, lambda: self._dispatcher.position)
        self._dispatcher = Dispatcher(runtime, settings, self.subscriptions, hooks)
        replayer = Replayer(runtime, self.subscriptions, settings.files_base, hooks)
        self._sessions = Sessions(settings, self.subscriptions, replayer, hooks)

    @property
    def registry(self) -> Registry:
        return self.subscriptions.registry

    @property
    def principals(self) -> Principals:
        return self.subscriptions.principals

    @property
    def connections(self) -> set[Connection]:
        return self._sessions.connections

    @property
    def position(self) -> int:
        """Every event up to this log position has been dispatched."""
        return self._dispatcher.position

    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Dispatch bus events until cancelled (the owner's nursery holds this task)."""
        await self._dispatcher.run(task_status=task_status)

    async def serve(self, transport: Transport, client_ip: str | None = None) -> None:
        """Serve one websocket until it closes (nothing the client does escapes this call)."""
        await self._sessions.serve(transport, client_ip)

    def stop(self) -> None:
        """Close every connection (server shutdown): clients reconnect elsewhere or later."""
        self._sessions.stop()
