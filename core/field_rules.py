"""The schema's `required` and `defaultValue` (set through the schema API, as the JS SDK's
`Parse.Schema` sets them) applied to a write as Parse Server applies them, after the before-save
hooks: a create gets each default its body leaves out (or deletes), and a create that still
lacks a required field, or any write that deletes one or sets it to null or "", is refused
with 142 "<field> is required". Parse echoes the defaults it filled in the create's answer."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from parsnip.core.commands import Command, Create, Update, build_ops
from parsnip.core.errors import ParseError

Fields = Callable[[str], Mapping[str, dict]]


def apply(fields_of: Fields, commands: Sequence[Command]) -> tuple[list[Command], list[tuple[str, ...]]]:
    """The commands with defaults filled in, and for each the fields it got a default for."""
    out: list[Command] = []
    filled: list[tuple[str, ...]] = []
    for cmd in commands:
        if isinstance(cmd, (Create, Update)):
            cmd, names = _apply_one(fields_of(cmd.class_name), cmd)
        else:
            names = ()
        out.append(cmd)
        filled.append(names)
    return out, filled


def _apply_one(fields: Mapping[str, dict], cmd: Create | Update) -> tuple[Create | Update, tuple[str, ...]]:
    rules = [(name, t) for name, t in fields.items() if t.get("required") is True or "defaultValue" in t]
    if not rules:
        return cmd, ()
    creating = isinstance(cmd, Create)
    defaults: dict[str, Any] = {}
    if creating:
        for name, t in rules:
            op = cmd.ops.get(name)
            if t.get("defaultValue") is not None and (op is None or op.kind == "Delete"):
                defaults[name] = t["defaultValue"]
    for name, t in rules:
        if t.get("required") is not True or name in defaults:
            continue
        op = cmd.ops.get(name)
        if (op is None and creating) or (op is not None and _empties(op)):
            raise ParseError(ParseError.VALIDATION_ERROR, f"{name} is required")
    if not defaults:
        return cmd, ()
    ops, _ = build_ops(cmd.class_name, defaults)
    return _with_ops(cmd, {**cmd.ops, **ops}), tuple(defaults)


def _empties(op: Any) -> bool:
    return op.kind == "Delete" or (op.kind == "Set" and op.value in (None, ""))


def _with_ops(cmd: Create, ops: dict) -> Create:
    return Create(cmd.class_name, ops, cmd.object_id, cmd.server_chosen_id, cmd.password, cmd.by_hook)
