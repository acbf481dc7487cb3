"""OAuth2 token introspection (RFC 7662), Parse's `oauth2` adapter: the access token is sent to
the provider's introspection endpoint, which says whether it is active and whose it is.

Options (Parse's names): tokenIntrospectionEndpointUrl (required), useridField (default `sub`),
appidField with appIds (the token must be for one of them), authorizationHeader.
"""

from __future__ import annotations

import time
from typing import Any, Mapping

import httpx

from parsnip.core.accounts.authdata.base import IdOnly
from parsnip.core.errors import ParseError

TIMEOUT_SECONDS = 10.0


def _invalid(message: str) -> ParseError:
    return ParseError(ParseError.OBJECT_NOT_FOUND, message)


class OAuth2Adapter(IdOnly):
    def __init__(self, provider: str, options: Mapping[str, Any]) -> None:
        if not options.get("tokenIntrospectionEndpointUrl"):
            raise ValueError(f"auth.{provider}: OAuth2 token introspection endpoint URL is missing.")
        if options.get("appidField") and not options.get("appIds"):
            raise ValueError(f"auth.{provider}: OAuth2 configuration is missing app IDs.")
        self.provider = provider

    async def validate(self, auth_data: Mapping[str, Any], options: Mapping[str, Any]) -> None:
        info = await self._introspect(auth_data.get("access_token"), options)
        userid_field = options.get("useridField") or "sub"
        if info.get("active") is not True or info.get(userid_field) != auth_data.get("id"):
            raise _invalid("OAuth2 access token is invalid for this user.")
        exp = info.get("exp")  # RFC 7662's optional expiry: a provider's word is not trusted past it
        if isinstance(exp, (int, float)) and exp <= time.time():
            raise _invalid("OAuth2 access token is invalid for this user.")
        appid_field = options.get("appidField")
        if appid_field:
            got = info.get(appid_field)
            allowed = list(options.get("appIds") or ())
            ok = any(a in allowed for a in got) if isinstance(got, list) else got in allowed
            if not ok:
                raise _invalid("OAuth2: Invalid app ID.")

    async def _introspect(self, token: Any, options: Mapping[str, Any]) -> dict[str, Any]:
        """The provider's answer for `token`; 101 when it cannot be had (down, non-2xx, not JSON)."""
        if not isinstance(token, str) or not token:
            raise _invalid("OAuth2 access token is invalid for this user.")
        headers = {"Accept": "application/json"}
        if options.get("authorizationHeader"):
            headers["Authorization"] = str(options["authorizationHeader"])
        try:
            # httpx runs on trio natively (anyio), so the request never blocks the loop.
            async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
                response = await client.post(options["tokenIntrospectionEndpointUrl"],
                                             data={"token": token}, headers=headers)
            if not response.is_success:
                raise _invalid("OAuth2 token introspection request failed.")
            info = response.json()
        except (httpx.HTTPError, ValueError):
            raise _invalid("OAuth2 token introspection request failed.") from None
        if not isinstance(info, dict):
            raise _invalid("OAuth2 token introspection request failed.")
        return info
