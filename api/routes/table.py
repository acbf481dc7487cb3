"""The routes: (method, path pattern, handler). More specific patterns come first: the user,
session, role and installation routes before the generic /classes ones they specialize."""

from __future__ import annotations

import re
from functools import partial
from typing import Awaitable, Callable

from api.routes import Reply, aggregate, batch, objects, server, sessions, users
from api.routes import pages

Handler = Callable[..., Awaitable[Reply]]

_ID = r"(?P<object_id>[^/]+)"


def _class_routes(prefix: str, class_name: str | None = None) -> list[tuple[str, str, Handler]]:
    """find/create/get/update/delete under `prefix`, for one class or (None) any class."""
    def bind(handler: Handler) -> Handler:
        return partial(handler, class_name=class_name) if class_name else handler

    return [
        ("GET", prefix, bind(objects.find)),
        ("POST", prefix, bind(objects.create)),
        ("GET", f"{prefix}/{_ID}", bind(objects.get)),
        ("PUT", f"{prefix}/{_ID}", bind(objects.update)),
        ("DELETE", f"{prefix}/{_ID}", bind(objects.delete)),
    ]


_SPEC: list[tuple[str, str, Handler]] = [
    ("GET", "/users/me", users.me),
    ("GET", "/login", users.login),
    ("POST", "/login", users.login),
    ("POST", "/logout", users.logout),
    ("POST", "/upgradeToRevocableSession", users.upgrade_to_revocable),
    *[(m, p, h) for base in ("/users", "/classes/_User") for m, p, h in [
        ("GET", base, users.find),
        ("POST", base, users.signup),
        ("GET", f"{base}/{_ID}", users.get),
        ("PUT", f"{base}/{_ID}", users.update),
        ("DELETE", f"{base}/{_ID}", users.delete),
    ]],
    ("GET", "/sessions/me", sessions.me),
    *[(m, p, h) for base in ("/sessions", "/classes/_Session") for m, p, h in [
        ("GET", base, sessions.find),
        ("POST", base, sessions.create),
        ("GET", f"{base}/{_ID}", sessions.get),
        ("PUT", f"{base}/{_ID}", sessions.update),
        ("DELETE", f"{base}/{_ID}", sessions.delete),
    ]],
    *_class_routes("/roles", "_Role"),
    *_class_routes("/installations", "_Installation"),
    *_class_routes("/classes/(?P<class_name>[^/]+)"),
    ("POST", "/batch", batch.batch),
    ("GET", "/aggregate/(?P<class_name>[^/]+)", aggregate.aggregate),
    ("GET", "/serverInfo", server.server_info),
    ("POST", "/verificationEmailRequest", pages.verification_email_request),
    ("POST", "/requestPasswordReset", pages.request_password_reset),
]

ROUTES: list[tuple[str, re.Pattern, Handler]] = [
    (method, re.compile(f"^{pattern}/?$"), handler) for method, pattern, handler in _SPEC
]


def find_route(method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
    for m, pattern, handler in ROUTES:
        if m == method:
            match = pattern.match(path)
            if match:
                return handler, match.groupdict()
    return None
