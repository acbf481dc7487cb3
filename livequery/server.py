"""The LiveQuery server of one node: client connections, their subscriptions, and the dispatcher
that turns every committed event on the bus into the messages each subscriber may see.

Events come from the bus in log order (this node's writes and, through the follower or Redis,
every other node's); `original` and `object` are the states the event itself carries
(`core/events.py: object_states`), never a read that could race with a later write. The
dispatcher asks the registry for the few queries an event can concern, matches each once, and
hands each subscriber's message to its connection's queue without waiting for any client.
Security is `core/security/guard.py`, as for REST reads.

Each client fails alone: whatever one message raises becomes that client's error message and
a log line; whatever matching or deciding one subscription raises ends that subscription with
an error to its client, and the dispatcher goes on with every other one.
"""

from __future__ import annotations

import hmac
import logging
import re
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Protocol

import trio

from parsnip.core import log as event_log
from parsnip.core.errors import ParseError
from parsnip.core.events import CREATE, DELETE, SCHEMA, UPDATE, Event, object_states
from parsnip.core.query.ast import InQuery, NEEDS_DATABASE, RelatedTo, Select, Text, parse_where, walk
from parsnip.core.query.match import RegexTimeout, decidable, matches, prepare
from parsnip.core.query.match_regex import time_budget
from parsnip.core.security import guard
from parsnip.core.values import iso, parse_iso
from parsnip.livequery import protocol
from parsnip.livequery.connection import Connection, Subscription, request_id_json
from parsnip.livequery.fanout import Bodies, decide
from parsnip.livequery.principal import ANONYMOUS, MASTER_PRINCIPAL, Principal, Principals
from parsnip.livequery.registry import Registry
from parsnip.livequery.websocket import Stalled, Transport

logger = logging.getLogger("parsnip.livequery")

_OBJECT_KINDS = (CREATE, UPDATE, DELETE)
_UNDECIDED = object()
_BUS_BUFFER = 100_000
_REPLAY_BATCH = 1000
_DRAIN = 256  # events dispatched back to back before the senders get a turn
_MAX_SUBSCRIPTIONS = 1000  # per connection; the benchmarks' largest is 500 (100,000 over 200)
_INTERNAL = "Internal server error"
_REGEX_BUDGET = 0.1  # seconds of backtracking regular expressions per dispatcher turn, in all
_UNDECIDABLE = {InQuery: "$inQuery/$notInQuery/$select/$dontSelect", Select: "$select/$dontSelect",
                RelatedTo: "$relatedTo", Text: "$text"}


class Runtime(Protocol):  # what the server needs of api/runtime.py's Runtime
    config: Any
    bus: Any
    schema: Any

    async def authenticate_session(self, token: str, installation_id: str | None = None) -> tuple: ...
    async def roles_of(self, user_id: str) -> frozenset[str]: ...
    async def read(self, fn, *args): ...


class LiveQueryServer:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        config = runtime.config
        live = config.liveQuery or {}
        options = config.liveQueryServerOptions or {}
        self._class_names = [re.compile("^" + name + "$") for name in live.get("classNames", []) or []]
        self._enabled: dict[str, bool] = {}
        self._key_pairs: dict[str, str] = dict(options.get("keyPairs") or {})
        self._timeout = float(options.get("websocketTimeout", 10_000)) / 1000.0
        self._max_queue = int(options.get("maxQueue", 10_000))
        self._max_subscriptions = int(options.get("maxSubscriptionsPerConnection", _MAX_SUBSCRIPTIONS))
        self._files_base = f"{config.publicServerURL or config.serverURL}/files/{config.appId}/"
        self.registry = Registry()
        self.principals = Principals()
        self.connections: set[Connection] = set()
        self.position = runtime.bus.last_position  # every event up to here has been dispatched
        self._stopping = trio.Event()

    # -- lifetime --------------------------------------------------------------------------
    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Dispatch bus events until cancelled (the owner's nursery holds this task)."""
        channel = self._rt.bus.subscribe(_BUS_BUFFER)
        self.position = self._rt.bus.last_position
        task_status.started()
        closed = (trio.EndOfChannel, trio.ClosedResourceError, trio.BrokenResourceError)
        while True:
            try:
                batch = [await channel.receive()]
            except closed:
                channel = await self._catch_up()
                continue
            # Everything already waiting (a group commit's events) is dispatched before any
            # client's sender runs, so each connection gets one write for the lot.
            cut_off = False
            while len(batch) < _DRAIN:
                try:
                    batch.append(channel.receive_nowait())
                except trio.WouldBlock:
                    break
                except closed:
                    cut_off = True
                    break
            with time_budget(_REGEX_BUDGET):
                for ev in batch:
                    if ev.position is not None and ev.position <= self.position:
                        continue
                    await self._dispatch(ev)
            if cut_off:
                channel = await self._catch_up()

    async def _catch_up(self) -> Any:
        """The bus cut this consumer off (it fell behind): read what it missed from the log,
        retrying while the database cannot answer (the position keeps what was dispatched)."""
        logger.warning("LiveQuery fell behind the bus at position %s; catching up from the log", self.position)
        channel = self._rt.bus.subscribe(_BUS_BUFFER)
        upto = self._rt.bus.last_position
        delay = 0.1
        while self.position < upto:
            try:
                events = await self._rt.read(event_log.read_after, self.position, _REPLAY_BATCH)
            except Exception as e:
                logger.warning("LiveQuery could not read the log after position %s (%s); retrying in %.1f s",
                               self.position, e, delay)
                await trio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.1
            with time_budget(_REGEX_BUDGET):
                for ev in events:
                    if ev.position > upto:
                        break
                    await self._dispatch(ev)
            if not events:
                break
        return channel

    def stop(self) -> None:
        """Close every connection (server shutdown): clients reconnect elsewhere or later."""
        self._stopping.set()

    # -- one connection -----------------------------------------------------------------------
    async def serve(self, transport: Transport, client_ip: str | None = None) -> None:
        """Serve one websocket until it closes; everything it subscribed goes with it. Nothing
        the client does escapes this call: it ends this connection at most."""
        transport.write_timeout = self._timeout
        conn = Connection(transport, client_ip, self._max_queue)
        self.connections.add(conn)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._sender, conn, nursery.cancel_scope)
                nursery.start_soon(self._pinger, conn, nursery.cancel_scope)
                nursery.start_soon(self._closer, conn, nursery.cancel_scope)
                while True:
                    text = await transport.receive()
                    if text is None:
                        break
                    await self._handle(conn, text, nursery)
                nursery.cancel_scope.cancel()
        except* Exception as group:
            conn.close_code = (1011, "internal error")
            for e in group.exceptions:
                logger.error("LiveQuery client %s (%s) failed", conn.id, client_ip, exc_info=e)
        finally:
            self.connections.discard(conn)
            conn.close()
            for sub in list(conn.subscriptions.values()):
                self._remove(sub)
            with trio.CancelScope(shield=True):  # bounded: see Transport.close
                await transport.close(*conn.close_code)

    async def _sender(self, conn: Connection, scope: trio.CancelScope) -> None:
        await conn.run_sender()
        scope.cancel()

    async def _pinger(self, conn: Connection, scope: trio.CancelScope) -> None:
        transport = conn.transport
        while True:
            await trio.sleep(self._timeout)
            if not transport.alive:
                logger.info("LiveQuery client %s did not answer a ping in %.0f s", conn.id, self._timeout)
                scope.cancel()
                return
            if transport.sending:
                continue  # a write under way has its own deadline; a ping would only queue behind it
            try:
                await transport.ping()
            except trio.BrokenResourceError as e:
                if isinstance(e, Stalled):
                    logger.info("LiveQuery client %s (%s) dropped: %s", conn.id, conn.client_ip, e)
                scope.cancel()
                return

    async def _closer(self, conn: Connection, scope: trio.CancelScope) -> None:
        await self._stopping.wait()
        conn.close_code = (1001, "server shutting down")
        scope.cancel()

    async def _handle(self, conn: Connection, text: str, nursery: trio.Nursery) -> None:
        request_id = None
        try:
            message = protocol.decode(text)
            op = message["op"]
            if op == "connect":
                await self._connect(conn, message)
                return
            if conn.id is None:
                verb = "unsubscribing" if op == "unsubscribe" else "subscribing"
                raise protocol.ProtocolError(
                    protocol.NO_CLIENT, f"Can not find this client, make sure you connect to server before {verb}")
            request_id = protocol.known_request_id(message)
            if op == "unsubscribe":
                self._unsubscribe(conn, protocol.request_id_of(message), notify=True)
                return
            fields = protocol.subscribe_fields(message)
            request_id = fields.request_id
            if op == "update" and request_id in conn.subscriptions:
                self._unsubscribe(conn, request_id, notify=False)
            await self._subscribe(conn, fields, nursery)
        except protocol.ProtocolError as e:
            conn.push(protocol.error(e.code, e.message, True))
        except ParseError as e:
            conn.push(protocol.error(e.code, e.message, False, request_id))
        except Exception:
            logger.error("LiveQuery client %s (%s): a message with requestId %s failed", conn.id, conn.client_ip,
                         request_id, exc_info=True)
            conn.push(protocol.error(ParseError.INTERNAL_SERVER_ERROR, _INTERNAL, False, request_id))

    # -- connect / subscribe / unsubscribe -------------------------------------------------
    async def _connect(self, conn: Connection, message: dict) -> None:
        fields = protocol.connect_fields(message)
        app_ok = hmac.compare_digest(_bytes(fields["applicationId"]), _bytes(self._rt.config.appId))
        if not app_ok or not self._keys_valid(fields):
            raise protocol.ProtocolError(protocol.BAD_KEYS, "Key in request is not valid")
        master = "masterKey" in self._key_pairs and "masterKey" in fields and hmac.compare_digest(
            _bytes(fields["masterKey"]), _bytes(self._key_pairs["masterKey"]))
        for sub in list(conn.subscriptions.values()):  # a second connect starts the client afresh
            self._remove(sub)
        conn.ended.clear()
        conn.connected(fields.get("installationId"), master, fields.get("sessionToken"))
        conn.push(protocol.connected(conn.id, conn.installation_id))

    def _keys_valid(self, fields: dict[str, str]) -> bool:
        if not self._key_pairs:
            return True
        return any(name in fields and hmac.compare_digest(_bytes(fields[name]), _bytes(str(secret)))
                   for name, secret in self._key_pairs.items())

    async def _subscribe(self, conn: Connection, s: protocol.Subscribe, nursery: trio.Nursery) -> None:
        if s.request_id not in conn.subscriptions and len(conn.subscriptions) >= self._max_subscriptions:
            raise ParseError(ParseError.REQUEST_LIMIT_EXCEEDED,
                             f"Too many subscriptions on this connection (at most {self._max_subscriptions}):"
                             " unsubscribe first, or open another connection")
        principal = await self._principal(conn, s.session_token or conn.session_token)
        auth = principal.auth
        where = s.where
        if s.class_name == guard.SESSION_CLASS and not auth.master:
            if auth.user_id is None:
                raise ParseError(ParseError.INVALID_SESSION_TOKEN, "Invalid session token")
            where = {**where, "user": {"__type": "Pointer", "className": "_User", "objectId": auth.user_id}}
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
        stamp = iso(_now())
        matches(node, {"objectId": "", "createdAt": stamp, "updatedAt": stamp})
        operation = "get" if list(s.where) == ["objectId"] and isinstance(s.where["objectId"], str) else "find"
        access = guard.read_access(self._rt.schema.clp, auth, s.class_name, operation)
        guard.check_query(access, node)
        if s.watch:
            guard.check_query(access, parse_where({f: {"$exists": True} for f in s.watch}))
        if s.request_id in conn.subscriptions:  # a reused requestId replaces its subscription
            self._remove(conn.subscriptions[s.request_id])
        conn.ended.pop(s.request_id, None)
        query = self.registry.query_for(s.class_name, where, node)
        query.compiled = compiled
        sub = Subscription(conn, s.request_id, request_id_json(s.request_id), query, s.keys, s.watch,
                           principal, operation, access)
        self.registry.add(query, sub)
        conn.subscriptions[s.request_id] = sub
        principal.subscriptions[sub] = None
        start = self.position
        conn.push(protocol.subscribed(conn.id, conn.installation_id, s.request_id, start))
        if s.position is not None and s.position < start:
            sub.held = []
            nursery.start_soon(self._replay, sub, s.position, start)

    async def _principal(self, conn: Connection, token: str | None) -> Principal:
        if conn.master:
            return MASTER_PRINCIPAL
        if not token:
            return ANONYMOUS
        known = self.principals.get(token)
        if known is not None and not known.expired(_now()):
            return known
        if not _is_text(token) or (conn.installation_id is not None and not _is_text(conn.installation_id)):
            raise ParseError(ParseError.INVALID_SESSION_TOKEN, "Invalid session token")  # no such token is stored
        auth, expires_at = await self._rt.authenticate_session(token, conn.installation_id)
        known = self.principals.get(token)  # another subscribe may have looked it up meanwhile
        if known is None:
            known = Principal(auth, token, expires_at)
            self.principals.add(known)
        return known

    def _unsubscribe(self, conn: Connection, request_id: Any, notify: bool) -> None:
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
        self._remove(sub)
        if notify:
            conn.push(protocol.unsubscribed(conn.id, conn.installation_id, request_id))

    def _end(self, sub: Subscription) -> None:
        """The server ends `sub` (its client is told why by the caller); an `unsubscribe` the
        client sends for it later is answered `unsubscribed`."""
        self._remove(sub)
        sub.connection.remember_ended(sub.request_id, self._max_subscriptions)

    def _remove(self, sub: Subscription) -> None:
        sub.active = False
        conn = sub.connection
        if conn.subscriptions.get(sub.request_id) is sub:
            del conn.subscriptions[sub.request_id]
        self.registry.remove(sub.query, sub)
        sub.principal.subscriptions.pop(sub, None)
        self.principals.forget_if_unused(sub.principal)

    # -- resume --------------------------------------------------------------------------------
    async def _replay(self, sub: Subscription, after: int, upto: int) -> None:
        """Send what the subscription missed in (after, upto], then what arrived meanwhile; a
        replay that fails ends its subscription, with an error to its client."""
        try:
            await self._replay_events(sub, after, upto)
        except Exception as e:
            self._fail(sub, e)

    async def _replay_events(self, sub: Subscription, after: int, upto: int) -> None:
        conn = sub.connection
        position = after
        while position < upto and sub.active:
            events = await self._rt.read(event_log.read_class_range, sub.query.class_name, position, upto,
                                         _REPLAY_BATCH)
            if not events:
                break
            for ev in events:
                position = ev.position
                if ev.kind in _OBJECT_KINDS:
                    text = self._message_for(sub, ev)
                    if text is not None:
                        await conn.push_when_room(text)
        while sub.held and sub.active:
            ev = sub.held.pop(0)
            text = self._message_for(sub, ev)
            if text is not None:
                await conn.push_when_room(text)
        sub.held = None

    def _message_for(self, sub: Subscription, ev: Event) -> str | None:
        before, after = object_states(ev)
        node = sub.query.node
        mb = before is not None and _matches(node, before)
        ma = after is not None and _matches(node, after)
        if not (mb or ma):
            return None
        return self._message(sub, ev, before, after, mb, ma, Bodies(ev.class_name, ev.position, self._files_base))

    # -- dispatch ------------------------------------------------------------------------------
    async def _dispatch(self, ev: Event) -> None:
        cls = ev.class_name
        try:
            if ev.kind == SCHEMA:
                self._refresh_access(cls)
            elif cls == "_Role":
                await self._refresh_roles()
            elif cls == guard.SESSION_CLASS or (cls == guard.USER_CLASS and ev.kind == DELETE):
                self._sessions_changed(ev)
            if ev.kind in _OBJECT_KINDS and self.registry.has_class(cls) and self._publishes(cls):
                self._fan_out(ev)
        except Exception:  # never reached by one subscription's failure (see _fan_out)
            logger.error("LiveQuery could not dispatch the event at position %s (%s %s)",
                         ev.position, ev.kind, cls, exc_info=True)
        self.position = ev.position

    def _publishes(self, class_name: str) -> bool:
        """Whether liveQuery.classNames lets this class's changes reach subscribers."""
        known = self._enabled.get(class_name)
        if known is None:
            known = self._enabled[class_name] = any(p.match(class_name) for p in self._class_names)
        return known

    def _fan_out(self, ev: Event) -> None:
        before, after = object_states(ev)
        bodies = Bodies(ev.class_name, ev.position, self._files_base)
        now = _now()
        for query in self.registry.candidates(ev.class_name, (before, after)):
            try:
                mb = before is not None and _matches(query.node, before)
                ma = after is not None and _matches(query.node, after)
            except Exception as e:
                for sub in list(query.subscriptions):
                    self._fail(sub, e)
                continue
            if not (mb or ma):
                continue
            # Subscribers with one principal, operation, keys and watch get the very same
            # message body: decide once for all of them (a broadcast to thousands of anonymous
            # subscribers is one decision and one serialization).
            decided: dict[tuple, tuple[str, str] | None] = {}
            for sub in list(query.subscriptions):
                if sub.held is not None:
                    sub.held.append(ev)
                    if len(sub.held) > self._max_queue:
                        sub.connection.cut_off()
                    continue
                principal = sub.principal
                if principal.expired(now):
                    self._end_principal(principal)
                    continue
                key = (principal, sub.operation, sub.keys, sub.watch)
                try:
                    result = decided.get(key, _UNDECIDED)
                    if result is _UNDECIDED:
                        result = decided[key] = self._decide(sub, ev, before, after, mb, ma, bodies)
                except Exception as e:
                    self._fail(sub, e)
                    continue
                if result is not None:
                    conn = sub.connection
                    conn.push(conn.prefixes[result[0]] + sub.request_id_json + result[1])

    def _message(self, sub: Subscription, ev: Event, before, after, mb: bool, ma: bool,
                 bodies: Bodies) -> str | None:
        result = self._decide(sub, ev, before, after, mb, ma, bodies)
        if result is None:
            return None
        return protocol.event(sub.connection.prefixes[result[0]], sub.request_id_json, result[1])

    def _decide(self, sub: Subscription, ev: Event, before, after, mb: bool, ma: bool,
                bodies: Bodies) -> tuple[str, str] | None:
        """(event type, message body) for this subscriber, or None."""
        decided = decide(sub, ev.kind, ev.object_id, before, after, mb, ma)
        if decided is None:
            return None
        kind, obj, original = decided
        access = sub.access
        hidden = access.hidden_fields(ev.object_id, obj)
        hidden_original = access.hidden_fields(ev.object_id, original) if original is not None else frozenset()
        return kind, bodies.body(kind, obj, original, sub.keys, hidden, hidden_original)

    def _fail(self, sub: Subscription, error: Exception) -> None:
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
        conn.push(protocol.error(ParseError.INTERNAL_SERVER_ERROR, _INTERNAL, False, sub.request_id))

    # -- security changes ------------------------------------------------------------------
    def _refresh_access(self, class_name: str) -> None:
        """The class's permissions may have changed: ask the guard again for each subscription
        (one now refused gets no events, as Parse skips them)."""
        for query in self.registry.queries_of(class_name):
            for sub in query.subscriptions:
                sub.access = self._access(sub)

    def _access(self, sub: Subscription):
        try:
            access = guard.read_access(self._rt.schema.clp, sub.principal.auth, sub.query.class_name, sub.operation)
            guard.check_query(access, sub.query.node)
            return access
        except ParseError:
            return None

    async def _refresh_roles(self) -> None:
        """A role changed: every subscriber's roles are read again before the next event."""
        limiter = trio.CapacityLimiter(8)  # a few lookups at a time: the pool serves REST too

        async def refresh(principal: Principal) -> None:
            try:
                async with limiter:
                    roles = await self._rt.roles_of(principal.auth.user_id)
            except Exception as e:  # roles unknown: end its subscriptions rather than guess
                logger.warning("LiveQuery could not read the roles of user %s (%s); ending its subscriptions",
                               principal.auth.user_id, e)
                self._end_principal(principal, ParseError.INTERNAL_SERVER_ERROR, _INTERNAL)
                return
            if roles != principal.auth.roles:
                principal.auth = replace(principal.auth, roles=roles)
                for sub in principal.subscriptions:
                    sub.access = self._access(sub)

        async with trio.open_nursery() as nursery:
            for principal in self.principals.users():
                nursery.start_soon(refresh, principal)

    def _sessions_changed(self, ev: Event) -> None:
        if ev.class_name == guard.USER_CLASS:
            for principal in self.principals.of_user(ev.object_id):
                self._end_principal(principal)
            return
        if ev.kind == DELETE:
            for principal in self.principals.of_session(ev.object_id):
                self._end_principal(principal)
        elif ev.kind == UPDATE:
            _, after = object_states(ev)
            expires = (after or {}).get("expiresAt")
            for principal in self.principals.of_session(ev.object_id):
                if isinstance(expires, dict) and isinstance(expires.get("iso"), str):
                    principal.expires_at = parse_iso(expires["iso"])

    def _end_principal(self, principal: Principal, code: int = ParseError.INVALID_SESSION_TOKEN,
                       message: str = "Invalid session token") -> None:
        """The session ended: its subscriptions stop, each told why (209, no reconnect)."""
        for sub in list(principal.subscriptions):
            self._end(sub)
            sub.connection.push(protocol.error(code, message, False, sub.request_id))
        self.principals.remove(principal)


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


def _bytes(text: str) -> bytes:
    """For comparing keys: a lone surrogate (JSON allows "\\ud800") compares, never raises."""
    return text.encode("utf-8", "surrogatepass")


def _is_text(text: str) -> bool:
    """Whether `text` is valid Unicode (no lone surrogate), as every stored string is."""
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _matches(node, obj: dict) -> bool:
    try:
        return matches(node, obj)
    except ParseError:
        return False


def _now() -> datetime:
    return datetime.now(timezone.utc)
