"""`include`: replace pointers in query results by the objects they point at.

Resolved level by level, one query per (level, target class), never one per object: the
pointers of every result at a path are gathered, their targets read with `object_id = ANY`,
and put in place. A pointer whose target is gone stays a pointer, as Parse Server leaves it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any, Awaitable, Callable, Iterable, Sequence

# Reads the objects of one class by id: (class_name, ids) -> {objectId: object dict}.
Fetch = Callable[[str, list[str]], Awaitable[dict[str, dict]]]


def include_tree(paths: Iterable[str]) -> dict[str, dict]:
    """"a.b,a.c,d" -> {"a": {"b": {}, "c": {}}, "d": {}}; "*" stays a key of its level."""
    tree: dict[str, dict] = {}
    for path in paths:
        node = tree
        for part in path.split("."):
            if part:
                node = node.setdefault(part, {})
    return tree


def _is_pointer(value: Any) -> bool:
    return isinstance(value, dict) and value.get("__type") == "Pointer" and isinstance(value.get("objectId"), str)


async def resolve(objects: Sequence[dict], tree: dict[str, dict], fetch: Fetch) -> None:
    """Expand, in place, the pointers named by `tree` in `objects` (and deeper levels)."""
    if not tree or not objects:
        return
    wanted: dict[str, set[str]] = defaultdict(set)
    slots: list[tuple[dict, str, dict]] = []  # (owner, key, subtree)
    for obj in objects:
        keys = [k for k in obj if k != "ACL"] if "*" in tree else []
        for key in {*keys, *tree} - {"*"}:
            value = obj.get(key)
            subtree = tree.get(key, {})
            targets = value if isinstance(value, list) else [value]
            for i, target in enumerate(targets):
                if _is_pointer(target):
                    wanted[target["className"]].add(target["objectId"])
                    slots.append((value if isinstance(value, list) else obj, i if isinstance(value, list) else key, subtree))
    found: dict[tuple[str, str], dict] = {}
    for class_name, ids in wanted.items():
        for oid, target in (await fetch(class_name, sorted(ids))).items():
            found[(class_name, oid)] = {**target, "__type": "Object", "className": class_name}
    deeper: dict[int, tuple[list[dict], dict]] = {}
    for owner, key, subtree in slots:
        pointer = owner[key]
        target = found.get((pointer["className"], pointer["objectId"]))
        if target is None:
            continue
        owner[key] = target
        if subtree:
            group = deeper.setdefault(id(subtree), ([], subtree))
            group[0].append(target)
    for targets, subtree in deeper.values():
        await resolve(targets, subtree, fetch)


def decode(texts: Sequence[str]) -> list[dict]:
    return [json.loads(t) for t in texts]


def encode(objects: Sequence[dict]) -> list[str]:
    return [json.dumps(o, separators=(",", ":"), ensure_ascii=False) for o in objects]


_ALWAYS = ("objectId", "createdAt", "updatedAt", "ACL", "__type", "className")


def project(objects: Sequence[dict], keys: Sequence[str] | None, exclude: Sequence[str]) -> None:
    """Apply the dotted parts of `keys` / `excludeKeys` to included objects, in place.

    The top level was already selected in SQL; `keys=post.title` then trims the included
    `post` to its title, and `excludeKeys=post.body` drops the body from it.
    """
    keep: dict[str, list[str]] = defaultdict(list)
    for k in keys or ():
        if "." in k:
            head, rest = k.split(".", 1)
            keep[head].append(rest)
    drop: dict[str, list[str]] = defaultdict(list)
    for k in exclude:
        if "." in k:
            head, rest = k.split(".", 1)
            drop[head].append(rest)
    if not keep and not drop:
        return
    for obj in objects:
        for head in {*keep, *drop}:
            child = obj.get(head)
            if not isinstance(child, dict):
                continue
            if head in keep and child.get("__type") == "Object":
                names = {r.split(".", 1)[0] for r in keep[head]}
                for name in list(child):
                    if name not in names and name not in _ALWAYS:
                        del child[name]
                project([child], keep[head], drop.get(head, ()))
            elif head in drop:
                for rest in drop[head]:
                    if "." not in rest:
                        child.pop(rest, None)
                project([child], None, [r for r in drop[head] if "." in r])
