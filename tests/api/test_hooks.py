"""Hooks seen from REST: an in-process app on a runtime whose registry the test fills."""

from __future__ import annotations

import pytest

from parsnip.api.app import create_app
from parsnip.core.errors import ParseError

HEADERS = {"X-Parse-Application-Id": "test"}


@pytest.fixture
def client(runtime):
    return create_app(runtime.config, lambda: runtime).test_client()


def _url(runtime, path: str) -> str:
    return runtime.config.mountPath + path


async def test_a_refusing_before_save_is_the_clients_answer(runtime, client):
    @runtime.hooks.before_save("Review")
    async def check(req):
        if not 1 <= req.object.get("stars", 0) <= 5:
            raise ParseError(ParseError.VALIDATION_ERROR, "stars must be between 1 and 5")
        if req.object.get("stars") == 3:
            raise RuntimeError("three is odd")
        req.object["comment"] = (req.object.get("comment") or "").strip()

    bad = await client.post(_url(runtime, "/classes/Review"), json={"stars": 9}, headers=HEADERS)
    assert (bad.status_code, await bad.get_json()) == (400, {"code": 142, "error": "stars must be between 1 and 5"})
    odd = await client.post(_url(runtime, "/classes/Review"), json={"stars": 3}, headers=HEADERS)
    assert (odd.status_code, await odd.get_json()) == (400, {"code": 141, "error": "three is odd"})
    good = await client.post(_url(runtime, "/classes/Review"), json={"stars": 4, "comment": " ok "}, headers=HEADERS)
    assert good.status_code == 201
    found = await (await client.get(_url(runtime, "/classes/Review"), headers=HEADERS)).get_json()
    assert [(r["stars"], r["comment"]) for r in found["results"]] == [(4, "ok")]


async def test_a_refusal_in_a_batch_fails_only_its_request(runtime, client):
    @runtime.hooks.before_save("Item")
    async def check(req):
        if req.object.get("n") == 2:
            raise ParseError(ParseError.VALIDATION_ERROR, "no twos")

    body = {"requests": [{"method": "POST", "path": f"{runtime.config.mountPath}/classes/Item", "body": {"n": n}}
                         for n in (1, 2, 3)]}
    answer = await (await client.post(_url(runtime, "/batch"), json=body, headers=HEADERS)).get_json()
    assert ["success" in a for a in answer] == [True, False, True]
    assert answer[1]["error"] == {"code": 142, "error": "no twos"}


async def test_after_find_changes_what_the_client_gets(runtime, client):
    await client.post(_url(runtime, "/classes/Secret"), json={"name": "a", "pin": 1234}, headers=HEADERS)

    @runtime.hooks.after_find("Secret")
    async def hide(req):
        for obj in req.objects:
            obj.pop("pin", None)

    found = await (await client.get(_url(runtime, "/classes/Secret"), headers=HEADERS)).get_json()
    [obj] = found["results"]
    assert obj["name"] == "a" and "pin" not in obj
    one = await (await client.get(_url(runtime, f"/classes/Secret/{obj['objectId']}"), headers=HEADERS)).get_json()
    assert "pin" not in one


async def test_a_user_hook_on_signup_runs_before_the_built_in_rules(runtime, client):
    seen = []

    @runtime.hooks.before_save("_User")
    async def nickname(req):
        seen.append(("_hashed_password" in req.object, req.password is not None))
        req.object["nickname"] = req.object["username"].upper()

    signed = await client.post(_url(runtime, "/users"), json={"username": "ann", "password": "pw1"}, headers=HEADERS)
    assert signed.status_code == 201
    assert seen == [(False, True)]  # not hashed yet when user code runs
    login = await client.post(_url(runtime, "/login"), json={"username": "ann", "password": "pw1"}, headers=HEADERS)
    assert login.status_code == 200
    assert (await login.get_json())["nickname"] == "ANN"
