"""`parse_where` (core/query/ast.py) takes any JSON value: a node, or a ParseError, never
another exception. Both evaluators, REST and LiveQuery alike, rely on that."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from parsnip.core.errors import ParseError
from parsnip.core.query.ast import parse_where
from tests.hostile import HOSTILE, nested, nested_subquery, or_nested, where_like


def _refused(where) -> ParseError:
    with pytest.raises(ParseError) as e:
        parse_where(where)
    return e.value


@pytest.mark.parametrize("where, code", [
    pytest.param(or_nested(300), 102, id="or-nested-300"),
    pytest.param({"$and": [or_nested(60)]}, 102, id="and-or-nested-121-levels"),
    pytest.param({"a": {"$inQuery": nested_subquery(60)}}, 102, id="subqueries-nested-60"),
    pytest.param({"a": nested(2000)}, 102, id="value-nested-2000"),
    pytest.param({"d": {"$lt": {"$relativeTime": "in 99999999999999999 years"}}}, 107, id="relative-time-overflow"),
    pytest.param({"d": {"$gt": {"$relativeTime": "99999999999999999 years ago"}}}, 107, id="relative-time-underflow"),
    pytest.param({"d": {"$lt": {"$relativeTime": "in nan years"}}}, 107, id="relative-time-nan"),
    pytest.param({"d": {"$lt": {"$relativeTime": "in inf days"}}}, 107, id="relative-time-inf"),
    pytest.param({"a": [{"__type": []}]}, 102, id="type-list-in-array"),
    pytest.param({"a": {"$in": [{"__type": {}}]}}, 102, id="type-object-in-in"),
    pytest.param({"a": {"__type": 5}}, 102, id="type-number"),
    pytest.param({"a": {"$regex": "a{1,65535}"}}, 102, id="regex-repeat-postgresql-refuses"),
    pytest.param({"a": {"$regex": "a{99999999999}"}}, 102, id="regex-repeat-python-refuses"),
    pytest.param({"a": {"$regex": "(" * 3000 + ")" * 3000}}, 102, id="regex-groups-nested-3000"),
    pytest.param({"a": {"$all": [{"$regex": "x{256}"}]}}, 102, id="regex-in-all"),
    pytest.param({"a": "\x00"}, 102, id="nul"),
    pytest.param({"a\n": 1}, 105, id="key-with-trailing-newline"),
])
def test_hostile_wheres_are_parse_errors(where, code):
    assert _refused(where).code == code


def test_bounds_leave_real_queries_alone():
    parse_where(or_nested(45))
    parse_where({"a": {"$regex": "^a{1,255}(b|c){2}$"}})
    parse_where({"d": {"$lt": {"$relativeTime": "in 7000 years"}}})


@settings(max_examples=400, deadline=None)
@given(where_like())
def test_any_where_shaped_json_is_a_node_or_a_parse_error(where):
    try:
        parse_where(where)
    except ParseError:
        pass


@settings(max_examples=150, deadline=None)
@given(HOSTILE)
def test_any_json_value_is_a_node_or_a_parse_error(where):
    try:
        parse_where(where)
    except ParseError:
        pass
