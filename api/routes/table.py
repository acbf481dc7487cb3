"""The routes: (method, path pattern, handler). More specific patterns come first: the user,
session, role and installation routes before the generic /classes ones they specialize."""

from __future__ import annotations

from functools import partial

from parsnip.api.routes import (
    Handler, Route, aggregate, batch, check_object_id, compile_routes, installations, match_route, objects, pages, schemas, server,
    sessions, users,
)
from parsnip.api.routes.scriptlog import scriptlog

_ID = r"(?P<object_id>[^/]+)"


def _class_routes(prefix: str, class_name: str | None = None) -> list[tuple[str, str, Handler]]:
    """find/create/get/update/delete under `prefix`, for one class or (None) any class."""
    def bind(handler: Handler) -> Handler:
        return partial(handler, class_name=class_name) if class_name else handler

    return _resource_routes((prefix,), *(bind(h) for h in (
        objects.find, objects.create, objects.get, objects.update, objects.delete)))


def _resource_routes(bases: tuple[str, ...], find: Handler, create: Handler, get: Handler, update: Handler,
                     delete: Handler) -> list[tuple[str, str, Handler]]:
    """The five routes of a system class served by its own module, under each of `bases`."""
    return [
        route for base in bases for route in (
            ("GET", base, find), ("POST", base, create), ("GET", f"{base}/{_ID}", get),
            ("PUT", f"{base}/{_ID}", update), ("DELETE", f"{base}/{_ID}", delete),
        )
    ]


_SPEC: list[tuple[str, str, Handler]] = [
    ("GET", "/users/me", users.me),
    ("GET", "/login", users.login),
    ("POST", "/login", users.login),
    ("POST", "/logout", users.logout),
    ("POST", "/upgradeToRevocableSession", users.upgrade_to_revocable),
    *_resource_routes(("/users", "/classes/_User"), users.find, users.signup, users.get, users.update, users.delete),
    ("GET", "/sessions/me", sessions.me),
    *_resource_routes(("/sessions", "/classes/_Session"), sessions.find, sessions.create, sessions.get,
                      sessions.update, sessions.delete),
    *_class_routes("/roles", "_Role"),
    *_resource_routes(("/installations", "/classes/_Installation"), installations.find, installations.create,
                      installations.get, installations.update, installations.delete),
    *_class_routes("/classes/(?P<class_name>[^/]+)"),
    ("POST", "/batch", batch.batch),
    ("GET", "/aggregate/(?P<class_name>[^/]+)", aggregate.aggregate),
    ("GET", "/serverInfo", server.server_info),
    ("GET", "/scriptlog", scriptlog),
    ("GET", "/schemas", schemas.list_classes),
    ("POST", "/schemas", schemas.create_class),
    ("GET", "/schemas/(?P<class_name>[^/]+)", schemas.get_class),
    ("POST", "/schemas/(?P<class_name>[^/]+)", schemas.create_class),
    ("PUT", "/schemas/(?P<class_name>[^/]+)", schemas.update_class),
    ("DELETE", "/schemas/(?P<class_name>[^/]+)", schemas.drop_class),
    ("DELETE", "/purge/(?P<class_name>[^/]+)", schemas.purge),
    ("POST", "/verificationEmailRequest", pages.verification_email_request),
    ("POST", "/requestPasswordReset", pages.request_password_reset),
]

ROUTES: list[Route] = compile_routes(_SPEC)


def find_route(method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
    """The handler for (method, path) and the path's parts. An objectId holding NUL names no
    object (PostgreSQL text cannot hold one): 101 before any handler reads it."""
    found = match_route(ROUTES, method, path)
    if found is not None:
        check_object_id(found[1].get("object_id"))
    return found

