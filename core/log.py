"""The append-only event log in PostgreSQL: its tables, appending, and reading by position.

Positions are dense and in commit order because every appending transaction takes the single
row of `parsnip_log_head` last, just before commit: a writer holds it only while it inserts its
events and commits, and the next writer reads the head only after that commit. A rolled-back
transaction gives its positions back. The database itself refuses UPDATE, DELETE and TRUNCATE
on the log.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import asyncpg

from parsnip.core import chain
from parsnip.core.events import Context, Event, decode_payload, encode_payload

LOG_DDL = """
CREATE TABLE IF NOT EXISTS parsnip_events (
    position        bigint PRIMARY KEY,
    kind            text NOT NULL,
    class_name      text NOT NULL,
    object_id       text,
    version         integer NOT NULL,
    at              timestamptz NOT NULL,
    user_id         text,
    session_id      text,
    installation_id text,
    master          boolean NOT NULL,
    request_id      text,
    client_ip       text,
    payload         bytea NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS parsnip_events_object_version
    ON parsnip_events (class_name, object_id, version) WHERE object_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS parsnip_events_at ON parsnip_events (at);

CREATE TABLE IF NOT EXISTS parsnip_log_head (
    id       boolean PRIMARY KEY DEFAULT true CHECK (id),
    position bigint NOT NULL
);
INSERT INTO parsnip_log_head (id, position) VALUES (true, 0) ON CONFLICT DO NOTHING;

-- The chain (core/chain.py). Added to logs made before it; `install` hashes their events once.
ALTER TABLE parsnip_events ADD COLUMN IF NOT EXISTS payload_digest bytea;
ALTER TABLE parsnip_events ADD COLUMN IF NOT EXISTS hash bytea;
ALTER TABLE parsnip_events ADD COLUMN IF NOT EXISTS erased_by bigint;  -- the erase event's position
ALTER TABLE parsnip_log_head ADD COLUMN IF NOT EXISTS hash bytea;      -- the last event's hash

CREATE OR REPLACE FUNCTION parsnip_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        -- An event from before the chain gets its digest and hash, once; nothing else changes.
        IF OLD.hash IS NULL AND NEW.hash IS NOT NULL AND NEW.payload_digest IS NOT NULL
           AND to_jsonb(NEW) - 'hash' - 'payload_digest' = to_jsonb(OLD) - 'hash' - 'payload_digest' THEN
            RETURN NEW;
        END IF;
        -- An erasure: the payload blanked, naming the erase event, under that event's token.
        IF OLD.erased_by IS NULL AND NEW.erased_by IS NOT NULL AND NEW.payload = ''::bytea
           AND current_setting('parsnip.erase', true) = NEW.erased_by::text
           AND to_jsonb(NEW) - 'payload' - 'erased_by' = to_jsonb(OLD) - 'payload' - 'erased_by' THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'parsnip_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
DROP TRIGGER IF EXISTS parsnip_events_no_change ON parsnip_events;
CREATE TRIGGER parsnip_events_no_change BEFORE UPDATE OR DELETE ON parsnip_events
    FOR EACH ROW EXECUTE FUNCTION parsnip_events_append_only();
DROP TRIGGER IF EXISTS parsnip_events_no_truncate ON parsnip_events;
CREATE TRIGGER parsnip_events_no_truncate BEFORE TRUNCATE ON parsnip_events
    FOR EACH STATEMENT EXECUTE FUNCTION parsnip_events_append_only();
"""

CHANNEL = "parsnip_log"  # NOTIFY channel: the new head after each commit

_COLUMNS = (
    "position, kind, class_name, object_id, version, at, user_id, session_id,"
    " installation_id, master, request_id, client_ip, payload"
)

# The append, in the database: it takes the head, chains the events from the previous hash and
# inserts them, in one call. The head row orders every writer of every node, so it is held for
# this statement and the COMMIT only: what needs no position (payload digests, the encoding of
# each event's columns after its position) is computed by the caller before taking it.
# `tails[i]` is `chain.canonical` of event i's fields after the position.
_APPEND_DDL = """
CREATE OR REPLACE FUNCTION parsnip_append(
    kinds text[], classes text[], ids text[], versions int[], ats timestamptz[], users text[],
    sessions text[], installations text[], masters bool[], requests text[], ips text[],
    payloads bytea[], digests bytea[], tails bytea[]) RETURNS bigint[] LANGUAGE plpgsql AS $$
DECLARE
    n int := cardinality(kinds);
    last bigint;
    previous bytea;
    hashes bytea[] := '{}';
    p text;
BEGIN
    -- Taking the head also queues the notification, delivered at commit, that wakes every
    -- node's log follower.
    UPDATE parsnip_log_head SET position = position + n RETURNING position, hash INTO last, previous;
    FOR i IN 1..n LOOP
        p := (last - n + i)::text;
        previous := sha256(previous || '\\x01'::bytea || int4send(octet_length(p)) || convert_to(p, 'UTF8') || tails[i]);
        hashes := hashes || previous;
    END LOOP;
    INSERT INTO parsnip_events (""" + _COLUMNS + """, payload_digest, hash)
        SELECT last - n + u.i, u.kind, u.class_name, u.object_id, u.version, u.at, u.user_id, u.session_id,
               u.installation_id, u.master, u.request_id, u.client_ip, u.payload, u.digest, u.hash
        FROM unnest(kinds, classes, ids, versions, ats, users, sessions, installations, masters, requests,
                    ips, payloads, digests, hashes) WITH ORDINALITY
             AS u(kind, class_name, object_id, version, at, user_id, session_id, installation_id, master,
                  request_id, client_ip, payload, digest, hash, i);
    UPDATE parsnip_log_head SET hash = previous;
    PERFORM pg_notify('""" + CHANNEL + """', last::text);
    RETURN ARRAY[last - n + 1, txid_current()];
END $$;
"""

_APPEND_CALL = (
    "parsnip_append($1::text[], $2::text[], $3::text[], $4::int[], $5::timestamptz[], $6::text[], $7::text[],"
    " $8::text[], $9::bool[], $10::text[], $11::text[], $12::bytea[], $13::bytea[], $14::bytea[])"
)
_APPEND_PARAMS = 14


class Params:
    """The parameters of one statement, numbered as they are added. (The query compiler's
    `core/query/sql/base.py: Params` also walks every value for NUL characters, which a write's
    already-checked values need not pay for.)"""

    def __init__(self, values: Sequence[Any] = ()) -> None:
        self.values = list(values)

    def add(self, value: Any) -> str:
        """The placeholder of `value` in the statement."""
        self.values.append(value)
        return f"${len(self.values)}"


# What else the append's statement does, as common table expressions: called with the statement's
# parameters and the SQL expression of the first position given, it answers `name AS (...)` items.
Rider = Callable[[Params, str], list[str]]


INSTALL_LOCK = 7212480  # advisory lock id that serializes installs by several nodes


async def install(conn: asyncpg.Connection) -> None:
    """Create the log's tables and guards if they are missing (idempotent).

    Call inside a transaction holding `pg_advisory_xact_lock(INSTALL_LOCK)`: DDL "IF NOT
    EXISTS" still races with another node doing the same.
    """
    await conn.execute(LOG_DDL)
    await conn.execute(_APPEND_DDL)
    await _chain_unhashed(conn)


async def _chain_unhashed(conn: asyncpg.Connection, batch: int = 5000) -> None:
    """Hash, in order, the events of a log made before the chain (once; a no-op afterwards)."""
    if await conn.fetchval("SELECT hash IS NOT NULL FROM parsnip_log_head FOR UPDATE"):
        return
    previous, after = chain.GENESIS, 0
    while True:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM parsnip_events WHERE position > $1 ORDER BY position LIMIT $2", after, batch)
        if not rows:
            break
        updates = []
        for r in rows:
            digest = chain.payload_digest(r["payload"])
            previous = chain.link(previous, chain.chain_fields(*(r[i] for i in range(12)), digest))
            updates.append((r["position"], digest, previous))
        await conn.executemany(
            "UPDATE parsnip_events SET payload_digest = $2, hash = $3 WHERE position = $1", updates)
        after = rows[-1]["position"]
    await conn.execute("UPDATE parsnip_log_head SET hash = $1", previous)


async def append(conn: asyncpg.Connection, events: Sequence[Event], rider: Rider | None = None) -> int | None:
    """Give `events` the next positions and chain hashes and insert them, with what `rider`
    adds to the same statement. Call last in the transaction: the head row, taken here, orders
    the commits of every writer until this one's COMMIT.

    Returns the transaction's id (`txid_current()`, in the same round trip), with which a
    writer whose connection died during COMMIT asks `txid_status` whether it committed."""
    if not events:
        return None
    columns: list[list[Any]] = [[] for _ in range(_APPEND_PARAMS)]
    for ev in events:
        c = ev.context
        payload = encode_payload(ev.payload)
        # The position is the database's to give: parsnip_append encodes it before the rest.
        fields = chain.chain_fields(0, ev.kind, ev.class_name, ev.object_id, ev.version, ev.at,
                                    c.user_id, c.session_id, c.installation_id, c.master, c.request_id,
                                    c.client_ip, chain.payload_digest(payload))
        row = (ev.kind, ev.class_name, ev.object_id, ev.version, ev.at, c.user_id, c.session_id,
               c.installation_id, c.master, c.request_id, c.client_ip, payload, fields[-1],
               chain.canonical(fields[1:]))
        for column, value in zip(columns, row):
            column.append(value)
    if rider is None:
        first, xid = await conn.fetchval("SELECT " + _APPEND_CALL, *columns)
    else:
        params = Params(columns)
        ctes = rider(params, "(SELECT r[1] FROM appended)")
        ctes.insert(0, f"appended AS (SELECT {_APPEND_CALL} AS r)")
        first, xid = await conn.fetchval("WITH " + ", ".join(ctes) + " SELECT r FROM appended", *params.values)
    for i, ev in enumerate(events):
        ev.position = first + i
    return xid


def _event(row: Any) -> Event:
    return Event(
        kind=row["kind"], class_name=row["class_name"], object_id=row["object_id"],
        version=row["version"], at=row["at"],
        context=Context(
            user_id=row["user_id"], session_id=row["session_id"],
            installation_id=row["installation_id"], master=row["master"],
            request_id=row["request_id"], client_ip=row["client_ip"],
        ),
        # An erased event's payload is blank: it reads as empty, marked by `erased_by`.
        payload=decode_payload(row["payload"]) if row["erased_by"] is None else {},
        position=row["position"], erased_by=row["erased_by"],
    )


async def read_after(conn: asyncpg.Connection, position: int, limit: int = 1000) -> list[Event]:
    """Events with positions after `position`, in order (at most `limit`)."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS}, erased_by FROM parsnip_events WHERE position > $1 ORDER BY position LIMIT $2",
        position, limit,
    )
    return [_event(r) for r in rows]


async def read_class_range(conn: asyncpg.Connection, class_name: str, after: int, upto: int,
                           limit: int = 1000) -> list[Event]:
    """A class's events with positions in (after, upto], in order (at most `limit`)."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS}, erased_by FROM parsnip_events WHERE position > $1 AND position <= $2"
        " AND class_name = $3 ORDER BY position LIMIT $4",
        after, upto, class_name, limit,
    )
    return [_event(r) for r in rows]


async def head(conn: asyncpg.Connection) -> int:
    """The last committed position."""
    return await conn.fetchval("SELECT position FROM parsnip_log_head")


async def object_history(conn: asyncpg.Connection, class_name: str, object_id: str) -> list[Event]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS}, erased_by FROM parsnip_events WHERE class_name = $1 AND object_id = $2"
        " ORDER BY position",
        class_name, object_id,
    )
    return [_event(r) for r in rows]

