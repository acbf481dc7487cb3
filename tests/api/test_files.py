"""Parse files through a real `parsnip` process: upload (raw and the JS SDK's JSON form), download
without keys and with HTTP ranges, delete with the master key, Parse's refusals (130, 122, 413),
the `file` events in the log, and what a deleted file answers while an object still holds it."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import tempfile
from pathlib import Path

import httpx
import pytest

from tests.api.users_helpers import signup
from tests.conftest import _admin_sql, _with_database, start_server, stop_server

APP = "files-app"
MASTER = {"X-Parse-Master-Key": "test-master"}


@pytest.fixture(scope="module")
def server(admin_dsn):
    """A server of this module's own: a 1 MB upload limit, its own files folder, and deleted
    files' bytes kept (the default retention)."""
    name = "parsnip_f_" + secrets.token_hex(6)
    _admin_sql(admin_dsn, f'CREATE DATABASE "{name}"')
    folder = tempfile.mkdtemp(prefix="parsnip-files-")
    info = start_server(_with_database(admin_dsn, name), "--maxUploadSize", "1mb",
                        "--filesAdapter", json.dumps({"directory": folder}), app_id=APP)
    info.folder = folder  # type: ignore[attr-defined]
    yield info
    stop_server(info)
    _admin_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def api(server):
    with httpx.Client(base_url=server.url, headers={"X-Parse-Application-Id": APP}, timeout=30) as client:
        yield client


@pytest.fixture
def raw(server):
    """A client that sends no keys at all (a browser's <img src>)."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def upload(api, name: str, data: bytes, content_type: str | None = "text/plain", headers=MASTER) -> dict:
    sent = {**headers, **({"Content-Type": content_type} if content_type else {})}
    r = api.post(f"/files/{name}", content=data, headers=sent)
    assert r.status_code == 201, r.text
    return r.json()


def test_raw_upload_answers_a_unique_name_and_a_url_served_without_keys(api, raw, server):
    a = upload(api, "hello.txt", b"hello world")
    b = upload(api, "hello.txt", b"hello again")
    assert a["name"] != b["name"]
    assert a["name"].endswith("_hello.txt") and len(a["name"].split("_", 1)[0]) == 32
    assert a["url"] == f"{server.url}/files/{APP}/{a['name']}"
    r = raw.get(f"/files/{APP}/{a['name']}")
    assert r.status_code == 200 and r.content == b"hello world"
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.headers["accept-ranges"] == "bytes" and r.headers["content-length"] == "11"
    assert raw.get(f"/files/other-app/{a['name']}").status_code == 403
    missing = raw.get(f"/files/{APP}/nothing_here.txt")
    assert missing.status_code == 404 and missing.text == "File not found."


def test_the_type_comes_from_the_extension_or_names_one(api, raw, class_name):
    png = upload(api, "pic.png", b"\x89PNG...", "application/octet-stream")
    assert raw.get(f"/files/{APP}/{png['name']}").headers["content-type"] == "image/png"
    named = upload(api, "picture", b"\x89PNG...", "image/png")  # no extension: the type's is added
    assert named["name"].endswith("_picture.png")
    spaced = upload(api, "my file.txt", b"x")
    assert spaced["url"].endswith("_my%20file.txt") and raw.get(spaced["url"]).content == b"x"
    # An object's File reads back with the same URL as the upload gave (encoded as Parse does).
    oid = api.post(f"/classes/{class_name}", headers=MASTER,
                   json={"f": {"__type": "File", "name": spaced["name"]}}).json()["objectId"]
    assert api.get(f"/classes/{class_name}/{oid}", headers=MASTER).json()["f"]["url"] == spaced["url"]
    [entry] = [e for e in api.get("/changes", headers=MASTER, params={"limit": 1000}).json()["results"]
               if e["objectId"] == oid]
    assert entry["object"]["f"]["url"] == spaced["url"]


def test_head_answers_get_s_headers_without_the_bytes(api, raw):
    # Parse Server (Express) answers HEAD with the GET handler: 200, type, length, no body; 404.
    name = upload(api, "head.txt", b"hello world")["name"]
    r = raw.head(f"/files/{APP}/{name}")
    assert r.status_code == 200 and r.content == b""
    assert r.headers["content-type"] == "text/plain; charset=utf-8" and r.headers["content-length"] == "11"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert raw.get(f"/files/{APP}/{name}").content == b"hello world"  # the connection still serves
    assert raw.head(f"/files/{APP}/nothing_here.txt").status_code == 404


def test_metadata_route_answers_the_uploaded_metadata(api, raw):
    # Parse's GET /files/:appId/metadata/:name: {} from the filesystem and S3 adapters (which
    # keep none), {"metadata": ...} from its default GridFS adapter; Parsnip keeps the metadata
    # in the file's event, so it answers as GridFS does, and {} for a file not served.
    body = {"_ApplicationId": APP, "_MasterKey": "test-master", "base64": base64.b64encode(b"m").decode(),
            "fileData": {"metadata": {"owner": "ann", "n": 2}, "tags": {"kind": "a"}}}
    name = raw.post("/files/meta.txt", content=json.dumps(body), headers={"Content-Type": "text/plain"}).json()["name"]
    r = raw.get(f"/files/{APP}/metadata/{name}")
    assert r.status_code == 200 and r.json() == {"metadata": {"owner": "ann", "n": 2}}
    plain = upload(api, "plain.txt", b"p")["name"]
    assert raw.get(f"/files/{APP}/metadata/{plain}").json() == {"metadata": {}}
    missing = raw.get(f"/files/{APP}/metadata/nothing_here.txt")
    assert missing.status_code == 200 and missing.json() == {}
    assert raw.get(f"/files/other-app/metadata/{name}").json() == {}
    assert api.delete(f"/files/{name}", headers=MASTER).status_code == 200
    assert raw.get(f"/files/{APP}/metadata/{name}").json() == {}


def test_the_js_sdk_json_form_with_metadata_and_tags(raw, server):
    body = {"_ApplicationId": APP, "_MasterKey": "test-master", "_ContentType": "image/jpeg",
            "base64": base64.b64encode(b"jpeg bytes").decode(),
            "fileData": {"metadata": {"owner": "ann"}, "tags": {"kind": "avatar"}}}
    r = raw.post("/files/photo.jpg", content=json.dumps(body), headers={"Content-Type": "text/plain"})
    assert r.status_code == 201, r.text
    name = r.json()["name"]
    got = raw.get(f"/files/{APP}/{name}")
    assert got.content == b"jpeg bytes" and got.headers["content-type"] == "image/jpeg"
    event = _file_events(raw, name)[-1]
    assert event["changes"] == {"action": "create", "size": 10, "contentType": "image/jpeg",
                                "digest": hashlib.sha256(b"jpeg bytes").hexdigest()}
    # Without an application id anywhere, the body is not a Parse request (Parse's 403).
    refused = raw.post("/files/photo.jpg", content=b"not json", headers={"Content-Type": "text/plain"})
    assert refused.status_code == 403 and refused.json() == {"error": "unauthorized"}


def test_ranges(api, raw):
    data = bytes(range(256)) * 40  # 10240 bytes
    url = f"/files/{APP}/" + upload(api, "clip.mp4", data, "video/mp4")["name"]
    r = raw.get(url, headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == data[100:200]
    assert r.headers["content-range"] == "bytes 100-199/10240" and r.headers["content-length"] == "100"
    r = raw.get(url, headers={"Range": "bytes=10000-"})
    assert r.status_code == 206 and r.content == data[10000:]
    r = raw.get(url, headers={"Range": "bytes=-16"})
    assert r.status_code == 206 and r.content == data[-16:]
    r = raw.get(url, headers={"Range": "bytes=0-99999"})  # past the end: up to the end
    assert r.status_code == 206 and r.content == data
    r = raw.get(url, headers={"Range": "bytes=20000-20010"})
    assert r.status_code == 416 and r.headers["content-range"] == "bytes */10240"
    r = raw.get(url, headers={"Range": "bytes=0-1,5-6"})  # several ranges: the whole file
    assert r.status_code == 200 and r.content == data


def test_delete_needs_the_master_key_and_a_deleted_file_is_gone(api, raw, server):
    name = upload(api, "gone.txt", b"bye")["name"]
    r = api.delete(f"/files/{name}")
    assert r.status_code == 403 and r.json() == {"error": "Permission denied"}
    assert raw.get(f"/files/{APP}/{name}").status_code == 200
    r = api.delete(f"/files/{name}", headers=MASTER)
    assert r.status_code == 200 and r.content == b""
    assert raw.get(f"/files/{APP}/{name}").status_code == 404
    again = api.delete(f"/files/{name}", headers=MASTER)
    assert again.status_code == 400 and again.json()["code"] == 153
    # The bytes stay for the retention period; the log has both events.
    assert (Path(server.folder) / name).exists()
    assert [e["changes"]["action"] for e in _file_events(raw, name)] == ["create", "delete"]


def test_a_deleted_file_an_object_holds_is_served_and_a_restore_brings_it_back(api, raw, server, class_name):
    name = upload(api, "kept.txt", b"still here")["name"]
    url = f"/files/{APP}/{name}"
    oid = api.post(f"/classes/{class_name}", headers=MASTER,
                   json={"doc": {"__type": "File", "name": name}}).json()["objectId"]
    got = api.get(f"/classes/{class_name}/{oid}", headers=MASTER).json()["doc"]
    assert got == {"__type": "File", "name": name, "url": server.url + url}  # core/layout.py's URL: this route
    assert api.delete(f"/files/{name}", headers=MASTER).status_code == 200
    assert raw.get(url).content == b"still here"  # an object still points at it
    assert api.delete(f"/classes/{class_name}/{oid}", headers=MASTER).status_code == 200
    assert raw.get(url).status_code == 404
    created = api.get(f"/history/{class_name}/{oid}", headers=MASTER).json()["results"][0]["position"]
    r = api.post(f"/history/{class_name}/{oid}/restore", headers=MASTER, json={"position": created})
    assert r.status_code == 200, r.text
    assert raw.get(url).content == b"still here"


@pytest.mark.parametrize("name, content_type, message", [
    ("page.html", "text/html", "File upload of extension html is disabled."),
    ("page.HTM", "text/plain", "File upload of extension HTM is disabled."),
    ("x.txt.svg", "text/plain", "File upload of extension svg is disabled."),
    ("drawing", "image/svg+xml", "File upload of extension svg+xml is disabled."),
    ("data.xml", None, "File upload of extension xml is disabled."),
])
def test_html_like_uploads_are_refused_130(api, name, content_type, message):
    user = signup(api)
    headers = {**user.headers, **({"Content-Type": content_type} if content_type else {})}
    r = api.post(f"/files/{name}", content=b"<x/>", headers=headers)
    assert r.status_code == 400 and r.json() == {"code": 130, "error": message}


def test_who_may_upload(api):
    r = api.post("/files/a.txt", content=b"x", headers={"Content-Type": "text/plain"})
    assert r.json() == {"code": 130, "error": "File upload by public is disabled."}
    user = signup(api)
    r = api.post("/files/a.txt", content=b"x", headers={**user.headers, "Content-Type": "text/plain"})
    assert r.status_code == 201
    anon = api.post("/users", json={"authData": {"anonymous": {"id": secrets.token_hex(8)}}}).json()
    r = api.post("/files/a.txt", content=b"x",
                 headers={"X-Parse-Session-Token": anon["sessionToken"], "Content-Type": "text/plain"})
    assert r.json() == {"code": 130, "error": "File upload by anonymous user is disabled."}
    r = api.post("/files/a.txt", content=b"", headers={**MASTER, "Content-Type": "text/plain"})
    assert r.json() == {"code": 130, "error": "Invalid file upload."}


@pytest.mark.parametrize("name, message", [
    ("$x.txt", "Filename contains invalid characters."),
    (".hidden", "Filename contains invalid characters."),
    ("a" * 129, "Filename too long."),
])
def test_bad_names_122(api, name, message):
    r = api.post(f"/files/{name}", content=b"x", headers={**MASTER, "Content-Type": "text/plain"})
    assert r.status_code == 400 and r.json() == {"code": 122, "error": message}


def test_too_big_is_413_streamed_or_declared(api, server):
    big = b"x" * (1024 * 1024 + 1)
    r = api.post("/files/big.bin", content=big, headers={**MASTER, "Content-Type": "application/octet-stream"})
    assert r.status_code == 413 and r.json() == {"error": "request entity too large"}

    def chunked():  # no Content-Length: the limit is found while streaming
        for _ in range(20):
            yield b"y" * 65536

    r = api.post("/files/big.bin", content=chunked(), headers={**MASTER, "Content-Type": "application/octet-stream"})
    assert r.status_code == 413
    leftovers = [p for p in Path(server.folder).iterdir() if p.name.endswith("_big.bin") or p.name.endswith(".part")]
    assert leftovers == []


def _file_events(client, name: str) -> list[dict]:
    r = client.get("/changes", headers={"X-Parse-Application-Id": APP, **MASTER}, params={"limit": 1000})
    assert r.status_code == 200, r.text
    body = r.json()
    return [e for e in body["results"] if e["className"] == "@File" and e["objectId"] == name]


def test_file_events_chain_in_the_log_and_history_still_verifies(api, raw):
    name = upload(api, "chained.txt", b"abc")["name"]
    assert api.delete(f"/files/{name}", headers=MASTER).status_code == 200
    [created, deleted] = _file_events(raw, name)
    assert (created["version"], deleted["version"]) == (1, 2) and deleted["position"] > created["position"]
    assert created["by"]["master"] is True and created["changes"]["digest"] == hashlib.sha256(b"abc").hexdigest()
    assert deleted["changes"] == {**created["changes"], "action": "delete"}
    assert api.get("/history/verify", headers=MASTER).json()["ok"] is True


def test_a_user_upload_records_who(api, raw):
    user = signup(api)
    name = upload(api, "mine.txt", b"mine", headers=user.headers)["name"]
    [event] = _file_events(raw, name)
    assert event["by"]["user"] == user.id and event["by"]["master"] is False
