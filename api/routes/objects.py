"""/classes/{className}[/{objectId}] (and /users, /sessions, /roles, /installations): HTTP
in, one service call (`core/services/classes.py` picks the class's service), HTTP out."""

from __future__ import annotations

from parsnip.api.routes import Reply
from parsnip.core.accounts.users import USER_CLASS
from parsnip.core.services.classes import service_for
from parsnip.core.services.objects import Saved


def saved_reply(rt, class_name: str, saved: Saved) -> Reply:
    """A save as Parse answers it: 201 when created, and the object's address in `Location`."""
    headers = {}
    if saved.located:
        where = "/users/" if class_name == USER_CLASS else f"/classes/{class_name}/"
        headers["Location"] = f"{rt.config.serverURL}{where}{saved.object_id}"
    status = 201 if saved.created else 200
    if saved.text is not None:
        return Reply(raw=saved.text, status=status, headers=headers)
    return Reply(saved.body, status=status, headers=headers)


async def find(rt, req, class_name: str) -> Reply:
    found = await service_for(class_name).find(rt, req.caller, class_name, req.params)
    return Reply(raw=found.text())


async def get(rt, req, class_name: str, object_id: str) -> Reply:
    return Reply(raw=await service_for(class_name).get(rt, req.caller, class_name, object_id, req.params))


async def create(rt, req, class_name: str) -> Reply:
    return saved_reply(rt, class_name, await service_for(class_name).create(rt, req.caller, class_name, req.body))


async def update(rt, req, class_name: str, object_id: str) -> Reply:
    saved = await service_for(class_name).update(rt, req.caller, class_name, object_id, req.body)
    return saved_reply(rt, class_name, saved)


async def delete(rt, req, class_name: str, object_id: str) -> Reply:
    await service_for(class_name).delete(rt, req.caller, class_name, object_id)
    return Reply({})
