"""Anonymous users: the client makes up an id (a UUID) and that id is the whole credential."""

from __future__ import annotations

from typing import Any, Mapping

from parsnip.core.accounts.authdata.base import IdOnly


class AnonymousAdapter(IdOnly):
    provider = "anonymous"

    async def validate(self, auth_data: Mapping[str, Any], options: Mapping[str, Any]) -> None:
        return None  # nothing to check with anyone: knowing the id is the proof
