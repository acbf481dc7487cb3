"""One client's websocket, served: its tasks (reading, sending, pinging, closing at shutdown)
and its messages routed (connect, subscribe, update, unsubscribe), each answered as Parse
answers it.

Each client fails alone: whatever one message raises becomes that client's error message and
a log line; whatever escapes the connection's tasks ends that connection (1011) and nothing else.
"""

from __future__ import annotations

import hmac
import logging

import trio

from parsnip.core.errors import ParseError
from parsnip.livequery import protocol
from parsnip.livequery.connection import Connection
from parsnip.livequery.hooks import ConnectRequest, LiveQueryHooks, refusal
from parsnip.livequery.principal import ANONYMOUS
from parsnip.livequery.resume import Replayer
from parsnip.livequery.settings import Settings
from parsnip.livequery.subscriptions import INTERNAL, Subscriptions
from parsnip.livequery.websocket import Stalled, Transport

logger = logging.getLogger("parsnip.livequery")


class Sessions:
    def __init__(self, settings: Settings, subs: Subscriptions, replayer: Replayer, hooks: LiveQueryHooks) -> None:
        self._settings = settings
        self._subs = subs
        self._replayer = replayer
        self._before_connect = hooks.active("before_connect")
        self.connections: set[Connection] = set()
        self._stopping = trio.Event()

    def stop(self) -> None:
        """Close every connection (server shutdown): clients reconnect elsewhere or later."""
        self._stopping.set()

    async def serve(self, transport: Transport, client_ip: str | None = None) -> None:
        """Serve one websocket until it closes; everything it subscribed goes with it. Nothing
        the client does escapes this call: it ends this connection at most."""
        transport.write_timeout = self._settings.timeout
        conn = Connection(transport, client_ip, self._settings.max_queue)
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
            self._subs.remove_all(conn)
            with trio.CancelScope(shield=True):  # bounded: see Transport.close
                await transport.close(*conn.close_code)

    async def _sender(self, conn: Connection, scope: trio.CancelScope) -> None:
        await conn.run_sender()
        scope.cancel()

    async def _pinger(self, conn: Connection, scope: trio.CancelScope) -> None:
        transport = conn.transport
        timeout = self._settings.timeout
        while True:
            await trio.sleep(timeout)
            if not transport.alive:
                logger.info("LiveQuery client %s did not answer a ping in %.0f s", conn.id, timeout)
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
                self._subs.unsubscribe(conn, protocol.request_id_of(message), notify=True)
                return
            fields = protocol.subscribe_fields(message)
            request_id = fields.request_id
            if op == "update" and request_id in conn.subscriptions:
                self._subs.unsubscribe(conn, request_id, notify=False)
            sub, start = await self._subs.subscribe(conn, fields)
            conn.push(protocol.subscribed(conn.id, conn.installation_id, fields.request_id, start))
            if fields.position is not None and fields.position < start:
                sub.held = []
                nursery.start_soon(self._replayer.replay, sub, fields.position, start)
        except protocol.ProtocolError as e:
            conn.push(protocol.error(e.code, e.message, True))
        except ParseError as e:
            conn.push(protocol.error(e.code, e.message, False, request_id))
        except Exception:
            logger.error("LiveQuery client %s (%s): a message with requestId %s failed", conn.id, conn.client_ip,
                         request_id, exc_info=True)
            conn.push(protocol.error(ParseError.INTERNAL_SERVER_ERROR, INTERNAL, False, request_id))

    async def _connect(self, conn: Connection, message: dict) -> None:
        fields = protocol.connect_fields(message)
        key_pairs = self._settings.key_pairs
        app_ok = hmac.compare_digest(_bytes(fields["applicationId"]), _bytes(self._settings.app_id))
        if not app_ok or not self._keys_valid(fields):
            raise protocol.ProtocolError(protocol.BAD_KEYS, "Key in request is not valid")
        master = "masterKey" in key_pairs and "masterKey" in fields and hmac.compare_digest(
            _bytes(fields["masterKey"]), _bytes(key_pairs["masterKey"]))
        if self._before_connect is not None:
            await self._run_before_connect(conn, fields, master)
        self._subs.remove_all(conn)  # a second connect starts the client afresh
        conn.ended.clear()
        conn.connected(fields.get("installationId"), master, fields.get("sessionToken"))
        conn.push(protocol.connected(conn.id, conn.installation_id))

    async def _run_before_connect(self, conn: Connection, fields: dict, master: bool) -> None:
        """The before-connect hook; its refusal is the client's error (no reconnect), and the
        client stays unconnected."""
        token = fields.get("sessionToken")
        installation_id = fields.get("installationId")
        auth = ANONYMOUS.auth
        if token and not master:
            try:
                principal = await self._subs.principal_for(token, installation_id)
                auth = principal.auth
                self._subs.principals.forget_if_unused(principal)
            except ParseError:
                pass  # a token that is not valid is nobody's, as Parse tells the hook
        request = ConnectRequest(installation_id, token, master, auth, conn.client_ip,
                                 len(self.connections) - 1, sum(len(c.subscriptions) for c in self.connections))
        try:
            await self._before_connect(request)
        except Exception as e:
            raise refusal(e, "before_connect", conn.client_ip) from None

    def _keys_valid(self, fields: dict[str, str]) -> bool:
        key_pairs = self._settings.key_pairs
        if not key_pairs:
            return True
        return any(name in fields and hmac.compare_digest(_bytes(fields[name]), _bytes(str(secret)))
                   for name, secret in key_pairs.items())


def _bytes(text: str) -> bytes:
    """For comparing keys: a lone surrogate (JSON allows "\\ud800") compares, never raises."""
    return text.encode("utf-8", "surrogatepass")
