"""The query a find trigger sees (`req.query`): a small view over the read pipeline's
`FindOptions` with Parse's query methods in snake_case, so a before_find trigger can narrow
the query (constraints are added to the client's, as Parse's `query.equalTo` in beforeFind
is), change its limit, skip, order, keys and include, or return a query to run instead.

Until `ParseQuery` exists this is the query's public face; it stands on the same names."""

from __future__ import annotations

import dataclasses
from typing import Any

from parsnip.core.cloud import codec
from parsnip.core.query.ast import And, check_key, parse_where
from parsnip.core.reads import FindOptions


def _quote(text: str) -> str:
    """A literal inside a regular expression, as Parse's SDKs quote it."""
    return "\\Q" + text.replace("\\E", "\\E\\\\E\\Q") + "\\E"


class TriggerQuery:
    """A find's query as a trigger may change it; every method returns the query (chainable)."""

    def __init__(self, class_name: str, options: FindOptions) -> None:
        self.class_name = class_name
        self._options = options

    def options(self) -> FindOptions:
        """The query as the reader will run it."""
        return self._options

    def _set(self, **changes: Any) -> "TriggerQuery":
        self._options = dataclasses.replace(self._options, **changes)
        return self

    # -- constraints, added to what the client asked ------------------------------------------
    def where(self, constraints: dict[str, Any]) -> "TriggerQuery":
        """Add a Parse `where` object (REST JSON, or Python values Parse-encoded here)."""
        node = parse_where(codec.encode(constraints))
        current = self._options.where
        return self._set(where=node if current == And(()) else And((current, node)))

    def _op(self, key: str, op: str, value: Any) -> "TriggerQuery":
        return self.where({key: {op: value}})

    def equal_to(self, key: str, value: Any) -> "TriggerQuery":
        return self._op(key, "$eq", value)

    def not_equal_to(self, key: str, value: Any) -> "TriggerQuery":
        return self._op(key, "$ne", value)

    def less_than(self, key: str, value: Any) -> "TriggerQuery":
        return self._op(key, "$lt", value)

    def less_than_or_equal_to(self, key: str, value: Any) -> "TriggerQuery":
        return self._op(key, "$lte", value)

    def greater_than(self, key: str, value: Any) -> "TriggerQuery":
        return self._op(key, "$gt", value)

    def greater_than_or_equal_to(self, key: str, value: Any) -> "TriggerQuery":
        return self._op(key, "$gte", value)

    def contained_in(self, key: str, values: list) -> "TriggerQuery":
        return self._op(key, "$in", list(values))

    def not_contained_in(self, key: str, values: list) -> "TriggerQuery":
        return self._op(key, "$nin", list(values))

    def contains_all(self, key: str, values: list) -> "TriggerQuery":
        return self._op(key, "$all", list(values))

    def exists(self, key: str) -> "TriggerQuery":
        return self._op(key, "$exists", True)

    def does_not_exist(self, key: str) -> "TriggerQuery":
        return self._op(key, "$exists", False)

    def starts_with(self, key: str, prefix: str) -> "TriggerQuery":
        return self._op(key, "$regex", "^" + _quote(prefix))

    def ends_with(self, key: str, suffix: str) -> "TriggerQuery":
        return self._op(key, "$regex", _quote(suffix) + "$")

    def contains(self, key: str, text: str) -> "TriggerQuery":
        return self._op(key, "$regex", _quote(text))

    # -- options ------------------------------------------------------------------------------
    def limit(self, n: int) -> "TriggerQuery":
        return self._set(limit=max(int(n), 0))

    def skip(self, n: int) -> "TriggerQuery":
        return self._set(skip=max(int(n), 0))

    def ascending(self, *keys: str) -> "TriggerQuery":
        return self._order(list(keys), replace=True)

    def descending(self, *keys: str) -> "TriggerQuery":
        return self._order(["-" + k for k in keys], replace=True)

    def add_ascending(self, *keys: str) -> "TriggerQuery":
        return self._order(list(keys), replace=False)

    def add_descending(self, *keys: str) -> "TriggerQuery":
        return self._order(["-" + k for k in keys], replace=False)

    def _order(self, keys: list[str], replace: bool) -> "TriggerQuery":
        for key in keys:
            check_key(key.lstrip("-"))
        current = [] if replace or not self._options.order else self._options.order.split(",")
        return self._set(order=",".join(current + keys) or None)

    def select(self, *keys: str) -> "TriggerQuery":
        """Only these fields (Parse's `select`); a dotted key includes the pointer it goes through."""
        for key in keys:
            check_key(key)
        include = {*self._options.include, *(k.rsplit(".", 1)[0] for k in keys if "." in k)}
        return self._set(keys=[*(self._options.keys or ()), *keys], include=sorted(include))

    def include(self, *keys: str) -> "TriggerQuery":
        for key in keys:
            if key != "*":
                check_key(key)
        return self._set(include=sorted({*self._options.include, *keys}))

    def exclude(self, *keys: str) -> "TriggerQuery":
        for key in keys:
            check_key(key)
        return self._set(exclude_keys=[*self._options.exclude_keys, *keys])

    # -- reading it ---------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The options as Parse's query JSON names them (the `where` stays parsed, not shown)."""
        o = self._options
        shown: dict[str, Any] = {"className": self.class_name, "limit": o.limit, "skip": o.skip}
        if o.order:
            shown["order"] = o.order
        if o.keys is not None:
            shown["keys"] = ",".join(o.keys)
        if o.include:
            shown["include"] = ",".join(o.include)
        if o.exclude_keys:
            shown["excludeKeys"] = ",".join(o.exclude_keys)
        if o.count:
            shown["count"] = 1
        return shown
