"""Session tokens: how they are made, what a _Session object holds, and the lookup that turns a
token into a user on every request.

A token is `r:` and 32 hex characters of randomness (Parse's revocable form). Sessions are
ordinary _Session objects written through the log, so a logout or revocation is an event
like any other, and every node sees it.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import asyncpg

from parsnip.core.commands import Create
from parsnip.core.accounts.users import USER_CLASS
from parsnip.core.events import CREATE, UPDATE
from parsnip.core.layout import SESSION_TABLE, USER_TABLE
from parsnip.core.operations import Op
from parsnip.core.values import iso, parse_iso

SESSION_CLASS = "_Session"


def new_token() -> str:
    return "r:" + secrets.token_hex(16)


def user_pointer(user_id: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": "_User", "objectId": user_id}


def create_session(user_id: str, action: str, provider: str, length_seconds: int | None,
                   installation_id: str | None = None, token: str | None = None) -> Create:
    """The command that creates a session for `user_id` (action: signup, login, upgrade, create);
    it never expires when `length_seconds` is None (expireInactiveSessions: false)."""
    fields: dict[str, Any] = {
        "sessionToken": token or new_token(),
        "user": user_pointer(user_id),
        "createdWith": {"action": action, "authProvider": provider},
        "restricted": False,
        "ACL": {user_id: {"read": True, "write": True}},
    }
    if length_seconds is not None:
        expires = datetime.now(timezone.utc) + timedelta(seconds=length_seconds)
        fields["expiresAt"] = {"__type": "Date", "iso": iso(expires)}
    if installation_id:
        fields["installationId"] = installation_id
    return Create(SESSION_CLASS, {k: Op("Set", v) for k, v in fields.items()})


@dataclass(frozen=True, slots=True)
class Session:
    object_id: str
    token: str
    user_id: str
    expires_at: datetime | None
    updated_at: datetime
    installation_id: str | None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


_LOOKUP = f"""
SELECT s.object_id, s.updated_at, s.data, u.object_id AS user_id
  FROM {SESSION_TABLE} s JOIN {USER_TABLE} u ON u.object_id = s.data->'user'->>'objectId'
 WHERE s.data->>'sessionToken' = $1
"""


async def lookup(conn: Any, token: str) -> Session | None:
    """The session with this token whose user still exists, or None."""
    try:
        row = await conn.fetchrow(_LOOKUP, token)
    except asyncpg.exceptions.UndefinedTableError:  # no _Session or _User table yet
        return None
    if row is None:
        return None
    data = row["data"]
    expires = data.get("expiresAt")
    return Session(
        object_id=row["object_id"], token=token, user_id=row["user_id"],
        expires_at=parse_iso(expires["iso"]) if isinstance(expires, dict) and expires.get("iso") else None,
        updated_at=row["updated_at"], installation_id=data.get("installationId"),
    )


async def sessions_of(conn: Any, user_id: str) -> list[tuple[str, str]]:
    """(objectId, token) of every session of a user."""
    try:
        rows = await conn.fetch(
            f"""SELECT object_id, data->>'sessionToken' FROM {SESSION_TABLE} WHERE data->'user' @> $1::jsonb""",
            user_pointer(user_id),
        )
    except asyncpg.exceptions.UndefinedTableError:
        return []
    return [(r[0], r[1]) for r in rows]


async def installation_sessions(conn: Any, user_id: str, installation_id: str) -> list[tuple[str, str]]:
    """(objectId, token) of every session of a user on one installation."""
    try:
        rows = await conn.fetch(
            f"""SELECT object_id, data->>'sessionToken' FROM {SESSION_TABLE}
                 WHERE data->'user' @> $1::jsonb AND data->>'installationId' = $2""",
            user_pointer(user_id), installation_id,
        )
    except asyncpg.exceptions.UndefinedTableError:
        return []
    return [(r[0], r[1]) for r in rows]


class SessionCache:
    """token -> Session, so a logged-in user's request costs no session lookup. Dropped whole on
    any change that could end a session: a `_Session` event other than a create (logout, an
    update, a revocation, a purge) and a `_User` event other than a create or an update (a
    deleted user's sessions end with it). Expiry is checked on each use, not cached."""

    _LIMIT = 100_000  # entries; past it the cache starts again empty

    def __init__(self) -> None:
        self._by_token: dict[str, Session] = {}
        self.generation = 0
        # `put` runs on the trio thread, `invalidate` also on the database loop's: without the
        # lock, a lookup checked against the old generation could land in the new dict.
        self._lock = threading.Lock()

    def get(self, token: str) -> Session | None:
        return self._by_token.get(token)

    def put(self, session: Session, generation: int) -> None:
        """Store a lookup made at `generation`, unless a session may have ended since."""
        with self._lock:
            if generation != self.generation:
                return
            if len(self._by_token) >= self._LIMIT:
                self._by_token = {}
            self._by_token[session.token] = session

    def invalidate(self) -> None:
        with self._lock:
            self.generation += 1
            self._by_token = {}

    def watch(self, events: Any) -> None:
        """Drop everything when any of `events` may end a session (callable from any thread)."""
        for ev in events:
            cls, kind = getattr(ev, "class_name", None), getattr(ev, "kind", None)
            if (cls == SESSION_CLASS and kind != CREATE) or (cls == USER_CLASS and kind not in (CREATE, UPDATE)):
                self.invalidate()
                return
