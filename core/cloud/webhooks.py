"""A node's webhooks put together (`Runtime.webhooks`): the table loaded from `_Hooks` and
followed (`webhook_table.py`), the HTTP client that calls them (`webhook_call.py`), their
trigger hooks on the hook registry (`webhook_triggers.py`). Opened by the runtime, whose
nursery runs the reloading; the client closes with it."""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, AsyncIterator

import trio

from parsnip.core.cloud.webhook_call import WebhookCaller
from parsnip.core.cloud.webhook_table import WebhookTable
from parsnip.core.cloud.webhook_triggers import trigger_hooks, user_of
from parsnip.core.services.hooks import stored


@dataclass
class Webhooks:
    table: WebhookTable
    caller: WebhookCaller

    async def call_function(self, name: str, payload: dict[str, Any]) -> Any:
        """The `success` of the function webhook `name` (which must exist) for `payload`."""
        hook = self.table.function(name)
        assert hook is not None
        return await self.caller.call(hook.url, payload)


@asynccontextmanager
async def open_webhooks(rt: Any, nursery: trio.Nursery) -> AsyncIterator[Webhooks]:
    """Load the webhooks, follow `_Hooks` events in `nursery`, and close the client on exit."""
    caller = WebhookCaller(rt.config.webhookKey)
    try:
        table = WebhookTable(  # `rt.cloud` read at each load: a --dev reload may change it
            rt.hooks, trigger_hooks(caller, lambda auth: user_of(rt.load_object, auth)),
            python_has=lambda kind, class_name: rt.cloud is not None and rt.cloud.trigger(kind, class_name) is not None,
            load=lambda: stored(rt))
        rt.bus.watch(table.watch)
        await nursery.start(table.follow)
        yield Webhooks(table, caller)
    finally:
        with trio.CancelScope(shield=True):
            await caller.aclose()
