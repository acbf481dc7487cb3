"""Which event a subscriber gets for a change (livequery/fanout.py: decide), as Parse Server
decides: every combination of "matched the query" and "readable by the subscriber" before and
after, watch, and the bodies shared between subscribers."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from parsnip.core.events import CREATE, DELETE, UPDATE
from parsnip.core.security.auth import Auth
from parsnip.core.security.guard import ReadAccess
from parsnip.livequery.fanout import Bodies, decide

ME = Auth(user_id="me")
PUBLIC = {"*": {"read": True}}
PRIVATE = {"someone-else": {"read": True}}


@dataclass
class Sub:
    access: ReadAccess | None
    watch: tuple[str, ...] | None = None


def obj(n: int, acl=PUBLIC, **more) -> dict:
    return {"objectId": "o1", "createdAt": "c", "updatedAt": f"u{n}", "n": n, "ACL": acl, **more}


B, A = obj(1), obj(2)


@pytest.mark.parametrize("kind, before, after, mb, ma, expected", [
    (CREATE, None, A, False, True, ("create", A, None)),
    (CREATE, None, A, False, False, None),
    (UPDATE, B, A, True, True, ("update", A, B)),
    (UPDATE, B, A, False, True, ("enter", A, B)),             # came into the query: original sent
    (UPDATE, B, A, True, False, ("leave", A, B)),             # went out of it: the new state sent
    (UPDATE, B, A, False, False, None),
    (DELETE, B, None, True, False, ("delete", B, None)),
    (DELETE, B, None, False, False, None),
    # read access lost: a leave, carrying the last state the subscriber could read
    (UPDATE, B, obj(2, PRIVATE), True, True, ("leave", B, B)),
    # read access gained: an enter, without the state it could not read
    (UPDATE, obj(1, PRIVATE), A, True, True, ("enter", A, None)),
    # a delete of an object it cannot read: nothing
    (DELETE, obj(1, PRIVATE), None, True, False, None),
    (CREATE, None, obj(2, PRIVATE), False, True, None),
])
def test_parse_event_rules(kind, before, after, mb, ma, expected):
    got = decide(Sub(ReadAccess("C", ME)), kind, "o1", before, after, mb, ma)
    if expected is None:
        assert got is None
    else:
        assert got is not None and got[0] == expected[0]
        assert got[1] is expected[1] and got[2] is expected[2]


def test_a_subscription_its_class_permissions_now_refuse_gets_nothing():
    assert decide(Sub(None), UPDATE, "o1", B, A, True, True) is None


@pytest.mark.parametrize("before, after, sent", [
    (obj(1, w=1), obj(2, w=1), False),   # watched field unchanged: no update
    (obj(1, w=1), obj(2, w=2), True),
    (obj(1), obj(2, w=True), True),      # appeared
    (obj(1, w=1), obj(2, w=True), True),  # 1 and true are different values
])
def test_watch_sends_updates_only_when_a_watched_field_changes(before, after, sent):
    got = decide(Sub(ReadAccess("C", ME), watch=("w",)), UPDATE, "o1", before, after, True, True)
    assert (got is not None) == sent


def test_watch_never_holds_back_enter_or_leave():
    sub = Sub(ReadAccess("C", ME), watch=("w",))
    assert decide(sub, UPDATE, "o1", obj(1, w=1), obj(2, w=1), False, True)[0] == "enter"
    assert decide(sub, UPDATE, "o1", obj(1, w=1), obj(2, w=1), True, False)[0] == "leave"


def test_one_body_per_shape_with_keys_hidden_fields_and_file_urls():
    bodies = Bodies("C", 42, "http://x/files/app/")
    state = obj(2, f={"__type": "File", "name": "a.txt"}, secret="s")
    full = bodies.body("create", state, None, None, frozenset(), frozenset())
    assert full is bodies.body("create", state, None, None, frozenset(), frozenset())  # built once
    assert '"url":"http://x/files/app/a.txt"' in full and '"secret":"s"' in full and full.endswith(',"position":42}')
    hidden = bodies.body("create", state, None, None, frozenset({"secret"}), frozenset())
    assert '"secret"' not in hidden
    keyed = bodies.body("update", state, B, ("n",), frozenset(), frozenset())
    assert keyed.startswith(',"object":{"className":"C","objectId":"o1"') and '"f"' not in keyed
    assert ',"original":{' in keyed
