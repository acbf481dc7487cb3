"""Parsnip: a Parse Server compatible backend on an append-only event log in PostgreSQL.

The public surface is what this module exports (and, later, `parsnip.cloud`); everything under
`parsnip.core`, `parsnip.api`, `parsnip.livequery` and `parsnip.projections` is internal and may
change between releases.

    from parsnip import asgi_app, Config, ParseError
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Config", "ParseError", "asgi_app", "__version__"]
__version__ = "0.1.0"

if TYPE_CHECKING:
    from parsnip.api.server import asgi_app
    from parsnip.core.config import Config
    from parsnip.core.errors import ParseError

# Loaded on first use, not on `import parsnip`: every internal module import passes through this
# package, and `parsnip --cluster` must set PROMETHEUS_MULTIPROC_DIR before prometheus_client
# (which the app imports) is first imported.
_LAZY = {"asgi_app": "parsnip.api.server", "Config": "parsnip.core.config",
         "ParseError": "parsnip.core.errors"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'parsnip' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
