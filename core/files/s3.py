"""The S3-compatible files adapter (AWS S3, MinIO, ...), with @parse/s3-files-adapter's options.

boto3 is blocking, so every call runs in a worker thread (`trio.to_thread.run_sync`). Uploads
are multipart uploads fed from the request's chunks, one part (>= 5 MiB) in memory at a time;
downloads are one (Range) GET whose body is read a chunk at a time.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import partial
from typing import Any, AsyncIterator, Callable, Mapping
from urllib.parse import quote

import trio

from parsnip.core.files.adapter import FileNotFound

MIN_PART_SIZE = 5 * 1024 * 1024  # S3's smallest part but the last
_READ_SIZE = 256 * 1024  # bytes per read from a download's body
_MODULE_NAMES = frozenset({"s3", "@parse/s3-files-adapter", "parse-server-s3-adapter"})


@dataclass(frozen=True)
class S3Options:
    """@parse/s3-files-adapter's options that Parsnip honours (their JSON names in `from_parse`)."""

    bucket: str
    region: str = "us-east-1"
    bucket_prefix: str = ""
    direct_access: bool = False
    base_url: str | None = None
    base_url_direct: bool = False
    endpoint: str | None = None  # s3overrides.endpoint: an S3-compatible server's URL
    force_path_style: bool | None = None  # s3overrides.forcePathStyle; default: path style with an endpoint
    access_key: str | None = None  # None: boto3's own chain (AWS_ACCESS_KEY_ID, ~/.aws, a role)
    secret_key: str | None = None
    session_token: str | None = None
    file_acl: str | None = None  # a canned ACL, or "none"; default: public-read with directAccess
    global_cache_control: str | None = None
    presigned_url: bool = False
    presigned_url_expires: int | None = None  # seconds
    server_side_encryption: str | None = None  # "AES256" or "aws:kms"
    part_size: int = 8 * 1024 * 1024  # Parsnip's: multipart part size, at least 5 MiB

    @classmethod
    def from_parse(cls, options: Mapping[str, Any] | None = None,
                   env: Mapping[str, str] | None = None) -> "S3Options":
        """Read Parse's option names, each falling back to its S3_* variable as Parse's adapter
        does; `s3overrides` (endpoint, region, credentials, params.Bucket) win over both."""
        opts = dict(options or {})
        env = os.environ if env is None else env
        overrides = dict(opts.get("s3overrides") or {})

        def pick(key: str, var: str | None, default: Any = None) -> Any:
            value = opts.get(key)
            if value in (None, "") and var:
                value = env.get(var)
            return default if value in (None, "") else value

        bucket = (overrides.get("params") or {}).get("Bucket") or pick("bucket", "S3_BUCKET")
        if not bucket:
            raise ValueError("S3Adapter requires option 'bucket' or env. variable S3_BUCKET")
        creds = dict(opts.get("credentials") or overrides.get("credentials") or {})
        access = pick("accessKey", "S3_ACCESS_KEY") or overrides.get("accessKeyId") or creds.get("accessKeyId")
        secret = pick("secretKey", "S3_SECRET_KEY") or overrides.get("secretAccessKey") or creds.get("secretAccessKey")
        expires = pick("presignedUrlExpires", "S3_PRESIGNED_URL_EXPIRES")
        return cls(
            bucket=str(bucket),
            region=str(overrides.get("region") or pick("region", "S3_REGION", "us-east-1")),
            bucket_prefix=str(pick("bucketPrefix", "S3_BUCKET_PREFIX", "")),
            direct_access=_flag(pick("directAccess", "S3_DIRECT_ACCESS", False)),
            base_url=_strip_slash(pick("baseUrl", "S3_BASE_URL")),
            base_url_direct=_flag(pick("baseUrlDirect", "S3_BASE_URL_DIRECT", False)),
            endpoint=_strip_slash(overrides.get("endpoint") or pick("endpoint", "S3_ENDPOINT")),
            force_path_style=overrides.get("forcePathStyle"),
            access_key=access,
            secret_key=secret,
            session_token=creds.get("sessionToken"),
            file_acl=pick("fileAcl", "S3_FILE_ACL"),
            global_cache_control=pick("globalCacheControl", "S3_GLOBAL_CACHE_CONTROL"),
            presigned_url=_flag(pick("presignedUrl", "S3_PRESIGNED_URL", False)),
            presigned_url_expires=None if expires is None else int(expires),
            server_side_encryption=opts.get("ServerSideEncryption"),
            part_size=max(MIN_PART_SIZE, int(opts.get("partSize") or 8 * 1024 * 1024)),
        )


def _flag(value: Any) -> bool:
    """An option's truth, whether JSON gave a bool or the environment a string."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _strip_slash(value: Any) -> str | None:
    return None if value is None else str(value).rstrip("/")


def make_adapter(files_adapter: Mapping[str, Any] | str | None,
                 env: Mapping[str, str] | None = None) -> "S3Adapter | None":
    """The S3 adapter when the `filesAdapter` option names it (`"s3"`, Parse's
    `"@parse/s3-files-adapter"`, or `{"module": ..., "options": {...}}`), else None: the
    caller's default (local disk) applies."""
    if isinstance(files_adapter, str):
        module, options = files_adapter, {}
    elif isinstance(files_adapter, Mapping):
        module, options = files_adapter.get("module"), files_adapter.get("options") or {}
    else:
        return None
    if module not in _MODULE_NAMES:
        return None
    return S3Adapter(S3Options.from_parse(options, env))


class S3Adapter:
    """File bytes as objects `<bucketPrefix><name>` in one bucket (created on first use if
    missing, as Parse's adapter does)."""

    def __init__(self, options: S3Options) -> None:
        import boto3  # the `s3` extra; imported here so servers without it never load it
        from botocore.config import Config as BotoConfig

        self.options = options
        path_style = options.force_path_style if options.force_path_style is not None else bool(options.endpoint)
        config = BotoConfig(
            region_name=options.region,
            signature_version="s3v4",
            s3={"addressing_style": "path" if path_style else "auto"},
            # S3-compatible servers do not all accept the newer default checksums.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            max_pool_connections=64,  # concurrent downloads each hold a connection while streaming
        )
        self._client = boto3.session.Session().client(
            "s3",
            endpoint_url=options.endpoint,
            aws_access_key_id=options.access_key,
            aws_secret_access_key=options.secret_key,
            aws_session_token=options.session_token,
            config=config,
        )
        self._errors = self._client.exceptions
        self._bucket_ready = False
        self._bucket_lock = trio.Lock()

    # --- the FilesAdapter interface -------------------------------------------------------

    async def put(self, name: str, chunks: AsyncIterator[bytes], content_type: str | None,
                  metadata: Mapping[str, Any] | None = None, tags: Mapping[str, Any] | None = None) -> None:
        """Store the chunks under `name`: one PUT when they fit in a part, else a multipart
        upload that sends each part as soon as it is full (aborted if the stream fails). The
        upload's metadata and tags go with it, as @parse/s3-files-adapter sends them."""
        await self._ensure_bucket()
        key = self._key(name)
        params = self._write_params(content_type, metadata, tags)
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            async for chunk in chunks:
                buffer += chunk
                if len(buffer) >= self.options.part_size:
                    if upload_id is None:
                        created = await self._call(self._client.create_multipart_upload, Key=key, **params)
                        upload_id = created["UploadId"]
                    parts.append(await self._upload_part(key, upload_id, len(parts) + 1, bytes(buffer)))
                    buffer = bytearray()
            if upload_id is None:
                await self._call(self._client.put_object, Key=key, Body=bytes(buffer), **params)
                return
            if buffer or not parts:
                parts.append(await self._upload_part(key, upload_id, len(parts) + 1, bytes(buffer)))
            await self._call(self._client.complete_multipart_upload, Key=key, UploadId=upload_id,
                             MultipartUpload={"Parts": parts})
        except BaseException:
            if upload_id is not None:
                with trio.CancelScope(shield=True):
                    await self._abort(key, upload_id)
            raise

    async def get(self, name: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Bytes [start, end) of the object, read from one GET's body as they are iterated.
        FileNotFound is raised here, before any byte is read."""
        await self._ensure_bucket()
        args: dict[str, Any] = {"Key": self._key(name)}
        if end is not None and end <= start:
            if await self.size(name) is None:
                raise FileNotFound(name)
            return _empty()
        if start > 0 or end is not None:
            args["Range"] = f"bytes={start}-" + ("" if end is None else str(end - 1))
        try:
            answer = await self._call(self._client.get_object, **args)
        except self._errors.NoSuchKey:
            raise FileNotFound(name) from None
        except self._errors.ClientError as error:
            if _status(error) == 404:
                raise FileNotFound(name) from None
            if _status(error) == 416:  # start at or past the end: no bytes, as a slice
                return _empty()
            raise
        return _body_chunks(answer["Body"])

    async def size(self, name: str) -> int | None:
        await self._ensure_bucket()
        try:
            head = await self._call(self._client.head_object, Key=self._key(name))
        except self._errors.ClientError as error:
            if _status(error) == 404:
                return None
            raise
        return int(head["ContentLength"])

    async def delete(self, name: str) -> None:
        await self._ensure_bucket()
        await self._call(self._client.delete_object, Key=self._key(name))

    def direct_url(self, name: str) -> str | None:
        """With directAccess, where clients fetch the bytes themselves, built as Parse's adapter
        builds it: baseUrl (+ prefix unless baseUrlDirect), a presigned URL, the endpoint's
        path-style URL (Parsnip's, for S3-compatible servers), else AWS's bucket URL."""
        opts = self.options
        if not opts.direct_access:
            return None
        encoded = "/".join(quote(part, safe="") for part in name.split("/"))
        key = opts.bucket_prefix + encoded
        signed = ""
        if opts.presigned_url:
            expires = {"ExpiresIn": opts.presigned_url_expires} if opts.presigned_url_expires else {}
            signed = self._client.generate_presigned_url(
                "get_object", Params={"Bucket": opts.bucket, "Key": self._key(name)}, **expires)
            if not opts.base_url:
                return signed
        if opts.base_url:
            url = f"{opts.base_url}/{encoded if opts.base_url_direct else key}"
            return url + (signed[signed.index("?"):] if signed else "")
        return self._unsigned_base() + encoded

    def direct_base(self) -> str | None:
        """The prefix of every direct URL when they are not presigned (then each is signed on
        its own): File values in fetched objects get the URL an upload answered, as Parse's
        adapter gives them its getFileLocation."""
        opts = self.options
        if not opts.direct_access or opts.presigned_url:
            return None
        if opts.base_url:
            return f"{opts.base_url}/" + ("" if opts.base_url_direct else opts.bucket_prefix)
        return self._unsigned_base()

    def _unsigned_base(self) -> str:
        opts = self.options
        if opts.endpoint:
            return f"{opts.endpoint}/{opts.bucket}/{opts.bucket_prefix}"
        return f"https://{opts.bucket}.s3.amazonaws.com/{opts.bucket_prefix}"

    # --- helpers --------------------------------------------------------------------------

    def _key(self, name: str) -> str:
        return self.options.bucket_prefix + name

    def _write_params(self, content_type: str | None, metadata: Mapping[str, Any] | None = None,
                      tags: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """What a PUT or a multipart upload's creation carries besides the key and bytes."""
        opts = self.options
        params: dict[str, Any] = {}
        if content_type:
            params["ContentType"] = content_type
        acl = opts.file_acl or ("public-read" if opts.direct_access else None)
        if acl and acl != "none":
            params["ACL"] = acl
        if opts.global_cache_control:
            params["CacheControl"] = opts.global_cache_control
        if opts.server_side_encryption in ("AES256", "aws:kms"):
            params["ServerSideEncryption"] = opts.server_side_encryption
        if metadata:
            params["Metadata"] = {str(k): _header_text(v) for k, v in metadata.items()}
        if tags:  # Parse leaves the option out when empty: some S3-compatible stores refuse it
            params["Tagging"] = _tagging(tags)
        return params

    async def _call(self, method: Callable[..., Any], **kwargs: Any) -> Any:
        """One boto3 call on the bucket, in a worker thread."""
        return await trio.to_thread.run_sync(partial(method, Bucket=self.options.bucket, **kwargs))

    async def _upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> dict[str, Any]:
        answer = await self._call(self._client.upload_part, Key=key, UploadId=upload_id,
                                  PartNumber=number, Body=data)
        return {"PartNumber": number, "ETag": answer["ETag"]}

    async def _abort(self, key: str, upload_id: str) -> None:
        """Drop a failed upload's parts; a failure here must not hide the upload's own error."""
        try:
            await self._call(self._client.abort_multipart_upload, Key=key, UploadId=upload_id)
        except Exception:
            pass

    async def _ensure_bucket(self) -> None:
        """Create the bucket on first use when it does not exist (Parse's createBucket)."""
        if self._bucket_ready:
            return
        async with self._bucket_lock:
            if self._bucket_ready:
                return
            try:
                await self._call(self._client.head_bucket)
            except self._errors.ClientError as error:
                if _status(error) != 404:
                    raise
                where = {} if self.options.region == "us-east-1" else {
                    "CreateBucketConfiguration": {"LocationConstraint": self.options.region}}
                try:
                    await self._call(self._client.create_bucket, **where)
                except (self._errors.BucketAlreadyOwnedByYou, self._errors.BucketAlreadyExists):
                    pass
            self._bucket_ready = True


def _header_text(value: Any) -> str:
    """A metadata value as the x-amz-meta-* header carries it: text as is, a scalar as
    JavaScript's String() writes it, anything else as JSON (S3 keeps only strings)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def _tagging(tags: Mapping[str, Any]) -> str:
    """Parse's S3 adapter's Tagging: key=value pairs URI-encoded and joined by &, a falsy
    value left out."""
    return "&".join(f"{_uri(str(k))}={_uri(_header_text(v))}" for k, v in tags.items()
                    if v not in (None, False, 0, "") and v == v)


def _uri(text: str) -> str:
    return quote(text, safe="-_.!~*'()")  # encodeURIComponent's unreserved set


def _status(error: Any) -> int | None:
    return error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator


async def _body_chunks(body: Any) -> AsyncIterator[bytes]:
    """A GET's streaming body, a chunk at a time; closed however the reader stops."""
    try:
        while chunk := await trio.to_thread.run_sync(body.read, _READ_SIZE):
            yield chunk
    finally:
        body.close()
