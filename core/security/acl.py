"""Object ACLs: `{"*": {"read": true}, "<userId>": {...}, "role:<name>": {...}}`.

An object without an ACL is public. An empty ACL admits only the master key. Reads are
filtered in SQL (`read_condition`), so a query never returns, counts or matches through a
subquery an object its caller may not read; the same rule in Python (`can_read`) serves
LiveQuery and the writer.
"""

from __future__ import annotations

from typing import Any, Mapping

from parsnip.core.security.auth import Auth


def _allows(acl: Mapping[str, Any] | None, auth: Auth, perm: str) -> bool:
    if auth.master or acl is None:
        return True
    for key in auth.acl_keys():
        entry = acl.get(key)
        if isinstance(entry, Mapping) and entry.get(perm) is True:
            return True
    return False


def can_read(acl: Mapping[str, Any] | None, auth: Auth) -> bool:
    return _allows(acl, auth, "read")


def can_write(acl: Mapping[str, Any] | None, auth: Auth) -> bool:
    return _allows(acl, auth, "write")


def read_condition(auth: Auth, add_param) -> str:
    """SQL over a projection row: the caller may read it. `add_param(value, cast)` binds a value."""
    if auth.master:
        return "TRUE"
    keys = add_param(auth.acl_keys(), "::text[]")
    return f"(acl IS NULL OR parsnip_acl_reads(acl, {keys}))"  # installed by projections/store.py
