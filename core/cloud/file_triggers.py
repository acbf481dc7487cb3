"""Cloud Code's file triggers, target "@File" as in Parse: `before_save` (may rename the file,
change its type, metadata or tags, or refuse it), `after_save`, `before_delete` (may refuse),
`after_delete`, and on a download (or its metadata) `before_find` (may refuse, or serve another
name) and `after_find` (may refuse, force a download, set the answer's headers, or give other
bytes). A registration's validator runs first, as Parse's does. They run in the files service
(core/services/files.py), not in the object write pipeline: a file is no object."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Mapping

from parsnip.core.cloud.errors import TRIGGER_FAILED, script_failed
from parsnip.core.cloud.invoke import call_handler
from parsnip.core.cloud.objects import ParseObject
from parsnip.core.cloud.requests import CLOUD_LOG, caller_user
from parsnip.core.events import FILE_CLASS
from parsnip.core.services.base import Caller

logger = logging.getLogger("parsnip.cloud")


@dataclass
class ParseFile:
    """A file as Cloud Code sees it (the JS SDK's `Parse.File`): its name (the client's before
    it is saved, the stored one after), URL once saved, type, metadata and tags; `data` the bytes
    when the client sent them whole (the JS SDK's base64 form), None for a streamed upload."""

    name: str
    url: str | None = None
    content_type: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, Any] = field(default_factory=dict)
    data: bytes | None = None


@dataclass
class FileTriggerRequest:
    """What a file trigger receives: `file`, its size in bytes (`file_size`; None while a
    streamed upload is still to come and its client declared no length), the request's
    Content-Length (`content_length`), and who asks."""

    file: ParseFile
    trigger_name: str
    file_size: int | None = None
    content_length: int | None = None
    master: bool = False
    user: ParseObject | None = None
    user_id: str | None = None
    installation_id: str | None = None
    ip: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    log: logging.Logger = CLOUD_LOG
    # after_find's: set force_download to answer `Content-Disposition: attachment`; the answer
    # carries response_headers (replace it, or change it, as Parse's responseHeaders).
    force_download: bool = False
    response_headers: dict[str, str] | None = None

    @property
    def params(self) -> dict:
        """What Parse's validators read (`fields=`): a file request has no params."""
        return {}


# Kinds whose failure is logged, not answered: the file is already stored or deleted.
_LOGGED = ("after_save", "after_delete")


def registered(rt, kind: str) -> bool:
    return rt.cloud is not None and rt.cloud.trigger(kind, FILE_CLASS) is not None


async def run(rt, kind: str, caller: Caller, file: ParseFile, *, file_size: int | None = None,
              content_length: int | None = None, headers: Mapping[str, str] | None = None) -> ParseFile:
    """Run the `kind` trigger on `file` if one is registered; the file as it leaves the trigger
    (a returned `ParseFile` replaces it)."""
    return (await run_request(rt, kind, caller, file, file_size=file_size, content_length=content_length,
                              headers=headers)).file


async def run_request(rt, kind: str, caller: Caller, file: ParseFile, *, file_size: int | None = None,
                      content_length: int | None = None, headers: Mapping[str, str] | None = None,
                      response_headers: dict[str, str] | None = None,
                      default_error: str = TRIGGER_FAILED) -> FileTriggerRequest:
    """Run the `kind` trigger (after its validator) and give back its request, `file` the file
    as it leaves the trigger. A failure is the request's answer (142 from a validator, else 141
    with `default_error` unless a ParseError was raised), except after_save's and
    after_delete's, which are logged."""
    registration = rt.cloud.trigger(kind, FILE_CLASS) if rt.cloud is not None else None
    auth = caller.auth
    req = FileTriggerRequest(file, kind, file_size, content_length, caller.master, None, auth.user_id,
                             caller.installation_id, caller.client_ip, headers or {}, dict(caller.cloud_context or {}),
                             response_headers=response_headers)
    if registration is None:
        return req
    req.user = await caller_user(rt, auth)
    try:
        if registration.validation is not None and await registration.validation.check(
                req, has_user=auth.user_id is not None, roles=auth.roles, load_user=_user_of(req)):
            return req  # skip_with_master_key
        result = await call_handler(registration.handler, req)
    except Exception as e:
        if kind in _LOGGED:
            logger.warning("%s trigger on @File failed for %s", kind, file.name, exc_info=True)
            return req
        raise script_failed(e, default_error) from None
    if isinstance(result, ParseFile):
        req.file = result
    return req


def _user_of(req: FileTriggerRequest):
    async def load() -> dict | None:
        return req.user.to_json() if req.user is not None else None

    return load
