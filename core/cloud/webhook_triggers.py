"""Trigger webhooks on the hook registry: Parse's payload for a save, delete or find hook, and
what the answer does. A beforeSave's `success` object becomes the request's data, as Parse's
`this.data = response.object` (fields it left out are not written, fields it changed are, and
an operator it echoes back stays an operator); an afterFind's `success` list replaces the
results; any `error` refuses the request (after hooks: logged by the pipeline, not answered).
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from parsnip.core.cloud.context import trigger_context
from parsnip.core.cloud.webhook_call import WebhookCaller
from parsnip.core.cloud.webhook_table import WebhookTable
from parsnip.core.operations import canonical, parse_op
from parsnip.core.errors import ParseError
from parsnip.core.pipeline.requests import AfterWriteRequest, DeleteRequest, FindRequest, SaveRequest
from parsnip.core.security.auth import Auth

# The caller's user as Parse's payload carries it (`user.toJSON()`), or None.
UserJson = Callable[[Auth], Awaitable["dict | None"]]

_SERVER_FIELDS = ("objectId", "createdAt", "updatedAt", "className")


def trigger_hooks(caller: WebhookCaller, user_json: UserJson):
    """The `make_hook` of a `WebhookTable`: a hook calling the trigger webhook stored now."""

    def make(table: WebhookTable, trigger_name: str, class_name: str):
        async def hook(req: Any) -> None:
            webhook = table.trigger(class_name, trigger_name)
            if webhook is None:  # removed since the registry was last matched to the table
                return
            result = await caller.call(webhook.url, await payload(trigger_name, req, user_json))
            if trigger_name == "beforeSave" and isinstance(result, dict):
                apply_before_save(req, result)
            elif trigger_name == "afterFind" and isinstance(result, list):
                req.objects = [o for o in result if isinstance(o, dict)]

        return hook

    return make


async def payload(trigger_name: str, req: Any, user_json: UserJson) -> dict[str, Any]:
    """Parse's webhook body for a trigger: the request's fields, its objects with `className`."""
    auth: Auth = req.auth
    body: dict[str, Any] = {"triggerName": trigger_name, "master": auth.master, "isReadOnly": auth.read_only}
    user = await user_json(auth)
    if user is not None:
        body["user"] = user
    if auth.installation_id:
        body["installationId"] = auth.installation_id
    ip = getattr(req.context, "client_ip", None) if req.context is not None else None
    if ip:
        body["ip"] = ip
    if isinstance(req, FindRequest):
        opts = req.query
        body["query"] = {"className": req.class_name, "limit": opts.limit, "skip": opts.skip,
                         **({"order": opts.order} if opts.order else {}),
                         **({"keys": ",".join(opts.keys)} if opts.keys is not None else {})}
        body["isGet"] = req.is_get
        if trigger_name == "afterFind":
            body["objects"] = req.objects
        return body
    body["object"] = _object_json(req)
    if req.original is not None:
        body["original"] = _with_identity(req.original, req.class_name, req.object_id)
    body["context"] = trigger_context(req)  # the client's, as Python triggers get it
    return body


async def user_of(load: Callable[[str, str], Awaitable["dict | None"]], auth: Auth) -> dict[str, Any] | None:
    """The caller's `_User` as Parse's payloads carry it: its fields, id and session token."""
    if auth.user_id is None:
        return None
    fields = await load("_User", auth.user_id)
    if fields is None:
        return None
    user = _with_identity(fields, "_User", auth.user_id)
    del user["className"]
    if auth.session_token:
        user["sessionToken"] = auth.session_token
    return user


def _object_json(req: Any) -> dict[str, Any]:
    if isinstance(req, SaveRequest):  # the stored fields with the request's operations, as Parse's toJSON
        fields = dict(req.original or {})
        fields.update({name: op.to_json() for name, op in req.ops.items()})
        return _with_identity(fields, req.class_name, req.object_id)
    if isinstance(req, DeleteRequest):
        return _with_identity(req.original or {}, req.class_name, req.object_id)
    assert isinstance(req, AfterWriteRequest)
    return _with_identity(req.object or {}, req.class_name, req.object_id)


def _with_identity(fields: dict[str, Any], class_name: str, object_id: str | None) -> dict[str, Any]:
    out = {k: v for k, v in fields.items() if not k.startswith("_")}
    if object_id:
        out["objectId"] = object_id
    out["className"] = class_name
    return out


def apply_before_save(req: SaveRequest, result: dict[str, Any]) -> None:
    """The webhook's object as the save's data: what it changed is set, an operator it answered
    applies, and a field the request set that it left out is not written."""
    sent = _object_json(req)
    for name, value in result.items():
        if name in _SERVER_FIELDS:
            continue
        if name in sent and _same(sent[name], value):
            continue
        op = parse_op(value)
        if op.kind == "Set":
            req.set(name, value)
        else:
            req.apply(name, op)
    for name in req.ops:
        if name not in result:
            original = req.original or {}
            if name in original:
                req.set(name, original[name])
            else:
                req.unset(name)


def _same(a: Any, b: Any) -> bool:
    try:
        return canonical(a) == canonical(b)
    except ParseError:
        return False
