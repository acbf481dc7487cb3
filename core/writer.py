"""The write path: commands in, one transaction out that appends events and updates projections.

Every node has one `Writer`. Requests hand it units of work (a command, or the commands of a
transactional batch); it runs on the gateway's loop and commits many units in one PostgreSQL
transaction (group commit); one unit's error leaves the others standing (a unit failing before
it writes is left out; one failing after it wrote is dropped and the batch runs again:
`_transaction`). The log head is taken last, so the lock that orders positions is held only for
one statement (the events and their history: `core/log.py: append`) and the commit. After
commit the events go to the publisher (the bus), in order; just before commit the publisher
is told which positions are coming (`reserve`), so that the copies other readers find in the
log do not overtake the writer's own, which carry state.

A caller that is cancelled does not cancel its write: once accepted, a unit commits or fails
on its own, and its events are published either way.

Every unit is answered, whatever the database does. A connection that fails before COMMIT
leaves nothing committed: the batch runs once more on a new connection, then its units (and
those queued behind them) get `DatabaseUnavailable`. A connection lost during COMMIT leaves
the outcome unknown: the writer asks `txid_status` until the database answers or
`outcome_wait` passes; committed, it publishes and answers as usual; rolled back, it is a
failure like the first; still unknown, the callers get `OutcomeUnknown` and the reserved
positions are released, so the follower delivers the log's copy if the commit did happen.

Schema API changes (`SchemaChange`) take the same path: the writer locks the class, reads it as
stored in its own transaction, plans the change against that (core/schema_plan.py) and emits
the schema event, so the change gets its position like any write.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

import asyncpg

from parsnip.core import global_config, log as event_log, metrics, restore
from parsnip.core.db import faults
from parsnip.core.commands import (
    DROP_CLASS, PURGE_CLASS, Command, ConfigChange, Create, Delete, FileChange, Restore, RestoreClass, Result,
    SchemaChange, Update,
)
from parsnip.core.history.moment import Moment
from parsnip.core.errors import ConflictError, DatabaseUnavailable, OutcomeUnknown, ParseError
from parsnip.core.layout import MISSING_TABLE, table_name
from parsnip.core.events import (
    CONFIG, CONFIG_CLASS, CREATE, DELETE, FILE, FILE_CLASS, PURGE, SCHEMA, UPDATE, Context, Event, state_payload,
)
from parsnip.core.operations import apply as apply_op
from parsnip.core.schema import SchemaCache, SchemaOverlay, schema_from_rows
from parsnip.core.schema_plan import plan as plan_schema_change
from parsnip.core.pipeline import authorize
from parsnip.core.security.auth import MASTER, Auth
from parsnip.core.values import new_object_id, now

logger = logging.getLogger("parsnip.writer")

MAX_BATCH = 128
OUTCOME_WAIT = 2.0  # seconds to learn a lost COMMIT's outcome before answering "unknown"
_RETRYABLE = (asyncpg.exceptions.DeadlockDetectedError, asyncpg.exceptions.SerializationError)
_MISSING_TABLE = MISSING_TABLE


class Publisher(Protocol):
    """Where committed events go (implemented by `core/bus.py`). All three are thread-safe."""

    def reserve(self, first: int, last: int) -> None: ...

    def release(self, first: int, last: int) -> None: ...

    def publish(self, events: list[Event]) -> None: ...


class Projector(Protocol):
    """What the writer needs from the projections (implemented in `projections/store.py`)."""

    async def load_for_update(self, conn: asyncpg.Connection, class_name: str, object_id: str) -> tuple[int, dict] | None: ...

    async def apply(self, conn: asyncpg.Connection, ev: Event) -> None: ...

    async def insert_created(self, conn: asyncpg.Connection, events: list[Event]) -> None: ...

    async def record_history(self, conn: asyncpg.Connection, events: list[Event]) -> None: ...

    def history_rider(self, events: list[Event]) -> event_log.Rider | None: ...

    async def lock_class(self, conn: asyncpg.Connection, class_name: str) -> None: ...

    async def count_locked(self, conn: asyncpg.Connection, class_name: str, mode: str = "EXCLUSIVE") -> int: ...

    async def load_schema(self, conn: asyncpg.Connection, class_name: str | None = None) -> list: ...

    async def load_config(self, conn: asyncpg.Connection) -> global_config.GlobalConfig: ...

    async def restore_target(self, conn: asyncpg.Connection, class_name: str, object_id: str,
                             moment: Moment | None, version: int | None) -> restore.Target | None: ...

    async def restore_targets(self, conn: asyncpg.Connection, class_name: str,
                              moment: Moment) -> tuple[int, list[tuple[restore.Target, restore.State | None]]]: ...

    async def load_file_for_update(self, conn: asyncpg.Connection, name: str) -> dict | None: ...


@dataclass
class Policy:
    """The options that decide whether a write is allowed at all."""

    allow_client_class_creation: bool = False
    allow_custom_object_id: bool = False


@dataclass
class _Unit:
    commands: Sequence[Command]
    context: Context
    future: asyncio.Future
    auth: Auth = MASTER
    events: list[Event] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    wrote: bool = False  # has this attempt changed anything in the transaction?


class Writer:
    """Group-committing writer; lives on the gateway's asyncio loop."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        projector: Projector,
        schema: SchemaCache,
        publisher: Publisher,
        policy: Policy | None = None,
        outcome_wait: float = OUTCOME_WAIT,
        available: Callable[[], bool] = lambda: True,
    ) -> None:
        self._pool = pool
        self._projector = projector
        self._schema = schema
        self._publisher = publisher
        self.policy = policy or Policy()
        self.outcome_wait = outcome_wait
        self._available = available  # whether the database is known reachable (the gateway's monitor)
        self._queue: asyncio.Queue[_Unit] = asyncio.Queue()
        self._stopped = False
        # The transaction under way (one at a time): creates whose rows go in at its end, and
        # whether the unit being applied may add to them.
        self._deferred: list[Event] = []
        self._defer_creates = False
        # Lost COMMITs: outcomes learned from the database, and those answered "unknown".
        self.outcomes_settled = 0
        self.outcomes_unknown = 0

    # -- lifecycle (asyncio side) -------------------------------------------------------
    async def drain(self) -> None:
        """Wait until every unit already accepted is answered (before the loop is cancelled)."""
        if not self._stopped:
            await self._queue.join()

    # -- entry point (asyncio side; trio reaches it through the gateway) -----------------
    async def write(self, commands: Sequence[Command], context: Context, auth: Auth = MASTER) -> list[Result]:
        """Commit `commands` all-or-nothing as `auth`; returns one Result per command.

        The ACL and class-level permissions are checked here (core/pipeline/authorize.py), against
        the object as locked in the transaction, so no route can write around them.
        """
        if self._stopped:
            raise DatabaseUnavailable("The server is stopping; try again.")
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Unit(list(commands), context, fut, auth))
        return await asyncio.shield(fut)

    # -- the loop -------------------------------------------------------------------------
    async def run(self) -> None:
        """Commit what is queued until cancelled (the runtime's nursery owns this call).

        Whatever ends it, every unit it took or that waits is answered: none waits forever."""
        batch: list[_Unit] = []
        try:
            while True:
                batch = [await self._queue.get()]
                while len(batch) < MAX_BATCH and not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                started = time.perf_counter()
                try:
                    await self._commit_batch(batch)
                except Exception as e:  # a bug: answer the batch, keep the writer going
                    logger.exception("write batch failed")
                    for unit in batch:
                        _fail(unit, e)
                finally:
                    metrics.observe_batch(len(batch), time.perf_counter() - started)
                    for _ in batch:
                        self._queue.task_done()
                batch = []
        finally:
            self._stopped = True
            # Stopped mid-batch: where it stopped is not known, so neither is the outcome.
            for unit in batch:
                _fail(unit, OutcomeUnknown())
            self._refuse_queued(DatabaseUnavailable("The server is stopping; try again."))

    async def _commit_batch(self, batch: list[_Unit]) -> None:
        for attempt in (1, 2):
            try:
                await self._commit(_pending(batch))
                return
            except (ConflictError, *_RETRYABLE):  # a failure of the batch as a whole: each unit alone
                for unit in _pending(batch):
                    await self._commit_alone(unit)
                return
            except Exception as e:
                if not faults.unavailable(e):
                    raise
                # Nothing committed. Once more on a new connection (a single dropped connection);
                # then, or at once if it is known down, the database is away: answer these and
                # everything queued behind them.
                if attempt == 2 or not self._available():
                    logger.warning("database unreachable: %d queued writes answered 503 (%s)",
                                   len(_pending(batch)) + self._queue.qsize(), e)
                    refusal = DatabaseUnavailable()
                    for unit in batch:
                        _fail(unit, refusal)
                    self._refuse_queued(refusal)
                    return

    def _refuse_queued(self, error: ParseError) -> None:
        while not self._queue.empty():
            _fail(self._queue.get_nowait(), error)
            self._queue.task_done()

    async def _commit_alone(self, unit: _Unit) -> None:
        for attempt in range(5):
            unit.events, unit.results = [], []
            try:
                await self._commit([unit])
                return
            except (ConflictError, *_RETRYABLE):
                await asyncio.sleep(0.005 * (attempt + 1))
            except Exception as e:
                _fail(unit, e)
                return
        _fail(unit, ConflictError("write conflicted repeatedly"))

    async def _commit(self, batch: list[_Unit]) -> None:
        """Commit the units of `batch` that succeed, in one transaction; fail the others.

        Raises what made the whole attempt fail with nothing committed (a conflict to retry
        unit by unit, a lost connection); a lost COMMIT is settled here."""
        while batch:
            overlay = SchemaOverlay(self._schema)
            done: list[_Unit] = []
            failed: list[tuple[_Unit, BaseException]] = []
            events: list[Event] = []
            attempt = _Attempt()
            try:
                async with self._pool.acquire() as conn:
                    try:
                        try:
                            await self._transaction(conn, batch, overlay, done, failed, events, attempt)
                        except BaseException:
                            if events and events[-1].position is not None:  # reserved, not committed
                                self._publisher.release(events[0].position, events[-1].position)
                            raise
                    except _Redo as redo:
                        # A unit failed after writing: the transaction is gone; run the rest again.
                        _fail(redo.unit, redo.error)
                        batch = [u for u in batch if u is not redo.unit]
                        continue
                    except _Rollback:
                        events = []
            except Exception as e:
                if attempt.committing and not faults.server_refused(e):
                    await self._settle(attempt.xid, e, events, done, failed)
                    return
                raise
            break
        else:
            return
        self._committed(events, done, failed)

    def _committed(self, events: list[Event], done: list[_Unit], failed: list[tuple[_Unit, BaseException]]) -> None:
        for ev in events:
            if ev.kind == SCHEMA:
                self._schema.apply_event(ev.class_name, ev.payload, ev.position)
        if events:
            self._publisher.publish(events)
        for unit in done:
            if not unit.future.done():
                unit.future.set_result(unit.results)
        for unit, e in failed:
            _fail(unit, e)

    async def _settle(self, xid: int, error: BaseException, events: list[Event], done: list[_Unit],
                      failed: list[tuple[_Unit, BaseException]]) -> None:
        """The connection died during COMMIT: learn whether it committed, and answer accordingly."""
        logger.warning("connection lost during COMMIT of positions %s-%s (%s: %s); asking the database",
                       events[0].position, events[-1].position, type(error).__name__, error)
        state = await self._outcome(xid)
        if state == "committed":
            self.outcomes_settled += 1
            logger.warning("positions %s-%s did commit", events[0].position, events[-1].position)
            self._committed(events, done, failed)
            return
        if state == "aborted":  # nothing committed: the caller retries the batch
            self.outcomes_settled += 1
            raise DatabaseUnavailable() from error
        self.outcomes_unknown += 1
        logger.error("outcome of positions %s-%s unknown after %.1f s: %d writes answered 'outcome unknown'; "
                     "if they committed, the log follower delivers their events",
                     events[0].position, events[-1].position, self.outcome_wait, len(done))
        for unit in done:
            _fail(unit, OutcomeUnknown())
        for unit, e in failed:
            _fail(unit, e)

    async def _outcome(self, xid: int) -> str | None:
        """'committed' or 'aborted' as the database says, or None if it cannot say in time."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.outcome_wait
        delay = 0.05
        while (remaining := deadline - loop.time()) > 0:
            try:
                async with asyncio.timeout(remaining):
                    async with self._pool.acquire() as conn:
                        state = await conn.fetchval("SELECT txid_status($1)", xid)
                if state in ("committed", "aborted"):
                    return state
            except TimeoutError:
                return None
            except Exception as e:
                if not faults.unavailable(e):
                    logger.exception("could not ask the outcome of transaction %s", xid)
                    return None
            await asyncio.sleep(min(delay, max(0.0, deadline - loop.time())))
            delay = min(delay * 2, 0.5)
        return None

    async def _transaction(self, conn, batch, overlay, done, failed, events, attempt: "_Attempt") -> None:
        """Apply each unit; append the events of those that succeeded; commit.

        No savepoint per unit: most failures (not found, a type clash, a bad operator) happen
        before a unit writes anything, and then it is simply left out. A unit that fails after
        writing aborts the attempt (`_Redo`) and the batch runs again without it. Only a
        multi-command unit in a shared batch gets a savepoint, as it may fail half-way.
        """
        self._deferred = []
        async with conn.transaction():
            await conn.execute(_PLAN_FOR_THESE_VALUES)
            for unit in batch:
                if unit is not batch[0] and restore.is_restore(unit.commands):
                    raise ConflictError("a restore commits in a transaction of its own")  # each unit alone
                self._defer_creates = len(batch) > 1 and _plain_create(unit)
                if not self._defer_creates:
                    await self._insert_deferred(conn)  # what this unit reads or changes may be among them
                child = overlay.child()
                unit.events, unit.results, unit.wrote = [], [], False
                savepoint = len(unit.commands) > 1 and len(batch) > 1
                try:
                    if savepoint:
                        async with conn.transaction():
                            await self._apply_unit(conn, unit, child)
                    else:
                        await self._apply_unit(conn, unit, child)
                except asyncpg.exceptions.UndefinedTableError as e:
                    # Another node dropped the class and this node has not seen it yet: forget
                    # it and run again, so the write creates the class anew.
                    gone = _MISSING_TABLE.search(str(e))
                    if gone is None:
                        raise
                    self._schema.forget(gone.group(1))
                    raise ConflictError(f"class {gone.group(1)} was dropped") from e
                except ConflictError:
                    raise  # lost a race with another node: the whole attempt runs again
                except Exception as e:
                    if faults.unavailable(e):
                        raise  # the connection, not this unit: the whole attempt is lost
                    if not isinstance(e, (ParseError, asyncpg.PostgresError)):
                        # A bug met by this unit's input: it fails alone, never its batch-mates.
                        logger.error("write unit failed unexpectedly", exc_info=e)
                        e = ParseError(ParseError.INTERNAL_SERVER_ERROR, "Internal server error.")
                    if unit.wrote and not savepoint:
                        if len(batch) == 1:
                            failed.append((unit, e))
                            raise _Rollback() from e
                        raise _Redo(unit, e) from e
                    failed.append((unit, e))
                    continue
                overlay = child
                done.append(unit)
            if not done:
                raise _Rollback()
            events.extend(ev for unit in done for ev in unit.events)
            if not events:  # every unit succeeded with nothing to record (a no-op schema change)
                raise _Rollback()
            await self._insert_deferred(conn)
            # The history projection needs the positions: it rides in the append's statement, or,
            # for a class-wide change, follows it.
            rider = self._projector.history_rider(events)
            attempt.xid = await event_log.append(conn, events, rider)
            if rider is None:
                await self._projector.record_history(conn, events)
            for unit in done:
                if unit.events:
                    for result in unit.results:
                        result.position = unit.events[-1].position
            self._publisher.reserve(events[0].position, events[-1].position)
            attempt.committing = True  # what fails from here on failed during COMMIT

    # -- one unit ----------------------------------------------------------------------------
    async def _apply_unit(self, conn: asyncpg.Connection, unit: _Unit, overlay: SchemaOverlay) -> None:
        touched: dict[tuple[str, str], tuple[int, dict] | None] = {}
        for cmd in unit.commands:
            if isinstance(cmd, Create):
                await self._create(conn, unit, overlay, cmd, touched)
            elif isinstance(cmd, Update):
                await self._update(conn, unit, overlay, cmd, touched)
            elif isinstance(cmd, Delete):
                await self._delete(conn, unit, overlay, cmd, touched)
            elif isinstance(cmd, SchemaChange):
                await self._change_schema(conn, unit, overlay, cmd)
            elif isinstance(cmd, Restore):
                await self._restore(conn, unit, overlay, cmd, touched)
            elif isinstance(cmd, RestoreClass):
                await self._restore_class(conn, unit, overlay, cmd)
            elif isinstance(cmd, ConfigChange):
                await self._change_config(conn, unit, cmd)
            elif isinstance(cmd, FileChange):
                await self._file_change(conn, unit, cmd)
            else:
                raise TypeError(f"unknown command {cmd!r}")

    async def _change_schema(self, conn: asyncpg.Connection, unit: _Unit, overlay: SchemaOverlay,
                             cmd: SchemaChange) -> None:
        """Plan a schema API change against the class as this transaction sees it, and emit it.

        The class's lock is held to commit, so two nodes never plan against the same state; for
        a drop or purge its table is locked before counting, so no object slips in after."""
        cls = cmd.class_name
        await self._projector.lock_class(conn, cls)
        current = schema_from_rows(await self._projector.load_schema(conn, cls)).get(cls)
        count = None
        if cmd.action in (DROP_CLASS, PURGE_CLASS) and current is not None:
            mode = "ACCESS EXCLUSIVE" if cmd.action == DROP_CLASS else "EXCLUSIVE"
            count = await self._projector.count_locked(conn, cls, mode)
        payload = plan_schema_change(cmd, current, count, self.policy.allow_custom_object_id)
        if payload is not None:
            kind = PURGE if cmd.action == PURGE_CLASS else SCHEMA
            await self._emit(conn, unit, Event(kind, cls, None, 0, now(), unit.context, payload))
            if kind == SCHEMA:
                overlay.apply(cls, payload)
        unit.results.append(Result(cls, ""))

    async def _change_config(self, conn: asyncpg.Connection, unit: _Unit, cmd: ConfigChange) -> None:
        """Plan a PUT /config against the configuration as stored, under its lock (an Increment
        from two nodes adds up), and emit it. The result's fields: the configuration after."""
        if not unit.auth.master:
            raise ParseError(ParseError.OPERATION_FORBIDDEN, "Changing the configuration needs the master key.")
        await self._projector.lock_class(conn, CONFIG_CLASS)
        current = await self._projector.load_config(conn)
        payload = global_config.plan(cmd, current)
        if payload is not None:
            ev = Event(CONFIG, CONFIG_CLASS, None, current.version + 1, now(), unit.context, payload)
            await self._emit(conn, unit, ev)
            current = global_config.apply(current, payload)
        unit.results.append(Result(CONFIG_CLASS, "", fields={"params": current.params,
                                                             "masterKeyOnly": current.master_key_only}))

    async def _restore(self, conn, unit, overlay, cmd: Restore, touched) -> None:
        """Put one object back as it was (core/restore.py plans the event); 101 if it did not
        exist then. Its row is locked first; a deleted one has none, so a concurrent undelete
        meets this one at the insert and the loser runs again."""
        _master_only(unit.auth)
        key = (cmd.class_name, cmd.object_id)
        current = await self._current(conn, overlay, *key, touched)
        target = await self._projector.restore_target(conn, *key, cmd.moment, cmd.version)
        if target is None or target.state is None:
            raise ParseError(ParseError.OBJECT_NOT_FOUND, "Object not found.")
        planned = restore.plan(cmd.class_name, current, target, unit.context, now(), cmd.version)
        if planned is not None:
            await self._emit_restores(conn, unit, overlay, [planned])
            current = touched[key] = planned.after
        _, state = current
        unit.results.append(Result(*key, state["created_at"], state["updated_at"], state["fields"]))

    async def _restore_class(self, conn, unit, overlay, cmd: RestoreClass) -> None:
        """Put every object of a class back as it was, in this unit: all or nothing."""
        _master_only(unit.auth)
        _, changes = await self._projector.restore_targets(conn, cmd.class_name, cmd.moment)
        at = now()
        planned = [p for target, current in changes
                   if (p := restore.plan(cmd.class_name, current, target, unit.context, at)) is not None]
        await self._emit_restores(conn, unit, overlay, planned)
        unit.results.append(Result(cmd.class_name, "", fields=restore.counts(planned)))

    async def _emit_restores(self, conn, unit, overlay, planned: list[restore.Planned]) -> None:
        for p in planned:  # every field's type first: a clash (111) before anything is written
            await self._plan_schema(conn, unit, overlay, p.event.class_name, restore.schema_ops(p.event))
        for p in planned:
            try:
                await self._emit(conn, unit, p.event)
            except asyncpg.exceptions.UniqueViolationError as e:
                if e.constraint_name == table_name(p.event.class_name) + "_pkey":
                    raise ConflictError("the object was made again meanwhile") from e
                raise ParseError(ParseError.DUPLICATE_VALUE,
                                 "A duplicate value for a field with unique values was provided") from None

    async def _file_change(self, conn, unit, cmd: FileChange) -> None:
        """A file's upload or deletion as its `file` event, numbered after its last one; a
        delete repeats what the upload recorded and needs a live file (153 otherwise)."""
        record = await self._projector.load_file_for_update(conn, cmd.name)
        version = 1 if record is None else record["version"] + 1
        if cmd.action == "delete":
            if record is None or record["deleted"]:
                raise ParseError(ParseError.FILE_DELETE_ERROR, "File not found.")
            payload = {"action": "delete", **{k: record[k] for k in ("size", "contentType", "digest", "metadata", "tags")}}
        else:
            payload = {"action": "create", "size": cmd.size, "contentType": cmd.content_type, "digest": cmd.digest,
                       "metadata": cmd.metadata or {}, "tags": cmd.tags or {}}
        at = now()
        await self._emit(conn, unit, Event(FILE, FILE_CLASS, cmd.name, version, at, unit.context, payload))
        unit.results.append(Result(FILE_CLASS, cmd.name, at, at, payload))

    async def _emit(self, conn: asyncpg.Connection, unit: _Unit, ev: Event) -> None:
        unit.wrote = True
        if self._defer_creates and ev.kind == CREATE:
            self._deferred.append(ev)
        else:
            await self._projector.apply(conn, ev)
        unit.events.append(ev)

    async def _insert_deferred(self, conn: asyncpg.Connection) -> None:
        """Insert the batch's deferred creates, one statement a class instead of one a create
        (issue 15: 16 single INSERTs were 60% of a batch's time). Which create broke a unique
        index is then unknown: the batch runs again one unit at a time, none deferred."""
        if not self._deferred:
            return
        events, self._deferred = self._deferred, []
        try:
            await self._projector.insert_created(conn, events)
        except asyncpg.exceptions.UniqueViolationError as e:
            raise ConflictError("a deferred create broke a unique index") from e

    async def _plan_schema(self, conn, unit, overlay, class_name, ops) -> None:
        if not overlay.has_class(class_name) and not (
            unit.auth.master or self.policy.allow_client_class_creation
        ):
            raise ParseError(
                ParseError.OPERATION_FORBIDDEN,
                f"This user is not allowed to access non-existent class: {class_name}",
            )
        types = {f: op.result_type() for f, op in ops.items() if f != "ACL"}
        if not unit.auth.master and overlay.has_class(class_name) and any(
            t is not None and not f.startswith("_") and overlay.field_type(class_name, f) is None
            for f, t in types.items()
        ):
            authorize.add_fields(self._schema.clp, unit.auth, class_name)
        is_new, added = overlay.plan(class_name, types)
        if is_new or added:
            payload: dict[str, Any] = {"fields": added}
            if is_new:
                payload["new_class"] = True
            await self._emit(conn, unit, Event(SCHEMA, class_name, None, 0, now(), unit.context, payload))

    async def _current(self, conn, overlay, cls, oid, touched):
        key = (cls, oid)
        if key in touched:
            return touched[key]
        if not overlay.has_class(cls):
            return None
        return await self._projector.load_for_update(conn, cls, oid)

    async def _create(self, conn, unit, overlay, cmd: Create, touched) -> None:
        if cmd.object_id is not None and not cmd.server_chosen_id and not self.policy.allow_custom_object_id:
            raise ParseError(ParseError.INVALID_KEY_NAME, "objectId is an invalid field name.")
        if cmd.password is not None:
            _unhashed()
        authorize.create(self._schema.clp, unit.auth, cmd.class_name)
        await self._plan_schema(conn, unit, overlay, cmd.class_name, cmd.ops)
        oid = cmd.object_id or new_object_id()
        if cmd.object_id is not None and await self._current(conn, overlay, cmd.class_name, oid, touched):
            raise ParseError(ParseError.DUPLICATE_VALUE, "A duplicate value for a field with unique values was provided")
        fields: dict[str, Any] = {}
        for name, op in cmd.ops.items():
            present, value = apply_op(op, None, False)
            if present and value is not None:  # Parse Server stores no null on create
                fields[name] = value
        at = now()
        payload = {"ops": {k: op.to_json() for k, op in cmd.ops.items()}, "set": fields, **_relations(cmd.ops)}
        if cmd.by_hook:  # which fields a before-save hook chose, so history can say so
            payload["hooked"] = list(cmd.by_hook)
        ev = Event(CREATE, cmd.class_name, oid, 1, at, unit.context, payload)
        try:
            await self._emit(conn, unit, ev)
        except asyncpg.exceptions.UniqueViolationError:
            raise ParseError(ParseError.DUPLICATE_VALUE, "A duplicate value for a field with unique values was provided") from None
        touched[(cmd.class_name, oid)] = (1, {"fields": fields, "created_at": at, "updated_at": at})
        unit.results.append(Result(cmd.class_name, oid, at, at, fields, tuple(cmd.ops)))

    async def _update(self, conn, unit, overlay, cmd: Update, touched) -> None:
        cur = await self._current(conn, overlay, cmd.class_name, cmd.object_id, touched)
        if cur is None:
            raise ParseError(ParseError.OBJECT_NOT_FOUND, "Object not found.")
        if cmd.password is not None:
            _unhashed()
        authorize.update(self._schema.clp, unit.auth, cmd.class_name, cmd.object_id, cur[1]["fields"])
        await self._plan_schema(conn, unit, overlay, cmd.class_name, cmd.ops)
        version, state = cur
        before = state["fields"]
        after = dict(before)
        changed: dict[str, Any] = {}
        unset: list[str] = []
        for name, op in cmd.ops.items():
            present, value = apply_op(op, before.get(name), name in before)
            if present:
                after[name] = value
                changed[name] = value
            else:
                after.pop(name, None)
                unset.append(name)
        at = now()
        payload = {"ops": {k: op.to_json() for k, op in cmd.ops.items()}, "set": changed, "unset": unset,
                   **_relations(cmd.ops), **state_payload(state, before, after, cmd.ops)}
        if cmd.by_hook:
            payload["hooked"] = list(cmd.by_hook)
        ev = Event(UPDATE, cmd.class_name, cmd.object_id, version + 1, at, unit.context, payload)
        await self._emit(conn, unit, ev)
        touched[(cmd.class_name, cmd.object_id)] = (
            version + 1, {"fields": after, "created_at": state["created_at"], "updated_at": at})
        unit.results.append(
            Result(cmd.class_name, cmd.object_id, state["created_at"], at, after, tuple(cmd.ops))
        )

    async def _delete(self, conn, unit, overlay, cmd: Delete, touched) -> None:
        cur = await self._current(conn, overlay, cmd.class_name, cmd.object_id, touched)
        if cur is None:
            raise ParseError(ParseError.OBJECT_NOT_FOUND, "Object not found for delete.")
        authorize.delete(self._schema.clp, unit.auth, cmd.class_name, cmd.object_id, cur[1]["fields"])
        version, state = cur
        ev = Event(DELETE, cmd.class_name, cmd.object_id, version + 1, now(), unit.context,
                   state_payload(state, state["fields"]))
        await self._emit(conn, unit, ev)
        touched[(cmd.class_name, cmd.object_id)] = None
        unit.results.append(Result(cmd.class_name, cmd.object_id))


# The writer's statements are prepared; after five runs PostgreSQL may plan one for all values,
# with the table as it was then. A class's tables start empty and are analyzed only by
# autovacuum, a minute or more later: planned while tiny, a key lookup stayed a scan of the whole
# table as it grew (the history close read every open version, 2.5x the database time of a
# create). Each statement of a write is planned for its values and the table as it is.
_PLAN_FOR_THESE_VALUES = "SET LOCAL plan_cache_mode = force_custom_plan"


def _plain_create(unit: _Unit) -> bool:
    """A unit whose one command creates an ordinary object: its row's INSERT can wait for the
    batch's (`Writer._insert_deferred`). System classes have unique indexes and rules checked
    as the row goes in; relations write rows of their own; a client-chosen objectId may be taken."""
    if len(unit.commands) != 1 or not isinstance(cmd := unit.commands[0], Create):
        return False
    return (not cmd.class_name.startswith("_") and (cmd.object_id is None or cmd.server_chosen_id)
            and not _relations(cmd.ops))


def _relations(ops) -> dict[str, Any]:
    """The relation changes of a write, for the event: {"relations": {field: change}}."""
    changes = {name: op.value for name, op in ops.items() if op.kind == "Relation"}
    return {"relations": changes} if changes else {}


def _master_only(auth: Auth) -> None:
    if not auth.master:
        raise ParseError(ParseError.OPERATION_FORBIDDEN, "Restoring needs the master key.")


def _unhashed() -> None:
    """A plain password is turned into its hash by the `_User` rules before the writer; one
    still here means they did not run: it must be neither dropped silently nor written."""
    raise ParseError(ParseError.INTERNAL_SERVER_ERROR, "a password reached the writer unhashed")


@dataclass
class _Attempt:
    """One transaction of the writer: its id, and whether COMMIT has been sent."""

    xid: int | None = None
    committing: bool = False


def _pending(batch: list[_Unit]) -> list[_Unit]:
    """The units not answered yet (a unit answered a failure must never be written after)."""
    return [u for u in batch if not u.future.done()]


class _Rollback(Exception):
    """Raised to roll back a transaction that has nothing to commit."""


class _Redo(Exception):
    """A unit failed after writing; the batch must run again without it."""

    def __init__(self, unit: _Unit, error: BaseException) -> None:
        super().__init__(str(error))
        self.unit, self.error = unit, error


def _fail(unit: _Unit, e: BaseException) -> None:
    if not unit.future.done():
        if faults.unavailable(e) and not isinstance(e, DatabaseUnavailable):
            e = DatabaseUnavailable()  # the connection failed before COMMIT: nothing was written
        unit.future.set_exception(e)
