"""GET /serverInfo: what this server supports, for the Parse Dashboard (GET /health is answered
in `api/app.py`, before any key check)."""

from __future__ import annotations

from parsnip import __version__ as VERSION
from parsnip.api.logsetup import logs_folder
from parsnip.api.routes import Reply
from parsnip.core.services.access import require_master

# The Parse Server whose REST API Parsnip answers as; the Dashboard compares it with the
# versions it supports ("not officially supported" below 7.0.0).
PARSE_SERVER_VERSION = "9.10.0"


async def server_info(rt, req) -> Reply:
    """Parse's answer, with `features` true for exactly what Parsnip serves. Parse 9.10's map has
    no `files` entry (uploads are governed by `fileUpload`), so neither has this one."""
    require_master(req.auth)
    logs = logs_folder(rt.config) is not None  # GET /scriptlog reads the files there
    return Reply({
        "features": {
            "globalConfig": {"create": True, "read": True, "update": True, "delete": True},  # /config
            "hooks": {"create": True, "read": True, "update": True, "delete": True},
            "cloudCode": {"jobs": True},  # /jobs and /cloud_code/jobs (api/routes/jobs.py)
            "logs": {"level": logs, "size": logs, "order": logs, "until": logs, "from": logs},
            # No push at all: no /push, no _Audience, no push adapter.
            "push": {"immediatePush": False, "scheduledPush": False, "storedPushData": False,
                     "pushAudiences": False, "localization": False},
            "schemas": {"addField": True, "removeField": True, "addClass": True,
                        "removeClass": True, "clearAllDataFromClass": True, "exportClass": False,
                        "editClassLevelPermissions": True, "editPointerPermissions": True},
            "settings": {"securityCheck": False},
        },
        "parseServerVersion": PARSE_SERVER_VERSION,
        "parsnipVersion": VERSION,
        "parsnip": {"version": VERSION, "logPosition": rt.bus.last_position},
    })
