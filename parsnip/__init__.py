"""Parsnip: a Parse Server compatible backend on an append-only event log in PostgreSQL.

The public surface is what this module exports (and, later, `parsnip.cloud`); everything under
`parsnip.core`, `parsnip.api`, `parsnip.livequery` and `parsnip.projections` is internal and may
change between releases.

    from parsnip import asgi_app, Config, ParseError
"""

from __future__ import annotations

from parsnip.api.server import asgi_app
from parsnip.core.config import Config
from parsnip.core.errors import ParseError

__all__ = ["Config", "ParseError", "asgi_app", "__version__"]
__version__ = "0.1.0"
