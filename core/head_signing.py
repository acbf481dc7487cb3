"""The log head signed with Ed25519 (`historySigningKey`), so an outside auditor can pin it.

The signed message is UTF-8 text, five lines joined by "\\n" (no trailing newline):

    parsnip-log-head/1
    <appId>
    <position, decimal>
    <hash, 64 lowercase hex digits>
    <at: when it was signed, Parse's ISO form 2026-12-01T10:00:00.000Z>

`signature` and `publicKey` are standard base64 (64 and 32 raw bytes): any Ed25519 library
checks `signature` over that message with `publicKey`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

MESSAGE_TAG = "parsnip-log-head/1"


class SigningKeyError(ValueError):
    """`historySigningKey` is neither an Ed25519 PEM file nor a base64 32-byte raw key."""


@functools.lru_cache(maxsize=4)
def load(setting: str) -> Ed25519PrivateKey:
    """The key the option names: a path to a PEM (PKCS#8) file, or base64 of the 32 raw bytes."""
    if os.path.isfile(setting):
        with open(setting, "rb") as fh:
            data = fh.read()
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as e:
            raise SigningKeyError(f"historySigningKey: {setting} holds no unencrypted PEM private key") from e
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError(f"historySigningKey: {setting} is not an Ed25519 key")
        return key
    try:
        raw = base64.b64decode(setting, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise SigningKeyError("historySigningKey is neither a PEM file nor a base64 32-byte Ed25519 key")
    return Ed25519PrivateKey.from_private_bytes(raw)


def message(app_id: str, position: int, hash_hex: str, at: str) -> bytes:
    """The exact bytes that are signed."""
    return "\n".join((MESSAGE_TAG, app_id, str(position), hash_hex, at)).encode()


def sign(key: Ed25519PrivateKey, app_id: str, position: int, hash_hex: str, at: str) -> dict[str, str]:
    """`signature` and `publicKey` (base64) for that head."""
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    signature = key.sign(message(app_id, position, hash_hex, at))
    return {"signature": base64.b64encode(signature).decode(), "publicKey": base64.b64encode(public).decode()}
