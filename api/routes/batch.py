"""POST /batch: many requests in one call; with `transaction: true`, all or nothing.

Writes of a plain batch are handed to the writer together, so they commit in one group but
each succeeds or fails alone; a transactional batch is one unit of the writer.
"""

from __future__ import annotations

import json
import re
from typing import Any

import trio

from api.routes import Reply, objects
from core.commands import Command, Create, Delete, Update
from core.errors import ParseError

_CLASS_PATH = re.compile(r"^/classes/([^/]+)(?:/([^/]+))?/?$")
MAX_REQUESTS = 1000


def _route(mount: str, method: str, path: Any) -> tuple[str, str, str | None]:
    if not isinstance(path, str) or not path.startswith(mount + "/"):
        raise ParseError(ParseError.INVALID_JSON, f"cannot route batch path {path}")
    rest = path[len(mount):]
    m = _CLASS_PATH.match(rest)
    if m is None or method not in ("GET", "POST", "PUT", "DELETE") or (
        (method in ("PUT", "DELETE")) != bool(m.group(2)) and method != "GET"
    ):
        raise ParseError(ParseError.INVALID_JSON, f"cannot route {method} {rest}")
    return method, m.group(1), m.group(2)


async def batch(rt, req) -> Reply:
    body = req.body if isinstance(req.body, dict) else {}
    requests = body.get("requests")
    if not isinstance(requests, list):
        raise ParseError(ParseError.INVALID_JSON, "requests must be an array")
    if len(requests) > MAX_REQUESTS:
        raise ParseError(ParseError.INVALID_JSON, f"a batch may hold at most {MAX_REQUESTS} requests")
    mount = rt.config.mountPath
    routed = []
    for item in requests:
        if not isinstance(item, dict):
            raise ParseError(ParseError.INVALID_JSON, "each batch request must be an object")
        method = str(item.get("method", "")).upper()
        routed.append((_route(mount, method, item.get("path")), item))
    if body.get("transaction") is True:
        return await _transaction(rt, req, routed)
    return Reply(await _independent(rt, req, routed))


def _command(rt, req, route, item) -> Command:
    method, cls, oid = route
    if method != "GET":
        objects._check_writable(req)
    if method == "POST":
        return objects.create_command(rt, cls, item.get("body", {}))
    if method == "PUT":
        return objects.update_command(rt, cls, oid, item.get("body", {}))
    return Delete(cls, oid)


def _success(cmd: Command, result) -> dict:
    if isinstance(cmd, Create):
        return objects.created_body(cmd, result)
    if isinstance(cmd, Update):
        return objects.updated_body(cmd, result)
    return {}


async def _transaction(rt, req, routed) -> Reply:
    commands = []
    for route, item in routed:
        if route[0] == "GET":
            raise ParseError(ParseError.INVALID_JSON, "a transactional batch may only write")
        commands.append(_command(rt, req, route, item))
    results = await rt.write(commands, req.context)
    return Reply([{"success": _success(c, r)} for c, r in zip(commands, results)])


async def _independent(rt, req, routed) -> list[dict]:
    out: list[dict | None] = [None] * len(routed)

    async def run(i: int, route, item) -> None:
        try:
            if route[0] == "GET":
                sub = type(req)("GET", "", dict(item.get("params") or item.get("body") or {}), {},
                                master=req.master, read_only_master=req.read_only_master,
                                keys=req.keys, client_ip=req.client_ip)
                handler = objects.find if route[2] is None else objects.get
                args = (route[1],) if route[2] is None else (route[1], route[2])
                reply = await handler(rt, sub, *args)
                out[i] = {"success": json.loads(reply.encode())}
                return
            cmd = _command(rt, req, route, item)
            [result] = await rt.write([cmd], req.context)
            out[i] = {"success": _success(cmd, result)}
        except ParseError as e:
            out[i] = {"error": e.to_json()}

    # Submitted together, so the writer can commit them in one group.
    async with trio.open_nursery() as nursery:
        for i, (route, item) in enumerate(routed):
            nursery.start_soon(run, i, route, item)
    return out  # type: ignore[return-value]
