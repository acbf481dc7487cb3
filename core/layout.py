"""The projection layout, in one place: each class's table and the SQL that turns a row into
the object's Parse JSON (objectId, createdAt, updatedAt, the data fields, File URLs, ACL).

`core` writes these names into its own queries (logins, sessions, roles, subqueries) and
`projections` creates, changes and reads the tables; both take them from here. The SQL text
is the very text the reads have always sent, so their plans and costs do not change.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from parsnip.core.schema import check_class_name, check_field_name

TABLE_PREFIX = "p_"


def table_name(class_name: str) -> str:
    """The unquoted name of a class's projection table (as `pg_indexes.tablename` holds it)."""
    return TABLE_PREFIX + class_name


def table(class_name: str) -> str:
    """The quoted table of a class, for SQL text; the name is validated, so quoting is safe."""
    check_class_name(class_name)
    return f'"{TABLE_PREFIX}{class_name}"'


# The system classes' tables, for core's fixed queries.
USER_TABLE = f'"{TABLE_PREFIX}_User"'
SESSION_TABLE = f'"{TABLE_PREFIX}_Session"'
ROLE_TABLE = f'"{TABLE_PREFIX}_Role"'
INSTALLATION_TABLE = f'"{TABLE_PREFIX}_Installation"'

# PostgreSQL's message when a class's table is missing (dropped by another node, say).
MISSING_TABLE = re.compile(r'relation "' + TABLE_PREFIX + r'([^"]+)" does not exist')

# Dates as Parse writes them: ISO 8601 in UTC with milliseconds.
ISO_FORMAT = """'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'"""

# The columns every object has, as jsonb.
BASE_JSON = (
    "jsonb_build_object('objectId', object_id,"
    f" 'createdAt', to_char(created_at AT TIME ZONE 'UTC', {ISO_FORMAT}),"
    f" 'updatedAt', to_char(updated_at AT TIME ZONE 'UTC', {ISO_FORMAT}))"
)
ACL_JSON = "CASE WHEN acl IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('ACL', acl) END"
# The whole stored object as jsonb (no File URLs: aggregate pipelines work on this).
DOCUMENT = f"({BASE_JSON} || data || {ACL_JSON})"


def files_base(config: Any, adapter: Any = None) -> str:
    """Where a File's URL starts, as Parse Server gives it: the files adapter's own prefix
    (`direct_base`: S3 with directAccess), else `<publicServerURL>/files/<appId>/`."""
    direct = adapter.direct_base() if adapter is not None else None
    return direct or f"{config.publicServerURL or config.serverURL}/files/{config.appId}/"


def file_url(base: str, name: str) -> str:
    """A file's URL: the files base and its name as JavaScript's encodeURIComponent writes it
    (Parse's names hold letters, digits and `@. ~_-`: only the space and `@` change)."""
    return base + name.replace(" ", "%20").replace("@", "%40")


def file_urls_json(file_fields: Sequence[str], base_param: str | None) -> str:
    """` || ...` terms giving each File field its `url` (the files base, a bind parameter, and
    the file's name encoded as `file_url` does)."""
    out = ""
    for name in file_fields:
        check_field_name(name)  # validated, so it is safe in the SQL text
        col = f"data->'{name}'"
        out += (
            f" || CASE WHEN jsonb_typeof({col}) = 'object' THEN jsonb_build_object('{name}',"
            f" {col} || jsonb_build_object('url', {base_param} || replace(replace({col}->>'name', ' ', '%20'), '@', '%40'))) ELSE '{{}}'::jsonb END"
        )
    return out


def object_json(keys_param: str | None, file_fields: Sequence[str] = (), base_param: str | None = None,
                exclude_param: str | None = None, score: str | None = None, hidden: str | None = None) -> str:
    """The SQL expression of one row's Parse JSON as text: `keys` kept, `excludeKeys` and
    `hidden` keys dropped, File URLs made, and `score` ($text relevance) when asked for."""
    fields = "data" if hidden is None else f"(data - ({hidden}))"
    if keys_param is not None:
        fields = f"COALESCE((SELECT jsonb_object_agg(k, v) FROM jsonb_each({fields}) AS e(k, v) WHERE k = ANY({keys_param})), '{{}}'::jsonb)"
    if exclude_param is not None:
        fields = f"({fields} - {exclude_param})"
    files = file_urls_json(file_fields, base_param) if file_fields else ""
    if score is not None:  # keys=$score: the $text relevance, as Parse Server on Postgres names it
        files += f" || jsonb_build_object('score', {score})"
    return f"({BASE_JSON} || {fields}{files} || {ACL_JSON})::text"


# -- the history projection -------------------------------------------------------------------
# One row per version of each object of a class, with the log positions it was valid for:
# [valid_from, valid_to), valid_to NULL for the version in effect now (projections/history.py).
HISTORY_PREFIX = "h_"


def history_table_name(class_name: str) -> str:
    """The unquoted name of a class's history table."""
    return HISTORY_PREFIX + class_name


def history_table(class_name: str) -> str:
    """The quoted history table of a class, for SQL text (the name is validated)."""
    check_class_name(class_name)
    return f'"{HISTORY_PREFIX}{class_name}"'


def valid_at(position_sql: str) -> str:
    """The condition on a history row that it was the version in effect at `position_sql`:
    [valid_from, valid_to), unbounded while valid_to is NULL. Spelled as the history table's
    `_valid` GiST index spells it, so the planner can use the index."""
    return f"int8range(valid_from, valid_to) @> {position_sql}"


def as_of_table(class_name: str, position_sql: str) -> str:
    """A FROM item with the live table's columns holding the class as it was at the log position
    `position_sql` (a SQL expression): the versions valid then, deleted ones left out."""
    return (f"(SELECT object_id, version, created_at, updated_at, acl, data FROM {history_table(class_name)}"
            f" WHERE {valid_at(position_sql)} AND NOT deleted) AS as_of")
