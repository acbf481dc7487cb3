"""The LiveQuery wire protocol: client messages checked as Parse Server checks them, and the
server's messages written as Parse Server writes them.

Client -> server: connect, subscribe, update, unsubscribe. Server -> client: connected,
subscribed, unsubscribed, error (`code`, `error`, `reconnect`, `requestId`), and the events
create, enter, update, leave, delete with `object` (and `original`). Error codes 1 to 4 are
LiveQuery's own (1 a message that breaks the schema, 2 no such client or subscription, 3 an
unknown operation, 4 bad keys); Parse error codes (101, 119, 209, ...) travel the same way.

Beyond Parse (the official SDKs ignore both): every event carries `position`, its place in the
log, and `subscribed` carries the position the subscription starts after; a subscribe may
carry `position` to receive first, in order, every matching event it missed after it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from parsnip.core import json_input
from parsnip.core.errors import ParseError
from parsnip.core.js import type_of

INVALID_MESSAGE = 1
NO_CLIENT = 2
UNKNOWN_OP = 3
BAD_KEYS = 4
SLOW_CLIENT = 5  # Parsnip's own: the client fell too far behind and was cut off (reconnect)

_KEY_NAMES = ("javascriptKey", "masterKey", "clientKey", "windowsKey", "restAPIKey")
_CONNECT = frozenset({"op", "applicationId", "sessionToken", "installationId", *_KEY_NAMES})
_SUBSCRIBE = frozenset({"op", "requestId", "query", "sessionToken", "position"})
_QUERY = frozenset({"className", "where", "keys", "watch", "fields"})
_UNSUBSCRIBE = frozenset({"op", "requestId"})
OPS = ("connect", "subscribe", "unsubscribe", "update")


class ProtocolError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Subscribe:
    request_id: int | float
    class_name: str
    where: dict
    keys: tuple[str, ...] | None
    watch: tuple[str, ...] | None
    session_token: str | None
    position: int | None  # resume: events after this log position first


def decode(text: str) -> dict[str, Any]:
    """A client message as a dict with a known `op`, or ProtocolError(1)."""
    try:
        message = json_input.loads(text)  # as REST bodies are read: bounded depth, JavaScript's numbers
    except json_input.TooDeep:
        raise ProtocolError(INVALID_MESSAGE, "Message is nested too deeply") from None
    except ParseError:
        raise ProtocolError(INVALID_MESSAGE, "Message is not in JSON format") from None
    if not isinstance(message, dict):
        raise ProtocolError(INVALID_MESSAGE, f"Invalid type: {_type(message)} (expected object)")
    if "op" not in message:
        raise ProtocolError(INVALID_MESSAGE, "Missing required property: op")
    op = message["op"]
    if not isinstance(op, str):
        raise ProtocolError(INVALID_MESSAGE, f"Invalid type: {_type(op)} (expected string)")
    if op not in OPS:
        raise ProtocolError(INVALID_MESSAGE, f"No enum match for: {json.dumps(op)}")
    allowed = {"connect": _CONNECT, "unsubscribe": _UNSUBSCRIBE}.get(op, _SUBSCRIBE)
    _only(message, allowed)
    return message


def connect_fields(message: dict) -> dict[str, str]:
    """The connect message's strings, checked."""
    if "applicationId" not in message:
        raise ProtocolError(INVALID_MESSAGE, "Missing required property: applicationId")
    for name in _CONNECT - {"op"}:
        if name in message and not isinstance(message[name], str):
            raise ProtocolError(INVALID_MESSAGE, f"Invalid type: {_type(message[name])} (expected string)")
    return {k: v for k, v in message.items() if k != "op"}


def subscribe_fields(message: dict) -> Subscribe:
    request_id = request_id_of(message)
    if "query" not in message:
        raise ProtocolError(INVALID_MESSAGE, "Missing required property: query")
    query = message["query"]
    if not isinstance(query, dict):
        raise ProtocolError(INVALID_MESSAGE, f"Invalid type: {_type(query)} (expected object)")
    _only(query, _QUERY)
    for name, kind in (("where", dict), ("className", str)):
        if name not in query:
            raise ProtocolError(INVALID_MESSAGE, f"Missing required property: {name}")
        if not isinstance(query[name], kind):
            expected = "object" if kind is dict else "string"
            raise ProtocolError(INVALID_MESSAGE, f"Invalid type: {_type(query[name])} (expected {expected})")
    token = message.get("sessionToken")
    if token is not None and not isinstance(token, str):
        raise ProtocolError(INVALID_MESSAGE, f"Invalid type: {_type(token)} (expected string)")
    position = message.get("position")
    if position is not None and (not isinstance(position, int) or isinstance(position, bool) or position < 0):
        raise ProtocolError(INVALID_MESSAGE, "position must be a log position (an integer >= 0)")
    keys = _names(query, "keys")
    if keys is None:
        keys = _names(query, "fields")  # the older SDKs' name for keys
    return Subscribe(request_id, query["className"], query["where"], keys, _names(query, "watch"), token, position)


def request_id_of(message: dict) -> int | float:
    if "requestId" not in message:
        raise ProtocolError(INVALID_MESSAGE, "Missing required property: requestId")
    rid = message["requestId"]
    if isinstance(rid, bool) or not isinstance(rid, (int, float)):
        raise ProtocolError(INVALID_MESSAGE, f"Invalid type: {_type(rid)} (expected number)")
    return rid


def known_request_id(message: dict) -> int | float | None:
    """The message's requestId when it has a valid one (for the error that answers it)."""
    rid = message.get("requestId")
    return rid if isinstance(rid, (int, float)) and not isinstance(rid, bool) else None


def _names(query: dict, key: str) -> tuple[str, ...] | None:
    if key not in query:
        return None
    value = query[key]
    if not isinstance(value, list):
        raise ProtocolError(INVALID_MESSAGE, f"Invalid type: {_type(value)} (expected array)")
    if not value:
        raise ProtocolError(INVALID_MESSAGE, "Array is too short (0), minimum 1")
    for item in value:
        if not isinstance(item, str):
            raise ProtocolError(INVALID_MESSAGE, f"Invalid type: {_type(item)} (expected string)")
    if len(set(value)) != len(value):
        first = next(i for i, v in enumerate(value) if value.index(v) != i)
        raise ProtocolError(INVALID_MESSAGE, f"Array items are not unique (indices {value.index(value[first])} and {first})")
    return tuple(value)


def _only(message: dict, allowed: frozenset[str]) -> None:
    for key in message:
        if key not in allowed:
            raise ProtocolError(INVALID_MESSAGE, "Additional properties not allowed")


def _type(value: Any) -> str:
    """The type Parse's LiveQuery schema check names: `typeof`, but "null" for null."""
    return "null" if value is None else type_of(value)


# -- the server's messages -------------------------------------------------------------------

def _head(op: str, client_id: str, installation_id: str | None) -> str:
    head = f'{{"op":"{op}","clientId":"{client_id}"'
    if installation_id is not None:
        head += ',"installationId":' + json.dumps(installation_id)
    return head


def connected(client_id: str, installation_id: str | None) -> str:
    return _head("connected", client_id, installation_id) + "}"


def subscribed(client_id: str, installation_id: str | None, request_id: Any, position: int) -> str:
    return (_head("subscribed", client_id, installation_id)
            + f',"requestId":{json.dumps(request_id)},"position":{position}}}')


def unsubscribed(client_id: str, installation_id: str | None, request_id: Any) -> str:
    return _head("unsubscribed", client_id, installation_id) + f',"requestId":{json.dumps(request_id)}}}'


def error(code: int, message: str, reconnect: bool = True, request_id: Any = None) -> str:
    return json.dumps({"op": "error", "error": message, "code": code, "reconnect": reconnect,
                       "requestId": request_id}, separators=(",", ":"))


def event_prefix(client_id: str, installation_id: str | None) -> dict[str, str]:
    """Per client, per event type: the message's opening, computed once per connection."""
    return {op: _head(op, client_id, installation_id) + ',"requestId":'
            for op in ("create", "enter", "update", "leave", "delete")}


def event(prefix: str, request_id_json: str, body: str) -> str:
    """One event message: the client's prefix, its requestId and the shared body (`object`,
    `original`, `position`, already serialized once for every subscriber that sees the same)."""
    return prefix + request_id_json + body
