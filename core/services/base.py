"""What every service takes: who is asking (`Caller`) and what it runs on (`Backend`).

A service is one use case (find, save, log in, ...) called with plain arguments by whichever
transport serves it (REST routes, batch, later Cloud Code, GraphQL, history). It returns
domain results (objects as Parse JSON text, a save's fields), never HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Protocol, Sequence, TypeVar

import trio

from parsnip.core.commands import Command, Result
from parsnip.core.config import Config
from parsnip.core.events import Context
from parsnip.core.pipeline.hooks import Hooks
from parsnip.core.reads import ObjectReader
from parsnip.core.schema import SchemaCache
from parsnip.core.security.auth import Auth

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking and how: their `Auth`, the request's id and client address (which their
    writes carry into the log), the installation id the client sent (a new session records
    it), and whether the input is large enough to be checked off the trio loop."""

    auth: Auth
    request_id: str | None = None
    client_ip: str | None = None
    installation_id: str | None = None
    large_input: bool = False
    cloud_context: dict | None = None  # the client's context for Cloud Code (`req.context`)

    @property
    def master(self) -> bool:
        return self.auth.master

    @property
    def context(self) -> Context:
        """The context a write records (made when a write needs it: reads never do)."""
        return self.auth.context(self.request_id, self.client_ip)

    def acting_as(self, auth: Auth) -> "Caller":
        """The same request, acting with another `Auth` (the server reading for the caller)."""
        return Caller(auth, self.request_id, self.client_ip, self.installation_id, self.large_input,
                      self.cloud_context)


class Backend(Protocol):
    """What the services run on: configuration, the schema cache, the writer and the reads
    (`api/runtime.py: Runtime` is the one implementation)."""

    config: Config
    schema: SchemaCache
    reads: ObjectReader
    hooks: Hooks  # the hook registry (core/pipeline/hooks.py)
    projector: Any  # applies events to the projections (projections/store.py), for erasure
    bus: Any  # every committed event, from any node (core/bus.py: Bus), for the change feed
    global_config: Any  # this node's copy of Parse.Config (core/global_config.py: ConfigCache)
    cloud: Any  # the Cloud Code in use (core/cloud/registry.py: Cloud), or None
    files: Any  # where file bytes live (core/files/adapter.py: FilesAdapter)
    file_options: Any  # core/files/options.py: FileOptions
    file_reads: Any  # the files projection's reads (projections/files.py)

    async def write(self, commands: Sequence[Command], context: Context, auth: Auth | None = None, *,
                    cloud_context: dict | None = None) -> list[Result]: ...

    async def read(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T: ...

    async def find(self, class_name: str, opts: Any, auth: Auth, context: Context | None = None, *,
                   cloud_context: dict | None = None) -> tuple[list[str], int | None]: ...

    async def get(self, class_name: str, object_id: str, opts: Any, auth: Auth, context: Context | None = None, *,
                  cloud_context: dict | None = None) -> str | None: ...

    async def has_class(self, name: str) -> bool: ...

    async def btree_fields(self, class_name: str) -> frozenset[str]: ...

    def indexes_changed(self, class_name: str) -> None: ...


# Large inputs are checked in at most this many worker threads at once (each decodes to ten
# times its size).
LARGE_INPUT_WORKERS = 2
_large_limiter: trio.lowlevel.RunVar = trio.lowlevel.RunVar("parsnip_large_body_limiter")


async def off_loop(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` on a large input, in one of LARGE_INPUT_WORKERS worker threads."""
    try:
        limiter = _large_limiter.get()
    except LookupError:
        limiter = trio.CapacityLimiter(LARGE_INPUT_WORKERS)
        _large_limiter.set(limiter)
    return await trio.to_thread.run_sync(fn, *args, limiter=limiter)


async def checked(caller: Caller, fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)`: reading an input into a command, in a worker thread when the input is large,
    so that checking 20 MB of fields never stops the trio loop, which serves everyone else."""
    if caller.large_input:
        return await off_loop(fn, *args)
    return fn(*args)
