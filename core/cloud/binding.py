"""Where in-process Cloud Code runs, and as whom: `ParseObject` and `ParseQuery` take no `rt`
argument, so the server they act on is bound to the context that runs user code.

The runtime binds itself (`bound`) wherever it calls user code (a function call, the hooked
write and read paths); tasks and worker threads started from there inherit the binding. A
process serves one runtime, and `open_runtime` registers it (`serving`), so code the runtime
starts elsewhere (a job, a LiveQuery hook) finds it too; with several runtimes in one trio run
(tests) only an explicit binding says which.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator

import trio

from parsnip.core.logcontext import REQUEST_ID
from parsnip.core.security.auth import MASTER, NOBODY, Auth
from parsnip.core.services.base import Backend, Caller

_BOUND: ContextVar[Any] = ContextVar("parsnip_cloud_runtime", default=None)
_SERVING: trio.lowlevel.RunVar = trio.lowlevel.RunVar("parsnip_cloud_runtimes")

OUTSIDE = ("ParseObject and ParseQuery reach the database only inside a running Parsnip server "
           "(in a cloud function, trigger or job)")


@contextmanager
def bound(rt: Backend) -> Iterator[None]:
    """Run the block (and what it starts) with `rt` as the server user code acts on."""
    token = _BOUND.set(rt)
    try:
        yield
    finally:
        _BOUND.reset(token)


@contextmanager
def serving(rt: Backend) -> Iterator[None]:
    """Register `rt` as a runtime of this trio run for as long as it serves."""
    try:
        runtimes = _SERVING.get()
    except LookupError:
        runtimes = []
        _SERVING.set(runtimes)
    runtimes.append(rt)
    try:
        yield
    finally:
        runtimes.remove(rt)


def current() -> Backend:
    """The runtime user code acts on; RuntimeError outside a running server."""
    rt = _BOUND.get()
    if rt is not None:
        return rt
    try:
        runtimes = _SERVING.get()
    except (LookupError, RuntimeError):  # RuntimeError: not in a trio run at all
        runtimes = []
    if len(runtimes) == 1:
        return runtimes[0]
    raise RuntimeError(OUTSIDE)


async def acting(master: bool = False, session_token: str | None = None) -> tuple[Backend, Caller]:
    """The runtime and the `Caller` a ParseObject/ParseQuery call acts as: the master key, the
    session's user, or (neither) a client with no session, as Parse's `useMasterKey` rule."""
    rt = current()
    if master and session_token:
        raise ValueError("give either master=True or a session_token, not both")
    auth: Auth = MASTER if master else NOBODY
    if session_token:
        if not isinstance(session_token, str):
            raise TypeError("session_token must be a string")
        auth = await rt.authenticate(session_token)  # type: ignore[attr-defined]
    return rt, Caller(auth, request_id=REQUEST_ID.get())
