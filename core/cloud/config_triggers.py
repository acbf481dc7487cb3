"""Cloud Code's Parse.Config triggers, `@cloud.before_save("@Config")` and
`@cloud.after_save("@Config")` (Parse 9's `Parse.Cloud.beforeSave(Parse.Config, ...)`), run by
PUT /config (core/services/config.py) around its write, with Parse's request: `object` the
parameters sent (before) or the whole configuration after (after), `original` the configuration
before (None when it was never saved), `master`, `user`, `context`. A before_save that raises
refuses the change; what it returns or sets is not written, as in Parse.
"""

from __future__ import annotations

from typing import Any

from parsnip.core.cloud import codec
from parsnip.core.cloud.errors import TRIGGER_FAILED, script_failed
from parsnip.core.cloud.invoke import call_handler
from parsnip.core.cloud.requests import caller_user
from parsnip.core.cloud.triggers import TriggerRequest
from parsnip.core.events import CONFIG_CLASS

BEFORE_SAVE, AFTER_SAVE = "before_save", "after_save"
_NAMES = {BEFORE_SAVE: "beforeSave", AFTER_SAVE: "afterSave"}


class ParseConfig:
    """A configuration as a trigger sees it: Parse.Config's `get(name)` (values decoded as a
    function's params are) and `attributes`; `to_json()` gives the parameters as stored."""

    def __init__(self, params: dict[str, Any]) -> None:
        self._params = dict(params)

    def get(self, name: str) -> Any:
        return codec.decode(self._params.get(name))

    @property
    def attributes(self) -> dict[str, Any]:
        return {name: codec.decode(value) for name, value in self._params.items()}

    def to_json(self) -> dict[str, Any]:
        return dict(self._params)

    def __repr__(self) -> str:
        return f"ParseConfig({self._params!r})"


def registered(cloud: Any, kind: str) -> bool:
    """Whether the Cloud Code in use has a Parse.Config trigger of `kind`."""
    return cloud is not None and cloud.trigger(kind, CONFIG_CLASS) is not None


async def run(rt: Any, kind: str, caller: Any, params: dict[str, Any], original: dict[str, Any] | None,
              context: dict) -> None:
    """Run the `kind` trigger on `@Config`, if any; its failure is raised as Parse answers it."""
    registration = rt.cloud.trigger(kind, CONFIG_CLASS) if rt.cloud is not None else None
    if registration is None:
        return
    auth = caller.auth
    req = TriggerRequest(
        _NAMES[kind], ParseConfig(params), None if original is None else ParseConfig(original), auth.master,
        auth.user_id, auth.installation_id, context, user=await caller_user(rt, auth), ip=caller.client_ip,
        is_read_only=auth.read_only)
    try:
        if registration.validation is not None:
            if await registration.validation.check(req, has_user=auth.user_id is not None, roles=auth.roles):
                return
        await call_handler(registration.handler, req)
    except Exception as e:
        raise script_failed(e, TRIGGER_FAILED) from e
