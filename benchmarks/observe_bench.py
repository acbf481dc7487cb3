#!/usr/bin/env python3
"""What the observability middleware (api/observe.py) adds to each HTTP request, in microseconds.

A trivial ASGI app is called directly, bare and wrapped by `observe.instrument` (request id,
the route label the app notes, the latency histogram, the send wrapper), in alternating rounds
so a busy machine disturbs both alike. Compare with a REST request's whole cost (about 2 ms of
CPU on the development machine: `rest_bench.py` and the server's CPU time).

    .venv/bin/python benchmarks/observe_bench.py [--requests 50000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from parsnip.api import observe  # noqa: E402
from parsnip.api.routes import objects  # noqa: E402
from parsnip.core.config import Config  # noqa: E402


class _App:
    """Answers 200 `{}`; noting its route as api/app.py does when `note` is set."""

    def __init__(self, note: bool) -> None:
        self.note = note

    async def asgi_app(self, scope, receive, send) -> None:
        if self.note:
            observe.note_route("GET", "/classes/GameScore/abc123", objects.get)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


async def _run(requests: int, rounds: int) -> dict[str, list[float]]:
    scope = {"type": "http", "method": "GET", "path": "/parse/classes/GameScore/abc123", "root_path": "",
             "client": ("127.0.0.1", 40000),
             "headers": [(b"host", b"127.0.0.1"), (b"x-parse-application-id", b"APP"), (b"accept", b"*/*")]}

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: dict) -> None:
        pass

    bare, wrapped = _App(False), _App(True)
    observe.instrument(wrapped, Config(), lambda: None)
    timings: dict[str, list[float]] = {"bare": [], "instrumented": []}
    for _ in range(rounds):
        for name, app in (("bare", bare), ("instrumented", wrapped)):
            started = time.perf_counter()
            for _ in range(requests):
                await app.asgi_app(scope, receive, send)
            timings[name].append((time.perf_counter() - started) / requests * 1e6)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    timings = trio.run(_run, args.requests, args.rounds)
    bare, wrapped = statistics.median(timings["bare"]), statistics.median(timings["instrumented"])
    print(f"bare app:      {bare:6.2f} us per request (median of {args.rounds} rounds)")
    print(f"instrumented:  {wrapped:6.2f} us per request")
    print(f"middleware:    {wrapped - bare:6.2f} us per request")


if __name__ == "__main__":
    main()
