"""bcrypt password hashes, the format Parse Server stores, so hashes exported from it verify.

Hashing costs tens of milliseconds of CPU on purpose: callers on the trio loop run these in a
worker thread (`trio.to_thread.run_sync`).
"""

from __future__ import annotations

import bcrypt

ROUNDS = 10  # Parse Server's cost factor

# Compared against when a username is unknown, so a miss costs what a wrong password costs.
_DUMMY = bcrypt.hashpw(b"parsnip-no-such-user", bcrypt.gensalt(ROUNDS)).decode()


def _secret(password: str) -> bytes:
    """bcrypt reads 72 bytes; bcryptjs (Parse Server's) ignores the rest, where this bcrypt
    refuses them: the same first 72 bytes, so long passwords work and Parse's hashes verify."""
    return password.encode("utf-8", "replace")[:72]


def hash_password(password: str) -> str:
    return bcrypt.hashpw(_secret(password), bcrypt.gensalt(ROUNDS)).decode()


def verify(password: str, hashed: str | None) -> bool:
    """Whether `password` matches `hashed`; as slow for a missing hash as for a wrong password."""
    secret = _secret(password)
    try:
        ok = bcrypt.checkpw(secret, (hashed or _DUMMY).encode())
    except ValueError:  # not a bcrypt hash
        bcrypt.checkpw(secret, _DUMMY.encode())
        return False
    return ok and hashed is not None
