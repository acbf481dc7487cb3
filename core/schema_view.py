"""A class as the schema API shows it: {"className", "fields", "classLevelPermissions",
"indexes"}, key for key in Parse Server's order.

A stored class reads back as Parse Server on PostgreSQL shows it: the implicit fields first,
then the stored ones, and every stored object's keys in jsonb's order. A class just created is
answered in the order it was sent (`created_view`).
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

from parsnip.core import schema_clp
from parsnip.core.commands import UNSET
from parsnip.core.schema import DEFAULT_FIELDS, SYSTEM_FIELDS, VOLATILE_CLASSES, ClassSchema, class_fields


def jsonb_order(value: Any) -> Any:
    """`value` with every object's keys as jsonb keeps them: shorter first, then bytewise."""
    if isinstance(value, dict):
        return {k: jsonb_order(value[k]) for k in sorted(value, key=lambda k: (len(k.encode()), k.encode()))}
    if isinstance(value, list):
        return [jsonb_order(v) for v in value]
    return value


def class_view(name: str, stored: ClassSchema | None) -> dict[str, Any]:
    """A class as GET /schemas shows it (`stored` None: a class that exists without being stored)."""
    stored = stored or ClassSchema()
    fields: dict[str, Any] = copy.deepcopy(class_fields(name))
    for field, t in jsonb_order(dict(stored.fields)).items():
        fields[field] = t
    out: dict[str, Any] = {"className": name, "fields": fields}
    out["classLevelPermissions"] = {} if name in VOLATILE_CLASSES else clp_view(stored.clp)
    if stored.indexes:
        out["indexes"] = jsonb_order(dict(stored.indexes))
    return out


def clp_view(stored: Mapping[str, Any] | None) -> dict[str, Any]:
    """Stored permissions with every operation first, or Parse's defaults when none were set."""
    if stored is None:
        return copy.deepcopy(schema_clp.DEFAULT_VIEW)
    out = {op: jsonb_order(stored.get(op, {})) for op in schema_clp.OPERATIONS}
    for key, value in jsonb_order(dict(stored)).items():
        out.setdefault(key, value)
    return out


def created_view(name: str, fields: Any, clp: Any, indexes: Any) -> dict[str, Any]:
    """The answer to POST /schemas: the class as sent, the ACL last."""
    shown: dict[str, Any] = {f: t for f, t in DEFAULT_FIELDS.items() if f != "ACL"}
    shown.update(SYSTEM_FIELDS.get(name, {}))
    if isinstance(fields, dict):
        shown.update(fields)
    shown["ACL"] = DEFAULT_FIELDS["ACL"]
    stored = schema_clp.stored_form(clp) if clp is not UNSET else None
    out: dict[str, Any] = {
        "className": name,
        "fields": copy.deepcopy(shown),
        "classLevelPermissions": stored if stored is not None else copy.deepcopy(schema_clp.DEFAULT_VIEW),
    }
    if isinstance(indexes, dict) and indexes:
        out["indexes"] = indexes
    return out
