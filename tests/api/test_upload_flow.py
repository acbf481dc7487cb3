"""An upload's back-pressure (api/routes/files.py: UploadFlow): a client faster than the
adapter never has more than about a window of its body waiting in the server."""

from __future__ import annotations

import trio

from parsnip.api.routes.files import UploadFlow

CHUNK = 64 * 1024


async def test_a_fast_sender_waits_for_a_slow_reader():
    flow = UploadFlow()
    sent = 0
    most_waiting = 0

    async def receive():  # the client: as fast as the server takes its chunks
        nonlocal sent
        sent += 1
        return {"type": "http.request", "body": b"x" * CHUNK, "more_body": sent < 200}

    async def quart(buffered: trio.MemorySendChannel):  # Quart's reader: takes whatever comes, no bound
        while True:
            message = await flow.receive(receive)
            await buffered.send(message["body"])
            if not message["more_body"]:
                await buffered.aclose()
                return

    async def adapter(buffered: trio.MemoryReceiveChannel):  # the slow consumer
        nonlocal most_waiting
        async for chunk in buffered:
            most_waiting = max(most_waiting, flow.received - flow.consumed)
            await trio.sleep(0.001)
            flow.took(len(chunk))

    send, recv = trio.open_memory_channel(1_000_000)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(quart, send)
        nursery.start_soon(adapter, recv)
    assert flow.consumed == 200 * CHUNK
    assert most_waiting <= 1024 * 1024 + CHUNK  # a window (1 MiB) and one chunk, of 12.5 MiB sent
