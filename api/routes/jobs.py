"""Jobs over HTTP: `POST /jobs/{name}` and `POST /jobs` (`{"jobName": ...}`, the Dashboard's
"run now") start a job (`core/services/jobs.py`); `/cloud_code/jobs` serves `_JobSchedule`
to the Parse Dashboard (`core/services/job_schedules.py`). Master key only."""

from __future__ import annotations

from parsnip.api.routes import Reply
from parsnip.api.routes.objects import saved_reply
from parsnip.core.services import job_schedules, jobs

JOB_STATUS_HEADER = "X-Parse-Job-Status-Id"


async def start(rt, req, job_name: str | None = None) -> Reply:
    body = req.body if isinstance(req.body, dict) else {}
    params = {**body, **req.params}  # the query string wins, as in Parse's Object.assign
    name = job_name if job_name is not None else body.get("jobName")
    job_id = await jobs.start(rt, req.caller, name, params, headers=req.headers)
    return Reply({}, headers={JOB_STATUS_HEADER: job_id})


async def list_schedules(rt, req) -> Reply:
    found = await job_schedules.find(rt, req.caller)
    return Reply(raw="[" + ",".join(found.results) + "]")  # Parse answers the bare array


async def schedules_data(rt, req) -> Reply:
    return Reply(await job_schedules.data(rt, req.caller))


async def create_schedule(rt, req) -> Reply:
    saved = await job_schedules.create(rt, req.caller, req.body)
    return saved_reply(rt, job_schedules.JOB_SCHEDULE_CLASS, saved)


async def update_schedule(rt, req, object_id: str) -> Reply:
    saved = await job_schedules.update(rt, req.caller, object_id, req.body)
    return Reply({"response": saved.body})  # Parse wraps the update's answer once more


async def delete_schedule(rt, req, object_id: str) -> Reply:
    await job_schedules.delete(rt, req.caller, object_id)
    return Reply({})
