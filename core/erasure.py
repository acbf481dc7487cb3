"""Erasing one object's data from the log itself (a right to be forgotten), keeping the chain whole.

One transaction: the object's live row is locked (as the writer locks it), an `erase` event is
appended (who erased, why, which positions), every earlier event of the object has its payload
blanked in place, naming that event (`erased_by`), and the event is applied to the projections,
which drop the object. The chain hashes each payload's digest, never the payload
(`core/chain.py`), so the log verifies afterwards; the append-only trigger lets exactly this
change through, only under the setting `parsnip.erase` = the erase event's position.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import asyncpg

from parsnip.core import log as event_log
from parsnip.core.errors import ParseError
from parsnip.core.events import ERASE, Context, Event
from parsnip.core.layout import table
from parsnip.core.values import iso, now


class Projections(Protocol):
    """What erasure needs of the projections (`projections/store.py: Projector`)."""

    async def apply(self, conn: asyncpg.Connection, ev: Event) -> None: ...

    async def record_history(self, conn: asyncpg.Connection, events: list[Event]) -> None: ...


@dataclass(frozen=True)
class Erased:
    """The tombstone: the erase event's position and time, and the positions blanked."""

    position: int
    at: str
    positions: list[int]


async def erase(conn: asyncpg.Connection, projections: Projections, class_name: str, object_id: str,
                context: Context, by: str | None = None, reason: str | None = None) -> Erased:
    """Erase an object's data; 101 when the log holds none of it (never written, or erased)."""
    async with conn.transaction():
        # The live row first, as the writer takes it: a concurrent write of the object waits.
        live = table(class_name)
        if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", live):
            await conn.execute(f"SELECT 1 FROM {live} WHERE object_id = $1 FOR UPDATE", object_id)
        rows = await conn.fetch(
            "SELECT position, kind, version, erased_by FROM parsnip_events WHERE class_name = $1 AND object_id = $2"
            " ORDER BY position", class_name, object_id)
        positions = [r["position"] for r in rows if r["erased_by"] is None and r["kind"] != ERASE]
        if not positions:
            raise ParseError(ParseError.OBJECT_NOT_FOUND, "Object not found.")
        payload = {"positions": positions, "by": by, "reason": reason}
        ev = Event(ERASE, class_name, object_id, max(r["version"] for r in rows) + 1, now(), context, payload)
        await event_log.append(conn, [ev])
        await conn.execute("SELECT set_config('parsnip.erase', $1, true)", str(ev.position))
        await conn.execute(
            "UPDATE parsnip_events SET payload = ''::bytea, erased_by = $1 WHERE position = ANY($2::bigint[])",
            ev.position, positions)
        await projections.apply(conn, ev)
        await projections.record_history(conn, [ev])  # the object's versions in the history table
    return Erased(ev.position, iso(ev.at), positions)
