"""The before-save (and before-delete) stage: run the hooks of each command's class, before
the writer sees it, and turn what they changed into the command's final operations.

Only classes with hooks get here (`Hooks.touches`). The stored object is read only when user
code is registered on the class (a built-in reads what it needs itself); that read is not the
writer's locked one, so a hook's changes are absolute values (Set/Delete) merged with the
request's operators, which the writer applies to the locked object: an Increment a hook did
not touch is never lost to a concurrent save.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Sequence

from parsnip.core.commands import Command, Create, Delete, Update
from parsnip.core.errors import ParseError
from parsnip.core.events import Context
from parsnip.core.pipeline import authorize
from parsnip.core.pipeline.hooks import AFTER_DELETE, AFTER_SAVE, BEFORE_DELETE, BEFORE_SAVE, Hook, Hooks, run_hook
from parsnip.core.pipeline.requests import DeleteRequest, SaveRequest
from parsnip.core.security.auth import Auth
from parsnip.core.security.guard import ClpOf

LoadObject = Callable[[str, str], Awaitable["dict | None"]]


@dataclass
class Pending:
    """A command whose after hooks run once it committed: index in the unit, hooks, what they get."""

    index: int
    hooks: tuple[Hook, ...]
    original: dict | None
    notes: dict[str, Any]


@dataclass
class Staged:
    """The unit as the writer gets it, and the after hooks waiting for its commit."""

    commands: list[Command]
    after: list[Pending] = field(default_factory=list)


async def run(hooks: Hooks, commands: Sequence[Command], auth: Auth, context: Context, clp_of: ClpOf,
              load: LoadObject, cloud_context: dict | None = None) -> Staged:
    """Authorize and run the before hooks of every command; a refusal raises and nothing is written."""
    staged = Staged([])
    for i, cmd in enumerate(commands):
        if isinstance(cmd, (Create, Update)):
            cmd = await _save(hooks, i, cmd, auth, context, clp_of, load, staged, cloud_context)
        elif isinstance(cmd, Delete):
            await _delete(hooks, i, cmd, auth, context, clp_of, load, staged, cloud_context)
        staged.commands.append(cmd)
    return staged


async def _save(hooks: Hooks, i: int, cmd: Create | Update, auth: Auth, context: Context, clp_of: ClpOf,
                load: LoadObject, staged: Staged, cloud_context: dict | None) -> Command:
    before, after = hooks.of(BEFORE_SAVE, cmd.class_name), hooks.of(AFTER_SAVE, cmd.class_name)
    if not before and not after:
        return cmd
    original = None
    if _user_code(before, after):
        if isinstance(cmd, Update):
            original = await load(cmd.class_name, cmd.object_id)
            if original is None:
                raise ParseError(ParseError.OBJECT_NOT_FOUND, "Object not found.")
        authorize.before_hooks(clp_of, auth, cmd, original)
    notes: dict[str, Any] = {}
    if before:
        req = SaveRequest(cmd.class_name, cmd.object_id, original, cmd.ops, auth, context,
                          is_create=isinstance(cmd, Create), password=cmd.password, cloud_context=cloud_context)
        for hook in (h for h in before if not h.builtin):
            await run_hook(hook, req)
        # The event names the fields user code chose; the built-in rules' are the server's own.
        by_user = req.final_ops()[1] if not before[0].builtin else ()
        for hook in (h for h in before if h.builtin):
            await run_hook(hook, req)
        ops, _ = req.final_ops()
        cmd = dataclasses.replace(cmd, ops=ops, password=None, by_hook=tuple(sorted({*cmd.by_hook, *by_user})))
        notes = req.notes
    if after:
        staged.after.append(Pending(i, after, original, notes))
    return cmd


async def _delete(hooks: Hooks, i: int, cmd: Delete, auth: Auth, context: Context, clp_of: ClpOf,
                  load: LoadObject, staged: Staged, cloud_context: dict | None) -> None:
    before, after = hooks.of(BEFORE_DELETE, cmd.class_name), hooks.of(AFTER_DELETE, cmd.class_name)
    if not before and not after:
        return
    original = None
    if _user_code(before, after):
        original = await load(cmd.class_name, cmd.object_id)
        if original is None:
            raise ParseError(ParseError.OBJECT_NOT_FOUND, "Object not found for delete.")
        authorize.before_hooks(clp_of, auth, cmd, original)
    req = DeleteRequest(cmd.class_name, cmd.object_id, original, auth, context, cloud_context=cloud_context)
    for hook in before:
        await run_hook(hook, req)
    if after:
        staged.after.append(Pending(i, after, original, req.notes))


def _user_code(*groups: tuple[Hook, ...]) -> bool:
    return any(not h.builtin for hooks in groups for h in hooks)
