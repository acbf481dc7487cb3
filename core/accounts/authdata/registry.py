"""The enabled providers, built once per server from `Config.auth` and `enableAnonymousUsers`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Mapping

from parsnip.core.accounts.authdata.anonymous import AnonymousAdapter
from parsnip.core.accounts.authdata.base import PROVIDER_NAME, AuthAdapter
from parsnip.core.accounts.authdata.oauth2 import OAuth2Adapter
from parsnip.core.config import Config
from parsnip.core.errors import ParseError

log = logging.getLogger("parsnip.authdata")

UNSUPPORTED = "This authentication method is unsupported."


@dataclass
class Registry:
    adapters: dict[str, tuple[AuthAdapter, Mapping[str, Any]]] = field(default_factory=dict)

    def get(self, provider: str) -> tuple[AuthAdapter, Mapping[str, Any]]:
        """(adapter, options) of an enabled provider; 252 for any other."""
        found = self.adapters.get(provider)
        if found is None:
            raise ParseError(ParseError.UNSUPPORTED_SERVICE, UNSUPPORTED)
        return found


def build(config: Config) -> Registry:
    """Adapters for every enabled provider. An entry with `oauth2: true` is an OAuth2
    introspection provider under any name; `enabled: false` turns a provider off; an entry
    that cannot be used is logged and left out."""
    reg = Registry()
    options = dict(config.auth or {})
    anon = options.pop("anonymous", None)
    anon = anon if isinstance(anon, dict) else {}
    if config.enableAnonymousUsers and anon.get("enabled", True) is not False:
        reg.adapters["anonymous"] = (AnonymousAdapter(), anon)
    for name, opts in options.items():
        if not isinstance(opts, dict) or opts.get("enabled", True) is False:
            continue
        try:
            reg.adapters[name] = (_adapter(name, opts), opts)
        except ValueError as e:  # refused (252) rather than failing every request with a 500
            log.error("%s; its logins are refused", e)
    return reg


def _adapter(name: str, opts: Mapping[str, Any]) -> AuthAdapter:
    if not PROVIDER_NAME.match(name):
        raise ValueError(f"auth.{name}: a provider name is letters, digits and _")
    if opts.get("oauth2"):
        return OAuth2Adapter(name, opts)
    raise ValueError(f"auth.{name}: no adapter for this provider here (only oauth2: true)")
