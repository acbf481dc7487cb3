"""Security changes seen on the bus, applied to live subscriptions: a class's permissions
(asked of the guard again), roles (read again for every subscriber), and sessions (an ended or
deleted session, or a deleted user, ends its subscriptions; a new expiry is taken)."""

from __future__ import annotations

import logging
from dataclasses import replace

import trio

from parsnip.core.errors import ParseError
from parsnip.core.events import DELETE, ERASE, UPDATE, Event, object_states
from parsnip.core.security import guard
from parsnip.core.values import parse_iso
from parsnip.livequery.connection import Subscription
from parsnip.livequery.principal import Principal
from parsnip.livequery.settings import Runtime
from parsnip.livequery.subscriptions import INTERNAL, Subscriptions

logger = logging.getLogger("parsnip.livequery")


class AccessRefresh:
    def __init__(self, runtime: Runtime, subs: Subscriptions) -> None:
        self._rt = runtime
        self._subs = subs

    def schema_changed(self, class_name: str) -> None:
        """The class's permissions may have changed: ask the guard again for each subscription
        (one now refused gets no events, as Parse skips them)."""
        for query in self._subs.registry.queries_of(class_name):
            for sub in query.subscriptions:
                sub.access = self._access(sub)

    def _access(self, sub: Subscription):
        try:
            access = guard.read_access(self._rt.schema.clp, sub.principal.auth, sub.query.class_name, sub.operation)
            guard.check_query(access, sub.query.node)
            return access
        except ParseError:
            return None

    async def roles_changed(self) -> None:
        """A role changed: every subscriber's roles are read again before the next event."""
        limiter = trio.CapacityLimiter(8)  # a few lookups at a time: the pool serves REST too

        async def refresh(principal: Principal) -> None:
            try:
                async with limiter:
                    roles = await self._rt.roles_of(principal.auth.user_id)
            except Exception as e:  # roles unknown: end its subscriptions rather than guess
                logger.warning("LiveQuery could not read the roles of user %s (%s); ending its subscriptions",
                               principal.auth.user_id, e)
                self._subs.end_principal(principal, ParseError.INTERNAL_SERVER_ERROR, INTERNAL)
                return
            if roles != principal.auth.roles:
                principal.auth = replace(principal.auth, roles=roles)
                for sub in principal.subscriptions:
                    sub.access = self._access(sub)

        async with trio.open_nursery() as nursery:
            for principal in self._subs.principals.users():
                nursery.start_soon(refresh, principal)

    def sessions_changed(self, ev: Event) -> None:
        principals = self._subs.principals
        if ev.class_name == guard.USER_CLASS:
            for principal in principals.of_user(ev.object_id):
                self._subs.end_principal(principal)
            return
        if ev.kind in (DELETE, ERASE):
            for principal in principals.of_session(ev.object_id):
                self._subs.end_principal(principal)
        elif ev.kind == UPDATE:
            _, after = object_states(ev)
            expires = (after or {}).get("expiresAt")
            for principal in principals.of_session(ev.object_id):
                if isinstance(expires, dict) and isinstance(expires.get("iso"), str):
                    principal.expires_at = parse_iso(expires["iso"])
