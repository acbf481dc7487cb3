"""Route handlers, one module per Parse resource. Each handler takes (runtime, request, **path params)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    """A handler's answer. `body` is a JSON-able value, or `raw` is JSON text made elsewhere."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    raw: str | None = None
    content_type: str | None = None  # None: JSON

    def encode(self) -> bytes:
        if self.raw is not None:
            return self.raw.encode()
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False).encode()
