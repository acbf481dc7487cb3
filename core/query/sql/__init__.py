"""Compile a query AST into a SQL condition over a projection table, every value a parameter.

The table layout this targets (named in `core/layout.py`, made by `projections/store.py`): `object_id text`, `created_at` and
`updated_at timestamptz`, `acl jsonb`, and `data jsonb` holding every other field in Parse's
REST encoding, with a GIN `jsonb_path_ops` index on `data`. User values, field names and paths
only ever appear as bind parameters; the only names in the SQL text are validated class names.

The operator families live in `fields.py` (equality, comparisons, $in/$nin, $all,
$containedBy, $exists), `regex.py`, `geo.py`; $text and the subqueries ($inQuery,
$notInQuery, $select, $dontSelect) are here, since the subqueries compile recursively.

Subqueries name another class's table, and PostgreSQL refuses a statement naming a table that
does not exist. So `compile_where` takes `tables`, a predicate saying which classes have a
table: a subquery on a class without one is decided in the compiler (it matches nothing).
`existing_tables(conn, where)` builds that predicate with one catalog query, and only when the
query has a subquery. Without `tables` every class is assumed to have its table.
"""

from __future__ import annotations

from typing import Any, Callable

from parsnip.core import layout
from parsnip.core.errors import ParseError
from parsnip.core.query.ast import check_key, walk
from parsnip.core.query.ast import (
    All, And, Compare, ContainedBy, Exists, In, InQuery, InRelation, Intersects, Near, Node, Nor, Or, Regex, RelatedTo,
    Select, Text,
    WithinBox, WithinPolygon, WithinSphere,
)
from parsnip.core.query.sql import fields, geo
from parsnip.core.query.sql.base import DATE_COLUMNS, Params, Path
from parsnip.core.query.sql.geo import compile_near_order
from parsnip.core.query.sql.regex import regex as _regex
from parsnip.core.schema import check_class_name, check_field_name

__all__ = ["Params", "compile_where", "compile_order", "compile_text_score", "compile_near_order", "existing_tables", "TEXT_SEARCH_CONFIGS"]

Tables = Callable[[str], bool]

# The text search configurations core PostgreSQL (15 and 16) ships; $language must be one.
TEXT_SEARCH_CONFIGS = frozenset(
    "arabic armenian basque catalan danish dutch english finnish french german greek hindi hungarian"
    " indonesian irish italian lithuanian nepali norwegian portuguese romanian russian serbian simple"
    " spanish swedish tamil turkish yiddish".split()
)

_SIMPLE = {
    Compare: fields.compare, In: fields.in_, All: fields.all_, ContainedBy: fields.contained_by,
    Exists: fields.exists, Regex: _regex, Near: geo.near, WithinBox: geo.within_box,
    WithinPolygon: geo.within_polygon, WithinSphere: geo.within_sphere, Intersects: geo.intersects,
}


def compile_where(node: Node, params: Params, tables: Tables | None = None) -> str:
    """A boolean SQL expression for `node` ("TRUE" for an empty query)."""
    if isinstance(node, (And, Or, Nor)):
        if not node.items:
            return "TRUE" if not isinstance(node, Or) else "FALSE"
        joiner = " AND " if isinstance(node, And) else " OR "
        inner = "(" + joiner.join(compile_where(n, params, tables) for n in node.items) + ")"
        return f"(NOT COALESCE({inner}, FALSE))" if isinstance(node, Nor) else inner
    simple = _SIMPLE.get(type(node))
    if simple is not None:
        return simple(node, params)
    if isinstance(node, Text):
        return _text(node, params)
    if isinstance(node, InQuery):
        return _in_query(node, params, tables)
    if isinstance(node, Select):
        return _select(node, params, tables)
    if isinstance(node, RelatedTo):
        return _related_to(node, params, tables)
    if isinstance(node, InRelation):
        return _in_relation(node, params)
    raise ParseError(ParseError.INVALID_QUERY, f"query operator not supported yet: {type(node).__name__}")


# -- $relatedTo ----------------------------------------------------------------------------

def _related_to(node: RelatedTo, params: Params, tables: Tables | None) -> str:
    """Members of one object's relation, from the relation table the projector keeps. The
    owner must exist and be readable by the caller: an owner it may not read answers as a
    missing one does (nothing), never as a way to list what it relates to."""
    members = (
        "(object_id IN (SELECT target_id FROM parsnip_relations WHERE owner_class = "
        f"{params.add(node.class_name, '::text')} AND field = {params.add(node.key, '::text')}"
        f" AND owner_id = {params.add(node.object_id, '::text')}))"
    )
    if params.subquery_access is None:  # an internal read: every owner is visible
        return members
    try:
        tbl = _table(node.class_name)
        readable = params.subquery_access(node, params.add)
    except ParseError:  # not a class name, or a class the caller may not read at all
        return "FALSE"
    if tables is not None and not tables(node.class_name):
        return "FALSE"
    owner = (f"EXISTS (SELECT 1 FROM {tbl} WHERE object_id = {params.add(node.object_id, '::text')}"
             f" AND {readable})")
    return f"({members} AND {owner})"


def _in_relation(node: InRelation, params: Params) -> str:
    """Owners whose relation holds one of the objects (or none of them), from the relation
    table's (owner_class, field, target_id) index."""
    check_class_name(node.owner_class)
    owners = (f"SELECT owner_id FROM parsnip_relations WHERE owner_class = {params.add(node.owner_class, '::text')}"
              f" AND field = {params.add(node.field, '::text')}"
              f" AND target_id = ANY({params.add(list(node.object_ids), '::text[]')})")
    return f"(object_id {'NOT IN' if node.negate else 'IN'} ({owners}))"


# -- $text ---------------------------------------------------------------------------------

def _text(node: Text, params: Params) -> str:
    """PostgreSQL full-text search (stemmed, in `language`) over a String key."""
    if node.case_sensitive:  # as Parse Server on PostgreSQL answers
        raise ParseError(
            ParseError.INVALID_JSON,
            "bad $text: $caseSensitive not supported, please use $regex or create a separate lower case column.",
        )
    if node.language not in TEXT_SEARCH_CONFIGS:
        raise ParseError(ParseError.INVALID_QUERY, f"bad $text: $language {node.language!r} is not supported")
    path = Path(node.field)
    if path.column is not None:
        return "FALSE"
    term = params.add(node.term, "::text")
    if len(path.parts) == 1:
        # Written out (the language is one of TEXT_SEARCH_CONFIGS, the key a checked name) so
        # that a GIN index on to_tsvector('<language>', data->>'<key>') serves it.
        check_field_name(node.field)
        lang = f"'{node.language}'::regconfig"
        text = f"(data->>'{node.field}')"
        # Plain conjuncts (NULL, not FALSE, for a missing key: only $nor negates, and it
        # wraps its operands in COALESCE), so the planner can take the first to the index.
        return (f"(to_tsvector({lang}, {text}) @@ websearch_to_tsquery({lang}, {term})"
                f" AND jsonb_typeof(data->'{node.field}') = 'string')")
    expr = path.json(params)
    lang = params.add(node.language, "::text") + "::regconfig"
    return (f"(CASE WHEN jsonb_typeof({expr}) = 'string' THEN to_tsvector({lang}, {expr} #>> '{{}}')"
            f" @@ websearch_to_tsquery({lang}, {term}) ELSE FALSE END)")


# -- subqueries ----------------------------------------------------------------------------

_table = layout.table


def _values_of(expr: str) -> str:
    """The key's value, or each element when it is an array, as a FROM item `e(v)`."""
    return (f"jsonb_array_elements(CASE WHEN jsonb_typeof({expr}) = 'array' THEN {expr}"
            f" ELSE jsonb_build_array({expr}) END) AS e(v)")


def _negated(matched: str, negate: bool) -> str:
    matched = f"COALESCE({matched}, FALSE)"
    return f"(NOT {matched})" if negate else matched


def _readable(node: InQuery | Select, params: Params) -> str:
    """The subquery sees only what its caller may read (ACL, pointer permissions)."""
    if params.subquery_access is None:
        return ""
    return params.subquery_access(node, params.add) + " AND "


def _in_query(node: InQuery, params: Params, tables: Tables | None) -> str:
    """$inQuery: the key is a Pointer (or an array holding one) to an object the subquery
    matches; $notInQuery: it is not (a missing key matches)."""
    if tables is not None and not tables(node.class_name):
        return _negated("FALSE", node.negate)
    tbl = _table(node.class_name)
    expr = Path(node.field).json(params)
    cls = params.add(node.class_name, "::text")
    with params.for_subquery():
        inner = compile_where(node.where, params, tables)
    ids = f"(SELECT object_id FROM {tbl} WHERE {_readable(node, params)}{inner})"
    matched = (f"EXISTS (SELECT 1 FROM {_values_of(expr)} WHERE e.v ->> '__type' = 'Pointer'"
               f" AND e.v ->> 'className' = {cls} AND e.v ->> 'objectId' IN {ids})")
    return _negated(matched, node.negate)


def _select(node: Select, params: Params, tables: Tables | None) -> str:
    """$select: the key's value (or an element of it) is the `key` of an object the subquery
    matches; $dontSelect: it is none of them."""
    if tables is not None and not tables(node.class_name):
        return _negated("FALSE", node.negate)
    tbl = _table(node.class_name)
    expr = Path(node.field).json(params)
    key = Path(node.key).json(params)  # resolved inside the subquery, on the other table
    with params.for_subquery():
        inner = compile_where(node.where, params, tables)
    values = f"(SELECT {key} FROM {tbl} WHERE {_readable(node, params)}{inner})"
    matched = f"({expr} IN {values} OR EXISTS (SELECT 1 FROM {_values_of(expr)} WHERE e.v IN {values}))"
    return _negated(matched, node.negate)


def subquery_classes(node: Node) -> set[str]:
    """Every class a subquery (at any depth) or a $relatedTo owner reads."""
    found: set[str] = set()
    if isinstance(node, (And, Or, Nor)):
        for item in node.items:
            found |= subquery_classes(item)
    elif isinstance(node, (InQuery, Select)):
        found.add(node.class_name)
        found |= subquery_classes(node.where)
    elif isinstance(node, RelatedTo):
        found.add(node.class_name)
    return found


def _is_class_name(name: str) -> bool:
    try:
        check_class_name(name)
        return True
    except ParseError:
        return False


async def existing_tables(conn: Any, where: Node) -> Tables | None:
    """Which of the classes the query's subqueries read have a table (one catalog query;
    None, meaning "all", when there are no subqueries)."""
    found = subquery_classes(where)
    if not found:
        return None
    names = sorted(n for n in found if _is_class_name(n))  # any other name has no table
    rows = await conn.fetch(
        "SELECT c FROM unnest($1::text[]) AS c WHERE to_regclass(quote_ident('p_' || c)) IS NOT NULL", names
    )
    present = frozenset(r[0] for r in rows)
    return present.__contains__


# -- order ---------------------------------------------------------------------------------

def compile_order(order: str, params: Params | None = None, score: str | None = None) -> str:
    """`score,-createdAt,o.k,$score` into an ORDER BY list.

    Dotted keys need `params` (their path is a parameter); `$score` needs the rank expression
    of the query's $text (`compile_text_score`) and sorts best first.
    """
    parts = []
    for raw in order.split(","):
        key = raw.strip()
        if not key:
            continue
        desc = key.startswith("-")
        name = key[1:] if desc else key
        if name == "$score":
            if score is None:
                raise ParseError(ParseError.INVALID_QUERY, "order by $score needs a $text query")
            parts.append(f"{score} DESC")
            continue
        if name in DATE_COLUMNS:
            expr = DATE_COLUMNS[name]
        elif name == "objectId":
            expr = "object_id"
        elif "." in name and params is not None:
            check_key(name)
            expr = f"data #> {params.add(name.split('.'), '::text[]')}"
        else:
            check_field_name(name)  # validated, so it is safe to place in the SQL text
            expr = f"data->'{name}'"
        parts.append(f"{expr} {'DESC' if desc else 'ASC'}")
    return ", ".join(parts)


def compile_text_score(where: Node, params: Params) -> str | None:
    """The relevance of a $text match (ts_rank_cd), for `order=$score` and `keys=$score`."""
    for node in walk(where):
        if isinstance(node, Text):
            path = Path(node.field)
            if path.column is not None:
                return None
            lang = params.add(node.language, "::text") + "::regconfig"
            text = f"({path.json(params)} #>> '{{}}')"
            return f"ts_rank_cd(to_tsvector({lang}, COALESCE({text}, '')), websearch_to_tsquery({lang}, {params.add(node.term, '::text')}))"
    return None
