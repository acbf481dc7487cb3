"""The S3 files adapter against a real S3 server: moto's standalone server, started by these tests
in a process of its own on a free port. Each test uses a bucket of its own, which the adapter
creates on first use."""

from __future__ import annotations

import hashlib
import secrets

import httpx
import pytest
import trio

boto3 = pytest.importorskip("boto3", reason="the s3 extra (boto3) is not installed")

from parsnip.core.files.adapter import FileNotFound  # noqa: E402
from parsnip.core.files.s3 import MIN_PART_SIZE, S3Adapter, S3Options, make_adapter  # noqa: E402

KEYS = {"accessKey": "testing", "secretKey": "testing"}


@pytest.fixture
def bucket() -> str:
    return "parsnip-" + secrets.token_hex(6)


@pytest.fixture
def raw(s3_endpoint):
    """A plain boto3 client on the same server, to look at what the adapter stored."""
    return boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _adapter(endpoint: str, bucket: str, **options) -> S3Adapter:
    return S3Adapter(S3Options.from_parse(
        {"bucket": bucket, "s3overrides": {"endpoint": endpoint}, **KEYS, **options}, env={}))


async def _chunks(*parts: bytes):
    for part in parts:
        yield part


async def _read(adapter: S3Adapter, name: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in await adapter.get(name, start, end)])


async def test_put_get_size_and_content_type(s3_endpoint, bucket, raw):
    adapter = _adapter(s3_endpoint, bucket)
    await adapter.put("abc_hello.txt", _chunks(b"hello ", b"world"), "text/plain")

    assert await _read(adapter, "abc_hello.txt") == b"hello world"
    assert await adapter.size("abc_hello.txt") == 11
    head = raw.head_object(Bucket=bucket, Key="abc_hello.txt")
    assert head["ContentType"] == "text/plain"
    assert adapter.direct_url("abc_hello.txt") is None  # served through Parsnip by default


async def test_the_bucket_is_created_on_first_use(s3_endpoint, bucket, raw):
    assert bucket not in [b["Name"] for b in raw.list_buckets()["Buckets"]]
    await _adapter(s3_endpoint, bucket).put("a.bin", _chunks(b"x"), None)
    assert bucket in [b["Name"] for b in raw.list_buckets()["Buckets"]]


async def test_ranges_are_slices_of_the_bytes(s3_endpoint, bucket):
    adapter = _adapter(s3_endpoint, bucket)
    data = bytes(range(256)) * 40
    await adapter.put("r.bin", _chunks(data), "application/octet-stream")

    assert await _read(adapter, "r.bin", 0, 5) == data[:5]
    assert await _read(adapter, "r.bin", 100, 1000) == data[100:1000]
    assert await _read(adapter, "r.bin", 9000) == data[9000:]
    assert await _read(adapter, "r.bin", 10_000, 20_000) == data[10_000:]  # end past the size
    assert await _read(adapter, "r.bin", 7, 7) == b""
    assert await _read(adapter, "r.bin", len(data)) == b""  # start at the end
    assert await _read(adapter, "r.bin", len(data) + 50) == b""


async def test_an_empty_file(s3_endpoint, bucket):
    adapter = _adapter(s3_endpoint, bucket)
    await adapter.put("e.txt", _chunks(), "text/plain")
    assert await adapter.size("e.txt") == 0
    assert await _read(adapter, "e.txt") == b""


async def test_missing_names(s3_endpoint, bucket):
    adapter = _adapter(s3_endpoint, bucket)
    for start, end in [(0, None), (5, 10), (3, 3)]:
        with pytest.raises(FileNotFound):
            await adapter.get("nope.txt", start, end)
    assert await adapter.size("nope.txt") is None
    await adapter.delete("nope.txt")  # absent is not an error


async def test_delete_removes_the_bytes(s3_endpoint, bucket):
    adapter = _adapter(s3_endpoint, bucket)
    await adapter.put("d.txt", _chunks(b"bye"), "text/plain")
    await adapter.delete("d.txt")
    assert await adapter.size("d.txt") is None
    with pytest.raises(FileNotFound):
        await adapter.get("d.txt")


async def test_a_large_upload_is_streamed_in_parts(s3_endpoint, bucket, raw):
    """~12 MB fed in 128 KiB chunks: every time the adapter asks for another chunk, the S3
    server already holds all but less than one part of what it was given (so it never holds
    the whole upload), and the object is a 3-part multipart upload with every byte."""
    adapter = _adapter(s3_endpoint, bucket, partSize=MIN_PART_SIZE)
    chunk_size, count = 128 * 1024, 96
    digest = hashlib.sha256()
    lags = []

    def uploaded_bytes() -> int:
        uploads = raw.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        return sum(part["Size"] for up in uploads
                   for part in raw.list_parts(Bucket=bucket, Key=up["Key"], UploadId=up["UploadId"]).get("Parts", []))

    async def source():
        given = 0
        for i in range(count):
            lags.append(given - uploaded_bytes())
            chunk = bytes([i % 251]) * chunk_size
            digest.update(chunk)
            given += len(chunk)
            yield chunk

    await adapter.put("big.bin", source(), "video/mp4")

    assert max(lags) < MIN_PART_SIZE
    assert max(lags) >= MIN_PART_SIZE - chunk_size  # the check can see a full buffer
    head = raw.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == chunk_size * count
    assert head["ETag"].strip('"').endswith("-3")
    assert head["ContentType"] == "video/mp4"
    got = hashlib.sha256()
    async for chunk in await adapter.get("big.bin"):
        assert len(chunk) <= 256 * 1024  # the download is read a chunk at a time too
        got.update(chunk)
    assert got.digest() == digest.digest()
    assert await _read(adapter, "big.bin", MIN_PART_SIZE - 3, MIN_PART_SIZE + 3) == (
        bytes([39]) * 3 + bytes([40]) * 3)


async def test_a_failed_stream_leaves_no_object_and_no_parts(s3_endpoint, bucket, raw):
    adapter = _adapter(s3_endpoint, bucket, partSize=MIN_PART_SIZE)

    async def broken():
        for _ in range(60):
            yield b"z" * (128 * 1024)
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        await adapter.put("half.bin", broken(), None)
    assert await adapter.size("half.bin") is None
    assert raw.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


async def test_a_cancelled_upload_leaves_no_parts(s3_endpoint, bucket, raw):
    """A request cancelled mid-upload (the client went away) aborts the multipart upload."""
    adapter = _adapter(s3_endpoint, bucket, partSize=MIN_PART_SIZE)

    async def stalls():
        for _ in range(50):
            yield b"z" * (128 * 1024)
        await trio.sleep_forever()

    with trio.move_on_after(3) as scope:
        await adapter.put("stalled.bin", stalls(), None)
    assert scope.cancelled_caught
    assert raw.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert await adapter.size("stalled.bin") is None


async def test_bucket_prefix(s3_endpoint, bucket, raw):
    adapter = _adapter(s3_endpoint, bucket, bucketPrefix="files/app1/")
    await adapter.put("n_a.txt", _chunks(b"prefixed"), "text/plain")

    keys = [o["Key"] for o in raw.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["files/app1/n_a.txt"]
    assert await _read(adapter, "n_a.txt") == b"prefixed"
    await adapter.delete("n_a.txt")
    assert raw.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


async def test_direct_access_urls_serve_the_public_bytes(s3_endpoint, bucket, raw):
    adapter = _adapter(s3_endpoint, bucket, directAccess=True, bucketPrefix="p/")
    await adapter.put("k_photo one.jpg", _chunks(b"\xff\xd8jpeg"), "image/jpeg")

    url = adapter.direct_url("k_photo one.jpg")
    assert url == f"{s3_endpoint}/{bucket}/p/k_photo%20one.jpg"
    answer = httpx.get(url)
    assert answer.status_code == 200 and answer.content == b"\xff\xd8jpeg"
    assert answer.headers["content-type"] == "image/jpeg"
    grants = raw.get_object_acl(Bucket=bucket, Key="p/k_photo one.jpg")["Grants"]
    assert any(g["Grantee"].get("URI", "").endswith("/AllUsers") and g["Permission"] == "READ"
               for g in grants)


def test_direct_access_urls_with_base_url_and_without_endpoint():
    def url(**options):
        adapter = S3Adapter(S3Options.from_parse({"bucket": "b", "directAccess": True, **KEYS, **options}, env={}))
        return adapter.direct_url("x_a.png")

    assert url() == "https://b.s3.amazonaws.com/x_a.png"  # Parse's default
    assert url(bucketPrefix="pre/") == "https://b.s3.amazonaws.com/pre/x_a.png"
    assert url(baseUrl="https://cdn.example.com/", bucketPrefix="pre/") == "https://cdn.example.com/pre/x_a.png"
    assert url(baseUrl="https://cdn.example.com", bucketPrefix="pre/", baseUrlDirect=True) == (
        "https://cdn.example.com/x_a.png")
    signed = url(presignedUrl=True, presignedUrlExpires=60)
    assert "X-Amz-Signature=" in signed and "X-Amz-Expires=60" in signed
    with_base = url(presignedUrl=True, baseUrl="https://cdn.example.com")
    assert with_base.startswith("https://cdn.example.com/x_a.png?") and "X-Amz-Signature=" in with_base


async def test_presigned_urls_are_accepted_by_the_server(s3_endpoint, bucket):
    adapter = _adapter(s3_endpoint, bucket, directAccess=True, presignedUrl=True, fileAcl="none")
    await adapter.put("s_secret.txt", _chunks(b"signed"), "text/plain")
    answer = httpx.get(adapter.direct_url("s_secret.txt"))
    assert answer.status_code == 200 and answer.content == b"signed"


async def test_cache_control_is_stored(s3_endpoint, bucket, raw):
    adapter = _adapter(s3_endpoint, bucket, globalCacheControl="public, max-age=86400")
    await adapter.put("c.txt", _chunks(b"c"), "text/plain")
    assert raw.head_object(Bucket=bucket, Key="c.txt")["CacheControl"] == "public, max-age=86400"


def test_options_fall_back_to_parse_s_environment_variables():
    env = {"S3_BUCKET": "envbucket", "S3_REGION": "eu-west-1", "S3_BUCKET_PREFIX": "pre/",
           "S3_DIRECT_ACCESS": "true", "S3_BASE_URL": "https://cdn.example.com",
           "S3_ACCESS_KEY": "ak", "S3_SECRET_KEY": "sk"}
    opts = S3Options.from_parse({}, env)
    assert (opts.bucket, opts.region, opts.bucket_prefix, opts.direct_access, opts.base_url) == (
        "envbucket", "eu-west-1", "pre/", True, "https://cdn.example.com")
    assert (opts.access_key, opts.secret_key) == ("ak", "sk")
    # Options win over the environment, s3overrides over both.
    opts = S3Options.from_parse({"bucket": "given", "region": "us-west-2",
                                 "s3overrides": {"region": "ap-south-1", "endpoint": "http://minio:9000/",
                                                 "credentials": {"accessKeyId": "o", "secretAccessKey": "p"}}},
                                {**env, "S3_ACCESS_KEY": "", "S3_SECRET_KEY": ""})
    assert (opts.bucket, opts.region, opts.endpoint) == ("given", "ap-south-1", "http://minio:9000")
    assert (opts.access_key, opts.secret_key) == ("o", "p")
    assert S3Options.from_parse({"directAccess": "false"}, env).direct_access is False
    with pytest.raises(ValueError, match="S3_BUCKET"):
        S3Options.from_parse({}, {})


async def test_make_adapter_selects_s3_from_the_files_adapter_option(s3_endpoint, bucket):
    assert make_adapter(None, {}) is None
    assert make_adapter({"directory": "/tmp/files"}, {}) is None  # the local adapter's options
    assert make_adapter({"module": "something-else"}, {}) is None

    env = {"S3_BUCKET": bucket, "S3_ENDPOINT": s3_endpoint, "S3_ACCESS_KEY": "testing", "S3_SECRET_KEY": "testing"}
    by_name = make_adapter("@parse/s3-files-adapter", env)
    assert isinstance(by_name, S3Adapter) and by_name.options.bucket == bucket
    configured = make_adapter({"module": "s3", "options": {"bucket": bucket, "bucketPrefix": "m/",
                                                           "s3overrides": {"endpoint": s3_endpoint}, **KEYS}}, {})
    await configured.put("m_x.txt", _chunks(b"selected"), "text/plain")
    assert await _read(by_name, "m/m_x.txt") == b"selected"


async def test_metadata_and_tags_go_to_s3_as_parse_s_adapter_sends_them(s3_endpoint, bucket, raw):
    adapter = _adapter(s3_endpoint, bucket)
    await adapter.put("abc_tagged.txt", _chunks(b"x"), "text/plain",
                      {"owner": "ann", "count": 3, "ok": True}, {"team": "a b:c", "empty": "", "n": 2})
    head = raw.head_object(Bucket=bucket, Key="abc_tagged.txt")
    assert head["Metadata"] == {"owner": "ann", "count": "3", "ok": "true"}
    tags = raw.get_object_tagging(Bucket=bucket, Key="abc_tagged.txt")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("n", "2"), ("team", "a b:c")]  # a falsy value is left out


async def test_a_multipart_upload_carries_metadata_and_tags_too(s3_endpoint, bucket, raw):
    adapter = _adapter(s3_endpoint, bucket, partSize=MIN_PART_SIZE)
    await adapter.put("abc_big.bin", _chunks(b"a" * MIN_PART_SIZE, b"b"), None, {"k": "v"}, {"t": "1"})
    assert raw.head_object(Bucket=bucket, Key="abc_big.bin")["Metadata"] == {"k": "v"}
    assert raw.get_object_tagging(Bucket=bucket, Key="abc_big.bin")["TagSet"] == [{"Key": "t", "Value": "1"}]


async def test_no_metadata_or_tags_sends_neither(s3_endpoint, bucket, raw):
    adapter = _adapter(s3_endpoint, bucket)
    await adapter.put("abc_plain.txt", _chunks(b"x"), "text/plain", {}, {})
    assert raw.head_object(Bucket=bucket, Key="abc_plain.txt")["Metadata"] == {}
    assert raw.get_object_tagging(Bucket=bucket, Key="abc_plain.txt")["TagSet"] == []
