"""The running server's parts, wired together: gateway, log, projections, writer, bus.

This is the composition root: the one place where `core` (the write path, the bus) meets
`projections` (the tables the writer updates and the API reads).

Writes and reads enter here (`Runtime.write`, `find`, `get`): a unit that touches a class with
hooks goes through the stages of core/pipeline/ (after-save hooks run in the runtime's nursery);
any other goes straight to the writer or the reader, as cheap as without a pipeline.

Its background tasks (the writer's loop, the log follower, the Redis bridge) recover from a
database outage by themselves. One that fails otherwise (a bug) must not leave the HTTP side
answering on a dead runtime: it is logged, accepted writes are committed, and `on_failure`
(the server passes `exit_process`) ends the process so that a supervisor starts it again.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import time
import uuid
from datetime import timedelta
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Awaitable, Callable, Sequence, TypeVar

import asyncpg
import trio

from parsnip.core import field_rules, head_signing, log as event_log
from parsnip.core.bus import Bus
from parsnip.core.commands import Command, Result, Update
from parsnip.core.config import Config
from parsnip.core.db import embedded
from parsnip.core.db.gateway import Gateway
from parsnip.core.events import SCHEMA, Context
from parsnip.core.follower import LogFollower
from parsnip.core.global_config import ConfigCache
from parsnip.core.layout import table_name
from parsnip.core.redis_bridge import RedisBridge, redis_url
from parsnip.core.accounts import sessions, user_hooks
from parsnip.core.cloud import binding as cloud_binding, reload as cloud_reload, triggers as cloud_triggers
from parsnip.core.cloud.registry import Cloud
from parsnip.core.cloud.scheduler import Scheduler
from parsnip.core.cloud.webhooks import Webhooks, open_webhooks
from parsnip.core.errors import ParseError
from parsnip.core.files.adapter import FilesAdapter
from parsnip.core.files.local import LocalFilesAdapter
from parsnip.core.files.options import file_options
from parsnip.core.files.s3 import make_adapter as make_s3_adapter
from parsnip.core.operations import Op
from parsnip.core.pipeline import find as find_pipeline, write as write_pipeline
from parsnip.core.pipeline.hooks import Hooks
from parsnip.core.pipeline.requests import FindRequest
from parsnip.core.query.ast import And, parse_where
from parsnip.core.schema import SchemaCache
from parsnip.core.security.auth import MASTER, NOBODY, Auth
from parsnip.core.services import files as files_service
from parsnip.core.security.roles import RoleCache, roles_of
from parsnip.core.values import iso, now
from parsnip.core.writer import Policy, Publisher, Writer
from parsnip.projections import files as file_reads
from parsnip.projections.reads import READS
from parsnip.projections.store import Projector

T = TypeVar("T")

logger = logging.getLogger("parsnip")

_BTREE_FIELD = re.compile(r"USING btree \(\(\(data -> '([A-Za-z][A-Za-z0-9_]*)'::text\)\)")


class Runtime:
    """What a request handler needs: configuration, reads, writes and the bus. It is the
    services' `Backend` (`core/services/base.py`), with the projections' reads as `reads`."""

    def __init__(self, config: Config, gateway: Gateway, schema: SchemaCache, writer: Writer, bus: Bus,
                 roles: RoleCache | None = None, bridge: RedisBridge | None = None,
                 follower: LogFollower | None = None, projector: Projector | None = None,
                 hooks: Hooks | None = None, nursery: trio.Nursery | None = None, cloud: Cloud | None = None,
                 global_config: ConfigCache | None = None, files: FilesAdapter | None = None,
                 session_cache: sessions.SessionCache | None = None) -> None:
        self.config = config
        self.file_options = file_options(config)  # core/files/options.py
        # Where file bytes live: S3 when `filesAdapter` names it, else the local disk.
        self.files: FilesAdapter = (files or make_s3_adapter(config.filesAdapter)
                                    or LocalFilesAdapter(self.file_options.directory))
        self.file_reads = file_reads  # projections/files.py: file records, and who holds a file
        self.gateway = gateway
        self.schema = schema
        self.writer = writer
        self.bus = bus
        self.roles = roles or RoleCache()
        self.sessions = session_cache or sessions.SessionCache()  # token -> session, for authenticate
        self.bridge = bridge
        self.follower = follower
        self.reads = READS  # core/reads.py: ObjectReader, as the services read objects
        self.projector = projector or Projector()
        self.hooks = hooks or Hooks()  # the hook registry (core/pipeline/hooks.py)
        self._nursery = nursery  # where after-save hooks run: the runtime's own
        self.cloud: Cloud | None = None  # the user's Cloud Code (core/cloud/), None without the `cloud` option
        self._cloud_hooks: cloud_triggers.Installed | None = None
        self.use_cloud(cloud)
        self.webhooks: Webhooks | None = None  # the `/hooks` webhooks (core/cloud/webhooks.py), once started
        self.global_config = global_config or ConfigCache()  # Parse.Config, dropped by every CONFIG event
        self._btree: dict[str, tuple[float, frozenset[str]]] = {}

    def use_cloud(self, cloud: Cloud | None) -> None:
        """Make `cloud` the Cloud Code in use, replacing the current one (a `--dev` reload): its
        triggers leave the hook registry and the new ones join it with no await in between, so
        a request meets either module, never a mix. Requests under way finish with the old one."""
        if self._cloud_hooks is not None:
            cloud_triggers.uninstall(self._cloud_hooks)
            self._cloud_hooks = None
        if cloud is not None:
            self._cloud_hooks = cloud_triggers.install(cloud, self.hooks, self.load_object)
        self.cloud = cloud

    @property
    def database_up(self) -> bool:
        """Whether PostgreSQL is reachable, as the gateway's monitor last saw it (no round trip)."""
        return self.gateway.up

    async def write(self, commands: Sequence[Command], context: Context, auth: Auth | None = None, *,
                    cloud_context: dict | None = None) -> list[Result]:
        """Commit `commands` all-or-nothing as `auth` (by default: master if the context is);
        `cloud_context` is what the client sent Cloud Code (its triggers' `req.context`).

        Shielded: a request cancelled mid-write (a client that hangs up) still waits for the
        commit, so every write that reached the writer is committed and published, never lost
        between the log and its caller. While the database is down it fails at once
        (`DatabaseUnavailable`); the writer answers every write it took, whatever happens.
        """
        if auth is None:
            auth = MASTER if context.master else NOBODY
        if self.hooks.touches(commands):  # the stages of core/pipeline/write.py around the commit
            with cloud_binding.bound(self):  # user code in the hooks acts on this runtime
                return await write_pipeline.run(self.hooks, commands, context, auth, clp_of=self.schema.clp,
                                                load=self.load_object, commit=self._commit,
                                                nursery=self._hook_nursery(), cloud_context=cloud_context)
        return await self._commit(commands, context, auth)

    async def _commit(self, commands: Sequence[Command], context: Context, auth: Auth) -> list[Result]:
        """The schema's required fields and defaults (after any hook), then the append + project
        and publish stages: the writer's group commit."""
        commands, filled = field_rules.apply(self.schema.fields, commands)
        self.gateway.check_up()
        with trio.CancelScope(shield=True):
            results = await self.gateway.call_steady(self.writer.write, commands, context, auth)
        for result, names in zip(results, filled):
            if names:  # echoed in the create's answer, as Parse echoes what it filled in
                result.hooked = names
        return results

    def start_soon(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Run `fn(*args)` in the runtime's nursery: work that outlives the request that started
        it (a job), cancelled when the runtime stops. `fn` must not raise: that would end the runtime."""
        self._hook_nursery().start_soon(fn, *args)

    def _hook_nursery(self) -> trio.Nursery:
        if self._nursery is None:
            raise RuntimeError("this runtime runs no after-save hooks (no nursery)")
        return self._nursery

    async def load_object(self, class_name: str, object_id: str) -> dict | None:
        """An object's fields as stored (ACL included), or None: what a hook is shown."""
        found = await self.read(_load, self.projector, class_name, object_id)
        return found[1]["fields"] if found else None

    async def find(self, class_name: str, opts: Any, auth: Auth = NOBODY, context: Context | None = None, *,
                   cloud_context: dict | None = None) -> tuple[list[str], int | None]:
        """The read pipeline of a find (core/pipeline/find.py): (objects as JSON, count or None)."""
        if not self.hooks.on_read(class_name):
            return await self.read(self.reads.find, class_name, opts)

        async def execute(query: Any) -> tuple[list[str], int | None]:
            return await self.read(self.reads.find, class_name, query)

        with cloud_binding.bound(self):
            return await find_pipeline.run(self.hooks, FindRequest(class_name, opts, auth, context,
                                                                   cloud_context=cloud_context),
                                           execute, decode=not opts.explain)

    async def get(self, class_name: str, object_id: str, opts: Any, auth: Auth = NOBODY,
                  context: Context | None = None, *, cloud_context: dict | None = None) -> str | None:
        """The read pipeline of a get: the object as JSON, or None when there is none to see."""
        if not self.hooks.on_read(class_name):
            return await self.read(self.reads.get, class_name, object_id, opts)

        async def execute(query: Any) -> tuple[list[str], None]:
            if query.where != opts.where:  # a before-find hook narrowed the get: a find of that one object
                one = dataclasses.replace(query, where=And((parse_where({"objectId": object_id}), query.where)),
                                          limit=1, skip=0, count=False)
                return (await self.read(self.reads.find, class_name, one))[0], None
            text = await self.read(self.reads.get, class_name, object_id, query)
            return ([] if text is None else [text]), None

        with cloud_binding.bound(self):
            texts, _ = await find_pipeline.run(self.hooks, FindRequest(class_name, opts, auth, context, is_get=True,
                                                                       cloud_context=cloud_context), execute)
        return texts[0] if texts else None

    async def authenticate(self, token: str, installation_id: str | None = None) -> Auth:
        """The Auth of a session token, with the user's roles; 209 when it is unknown or expired."""
        return (await self.authenticate_session(token, installation_id))[0]

    async def authenticate_session(self, token: str, installation_id: str | None = None) -> tuple[Auth, Any]:
        """`authenticate`, with the session's expiry (None: never), for holders of long-lived
        connections (LiveQuery) that must stop when the session does."""
        session = self.sessions.get(token)
        if session is None:
            generation = self.sessions.generation
            session = await self.read(sessions.lookup, token)
            if session is not None:
                self.sessions.put(session, generation)
        if session is None:
            raise ParseError(ParseError.INVALID_SESSION_TOKEN, "Invalid session token")
        at = now()
        if session.expired(at):
            raise ParseError(ParseError.INVALID_SESSION_TOKEN, "Session token is expired.")
        if self.config.extendSessionOnUse and session.expires_at is not None and (
            (session.expires_at - at).total_seconds() < self.config.sessionLength / 2
        ):
            await self._extend(session)
        return Auth(
            user_id=session.user_id, session_id=session.object_id, session_token=token,
            installation_id=installation_id or session.installation_id,
            roles=await self.roles_of(session.user_id),
        ), session.expires_at

    async def _extend(self, session: sessions.Session) -> None:
        expires = {"__type": "Date", "iso": iso(now() + timedelta(seconds=self.config.sessionLength))}
        try:
            await self.write([Update(sessions.SESSION_CLASS, session.object_id, {"expiresAt": Op("Set", expires)})],
                             MASTER.context())
        except ParseError:
            pass  # logged out meanwhile: the next request finds no session

    async def roles_of(self, user_id: str) -> frozenset[str]:
        """The user's role names, from the cache that role changes invalidate."""
        cached = self.roles.get(user_id)
        if cached is not None:
            return cached
        generation = self.roles.generation
        found = await self.read(roles_of, user_id)
        self.roles.put(user_id, found, generation)
        return found

    async def has_class(self, name: str) -> bool:
        """Whether the class exists; a class another node just created is looked up, not missed."""
        if self.schema.has_class(name):
            return True
        rows = await self.gateway.fetch(
            "SELECT class_name, field, type FROM parsnip_schema WHERE class_name = $1", name
        )
        self.schema.load((r["class_name"], r["field"] or None, r["type"]) for r in rows)
        return bool(rows)

    async def btree_fields(self, class_name: str) -> frozenset[str]:
        """Fields of a class with a btree index leading on `data->'f'` (kept for 10 s).

        Equality on such a field is compiled for that index (core/query/sql/fields.py).
        """
        now = time.monotonic()
        cached = self._btree.get(class_name)
        if cached is not None and now - cached[0] < 10:
            return cached[1]
        rows = await self.gateway.fetch(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1",
            table_name(class_name),
        )
        fields = frozenset(m.group(1) for r in rows if (m := _BTREE_FIELD.search(r[0])))
        self._btree[class_name] = (now, fields)
        return fields

    def indexes_changed(self, class_name: str) -> None:
        """Forget the btree fields of a class whose indexes this node just changed."""
        self._btree.pop(class_name, None)

    async def read(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run a read function `fn(conn, *args)` on a pooled connection."""
        return await self.gateway.call(self._with_conn, fn, args)

    async def _with_conn(self, fn: Callable[..., Awaitable[T]], args: tuple) -> T:
        async with self.gateway.pool.acquire() as conn:
            return await fn(conn, *args)


def database_uri(config: Config) -> str:
    return config.databaseURI or embedded.start(config.dataDir)


async def install(gateway: Gateway, projector: Projector) -> None:
    """Create the log and projection tables if missing."""

    async def _install(pool) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", event_log.INSTALL_LOCK)
            await event_log.install(conn)
            await projector.install(conn)

    await gateway.call(_install, gateway.pool)


class RuntimeFailed(Exception):
    """A background task of the runtime failed on something other than the database's absence."""


def exit_process(error: BaseException) -> None:
    """End the process at once (after the runtime has committed what it accepted): a server
    whose runtime is gone must not go on answering."""
    logger.critical("cannot go on (%s); exiting with status 70 so that a supervisor restarts it", error)
    logging.shutdown()
    os._exit(70)


@asynccontextmanager
async def open_runtime(config: Config, dsn: str | None = None, *,
                       on_failure: Callable[[BaseException], None] | None = None,
                       cloud: Cloud | None = None) -> AsyncIterator[Runtime]:
    """Start everything; on exit, commit every accepted write before closing the database.

    The writer's loop, the log follower and the Redis bridge run in nurseries owned by this
    context: they live exactly as long as the runtime. If one fails (not an outage: those they
    ride out), the context ends with `RuntimeFailed`, and `on_failure(error)` is called first;
    so it is if the runtime cannot start (the database unreachable at start, say). `cloud`
    is the user's Cloud Code, loaded by the caller (`core/cloud/loader.py`).
    """
    started = False
    try:
        async with _open_runtime(config, dsn, cloud) as rt:
            started = True
            yield rt
    except BaseException as e:
        failure = _failure_in(e)
        if failure is None and not started and isinstance(e, Exception):  # not a cancellation
            failure = RuntimeFailed(f"could not start: {_describe(e)}")
        if failure is not None and on_failure is not None:
            on_failure(failure)
        raise


@asynccontextmanager
async def _open_runtime(config: Config, dsn: str | None, cloud: Cloud | None = None) -> AsyncIterator[Runtime]:
    if config.historySigningKey:
        head_signing.load(config.historySigningKey)  # a key that cannot be read stops the start
    dsn = dsn or await trio.to_thread.run_sync(database_uri, config)
    projector = Projector()
    async with Gateway(dsn, max_size=config.databasePoolSize) as gateway:
        await install(gateway, projector)
        # The head first: a schema change committed after it is followed, one before is loaded.
        head = await gateway.call(_head, gateway)
        schema = SchemaCache()
        schema.load(await gateway.call(_load_schema, gateway, projector))
        bus = Bus(trio.lowlevel.current_trio_token(), head)
        policy = Policy(
            allow_client_class_creation=config.allowClientClassCreation,
            allow_custom_object_id=config.allowCustomObjectId,
        )
        roles = RoleCache()
        bus.watch(roles.watch)  # other nodes' role changes
        session_cache = sessions.SessionCache()
        bus.watch(session_cache.watch)  # other nodes' logouts
        global_config = ConfigCache()
        bus.watch(global_config.watch)  # other nodes' Parse.Config changes

        def watch(events: list) -> None:  # this node's commits, before the writer answers
            roles.watch(events)
            session_cache.watch(events)
            global_config.watch(events)
        url = redis_url(config)
        token = trio.lowlevel.current_trio_token()

        def from_redis(events: list) -> None:  # on the gateway's loop
            token.run_sync_soon(_deliver_followed, bus, schema, events)

        bridge = RedisBridge(url, f"parsnip:{config.appId}:events", uuid.uuid4().hex, from_redis) if url else None
        writer = Writer(gateway.pool, projector, schema, _Watched(bus, watch, bridge), policy,
                        available=lambda: gateway.up)
        follower = LogFollower(gateway, bus, schema)
        # The writer outlives the other tasks: whatever stops them, accepted writes commit first.
        async with trio.open_nursery() as writing:
            writing.start_soon(_essential, "the writer", gateway.call_steady, writer.run)
            try:
                async with trio.open_nursery() as nursery:
                    await nursery.start(_essential, "the log follower", follower.run)
                    if bridge is not None:
                        nursery.start_soon(_essential, "the Redis bridge", gateway.call_steady, bridge.run)
                    try:
                        rt = Runtime(config, gateway, schema, writer, bus, roles, bridge, follower, projector,
                                     nursery=nursery, cloud=cloud, global_config=global_config,
                                     session_cache=session_cache)
                        user_hooks.install(rt.hooks, rt)  # the built-in `_User` rules
                        nursery.start_soon(files_service.janitor, rt)  # expired deleted files' bytes
                        if cloud is not None and config.dev and config.cloud:
                            nursery.start_soon(cloud_reload.watch, config.cloud, rt.use_cloud)
                        if cloud is not None and config.jobSchedulerInterval > 0:
                            nursery.start_soon(Scheduler(rt, config.jobSchedulerInterval).run)  # _JobSchedule
                        with cloud_binding.serving(rt):  # what ParseObject/ParseQuery act on
                            async with open_webhooks(rt, nursery) as rt.webhooks:  # after Cloud Code, which wins
                                yield rt
                    finally:
                        nursery.cancel_scope.cancel()
            finally:
                with trio.CancelScope(shield=True):
                    await gateway.call_steady(writer.drain)
                writing.cancel_scope.cancel()


async def _essential(name: str, fn: Callable[..., Awaitable[Any]], *args: Any,
                     task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Run a task the runtime cannot do without; its end, other than by cancellation, is fatal.
    With `nursery.start`, `fn` gets the task status and reports when it is ready."""
    try:
        if task_status is trio.TASK_STATUS_IGNORED:
            await fn(*args)
        else:
            await fn(*args, task_status=task_status)
    except Exception as e:
        logger.critical("%s failed", name, exc_info=e)
        raise RuntimeFailed(f"{name} failed: {_describe(e)}") from e
    logger.critical("%s stopped", name)
    raise RuntimeFailed(f"{name} stopped")


def _describe(e: BaseException) -> str:
    """The error itself, out of the exception groups trio wraps it in."""
    while isinstance(e, BaseExceptionGroup) and len(e.exceptions) == 1:
        e = e.exceptions[0]
    return f"{type(e).__name__}: {e}"


def _failure_in(e: BaseException) -> RuntimeFailed | None:
    """The RuntimeFailed in `e`, which trio may have wrapped in exception groups."""
    if isinstance(e, RuntimeFailed):
        return e
    if isinstance(e, BaseExceptionGroup):
        for inner in e.exceptions:
            found = _failure_in(inner)
            if found is not None:
                return found
    return None


def _deliver_followed(bus: Bus, schema: SchemaCache, events: list) -> None:
    """Another node's events, from Redis: schema changes reach the cache as the follower's do."""
    for ev in events:
        if ev.kind == SCHEMA:
            schema.apply_event(ev.class_name, ev.payload, ev.position)
    bus.deliver(events)


class _Watched:
    """The bus as the writer's publisher, with a synchronous look at each commit first, so a
    role or Parse.Config change reaches its cache before the writer answers its caller; then Redis, for
    the other nodes."""

    def __init__(self, bus: Publisher, watch: Callable[[list], None], bridge: RedisBridge | None = None) -> None:
        self._bus, self._watch, self._bridge = bus, watch, bridge

    def reserve(self, first: int, last: int) -> None:
        self._bus.reserve(first, last)

    def release(self, first: int, last: int) -> None:
        self._bus.release(first, last)

    def publish(self, events: list) -> None:
        self._watch(events)
        self._bus.publish(events)
        if self._bridge is not None:
            self._bridge.offer(events)


async def _load_schema(gateway: Gateway, projector: Projector):
    async with gateway.pool.acquire() as conn:
        return await projector.load_schema(conn)


async def _load(conn, projector: Projector, class_name: str, object_id: str):
    try:
        return await projector.load(conn, class_name, object_id)
    except asyncpg.exceptions.UndefinedTableError:  # no such class: no such object
        return None


async def _head(gateway: Gateway) -> int:
    async with gateway.pool.acquire() as conn:
        return await event_log.head(conn)



def health(get_runtime: Callable[[], Runtime]) -> tuple[int, dict[str, str], dict[str, str]]:
    """Parse's `/health` as (status, body, headers), from what the node already knows (no
    round trip): 200 `{"status": "ok"}` while serving; 503 `{"status": "starting"}` before the
    runtime is up and 503 `{"status": "error"}` while the database is unreachable, both with
    `Retry-After: 1` (Parse Server's states and its hint)."""
    try:
        rt = get_runtime()
    except (LookupError, AttributeError):  # not started yet
        return 503, {"status": "starting"}, {"Retry-After": "1"}
    if not rt.database_up:
        return 503, {"status": "error"}, {"Retry-After": "1"}
    return 200, {"status": "ok"}, {}
