"""Cloud functions (`POST /functions/{name}`, `Parse.Cloud.run`): find the user's function, check
its validator, run it, encode its result.

A `ParseError` from user code keeps its code; any other exception becomes 141 (SCRIPT_FAILED)
with its message, as Parse answers; its traceback goes to the log with the request id, never
to the client.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, Mapping

import trio

from parsnip.core.cloud import codec
from parsnip.core.cloud.errors import script_failed
from parsnip.core.cloud.requests import FunctionRequest
from parsnip.core.errors import ParseError
from parsnip.core.services.base import Caller

logger = logging.getLogger("parsnip.cloud")


async def run(rt: Any, caller: Caller, name: str, params: Mapping[str, Any], *,
              context: dict[str, Any] | None = None, headers: Mapping[str, str] | None = None) -> Any:
    """The Parse JSON of what the function `name` returns for `params` (None for nothing)."""
    cloud = getattr(rt, "cloud", None)
    found = cloud.functions.get(name) if cloud is not None else None
    if found is None:
        raise ParseError(ParseError.SCRIPT_FAILED, f'Invalid function: "{name}"')
    auth = caller.auth
    req = FunctionRequest(
        params=codec.decode(dict(params)), function_name=name, master=auth.master, is_read_only=auth.read_only,
        user_id=auth.user_id, installation_id=caller.installation_id, ip=caller.client_ip,
        headers={k.lower(): v for k, v in (headers or {}).items()}, context=context if context is not None else {},
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
        return codec.encode(await _invoke(found.handler, req))
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


async def _invoke(handler: Any, req: FunctionRequest) -> Any:
    """`async def` handlers are awaited; a plain `def` runs in a worker thread, so blocking user
    code never stops the trio loop."""
    if inspect.iscoroutinefunction(handler):
        return await handler(req)
    result = await trio.to_thread.run_sync(handler, req)
    if inspect.isawaitable(result):
        return await result
    return result
