"""/files: upload (POST /files/{name}: the raw body streamed, or the JS SDK's JSON form with
`base64`), download (GET /files/{appId}/{name}, no keys, one HTTP range) and delete (DELETE
/files/{name}, master key). Uploads and downloads bypass the app's whole-body read
(`api/app.py` sends them here first); `UploadFlow` keeps an upload's buffered body bounded."""

from __future__ import annotations

import base64
import binascii
from typing import Any, AsyncIterator, Mapping

import trio
from werkzeug.exceptions import RequestEntityTooLarge

from parsnip.api.errors import Unauthorized
from parsnip.api.request import _same, allowed_ip, decode_body, next_chunk, read_request
from parsnip.api.routes import Reply
from parsnip.core.errors import ParseError
from parsnip.core.security.auth import Auth
from parsnip.core.services import files
from parsnip.core.services.base import Caller

PREFIX = "/files/"
FLOW_KEY = "parsnip.upload_flow"


class UploadFlow:
    """Back-pressure for a streamed upload. Quart buffers each body chunk it receives without
    bound, so a client faster than the adapter would grow the server by the whole file: the
    ASGI `receive` (wrapped in `api/app.py`) waits while more than WINDOW bytes are unread."""

    WINDOW = 1024 * 1024

    def __init__(self) -> None:
        self.received = 0
        self.consumed = 0
        self._room = trio.Event()

    async def receive(self, receive) -> Any:
        while self.received - self.consumed > self.WINDOW:
            self._room = trio.Event()
            await self._room.wait()
        message = await receive()
        self.received += len(message.get("body", b""))
        return message

    def took(self, n: int) -> None:
        self.consumed += n
        self._room.set()


def is_upload(method: str, path: str) -> bool:
    """Whether (method, path below the mount) is an upload, which reads its own body."""
    return method == "POST" and (path == "/files" or path.startswith(PREFIX))


def is_download(method: str, path: str) -> bool:
    """GET or HEAD (Express answers HEAD with GET's handler) of /files/{appId}/{name}, or of
    /files/{appId}/metadata/{name}."""
    if method not in ("GET", "HEAD") or not path.startswith(PREFIX):
        return False
    return path.count("/") == 3 or (path.count("/") == 4 and path.split("/")[3] == METADATA)


METADATA = "metadata"


async def upload(rt, request, path: str) -> Reply:
    """POST /files/{name}: with X-Parse-Application-Id, the raw body and its Content-Type,
    streamed; without it, Parse's JSON form ({"base64", "_ContentType", "_ApplicationId",
    "fileData": {"metadata", "tags"}}), decoded whole within maxUploadSize."""
    name = path[len(PREFIX):].rstrip("/") if path.startswith(PREFIX) else ""
    config = rt.config
    limit = rt.file_options.max_size
    body = _body(request, limit)
    headers = request.headers
    if "x-parse-application-id" in headers:
        req = read_request(config, "POST", path, headers, request.args, b"", request.remote_addr, body={})
        length = headers.get("Content-Length")
        up = files.Upload(body, headers.get("Content-Type"), content_length=int(length) if length and length.isdigit() else None,
                          headers=headers)
    else:
        raw = b"".join([chunk async for chunk in body])
        try:
            decoded = decode_body(raw)
        except ParseError:
            raise Unauthorized() from None  # not JSON: no application id anywhere (Parse's 403)
        req = read_request(config, "POST", path, headers, request.args, raw, request.remote_addr,
                           body=decoded if isinstance(decoded, dict) else {})
        data = _base64(req.body)
        file_data = req.body.get("fileData") if isinstance(req.body.get("fileData"), dict) else {}
        up = files.Upload(_one(data), req.keys.get("content_type"), file_data.get("metadata"), file_data.get("tags"),
                          data, len(data), headers)
    if req.session_token and not req.master:
        req.auth = await rt.authenticate(req.session_token, req.keys.get("installation_id"))
    if not name or "/" in name:
        raise ParseError(ParseError.INVALID_FILE_NAME, "Filename not provided.")
    answer = await files.upload(rt, req.caller, name, up)
    return Reply(answer, status=201, headers={"Location": answer["url"]})


async def download(rt, method: str, path: str, headers: Mapping[str, str], client_ip: str | None) -> Reply:
    """GET or HEAD /files/{appId}/{name}, or GET /files/{appId}/metadata/{name}: no keys, as
    Parse serves files; another app id is 403."""
    _, _, app_id, name = path.split("/", 3)
    if app_id != rt.config.appId:
        if name.startswith(METADATA + "/"):
            return Reply({}, status=200)  # Parse's metadata route answers {} for any unknown app
        raise Unauthorized("Permission denied")
    caller = await _caller(rt, headers, client_ip)
    if name.startswith(METADATA + "/"):
        got = await files.metadata(rt, name[len(METADATA) + 1:], caller)
    else:
        got = await files.download(rt, name, headers.get("Range"), caller, body=method != "HEAD")
    content_type = got.headers.pop("Content-Type", None)
    if isinstance(got.body, bytes) and "Content-Length" not in got.headers:  # an answer's own text
        return Reply(status=got.status, headers=got.headers, raw=got.body.decode(), content_type=content_type)
    # The file's bytes, or none for a HEAD: sent as they are under the Content-Length given.
    body = _one(got.body) if isinstance(got.body, bytes) else got.body
    return Reply(status=got.status, headers=got.headers, content_type=content_type, stream=body)


async def _caller(rt, headers: Mapping[str, str], client_ip: str | None) -> Caller:
    """Who downloads, for the find triggers: as Parse's GET file routes read it, the master key
    (from masterKeyIps) or the session token's user (an unknown token is 209); no other key
    is asked for, so a browser's plain GET is a public caller."""
    config = rt.config
    given = headers.get("X-Parse-Master-Key")
    installation_id = headers.get("X-Parse-Installation-Id")
    if given and allowed_ip(client_ip, config.masterKeyIps):
        if _same(given, config.masterKey):
            return Caller(Auth(master=True, installation_id=installation_id), client_ip=client_ip,
                          installation_id=installation_id)
        if _same(given, config.readOnlyMasterKey):
            return Caller(Auth(master=True, read_only=True, installation_id=installation_id), client_ip=client_ip,
                          installation_id=installation_id)
    token = headers.get("X-Parse-Session-Token")
    auth = await rt.authenticate(token, installation_id) if token else Auth(installation_id=installation_id)
    return Caller(auth, client_ip=client_ip, installation_id=installation_id)


async def delete(rt, req, filename: str) -> Reply:
    """DELETE /files/{name} (master key): 200 with an empty body, as Parse answers."""
    await files.delete(rt, req.caller, filename)
    return Reply(status=200, raw="", content_type="text/plain; charset=utf-8")


async def _body(request, limit: int) -> AsyncIterator[bytes]:
    """The request body as it arrives, each chunk reported to the upload's flow; 413 past
    `limit`, 408 when the client stalls (no bound on the whole: a large file takes its time)."""
    flow: UploadFlow | None = request.flow
    seen = 0
    chunks = request.body.__aiter__()
    while (chunk := await next_chunk(chunks)) is not None:
        seen += len(chunk)
        if flow is not None:
            flow.took(len(chunk))
        if seen > limit:
            raise RequestEntityTooLarge()
        yield chunk


def _base64(body: Mapping[str, Any]) -> bytes:
    data = body.get("base64")
    if not isinstance(data, str):
        raise ParseError(ParseError.FILE_SAVE_ERROR, "Invalid file upload.")
    if data.startswith("data:") and "," in data:  # a data URI's payload
        data = data.split(",", 1)[1]
    try:
        return base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        raise ParseError(ParseError.FILE_SAVE_ERROR, "Invalid file upload.") from None


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data
