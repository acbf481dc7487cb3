"""A raw LiveQuery client and a small REST helper for the LiveQuery tests."""

from __future__ import annotations

import json
import os
import secrets
import struct

import httpx
import trio

def client_frame(payload: bytes, opcode: int = 0x1, fin: bool = True, mask: bytes | None = None) -> bytes:
    """A websocket frame as a client must send it: masked (a text frame by default)."""
    mask = mask or os.urandom(4)
    n = len(payload)
    head = bytes(((0x80 if fin else 0) | opcode,))
    if n < 126:
        head += bytes((0x80 | n,))
    elif n < 65536:
        head += struct.pack("!BH", 0x80 | 126, n)
    else:
        head += struct.pack("!BQ", 0x80 | 127, n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class Rest:
    def __init__(self, server) -> None:
        self.url = server.url
        self.app = server.app_id
        self.master = {"X-Parse-Master-Key": server.master_key}

    async def call(self, method: str, path: str, body=None, headers=None, status=None):
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as c:
            r = await c.request(method, path, json=body, headers={"X-Parse-Application-Id": self.app, **(headers or {})})
        if status is not None:
            assert r.status_code == status, r.text
        return r.json()

    async def create(self, cls: str, body: dict, headers=None) -> str:
        return (await self.call("POST", f"/classes/{cls}", body, headers or self.master, 201))["objectId"]

    async def signup(self) -> tuple[str, str]:
        body = await self.call("POST", "/users", {"username": "u" + secrets.token_hex(4), "password": "pw"}, {}, 201)
        return body["objectId"], body["sessionToken"]


class Client:
    """A raw LiveQuery client."""

    def __init__(self, ws) -> None:
        self.ws = ws

    async def send(self, **message) -> None:
        await self.ws.send_message(json.dumps(message))

    async def recv(self, timeout: float = 5) -> dict:
        with trio.fail_after(timeout):
            return json.loads(await self.ws.get_message())

    async def nothing(self, wait: float = 0.5) -> None:
        with trio.move_on_after(wait):
            message = await self.ws.get_message()
            raise AssertionError(f"unexpected message: {message}")

    async def subscribe(self, rid: int, cls: str, where: dict, **extra) -> dict:
        query = {"className": cls, "where": where, **extra.pop("query", {})}
        await self.send(op="subscribe", requestId=rid, query=query, **extra)
        return await self.recv()


def ws_url(server) -> str:
    return server.url.replace("http://", "ws://")


async def connected(nursery_ws, server, **extra) -> Client:
    client = Client(nursery_ws)
    await client.send(op="connect", applicationId=server.app_id, **extra)
    assert (await client.recv())["op"] == "connected"
    return client


class RawSocket:
    """A websocket client on a plain blocking socket, for what a well-behaved client library
    never does: stop reading, flood pings, reset the connection."""

    def __init__(self, server, rcvbuf: int | None = None) -> None:
        import base64
        import os
        import socket

        host, port = server.url.split("//")[1].split("/")[0].split(":")
        self.sock = socket.socket()
        if rcvbuf is not None:  # before connect, so the window the server sees is small
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect((host, int(port)))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /parse HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def send_text(self, text: str) -> None:
        self.sock.sendall(client_frame(text.encode()))

    def reset(self) -> None:
        """An abortive close: the kernel sends RST and drops whatever is unsent or unread."""
        import socket
        import struct

        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()
