"""A TCP proxy in front of a real PostgreSQL that can fail the way networks and servers do.

Between Parsnip and the database it relays bytes untouched, and on demand:
- `refuse()`: new connections are closed at once (a database that is down);
- `freeze()`: nothing is relayed any more, connections stay open (a silent network);
- `cut_all()`: every open connection is closed (a restart, as the client sees it);
- `on_next_commit("after" | "before", then_refuse)`: the next COMMIT a client sends is relayed
  and the connection then cut before the answer comes back (the commit happens, the client
  cannot know), or the connection is cut without relaying it (the transaction rolls back);
  with `then_refuse`, at that very moment every other connection is cut and new ones refused.
"""

from __future__ import annotations

import trio

_COMMIT = b"Q\x00\x00\x00\x0cCOMMIT;\x00"  # asyncpg's COMMIT: a simple query message
_CHUNK = 65536


class FaultProxy:
    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self.target = (host, target_port)
        self.port = 0
        self.refusing = False
        self._thawed = trio.Event()
        self._thawed.set()
        self._commit_fault: tuple[str, bool] | None = None
        self._pairs: set[tuple[trio.SocketStream, trio.SocketStream]] = set()
        self.commits_cut = 0

    def dsn(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            task_status.started()
            await trio.serve_listeners(self._handle, listeners, handler_nursery=nursery)

    # -- faults ------------------------------------------------------------------------------
    def refuse(self) -> None:
        self.refusing = True
        self.cut_all()

    def freeze(self) -> None:
        self._thawed = trio.Event()

    def heal(self) -> None:
        self.refusing = False
        self._thawed.set()

    def cut_all(self) -> None:
        for client, server in list(self._pairs):
            _close(client)
            _close(server)

    def on_next_commit(self, how: str, then_refuse: bool = False) -> None:
        assert how in ("after", "before")
        self._commit_fault = (how, then_refuse)

    # -- relaying ------------------------------------------------------------------------------
    async def _handle(self, client: trio.SocketStream) -> None:
        if self.refusing:
            _close(client)
            return
        try:
            server = await trio.open_tcp_stream(*self.target)
        except OSError:
            _close(client)
            return
        pair = (client, server)
        self._pairs.add(pair)
        muted = [False]  # set once a COMMIT's answer must not reach the client
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._pump, client, server, True, muted, nursery.cancel_scope)
                nursery.start_soon(self._pump, server, client, False, muted, nursery.cancel_scope)
        finally:
            self._pairs.discard(pair)
            _close(client)
            _close(server)

    async def _pump(self, src: trio.SocketStream, dst: trio.SocketStream, upstream: bool,
                    muted: list[bool], scope: trio.CancelScope) -> None:
        try:
            while True:
                data = await src.receive_some(_CHUNK)
                if not data:
                    break
                await self._thawed.wait()
                if upstream and self._commit_fault and _COMMIT in data:
                    (how, then_refuse), self._commit_fault = self._commit_fault, None
                    self.commits_cut += 1
                    muted[0] = True
                    if then_refuse:
                        self.refusing = True
                        for pair in list(self._pairs):
                            if src not in pair:
                                _close(pair[0])
                                _close(pair[1])
                    if how == "after":
                        await dst.send_all(data)
                        await trio.sleep(0.3)  # the server commits; its answer is never relayed
                    break
                if muted[0]:
                    break
                await dst.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass
        scope.cancel()


def _close(stream: trio.SocketStream) -> None:
    try:
        stream.socket.close()
    except OSError:
        pass
