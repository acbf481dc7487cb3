"""A write through its stages, in order: the command (built by the caller, core/commands.py)
-> authorize and before-save hooks (`before_save.py`, which asks `authorize.py` first) ->
append + project and publish (the writer, handed in as `commit`) -> after-save hooks
(`after_save.py`). Called only for units that touch a class with hooks (`Hooks.touches`);
any other goes straight to `commit`, at today's cost.
"""

from __future__ import annotations

from typing import Awaitable, Callable, Sequence

import trio

from parsnip.core.commands import Command, Result
from parsnip.core.events import Context
from parsnip.core.pipeline import after_save, before_save
from parsnip.core.pipeline.before_save import LoadObject
from parsnip.core.pipeline.hooks import Hooks
from parsnip.core.security.auth import Auth
from parsnip.core.security.guard import ClpOf

Commit = Callable[[Sequence[Command], Context, Auth], Awaitable[list[Result]]]


async def run(hooks: Hooks, commands: Sequence[Command], context: Context, auth: Auth, *,
              clp_of: ClpOf, load: LoadObject, commit: Commit, nursery: trio.Nursery,
              cloud_context: dict | None = None) -> list[Result]:
    """Commit `commands` with their hooks run around the write; one Result per command.
    `cloud_context` is what the client sent Cloud Code, handed to every hook of the write."""
    staged = await before_save.run(hooks, commands, auth, context, clp_of, load, cloud_context)
    results = await commit(staged.commands, context, auth)
    for cmd, result in zip(staged.commands, results):
        if getattr(cmd, "by_hook", ()):  # Parse answers the fields its beforeSave changed
            result.hooked = (*result.hooked, *cmd.by_hook)
    if staged.after:
        await after_save.run(nursery, staged.after, staged.commands, results, auth, context, cloud_context)
    return results
