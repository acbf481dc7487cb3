"""Constraints on a Relation key, read as Parse Server reads them: a relation is not a value of
its owner but the pairs in the relation table, so `{"likes": <pointer>}` (the SDKs' `equalTo`),
`$in`, `$nin` and `$ne` of pointers name the owners whose relation holds (or lacks) those
objects. Only their objectIds count, as in Parse. Other constraints on the key are left as
they are (they match nothing, as in Parse)."""

from __future__ import annotations

from typing import Any, Callable, Mapping

from parsnip.core.query.ast import And, Compare, In, InRelation, Node, Nor, Or


def relation_constraints(node: Node, owner_class: str, field_type: Callable[[str], Mapping[str, Any] | None]) -> Node:
    """`node` with each pointer constraint on a Relation key of `owner_class` made an InRelation."""
    if isinstance(node, (And, Or, Nor)):
        return type(node)(tuple(relation_constraints(n, owner_class, field_type) for n in node.items))
    field = getattr(node, "field", None)
    if not isinstance(field, str) or (field_type(field) or {}).get("type") != "Relation":
        return node
    if isinstance(node, Compare) and node.op in ("eq", "ne") and _pointer_id(node.value) is not None:
        return InRelation(field, owner_class, (_pointer_id(node.value),), negate=node.op == "ne")
    if isinstance(node, In) and all(_pointer_id(v) is not None for v in node.values):
        return InRelation(field, owner_class, tuple(_pointer_id(v) for v in node.values), negate=node.negate)
    return node


def _pointer_id(value: Any) -> str | None:
    if isinstance(value, dict) and value.get("__type") == "Pointer" and isinstance(value.get("objectId"), str):
        return value["objectId"]
    return None
