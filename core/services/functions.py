"""Cloud functions (`POST /functions/{name}`, `Parse.Cloud.run`): find the user's function, check
its validator, run it, encode its result.

A `ParseError` from user code keeps its code; any other exception becomes 141 (SCRIPT_FAILED)
with its message, as Parse answers; its traceback goes to the log with the request id, never
to the client.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

from parsnip.core.cloud import binding, codec
from parsnip.core.cloud.errors import script_failed
from parsnip.core.cloud.requests import FunctionRequest, caller_user
from parsnip.core.cloud.invoke import call_handler
from parsnip.core.cloud.webhook_triggers import user_of
from parsnip.core.errors import ParseError
from parsnip.core.services.base import Caller

logger = logging.getLogger("parsnip.cloud")


async def run(rt: Any, caller: Caller, name: str, params: Mapping[str, Any], *,
              context: dict[str, Any] | None = None, headers: Mapping[str, str] | None = None) -> Any:
    """The Parse JSON of what the function `name` returns for `params` (None for nothing)."""
    cloud = getattr(rt, "cloud", None)
    found = cloud.functions.get(name) if cloud is not None else None
    if found is None:
        webhooks = getattr(rt, "webhooks", None)
        if webhooks is not None and webhooks.table.function(name) is not None:
            return await _call_webhook(rt, webhooks, caller, name, params, context, headers)
        raise ParseError(ParseError.SCRIPT_FAILED, f'Invalid function: "{name}"')
    with binding.bound(rt):  # ParseObject / ParseQuery in the handler act on this runtime
        return await _run(rt, caller, name, found, params, context, headers)


async def _run(rt: Any, caller: Caller, name: str, found: Any, params: Mapping[str, Any],
               context: dict[str, Any] | None, headers: Mapping[str, str] | None) -> Any:
    auth = caller.auth
    req = FunctionRequest(
        params=codec.decode(dict(params)), function_name=name, master=auth.master, is_read_only=auth.read_only,
        user=await caller_user(rt, auth), user_id=auth.user_id, installation_id=caller.installation_id,
        ip=caller.client_ip, headers={k.lower(): v for k, v in (headers or {}).items()},
        context=context if context is not None else {},
    )
    if found.validation is not None:
        try:
            await found.validation.check(req, has_user=auth.user_id is not None, roles=auth.roles,
                                         load_user=_user_of(rt, auth.user_id))
        except ParseError as refused:
            logger.info("cloud function %r refused by its validator request_id=%r: %s %s", name,
                        caller.request_id, refused.code, refused.message)
            raise
    try:
        return codec.encode(await call_handler(found.handler, req))
    except ParseError as err:
        logger.info("cloud function %r failed request_id=%r: %s %s", name, caller.request_id, err.code, err.message)
        raise
    except Exception as exc:
        logger.error("cloud function %r failed request_id=%r: %s: %s", name, caller.request_id,
                     type(exc).__name__, exc, exc_info=exc, extra={"request_id": caller.request_id})
        raise script_failed(exc) from None


def _user_of(rt: Any, user_id: str | None):
    """What a validator's `require_user_keys` reads: the caller's stored fields, when asked."""
    async def load() -> dict | None:
        return await rt.load_object("_User", user_id) if user_id is not None else None

    return load


async def _call_webhook(rt: Any, webhooks: Any, caller: Caller, name: str, params: Mapping[str, Any],
                        context: dict[str, Any] | None, headers: Mapping[str, str] | None) -> Any:
    """A function with no Python handler but a webhook (`/hooks/functions`): Parse's payload,
    the webhook's `success` as the result."""
    auth = caller.auth
    payload: dict[str, Any] = {"params": _dates_as_text(dict(params)), "master": auth.master, "isReadOnly": auth.read_only}
    user = await user_of(rt.load_object, auth)
    if user is not None:
        payload["user"] = user
    if caller.installation_id:
        payload["installationId"] = caller.installation_id
    payload.update({"headers": {k.lower(): v for k, v in (headers or {}).items()}, "ip": caller.client_ip,
                    "functionName": name, "context": context if context is not None else {}})
    try:
        return await webhooks.call_function(name, payload)
    except ParseError as err:
        logger.info("webhook function %r failed request_id=%r: %s %s", name, caller.request_id, err.code, err.message)
        raise


def _dates_as_text(value: Any) -> Any:
    """Params as Parse's webhook payload has them: Parse decodes them, and JSON writes a Date as
    its ISO text (other values keep their Parse JSON)."""
    if isinstance(value, list):
        return [_dates_as_text(v) for v in value]
    if isinstance(value, dict):
        if value.get("__type") == "Date" and isinstance(value.get("iso"), str):
            return value["iso"]
        return {k: _dates_as_text(v) for k, v in value.items()}
    return value
