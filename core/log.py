"""The append-only event log in PostgreSQL: its tables, appending, and reading by position.

Positions are dense and in commit order because every appending transaction takes the single
row of `parsnip_log_head` last, just before commit: a writer holds it only while it inserts its
events and commits, and the next writer reads the head only after that commit. A rolled-back
transaction gives its positions back. The database itself refuses UPDATE, DELETE and TRUNCATE
on the log.
"""

from __future__ import annotations

from typing import Any, Sequence

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

# One statement inserts every event of the append (arrays unnested) and moves the head's hash.
_INSERT = (
    f"WITH ins AS (INSERT INTO parsnip_events ({_COLUMNS}, payload_digest, hash) SELECT * FROM unnest("
    "$1::bigint[], $2::text[], $3::text[], $4::text[], $5::int[], $6::timestamptz[], $7::text[], $8::text[],"
    " $9::text[], $10::bool[], $11::text[], $12::text[], $13::bytea[], $14::bytea[], $15::bytea[]))"
    " UPDATE parsnip_log_head SET hash = $16"
)


INSTALL_LOCK = 7212480  # advisory lock id that serializes installs by several nodes


async def install(conn: asyncpg.Connection) -> None:
    """Create the log's tables and guards if they are missing (idempotent).

    Call inside a transaction holding `pg_advisory_xact_lock(INSTALL_LOCK)`: DDL "IF NOT
    EXISTS" still races with another node doing the same.
    """
    await conn.execute(LOG_DDL)
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


async def append(conn: asyncpg.Connection, events: Sequence[Event]) -> int | None:
    """Give `events` the next positions and chain hashes and insert them. Call last in the
    transaction: the head row, taken here, holds the previous event's hash.

    Returns the transaction's id (`txid_current()`, in the same round trip), with which a
    writer whose connection died during COMMIT asks `txid_status` whether it committed."""
    if not events:
        return None
    # Taking the head also queues a notification, delivered at commit, that wakes the log
    # followers of every node. This UPDATE leaves the head's hash: RETURNING gives the previous
    # event's.
    head, previous, xid = await conn.fetchrow(
        "WITH h AS (UPDATE parsnip_log_head SET position = position + $1 RETURNING position, hash)"
        " SELECT position, hash, txid_current() FROM h, pg_notify('" + CHANNEL + "', position::text) AS n",
        len(events),
    )
    first = head - len(events) + 1
    columns: list[list[Any]] = [[] for _ in range(15)]
    for i, ev in enumerate(events):
        ev.position = first + i
        c = ev.context
        payload = encode_payload(ev.payload)
        fields = chain.chain_fields(ev.position, ev.kind, ev.class_name, ev.object_id, ev.version, ev.at,
                                    c.user_id, c.session_id, c.installation_id, c.master, c.request_id,
                                    c.client_ip, chain.payload_digest(payload))
        previous = chain.link(previous, fields)
        row = (ev.position, ev.kind, ev.class_name, ev.object_id, ev.version, ev.at, c.user_id, c.session_id,
               c.installation_id, c.master, c.request_id, c.client_ip, payload, fields[-1], previous)
        for column, value in zip(columns, row):
            column.append(value)
    await conn.execute(_INSERT, *columns, previous)
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

