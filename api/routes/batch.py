"""POST /batch: many requests in one call; with `transaction: true`, all or nothing.

Each batched path is resolved to a service call (`core/services/`), never to another route.

Writes of a plain batch are handed to the writer together, so they commit in one group but
each succeeds or fails alone; a transactional batch is one unit of the writer.
"""

from __future__ import annotations

import json
import re
from typing import Any

import trio

from parsnip.api.errors import error_json
from parsnip.api.routes import Reply, check_object_id
from parsnip.core.commands import Command, Create, Delete, Update
from parsnip.core.errors import ParseError
from parsnip.core.services import config, objects, users
from parsnip.core.services.access import require_writable
from parsnip.core.services.base import Caller, checked
from parsnip.core.services.classes import service_for

_CLASS_PATH = re.compile(r"^/classes/([^/]+)(?:/([^/]+))?/?$")
_CONFIG_PATH = re.compile(r"^/config/?$")
# The route's "class" for /config: Parse.Config's name for its triggers, never a class name.
CONFIG = "@Config"
_ALIASES = {"/roles": "_Role", "/installations": "_Installation"}
# Classes whose writes need their own routes (password hashing, sessions): not in a transaction.
_NOT_TRANSACTIONAL = frozenset({"_User", "_Session"})
MAX_REQUESTS = 1000


def _route(mount: str, method: str, path: Any) -> tuple[str, str, str | None, str]:
    """(method, class, objectId, path below the mount) of one batched request."""
    if not isinstance(path, str) or not path.startswith(mount + "/"):
        raise ParseError(ParseError.INVALID_JSON, f"cannot route batch path {path}")
    rest = path[len(mount):]
    if _CONFIG_PATH.match(rest):
        if method not in ("GET", "PUT"):
            raise ParseError(ParseError.INVALID_JSON, f"cannot route {method} {rest}")
        return method, CONFIG, None, rest
    for alias, cls in _ALIASES.items():
        if rest == alias or rest.startswith(alias + "/"):
            rest_for_class = "/classes/" + cls + rest[len(alias):]
            break
    else:
        rest_for_class = rest.replace("/users", "/classes/_User", 1) if rest.startswith("/users") else rest
    m = _CLASS_PATH.match(rest_for_class)
    if m is None or method not in ("GET", "POST", "PUT", "DELETE") or (
        (method in ("PUT", "DELETE")) != bool(m.group(2)) and method != "GET"
    ):
        raise ParseError(ParseError.INVALID_JSON, f"cannot route {method} {rest}")
    return method, m.group(1), m.group(2), rest


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


def _command(rt, caller: Caller, route, item) -> Command:
    method, cls, oid, _ = route
    require_writable(caller.auth)
    check_object_id(oid)
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
    caller = req.caller
    for route, item in routed:
        if route[0] == "GET":
            raise ParseError(ParseError.INVALID_JSON, "a transactional batch may only write")
        if route[1] == CONFIG:
            raise ParseError(ParseError.INVALID_JSON, "the config cannot be changed in a transactional batch")
        if route[1] in _NOT_TRANSACTIONAL:
            raise ParseError(ParseError.INVALID_JSON, f"{route[1]} objects cannot be written in a transactional batch")
        commands.append(await checked(caller, _command, rt, caller, route, item))
    results = await rt.write(commands, caller.context, caller.auth, cloud_context=caller.cloud_context)
    return Reply([{"success": _success(c, r)} for c, r in zip(commands, results)])


async def _independent(rt, req, routed) -> list[dict]:
    """Each request succeeds or fails alone: whatever one raises becomes its own error entry
    (logged once when unexpected), never the whole batch's answer."""
    out: list[dict | None] = [None] * len(routed)
    caller = req.caller

    async def run(i: int, route, item) -> None:
        method, _, _, path = route
        try:
            out[i] = {"success": await _call(rt, caller, route, item)}
        except Exception as e:
            out[i] = {"error": error_json(e, method, f"/batch {path}", req.keys.get("request_id") or "-")}

    # Submitted together, so the writer can commit them in one group.
    async with trio.open_nursery() as nursery:
        for i, (route, item) in enumerate(routed):
            nursery.start_soon(run, i, route, item)
    return out  # type: ignore[return-value]


async def _call(rt, caller: Caller, route, item) -> Any:
    """One batched request: its path resolved to a service call, the answer as Parse's JSON."""
    method, cls, oid, path = route
    if path.startswith("/users") and not (path == "/users" or path.startswith("/users/")):
        raise ParseError(ParseError.INVALID_JSON, f"cannot route {method} {path}")
    check_object_id(oid)
    body, params = _body_and_params(method, item)
    if method == "GET" and path.rstrip("/") == "/users/me":
        return json.loads(await users.me(rt, caller))
    if cls == CONFIG:
        return await (config.get(rt, caller) if method == "GET" else config.update(rt, caller, body))
    service = service_for(cls)
    if method == "GET":
        if oid is None:
            return json.loads((await service.find(rt, caller, cls, params)).text())
        return json.loads(await service.get(rt, caller, cls, oid, params))
    if method == "DELETE":
        await service.delete(rt, caller, cls, oid)
        return {}
    saved = await (service.create(rt, caller, cls, body) if method == "POST" else service.update(rt, caller, cls, oid, body))
    return json.loads(saved.text) if saved.text is not None else saved.body


def _body_and_params(method: str, item: dict) -> tuple[Any, dict]:
    """A batched request's body and query parameters. A GET's parameters are `params` or, as
    Parse reads them, its `body`; anything but an object there holds no parameters, except an
    array, whose indexes Parse takes as parameter names (so it is refused as they are)."""
    body = item.get("body", {})
    if method != "GET":
        return body, {}
    given = item.get("params") or body
    if isinstance(given, dict):
        return {}, dict(given)
    if isinstance(given, list) and given:
        return {}, {str(i): v for i, v in enumerate(given)}
    return {}, {}
