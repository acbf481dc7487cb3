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

CREATE OR REPLACE FUNCTION parsnip_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
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


INSTALL_LOCK = 7212480  # advisory lock id that serializes installs by several nodes


async def install(conn: asyncpg.Connection) -> None:
    """Create the log's tables and guards if they are missing (idempotent).

    Call inside a transaction holding `pg_advisory_xact_lock(INSTALL_LOCK)`: DDL "IF NOT
    EXISTS" still races with another node doing the same.
    """
    await conn.execute(LOG_DDL)


async def append(conn: asyncpg.Connection, events: Sequence[Event]) -> int | None:
    """Give `events` the next positions and insert them. Call last in the transaction.

    Returns the transaction's id (`txid_current()`, in the same round trip), with which a
    writer whose connection died during COMMIT asks `txid_status` whether it committed."""
    if not events:
        return None
    # Taking the head also queues a notification, delivered at commit, that wakes the log
    # followers of every node.
    head, xid = await conn.fetchrow(
        "WITH h AS (UPDATE parsnip_log_head SET position = position + $1 RETURNING position)"
        " SELECT position, txid_current() FROM h, pg_notify('" + CHANNEL + "', position::text) AS n",
        len(events),
    )
    first = head - len(events) + 1
    rows = []
    for i, ev in enumerate(events):
        ev.position = first + i
        c = ev.context
        rows.append(
            (ev.position, ev.kind, ev.class_name, ev.object_id, ev.version, ev.at, c.user_id,
             c.session_id, c.installation_id, c.master, c.request_id, c.client_ip,
             encode_payload(ev.payload))
        )
    await conn.executemany(
        f"INSERT INTO parsnip_events ({_COLUMNS}) VALUES "
        "($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)",
        rows,
    )
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
        payload=decode_payload(row["payload"]), position=row["position"],
    )


async def read_after(conn: asyncpg.Connection, position: int, limit: int = 1000) -> list[Event]:
    """Events with positions after `position`, in order (at most `limit`)."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM parsnip_events WHERE position > $1 ORDER BY position LIMIT $2",
        position, limit,
    )
    return [_event(r) for r in rows]


async def read_class_range(conn: asyncpg.Connection, class_name: str, after: int, upto: int,
                           limit: int = 1000) -> list[Event]:
    """A class's events with positions in (after, upto], in order (at most `limit`)."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM parsnip_events WHERE position > $1 AND position <= $2"
        " AND class_name = $3 ORDER BY position LIMIT $4",
        after, upto, class_name, limit,
    )
    return [_event(r) for r in rows]


async def head(conn: asyncpg.Connection) -> int:
    """The last committed position."""
    return await conn.fetchval("SELECT position FROM parsnip_log_head")


async def object_history(conn: asyncpg.Connection, class_name: str, object_id: str) -> list[Event]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM parsnip_events WHERE class_name = $1 AND object_id = $2"
        " ORDER BY position",
        class_name, object_id,
    )
    return [_event(r) for r in rows]

