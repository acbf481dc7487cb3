"""The request being served, for log lines: its id, set once at the start of each request.

A contextvar, so every log record made while a request is served (in its task, or a task it
starts) carries the id, wherever in `core`, `api` or `livequery` the record is made.
"""

from __future__ import annotations

from contextvars import ContextVar

REQUEST_ID: ContextVar[str | None] = ContextVar("parsnip_request_id", default=None)
