"""A find trigger's `req.query` as a `ParseQuery`, and back to the read pipeline's `FindOptions`.

The query user code gets carries the client's options (order, limit, skip, keys, include,
excludeKeys) but not its `where`, which is already parsed: constraints a before_find adds are
added to the client's (as Parse's `request.query.equalTo(...)` in beforeFind narrows it), and
the options it sets replace the client's. A `ParseQuery` the trigger returns instead is run as
it is, its `where` in place of the client's (Parse: a returned query replaces the request's).
"""

from __future__ import annotations

import dataclasses

from parsnip.core.cloud.query import ParseQuery
from parsnip.core.query.ast import And, check_key, parse_where
from parsnip.core.reads import FindOptions


def query_for(class_name: str, opts: FindOptions) -> ParseQuery:
    """The query a find trigger sees: the client's options, no constraints yet."""
    query = ParseQuery(class_name)
    for key in (opts.order or "").split(","):
        key = key.strip()
        if key:
            query.add_descending(key[1:]) if key.startswith("-") else query.add_ascending(key)
    if opts.keys is not None:
        query.select(*opts.keys)
    if opts.include:
        query.include(*opts.include)
    if opts.exclude_keys:
        query.exclude(*opts.exclude_keys)
    query.limit(opts.limit)
    if opts.skip:
        query.skip(opts.skip)
    return query


def options_from(query: ParseQuery, opts: FindOptions, *, replace_where: bool) -> FindOptions:
    """`opts` with what `query` says: its constraints added to (or, `replace_where`, instead of)
    the client's, its order, limit, skip, keys, include and excludeKeys in place of theirs."""
    params = query.to_json()
    node = parse_where(params.get("where") or None)
    if not replace_where and node != And(()):
        node = node if opts.where == And(()) else And((opts.where, node))
    elif not replace_where:
        node = opts.where
    keys = _names(params.get("keys")) if "keys" in params else None
    include = set(_names(params.get("include")))
    include |= {k.rsplit(".", 1)[0] for k in keys or () if "." in k}  # a dotted key fetches its pointer
    for path in (*(keys or ()), *include, *_names(params.get("excludeKeys"))):
        if path != "*":
            check_key(path)
    return dataclasses.replace(
        opts, where=node, order=params.get("order") or None, limit=params.get("limit", opts.limit),
        skip=params.get("skip", 0), keys=keys, include=sorted(include),
        exclude_keys=_names(params.get("excludeKeys")))


def _names(text: str | None) -> list[str]:
    return [k for k in (text or "").split(",") if k]
