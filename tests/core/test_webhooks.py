"""Webhooks without a server: how a webhook's reply is read (Parse's mapping) and which
declarations `/hooks` accepts, for any input a client or an endpoint may send."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, strategies as st

from parsnip.core.cloud.webhook_call import answer_of
from parsnip.core.cloud.webhook_table import Webhook
from parsnip.core.errors import ParseError
from parsnip.core.services.hooks import WEBHOOK_ERROR, _declared

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                    max_leaves=12)


@pytest.mark.parametrize("reply, result", [
    (b'{"success": "x"}', "x"), (b'{"success": {"a": [1]}}', {"a": [1]}), (b"{}", None), (b"", None),
    (b"not json", None), (b"[1, 2]", None), (b'"text"', None), (b'{"error": null, "success": 2}', 2),
    (b'{"error": "", "success": 3}', 3),
])
def test_a_reply_without_an_error_is_its_success_value(reply, result):
    assert answer_of(reply) == result


@pytest.mark.parametrize("error, message", [
    ("nope", "nope"), ({"code": 137, "message": "dup"}, "dup"), ({"code": 1}, {"code": 1}), (5, 5), (True, True),
])
def test_an_error_is_141_with_its_message_as_parse_resolves_it(error, message):
    with pytest.raises(ParseError) as raised:
        answer_of(json.dumps({"error": error, "success": 1}).encode())
    assert (raised.value.code, raised.value.message) == (ParseError.SCRIPT_FAILED, message)


@given(st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode()))
def test_any_reply_is_a_value_or_a_141(reply):
    try:
        answer_of(reply)
    except ParseError as err:
        assert err.code == ParseError.SCRIPT_FAILED


@given(st.dictionaries(st.sampled_from(["functionName", "className", "triggerName", "url", "other"]), JSON,
                       max_size=5))
def test_any_declaration_is_a_webhook_or_143(body):
    try:
        hook = _declared(body)
    except ParseError as err:
        assert (err.code, err.message) == (WEBHOOK_ERROR, "invalid hook declaration")
        return
    assert isinstance(hook, Webhook) and isinstance(hook.url, str) and hook.url
    assert Webhook.of_row(hook.to_json()) == hook
