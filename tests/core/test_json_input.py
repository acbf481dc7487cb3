"""Client JSON (core/json_input.py): bounded, and read as Parse Server's JavaScript reads it."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsnip.core.errors import ParseError
from parsnip.core.json_input import MAX_DEPTH, exceeds_depth, loads
from tests.hostile import HOSTILE, dumps


def _nested_lists(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize("text, expected", [
    ("9007199254740992", 2**53),
    ("9007199254740993", 2**53),  # the nearest double, as JSON.parse reads it
    ("-9007199254740993", -(2**53)),
    ("18446744073709551616", 2.0**64),
    ("[9223372036854775807]", [2.0**63]),
    ('{"a": 1e400}', {"a": math.inf}),  # refused later as a value: numbers must be finite
    ("1" + "0" * 400, math.inf),
    ('"\\ud800"', "\ufffd"),  # a lone surrogate is U+FFFD, as Node writes it to PostgreSQL
    ('{"a\\udfff": ["\\ud83d\\ude00"]}', {"a\ufffd": ["\U0001F600"]}),
    (b'"\xed\xa0\x80"', "\ufffd\ufffd\ufffd"),  # raw surrogate bytes are not UTF-8
    (b"\xef\xbb\xbf[1]", [1]),
    ("[" * MAX_DEPTH + "]" * MAX_DEPTH, _nested_lists(MAX_DEPTH)),
])
def test_values_are_read_as_javascript_reads_them(text, expected):
    got = loads(text)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("text", [
    "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
    '{"a":' * 5000 + "1" + "}" * 5000,
    "[" * 100_000,
    '{"a": NaN}', "[Infinity]", "{", "", "1 2",
])
def test_what_is_not_json_or_too_deep_is_107(text):
    with pytest.raises(ParseError) as e:
        loads(text)
    assert e.value.code == ParseError.INVALID_JSON


@settings(max_examples=150, deadline=None)
@given(HOSTILE)
def test_any_client_json_decodes_or_is_107(value):
    try:
        got = loads(dumps(value))
    except ParseError as e:
        assert e.code == ParseError.INVALID_JSON and exceeds_depth(value)
    else:
        assert not exceeds_depth(got)


@given(st.integers(0, 150))
def test_exceeds_depth_counts_levels(depth):
    value: object = 1
    for _ in range(depth):
        value = [value]
    assert exceeds_depth(value) == (depth > MAX_DEPTH)
