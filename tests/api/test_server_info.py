"""/serverInfo says which Parse Server API Parsnip answers as (9.10.0, so the Parse Dashboard
9.x supports it) and Parsnip's own version beside it; `features` is true for exactly what is
served. And a user signed up with the master key gets no session, as Parse 9.10 answers."""

from __future__ import annotations

import secrets

import pytest

from parsnip import __version__
from tests.api.users_helpers import master, where


def test_server_info_names_the_parse_version_and_parsnips(api, parsnip_server):
    info = api.get("/serverInfo", headers=master(parsnip_server)).json()
    assert info["parseServerVersion"] == "9.10.0"
    assert info["parsnipVersion"] == __version__
    features = info["features"]
    assert features["push"] == dict.fromkeys(
        ["immediatePush", "scheduledPush", "storedPushData", "pushAudiences", "localization"], False)
    assert features["hooks"] == dict.fromkeys(["create", "read", "update", "delete"], True)
    assert features["cloudCode"] == {"jobs": True}
    assert features["settings"] == {"securityCheck": False}
    assert set(features) == {"globalConfig", "hooks", "cloudCode", "logs", "push", "schemas", "settings"}


@pytest.mark.parametrize("installation, session", [(None, False), ("inst-m", True)])
def test_a_master_key_signup_has_no_session_unless_an_installation_asks(api, parsnip_server, installation, session):
    headers = {**master(parsnip_server), **({"X-Parse-Installation-Id": installation} if installation else {})}
    r = api.post("/users", json={"username": "m" + secrets.token_hex(5), "password": "pw"}, headers=headers)
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"objectId", "createdAt", *(["sessionToken"] if session else [])}
    ptr = {"__type": "Pointer", "className": "_User", "objectId": body["objectId"]}
    found = api.get("/sessions", params=where({"user": ptr}), headers=master(parsnip_server)).json()["results"]
    assert len(found) == (1 if session else 0)
