"""GET /scriptlog: the server's recent log records, for the Parse Dashboard's Logs section.

As Parse Server's LogsRouter: master key only (403 "Permission denied" otherwise), the parameters `level`
(`error`, or anything else for every record), `size` (or `n`, which wins), `order`
(`desc`, the default, or `asc`), `from` and `until` (ISO dates; a week ago and now by default),
and an array of the records as written (timestamp, level, message, ...). The records come
from the daily files in `logsFolder` (api/logfiles.py); with no logsFolder the answer is [].
"""

from __future__ import annotations

import trio

from parsnip.api.logfiles import parse_query, query
from parsnip.api.logsetup import logs_folder
from parsnip.api.routes import Reply
from parsnip.core.services.access import require_master


async def scriptlog(rt, req) -> Reply:
    require_master(req.auth)  # Parse 9: 403, the sanitized "master key is required"
    q = parse_query(req.params)
    # A week of files can be large: read them off the event loop.
    records = await trio.to_thread.run_sync(query, logs_folder(rt.config), q)
    return Reply(records)
