"""`_JobSchedule`, as Parse's Cloud Code router serves it to the Parse Dashboard (master key
only): list the schedules, name the jobs and those in use, create, edit and delete one.

Parse answers a body without `job_schedule` with an internal error (a TypeError); Parsnip
answers 107. Parse's delete answers 500 after deleting (its handler returns no response);
Parsnip answers `{}`. Parsnip's scheduler (`core/cloud/scheduler.py`) runs these schedules."""

from __future__ import annotations

import json
from typing import Any

from parsnip.core.errors import ParseError
from parsnip.core.services import objects
from parsnip.core.services.access import require_master
from parsnip.core.services.base import Caller
from parsnip.core.services.objects import Found, Saved
from parsnip.core.values import iso, now

JOB_SCHEDULE_CLASS = "_JobSchedule"


async def find(rt: Any, caller: Caller) -> Found:
    """Every schedule (Parse's plain find: its default limit)."""
    require_master(caller.auth)
    return await objects.find(rt, caller, JOB_SCHEDULE_CLASS, {})


async def data(rt: Any, caller: Caller) -> dict[str, list]:
    """`{in_use, jobs}`: the job names the schedules use (null where one has none), and the
    names of the jobs the cloud module defines."""
    require_master(caller.auth)
    found = await objects.find(rt, caller, JOB_SCHEDULE_CLASS, {"keys": "jobName"})
    in_use = [json.loads(text).get("jobName") for text in found.results]
    cloud = getattr(rt, "cloud", None)
    return {"in_use": in_use, "jobs": list(cloud.jobs) if cloud is not None else []}


async def create(rt: Any, caller: Caller, body: Any) -> Saved:
    require_master(caller.auth)
    schedule = _schedule_in(rt, body)
    return await objects.create(rt, caller, JOB_SCHEDULE_CLASS, schedule)


async def update(rt: Any, caller: Caller, object_id: str, body: Any) -> Saved:
    require_master(caller.auth)
    schedule = _schedule_in(rt, body)
    return await objects.update(rt, caller, JOB_SCHEDULE_CLASS, object_id, schedule)


async def delete(rt: Any, caller: Caller, object_id: str) -> None:
    require_master(caller.auth)
    await objects.delete(rt, caller, JOB_SCHEDULE_CLASS, object_id)


def _schedule_in(rt: Any, body: Any) -> dict[str, Any]:
    """The body's `job_schedule`, its job deployed, with `startAfter` now when not given."""
    schedule = body.get("job_schedule") if isinstance(body, dict) else None
    if not isinstance(schedule, dict):
        raise ParseError(ParseError.INVALID_JSON, "job_schedule must be an object.")
    name = schedule.get("jobName")
    cloud = getattr(rt, "cloud", None)
    if name and not (cloud is not None and isinstance(name, str) and name in cloud.jobs):
        raise ParseError(ParseError.INTERNAL_SERVER_ERROR, "Cannot Schedule a job that is not deployed")
    if "startAfter" not in schedule:
        schedule = {**schedule, "startAfter": iso(now())}
    return schedule
