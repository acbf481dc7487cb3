"""A raw LiveQuery client and a small REST helper for the LiveQuery tests."""

from __future__ import annotations

import json
import secrets

import httpx
import trio

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
