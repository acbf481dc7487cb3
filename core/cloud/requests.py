"""What a cloud function receives (`req`): Parse's request fields in snake_case."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping

# Where `req.log` writes: user code's records, beside Parsnip's own.
CLOUD_LOG = logging.getLogger("parsnip.cloud")


@dataclass
class FunctionRequest:
    """A call of `POST /functions/{name}`. `user` is None in this slice (the caller's user
    object comes with `ParseObject`); `user_id` says who is logged in meanwhile."""

    params: dict[str, Any]
    function_name: str
    master: bool = False
    is_read_only: bool = False
    user: Any = None
    user_id: str | None = None
    installation_id: str | None = None
    ip: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    log: logging.Logger = CLOUD_LOG


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
