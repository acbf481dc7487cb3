"""What the LiveQuery server needs of the runtime, and its options read once from the config
(`liveQuery`, `liveQueryServerOptions`)."""

from __future__ import annotations

import re
from typing import Any, Protocol

from parsnip.core.layout import files_base

MAX_SUBSCRIPTIONS = 1000  # per connection; the benchmarks' largest is 500 (100,000 over 200)


class Runtime(Protocol):  # what the server needs of api/runtime.py's Runtime
    config: Any
    bus: Any
    schema: Any

    async def authenticate_session(self, token: str, installation_id: str | None = None) -> tuple: ...
    async def roles_of(self, user_id: str) -> frozenset[str]: ...
    async def read(self, fn, *args): ...


class Settings:
    """One node's LiveQuery options, as the server reads them."""

    def __init__(self, config: Any, files: Any = None) -> None:
        live = config.liveQuery or {}
        options = config.liveQueryServerOptions or {}
        self.app_id: str = config.appId
        self.key_pairs: dict[str, str] = dict(options.get("keyPairs") or {})
        self.timeout = float(options.get("websocketTimeout", 10_000)) / 1000.0  # seconds
        self.max_queue = int(options.get("maxQueue", 10_000))
        self.max_subscriptions = int(options.get("maxSubscriptionsPerConnection", MAX_SUBSCRIPTIONS))
        self.files_base = files_base(config, files)  # `files`: the node's files adapter
        self._class_names = [re.compile("^" + name + "$") for name in live.get("classNames", []) or []]
        self._enabled: dict[str, bool] = {}

    def publishes(self, class_name: str) -> bool:
        """Whether liveQuery.classNames lets this class's changes reach subscribers."""
        known = self._enabled.get(class_name)
        if known is None:
            known = self._enabled[class_name] = any(p.match(class_name) for p in self._class_names)
        return known
