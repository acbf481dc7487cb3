"""What every operator compiler shares: bind parameters, field paths, and element tests.

Nothing a user sends is spliced into SQL text: values, field names and paths are bind
parameters. The only identifiers placed in the text are table names, validated first
(`core/layout.py: table`), and the column names below.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from parsnip.core.errors import ParseError
from parsnip.core.layout import ISO_FORMAT

DATE_COLUMNS = {"createdAt": "created_at", "updatedAt": "updated_at"}

# Typed values whose stored form contains the query value, so jsonb containment (`@>`) tests
# equality and the GIN index (jsonb_path_ops) on `data` serves it.
_CONTAINABLE_TYPES = frozenset({"Pointer", "GeoPoint", "Bytes", "File"})


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


class Params:
    """Collects bind parameters and hands out their `$n` placeholders."""

    def __init__(self, start: int = 1, scalar_fields: frozenset[str] = frozenset(),
                 subquery_access: Any = None, indexed_scalars: frozenset[str] = frozenset()) -> None:
        self.values: list[Any] = []
        self._start = start
        # (subquery node, add) -> the SQL condition on rows of the subquery's class its caller
        # may read (core/security/guard.py: subquery_access); None reads every row (master).
        self.subquery_access = subquery_access
        # Top-level fields the schema says hold one String, Number or Boolean (never an array):
        # equality on them need not look into arrays. Those of them with a btree index on
        # (data->'f') get equality written for that index. Both are the outer class's: a
        # subquery's `where` is compiled without them (`for_subquery`).
        self.scalar_fields = scalar_fields
        self.indexed_scalars = indexed_scalars & scalar_fields

    @contextmanager
    def for_subquery(self) -> Iterator[None]:
        """Compile a subquery's `where`, on another class, without the outer class's field types."""
        saved = self.scalar_fields, self.indexed_scalars
        self.scalar_fields = self.indexed_scalars = frozenset()
        try:
            yield
        finally:
            self.scalar_fields, self.indexed_scalars = saved

    def add(self, value: Any, cast: str = "") -> str:
        if _has_nul(value):  # PostgreSQL text and jsonb cannot hold it, so nothing stored does
            raise ParseError(ParseError.INVALID_QUERY, "query values may not contain the NUL character")
        self.values.append(value)
        return f"${len(self.values) + self._start - 1}{cast}"


@dataclass(frozen=True, slots=True)
class Path:
    """A queried key: a column (objectId, createdAt, updatedAt, ACL) or a path into `data`."""

    key: str

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.key.split("."))

    @property
    def column(self) -> str | None:
        """The table column a top-level special key lives in, else None."""
        if self.key == "objectId":
            return "object_id"
        if self.key == "ACL":
            return "acl"
        return DATE_COLUMNS.get(self.key)

    @property
    def containable(self) -> bool:
        """Whether `data @> {...}` can address it: no column, no array-index segment."""
        return self.column is None and not any(p.isdigit() for p in self.parts[1:])

    def json(self, params: Params) -> str:
        """The key's value as jsonb, in Parse's REST encoding; SQL NULL when it is missing."""
        col = self.column
        if col == "object_id":
            return "to_jsonb(object_id)"
        if col == "acl":
            return "acl"
        if col is not None:
            return f"jsonb_build_object('__type', 'Date', 'iso', to_char({col} AT TIME ZONE 'UTC', {ISO_FORMAT}))"
        if len(self.parts) == 1:
            return f"(data -> {params.add(self.key, '::text')})"
        return f"(data #> {params.add(list(self.parts), '::text[]')})"

    def nest(self, value: Any) -> dict:
        """`{"a": {"b": value}}` for `a.b`: the document shape containment looks for."""
        for part in reversed(self.parts):
            value = {part: value}
        return value


def is_date(value: Any) -> bool:
    return isinstance(value, dict) and value.get("__type") == "Date"


def containable(value: Any) -> bool:
    """Whether `stored @> value` means "equals" for this query value."""
    if isinstance(value, (str, bool, int, float)):
        return True
    return isinstance(value, dict) and value.get("__type") in _CONTAINABLE_TYPES


def contained_form(value: Any) -> Any:
    """The part of a value that must be contained: a File is matched by its name alone (its
    URL is made on read and never stored)."""
    if isinstance(value, dict) and value.get("__type") == "File":
        return {"__type": "File", "name": value.get("name")}
    return value


def element_equals(expr: str, value: Any, params: Params) -> str:
    """`expr` (one jsonb value) equals the query `value`, Parse's way; may be NULL."""
    if value is None:
        return f"({expr} = 'null'::jsonb)"
    if is_date(value):
        from parsnip.core.values import parse_iso

        ts = params.add(parse_iso(value.get("iso")), "::timestamptz")
        return (f"(CASE WHEN {expr} ->> '__type' = 'Date' AND jsonb_typeof({expr} -> 'iso') = 'string'"
                f" THEN ({expr} ->> 'iso')::timestamptz = {ts} ELSE FALSE END)")
    if containable(value) and isinstance(value, dict):
        return f"({expr} @> {params.add(contained_form(value), '::jsonb')})"
    return f"({expr} = {params.add(value, '::jsonb')})"


def elements(expr: str) -> str:
    """The elements of `expr` when it is an array (none otherwise), as a FROM item `e(v)`."""
    return f"jsonb_array_elements(CASE WHEN jsonb_typeof({expr}) = 'array' THEN {expr} ELSE '[]'::jsonb END) AS e(v)"


def has_element(expr: str, value: Any, params: Params) -> str:
    """`expr` is an array with an element equal to `value`."""
    return f"EXISTS (SELECT 1 FROM {elements(expr)} WHERE {element_equals('e.v', value, params)})"
