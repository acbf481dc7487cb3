"""Which service serves a class's objects: users, sessions and installations have rules of
their own; every other class (roles included) is served by `objects`. Each of these modules
has the same five operations: find, get, create, update, delete."""

from __future__ import annotations

from types import ModuleType

from parsnip.core.services import installations, objects, sessions, users

_BY_CLASS: dict[str, ModuleType] = {
    users.USER: users,
    sessions.SESSION: sessions,
    installations.INSTALLATION: installations,
}


def service_for(class_name: str) -> ModuleType:
    """The module whose find/get/create/update/delete serve `class_name`'s objects."""
    return _BY_CLASS.get(class_name, objects)
