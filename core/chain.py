"""The log's hash chain: what each event's `hash` is computed over, exactly, so anyone can check it.

    hash(n) = SHA-256(hash(n-1) || canonical(n)),   hash(0) = GENESIS (32 zero bytes)

`canonical(n)` is the event's columns in this order, each as one field: position, kind,
class_name, object_id, version, at (microseconds since 1970-01-01 UTC), user_id, session_id,
installation_id, master ("true"/"false"), request_id, client_ip, payload_digest. A field is
0x00 for SQL NULL, else 0x01, its length as 4 bytes big-endian, and its bytes: integers in
decimal ASCII, text in UTF-8, the digest as its 32 raw bytes. `payload_digest` is
SHA-256(payload as stored), kept in its own column, so erasing a payload (`core/erasure.py`)
leaves the chain verifying while a changed payload, digest or column breaks it.

Appending, the writer encodes every field but the position; the database encodes the position
and links the events under the log head (`core/log.py: parsnip_append`). `link` here is what
verification (`core/verify.py`) recomputes.
"""

from __future__ import annotations

import hashlib
import struct
from datetime import datetime, timezone
from typing import Any, Iterable

GENESIS = bytes(32)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_NULL = b"\x00"
_LENGTH = struct.Struct(">I")


def payload_digest(payload: bytes) -> bytes:
    return hashlib.sha256(payload).digest()


def micros(at: datetime) -> int:
    """Microseconds since the epoch: the one form of `at` that every language reads alike."""
    delta = at - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _field(value: Any) -> bytes:
    # Exact class checks, most frequent first: this runs 13 times per appended event.
    kind = value.__class__
    if kind is str:
        data = value.encode()
    elif value is None:
        return _NULL
    elif kind is bytes:
        data = value
    elif kind is bool:
        data = b"true" if value else b"false"
    else:
        data = str(value).encode()
    return b"\x01" + _LENGTH.pack(len(data)) + data


def canonical(fields: Iterable[Any]) -> bytes:
    """The encoding of one event's columns (in `chain_fields` order)."""
    return b"".join(map(_field, fields))


def chain_fields(position: int, kind: str, class_name: str, object_id: str | None, version: int,
                 at: datetime, user_id: str | None, session_id: str | None, installation_id: str | None,
                 master: bool, request_id: str | None, client_ip: str | None, digest: bytes) -> tuple:
    """The hashed columns, in their canonical order."""
    return (position, kind, class_name, object_id, version, micros(at), user_id, session_id,
            installation_id, master, request_id, client_ip, digest)


def link(previous: bytes, fields: Iterable[Any]) -> bytes:
    """The chain hash of an event whose predecessor's hash is `previous`."""
    return hashlib.sha256(previous + canonical(fields)).digest()
