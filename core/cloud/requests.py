"""What a cloud function receives (`req`): Parse's request fields in snake_case, and the
caller's user as Parse hands it to Cloud Code (`caller_user`)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping

from parsnip.core.cloud.objects import ParseObject
from parsnip.core.reads import FindOptions
from parsnip.core.security.auth import MASTER, Auth
from parsnip.core.security.guard import USER_CLASS, ReadAccess
from parsnip.core.services.base import Backend
from parsnip.core.services.query_options import read_options

# Where `req.log` writes: user code's records, beside Parsnip's own.
CLOUD_LOG = logging.getLogger("parsnip.cloud")


@dataclass
class FunctionRequest:
    """A call of `POST /functions/{name}`. `user` is the caller's `_User` (a `ParseObject`), None
    without a session; `user_id` its id."""

    params: dict[str, Any]
    function_name: str
    master: bool = False
    is_read_only: bool = False
    user: ParseObject | None = None
    user_id: str | None = None
    installation_id: str | None = None
    ip: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    log: logging.Logger = CLOUD_LOG


async def caller_user(rt: Backend, auth: Auth) -> ParseObject | None:
    """The session's user as Parse gives it to Cloud Code: read as the master key reads it (no
    find triggers, internal fields hidden), with its `sessionToken`; None without a session."""
    if auth.user_id is None:
        return None
    opts = FindOptions(**read_options(rt, {}, USER_CLASS), access=ReadAccess(USER_CLASS, MASTER))
    text = await rt.read(rt.reads.get, USER_CLASS, auth.user_id, opts)
    if text is None:  # deleted since the session was read
        return None
    data = json.loads(text)
    if auth.session_token:
        data["sessionToken"] = auth.session_token
    return ParseObject.from_json(data, USER_CLASS)


@dataclass
class JobRequest:
    """A run of a job (`POST /jobs/{name}`, or a `_JobSchedule` slot): always as the master
    key. `message(text)` sets the run's `_JobStatus.message`; awaiting it is optional (the
    update is written in order either way, as Parse's promise is)."""

    params: dict[str, Any]
    job_name: str
    job_id: str
    message: Callable[[str], Awaitable[None]]
    master: bool = True
    ip: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    log: logging.Logger = CLOUD_LOG
