"""A job run's `_JobStatus` object, kept as Parse keeps it: created "running" (jobName, source,
params, an empty ACL so only the master key reads it), its `message` updated while the job
runs, then "succeeded" or "failed" with `finishedAt`. Every change is an ordinary write, so the
log's history holds each one."""

from __future__ import annotations

import logging
import math
from typing import Any

import trio

from parsnip.core.errors import ParseError
from parsnip.core.services import objects
from parsnip.core.services.base import Caller
from parsnip.core.values import iso, now

JOB_STATUS_CLASS = "_JobStatus"

logger = logging.getLogger("parsnip.cloud")


class JobStatus:
    """One run's status object. `message()` may be called from the trio loop or a worker
    thread; the updates are written in order by `write_messages`, before the final status."""

    def __init__(self, rt: Any, caller: Caller, object_id: str) -> None:
        self.rt = rt
        self.caller = caller
        self.object_id = object_id
        self._send, self._receive = trio.open_memory_channel(math.inf)
        self._token = trio.lowlevel.current_trio_token()

    @classmethod
    async def create(cls, rt: Any, caller: Caller, job_name: str, params: dict[str, Any], source: str) -> "JobStatus":
        """A new "running" status for `job_name` (the caller must hold the master key)."""
        body = {"jobName": job_name, "source": source, "status": "running", "params": params, "ACL": {}}
        try:
            objects.create_command(rt, JOB_STATUS_CLASS, body)
        except ParseError as unfit:  # Parse runs the job all the same: its status keeps no params
            logger.warning("job %r: its params cannot be stored in _JobStatus (%s); recorded without them",
                           job_name, unfit.message)
            del body["params"]
        saved = await objects.create(rt, caller, JOB_STATUS_CLASS, body)
        return cls(rt, caller, saved.object_id)

    def message(self, text: Any) -> "_Written":
        """Queue `text` as the run's message (Parse ignores what is not a non-empty string)."""
        done = trio.Event()
        if not isinstance(text, str) or not text:
            done.set()
            return _Written(done)
        try:
            try:
                trio.lowlevel.current_trio_token()
            except RuntimeError:  # a plain `def` job, in a worker thread
                trio.from_thread.run_sync(self._send.send_nowait, (text, done), trio_token=self._token)
            else:
                self._send.send_nowait((text, done))
        except (trio.ClosedResourceError, trio.RunFinishedError):  # the run is over: nothing to update
            done.set()
        return _Written(done)

    async def write_messages(self) -> None:
        """Write queued messages until `close_messages`; when several wait, the last one wins
        (one write), and every waiter is released."""
        async with self._receive:
            async for text, done in self._receive:
                waiting = [done]
                while True:
                    try:
                        text, more = self._receive.receive_nowait()
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                    waiting.append(more)
                try:
                    await self._update({"message": text})
                except Exception as exc:  # a lost message must not stop the job
                    logger.warning("job status %s: a message could not be written: %s", self.object_id, exc)
                finally:
                    for event in waiting:
                        event.set()

    def close_messages(self) -> None:
        self._send.close()

    async def finish(self, status: str, message: str | None) -> None:
        """The final status ("succeeded" or "failed"), with finishedAt and, if any, the message."""
        body: dict[str, Any] = {"status": status, "finishedAt": {"__type": "Date", "iso": iso(now())}}
        if message:
            body["message"] = message
        await self._update(body)

    async def _update(self, body: dict[str, Any]) -> None:
        await objects.update(self.rt, self.caller, JOB_STATUS_CLASS, self.object_id, body)


class _Written:
    """What `req.message()` returns: awaiting it waits until the message is written."""

    def __init__(self, done: trio.Event) -> None:
        self._done = done

    def __await__(self):
        return self._done.wait().__await__()
