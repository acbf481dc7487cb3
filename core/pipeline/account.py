"""The account seams: hooks around a login (before it is granted, after its session exists),
after a logout and before a password reset request is acted on (Parse's beforeLogin,
afterLogin, afterLogout, beforePasswordResetRequest). The account services call `run`; a
hook's error is the request's answer, as Parse awaits these triggers; with no hook, nothing
is read or decoded."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from parsnip.core.pipeline.hooks import Hooks, run_hook
from parsnip.core.security.auth import Auth

# Fields of a user no hook is shown (Parse hands triggers the user without its hidden fields).
_HIDDEN = ("password", "sessionToken", "authData")


@dataclass
class AccountRequest:
    """What an account hook gets: the user (or, after a logout, the session) as the client
    would see it, objectId included; who is asking; the client's Cloud Code context."""

    kind: str
    class_name: str
    object: dict
    auth: Auth
    cloud_context: dict | None = None
    client_ip: str | None = None


Load = Callable[[], Awaitable["dict | str | None"]]


def wanted(hooks: Hooks, kind: str, class_name: str) -> bool:
    """Whether any `kind` hook is registered on `class_name` (read what it needs only then)."""
    return bool(hooks.of(kind, class_name))


async def run(hooks: Hooks, kind: str, class_name: str, load: Load | dict | str | None, auth: Auth, *,
              cloud_context: dict | None = None, client_ip: str | None = None) -> None:
    """Run the `kind` hooks of `class_name`, if any, on the object `load` is or gives (as a
    dict or JSON text; a function is called only when there is a hook)."""
    found = hooks.of(kind, class_name)
    if not found:
        return
    obj = await load() if callable(load) else load
    if isinstance(obj, str):
        obj = json.loads(obj)
    shown = {k: v for k, v in (obj or {}).items() if not k.startswith("_") and k not in _HIDDEN}
    req = AccountRequest(kind, class_name, shown, auth, cloud_context, client_ip)
    for hook in found:
        await run_hook(hook, req)
