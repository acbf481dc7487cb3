"""Graceful shutdown: SIGTERM under write load loses no write the server acknowledged."""

from __future__ import annotations

import signal
import threading
import time

import asyncpg
import httpx
import trio

from tests.conftest import start_server


def _writer(url: str, app_id: str, acked: list[str], stop: threading.Event) -> None:
    with httpx.Client(base_url=url, headers={"X-Parse-Application-Id": app_id}, timeout=10) as client:
        while not stop.is_set():
            try:
                r = client.post("/classes/Drain", json={"t": time.time()})
            except httpx.HTTPError:
                return  # the server has stopped listening
            if r.status_code == 201:
                acked.append(r.json()["objectId"])


async def test_sigterm_under_load_keeps_every_acknowledged_write(fresh_dsn):
    server = start_server(fresh_dsn)
    acked: list[str] = []
    stop = threading.Event()
    threads = [threading.Thread(target=_writer, args=(server.url, server.app_id, acked, stop)) for _ in range(8)]
    for t in threads:
        t.start()
    await trio.sleep(1.0)
    server.process.send_signal(signal.SIGTERM)
    code = await trio.to_thread.run_sync(lambda: server.process.wait(timeout=30))
    stop.set()
    for t in threads:
        await trio.to_thread.run_sync(t.join)
    assert code == 0
    assert len(acked) > 20

    import asyncio

    async def stored() -> tuple[set, set]:
        c = await asyncpg.connect(fresh_dsn)
        try:
            rows = {r[0] for r in await c.fetch('SELECT object_id FROM "p_Drain"')}
            logged = {r[0] for r in await c.fetch("SELECT object_id FROM parsnip_events WHERE kind = 'create'")}
            return rows, logged
        finally:
            await c.close()

    rows, logged = await trio.to_thread.run_sync(lambda: asyncio.run(stored()))
    assert set(acked) <= rows
    assert rows == logged
