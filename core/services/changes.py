"""The change feed (GET /changes): every event of the log in order, for export, analytics and
other services. Master key only, as GET /history/verify.

A page is one read of the log: `after` a position, at most `limit` entries, optionally one
class. The same feed as a stream (server-sent events, `api/routes/changes.py`) gives the
backlog after a position and then every change as it commits, each once, in order
(`core/catch_up.py`).
"""

from __future__ import annotations

from functools import partial
from typing import Any, AsyncIterator, Mapping

from parsnip.core import catch_up, log as event_log
from parsnip.core.errors import ParseError
from parsnip.core.events import Event
from parsnip.core.history.feed import entry
from parsnip.core.layout import files_base
from parsnip.core.schema import check_class_name
from parsnip.core.security import guard
from parsnip.core.services.access import require_master
from parsnip.core.services.base import Backend, Caller
from parsnip.core.services.query_options import int_param

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_PARAMS = frozenset({"after", "limit", "className"})
_LAST = 2**63 - 1  # the highest position a class's read goes up to


async def page(rt: Backend, caller: Caller, params: Mapping[str, Any]) -> str:
    """`{"results": [entry, ...]}`: at most `limit` entries after position `after`, in log order."""
    after, limit, class_name = _read_params(caller, params)
    events = await _read(rt, class_name, after, limit)
    return '{"results":[' + ",".join(_entries(rt, caller, events)) + "]}"


def stream(rt: Backend, caller: Caller, params: Mapping[str, Any], last_event_id: str | None = None,
           idle: float = 15.0) -> AsyncIterator[list[tuple[int, str]]]:
    """Batches of (position, entry) after `after` (or `last_event_id`, which wins): the backlog,
    then each change as it commits, forever; an empty batch after `idle` seconds without one.
    The parameters are checked here, before anything is sent."""
    after, _, class_name = _read_params(caller, params)
    if last_event_id is not None and last_event_id.strip():
        after = max(int_param(last_event_id.strip(), 0, "Last-Event-ID"), 0)
    return _stream(rt, caller, after, class_name, idle)


async def _stream(rt: Backend, caller: Caller, after: int, class_name: str | None,
                  idle: float) -> AsyncIterator[list[tuple[int, str]]]:
    def keep(ev: Event) -> bool:
        return class_name is None or ev.class_name == class_name

    batches = catch_up.follow(rt.bus, partial(_read, rt, class_name), after, keep, idle)
    try:
        async for events in batches:
            yield list(zip((ev.position for ev in events), _entries(rt, caller, events)))
    finally:
        await batches.aclose()


def _read_params(caller: Caller, params: Mapping[str, Any]) -> tuple[int, int, str | None]:
    require_master(caller.auth)
    for key in params:
        if key not in _PARAMS:
            raise ParseError(ParseError.INVALID_QUERY, f"Invalid parameter for changes: {key}")
    limit = min(max(int_param(params.get("limit"), DEFAULT_LIMIT, "limit"), 0), MAX_LIMIT)
    after = max(int_param(params.get("after"), 0, "after"), 0)
    class_name = params.get("className")
    if class_name is not None:
        if not isinstance(class_name, str):
            raise ParseError(ParseError.INVALID_QUERY, "className must be a string")
        check_class_name(class_name)
    return after, limit, class_name


async def _read(rt: Backend, class_name: str | None, after: int, limit: int) -> list[Event]:
    if limit == 0:
        return []
    if class_name is None:
        return await rt.read(event_log.read_after, after, limit)
    return await rt.read(event_log.read_class_range, class_name, after, _LAST, limit)


def _entries(rt: Backend, caller: Caller, events: list[Event]) -> list[str]:
    access: dict[str, guard.ReadAccess] = {}

    def hidden_of(class_name: str, object_id: str | None, obj: Mapping[str, Any]) -> frozenset[str]:
        if class_name not in access:
            access[class_name] = guard.read_access(rt.schema.clp, caller.auth, class_name, "get")
        return access[class_name].hidden_fields(object_id, obj)

    base = files_base(rt.config, rt.files)
    return [entry(ev, hidden_of, base) for ev in events]
