"""The subscriptions of one node, indexed so an event meets only the queries it can concern.

Identical queries (one class, one `where`, compared as canonical JSON) are one `Query`, matched
once per event however many clients hold it. Each Query is filed under one equality or `$in`
constraint of its top-level conjunction (`room == "r1"`, `objectId == x`, `status in [...]`):
an event looks up the values its object has (before and after the change) in those fields and
meets only the Queries filed under them, plus the few with no such constraint. The index is a
filter only: every candidate is still matched in full by `core/query/match.py`, so an index key
must never miss an object the matcher would accept (values that compare loosely, such as Dates,
are not used as keys). Adding and removing a subscription cost O(1) whatever the number of
others.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Hashable, Iterable, Iterator

from parsnip.core.query.ast import And, Compare, In, Node

_MISSING = object()


@dataclass(eq=False)
class Query:
    class_name: str
    where_key: str
    node: Node
    index: tuple[str, tuple[Hashable, ...]] | None  # (field, keys) it is filed under
    subscriptions: dict[Any, None] = field(default_factory=dict)  # insertion-ordered set
    compiled: list = field(default_factory=list)  # its regular expressions, kept compiled while it lives


@dataclass
class _ClassIndex:
    scan: dict[Query, None] = field(default_factory=dict)
    fields: dict[str, dict[Hashable, dict[Query, None]]] = field(default_factory=dict)


class Registry:
    def __init__(self) -> None:
        self._queries: dict[tuple[str, str], Query] = {}
        self._classes: dict[str, _ClassIndex] = {}
        self.subscription_count = 0

    def query_for(self, class_name: str, where: dict, node: Node) -> Query:
        """The shared Query for this class and `where` (made and indexed on first use)."""
        key = json.dumps(where, sort_keys=True, separators=(",", ":"))
        query = self._queries.get((class_name, key))
        if query is None:
            query = Query(class_name, key, node, index_of(node))
            self._queries[(class_name, key)] = query
            idx = self._classes.setdefault(class_name, _ClassIndex())
            if query.index is None:
                idx.scan[query] = None
            else:
                name, keys = query.index
                table = idx.fields.setdefault(name, {})
                for k in keys:
                    table.setdefault(k, {})[query] = None
        return query

    def add(self, query: Query, subscription: Any) -> None:
        query.subscriptions[subscription] = None
        self.subscription_count += 1

    def remove(self, query: Query, subscription: Any) -> None:
        if query.subscriptions.pop(subscription, _MISSING) is _MISSING:
            return
        self.subscription_count -= 1
        if query.subscriptions:
            return
        del self._queries[(query.class_name, query.where_key)]
        idx = self._classes[query.class_name]
        if query.index is None:
            idx.scan.pop(query, None)
        else:
            name, keys = query.index
            table = idx.fields[name]
            for k in keys:
                bucket = table.get(k)
                if bucket is not None:
                    bucket.pop(query, None)
                    if not bucket:
                        del table[k]
            if not table:
                del idx.fields[name]
        if not idx.scan and not idx.fields:
            del self._classes[query.class_name]

    def has_class(self, class_name: str) -> bool:
        return class_name in self._classes

    def queries_of(self, class_name: str) -> Iterator[Query]:
        for (cls, _), query in list(self._queries.items()):
            if cls == class_name:
                yield query

    def candidates(self, class_name: str, objects: Iterable[dict | None]) -> list[Query]:
        """The Queries an event on these object states (before, after) may concern."""
        idx = self._classes.get(class_name)
        if idx is None:
            return []
        found: dict[Query, None] = dict(idx.scan)
        for name, table in idx.fields.items():
            for obj in objects:
                if obj is None:
                    continue
                value = obj.get(name, _MISSING)
                if value is _MISSING:
                    continue
                for k in _object_keys(value):
                    bucket = table.get(k)
                    if bucket:
                        found.update(bucket)
        return list(found)


def index_of(node: Node) -> tuple[str, tuple[Hashable, ...]] | None:
    """The constraint a Query is filed under: an equality first, else a (non-negated) $in."""
    items = node.items if isinstance(node, And) else (node,)
    best = None
    for item in items:
        if item_field(item) is None:
            continue
        if isinstance(item, Compare) and item.op == "eq" and not item.relative:
            k = value_key(item.value)
            if k is not None:
                return item.field, (k,)
        if best is None and isinstance(item, In) and not item.negate and item.values:
            keys = [value_key(v) for v in item.values]
            if all(k is not None for k in keys):
                best = (item.field, tuple(dict.fromkeys(keys)))
    return best


# createdAt/updatedAt compare as instants (two spellings of one instant are equal), ACL has no
# equality: never index keys.
_UNINDEXED = frozenset({"createdAt", "updatedAt", "ACL"})


def item_field(item: Node) -> str | None:
    name = getattr(item, "field", None)
    if not isinstance(name, str) or "." in name or name in _UNINDEXED:
        return None
    return name


def value_key(value: Any) -> Hashable | None:
    """A hashable key equal for values the matcher calls equal; None for values not indexed."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float)):
        return ("n", float(value))
    if isinstance(value, dict) and value.get("__type") == "Pointer":
        cls, oid = value.get("className"), value.get("objectId")
        if isinstance(cls, str) and isinstance(oid, str):
            return ("p", cls, oid)
    return None


def _object_keys(value: Any) -> list[Hashable]:
    """Keys under which an object's field value can meet an equality ($in) constraint: the
    value itself, or, for an array (equality means "contains"), each element."""
    if isinstance(value, list):
        return [k for v in value if (k := value_key(v)) is not None]
    k = value_key(value)
    return [] if k is None else [k]
