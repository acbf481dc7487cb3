"""/installations as Parse Server 9.10 answers it: devices register (and register again) without
the master key; listing and deleting installations needs it."""

from __future__ import annotations

import secrets

import pytest

from tests.api.users_helpers import master


@pytest.mark.parametrize("body, message", [
    ({"deviceType": "ios"}, "at least one ID field (deviceToken, installationId) must be specified in this operation"),
    ({"installationId": "iid-" + secrets.token_hex(4)}, "deviceType must be specified in this operation"),
])
def test_an_installation_needs_an_id_and_a_device_type(api, body, message):
    r = api.post("/installations", json=body)
    assert (r.status_code, r.json()) == (400, {"code": 135, "error": message})


def test_registering_again_updates_the_same_installation(api, parsnip_server):
    iid = "iid-" + secrets.token_hex(6)
    first = api.post("/installations", json={"installationId": iid, "deviceType": "ios"})
    assert first.status_code == 201
    again = api.post("/installations", json={"installationId": iid, "deviceType": "android", "channels": ["news"]})
    assert again.status_code == 200 and set(again.json()) == {"updatedAt"}
    got = api.get(f"/installations/{first.json()['objectId']}", headers=master(parsnip_server)).json()
    assert (got["deviceType"], got["channels"], got["installationId"]) == ("android", ["news"], iid)


def test_only_the_master_key_lists_or_deletes_installations(api, parsnip_server):
    iid = "iid-" + secrets.token_hex(6)
    oid = api.post("/installations", json={"installationId": iid, "deviceType": "ios"}).json()["objectId"]
    for r in (api.get("/installations"), api.get("/classes/_Installation"), api.delete(f"/installations/{oid}")):
        assert (r.status_code, r.json()) == (400, {"code": 119, "error": "Permission denied"})
    listed = api.get("/installations", params={"where": '{"installationId":"%s"}' % iid}, headers=master(parsnip_server))
    assert [i["objectId"] for i in listed.json()["results"]] == [oid]
    assert api.delete(f"/installations/{oid}", headers=master(parsnip_server)).json() == {}
