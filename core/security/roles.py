"""Role membership: the roles a user holds directly (a role's `users` relation) and through
roles inside roles (a role's `roles` relation gives its members to the roles that contain it).

`RoleCache` keeps each user's role names until any _Role changes: the writer invalidates it
synchronously for its own commits (before its caller hears back) and the bus does for other
nodes' commits, so a role change takes effect at once on this node and as soon as the log
follower sees it on others. A generation counter keeps a lookup that raced an invalidation
from storing its stale answer.
"""

from __future__ import annotations

import threading
from typing import Any, Iterable, Mapping

import asyncpg

from parsnip.core.errors import ParseError
from parsnip.core.layout import ROLE_TABLE

ROLE_CLASS = "_Role"

# UNION (not UNION ALL) stops at cycles of roles containing each other.
_ROLES_SQL = f"""
WITH RECURSIVE held(id) AS (
    SELECT owner_id FROM parsnip_relations
     WHERE owner_class = '_Role' AND field = 'users' AND target_id = $1
    UNION
    SELECT r.owner_id FROM parsnip_relations r JOIN held ON r.target_id = held.id
     WHERE r.owner_class = '_Role' AND r.field = 'roles'
)
SELECT data->>'name' FROM {ROLE_TABLE} WHERE object_id IN (SELECT id FROM held)
"""


async def roles_of(conn: Any, user_id: str) -> frozenset[str]:
    """The names of every role `user_id` holds, directly or inherited."""
    try:
        rows = await conn.fetch(_ROLES_SQL, user_id)
    except asyncpg.exceptions.UndefinedTableError:  # no _Role table yet: nobody holds a role
        return frozenset()
    return frozenset(r[0] for r in rows if r[0])


class RoleCache:
    """user id -> role names, dropped whole whenever a role changes."""

    def __init__(self) -> None:
        self._by_user: dict[str, frozenset[str]] = {}
        self.generation = 0
        # `put` runs on the trio thread, `invalidate` also on the database loop's: without the
        # lock, a lookup checked against the old generation could land in the new dict.
        self._lock = threading.Lock()

    def get(self, user_id: str) -> frozenset[str] | None:
        return self._by_user.get(user_id)

    def put(self, user_id: str, roles: frozenset[str], generation: int) -> None:
        """Store a lookup made at `generation`, unless a role changed since."""
        with self._lock:
            if generation == self.generation:
                self._by_user[user_id] = roles

    def invalidate(self) -> None:
        with self._lock:
            self.generation += 1
            self._by_user = {}

    def watch(self, events: Iterable[Any]) -> None:
        """Drop everything when any of `events` touches a role (callable from any thread)."""
        if any(getattr(ev, "class_name", None) == ROLE_CLASS for ev in events):
            self.invalidate()


def check_role_write(body: Mapping[str, Any], creating: bool) -> None:
    """A role needs a name and an ACL when created, and keeps its name for life (ACLs name
    roles, so renaming one would silently move permissions)."""
    if creating:
        if not isinstance(body.get("name"), str) or not body.get("name"):
            raise ParseError(ParseError.INCORRECT_TYPE, "name is required.")
        if not isinstance(body.get("ACL"), dict):
            raise ParseError(ParseError.INCORRECT_TYPE, "ACL is required.")
    elif "name" in body:
        raise ParseError(ParseError.OTHER_CAUSE, "A role's name can only be set before it has been saved.")
