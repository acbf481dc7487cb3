"""The projection tables and how one event changes them.

One table per class (named by `core/layout.py`, `"p_<ClassName>"`): object_id, version, created_at, updated_at, acl, data.
Beside it, the class's history table (`projections/history.py`), written by `record_history`
once the log has given the transaction's events their positions.
The schema is projected too (`parsnip_schema`). `apply` is the only code that writes these
tables, both on the live write path (inside the writer's transaction) and in a rebuild, so
replaying the log reproduces them exactly.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from parsnip.core.accounts.authdata import store as authdata_store
from parsnip.core.errors import ParseError
from parsnip.core.events import CONFIG, CREATE, DELETE, ERASE, FILE, PURGE, SCHEMA, UPDATE, Event, created_at
from parsnip.core.global_config import GlobalConfig
from parsnip.core.layout import history_table, table, table_name
from parsnip.core.log import Rider
from parsnip.core.query.sql.geo import point_expression
from parsnip.core.schema import check_field_name, describe, same_type
from parsnip.core.history.moment import Moment
from parsnip.core.restore import State, Target
from parsnip.projections import history, indexes, restoring

SCHEMA_DDL = """
CREATE TABLE IF NOT EXISTS parsnip_schema (
    class_name text NOT NULL,
    field      text NOT NULL,   -- '' is the row that declares the class
    type       jsonb,
    PRIMARY KEY (class_name, field)
);
CREATE TABLE IF NOT EXISTS parsnip_relations (
    owner_class text NOT NULL,
    field       text NOT NULL,
    owner_id    text NOT NULL,
    target_id   text NOT NULL,
    PRIMARY KEY (owner_class, field, owner_id, target_id)
);
CREATE INDEX IF NOT EXISTS parsnip_relations_target ON parsnip_relations (owner_class, field, target_id);
-- Parse.Config (core/global_config.py): one row once it has been saved.
CREATE TABLE IF NOT EXISTS parsnip_config (
    id              boolean PRIMARY KEY DEFAULT true CHECK (id),
    version         integer NOT NULL,
    params          jsonb NOT NULL,
    master_key_only jsonb NOT NULL
);
-- Every file ever uploaded, as its `file` events left it (core/events.py: FILE); `deleted_at`
-- set once deleted (the bytes stay for fileRetentionDays: core/services/files.py).
CREATE TABLE IF NOT EXISTS parsnip_files (
    name         text PRIMARY KEY,
    version      integer NOT NULL,
    content_type text,
    size         bigint NOT NULL,
    digest       text NOT NULL,
    metadata     jsonb,
    tags         jsonb,
    created_at   timestamptz NOT NULL,
    deleted_at   timestamptz
);
-- Whether an ACL gives read to any of `keys` (core/security/acl.py). A function, not an inline
-- subquery: a subplan in every read made PostgreSQL re-plan each prepared statement (its
-- generic plan looked dearer than the custom one), which cost a fifth of the query rate.
CREATE OR REPLACE FUNCTION parsnip_acl_reads(acl jsonb, keys text[]) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    IF acl IS NULL THEN RETURN TRUE; END IF;
    FOR i IN 1 .. coalesce(array_length(keys, 1), 0) LOOP
        IF acl -> keys[i] -> 'read' = 'true'::jsonb THEN RETURN TRUE; END IF;
    END LOOP;
    RETURN FALSE;
END $$;
"""


# Indexes the system classes need from their first write: unique usernames, emails and role
# names (case-insensitive, as Parse checks them), and session tokens looked up on every request.
# A unique violation becomes the Parse error its index stands for.
_SYSTEM_INDEXES: dict[str, list[tuple[str, str]]] = {
    cls: [(f"{table_name(cls)}_{suffix}", f'CREATE {kind}INDEX IF NOT EXISTS "{table_name(cls)}_{suffix}" ON {table(cls)} ({expr})')
          for suffix, kind, expr in specs]
    for cls, specs in {
        "_User": [("username", "UNIQUE ", "lower(data->>'username')"), ("email", "UNIQUE ", "lower(data->>'email')")],
        "_Role": [("name", "UNIQUE ", "(data->>'name')")],
        "_Installation": [("id", "UNIQUE ", "(data->>'installationId')")],
        "_Session": [("token", "", "(data->>'sessionToken')")],
    }.items()
}
_UNIQUE_ERRORS = {
    f"{table_name('_User')}_username": (ParseError.USERNAME_TAKEN, "Account already exists for this username."),
    f"{table_name('_User')}_email": (ParseError.EMAIL_TAKEN, "Account already exists for this email address."),
    f"{table_name('_Role')}_name": (ParseError.DUPLICATE_VALUE, "A role with that name already exists."),
    f"{table_name('_Installation')}_id": (ParseError.DUPLICATE_VALUE, "A duplicate value for a field with unique values was provided"),
}




class Projector:
    """Applies events to the projection tables; the writer calls it inside its transaction."""

    async def install(self, conn: asyncpg.Connection) -> None:
        await conn.execute(SCHEMA_DDL)
        # A database from before the history projection: each class gets its (empty) history
        # table; `parsnip rebuild` fills it from the log.
        for (class_name,) in await conn.fetch("SELECT class_name FROM parsnip_schema WHERE field = ''"):
            await history.create_table(conn, class_name)
        await indexes.without_pending_lists(conn)

    async def record_history(self, conn: asyncpg.Connection, events: list[Event]) -> None:
        """Project events that have their positions into the history tables (after the append)."""
        await history.record(conn, events)

    def history_rider(self, events: list[Event]) -> Rider | None:
        """The history of `events` as part of the log's append statement (None: `record_history`)."""
        return history.rider(events)

    async def restore_target(self, conn: asyncpg.Connection, class_name: str, object_id: str,
                             moment: Moment | None, version: int | None) -> Target | None:
        """An object as it was at `moment` or as its `version`, from the history table."""
        return await restoring.target(conn, class_name, object_id, moment, version)

    async def restore_targets(self, conn: asyncpg.Connection, class_name: str,
                              moment: Moment) -> tuple[int, list[tuple[Target, State | None]]]:
        """The class's objects that differ from what they were at `moment`, its table locked."""
        return await restoring.targets(conn, class_name, moment)

    async def load_file_for_update(self, conn: asyncpg.Connection, name: str) -> dict | None:
        """A file's record, locked to commit (None: never uploaded)."""
        row = await conn.fetchrow(
            "SELECT version, content_type, size, digest, metadata, tags, deleted_at IS NOT NULL AS deleted"
            " FROM parsnip_files WHERE name = $1 FOR UPDATE", name)
        if row is None:
            return None
        return {"version": row["version"], "contentType": row["content_type"], "size": row["size"],
                "digest": row["digest"], "metadata": row["metadata"], "tags": row["tags"], "deleted": row["deleted"]}

    async def lock_class(self, conn: asyncpg.Connection, class_name: str) -> None:
        """Serialize schema changes of one class (and its creation) across nodes, until commit."""
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", "parsnip_class:" + class_name)

    async def count_locked(self, conn: asyncpg.Connection, class_name: str, mode: str = "EXCLUSIVE") -> int:
        """Lock the class's table against writes (`mode`) and count its objects: no write can
        slip in between the count and what the caller does with it."""
        await conn.execute(f"LOCK TABLE {table(class_name)} IN {mode} MODE")
        return await conn.fetchval(f"SELECT count(*) FROM {table(class_name)}")

    async def load_for_update(
        self, conn: asyncpg.Connection, class_name: str, object_id: str
    ) -> tuple[int, dict] | None:
        """Lock an object's row for this transaction and return (version, fields)."""
        return await self.load(conn, class_name, object_id, " FOR UPDATE")

    async def load(
        self, conn: asyncpg.Connection, class_name: str, object_id: str, _lock: str = ""
    ) -> tuple[int, dict] | None:
        """(version, fields) of an object as stored, without a lock (what a hook is shown)."""
        row = await conn.fetchrow(
            f"SELECT version, created_at, updated_at, acl, data::text AS data FROM {table(class_name)}"
            " WHERE object_id = $1" + _lock,
            object_id,
        )
        if row is None:
            return None
        return row["version"], history.stored_state(row["created_at"], row["updated_at"], row["acl"], row["data"])

    async def apply(self, conn: asyncpg.Connection, ev: Event) -> None:
        try:
            await self._apply(conn, ev)
        except asyncpg.exceptions.UniqueViolationError as e:
            known = _UNIQUE_ERRORS.get(e.constraint_name or "")
            if known is None:
                raise
            raise ParseError(*known) from None

    async def insert_created(self, conn: asyncpg.Connection, events: list[Event]) -> None:
        """The rows of plain CREATE events (no relations, no system class), one INSERT a class."""
        by_class: dict[str, list[Event]] = {}
        for ev in events:
            by_class.setdefault(ev.class_name, []).append(ev)
        for class_name, evs in by_class.items():
            rows = [(ev.object_id, ev.version, created_at(ev), ev.at, *_acl_and_data(ev.payload["set"])) for ev in evs]
            await conn.execute(
                f"INSERT INTO {table(class_name)} (object_id, version, created_at, updated_at, acl, data)"
                " SELECT * FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::timestamptz[],"
                " $5::jsonb[], $6::jsonb[])",
                *map(list, zip(*rows)),
            )

    async def _apply(self, conn: asyncpg.Connection, ev: Event) -> None:
        if ev.erased_by is not None:
            return  # an erased event (replayed): its `erase` event removes what it made
        if ev.class_name == "_User" and ev.kind in (CREATE, UPDATE) and "authData" in ev.payload.get("set", {}):
            # One provider id, one user: checked under a lock in this transaction (208).
            await authdata_store.check_unique(conn, ev.object_id, ev.payload["set"]["authData"])
        if ev.kind == SCHEMA:
            await self._apply_schema(conn, ev)
        elif ev.kind == CONFIG:
            await _apply_config(conn, ev)
        elif ev.kind == CREATE:
            acl, fields = _acl_and_data(ev.payload["set"])
            await conn.execute(
                f"INSERT INTO {table(ev.class_name)} (object_id, version, created_at, updated_at,"
                " acl, data) VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb)",
                ev.object_id, ev.version, created_at(ev), ev.at, acl, fields,
            )
        elif ev.kind == UPDATE:
            fields = dict(ev.payload["set"])
            unset = list(ev.payload.get("unset", ()))
            acl_sql = "acl"
            args: list[Any] = [ev.object_id, ev.version, ev.at]
            if "ACL" in fields:
                args.append(fields.pop("ACL"))
                acl_sql = f"${len(args)}::jsonb"
            elif "ACL" in unset:
                unset.remove("ACL")
                acl_sql = "NULL"
            args += [unset, fields]
            n = len(args)
            status = await conn.execute(
                f"UPDATE {table(ev.class_name)} SET version = $2, updated_at = $3, acl = {acl_sql},"
                f" data = (data - ${n - 1}::text[]) || ${n}::jsonb"
                " WHERE object_id = $1 AND version = $2 - 1",
                *args,
            )
            _expect_one(status, ev)
        elif ev.kind == PURGE:
            await conn.execute(f"DELETE FROM {table(ev.class_name)}")
            await conn.execute("DELETE FROM parsnip_relations WHERE owner_class = $1", ev.class_name)
        elif ev.kind == DELETE:
            status = await conn.execute(
                f"DELETE FROM {table(ev.class_name)} WHERE object_id = $1 AND version = $2 - 1",
                ev.object_id, ev.version,
            )
            _expect_one(status, ev)
            await conn.execute(
                "DELETE FROM parsnip_relations WHERE owner_class = $1 AND owner_id = $2", ev.class_name, ev.object_id
            )
        elif ev.kind == FILE:
            await _apply_file(conn, ev)
        elif ev.kind == ERASE:
            # Whatever version is live (or none: deleted, or its class dropped) goes.
            if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table(ev.class_name)):
                await conn.execute(f"DELETE FROM {table(ev.class_name)} WHERE object_id = $1", ev.object_id)
            await conn.execute(
                "DELETE FROM parsnip_relations WHERE owner_class = $1 AND owner_id = $2", ev.class_name, ev.object_id
            )
        else:
            raise ValueError(f"unknown event kind {ev.kind}")
        for field, change in ev.payload.get("relations", {}).items():
            await _apply_relation(conn, ev, field, change)

    async def _apply_schema(self, conn: asyncpg.Connection, ev: Event) -> None:
        p = ev.payload
        if p.get("drop_class"):
            await self._drop_class(conn, ev.class_name)
            return
        if p.get("new_class"):
            await self._create_class(conn, ev.class_name)
        if p.get("deleted_fields"):
            await self._delete_fields(conn, ev.class_name, list(p["deleted_fields"]))
        if "clp" in p:
            # Class options live on the class's own row ('' field), beside nothing else.
            await self._set_option(conn, ev.class_name, "classLevelPermissions", p["clp"])
        for field, t in p.get("fields", {}).items():
            await self._add_field(conn, ev.class_name, field, t)
        if "indexes" in p or "dropped_indexes" in p:
            await self._change_indexes(conn, ev.class_name, p.get("indexes", {}), p.get("dropped_indexes", []))

    async def _create_class(self, conn: asyncpg.Connection, class_name: str) -> None:
        # Two nodes may create one class at once; the second waits, then finds the table.
        await self.lock_class(conn, class_name)
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {table(class_name)} ("
            " object_id text PRIMARY KEY, version integer NOT NULL,"
            " created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,"
            " acl jsonb, data jsonb NOT NULL)"
        )
        # Serves equality, $in and pointer queries (containment on the whole document).
        await conn.execute(
            f'CREATE INDEX IF NOT EXISTS "{table_name(class_name)}_data" ON {table(class_name)} {indexes.DATA_GIN}'
        )
        for _name, ddl in _SYSTEM_INDEXES.get(class_name, ()):
            await conn.execute(ddl)
        await history.create_table(conn, class_name)
        await conn.execute(
            "INSERT INTO parsnip_schema (class_name, field, type) VALUES ($1, '', NULL)"
            " ON CONFLICT DO NOTHING",
            class_name,
        )

    async def _drop_class(self, conn: asyncpg.Connection, class_name: str) -> None:
        await conn.execute(f"DROP TABLE IF EXISTS {table(class_name)}")  # its indexes go with it
        await conn.execute("DELETE FROM parsnip_schema WHERE class_name = $1", class_name)
        await conn.execute("DELETE FROM parsnip_relations WHERE owner_class = $1", class_name)

    async def _delete_fields(self, conn: asyncpg.Connection, class_name: str, names: list[str]) -> None:
        # No write may slip between this and the commit with the field it just lost.
        await conn.execute(f"LOCK TABLE {table(class_name)} IN EXCLUSIVE MODE")
        await conn.execute(
            f"UPDATE {table(class_name)} SET data = data - $1::text[] WHERE data ?| $1::text[]", names)
        await conn.execute(
            "DELETE FROM parsnip_schema WHERE class_name = $1 AND field = ANY($2::text[])", class_name, names)
        await conn.execute(
            "DELETE FROM parsnip_relations WHERE owner_class = $1 AND field = ANY($2::text[])", class_name, names)
        for field in names:
            check_field_name(field)
            await conn.execute(f'DROP INDEX IF EXISTS "{table_name(class_name)}_{field}_geo"')

    async def _set_option(self, conn: asyncpg.Connection, class_name: str, key: str, value: Any) -> None:
        if value is None:
            await conn.execute(
                "UPDATE parsnip_schema SET type = NULLIF(type - $2, '{}'::jsonb)"
                " WHERE class_name = $1 AND field = ''", class_name, key)
            return
        await conn.execute(
            "INSERT INTO parsnip_schema (class_name, field, type) VALUES ($1, '', $2::jsonb)"
            " ON CONFLICT (class_name, field) DO UPDATE SET"
            " type = COALESCE(parsnip_schema.type, '{}'::jsonb) || EXCLUDED.type",
            class_name, {key: value},
        )

    async def _add_field(self, conn: asyncpg.Connection, class_name: str, field: str, t: dict) -> None:
        if t.get("type") == "GeoPoint":
            check_field_name(field)  # spliced into the index expression
            # Serves $nearSphere / $centerSphere bounding boxes (core/query/sql/geo.py).
            await conn.execute(
                f'CREATE INDEX IF NOT EXISTS "{table_name(class_name)}_{field}_geo" ON {table(class_name)}'
                f" USING gist ({point_expression(field)})"
            )
        # Another node may have added the same field first: keep its type, refuse a clash.
        stored = await conn.fetchval(
            "INSERT INTO parsnip_schema (class_name, field, type) VALUES ($1, $2, $3::jsonb)"
            " ON CONFLICT (class_name, field) DO UPDATE SET type = parsnip_schema.type"
            " RETURNING type",
            class_name, field, t,
        )
        if not same_type(stored, t):
            raise ParseError(
                ParseError.INCORRECT_TYPE,
                f"schema mismatch for {class_name}.{field}; expected {describe(stored)}"
                f" but got {describe(t)}",
            )

    async def _change_indexes(self, conn: asyncpg.Connection, class_name: str, added: dict, dropped: list) -> None:
        """Real indexes for the schema's `indexes`, and the list itself on the class's row."""
        for name in dropped:
            await conn.execute(indexes.drop_sql(class_name, name))
            await conn.execute(indexes.drop_sql(class_name, name, history=True))
        for name, keys in added.items():
            if name != indexes.PRIMARY:
                await conn.execute(indexes.create_sql(class_name, table(class_name), name, keys))
                await conn.execute(indexes.create_sql(class_name, history_table(class_name), name, keys, history=True))
        await conn.execute(
            "UPDATE parsnip_schema SET type = jsonb_set(COALESCE(type, '{}'::jsonb), '{indexes}',"
            " (COALESCE(type->'indexes', '{}'::jsonb) || $2::jsonb) - $3::text[])"
            " WHERE class_name = $1 AND field = ''",
            class_name, added, list(dropped),
        )

    async def load_config(self, conn: asyncpg.Connection) -> GlobalConfig:
        """The configuration as stored (the writer holds its lock when it plans a change)."""
        row = await conn.fetchrow(
            "SELECT version, params::text AS params, master_key_only::text AS flags FROM parsnip_config")
        if row is None:
            return GlobalConfig()
        return GlobalConfig(json.loads(row["params"]), json.loads(row["flags"]), row["version"])

    async def load_schema(
        self, conn: asyncpg.Connection, class_name: str | None = None
    ) -> list[tuple[str, str | None, dict | None]]:
        """The stored schema rows (of one class, or all): (class, field or None, type)."""
        if class_name is None:
            rows = await conn.fetch("SELECT class_name, field, type FROM parsnip_schema ORDER BY 1, 2")
        else:
            rows = await conn.fetch(
                "SELECT class_name, field, type FROM parsnip_schema WHERE class_name = $1 ORDER BY 2", class_name)
        return [(r["class_name"], r["field"] or None, r["type"]) for r in rows]


async def _apply_config(conn: asyncpg.Connection, ev: Event) -> None:
    """A CONFIG event: its parameters and flags set or removed, the row made on the first."""
    p = ev.payload
    flags = p.get("masterKeyOnly", {})
    await conn.execute(
        "INSERT INTO parsnip_config (id, version, params, master_key_only) VALUES (true, $1, $2::jsonb, $3::jsonb)"
        " ON CONFLICT (id) DO UPDATE SET version = $1,"
        " params = (parsnip_config.params - $4::text[]) || $2::jsonb,"
        " master_key_only = (parsnip_config.master_key_only - $5::text[]) || $3::jsonb",
        ev.version, p.get("set", {}), {k: v for k, v in flags.items() if v is not None},
        list(p.get("unset", ())), [k for k, v in flags.items() if v is None],
    )


async def _apply_file(conn: asyncpg.Connection, ev: Event) -> None:
    """A file's record after its event: made (or made again, same name) by an upload, marked by a delete."""
    p = ev.payload
    if p.get("action") == "delete":
        await conn.execute("UPDATE parsnip_files SET version = $2, deleted_at = $3 WHERE name = $1",
                           ev.object_id, ev.version, ev.at)
        return
    await conn.execute(
        "INSERT INTO parsnip_files (name, version, content_type, size, digest, metadata, tags, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8) ON CONFLICT (name) DO UPDATE SET"
        " version = EXCLUDED.version, content_type = EXCLUDED.content_type, size = EXCLUDED.size,"
        " digest = EXCLUDED.digest, metadata = EXCLUDED.metadata, tags = EXCLUDED.tags,"
        " created_at = EXCLUDED.created_at, deleted_at = NULL",
        ev.object_id, ev.version, p.get("contentType"), p.get("size", 0), p.get("digest", ""),
        p.get("metadata") or {}, p.get("tags") or {}, ev.at)


async def _apply_relation(conn: asyncpg.Connection, ev: Event, field: str, change: dict) -> None:
    """Add and remove members of one relation of one object."""
    if change.get("add"):
        await conn.execute(
            "INSERT INTO parsnip_relations (owner_class, field, owner_id, target_id)"
            " SELECT $1, $2, $3, unnest($4::text[]) ON CONFLICT DO NOTHING",
            ev.class_name, field, ev.object_id, change["add"],
        )
    if change.get("remove"):
        await conn.execute(
            "DELETE FROM parsnip_relations WHERE owner_class = $1 AND field = $2 AND owner_id = $3"
            " AND target_id = ANY($4::text[])",
            ev.class_name, field, ev.object_id, change["remove"],
        )


def _expect_one(status: str, ev: Event) -> None:
    # The writer locked the row and computed the version from it, so anything else means the
    # projection and the log disagree: stop rather than write past it.
    if not status.endswith(" 1"):
        raise RuntimeError(
            f"projection out of step with the log at {ev.class_name}/{ev.object_id} v{ev.version}"
        )


def _acl_and_data(fields: dict) -> tuple[Any, dict]:
    """A created object's columns: its ACL apart, the rest as the document."""
    data = dict(fields)
    return data.pop("ACL", None), data
