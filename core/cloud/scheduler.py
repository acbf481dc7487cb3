"""Parsnip's job scheduler (Parse Server stores `_JobSchedule` but never runs it): every node
runs one, in the runtime's nursery; each slot of each schedule (`core/cloud/schedule.py`) runs
once across all the nodes sharing the database, and a restart does not run a slot again.

Once per slot: before running a slot, a node claims it in `parsnip_job_slots`, one row per
schedule holding the last slot claimed. The claim is one statement that moves the row forward
only to a later slot, so when two nodes race for a slot PostgreSQL lets exactly one succeed,
and a restarted node finds the slot taken. A node that dies after its claim does not get the
slot run by another (at most once, then).

Missed slots: only a schedule's latest slot is ever due, and only within `GRACE` of its time.
So after all nodes were down, the latest missed slot runs once on start if it is that recent;
older ones are skipped, never run in a burst.

The loop reads the schedules every `interval` seconds (Parsnip's option
`jobSchedulerInterval`), and sleeps no later than the next slot, so runs are on time.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import trio

from parsnip.core import log as event_log
from parsnip.core.cloud.schedule import BadSchedule, Schedule
from parsnip.core.errors import ParseError
from parsnip.core.security.auth import MASTER
from parsnip.core.services import jobs, objects
from parsnip.core.services.base import Caller
from parsnip.core.services.job_schedules import JOB_SCHEDULE_CLASS

logger = logging.getLogger("parsnip.cloud")

GRACE = timedelta(minutes=10)
MAX_SCHEDULES = 1000  # the schedules a node reads
PRUNE_EVERY_S = 3600.0
SOURCE = "schedule"  # a scheduled run's `_JobStatus.source` (Parse's own runs say "api")

_DDL = """
CREATE TABLE IF NOT EXISTS parsnip_job_slots (
    schedule_id text PRIMARY KEY,
    slot timestamptz NOT NULL,
    node text NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now()
)"""

# Moves the schedule's row to `slot` only if that is later than the slot it holds: of racing
# nodes, the one whose statement commits first gets the row back, the others nothing.
_CLAIM = """
INSERT INTO parsnip_job_slots (schedule_id, slot, node) VALUES ($1, $2, $3)
ON CONFLICT (schedule_id) DO UPDATE SET slot = EXCLUDED.slot, node = EXCLUDED.node, claimed_at = now()
    WHERE parsnip_job_slots.slot < EXCLUDED.slot
RETURNING schedule_id"""


class Scheduler:
    """Runs the due slots of `_JobSchedule` on one node. `run` is its task."""

    def __init__(self, rt: Any, interval: float) -> None:
        self.rt = rt
        self.interval = interval
        self.node = uuid.uuid4().hex[:12]
        self._caller = Caller(MASTER, request_id=f"scheduler-{self.node}")
        self._warned: dict[str, str] = {}  # schedule id -> the complaint already logged
        self._next_prune = 0.0

    async def run(self) -> None:
        """Forever: start the due slots, then sleep until the next slot or the next look."""
        installed = False
        while True:
            wake = trio.current_time() + self.interval
            try:
                if not installed:
                    await self.rt.gateway.call(_install, self.rt.gateway)
                    installed = True
                upcoming = await self.tick(_now())
            except (ParseError, OSError) as exc:  # the database away, say: try again next time
                logger.warning("job scheduler: %s", exc)
            except Exception as exc:  # a bug here must not stop the server
                logger.error("job scheduler failed: %s: %s", type(exc).__name__, exc, exc_info=exc)
            else:
                if upcoming is not None:
                    wake = min(wake, trio.current_time() + max(0.0, (upcoming - _now()).total_seconds()))
            await trio.sleep_until(wake)

    async def tick(self, at: datetime) -> datetime | None:
        """Start every slot due at `at` that this node wins; the earliest slot after `at`."""
        upcoming: datetime | None = None
        cloud = getattr(self.rt, "cloud", None)
        if cloud is None or not cloud.jobs:  # nothing to run (a --dev reload may add jobs)
            return None
        schedules = await self._schedules()
        for fields in schedules:
            schedule = self._schedule(fields)
            if schedule is None:
                continue
            slot = schedule.last_slot(at)
            if slot is not None and at - slot <= GRACE and await self._claim(fields["objectId"], slot):
                await self._start(fields, slot)
            following = schedule.next_slot(at)
            if following is not None and (upcoming is None or following < upcoming):
                upcoming = following
        if trio.current_time() >= self._next_prune:
            self._next_prune = trio.current_time() + PRUNE_EVERY_S
            await self.rt.gateway.call(_prune, self.rt.gateway, [s.get("objectId") for s in schedules])
        return upcoming

    async def _schedules(self) -> list[dict[str, Any]]:
        if not await self.rt.has_class(JOB_SCHEDULE_CLASS):
            return []
        found = await objects.find(self.rt, self._caller, JOB_SCHEDULE_CLASS, {"limit": MAX_SCHEDULES})
        return [json.loads(text) for text in found.results]

    def _schedule(self, fields: dict[str, Any]) -> Schedule | None:
        """The schedule's times, or None (logged once per complaint) when it cannot run."""
        object_id = fields.get("objectId", "?")
        cloud = getattr(self.rt, "cloud", None)
        name = fields.get("jobName")
        try:
            if not isinstance(name, str) or cloud is None or name not in cloud.jobs:
                raise BadSchedule(f"no job named {name!r} is deployed")
            schedule = Schedule.of(fields)
        except BadSchedule as why:
            if self._warned.get(object_id) != str(why):
                self._warned[object_id] = str(why)
                logger.warning("job schedule %s does not run: %s", object_id, why)
            return None
        self._warned.pop(object_id, None)
        return schedule

    async def _claim(self, schedule_id: str, slot: datetime) -> bool:
        row = await self.rt.gateway.call(_claim, self.rt.gateway, schedule_id, slot, self.node)
        return row is not None

    async def _start(self, fields: dict[str, Any], slot: datetime) -> None:
        params = fields.get("params")
        try:
            params = json.loads(params) if isinstance(params, str) and params else (params or {})
        except ValueError:
            params = None
        if not isinstance(params, dict):
            logger.warning("job schedule %s: params are not a JSON object; the job runs without them",
                           fields.get("objectId"))
            params = {}
        logger.info("job schedule %s: running %r for its slot %s", fields.get("objectId"), fields["jobName"],
                    slot.isoformat())
        try:
            await jobs.start(self.rt, self._caller, fields["jobName"], params, source=SOURCE)
        except ParseError as err:
            logger.warning("job schedule %s: the job could not start: %s", fields.get("objectId"), err.message)


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def _install(gateway: Any) -> None:
    async with gateway.pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", event_log.INSTALL_LOCK)
        await conn.execute(_DDL)


# The rows of deleted schedules go once claimed more than a day ago: their slot is long past its
# grace, so forgetting the claim can never let that slot run again.
_PRUNE = """
DELETE FROM parsnip_job_slots WHERE claimed_at < now() - interval '1 day' AND schedule_id <> ALL($1::text[])"""


async def _prune(gateway: Any, live: list[str]) -> None:
    async with gateway.pool.acquire() as conn:
        await conn.execute(_PRUNE, live)


async def _claim(gateway: Any, schedule_id: str, slot: datetime, node: str) -> Any:
    async with gateway.pool.acquire() as conn:
        return await conn.fetchval(_CLAIM, schedule_id, slot, node)
