"""Schema fields' `required` and `defaultValue`, set through the schema API, applied on writes
as Parse Server 9.10 applies them (each answer below was read from the reference server):
defaults filled on create (and echoed in its answer), 142 "<field> is required" for a create
that lacks a required field and for any write that deletes one or sets it to null or ""."""

from __future__ import annotations

import pytest

from tests.api.users_helpers import master

DATE = {"__type": "Date", "iso": "2020-01-01T00:00:00.000Z"}
FIELDS = {
    "title": {"type": "String", "required": True},
    "score": {"type": "Number", "defaultValue": 10},
    "tags": {"type": "Array", "defaultValue": ["x"]},
    "must": {"type": "Number", "required": True, "defaultValue": 5},
    "when": {"type": "Date", "defaultValue": DATE},
}
DEFAULTS = {"score": 10, "tags": ["x"], "must": 5, "when": DATE}


def _required(name: str) -> dict:
    return {"code": 142, "error": f"{name} is required"}


@pytest.fixture
def cls(api, parsnip_server, class_name):
    r = api.post(f"/schemas/{class_name}", json={"fields": FIELDS}, headers=master(parsnip_server))
    assert r.status_code == 200, r.text
    assert {k: v for k, v in r.json()["fields"].items() if k in FIELDS} == FIELDS
    return class_name


@pytest.mark.parametrize("body, echoed, stored", [
    ({"title": "t"}, DEFAULTS, DEFAULTS),
    ({"title": "t", "score": 1}, {**DEFAULTS, "score": None}, {**DEFAULTS, "score": 1}),
    ({"title": "t", "score": {"__op": "Delete"}}, DEFAULTS, DEFAULTS),
    ({"title": "t", "score": {"__op": "Increment", "amount": 2}}, {**DEFAULTS, "score": 2}, {**DEFAULTS, "score": 2}),
    ({"title": "t", "tags": {"__op": "Add", "objects": ["y"]}}, {**DEFAULTS, "tags": ["y"]}, {**DEFAULTS, "tags": ["y"]}),
], ids=["all-defaults", "one-given", "deleted-gets-default", "increment-from-nothing", "add-to-nothing"])
def test_a_create_gets_the_defaults_it_leaves_out(api, cls, body, echoed, stored):
    r = api.post(f"/classes/{cls}", json=body)
    assert r.status_code == 201, r.text
    answer = r.json()
    assert {k: v for k, v in answer.items() if k in FIELDS} == {k: v for k, v in echoed.items() if v is not None}
    got = api.get(f"/classes/{cls}/{answer['objectId']}").json()
    assert {k: got.get(k) for k in stored} == stored and got["title"] == "t"


@pytest.mark.parametrize("body", [{}, {"score": 1}, {"title": None}, {"title": ""}, {"title": {"__op": "Delete"}}],
                         ids=["empty", "without-it", "null", "empty-string", "deleted"])
def test_a_create_without_a_required_field_is_142(api, parsnip_server, cls, body):
    for headers in ({}, master(parsnip_server)):  # the master key too, as in Parse
        r = api.post(f"/classes/{cls}", json=body, headers=headers)
        assert (r.status_code, r.json()) == (400, _required("title"))
    assert api.get(f"/classes/{cls}", params={"count": 1, "limit": 0}).json()["count"] == 0


@pytest.mark.parametrize("change, answer", [
    ({"title": {"__op": "Delete"}}, _required("title")),
    ({"title": None}, _required("title")),
    ({"title": ""}, _required("title")),
    ({"must": {"__op": "Delete"}}, _required("must")),
    ({"score": {"__op": "Delete"}}, None),  # a default is for creates only
    ({"score": None}, None),
    ({"other": 1}, None),
], ids=["delete-required", "null-required", "empty-required", "delete-required-with-default", "delete-defaulted",
        "null-defaulted", "unrelated"])
def test_an_update_may_not_unset_a_required_field(api, cls, change, answer):
    oid = api.post(f"/classes/{cls}", json={"title": "t"}).json()["objectId"]
    r = api.put(f"/classes/{cls}/{oid}", json=change)
    if answer is None:
        assert r.status_code == 200 and set(r.json()) == {"updatedAt"}
        if change == {"score": {"__op": "Delete"}}:
            assert "score" not in api.get(f"/classes/{cls}/{oid}").json()
    else:
        assert (r.status_code, r.json()) == (400, answer)
        assert api.get(f"/classes/{cls}/{oid}").json()["title"] == "t"


def test_the_rules_apply_inside_a_batch(api, cls):
    r = api.post("/batch", json={"requests": [
        {"method": "POST", "path": f"/parse/classes/{cls}", "body": {"title": "a"}},
        {"method": "POST", "path": f"/parse/classes/{cls}", "body": {}},
    ]})
    [ok, refused] = r.json()
    assert ok["success"]["score"] == 10 and refused == {"error": _required("title")}
