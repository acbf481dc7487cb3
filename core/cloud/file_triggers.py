"""Cloud Code's file triggers, target "@File" as in Parse: `before_save` (may rename the file,
change its type, metadata or tags, or refuse it), `after_save`, `before_delete` (may refuse),
`after_delete`, and on a download (or its metadata) `before_find` (may refuse, or serve another
name) and `after_find` (may refuse, force a download, set the answer's headers, or give other
bytes). A registration's validator runs first, as Parse's does. They run in the files service
(core/services/files.py), not in the object write pipeline: a file is no object. A trigger
webhook on "@File" (`/hooks/triggers`) runs where no Python trigger of its kind is registered,
as Parse runs one: its payload is the file's JSON, its answer is ignored (Parse keeps only a
returned `Parse.File`, which JSON cannot carry), and its error refuses a before trigger with
Parse's code for the route."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Mapping

from parsnip.core.cloud.errors import TRIGGER_FAILED, script_failed
from parsnip.core.cloud.invoke import call_handler
from parsnip.core.cloud.objects import ParseObject
from parsnip.core.cloud.requests import CLOUD_LOG, caller_user
from parsnip.core.cloud.webhook_table import Webhook
from parsnip.core.cloud.webhook_triggers import user_of
from parsnip.core.errors import ParseError
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


# The webhook trigger name of each kind, and the code Parse gives a before webhook's error there.
_WEBHOOK_NAMES = {"before_save": "beforeSave", "after_save": "afterSave",
                  "before_delete": "beforeDelete", "after_delete": "afterDelete"}
_REFUSED = {"before_save": ParseError.FILE_SAVE_ERROR, "before_delete": ParseError.FILE_DELETE_ERROR}


def registered(rt, kind: str) -> bool:
    return (rt.cloud is not None and rt.cloud.trigger(kind, FILE_CLASS) is not None) or _webhook(rt, kind) is not None


def _webhook(rt, kind: str) -> Webhook | None:
    webhooks = getattr(rt, "webhooks", None)
    name = _WEBHOOK_NAMES.get(kind)
    return webhooks.table.trigger(FILE_CLASS, name) if webhooks is not None and name else None


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
        webhook = _webhook(rt, kind)
        if webhook is not None:
            await _call_webhook(rt, webhook, kind, caller, file, file_size)
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


async def _call_webhook(rt, webhook: Webhook, kind: str, caller: Caller, file: ParseFile,
                        file_size: int | None) -> None:
    """Parse's payload for a file trigger webhook: the file as `Parse.File.toJSON()` (no URL
    before it is saved), its size and who asks. Its error refuses a before trigger with the
    route's code (130 save, 153 delete) and the webhook's message; an after trigger's is logged."""
    auth = caller.auth
    body: dict[str, Any] = {"file": {"__type": "File", "name": file.name, **({"url": file.url} if file.url else {})},
                            "fileSize": file_size, "triggerName": _WEBHOOK_NAMES[kind],
                            "master": auth.master, "isReadOnly": auth.read_only}
    user = await user_of(rt.load_object, auth)
    if user is not None:
        body["user"] = user
    if caller.installation_id:
        body["installationId"] = caller.installation_id
    if caller.client_ip:
        body["ip"] = caller.client_ip
    try:
        await rt.webhooks.caller.call(webhook.url, body)
    except ParseError as e:
        if kind.startswith("after_"):
            logger.warning("%s webhook on @File failed for %s: %s", kind, file.name, e.message)
            return
        raise ParseError(_REFUSED[kind], e.message) from None
