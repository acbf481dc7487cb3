"""Constraints on a Relation key, read as Parse Server reads them: a relation is not a value of
its owner but the pairs in the relation table, so `{"likes": <pointer>}` (the SDKs' `equalTo`),
`$in`, `$nin` and `$ne` of pointers name the owners whose relation holds (or lacks) those
objects. Only their objectIds count, as in Parse. Other constraints on the key are left as
they are (they match nothing, as in Parse). A subquery's `where` ($inQuery, $notInQuery,
$select, $dontSelect) is read the same way against its own class, as Parse runs it as a find."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Mapping

from parsnip.core.query.ast import And, Compare, In, InQuery, InRelation, Node, Nor, Or, Select


# A class's field types by name: (class name) -> {field: {"type": ...}}.
FieldsOf = Callable[[str], Mapping[str, Mapping[str, Any]]]


def relation_constraints(node: Node, owner_class: str, fields_of: FieldsOf) -> Node:
    """`node` with each pointer constraint on a Relation key of `owner_class` made an InRelation,
    and so in every subquery, against the subquery's class."""
    if isinstance(node, (And, Or, Nor)):
        return type(node)(tuple(relation_constraints(n, owner_class, fields_of) for n in node.items))
    if isinstance(node, (InQuery, Select)):
        return replace(node, where=relation_constraints(node.where, node.class_name, fields_of))
    field = getattr(node, "field", None)
    if not isinstance(field, str) or (fields_of(owner_class).get(field) or {}).get("type") != "Relation":
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
