"""Aggregate pipelines and `distinct`, for the master key only (Parse's middleware refuses
anyone else with 403)."""

from __future__ import annotations

from typing import Any

from parsnip.core.errors import ParseError
from parsnip.core.schema import check_class_name
from parsnip.core.services.access import require_master
from parsnip.core.services.base import Backend, Caller
from parsnip.core.services.query_options import json_param


def _json_param(value: Any, name: str) -> Any:
    return json_param(value, name) if isinstance(value, str) else value


async def aggregate(rt: Backend, caller: Caller, class_name: str, params: dict[str, Any]) -> list[str]:
    """Each result's JSON text: `distinct` (a field, optionally under `where`) or `pipeline`."""
    require_master(caller.auth)
    check_class_name(class_name)
    if not await rt.has_class(class_name):
        return []
    if "distinct" in params:
        field = params["distinct"]
        if not isinstance(field, str):
            raise ParseError(ParseError.INVALID_QUERY, "distinct must be a field name")
        return await rt.read(rt.reads.distinct, class_name, field, _json_param(params.get("where"), "where"))
    pipeline = _json_param(params.get("pipeline", []), "pipeline")
    return await rt.read(rt.reads.aggregate, class_name, pipeline)
