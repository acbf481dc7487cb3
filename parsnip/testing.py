"""Test your Cloud Code in your own pytest suite, against a real database, with no server.

    from parsnip.testing import CloudTest

    async def test_reviews_need_stars():             # pytest-trio (trio_mode = true)
        async with CloudTest(cloud="main.py") as t:
            assert await t.run("hello") == "Hello world!"
            with pytest.raises(ParseError) as refused:
                await t.save("Review", {"stars": 9})
            assert refused.value.code == ParseError.VALIDATION_ERROR

`CloudTest` starts Parsnip's runtime in-process on a database of its own (created on the
PostgreSQL at `database_url`, or PARSNIP_TEST_DATABASE_URI, or an embedded one, and dropped at
the end) and calls the same use cases the REST API calls: your validators, triggers and
functions run exactly as they do behind a server. `SyncCloudTest` is the same for plain
(non-async) tests.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import tempfile
import threading
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit, urlunsplit

import trio

from parsnip.core.cloud import codec
from parsnip.core.cloud.loader import load_cloud
from parsnip.core.cloud.registry import Cloud
from parsnip.core.config import Config
from parsnip.core.errors import ParseError
from parsnip.core.security.auth import MASTER, NOBODY, Auth
from parsnip.core.services import functions, users
from parsnip.core.services.base import Caller
from parsnip.core.services.classes import service_for

__all__ = ["CloudTest", "SyncCloudTest", "ParseError"]

_embedded_uri: str | None = None  # one embedded PostgreSQL per process, started on first need


class CloudTest:
    """A Parsnip runtime running `cloud` (a file path, a dotted module name, or a `Cloud`) on a
    fresh database; `async with` it. Each call acts as a client with no session unless given
    `master=True` or a user's `session_token` (as `t.signup(...)["sessionToken"]`).

    `database_url`: a PostgreSQL where a throwaway database is created (the user needs CREATEDB);
    with `fresh=False`, the database the URL names is used as it is, and kept. `options` are
    server options with Parse's names (`Config`), e.g. `allowClientClassCreation=False`."""

    def __init__(self, cloud: str | Cloud | None = None, database_url: str | None = None, *,
                 fresh: bool = True, **options: Any) -> None:
        self._cloud = cloud
        self._url = database_url or os.environ.get("PARSNIP_TEST_DATABASE_URI")
        self._fresh = fresh
        # No job scheduler unless asked for (jobSchedulerInterval=...): a test's schedules run when it says.
        self.config = Config(**{"appId": "parsnip-test", "masterKey": secrets.token_hex(12),
                                "logsFolder": None, "jobSchedulerInterval": 0, **options})
        self._dropped: str | None = None  # the throwaway database, while it exists
        self._admin_dsn: str | None = None
        self._stack: Any = None
        self.runtime: Any = None  # the running `Runtime`, for what this helper does not cover

    async def __aenter__(self) -> "CloudTest":
        from parsnip.api.runtime import open_runtime  # the app's composition root, loaded on use

        cloud = load_cloud(self._cloud) if isinstance(self._cloud, str) else self._cloud
        server = self._admin_dsn = self._url or await trio.to_thread.run_sync(_embedded)
        dsn = server
        if self._fresh:
            name = "parsnip_test_" + secrets.token_hex(6)
            await _admin(server, f'CREATE DATABASE "{name}"')
            self._dropped, dsn = name, _with_database(server, name)
        try:
            self._stack = open_runtime(self.config, dsn, cloud=cloud)
            self.runtime = await self._stack.__aenter__()
        except BaseException:
            await self._drop()
            raise
        return self

    async def __aexit__(self, *exc: Any) -> None:
        try:
            await self._stack.__aexit__(*exc)
        finally:
            self.runtime = None
            await self._drop()

    async def _drop(self) -> None:
        if self._dropped is not None and self._admin_dsn is not None:
            name, self._dropped = self._dropped, None
            with trio.CancelScope(shield=True):
                await _admin(self._admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    # -- as a client ---------------------------------------------------------------------------

    async def run(self, name: str, params: Mapping[str, Any] | None = None, *, master: bool = False,
                  session_token: str | None = None, context: Mapping[str, Any] | None = None,
                  headers: Mapping[str, str] | None = None) -> Any:
        """`Parse.Cloud.run(name, params)`: the function's result as the SDK decodes it (a Date
        as `datetime`); its refusal or failure raises `ParseError` with the client's code."""
        caller = await self._caller(master, session_token)
        result = await functions.run(self.runtime, caller, name, codec.encode(dict(params or {})),
                                     context=dict(context or {}), headers=headers)
        return codec.decode(result)

    async def save(self, class_name: str, fields: Mapping[str, Any], *, object_id: str | None = None,
                   master: bool = False, session_token: str | None = None) -> dict[str, Any]:
        """Create (or, with `object_id`, update) an object through its triggers; the object as
        then stored (Parse JSON, read with the master key), after its after_save has run."""
        caller = await self._caller(master, session_token)
        service = service_for(class_name)
        body = codec.encode(dict(fields))
        if object_id is None:
            saved = await service.create(self.runtime, caller, class_name, body)
        else:
            saved = await service.update(self.runtime, caller, class_name, object_id, body)
        return await self.get(class_name, saved.object_id, master=True)

    async def get(self, class_name: str, object_id: str, *, master: bool = False,
                  session_token: str | None = None, **options: Any) -> dict[str, Any]:
        """One object as the caller may see it (101 otherwise); `options`: `keys`, `include`."""
        caller = await self._caller(master, session_token)
        text = await service_for(class_name).get(self.runtime, caller, class_name, object_id, _params(options))
        return _json(text)

    async def find(self, class_name: str, where: Mapping[str, Any] | None = None, *, master: bool = False,
                   session_token: str | None = None, **options: Any) -> list[dict[str, Any]]:
        """The objects `where` selects for the caller (through before_find/after_find);
        `options` are the REST query's: `order`, `limit`, `skip`, `keys`, `include`."""
        caller = await self._caller(master, session_token)
        params = _params(options)
        if where is not None:
            params["where"] = codec.encode(dict(where))
        found = await service_for(class_name).find(self.runtime, caller, class_name, params)
        return _json(found.text())["results"]

    async def delete(self, class_name: str, object_id: str, *, master: bool = False,
                     session_token: str | None = None) -> None:
        """Delete an object through its triggers."""
        caller = await self._caller(master, session_token)
        await service_for(class_name).delete(self.runtime, caller, class_name, object_id)

    async def signup(self, username: str, password: str, **fields: Any) -> dict[str, Any]:
        """A new user (through `_User` triggers); its fields and `sessionToken`, as signup answers."""
        saved = await users.signup(self.runtime, await self._caller(False, None),
                                   codec.encode({**fields, "username": username, "password": password}))
        return {"objectId": saved.object_id, **(saved.body or {})}

    async def login(self, username: str, password: str) -> dict[str, Any]:
        """Log in: the user's own view with a new `sessionToken`."""
        text = await users.login(self.runtime, await self._caller(False, None),
                                 {"username": username, "password": password})
        return _json(text)

    async def _caller(self, master: bool, session_token: str | None) -> Caller:
        if self.runtime is None:
            raise RuntimeError("use CloudTest inside `async with CloudTest(...) as t:`")
        auth: Auth = MASTER if master else NOBODY
        if session_token is not None:
            auth = await self.runtime.authenticate(session_token)
        return Caller(auth, request_id="test-" + secrets.token_hex(4), client_ip="127.0.0.1")


class SyncCloudTest:
    """`CloudTest` for plain test functions: `with SyncCloudTest(cloud="main.py") as t:
    t.run("hello")`. Its runtime runs on trio in a thread of its own while the block lasts."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._test = CloudTest(*args, **kwargs)
        self._token: trio.lowlevel.TrioToken | None = None
        self._thread: threading.Thread | None = None
        self._stop: trio.Event | None = None
        self._failure: BaseException | None = None

    def __enter__(self) -> "SyncCloudTest":
        ready = threading.Event()

        async def host() -> None:
            try:
                async with self._test:
                    self._token, self._stop = trio.lowlevel.current_trio_token(), trio.Event()
                    ready.set()
                    await self._stop.wait()
            except BaseException as exc:
                self._failure = exc
                raise
            finally:
                ready.set()

        def main() -> None:
            try:
                trio.run(host)
            except BaseException:
                pass  # kept in self._failure, raised in the test's thread

        self._thread = threading.Thread(target=main, name="parsnip-cloud-test", daemon=True)
        self._thread.start()
        ready.wait()
        if self._token is None:
            self._thread.join()
            raise self._failure or RuntimeError("the test runtime did not start")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._token is not None and self._stop is not None:
            trio.from_thread.run_sync(self._stop.set, trio_token=self._token)
        if self._thread is not None:
            self._thread.join()
        self._token = None

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._test, name)  # run, save, get, find, delete, signup, login
        if name.startswith("_") or not callable(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            if self._token is None:
                raise RuntimeError("use SyncCloudTest inside `with SyncCloudTest(...) as t:`")
            return trio.from_thread.run(lambda: method(*args, **kwargs), trio_token=self._token)

        return call


def _params(options: Mapping[str, Any]) -> dict[str, Any]:
    """Query options as the REST API takes them (lists of keys written as Parse's comma lists)."""
    return {k: ",".join(v) if isinstance(v, (list, tuple)) else v for k, v in options.items()}


def _json(text: str) -> Any:
    return json.loads(text)


def _with_database(dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path="/" + name))


async def _admin(dsn: str, sql: str) -> None:
    """Run one statement outside any transaction (CREATE/DROP DATABASE), off the trio loop."""
    import asyncpg

    async def execute() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    await trio.to_thread.run_sync(lambda: asyncio.run(execute()))


def _embedded() -> str:
    """An embedded PostgreSQL (pgserver) in a temporary folder, shared by this process's tests."""
    global _embedded_uri
    if _embedded_uri is None:
        from parsnip.core.db import embedded

        _embedded_uri = embedded.start(tempfile.mkdtemp(prefix="parsnip-testing-"))
    return _embedded_uri
