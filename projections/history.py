"""The history projection: every version of every object, with the log positions it was valid for.

One table per class (`core/layout.py: history_table`, `"h_<ClassName>"`), beside the live one:
object_id, version, valid_from (the position of the event that made this version), valid_to
(the position of the next change to the object; NULL for the version in effect now),
created_at, updated_at, acl and data as the live table holds them, `deleted` (the object was
deleted at valid_from: the row keeps the last state, so a restore can bring it back) and
`kind`, what made the row (the object's own events; `purge`; `schema` for a field deletion,
which closes the versions holding the field and opens copies without it, with the same
version, so time travel after the deletion no longer shows the field, and before it still does).

The class's state as of a position P is the rows with valid_from <= P < valid_to and not
deleted (`core/layout.py: as_of_table`). History is never rewritten: an object's delete, a
purge and a class drop leave its rows (a class dropped and made again keeps its old history);
only an erasure (`core/erasure.py`) takes an object's rows away, with its data in the log.

The writer's batch writes its history in the log's own append statement (`rider`: per class
touched, two CTEs that close the versions the batch replaces and insert the new ones, however
many events the group commit holds, at the positions the append gives). A batch with a purge,
a field deletion or an erasure, and a rebuild, call `record` once the events have positions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Sequence

import asyncpg

from parsnip.core import json_input
from parsnip.core.events import CREATE, DELETE, ERASE, PURGE, RESTORE, SCHEMA, UPDATE, Event, created_at, restored
from parsnip.core.layout import history_table, history_table_name
from parsnip.core.log import Params, Rider
from parsnip.core.values import parse_iso
from parsnip.projections.indexes import DATA_GIN

OBJECT_KINDS = (CREATE, UPDATE, DELETE)
KIND_SCHEMA = "schema"  # a row made by a field deletion (not a version of the object)


def stored_state(created_at: datetime, updated_at: datetime, acl: Any, data: str) -> dict[str, Any]:
    """A live or history row as the writer holds an object: {"fields" (ACL included),
    "created_at", "updated_at"}. `data` is the jsonb as text: a stored 2^64 (a double) comes
    back from jsonb as an integer the log's msgpack cannot hold, so numbers are read as
    JavaScript (and Parse) holds them."""
    fields = json_input.loads_stored(data)
    if acl is not None:
        fields["ACL"] = acl
    return {"fields": fields, "created_at": created_at, "updated_at": updated_at}


async def create_table(conn: asyncpg.Connection, class_name: str) -> None:
    """The class's history table and its indexes, if missing (kept when the class is dropped)."""
    h, name = history_table(class_name), history_table_name(class_name)
    await conn.execute(
        f"CREATE TABLE IF NOT EXISTS {h} ("
        " object_id text NOT NULL, version integer NOT NULL,"
        " valid_from bigint NOT NULL, valid_to bigint,"
        " created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,"
        " acl jsonb, data jsonb NOT NULL, deleted boolean NOT NULL, kind text NOT NULL)"
    )
    # An object's versions in order (its history) ...
    await conn.execute(f'CREATE UNIQUE INDEX IF NOT EXISTS "{name}_object" ON {h} (object_id, valid_from)')
    # ... its one open version, which every change closes. Unique, so the planner always probes
    # it: with the index above alone and no statistics yet (a young table, before autovacuum's
    # ANALYZE) it guessed many rows per object and closed versions by a scan of the whole table.
    await conn.execute(f'CREATE UNIQUE INDEX IF NOT EXISTS "{name}_open" ON {h} (object_id) WHERE valid_to IS NULL')
    # ... the versions valid at a moment (`core/layout.py: as_of_table` stabs this range), which
    # PostgreSQL ANDs with the index that serves the query's condition: with 10 versions an
    # object, an as-of query then reads about as many rows as the live one, not ten times as
    # many (benchmarks/README.md, "History at scale") ...
    await conn.execute(f'CREATE INDEX IF NOT EXISTS "{name}_valid" ON {h} USING gist (int8range(valid_from, valid_to))')
    # ... and the class as of a moment, served like the live table: containment on the document.
    await conn.execute(f'CREATE INDEX IF NOT EXISTS "{name}_data" ON {h} {DATA_GIN}')


def close_sql(h: str, ids: str = "$1", positions: str = "$2", first: str = "0") -> str:
    """Close the open versions of objects (`ids`, a text[] parameter) at positions (`first`, an
    SQL expression, + a bigint[] parameter), returning their times."""
    # `= ANY` gives the open index the ids to probe: joined only, a plan made for all values on a
    # young, unanalyzed table guessed a handful of open versions and hashed all of them, so every
    # batch read every live object's version (6,000 rows a batch, 3 ms, after 6 s of creates).
    # The writer also plans its statements for their values (`core/writer.py:
    # _PLAN_FOR_THESE_VALUES`); this keeps a rebuild's and any other caller's close a probe.
    return (f"UPDATE {h} AS h SET valid_to = {first} + f.pos FROM unnest({ids}::text[], {positions}::bigint[])"
            f" AS f(oid, pos) WHERE h.object_id = f.oid AND h.valid_to IS NULL AND h.object_id = ANY({ids}::text[])"
            " RETURNING h.object_id, h.created_at, h.updated_at")


def rider(events: Sequence[Event]) -> Rider | None:
    """`events`' history as part of the log's append statement (`core/log.py: append`), so the
    writer holds the log head for one statement; None when the batch holds a class-wide change
    or an erasure, which `record` writes after the append."""
    if any(ev.erased_by is not None or ev.kind in (ERASE, PURGE) or (ev.kind == SCHEMA and ev.payload.get("deleted_fields"))
           for ev in events):
        return None
    offsets = {id(ev): i for i, ev in enumerate(events)}  # positions to come: the first's + offset
    by_class: dict[str, list[Event]] = {}
    for ev in events:
        if ev.kind in OBJECT_KINDS:
            by_class.setdefault(ev.class_name, []).append(ev)

    def ctes(params: Params, first: str) -> list[str]:
        return [cte for i, (class_name, evs) in enumerate(by_class.items())
                for cte in _objects(params, f"h{i}", class_name, evs, lambda ev: offsets[id(ev)], first)]
    return ctes


async def record(conn: asyncpg.Connection, events: Sequence[Event]) -> None:
    """Project `events` (positions set, in order) into the history tables."""
    pending: dict[str, list[Event]] = {}
    for ev in events:
        if ev.erased_by is not None:  # its data was erased (`core/erasure.py`): no version of it is kept
            continue
        if ev.kind == ERASE:  # erasing now: the object's versions go too
            await _flush(conn, pending)
            if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", history_table(ev.class_name)):
                await conn.execute(f"DELETE FROM {history_table(ev.class_name)} WHERE object_id = $1", ev.object_id)
            continue
        if ev.kind in OBJECT_KINDS:
            pending.setdefault(ev.class_name, []).append(ev)
            continue
        if ev.kind == PURGE or (ev.kind == SCHEMA and ev.payload.get("deleted_fields")):
            # A class-wide change: the object events before it come first.
            await _flush(conn, pending)
            await _class_event(conn, ev)
    await _flush(conn, pending)


async def _flush(conn: asyncpg.Connection, pending: dict[str, list[Event]]) -> None:
    for class_name, evs in pending.items():
        params = Params()
        ctes = _objects(params, "h", class_name, evs, lambda ev: ev.position, "0")
        await conn.execute("WITH " + ", ".join(ctes) + " SELECT 1", *params.values)
    pending.clear()


def _objects(params: Params, name: str, class_name: str, evs: list[Event], position: Callable[[Event], int],
             first: str) -> list[str]:
    """Two CTEs, `name`_closed and `name`_new: close the open versions the events replace (the
    first event of each object closes the version in effect before it) and insert the new
    versions. A version's times come from the payload, or, exactly (the payload holds them in
    ms), from the row it closed: `_versions` says which. An event's position is `first` (an SQL
    expression) + `position(event)`. One statement, not two, however many events the group
    commit holds: every statement of the writer's transaction waits on its loop thread, which
    the GIL shares with the HTTP thread."""
    h = history_table(class_name)
    firsts: dict[str, int] = {}
    for ev in evs:
        firsts.setdefault(ev.object_id, position(ev))
    cols = [params.add(col) for col in _versions(evs, position)]
    ids, positions = params.add(list(firsts)), params.add(list(firsts.values()))
    closed = f"{name}_closed AS ({close_sql(h, ids, positions, first)})"
    new = (f"{name}_new AS (INSERT INTO {h} (object_id, version, valid_from, valid_to,"
           " created_at, updated_at, acl, data, deleted, kind)"
           f" SELECT u.oid, u.version, {first} + u.pos, {first} + u.vto,"
           "  CASE WHEN u.c_closed THEN COALESCE(c.created_at, u.created) ELSE u.created END,"
           "  CASE WHEN u.u_closed THEN COALESCE(c.updated_at, u.updated) ELSE u.updated END,"
           "  u.acl, u.data, u.deleted, u.kind"
           f" FROM unnest({cols[0]}::text[], {cols[1]}::int[], {cols[2]}::bigint[], {cols[3]}::bigint[],"
           f"  {cols[4]}::timestamptz[], {cols[5]}::timestamptz[], {cols[6]}::jsonb[], {cols[7]}::jsonb[],"
           f"  {cols[8]}::bool[], {cols[9]}::text[], {cols[10]}::bool[], {cols[11]}::bool[])"
           "  AS u(oid, version, pos, vto, created, updated, acl, data, deleted, kind, c_closed, u_closed)"
           f" LEFT JOIN {name}_closed AS c ON c.object_id = u.oid)")
    return [closed, new]


def _versions(evs: list[Event], position: Callable[[Event], int]) -> list[list[Any]]:
    """The new versions as 12 columns: object_id, version, valid_from, valid_to, created_at,
    updated_at, acl, data, deleted, kind, and whether created_at / updated_at are to be taken
    from the version the batch closes (when there is one) rather than the payload's."""
    nexts: dict[str, int | None] = {}
    valid_to: list[int | None] = [None] * len(evs)
    for i in range(len(evs) - 1, -1, -1):  # each event's version lasts until the object's next one
        valid_to[i] = nexts.get(evs[i].object_id)
        nexts[evs[i].object_id] = position(evs[i])
    last: dict[str, tuple[datetime, datetime, bool, bool]] = {}  # the object's previous version here
    cols: list[list[Any]] = [[] for _ in range(12)]
    for ev, until in zip(evs, valid_to):
        created, updated, c_closed, u_closed, fields = _version(ev, last.get(ev.object_id))
        last[ev.object_id] = (created, updated, c_closed, u_closed)
        fields = dict(fields)
        acl = fields.pop("ACL", None)
        kind = RESTORE if restored(ev) else ev.kind
        for col, value in zip(cols, (ev.object_id, ev.version, position(ev), until, created, updated, acl,
                                     fields, ev.kind == DELETE, kind, c_closed, u_closed)):
            col.append(value)
    return cols


def _version(ev: Event, before: tuple[datetime, datetime, bool, bool] | None
             ) -> tuple[datetime, datetime, bool, bool, dict]:
    """(created_at, updated_at, each from the closed version?, fields) of the version an object
    event makes, given the object's previous version in this batch; a delete keeps the last
    state and its times."""
    p = ev.payload
    if ev.kind == CREATE:
        return created_at(ev), ev.at, False, False, p.get("set", {})
    created, c_closed = (before[0], before[2]) if before else (parse_iso(p["created"]), True)
    if ev.kind == DELETE:
        updated, u_closed = (before[1], before[3]) if before else (parse_iso(p["prev"]), True)
        return created, updated, c_closed, u_closed, p.get("state", {})
    return created, ev.at, c_closed, False, p.get("state", {})


async def _class_event(conn: asyncpg.Connection, ev: Event) -> None:
    h = history_table(ev.class_name)
    # The open versions are closed first (an object has one open version: the `_open` index),
    # then their successors opened; a row with valid_to = this position was closed just now.
    if ev.kind == PURGE:
        # Every live object is deleted at this position.
        await conn.execute(f"UPDATE {h} SET valid_to = $1 WHERE valid_to IS NULL AND valid_from < $1", ev.position)
        await conn.execute(
            f"INSERT INTO {h} (object_id, version, valid_from, valid_to, created_at, updated_at, acl, data,"
            " deleted, kind) SELECT object_id, version + 1, $1, NULL, created_at, updated_at, acl, data, true, $2"
            f" FROM {h} WHERE valid_to = $1 AND NOT deleted", ev.position, PURGE)
        return
    names = list(ev.payload["deleted_fields"])
    await conn.execute(
        f"UPDATE {h} SET valid_to = $1 WHERE valid_to IS NULL AND valid_from < $1 AND data ?| $2::text[]",
        ev.position, names)
    await conn.execute(
        f"INSERT INTO {h} (object_id, version, valid_from, valid_to, created_at, updated_at, acl, data,"
        " deleted, kind) SELECT object_id, version, $1, NULL, created_at, updated_at, acl, data - $2::text[],"
        f" deleted, $3 FROM {h} WHERE valid_to = $1 AND data ?| $2::text[]", ev.position, names, KIND_SCHEMA)
