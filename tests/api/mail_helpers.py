"""A local SMTP server (aiosmtpd) that keeps every message it receives, for the email tests."""

from __future__ import annotations

import email
import json
import re
import socket
import time
from contextlib import contextmanager
from typing import Iterator

from aiosmtpd.controller import Controller


class Inbox:
    """The messages the SMTP server received, as parsed emails."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's handler hook
        self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content))
        return "250 OK"

    def wait(self, count: int, timeout: float = 10) -> list[email.message.Message]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.messages) >= count, f"expected {count} mails, got {len(self.messages)}"
        return self.messages

    def link(self, index: int = -1) -> str:
        """The http link in a received mail."""
        body = self.wait(index + 1 if index >= 0 else 1)[index].get_payload(decode=True).decode()
        return re.search(r"https?://\S+", body).group(0)


@contextmanager
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def adapter_flag(port: int) -> list[str]:
    return ["--emailAdapter", json.dumps({"module": "smtp", "options": {
        "host": "127.0.0.1", "port": port, "fromAddress": "parsnip@example.com"}})]
