"""Parse.Config, the app's global configuration: a PUT /config body read into a command, the
event payload a change makes of the current configuration, and the configuration as GET /config
shows it to a client or to the master key, all as Parse Server 9.10 does on PostgreSQL.

Parse stores each named parameter (`params.<name>`) and its master-key-only flag
(`masterKeyOnly.<name>`, false unless a truthy flag is sent); parameters not named are kept.
An operator applies as on an object's field (`{"__op": "Delete"}` removes the parameter; the
Dashboard deletes so); a null is stored as null. A flag sent for a parameter not named is
ignored, and a deleted parameter keeps its flag unless the flag is deleted too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from parsnip.core import js
from parsnip.core.commands import ConfigChange
from parsnip.core.errors import ParseError
from parsnip.core.events import CONFIG, Event
from parsnip.core.operations import apply as apply_op, parse_op
from parsnip.core.values import type_of


@dataclass(frozen=True)
class GlobalConfig:
    """The configuration as stored: parameters (REST encoding) and their flags, in stored
    order; `version` counts its changes (0: never saved, which Parse answers differently)."""

    params: dict[str, Any] = field(default_factory=dict)
    master_key_only: dict[str, Any] = field(default_factory=dict)
    version: int = 0

    def view(self, master: bool) -> dict[str, Any]:
        """GET /config's answer: a client does not see the parameters flagged master-key-only
        (nor their flags); a flag whose parameter is gone stays, as in Parse."""
        if self.version == 0:
            return {"params": {}}
        params, flags = dict(self.params), dict(self.master_key_only)
        if not master:
            for name in list(params):
                if js.truthy(flags.get(name)):
                    del params[name]
                    flags.pop(name, None)
        return {"params": params, "masterKeyOnly": flags}


def read_change(body: Any) -> ConfigChange:
    """PUT /config's body `{"params": {...}, "masterKeyOnly": {...}}` as a command; 107 for a
    body or part that is not an object, 105 for a bad name, the object rules' codes for values."""
    if not isinstance(body, dict):
        raise ParseError(ParseError.INVALID_JSON, "request body must be a JSON object")
    params = _part(body, "params")
    flags = _part(body, "masterKeyOnly")
    ops = {}
    for name, value in params.items():
        if not name or "\x00" in name:
            raise ParseError(ParseError.INVALID_KEY_NAME, f"Invalid parameter name: {name!r}")
        op = parse_op(value)
        if op.kind == "Relation":
            raise ParseError(ParseError.INVALID_JSON, "a configuration parameter cannot be a relation")
        ops[name] = op
    sent = {}
    for name in ops:
        flag = flags.get(name)
        if not _deletes(flag):
            type_of(flag)  # stored as sent when truthy: checked as any value
        sent[name] = flag
    return ConfigChange(ops, sent)


def _part(body: dict, key: str) -> dict:
    value = body.get(key)
    if not js.truthy(value):
        return {}  # Parse reads `body.params || {}`
    if not isinstance(value, dict):
        raise ParseError(ParseError.INVALID_JSON, f"{key} must be an object")
    return value


def _deletes(flag: Any) -> bool:
    return isinstance(flag, dict) and flag.get("__op") == "Delete"


def plan(change: ConfigChange, current: GlobalConfig) -> dict[str, Any] | None:
    """The CONFIG event payload (core/events.py) that `change` makes of `current`; None when
    it names no parameter (nothing to write)."""
    if not change.params:
        return None
    set_: dict[str, Any] = {}
    unset: list[str] = []
    flags: dict[str, Any] = {}
    for name, op in change.params.items():
        present, value = apply_op(op, current.params.get(name), name in current.params)
        if present:
            set_[name] = value
        else:
            unset.append(name)
        flag = change.master_key_only.get(name)
        flags[name] = None if _deletes(flag) else (flag if js.truthy(flag) else False)
    payload: dict[str, Any] = {"masterKeyOnly": flags}
    if set_:
        payload["set"] = set_
    if unset:
        payload["unset"] = unset
    return payload


def apply(current: GlobalConfig, payload: dict[str, Any]) -> GlobalConfig:
    """The configuration after a CONFIG event's payload (the order of stored keys aside)."""
    unset = set(payload.get("unset", ()))
    params = {k: v for k, v in current.params.items() if k not in unset}
    params.update(payload.get("set", {}))
    flags = dict(current.master_key_only)
    for name, flag in payload.get("masterKeyOnly", {}).items():
        if flag is None:
            flags.pop(name, None)
        else:
            flags[name] = flag
    return GlobalConfig(params, flags, current.version + 1)


class ConfigCache:
    """This node's copy of the configuration, dropped whenever a CONFIG event is delivered
    (this node's writes and, through the bus, every other node's)."""

    def __init__(self) -> None:
        self._value: GlobalConfig | None = None
        self.generation = 0

    def get(self) -> GlobalConfig | None:
        return self._value

    def put(self, value: GlobalConfig, generation: int) -> None:
        """Keep a read made at `generation`, unless the configuration changed since."""
        if generation == self.generation:
            self._value = value

    def invalidate(self) -> None:
        self.generation += 1
        self._value = None

    def watch(self, events: Iterable[Event]) -> None:
        """Drop the copy when any of `events` changes the configuration (callable from any thread)."""
        if any(getattr(ev, "kind", None) == CONFIG for ev in events):
            self.invalidate()
