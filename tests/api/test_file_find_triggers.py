"""Cloud Code's find triggers on "@File" (Parse's beforeFind/afterFind(Parse.File)) on a download,
its HEAD and its metadata, and validators on file triggers, through a real server. Each answer
was checked against Parse Server 9.10 with the same triggers: a refusal is 403 with the error
(142 from a validator), a plain exception 141 with its text."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.api.cloud_helpers import server_with_cloud
from tests.api.users_helpers import signup

CLOUD = '''
from parsnip.cloud import Cloud, ParseError, ParseFile

cloud = Cloud()


@cloud.before_find("@File")
async def before_find(req):
    name = req.file.name
    if "secret" in name:
        raise ParseError(119, "No peeking.")
    if "plainthrow" in name:
        raise Exception("plain")
    if "redirect" in name:
        req.file.name = name.replace("redirect", "target")


@cloud.after_find("@File", require_user=True)
async def after_find(req):
    name = req.file.name
    if "attach" in name:
        req.force_download = True
    if "hdr" in name:
        req.response_headers = {"X-Extra": "yes"}
    if "late" in name:
        raise Exception("late refusal")
    if "swap" in name:
        return ParseFile(name, content_type="text/plain", data=b"swapped")


@cloud.before_save("@File", require_master=True)
async def before_save(req):
    pass
'''

MASTER = {"X-Parse-Master-Key": "test-master"}


@pytest.fixture(scope="module")
def server(admin_dsn, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cloud")
    with server_with_cloud(admin_dsn, folder, CLOUD, "--filesAdapter",
                           json.dumps({"directory": str(folder / "files")})) as info:
        yield info


@pytest.fixture(scope="module")
def api(server):
    with httpx.Client(base_url=server.url, headers={"X-Parse-Application-Id": server.app_id}, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def user(api):
    return signup(api)


@pytest.fixture
def raw(server):
    """No keys at all, as a browser asks."""
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def _upload(api, name: str, data: bytes) -> str:
    r = api.post(f"/files/{name}", content=data, headers={**MASTER, "Content-Type": "text/plain"})
    assert r.status_code == 201, r.text
    return r.json()["name"]


def _path(server, name: str) -> str:
    return f"/files/{server.app_id}/{name}"


def test_before_find_refuses_with_403_and_the_error_on_get_head_and_metadata(api, raw, server):
    name = _upload(api, "secret.txt", b"s")
    for r in (raw.get(_path(server, name)), raw.get(f"/files/{server.app_id}/metadata/{name}")):
        assert r.status_code == 403 and r.json() == {"code": 119, "error": "No peeking."}
    assert raw.head(_path(server, name)).status_code == 403
    plain = _upload(api, "plainthrow.txt", b"p")
    r = raw.get(_path(server, plain))
    assert r.status_code == 403 and r.json() == {"code": 141, "error": "plain"}


def test_before_find_may_serve_another_file(api, server, user):
    target = _upload(api, "target-x.txt", b"TARGET")
    r = api.get(_path(server, target.replace("target", "redirect")), headers={"X-Parse-Session-Token": user.token})
    assert r.status_code == 200 and r.content == b"TARGET"


def test_a_validator_on_after_find_asks_for_a_user_the_master_key_passes(api, raw, server, user):
    name = _upload(api, "plain.txt", b"abc")
    r = raw.get(_path(server, name))
    assert r.status_code == 403
    assert r.json() == {"code": 142, "error": "Validation failed. Please login to continue."}
    assert raw.get(_path(server, name), headers={"X-Parse-Session-Token": user.token}).content == b"abc"
    assert raw.get(_path(server, name), headers=MASTER).content == b"abc"
    r = raw.get(_path(server, name), headers={"X-Parse-Session-Token": "r:unknown"})
    assert r.status_code == 400 and r.json()["code"] == 209


def test_after_find_forces_a_download_and_sets_the_headers(api, server, user):
    name = _upload(api, "attach-hdr.txt", b"abc")
    for r in (api.get(_path(server, name), headers={"X-Parse-Session-Token": user.token}),
              api.head(_path(server, name), headers={"X-Parse-Session-Token": user.token})):
        assert r.status_code == 200
        assert r.headers["Content-Disposition"] == f"attachment;filename={name}"
        assert r.headers["X-Extra"] == "yes"
        assert "X-Content-Type-Options" not in r.headers  # replaced, as Parse's responseHeaders
        assert r.headers["Content-Length"] == "3"


def test_after_find_refuses_or_gives_other_bytes(api, server, user):
    token = {"X-Parse-Session-Token": user.token}
    late = _upload(api, "late.txt", b"abc")
    r = api.get(_path(server, late), headers=token)
    assert r.status_code == 403 and r.json() == {"code": 141, "error": "late refusal"}
    r = api.get(f"/files/{server.app_id}/metadata/{late}", headers=token)
    assert r.status_code == 403 and r.json() == {"code": 141, "error": "late refusal"}
    swap = _upload(api, "swap.txt", b"original")
    r = api.get(_path(server, swap), headers=token)
    assert (r.status_code, r.content, r.headers["Content-Type"]) == (200, b"swapped", "text/plain; charset=utf-8")


def test_a_validator_on_before_save_refuses_with_142(api, user):
    r = api.post("/files/u.txt", content=b"u", headers={"X-Parse-Session-Token": user.token,
                                                        "Content-Type": "text/plain"})
    assert r.status_code == 400
    assert r.json() == {"code": 142, "error": "Validation failed. Master key is required to complete this request."}
