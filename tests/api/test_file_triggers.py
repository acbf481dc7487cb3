"""Cloud Code's file triggers on "@File" (core/cloud/file_triggers.py) through a real server:
before_save renames, retags or refuses; after_save sees the stored file; before_delete may
refuse; after_delete runs; each gets the file, its size and the request's Content-Length."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from tests.api.cloud_helpers import server_with_cloud

CLOUD = '''
import json
from parsnip.cloud import Cloud, ParseError, ParseObject

cloud = Cloud()


async def note(kind, req):
    await ParseObject("FileLog", {"kind": kind, "name": req.file.name, "size": req.file_size,
                                  "length": req.content_length, "master": req.master,
                                  "user": req.user_id, "url": req.file.url,
                                  "data": req.file.data.decode() if req.file.data else None,
                                  "metadata": req.file.metadata}).save(master=True)


@cloud.before_save("@File")
async def before_save(req):
    if req.file.name.startswith("secret"):
        raise ParseError(130, "No secrets.")
    await note("before_save", req)
    if req.file.name.startswith("rename"):
        req.file.name = "renamed.txt"
        req.file.metadata = {**req.file.metadata, "checked": True}


@cloud.after_save("@File")
async def after_save(req):
    await note("after_save", req)


@cloud.before_delete("@File")
async def before_delete(req):
    if req.file.metadata.get("keep"):
        raise ParseError(153, "This file stays.")
    await note("before_delete", req)


@cloud.after_delete("@File")
async def after_delete(req):
    await note("after_delete", req)
'''

MASTER = {"X-Parse-Master-Key": "test-master"}


@pytest.fixture(scope="module")
def api(admin_dsn, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cloud")
    with server_with_cloud(admin_dsn, folder, CLOUD, "--filesAdapter",
                           json.dumps({"directory": str(folder / "files")})) as info:
        with httpx.Client(base_url=info.url, headers={"X-Parse-Application-Id": info.app_id}, timeout=30) as c:
            c.app_id = info.app_id  # type: ignore[attr-defined]
            yield c


def _sdk_post(api, name: str, body: dict) -> httpx.Response:
    """The JS SDK's form: keys in the JSON body, no X-Parse-Application-Id header."""
    return httpx.post(f"{str(api.base_url).rstrip('/')}/files/{name}", content=json.dumps(body), headers={"Content-Type": "text/plain"})


def _log(api, name_end: str) -> list[dict]:
    rows = api.get("/classes/FileLog", headers=MASTER, params={"order": "createdAt", "limit": 1000}).json()["results"]
    return [r for r in rows if r["name"].endswith(name_end)]


def test_before_save_sees_the_file_and_may_rename_it_after_save_sees_it_stored(api):
    r = api.post("/files/rename-me.txt", content=b"twelve bytes", headers={**MASTER, "Content-Type": "text/plain"})
    assert r.status_code == 201, r.text
    name = r.json()["name"]
    assert name.endswith("_renamed.txt")
    assert api.get(f"/files/{api.app_id}/{name}").content == b"twelve bytes"
    [before] = _log(api, "rename-me.txt")
    assert (before["size"], before["length"], before["master"], before.get("data")) == (12, 12, True, None)
    [after] = _log(api, "_renamed.txt")
    assert after["kind"] == "after_save" and after["url"].endswith(name) and after["size"] == 12
    assert after["metadata"] == {"checked": True}


def test_the_sdk_form_gives_the_trigger_the_bytes(api):
    body = {"_ApplicationId": api.app_id, "_MasterKey": "test-master", "_ContentType": "text/plain",
            "base64": base64.b64encode(b"whole").decode(), "fileData": {"metadata": {"a": 1}}}
    r = _sdk_post(api, "sdk.txt", body)
    assert r.status_code == 201, r.text
    before, after = _log(api, "sdk.txt")
    assert (before["data"], before["size"], before["metadata"]) == ("whole", 5, {"a": 1})
    assert after["data"] == "whole"


def test_before_save_refuses(api):
    r = api.post("/files/secret.txt", content=b"x", headers={**MASTER, "Content-Type": "text/plain"})
    assert r.status_code == 400 and r.json() == {"code": 130, "error": "No secrets."}


def test_delete_triggers(api):
    keep = base64.b64encode(b"k").decode()
    body = {"_ApplicationId": api.app_id, "_MasterKey": "test-master", "base64": keep,
            "fileData": {"metadata": {"keep": True}}}
    kept = _sdk_post(api, "kept.txt", body).json()["name"]
    r = api.delete(f"/files/{kept}", headers=MASTER)
    assert r.status_code == 400 and r.json() == {"code": 153, "error": "This file stays."}
    assert api.get(f"/files/{api.app_id}/{kept}").status_code == 200
    gone = api.post("/files/gone.txt", content=b"gone", headers={**MASTER, "Content-Type": "text/plain"}).json()["name"]
    assert api.delete(f"/files/{gone}", headers=MASTER).status_code == 200
    kinds = [r["kind"] for r in _log(api, gone)]
    assert kinds == ["after_save", "before_delete", "after_delete"]
