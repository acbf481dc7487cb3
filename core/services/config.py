"""Parse.Config: GET /config (anyone with the app's keys: the master-key-only parameters hidden)
and PUT /config (the master key: a change written as a CONFIG event, Cloud Code's `@Config`
triggers around it), as Parse Server's GlobalConfigRouter answers them.

Reads come from this node's copy (`Backend.global_config`), which every CONFIG event
delivered drops, this node's own on commit and other nodes' as the bus brings them.
"""

from __future__ import annotations

from typing import Any

from parsnip.core.cloud import config_triggers
from parsnip.core.commands import ConfigChange
from parsnip.core.global_config import GlobalConfig, read_change
from parsnip.core.services.access import require_master, require_writable
from parsnip.core.services.base import Backend, Caller, checked


async def current(rt: Backend) -> GlobalConfig:
    """The configuration, from this node's copy or (then kept) from the projection."""
    cache = rt.global_config
    found = cache.get()
    if found is not None:
        return found
    generation = cache.generation
    found = await rt.read(rt.projector.load_config)
    cache.put(found, generation)
    return found


async def get(rt: Backend, caller: Caller) -> dict[str, Any]:
    """GET /config's answer for the caller."""
    return (await current(rt)).view(caller.master)


async def update(rt: Backend, caller: Caller, body: Any) -> dict[str, Any]:
    """PUT /config: set, change or delete the parameters named; `{"result": true}`."""
    require_master(caller.auth)
    require_writable(caller.auth, "update the config")
    change: ConfigChange = await checked(caller, read_change, body)
    context = dict(caller.cloud_context or {})
    original = None
    if config_triggers.registered(rt.cloud, config_triggers.BEFORE_SAVE) or \
            config_triggers.registered(rt.cloud, config_triggers.AFTER_SAVE):
        before = await current(rt)
        original = before.params if before.version else None
        sent = {name: op.to_json() for name, op in change.params.items()}
        await config_triggers.run(rt, config_triggers.BEFORE_SAVE, caller, sent, original, context)
    [result] = await rt.write([change], caller.context, caller.auth)
    await config_triggers.run(rt, config_triggers.AFTER_SAVE, caller, result.fields["params"], original, context)
    return {"result": True}
