"""Calling a webhook (`/hooks`): a POST of Parse's JSON payload with `X-Parse-Webhook-Key`,
and its answer read as Parse Server reads it: `{"success": value}` is the value, `{"error": e}`
is error 141 whose message is `e` (or `e.message`); a body that is not JSON counts as no
answer (Parse's request helper drops it); unreachable, timed out or an HTTP error status is 141.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx

from parsnip.core.errors import ParseError

logger = logging.getLogger("parsnip.cloud")

# Parse Server waits as long as Node's socket does; Parsnip gives a webhook this long.
TIMEOUT_SECONDS = 30.0


class WebhookCaller:
    """One keep-alive HTTP client for every webhook of the node (as Parse's shared agents)."""

    def __init__(self, key: str | None, timeout: float = TIMEOUT_SECONDS) -> None:
        self._key = key
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self._warned = False

    async def aclose(self) -> None:
        await self._client.aclose()

    async def call(self, url: str, payload: dict[str, Any]) -> Any:
        """The webhook's `success` value (None when it gave none); its error as a ParseError."""
        headers = {"Content-Type": "application/json"}
        if self._key:
            headers["X-Parse-Webhook-Key"] = self._key
        elif not self._warned:
            self._warned = True
            logger.warning("Making outgoing webhook request without webhookKey being set!")
        body = json.dumps(payload, separators=(",", ":"), default=str)
        try:
            response = await self._client.post(url, content=body.encode(), headers=headers)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            logger.warning("webhook %s failed: %s: %s", url, type(exc).__name__, exc)
            raise ParseError(ParseError.SCRIPT_FAILED, str(exc) or f"webhook {url} failed") from None
        if not 200 <= response.status_code < 400:
            raise ParseError(ParseError.SCRIPT_FAILED, f"webhook answered HTTP {response.status_code}")
        return answer_of(response.content)


def answer_of(content: bytes) -> Any:
    """A webhook's reply body as Parse reads it: the `success` value, or the `error` raised."""
    try:
        body = json.loads(content) if content else None
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if error is not None and error is not False and error != "" and error != 0:
        message = error.get("message") or error if isinstance(error, dict) else error
        raise ParseError(ParseError.SCRIPT_FAILED, message)
    return body.get("success")
