"""GET /aggregate/{className}: `distinct` and `pipeline`, for the master key only."""

from __future__ import annotations

from typing import Any

from parsnip.api.errors import Unauthorized
from parsnip.api.routes import Reply
from parsnip.api.routes.objects import json_param
from parsnip.core.errors import ParseError
from parsnip.core.schema import check_class_name
from parsnip.projections import aggregate as agg


def _json_param(value: Any, name: str) -> Any:
    return json_param(value, name) if isinstance(value, str) else value


async def aggregate(rt, req, class_name: str) -> Reply:
    if not req.master:
        raise Unauthorized("Permission denied")
    check_class_name(class_name)
    params = req.params
    if not await rt.has_class(class_name):
        return Reply({"results": []})
    if "distinct" in params:
        field = params["distinct"]
        if not isinstance(field, str):
            raise ParseError(ParseError.INVALID_QUERY, "distinct must be a field name")
        texts = await rt.read(agg.distinct, class_name, field, _json_param(params.get("where"), "where"))
    else:
        pipeline = _json_param(params.get("pipeline", []), "pipeline")
        texts = await rt.read(agg.aggregate, class_name, pipeline)
    return Reply(raw='{"results":[' + ",".join(texts) + "]}")
