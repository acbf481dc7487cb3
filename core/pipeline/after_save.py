"""The after-save (and after-delete) stage: hooks that run once the write committed.

They run in a nursery the runtime owns, so a client that hangs up does not cancel them; the
caller waits for them before it answers (as Parse awaits an async afterSave), but what they
do never changes its answer: a failure is logged.
"""

from __future__ import annotations

import logging
from typing import Sequence

import trio

from parsnip.core.commands import Command, Create, Delete, Result
from parsnip.core.events import Context
from parsnip.core.pipeline.before_save import Pending
from parsnip.core.pipeline.requests import AfterWriteRequest
from parsnip.core.security.auth import Auth

logger = logging.getLogger("parsnip.hooks")


async def run(nursery: trio.Nursery, pending: Sequence[Pending], commands: Sequence[Command],
              results: Sequence[Result], auth: Auth, context: Context, cloud_context: dict | None = None) -> None:
    """Run the after hooks of a committed unit in `nursery`; return when they are done."""
    calls = []
    for p in pending:
        cmd, result = commands[p.index], results[p.index]
        deleted = isinstance(cmd, Delete)
        req = AfterWriteRequest(
            cmd.class_name, result.object_id, p.original if deleted else dict(result.fields), p.original,
            {} if deleted else cmd.ops, auth, context, is_create=isinstance(cmd, Create), notes=p.notes,
            cloud_context=cloud_context, created_at=result.created_at, updated_at=result.updated_at)
        calls += [(hook, req) for hook in p.hooks]
    done = trio.Event()

    async def _run_all() -> None:
        try:
            for hook, req in calls:
                try:
                    await hook.fn(req)
                except Exception as e:  # noqa: BLE001 - the write is committed: log, never answer
                    logger.error("%s hook on %s (%s) failed", hook.kind, hook.class_name, req.object_id, exc_info=e)
        finally:
            done.set()

    nursery.start_soon(_run_all)
    await done.wait()
