"""Parse files: upload (streamed to the adapter, then recorded as a `file` event), download
(with one HTTP range), delete (master key; the event now, the bytes after fileRetentionDays),
and the janitor that removes expired bytes. The bytes live in `rt.files` (core/files/adapter.py)."""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, AsyncIterator, Mapping

import trio

from parsnip.core.cloud import file_triggers
from parsnip.core.cloud.file_triggers import ParseFile
from parsnip.core.commands import FileChange
from parsnip.core.errors import ParseError
from parsnip.core.files import names
from parsnip.core.files.adapter import FileNotFound
from parsnip.core import layout
from parsnip.core.layout import files_base
from parsnip.core.security.auth import MASTER, Auth
from parsnip.core.services.access import require_master, require_writable
from parsnip.core.services.base import Caller
from parsnip.core.values import now

logger = logging.getLogger("parsnip.files")

NOT_FOUND = b"File not found."
JANITOR_EVERY = 3600.0  # seconds between the janitor's passes


@dataclass
class Download:
    """What GET /files/{appId}/{name} answers: status, headers, and the bytes as they come."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: AsyncIterator[bytes] | bytes = b""


@dataclass
class Upload:
    """An upload's bytes and what the request said of them: `whole` the bytes when the client
    sent them at once (the JS SDK's base64 form), and its Content-Length."""

    chunks: AsyncIterator[bytes]
    content_type: str | None = None
    metadata: Any = None
    tags: Any = None
    whole: bytes | None = None
    content_length: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


async def upload(rt, caller: Caller, filename: str, up: Upload) -> dict[str, str]:
    """Check who may upload what (130, 122), run the before_save file trigger, stream the bytes
    to the adapter, record the file, run after_save; answers Parse's {"url", "name"}."""
    opts = rt.file_options
    auth = caller.auth
    if auth.read_only:
        require_writable(auth, "create a file")
    if not auth.master:
        await _check_uploader(rt, caller)
    names.check_name(filename)
    if not auth.master:
        names.check_extension(filename, up.content_type, opts.extensions)
    first = await _first_chunk(up.chunks)
    if first is None:
        raise ParseError(ParseError.FILE_SAVE_ERROR, "Invalid file upload.")
    file = ParseFile(filename, None, up.content_type, up.metadata or {}, up.tags or {}, up.whole)
    if file_triggers.registered(rt, "before_save"):
        size = len(up.whole) if up.whole is not None else up.content_length
        file = await file_triggers.run(rt, "before_save", caller, file, file_size=size,
                                       content_length=up.content_length, headers=up.headers)
        if file.name != filename:  # renamed by the trigger: Parse's rules for the new name
            names.check_name(file.name)
            if not auth.master:
                names.check_extension(file.name, file.content_type, opts.extensions)
    if not isinstance(file.metadata, dict) or not isinstance(file.tags, dict):
        raise ParseError(ParseError.INVALID_JSON, "File metadata and tags must be objects.")
    chunks = up.chunks if file.data is up.whole else _one(file.data or b"")  # a trigger may give new bytes
    if file.data is not up.whole:
        first = b""
    name, stored_type = names.stored_name_and_type(file.name, file.content_type, opts.preserve_name)
    digest = hashlib.sha256()
    size = 0

    async def measured() -> AsyncIterator[bytes]:
        nonlocal size
        async for chunk in _prepend(first, chunks):
            size += len(chunk)
            digest.update(chunk)
            yield chunk

    try:
        await rt.files.put(name, measured(), stored_type, file.metadata, file.tags)
        await rt.write([FileChange(name, "create", size, stored_type, digest.hexdigest(), file.metadata, file.tags)],
                       caller.context, MASTER)
    except BaseException:
        with trio.CancelScope(shield=True):
            await _quietly_delete(rt, name)
        raise
    url = file_url(rt, name)
    if file_triggers.registered(rt, "after_save"):
        saved = ParseFile(name, url, stored_type, file.metadata, file.tags, up.whole if file.data is up.whole else file.data)
        await file_triggers.run(rt, "after_save", caller, saved, file_size=size, content_length=up.content_length,
                                headers=up.headers)
    return {"url": url, "name": name}


def file_url(rt, name: str) -> str:
    """A file's URL: the adapter's own (S3 directAccess) or Parsnip's GET route."""
    return rt.files.direct_url(name) or layout.file_url(files_base(rt.config), name)


async def download(rt, name: str, range_header: str | None, caller: Caller | None = None, *,
                   body: bool = True) -> Download:
    """The file's bytes (all, or the one range asked), or 404 as Parse answers: never uploaded,
    or deleted and held by no live object. `body` False answers a HEAD: the same headers, the
    bytes not opened. The find triggers run as in Parse's FilesRouter.getHandler: before_find
    may refuse or name another file, after_find (the file found) may refuse, force a download,
    change the headers or give other bytes; a refusal is 403 with the error."""
    caller = caller or Caller(Auth())
    default = f"Could not find file: {name}."
    try:
        name = await _before_find(rt, caller, name, default)
        rec = await _live_record(rt, name)
        if rec is None:
            return _not_found()
        found = None
        if file_triggers.registered(rt, "after_find"):
            found = await file_triggers.run_request(
                rt, "after_find", caller, _file_of(rt, name, rec), file_size=rec["size"],
                response_headers={"X-Content-Type-Options": "nosniff"}, default_error=f"Could not find file: {name}.")
    except ParseError as e:
        return _refused(e)
    if found is not None and found.file.data is not None:  # the trigger's own bytes
        f = found.file
        headers = {"Content-Type": _served_type(f.content_type or names.type_of(f.name)),
                   "Content-Length": str(len(f.data)), **_found_headers(found)}
        return Download(200, headers, f.data if body else b"")
    size = rec["size"]
    headers = {"Content-Type": _served_type(rec["content_type"]), "Accept-Ranges": "bytes",
               **(_found_headers(found) if found is not None else {"X-Content-Type-Options": "nosniff"})}
    span = parse_range(range_header, size)
    if span == "unsatisfiable":
        return Download(416, {**headers, "Content-Range": f"bytes */{size}"})
    start, end = (0, size) if span is None else span
    if body:
        try:
            content: AsyncIterator[bytes] | bytes = await _open(rt.files, name, start, end)
        except FileNotFound:
            return _not_found()
    elif await rt.files.size(name) is None:
        return _not_found()
    else:
        content = b""
    headers["Content-Length"] = str(end - start)
    if span is None:
        return Download(200, headers, content)
    headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    return Download(206, headers, content)


async def _before_find(rt, caller: Caller, name: str, default_error: str) -> str:
    """The name to serve: the asked one, or the one a before_find trigger on "@File" names."""
    if not file_triggers.registered(rt, "before_find"):
        return name
    req = await file_triggers.run_request(rt, "before_find", caller, ParseFile(name, file_url(rt, name)),
                                          default_error=default_error)
    return req.file.name


async def metadata(rt, name: str, caller: Caller | None = None) -> Download:
    """GET /files/{appId}/metadata/{name}: `{"metadata": {...}}` as the file's `file` event
    recorded it (Parse's default GridFS adapter answers so), `{}` for a file that is not
    served; the find triggers run as on a download (after_find with no bytes)."""
    caller = caller or Caller(Auth())
    default = "Could not get file metadata."
    try:
        name = await _before_find(rt, caller, name, default)
        rec = await _live_record(rt, name)
        if rec is None:
            return _json(200, {})
        if file_triggers.registered(rt, "after_find"):
            await file_triggers.run_request(rt, "after_find", caller, _file_of(rt, name, rec), file_size=rec["size"],
                                            default_error=default)
    except ParseError as e:
        return _refused(e)
    return _json(200, {"metadata": rec["metadata"] or {}})


async def _live_record(rt, name: str) -> Mapping[str, Any] | None:
    """The file's record while it is served: uploaded, and not deleted or still held."""
    rec = await rt.read(rt.file_reads.record, name)
    if rec is None or (rec["deleted_at"] is not None and not await _referenced(rt, name)):
        return None
    return rec


def _file_of(rt, name: str, rec: Mapping[str, Any]) -> ParseFile:
    return ParseFile(name, file_url(rt, name), rec["content_type"], rec["metadata"] or {}, rec["tags"] or {})


def _found_headers(found: file_triggers.FileTriggerRequest) -> dict[str, str]:
    """What after_find adds to the answer: its response headers, and Content-Disposition when
    it forces a download (Parse's `attachment;filename=` with the name served)."""
    headers = {str(k): str(v) for k, v in (found.response_headers or {}).items()}
    if found.force_download:
        headers["Content-Disposition"] = f"attachment;filename={found.file.name}"
    return headers


def parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """One `bytes=` range as [start, end), "unsatisfiable", or None to send everything (no
    header, a malformed one, or several ranges, which RFC 9110 lets a server ignore)."""
    if not header or not header.strip().lower().startswith("bytes="):
        return None
    spec = header.strip()[6:].strip()
    if "," in spec or "-" not in spec:
        return None
    first, _, last = (part.strip() for part in spec.partition("-"))
    if not (first.isdigit() or first == "") or not (last.isdigit() or last == "") or first == last == "":
        return None
    if first == "":  # the last n bytes
        n = int(last)
        if n == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - n), size
    start = int(first)
    end = size if last == "" else min(size, int(last) + 1)
    if last != "" and int(last) < start:
        return None
    if start >= size:
        return "unsatisfiable"
    return start, end


async def delete(rt, caller: Caller, name: str) -> None:
    """Master key only (Parse's 403); before_delete may refuse; the `file` event now; the bytes
    at once when fileRetentionDays is 0 and nothing holds the file, else by the janitor."""
    require_master(caller.auth)
    require_writable(caller.auth, "delete a file")
    triggered = file_triggers.registered(rt, "before_delete") or file_triggers.registered(rt, "after_delete")
    rec = await rt.read(rt.file_reads.record, name) if triggered else None
    file = size = None
    if rec is not None:
        file = ParseFile(name, file_url(rt, name), rec["content_type"], rec["metadata"] or {}, rec["tags"] or {})
        size = rec["size"]
        await file_triggers.run(rt, "before_delete", caller, file, file_size=size)
    await rt.write([FileChange(name, "delete")], caller.context, MASTER)
    if rt.file_options.retention_days <= 0 and not await _referenced(rt, name):
        await _quietly_delete(rt, name)
    if file is not None:
        await file_triggers.run(rt, "after_delete", caller, file, file_size=size)


async def janitor(rt, every: float = JANITOR_EVERY) -> None:
    """Forever: remove the bytes of files deleted longer ago than the retention and held by no
    live object (the runtime's nursery runs it)."""
    since = now() - timedelta(days=36500)
    while True:
        try:
            since = await sweep(rt, since)
        except Exception:  # a database outage, an adapter's failure: the next pass tries again
            logger.warning("the files janitor's pass failed", exc_info=True)
        await trio.sleep(every)


async def sweep(rt, since):
    """One pass of the janitor over files deleted after `since`; returns where the next starts."""
    before = now() - timedelta(days=max(rt.file_options.retention_days, 0))
    while True:
        batch = await rt.read(rt.file_reads.expired, since, before)
        for name, deleted_at in batch:
            if not await _referenced(rt, name):
                await _quietly_delete(rt, name)
            since = deleted_at
        if len(batch) < 500:
            return since


async def _check_uploader(rt, caller: Caller) -> None:
    """Parse's fileUpload rules: public (no user), anonymous users, other users (130)."""
    opts = rt.file_options
    user_id = caller.auth.user_id
    if user_id is None:
        if not opts.public:
            raise ParseError(ParseError.FILE_SAVE_ERROR, "File upload by public is disabled.")
        return
    if opts.anonymous == opts.authenticated:
        anonymous = False  # the same answer either way: no need to read the user
    else:
        user = await rt.load_object("_User", user_id) or {}
        anonymous = "anonymous" in (user.get("authData") or {})
    if anonymous and not opts.anonymous:
        raise ParseError(ParseError.FILE_SAVE_ERROR, "File upload by anonymous user is disabled.")
    if not anonymous and not opts.authenticated:
        raise ParseError(ParseError.FILE_SAVE_ERROR, "File upload by authenticated user is disabled.")


async def _referenced(rt, name: str) -> bool:
    """Whether a live object holds the file: in a File field, or as an element of an Array
    field (a gallery's files). A File deeper inside an Object or an array's objects does not
    count: no containment query reaches any depth, and a scan of every class is not cheap."""
    files_, arrays = [], []
    for cls in rt.schema.class_names():
        for f, t in rt.schema.fields(cls).items():
            kind = (t or {}).get("type")
            if kind == "File":
                files_.append((cls, f))
            elif kind == "Array":
                arrays.append((cls, f))
    return bool(files_ or arrays) and await rt.read(rt.file_reads.referenced, name, files_, arrays)


async def _open(adapter, name: str, start: int, end: int) -> AsyncIterator[bytes]:
    """The adapter's bytes, its first chunk already read, so an absent file is known before
    the answer starts (an adapter's `get` may be a coroutine or an async generator)."""
    got = adapter.get(name, start, end)
    if inspect.isawaitable(got):
        got = await got
    iterator = got.__aiter__()
    try:
        first = await iterator.__anext__()
    except StopAsyncIteration:
        first = b""
    return _prepend(first, iterator)


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in rest:
        if chunk:
            yield chunk


async def _first_chunk(chunks: AsyncIterator[bytes]) -> bytes | None:
    async for chunk in chunks:
        if chunk:
            return chunk
    return None


async def _quietly_delete(rt, name: str) -> None:
    try:
        await rt.files.delete(name)
    except Exception:
        logger.warning("could not remove the bytes of file %s", name, exc_info=True)


def _served_type(content_type: str | None) -> str:
    """The stored type, with a text type's charset as Parse's Express adds it."""
    if not content_type:
        return "application/octet-stream"
    if content_type.startswith("text/") and "charset" not in content_type:
        return content_type + "; charset=utf-8"
    return content_type


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _not_found() -> Download:
    return Download(404, {"Content-Type": "text/plain; charset=utf-8"}, NOT_FOUND)


def _refused(error: ParseError) -> Download:
    """A find trigger's (or its validator's) refusal: Parse answers 403 with the error."""
    return _json(403, error.to_json())


def _json(status: int, value: Any) -> Download:
    return Download(status, {"Content-Type": "application/json; charset=utf-8"},
                    json.dumps(value, separators=(",", ":")).encode())
