"""A `parsnip` process whose `filesAdapter` names S3 keeps file bytes in the bucket: upload,
download (whole and a range) and delete through REST against a real local S3 server."""

from __future__ import annotations

import json
import secrets

import httpx
import pytest

from tests.conftest import _admin_sql, _with_database, start_server, stop_server

boto3 = pytest.importorskip("boto3", reason="the s3 extra (boto3) is not installed")

APP = "s3-app"
MASTER = {"X-Parse-Master-Key": "test-master"}


@pytest.fixture(scope="module")
def s3_server(admin_dsn, s3_endpoint):
    name = "parsnip_s3_" + secrets.token_hex(6)
    bucket = "parsnip-" + secrets.token_hex(6)
    _admin_sql(admin_dsn, f'CREATE DATABASE "{name}"')
    adapter = {"module": "@parse/s3-files-adapter",
               "options": {"bucket": bucket, "accessKey": "testing", "secretKey": "testing",
                           "s3overrides": {"endpoint": s3_endpoint}}}
    info = start_server(_with_database(admin_dsn, name), "--filesAdapter", json.dumps(adapter),
                        "--fileUpload", json.dumps({"enableForPublic": True}), app_id=APP)
    info.bucket = bucket  # type: ignore[attr-defined]
    yield info
    stop_server(info)
    _admin_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_bytes_go_to_the_bucket_and_come_back(s3_server, s3_endpoint):
    body = secrets.token_bytes(300_000)
    with httpx.Client(base_url=s3_server.url, headers={"X-Parse-Application-Id": APP}, timeout=30) as api:
        r = api.post("/files/photo.jpg", content=body, headers={"Content-Type": "image/jpeg"})
        assert r.status_code == 201, r.text
        name = r.json()["name"]
        s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        assert s3.get_object(Bucket=s3_server.bucket, Key=name)["Body"].read() == body
        got = api.get(f"/files/{APP}/{name}")
        assert got.status_code == 200 and got.content == body
        assert got.headers["content-type"].startswith("image/jpeg")
        part = api.get(f"/files/{APP}/{name}", headers={"Range": "bytes=1000-1999"})
        assert part.status_code == 206 and part.content == body[1000:2000]
        assert api.delete(f"/files/{name}", headers=MASTER).status_code == 200
        assert api.get(f"/files/{APP}/{name}").status_code == 404


@pytest.fixture(scope="module")
def direct_server(admin_dsn, s3_endpoint):
    name = "parsnip_s3d_" + secrets.token_hex(6)
    bucket = "parsnip-" + secrets.token_hex(6)
    _admin_sql(admin_dsn, f'CREATE DATABASE "{name}"')
    adapter = {"module": "@parse/s3-files-adapter",
               "options": {"bucket": bucket, "accessKey": "testing", "secretKey": "testing", "directAccess": True,
                           "bucketPrefix": "pre/", "s3overrides": {"endpoint": s3_endpoint}}}
    info = start_server(_with_database(admin_dsn, name), "--filesAdapter", json.dumps(adapter), app_id=APP)
    yield info
    stop_server(info)
    _admin_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_with_direct_access_a_file_in_an_object_has_the_url_its_upload_answered(direct_server, s3_endpoint):
    """Parse's S3 adapter gives a File inside a fetched object its getFileLocation, the bucket
    URL with directAccess, as it answered the upload: get, find, include and the URL's bytes."""
    headers = {"X-Parse-Application-Id": APP, **MASTER}
    with httpx.Client(base_url=direct_server.url, headers=headers, timeout=30) as api:
        r = api.post("/files/my photo@1.txt", content=b"direct", headers={"Content-Type": "text/plain"})
        assert r.status_code == 201, r.text
        uploaded = r.json()
        assert uploaded["url"].startswith(f"{s3_endpoint}/") and "/pre/" in uploaded["url"]
        file = {"__type": "File", "name": uploaded["name"]}
        oid = api.post("/classes/Album", json={"cover": file}).json()["objectId"]
        holder = api.post("/classes/Shelf", json={"album": {"__type": "Pointer", "className": "Album", "objectId": oid}})
        assert api.get(f"/classes/Album/{oid}").json()["cover"] == {**file, "url": uploaded["url"]}
        assert api.get("/classes/Album").json()["results"][0]["cover"]["url"] == uploaded["url"]
        shelf = api.get(f"/classes/Shelf/{holder.json()['objectId']}", params={"include": "album"}).json()
        assert shelf["album"]["cover"]["url"] == uploaded["url"]
        assert httpx.get(uploaded["url"]).content == b"direct"
