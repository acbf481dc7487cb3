"""/hooks/functions and /hooks/triggers (the master key's): webhooks, over `core/services/hooks.py`.
A PUT with `{"__op": "Delete"}` deletes, as Parse Server and the Dashboard do it."""

from __future__ import annotations

from parsnip.api.routes import Reply
from parsnip.core.services import hooks


async def list_functions(rt, req) -> Reply:
    return Reply(await hooks.list_functions(rt, req.caller))


async def list_triggers(rt, req) -> Reply:
    return Reply(await hooks.list_triggers(rt, req.caller))


async def get_function(rt, req, function_name: str) -> Reply:
    return Reply(await hooks.get_function(rt, req.caller, function_name))


async def get_trigger(rt, req, class_name: str, trigger_name: str) -> Reply:
    return Reply(await hooks.get_trigger(rt, req.caller, class_name, trigger_name))


async def create(rt, req) -> Reply:
    return Reply(await hooks.create(rt, req.caller, req.body))


async def update_function(rt, req, function_name: str) -> Reply:
    return Reply(await hooks.update_function(rt, req.caller, function_name, req.body))


async def update_trigger(rt, req, class_name: str, trigger_name: str) -> Reply:
    return Reply(await hooks.update_trigger(rt, req.caller, class_name, trigger_name, req.body))
