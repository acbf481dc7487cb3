"""Webhooks (`/hooks/functions`, `/hooks/triggers`, the master key's): list, get, create,
update and delete them as Parse Server's HooksController does, with its error 143 messages.
They are `_Hooks` objects written through the normal write path (history keeps them); every
node loads them again when it sees a `_Hooks` event (`core/cloud/webhook_table.py`).
"""

from __future__ import annotations

from typing import Any

from parsnip.core.cloud.webhook_table import HOOKS_CLASS, TRIGGER_NAMES, Webhook, rows_of
from parsnip.core.commands import Create, Delete, Update
from parsnip.core.errors import ParseError
from parsnip.core.operations import Op
from parsnip.core.security.auth import MASTER
from parsnip.core.services import objects
from parsnip.core.services.access import require_master, require_writable
from parsnip.core.services.base import Backend, Caller

WEBHOOK_ERROR = 143  # Parse.Error.WEBHOOK_ERROR
_INVALID = "invalid hook declaration"
_STORED_LIMIT = 10_000


async def stored(rt: Backend) -> list[dict[str, Any]]:
    """The `_Hooks` objects, oldest first (what every node's table is loaded from)."""
    found = await objects.find(rt, Caller(MASTER), HOOKS_CLASS, {"limit": _STORED_LIMIT, "order": "createdAt"})
    return rows_of(found.results)


async def list_functions(rt: Backend, caller: Caller) -> list[dict[str, str]]:
    require_master(caller.auth)
    return [h.to_json() for h in await _hooks(rt) if h.function_name is not None]


async def list_triggers(rt: Backend, caller: Caller) -> list[dict[str, str]]:
    require_master(caller.auth)
    return [h.to_json() for h in await _hooks(rt) if h.function_name is None]


async def get_function(rt: Backend, caller: Caller, name: str) -> dict[str, str]:
    require_master(caller.auth)
    found = await _function(rt, name)
    if not found:
        raise ParseError(WEBHOOK_ERROR, f"no function named: {name} is defined")
    return found[0].to_json()


async def get_trigger(rt: Backend, caller: Caller, class_name: str, trigger_name: str) -> dict[str, str]:
    require_master(caller.auth)
    found = await _trigger(rt, class_name, trigger_name)
    if not found:
        raise ParseError(WEBHOOK_ERROR, f"class {class_name} does not exist")
    return found[0].to_json()


async def create(rt: Backend, caller: Caller, body: Any) -> dict[str, str]:
    """A new webhook from `{functionName, url}` or `{className, triggerName, url}`."""
    require_master(caller.auth)
    require_writable(caller.auth, "create a hook")
    body = body if isinstance(body, dict) else {}
    if _given(body.get("functionName")):
        name = body["functionName"]
        if await _function(rt, name):
            raise ParseError(WEBHOOK_ERROR, f"function name: {name} already exists")
        hook = _declared(body)
    elif _given(body.get("className")) and _given(body.get("triggerName")):
        class_name, trigger_name = body["className"], body["triggerName"]
        if await _trigger(rt, class_name, trigger_name):
            raise ParseError(WEBHOOK_ERROR, f"class {class_name} already has trigger {trigger_name}")
        hook = _declared(body)
    else:
        raise ParseError(WEBHOOK_ERROR, _INVALID)
    await rt.write([Create(HOOKS_CLASS, _ops(hook))], caller.context, MASTER)
    await _reload(rt)
    return _answer(hook)


async def update_function(rt: Backend, caller: Caller, name: str, body: Any) -> dict[str, str]:
    """PUT /hooks/functions/{name}: a new url, or `{"__op": "Delete"}` to delete it."""
    return await _update(rt, caller, body, {"functionName": name}, lambda: _function(rt, name),
                         f"no function named: {name} is defined")


async def update_trigger(rt: Backend, caller: Caller, class_name: str, trigger_name: str, body: Any) -> dict:
    """PUT /hooks/triggers/{className}/{triggerName}: a new url, or `{"__op": "Delete"}`."""
    return await _update(rt, caller, body, {"className": class_name, "triggerName": trigger_name},
                         lambda: _trigger(rt, class_name, trigger_name), f"class {class_name} does not exist")


async def _update(rt: Backend, caller: Caller, body: Any, names: dict[str, str], find, missing: str) -> dict:
    require_master(caller.auth)
    require_writable(caller.auth, "modify a hook")
    body = body if isinstance(body, dict) else {}
    if body.get("__op") == "Delete":
        found = await find()
        if found:
            await rt.write([Delete(HOOKS_CLASS, h.object_id) for h in found], caller.context, MASTER)
            await _reload(rt)
        return {}
    if not _given(body.get("url")):
        raise ParseError(WEBHOOK_ERROR, _INVALID)
    found = await find()
    if not found:
        raise ParseError(WEBHOOK_ERROR, missing)
    hook = _declared({**names, "url": body["url"]})
    await rt.write([Update(HOOKS_CLASS, h.object_id, {"url": Op("Set", hook.url)}) for h in found],
                   caller.context, MASTER)
    await _reload(rt)
    return _answer(hook)


def _declared(body: dict[str, Any]) -> Webhook:
    """The webhook a body declares (Parse's createOrUpdateHook), or 143 "invalid hook declaration"."""
    url = body.get("url")
    if not (_given(url) and isinstance(url, str)):
        raise ParseError(WEBHOOK_ERROR, _INVALID)
    name = body.get("functionName")
    if _given(name):
        if not isinstance(name, str):
            raise ParseError(WEBHOOK_ERROR, _INVALID)
        return Webhook(url, function_name=name)
    class_name, trigger_name = body.get("className"), body.get("triggerName")
    if isinstance(class_name, str) and class_name and trigger_name in TRIGGER_NAMES:
        return Webhook(url, class_name=class_name, trigger_name=trigger_name)
    raise ParseError(WEBHOOK_ERROR, _INVALID)


def _answer(hook: Webhook) -> dict[str, str]:
    """A created or updated webhook as Parse answers it (its keys in Parse's order)."""
    if hook.function_name is not None:
        return {"functionName": hook.function_name, "url": hook.url}
    return {"className": hook.class_name, "url": hook.url, "triggerName": hook.trigger_name}


def _ops(hook: Webhook) -> dict[str, Op]:
    return {k: Op("Set", v) for k, v in hook.to_json().items()}


def _given(value: Any) -> bool:
    """JavaScript's truthiness, as Parse tests the declaration's fields."""
    return value not in (None, False, "", 0) and not (isinstance(value, float) and value != value)


async def _hooks(rt: Backend) -> list[Webhook]:
    return [h for h in (Webhook.of_row(row) for row in await stored(rt)) if h is not None]


async def _function(rt: Backend, name: Any) -> list[Webhook]:
    return [h for h in await _hooks(rt) if h.function_name == name]


async def _trigger(rt: Backend, class_name: Any, trigger_name: Any) -> list[Webhook]:
    return [h for h in await _hooks(rt) if h.function_name is None
            and h.class_name == class_name and h.trigger_name == trigger_name]


async def _reload(rt: Backend) -> None:
    """This node's table at once (the bus tells the others, and this one again)."""
    table = getattr(rt, "webhooks", None)
    if table is not None:
        await table.table.reload()
