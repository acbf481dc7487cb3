"""GET /serverInfo: what this server supports, for the Parse Dashboard (GET /health is answered
in `api/app.py`, before any key check)."""

from __future__ import annotations

from parsnip.api.logsetup import logs_folder
from parsnip.api.routes import Reply
from parsnip.core.services.access import require_master

VERSION = "0.1.0"



async def server_info(rt, req) -> Reply:
    require_master(req.auth)
    crud = {"create": False, "read": False, "update": False, "delete": False}
    logs = logs_folder(rt.config) is not None  # GET /scriptlog reads the files there
    return Reply({
        "features": {
            "globalConfig": crud,
            "files": {"create": True, "read": True, "delete": True},  # /files (api/routes/files.py)
            "hooks": {"create": True, "read": True, "update": True, "delete": True},
            "cloudCode": {"jobs": True},  # /jobs and /cloud_code/jobs (api/routes/jobs.py)
            "logs": {"level": logs, "size": logs, "order": logs, "until": logs, "from": logs},
            "push": {"immediatePush": False, "scheduledPush": False, "storedPushData": False,
                     "pushAudiences": False, "localization": False},
            "schemas": {"addField": True, "removeField": True, "addClass": True,
                        "removeClass": True, "clearAllDataFromClass": True, "exportClass": False,
                        "editClassLevelPermissions": True, "editPointerPermissions": True},
            "settings": {"securityCheck": False},
        },
        "parseServerVersion": VERSION,
        "parsnip": {"version": VERSION, "logPosition": rt.bus.last_position},
    })
