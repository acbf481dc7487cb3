"""Who a subscription acts for: a session (shared by every subscription that uses its token),
the master, or nobody. A session's principal is dropped, with its subscriptions, when the
session ends (logout, expiry, deletion of the session or its user); its roles are refreshed
when a role changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from parsnip.core.security.auth import MASTER, NOBODY, Auth


@dataclass(eq=False)
class Principal:
    auth: Auth
    token: str | None = None
    expires_at: datetime | None = None
    subscriptions: dict[Any, None] = field(default_factory=dict)

    def expired(self, at: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= at


ANONYMOUS = Principal(NOBODY)
MASTER_PRINCIPAL = Principal(MASTER)


class Principals:
    """The live sessions of this node's subscriptions, by token, session id and user id (each
    lookup O(1): a session event must not cost a walk over every subscriber)."""

    def __init__(self) -> None:
        self.by_token: dict[str, Principal] = {}
        self._by_session: dict[str, dict[Principal, None]] = {}
        self._by_user: dict[str, dict[Principal, None]] = {}

    def get(self, token: str) -> Principal | None:
        return self.by_token.get(token)

    def add(self, principal: Principal) -> None:
        assert principal.token is not None
        self.by_token[principal.token] = principal
        if principal.auth.session_id:
            self._by_session.setdefault(principal.auth.session_id, {})[principal] = None
        if principal.auth.user_id:
            self._by_user.setdefault(principal.auth.user_id, {})[principal] = None

    def remove(self, principal: Principal) -> None:
        if principal.token is None or self.by_token.get(principal.token) is not principal:
            return
        del self.by_token[principal.token]
        for index, key in ((self._by_session, principal.auth.session_id), (self._by_user, principal.auth.user_id)):
            bucket = index.get(key or "")
            if bucket is not None:
                bucket.pop(principal, None)
                if not bucket:
                    del index[key]

    def forget_if_unused(self, principal: Principal) -> None:
        if not principal.subscriptions:
            self.remove(principal)

    def of_session(self, session_id: str) -> list[Principal]:
        return list(self._by_session.get(session_id, ()))

    def of_user(self, user_id: str) -> list[Principal]:
        return list(self._by_user.get(user_id, ()))

    def users(self) -> list[Principal]:
        return [p for p in self.by_token.values() if p.auth.user_id]
