"""Jobs (`POST /jobs/{name}`, `Parse.Cloud.startJob`, and the scheduler's runs): record a
"running" `_JobStatus`, answer with its id at once, and run the job in the runtime's nursery,
so it outlives the request but not the server. The job's end is recorded as Parse records it:
"succeeded" (a returned string becomes the message) or "failed" with the error's message."""

from __future__ import annotations

import logging
from typing import Any, Mapping

import trio

from parsnip.core.cloud import codec
from parsnip.core.cloud.invoke import call_handler
from parsnip.core.cloud.registry import Registration
from parsnip.core.cloud.requests import JobRequest
from parsnip.core.errors import ParseError
from parsnip.core.services.access import require_master
from parsnip.core.services.base import Caller
from parsnip.core.services.job_status import JobStatus

logger = logging.getLogger("parsnip.cloud")

# How long a job cut short by the server's stop may take to record that it failed.
_STOP_RECORD_S = 2.0
STOPPED = "The server stopped before the job finished."


async def start(rt: Any, caller: Caller, name: Any, params: Mapping[str, Any], *,
                headers: Mapping[str, str] | None = None, source: str = "api") -> str:
    """Start the job `name` with `params` (Parse JSON) as the master key; its `_JobStatus` id."""
    require_master(caller.auth)
    cloud = getattr(rt, "cloud", None)
    found = cloud.jobs.get(name) if cloud is not None and isinstance(name, str) else None
    if found is None:
        raise ParseError(ParseError.SCRIPT_FAILED, "Invalid job.")
    status = await JobStatus.create(rt, caller, name, dict(params), source)
    req = JobRequest(params=codec.decode(dict(params)), job_name=name, job_id=status.object_id,
                     message=status.message, ip=caller.client_ip,
                     headers={k.lower(): v for k, v in (headers or {}).items()})
    rt.start_soon(_run, found, req, status, caller.request_id)
    return status.object_id


async def _run(found: Registration, req: JobRequest, status: JobStatus, request_id: str | None) -> None:
    """Run the job, then record how it ended. Never raises (but for cancellation): a job's
    failure is its status, not the runtime's."""
    finished = False
    try:
        async with trio.open_nursery() as messages:
            messages.start_soon(status.write_messages)
            try:
                outcome = ("succeeded", _message_of(await call_handler(found.handler, req)))
            except ParseError as err:
                outcome = ("failed", err.message)
            except Exception as exc:
                logger.error("job %r (%s) failed request_id=%r: %s: %s", req.job_name, req.job_id, request_id,
                             type(exc).__name__, exc, exc_info=exc, extra={"request_id": request_id})
                outcome = ("failed", str(exc) or type(exc).__name__)
            finally:
                status.close_messages()
        await status.finish(*outcome)
        finished = True
        logger.info("job %r (%s) %s", req.job_name, req.job_id, outcome[0])
    except Exception as exc:  # the status could not be written (the database is gone, say)
        logger.error("job %r (%s): its status could not be recorded: %s: %s", req.job_name, req.job_id,
                     type(exc).__name__, exc, exc_info=exc)
        finished = True
    finally:
        if not finished:  # cancelled: the server is stopping
            with trio.move_on_after(_STOP_RECORD_S) as scope:
                scope.shield = True
                try:
                    await status.finish("failed", STOPPED)
                except Exception as exc:
                    logger.warning("job %r (%s): could not record its stop: %s", req.job_name, req.job_id, exc)


def _message_of(result: Any) -> str | None:
    """Parse keeps a job's result as its message only when it is a string."""
    return result if isinstance(result, str) and result else None
