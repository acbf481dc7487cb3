"""The node's webhooks (`/hooks`), as stored in the `_Hooks` class: loaded at start, loaded
again whenever a `_Hooks` event is delivered (this node's writes and those it follows from
other nodes alike), and the trigger webhooks kept registered on the hook registry.

A Python function or trigger of the same name wins over a webhook (Parse Server loads its
hooks before its cloud code, so there the cloud code wins after a restart).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import trio

from parsnip.core.pipeline.hooks import (
    AFTER_DELETE, AFTER_FIND, AFTER_SAVE, BEFORE_DELETE, BEFORE_FIND, BEFORE_SAVE, Hooks,
)

logger = logging.getLogger("parsnip.cloud")

HOOKS_CLASS = "_Hooks"

# Parse's trigger names (triggers.Types): a webhook may be stored for any of them.
TRIGGER_NAMES = ("beforeLogin", "afterLogin", "afterLogout", "beforePasswordResetRequest", "beforeSave", "afterSave",
                 "beforeDelete", "afterDelete", "beforeFind", "afterFind", "beforeConnect", "beforeSubscribe",
                 "afterEvent")
# Those that run on the hook registry (the others are stored and listed, not called yet).
HOOK_KINDS = {"beforeSave": BEFORE_SAVE, "afterSave": AFTER_SAVE, "beforeDelete": BEFORE_DELETE,
              "afterDelete": AFTER_DELETE, "beforeFind": BEFORE_FIND, "afterFind": AFTER_FIND}


@dataclass(frozen=True)
class Webhook:
    """One stored webhook: a function (`function_name`) or a trigger (`class_name`, `trigger_name`)."""

    url: str
    function_name: str | None = None
    class_name: str | None = None
    trigger_name: str | None = None
    object_id: str | None = None  # its `_Hooks` row

    def to_json(self) -> dict[str, str]:
        """As Parse answers it: `{functionName, url}` or `{className, triggerName, url}`."""
        if self.function_name is not None:
            return {"functionName": self.function_name, "url": self.url}
        return {"className": self.class_name, "triggerName": self.trigger_name, "url": self.url}

    @classmethod
    def of_row(cls, row: dict[str, Any]) -> "Webhook | None":
        url = row.get("url")
        if not isinstance(url, str):
            return None
        if isinstance(row.get("functionName"), str):
            return cls(url, function_name=row["functionName"], object_id=row.get("objectId"))
        if isinstance(row.get("className"), str) and isinstance(row.get("triggerName"), str):
            return cls(url, class_name=row["className"], trigger_name=row["triggerName"], object_id=row.get("objectId"))
        return None


# Makes the hook-registry function that calls one trigger webhook: (table, trigger name, class name) -> fn.
TriggerHook = Callable[["WebhookTable", str, str], Callable[[Any], Any]]


class WebhookTable:
    """The webhooks as last loaded, and their trigger hooks on `hooks`."""

    def __init__(self, hooks: Hooks, make_hook: TriggerHook, python_has: Callable[[str, str], bool],
                 load: Callable[[], Awaitable[list[dict[str, Any]]]]) -> None:
        self.functions: dict[str, Webhook] = {}
        self.triggers: dict[tuple[str, str], Webhook] = {}
        self._hooks = hooks
        self._make_hook = make_hook
        self._python_has = python_has  # (hook kind, class name) -> whether Cloud Code has that trigger
        self._load = load  # the `_Hooks` objects, oldest first
        self._installed: dict[tuple[str, str], Any] = {}
        self._changed = trio.Event()
        self._loading = trio.Lock()  # one load at a time, so an older one never lands last

    def function(self, name: str) -> Webhook | None:
        return self.functions.get(name)

    def trigger(self, class_name: str, trigger_name: str) -> Webhook | None:
        return self.triggers.get((class_name, trigger_name))

    def replace(self, rows: list[dict[str, Any]]) -> None:
        """Take `rows` (the `_Hooks` objects, oldest first) as the webhooks, and register or
        unregister trigger hooks to match."""
        functions: dict[str, Webhook] = {}
        triggers: dict[tuple[str, str], Webhook] = {}
        for row in rows:
            hook = Webhook.of_row(row)
            if hook is None:
                continue
            if hook.function_name is not None:
                functions[hook.function_name] = hook
            else:
                triggers[(hook.class_name, hook.trigger_name)] = hook
        self.functions, self.triggers = functions, triggers
        self._install()

    def _install(self) -> None:
        wanted = {key for key in self.triggers
                  if key[1] in HOOK_KINDS and not self._python_has(HOOK_KINDS[key[1]], key[0])}
        for key in list(self._installed):
            if key not in wanted:
                self._hooks.unregister(HOOK_KINDS[key[1]], key[0], self._installed.pop(key))
        for key in wanted - self._installed.keys():
            class_name, trigger_name = key
            fn = self._make_hook(self, trigger_name, class_name)
            self._installed[key] = self._hooks.register(HOOK_KINDS[trigger_name], class_name, fn)

    def watch(self, events: list[Any]) -> None:
        """A bus watcher: a delivered `_Hooks` event means the table must be loaded again."""
        if any(getattr(ev, "class_name", None) == HOOKS_CLASS for ev in events):
            self._changed.set()

    async def reload(self) -> None:
        """Load the table from `_Hooks` now."""
        async with self._loading:
            self.replace(await self._load())

    async def follow(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Load the table, report ready, then load it again after every change, for ever."""
        await self.reload()
        task_status.started()
        while True:
            await self._changed.wait()
            self._changed = trio.Event()
            try:
                await self.reload()
            except Exception as exc:  # noqa: BLE001 - an outage: try again shortly, keep the old table
                logger.warning("cannot reload the webhooks (%s: %s); retrying", type(exc).__name__, exc)
                await trio.sleep(1)
                self._changed.set()


def rows_of(texts: list[str]) -> list[dict[str, Any]]:
    """`_Hooks` objects from the JSON texts a find gives."""
    return [json.loads(t) for t in texts]
