"""What an auth adapter is, and the checks every provider's authData passes first."""

from __future__ import annotations

import re
from typing import Any, Mapping, Protocol

from parsnip.core.errors import ParseError

# Parse's code for an id that is not a string (no name in the SDKs' error lists we mirror).
INVALID_AUTH_DATA_ID = 162

# Provider names are spliced into index names and expressions (core/accounts/authdata/store.py).
PROVIDER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")


class AuthAdapter(Protocol):
    """Checks one provider's authData with the provider; raises ParseError 101 when it is invalid."""

    async def validate(self, auth_data: Mapping[str, Any], options: Mapping[str, Any]) -> None: ...

    def id_of(self, auth_data: Mapping[str, Any]) -> str: ...


def provider_id(provider: str, auth_data: Mapping[str, Any]) -> str:
    """The provider's user id: 250 when missing, 162 when not a string (as Parse answers)."""
    value = auth_data.get("id")
    if value is None or value == "":
        raise ParseError(ParseError.LINKED_ID_MISSING, f"authData.{provider}.id is missing.")
    if not isinstance(value, str):
        raise ParseError(INVALID_AUTH_DATA_ID, f"Invalid authData id for provider '{provider}'.")
    return value


class IdOnly:
    """`id_of` for adapters whose authData carries the id as `id`."""

    provider: str = ""

    def id_of(self, auth_data: Mapping[str, Any]) -> str:
        return provider_id(self.provider, auth_data)
