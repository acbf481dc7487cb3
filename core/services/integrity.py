"""The log's integrity through the API: verify the chain, the (signed) head, erase an object.

Master key only (Parse's middleware answer, 403 "Permission denied", otherwise); erasing
writes, so the read-only master key may verify and read the head but not erase.
"""

from __future__ import annotations

from typing import Any

from parsnip.core import erasure, head_signing, verify as chain_verify
from parsnip.core.errors import ParseError
from parsnip.core.schema import check_class_name
from parsnip.core.services.access import require_master, require_writable
from parsnip.core.services.base import Backend, Caller
from parsnip.core.values import iso, now


async def verify(rt: Backend, caller: Caller) -> dict:
    """`{"ok", "checked", "head": {"position", "hash"}, "brokenAt"}` over the whole log."""
    require_master(caller.auth)
    return (await rt.read(chain_verify.verify)).as_json()


async def head(rt: Backend, caller: Caller) -> dict:
    """The head's position and hash, signed (`signature`, `publicKey`) when a key is configured."""
    require_master(caller.auth)
    position, hash_ = await rt.read(_head)
    out: dict[str, Any] = {"position": position, "hash": hash_.hex(), "at": iso(now())}
    if rt.config.historySigningKey:
        key = head_signing.load(rt.config.historySigningKey)
        out.update(head_signing.sign(key, rt.config.appId, position, out["hash"], out["at"]))
    return out


async def _head(conn) -> tuple[int, bytes]:
    return tuple(await conn.fetchrow("SELECT position, hash FROM parsnip_log_head"))


async def erase(rt: Backend, caller: Caller, class_name: str, object_id: str, body: Any) -> dict:
    """Blank every payload of the object in the log and drop it: `{"position", "at", "erased"}`."""
    require_master(caller.auth)
    require_writable(caller.auth, "erase objects")
    check_class_name(class_name)
    body = body if isinstance(body, dict) else {}
    by, reason = body.get("by"), body.get("reason")
    for name, value in (("by", by), ("reason", reason)):
        if value is not None and not isinstance(value, str):
            raise ParseError(ParseError.INVALID_JSON, f"{name} must be a string")
    done = await rt.read(erasure.erase, rt.projector, class_name, object_id, caller.context, by, reason)
    return {"position": done.position, "at": done.at, "erased": done.positions}
