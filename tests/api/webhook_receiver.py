"""A real HTTP server standing in for a user's webhook endpoint: it records every request
(path, headers, JSON body) and answers what the test set for its path."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Receiver:
    """`answers[path]` is (status, body bytes); by default 200 `{"success": null}`."""

    url: str
    answers: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)

    def answer(self, path: str, body: Any, status: int = 200) -> str:
        """Answer `body` (JSON, or bytes as they are) on `path`; the webhook's URL."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.answers[path] = (status, raw)
        return self.url + path

    def calls(self, path: str, count: int = 1, timeout: float = 5.0) -> list[Received]:
        """The requests `path` got, once there are at least `count` (within `timeout`)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [r for r in self.received if r.path == path]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.02)


def start_receiver() -> tuple[Receiver, ThreadingHTTPServer]:
    receiver = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
            receiver.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            status, out = receiver.answers.get(self.path, (200, b'{"success": null}'))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver, server
