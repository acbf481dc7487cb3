"""Who is subscribed to what: a subscribe checked as Parse checks it, then by the guard, and
the end of a subscription (unsubscribed, failed, its session ended).

A subscription enters the registry and reads the dispatcher's position at the same moment (no
await between): events after that position reach it live, the ones before are its replay's
(`livequery/resume.py`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Callable

from parsnip.core.errors import ParseError
from parsnip.core.query.ast import InQuery, NEEDS_DATABASE, RelatedTo, Select, Text, parse_where, walk
from parsnip.core.query.match import RegexTimeout, decidable, matches, prepare
from parsnip.core.security import guard
from parsnip.livequery import protocol
from parsnip.livequery.connection import Connection, Subscription, request_id_json
from parsnip.livequery.hooks import LiveQueryHooks, SubscribeRequest, refusal
from parsnip.livequery.principal import ANONYMOUS, MASTER_PRINCIPAL, Principal, Principals
from parsnip.livequery.registry import Registry
from parsnip.livequery.settings import Runtime, Settings

logger = logging.getLogger("parsnip.livequery")

INTERNAL = "Internal server error"
_UNDECIDABLE = {InQuery: "$inQuery/$notInQuery/$select/$dontSelect", Select: "$select/$dontSelect",
                RelatedTo: "$relatedTo", Text: "$text"}


class Subscriptions:
    def __init__(self, runtime: Runtime, settings: Settings, hooks: LiveQueryHooks,
                 position: Callable[[], int]) -> None:
        self._rt = runtime
        self._settings = settings
        self._before_subscribe = hooks.active("before_subscribe")
        self._position = position
        self.registry = Registry()
        self.principals = Principals()

    async def subscribe(self, conn: Connection, s: protocol.Subscribe) -> tuple[Subscription, int]:
        """Admit the subscription (or raise the client's ParseError): it and the position it
        starts after."""
        limit = self._settings.max_subscriptions
        if s.request_id not in conn.subscriptions and len(conn.subscriptions) >= limit:
            raise ParseError(ParseError.REQUEST_LIMIT_EXCEEDED,
                             f"Too many subscriptions on this connection (at most {limit}):"
                             " unsubscribe first, or open another connection")
        principal = await self.principal(conn, s.session_token or conn.session_token)
        auth = principal.auth
        where, keys, watch = s.where, s.keys, s.watch
        if self._before_subscribe is not None:
            request = SubscribeRequest(s.class_name, s.request_id, where, keys, watch,
                                       s.session_token or conn.session_token, conn.installation_id, auth,
                                       conn.client_ip)
            try:
                await self._before_subscribe(request)
            except Exception as e:
                raise refusal(e, "before_subscribe", conn.id) from None
            where, keys, watch = request.where, request.keys, request.watch
        operation = "get" if list(where) == ["objectId"] and isinstance(where["objectId"], str) else "find"
        if s.class_name == guard.SESSION_CLASS and not auth.master:
            if auth.user_id is None:
                raise ParseError(ParseError.INVALID_SESSION_TOKEN, "Invalid session token")
            where = {**where, "user": {"__type": "Pointer", "className": "_User", "objectId": auth.user_id}}
        node, compiled = _checked_query(where)
        access = guard.read_access(self._rt.schema.clp, auth, s.class_name, operation)
        guard.check_query(access, node)
        if watch:
            guard.check_query(access, parse_where({f: {"$exists": True} for f in watch}))
        if s.request_id in conn.subscriptions:  # a reused requestId replaces its subscription
            self.remove(conn.subscriptions[s.request_id])
        conn.ended.pop(s.request_id, None)
        query = self.registry.query_for(s.class_name, where, node)
        query.compiled = compiled
        sub = Subscription(conn, s.request_id, request_id_json(s.request_id), query, keys, watch,
                           principal, operation, access)
        self.registry.add(query, sub)
        conn.subscriptions[s.request_id] = sub
        principal.subscriptions[sub] = None
        return sub, self._position()

    async def principal(self, conn: Connection, token: str | None) -> Principal:
        """Who a subscription with this session token acts for (looked up once per token)."""
        if conn.master:
            return MASTER_PRINCIPAL
        if not token:
            return ANONYMOUS
        return await self.principal_for(token, conn.installation_id)

    async def principal_for(self, token: str, installation_id: str | None) -> Principal:
        known = self.principals.get(token)
        if known is not None and not known.expired(now()):
            return known
        if not _is_text(token) or (installation_id is not None and not _is_text(installation_id)):
            raise ParseError(ParseError.INVALID_SESSION_TOKEN, "Invalid session token")  # no such token is stored
        auth, expires_at = await self._rt.authenticate_session(token, installation_id)
        known = self.principals.get(token)  # another subscribe may have looked it up meanwhile
        if known is None:
            known = Principal(auth, token, expires_at)
            self.principals.add(known)
        return known

    def unsubscribe(self, conn: Connection, request_id: Any, notify: bool) -> None:
        sub = conn.subscriptions.get(request_id)
        if sub is None and request_id in conn.ended:
            # The server ended it and said so; the client unsubscribing is its normal cleanup.
            # Parse answers an unknown id with an error saying `reconnect`, and the JS SDK then
            # opens a new socket without closing this one: answer `unsubscribed` instead.
            del conn.ended[request_id]
            if notify:
                conn.push(protocol.unsubscribed(conn.id, conn.installation_id, request_id))
            return
        if sub is None:
            raise protocol.ProtocolError(
                protocol.NO_CLIENT,
                f"Cannot find subscription with clientId {conn.id} subscriptionId {request_id_json(request_id)}."
                " Make sure you subscribe to live query server before unsubscribing.")
        self.remove(sub)
        if notify:
            conn.push(protocol.unsubscribed(conn.id, conn.installation_id, request_id))

    def _end(self, sub: Subscription) -> None:
        """The server ends `sub` (its client is told why by the caller); an `unsubscribe` the
        client sends for it later is answered `unsubscribed`."""
        self.remove(sub)
        sub.connection.remember_ended(sub.request_id, self._settings.max_subscriptions)

    def remove(self, sub: Subscription) -> None:
        sub.active = False
        conn = sub.connection
        if conn.subscriptions.get(sub.request_id) is sub:
            del conn.subscriptions[sub.request_id]
        self.registry.remove(sub.query, sub)
        sub.principal.subscriptions.pop(sub, None)
        self.principals.forget_if_unused(sub.principal)

    def remove_all(self, conn: Connection) -> None:
        for sub in list(conn.subscriptions.values()):
            self.remove(sub)

    def fail(self, sub: Subscription, error: Exception) -> None:
        """Matching or deciding this subscription raised: it ends, its client is told why (102
        for a regular expression that ran out of time, else an internal error) and the server
        logs it; every other subscription goes on."""
        if not sub.active:
            return
        self._end(sub)
        conn = sub.connection
        if isinstance(error, RegexTimeout):
            logger.warning("LiveQuery client %s (%s): subscription %s ended: %s",
                           conn.id, conn.client_ip, sub.request_id_json, error)
            conn.push(protocol.error(ParseError.INVALID_QUERY, str(error), False, sub.request_id))
            return
        logger.error("LiveQuery client %s (%s): subscription %s failed and was ended",
                     conn.id, conn.client_ip, sub.request_id_json, exc_info=error)
        conn.push(protocol.error(ParseError.INTERNAL_SERVER_ERROR, INTERNAL, False, sub.request_id))

    def end_principal(self, principal: Principal, code: int = ParseError.INVALID_SESSION_TOKEN,
                      message: str = "Invalid session token") -> None:
        """The session ended: its subscriptions stop, each told why (209, no reconnect)."""
        for sub in list(principal.subscriptions):
            self._end(sub)
            sub.connection.push(protocol.error(code, message, False, sub.request_id))
        self.principals.remove(principal)


# The trial match's object: its dates need not be current, only a query's own bad values raise.
_TRIAL_OBJECT = {"objectId": "", "createdAt": "2000-01-01T00:00:00.000Z", "updatedAt": "2000-01-01T00:00:00.000Z"}


def _checked_query(where: dict) -> tuple[Any, Any]:
    """The query's AST and its compiled matcher, or the ParseError Parse gives for it."""
    _check_like_parse(where)
    try:
        node = parse_where(where)
    except ParseError as e:
        if e.message.startswith("bad $regex value"):  # Parse's words for it
            raise ParseError(ParseError.INVALID_QUERY,
                             "Invalid regular expression: " + e.message.split(": ", 1)[-1]) from None
        raise
    for n in walk(node):
        if isinstance(n, NEEDS_DATABASE):
            raise ParseError(ParseError.INVALID_QUERY,
                             f"{_UNDECIDABLE[type(n)]} cannot be used in a LiveQuery subscription")
    if not decidable(node):
        raise ParseError(ParseError.INVALID_QUERY, "this query cannot be used in a LiveQuery subscription")
    compiled = prepare(node)
    # An invalid regular expression or date is refused now, not found out at every event.
    matches(node, _TRIAL_OBJECT)
    return node, compiled


def _check_like_parse(where: Any) -> None:
    """The checks Parse Server's LiveQuery makes before anything else, with its messages
    (iterative: a client picks the depth)."""
    pending = [where]
    while pending:
        where = pending.pop()
        if not isinstance(where, dict):
            continue
        for op in ("$or", "$and", "$nor"):
            if op in where:
                if not isinstance(where[op], list):
                    raise ParseError(ParseError.INVALID_QUERY, f"{op} must be an array")
                pending.extend(reversed(where[op]))
        for constraint in where.values():
            if isinstance(constraint, dict) and "$regex" in constraint:
                pattern = constraint["$regex"]
                if not isinstance(pattern, str):
                    raise ParseError(ParseError.INVALID_QUERY,
                                     "Invalid regular expression: $regex must be a string or RegExp")


def _is_text(text: str) -> bool:
    """Whether `text` is valid Unicode (no lone surrogate), as every stored string is."""
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def now() -> datetime:
    return datetime.now(timezone.utc)
