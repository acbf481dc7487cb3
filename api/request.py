"""A Parse request as the SDKs send it: keys from headers or from the JavaScript SDK's body form.

The JS SDK sends every call as a POST whose (often text/plain) JSON body carries `_method`,
`_ApplicationId`, `_MasterKey`, ... beside the real parameters. `read_request` folds both forms
into one `ParseRequest` and checks the keys against the configuration.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Mapping

import trio

from parsnip.api.errors import Unauthorized
from parsnip.api.http import WholeBody
from parsnip.core import json_input
from parsnip.core.cloud.context import client_context
from parsnip.core.config import Config
from parsnip.core.errors import ParseError
from parsnip.core.events import Context
from parsnip.core.security.auth import Auth
from parsnip.core.services.base import Caller, off_loop


# Body fields of the JS SDK's form and the header each stands for.
_BODY_KEYS = {
    "_ApplicationId": "app_id",
    "_JavaScriptKey": "javascript_key",
    "_ClientKey": "client_key",
    "_RestAPIKey": "rest_key",
    "_MasterKey": "master_key",
    "_SessionToken": "session_token",
    "_InstallationId": "installation_id",
    "_ClientVersion": "client_version",
    "_RevocableSession": "revocable",
    "_ContentType": "content_type",
}
_HEADERS = {
    "x-parse-application-id": "app_id",
    "x-parse-javascript-key": "javascript_key",
    "x-parse-client-key": "client_key",
    "x-parse-rest-api-key": "rest_key",
    "x-parse-windows-key": "dotnet_key",
    "x-parse-master-key": "master_key",
    "x-parse-session-token": "session_token",
    "x-parse-installation-id": "installation_id",
    "x-parse-client-version": "client_version",
    "x-parse-request-id": "request_id",
    "x-parse-revocable-session": "revocable",
}


@dataclass
class ParseRequest:
    method: str
    path: str  # below the mount path, e.g. "/classes/GameScore"
    params: dict[str, Any]  # query parameters (GET) with the JS SDK's body fields folded in
    body: Any  # the JSON body with the SDK's underscore fields removed
    master: bool = False
    read_only_master: bool = False
    keys: dict[str, str] = field(default_factory=dict)
    client_ip: str | None = None
    # Who is asking: set from the keys here, and from the session token by the runtime.
    auth: Auth = field(default_factory=Auth)
    # The body is past LARGE_BODY: services check it off the trio loop (`core/services/base.py: checked`).
    large_body: bool = False
    # The request's headers as received, and the Cloud Code context the client sent
    # (X-Parse-Cloud-Context, or `_context` in the JS SDK's body form; None: none sent), which
    # its functions and triggers get as `req.context`.
    headers: Mapping[str, str] = field(default_factory=dict)
    cloud_context: dict | None = None

    @property
    def context(self) -> Context:
        return self.auth.context(self.keys.get("request_id"), self.client_ip)

    @property
    def caller(self) -> Caller:
        """Who is asking, as the services take it."""
        keys = self.keys
        return Caller(self.auth, keys.get("request_id"), self.client_ip, keys.get("installation_id"), self.large_body,
                      self.cloud_context)

    @property
    def session_token(self) -> str | None:
        return self.keys.get("session_token") or None


# A body must keep arriving: a client silent this long mid-body, or still sending after the
# whole bound, gets 408 and its connection closed (Node, under Parse Server, allows 300 s in
# all; a stalled body there holds its socket that long). 120 s carries the default 20 MB
# maxUploadSize at 1.4 Mbit/s.
BODY_IDLE_TIMEOUT = 10.0
BODY_TIMEOUT = 120.0


class BodyTimeout(Exception):
    """The body did not arrive in time: 408 with Parse's TIMEOUT code, and the connection closed."""

    def to_json(self) -> dict:
        return {"code": ParseError.TIMEOUT, "error": str(self)}


async def next_chunk(body: AsyncIterator[bytes]) -> bytes | None:
    """The body's next chunk, None at its end; BodyTimeout when none comes for BODY_IDLE_TIMEOUT."""
    with trio.move_on_after(BODY_IDLE_TIMEOUT):
        try:
            return await body.__anext__()
        except StopAsyncIteration:
            return None
    raise BodyTimeout(f"no part of the request body came for {BODY_IDLE_TIMEOUT:g} s")


async def read_body(body: AsyncIterator[bytes]) -> bytes:
    """The whole request body, within BODY_IDLE_TIMEOUT between chunks and BODY_TIMEOUT in all."""
    if isinstance(body, WholeBody):  # already read: no timeouts to set (two cancel scopes a chunk)
        return body.take()
    chunks: list[bytes] = []
    with trio.move_on_after(BODY_TIMEOUT) as whole:
        while (chunk := await next_chunk(body)) is not None:
            chunks.append(chunk)
    if whole.cancelled_caught:
        raise BodyTimeout(f"the request body took more than {BODY_TIMEOUT:g} s")
    return b"".join(chunks)


# Bodies past this size are decoded (and their fields checked) in a worker thread, so the trio
# loop, which serves every other request, keeps answering meanwhile; smaller ones are not worth
# the thread hop (about 0.1 ms).
LARGE_BODY = 256 * 1024
_METHODS_WITH_BODY = ("POST", "PUT", "DELETE")
_UNREAD: Any = object()


async def decode_large_body(method: str, raw: bytes) -> Any:
    """The decoded body when it is large (in a worker thread), else a marker for read_request."""
    if len(raw) <= LARGE_BODY or method not in _METHODS_WITH_BODY:
        return _UNREAD
    return await off_loop(decode_body, raw)


def decode_body(raw: bytes) -> Any:
    """The JSON body (core/json_input.py: 107 when it is not JSON or nests too deeply). An
    empty body is an empty object."""
    if not raw or not raw.strip():
        return {}
    return json_input.loads(raw)


def read_request(
    config: Config, method: str, path: str, headers: Mapping[str, str], query: Mapping[str, str],
    raw_body: bytes, client_ip: str | None, *, body: Any = _UNREAD,
) -> ParseRequest:
    """Fold headers, query string and the JS SDK body form into a checked ParseRequest
    (`body`: already decoded by `decode_large_body`)."""
    keys = {name: headers[h] for h, name in _HEADERS.items() if h in headers}
    params: dict[str, Any] = dict(query)
    if body is _UNREAD:
        body = decode_body(raw_body) if method in _METHODS_WITH_BODY else {}
    cloud_context = headers.get("x-parse-cloud-context")
    if isinstance(body, dict) and ("_method" in body or "_ApplicationId" in body):
        body = dict(body)
        override = body.pop("_method", None)
        if body.get("_context"):  # Parse reads a truthy `_context` (object or JSON text) over the header
            cloud_context = body["_context"]
        body.pop("_context", None)
        for k, name in _BODY_KEYS.items():
            if k in body:
                value = body.pop(k)
                if isinstance(value, str):
                    keys.setdefault(name, value)
        if isinstance(override, str):  # any other method (PATCH, ...) then finds no route, as in Parse
            method = override.upper()
        if method == "GET":
            params.update(body)
            body = {}
    if method == "GET" and "x-parse-as-of" in headers:  # time travel for clients that cannot add a parameter
        params.setdefault("asOf", headers["x-parse-as-of"])
    # Read for every request, as Parse's middleware does: a context that is not an object is 107.
    req = ParseRequest(method, path, params, body, keys=keys, client_ip=client_ip,
                       large_body=len(raw_body) > LARGE_BODY, headers=headers,
                       cloud_context=None if cloud_context is None else client_context(cloud_context))
    _authenticate(config, req)
    req.auth = Auth(master=req.master, read_only=req.read_only_master,
                    installation_id=keys.get("installation_id"))
    return req


def _same(given: str | None, expected: str | None) -> bool:
    """Constant-time key comparison."""
    return given is not None and expected is not None and hmac.compare_digest(
        given.encode(), expected.encode()
    )


def _authenticate(config: Config, req: ParseRequest) -> None:
    if not _same(req.keys.get("app_id"), config.appId):
        raise Unauthorized()
    if _same(req.keys.get("master_key"), config.masterKey):
        _check_master_ip(config, req.client_ip)
        req.master = True
        return
    if _same(req.keys.get("master_key"), config.readOnlyMasterKey):
        _check_master_ip(config, req.client_ip)
        req.master = req.read_only_master = True
        return
    # Client keys are optional: when the server has any, the request must carry a matching one.
    client_keys = [
        (config.restAPIKey, "rest_key"), (config.javascriptKey, "javascript_key"),
        (config.clientKey, "client_key"), (config.dotNetKey, "dotnet_key"),
    ]
    if any(k for k, _ in client_keys) and not any(
        _same(req.keys.get(name), key) for key, name in client_keys if key
    ):
        raise Unauthorized()


def _check_master_ip(config: Config, client_ip: str | None) -> None:
    """The master key only counts from `masterKeyIps` (addresses or networks); elsewhere the
    request is refused outright, as Parse Server does (403)."""
    if not allowed_ip(client_ip, config.masterKeyIps):
        raise Unauthorized()


def allowed_ip(client_ip: str | None, allowed: list[str]) -> bool:
    if client_ip is None:
        return False
    try:
        ip = ipaddress.ip_address(client_ip.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for entry in allowed:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False
