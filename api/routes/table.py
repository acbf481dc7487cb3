"""The routes: (method, template, handler), templates written as Parse writes them. More
specific routes come first: the user, session, role and installation routes before the
generic /classes ones they specialize."""

from __future__ import annotations

from functools import partial

from parsnip.api.routes import (
    Handler, Route, aggregate, batch, check_object_id, compile_routes, functions, jobs, match_route, objects, pages,
    schemas, server, users,
)
from parsnip.api.routes import config, history, hooks, integrity
from parsnip.api.routes.scriptlog import scriptlog
from parsnip.api.routes import changes, files


def _class_routes(base: str, class_name: str | None = None) -> list[tuple[str, str, Handler]]:
    """find/create/get/update/delete under `base`, for one class or (None) any class."""
    def bind(handler: Handler) -> Handler:
        return partial(handler, class_name=class_name) if class_name else handler

    return [
        ("GET", base, bind(objects.find)), ("POST", base, bind(objects.create)),
        ("GET", f"{base}/:objectId", bind(objects.get)), ("PUT", f"{base}/:objectId", bind(objects.update)),
        ("DELETE", f"{base}/:objectId", bind(objects.delete)),
    ]


_SPEC: list[tuple[str, str, Handler]] = [
    ("GET", "/users/me", users.me),
    ("GET", "/login", users.login),
    ("POST", "/login", users.login),
    ("GET", "/verifyPassword", users.verify_password),
    ("POST", "/verifyPassword", users.verify_password),
    ("POST", "/loginAs", users.login_as),
    ("POST", "/logout", users.logout),
    ("POST", "/upgradeToRevocableSession", users.upgrade_to_revocable),
    *_class_routes("/users", "_User"),
    *_class_routes("/classes/_User", "_User"),
    ("GET", "/sessions/me", users.session_me),
    *_class_routes("/sessions", "_Session"),
    *_class_routes("/classes/_Session", "_Session"),
    *_class_routes("/roles", "_Role"),
    *_class_routes("/installations", "_Installation"),
    *_class_routes("/classes/_Installation", "_Installation"),
    *_class_routes("/classes/:className"),
    ("POST", "/batch", batch.batch),
    ("DELETE", "/files/:filename", files.delete),
    ("GET", "/aggregate/:className", aggregate.aggregate),
    ("POST", "/functions/:functionName", functions.call),
    ("POST", "/jobs/:jobName", jobs.start),
    ("POST", "/jobs", jobs.start),
    ("GET", "/cloud_code/jobs", jobs.list_schedules),
    ("GET", "/cloud_code/jobs/data", jobs.schedules_data),
    ("POST", "/cloud_code/jobs", jobs.create_schedule),
    ("PUT", "/cloud_code/jobs/:objectId", jobs.update_schedule),
    ("DELETE", "/cloud_code/jobs/:objectId", jobs.delete_schedule),
    ("GET", "/hooks/functions", hooks.list_functions),
    ("POST", "/hooks/functions", hooks.create),
    ("GET", "/hooks/functions/:functionName", hooks.get_function),
    ("PUT", "/hooks/functions/:functionName", hooks.update_function),
    ("GET", "/hooks/triggers", hooks.list_triggers),
    ("POST", "/hooks/triggers", hooks.create),
    ("GET", "/hooks/triggers/:className/:triggerName", hooks.get_trigger),
    ("PUT", "/hooks/triggers/:className/:triggerName", hooks.update_trigger),
    ("GET", "/config", config.get),
    ("PUT", "/config", config.update),
    ("GET", "/serverInfo", server.server_info),
    ("GET", "/scriptlog", scriptlog),
    ("GET", "/schemas", schemas.list_classes),
    ("POST", "/schemas", schemas.create_class),
    ("GET", "/schemas/:className", schemas.get_class),
    ("POST", "/schemas/:className", schemas.create_class),
    ("PUT", "/schemas/:className", schemas.update_class),
    ("DELETE", "/schemas/:className", schemas.drop_class),
    ("DELETE", "/purge/:className", schemas.purge),
    ("GET", "/changes", changes.feed),
    ("GET", "/history/:className/:objectId", history.object_history),
    ("POST", "/history/:className/restore", history.restore_class),
    ("POST", "/history/:className/:objectId/restore", history.restore_object),
    ("POST", "/verificationEmailRequest", pages.verification_email_request),
    ("POST", "/requestPasswordReset", pages.request_password_reset),
    ("GET", "/history/verify", integrity.verify),
    ("GET", "/history/head", integrity.head),
    ("POST", "/history/:className/:objectId/erase", integrity.erase),
]

ROUTES: list[Route] = compile_routes(_SPEC)


def find_route(method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
    """The handler for (method, path) and the path's parts. An objectId holding NUL names no
    object (PostgreSQL text cannot hold one): 101 before any handler reads it."""
    found = match_route(ROUTES, method, path)
    if found is not None:
        check_object_id(found[1].get("object_id"))
    return found
