"""GET /serverInfo (GET /health is answered in `api/app.py`, before any key check)."""

from __future__ import annotations

from api.routes import Reply
from api.errors import Unauthorized

VERSION = "0.1.0"



async def server_info(rt, req) -> Reply:
    if not req.master:
        raise Unauthorized("Permission denied")
    crud = {"create": False, "read": False, "update": False, "delete": False}
    return Reply({
        "features": {
            "globalConfig": crud,
            "hooks": crud,
            "cloudCode": {"jobs": False},
            "logs": {"level": False, "size": False, "order": False, "until": False, "from": False},
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
