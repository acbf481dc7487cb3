"""Checking the log against its hash chain (`core/chain.py`), in batches, in constant memory.

Every event is checked in position order: positions dense from 1, the payload's SHA-256 equal
to its stored digest (an erased payload instead names an `erase` event of the same object that
follows it), the chain hash recomputed equal to the stored one, and the head row's hash equal
to the last event's. The first event that fails is `broken_at`; nothing after it is checked.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Callable

import asyncpg

from parsnip.core import chain
from parsnip.core.events import ERASE

_BATCH = 2000
_READ = (
    "SELECT position, kind, class_name, object_id, version, at, user_id, session_id, installation_id,"
    " master, request_id, client_ip, payload_digest, hash, erased_by,"
    # PostgreSQL checks each digest (sha256, PostgreSQL 11+): payloads never cross the wire.
    " sha256(payload) IS NOT DISTINCT FROM payload_digest AS digest_holds, payload = ''::bytea AS blank"
    " FROM parsnip_events WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $3"
)


@dataclass(frozen=True)
class Verdict:
    """What a verification found. `checked`: events that passed; `head`: the head row's
    position and hash (hex) as they were when the verification began."""

    ok: bool
    checked: int
    head_position: int
    head_hash: str
    broken_at: int | None

    def as_json(self) -> dict:
        return {"ok": self.ok, "checked": self.checked,
                "head": {"position": self.head_position, "hash": self.head_hash}, "brokenAt": self.broken_at}


async def verify(conn: asyncpg.Connection, progress: Callable[[int, int], None] | None = None,
                 batch: int = _BATCH) -> Verdict:
    """Check the whole log as of one snapshot; `progress(checked, head)` after each batch."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        head, head_hash = await conn.fetchrow("SELECT position, hash FROM parsnip_log_head")
        shown = head_hash.hex() if head_hash is not None else ""
        previous, checked = chain.GENESIS, 0
        rows = await conn.fetch(_READ, 0, head, batch) if head else []
        while rows:
            erasures = await _erasures(conn, rows)
            # The next batch is read while this one is hashed: PostgreSQL and Python overlap.
            following = asyncio.ensure_future(conn.fetch(_READ, rows[-1]["position"], head, batch))
            await asyncio.sleep(0)
            try:
                for r in rows:
                    expected = checked + 1
                    if r["position"] != expected or not _payload_holds(r, erasures):
                        return Verdict(False, checked, head, shown, expected)
                    fields = chain.chain_fields(*(r[i] for i in range(12)), r["payload_digest"])
                    previous = chain.link(previous, fields)
                    if r["hash"] != previous:
                        return Verdict(False, checked, head, shown, expected)
                    checked = expected
            finally:
                rows = await following
            if progress is not None:
                progress(checked, head)
        if checked < head:  # events missing at the end of the log
            return Verdict(False, checked, head, shown, checked + 1)
        if head_hash != previous:
            return Verdict(False, checked, head, shown, head if head else None)
        return Verdict(True, checked, head, shown, None)


def _payload_holds(r: asyncpg.Record, erasures: dict[int, tuple]) -> bool:
    if r["payload_digest"] is None:
        return False
    if r["erased_by"] is None:
        return r["digest_holds"]
    # Erased: blank, and blanked by an erase of this very object that came after it.
    return (r["blank"] and r["erased_by"] > r["position"]
            and erasures.get(r["erased_by"]) == (ERASE, r["class_name"], r["object_id"]))


async def _erasures(conn: asyncpg.Connection, rows: list) -> dict[int, tuple]:
    """The erase events the batch's erased payloads name: position -> (kind, class, object)."""
    named = [r["erased_by"] for r in rows if r["erased_by"] is not None]
    if not named:
        return {}
    found = await conn.fetch(
        "SELECT position, kind, class_name, object_id FROM parsnip_events WHERE position = ANY($1::bigint[])", named)
    return {f["position"]: (f["kind"], f["class_name"], f["object_id"]) for f in found}
