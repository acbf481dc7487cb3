"""The authorize stage: may this caller write this object? Class-level permissions and the
object's ACL, as `core/security/guard.py` decides them.

The writer asks here under the row lock for every write (`create`, `update`, `delete`,
`add_fields`), so no path writes around it. When user code (a hook) is registered on the class,
the pipeline asks first too (`before_hooks`), against the stored object, so a hook never runs
for a write the caller may not make (as Parse checks before its triggers run).
"""

from __future__ import annotations

from typing import Any, Mapping

from parsnip.core.commands import Command, Create, Delete, Update
from parsnip.core.security import guard
from parsnip.core.security.auth import Auth
from parsnip.core.security.guard import ClpOf


def create(clp_of: ClpOf, auth: Auth, class_name: str) -> None:
    guard.check_create(clp_of, auth, class_name)


def update(clp_of: ClpOf, auth: Auth, class_name: str, object_id: str, current: Mapping[str, Any]) -> None:
    guard.check_write(clp_of, auth, class_name, "update", object_id, current)


def delete(clp_of: ClpOf, auth: Auth, class_name: str, object_id: str, current: Mapping[str, Any]) -> None:
    guard.check_write(clp_of, auth, class_name, "delete", object_id, current)


def add_fields(clp_of: ClpOf, auth: Auth, class_name: str) -> None:
    guard.check_add_fields(clp_of, auth, class_name)


def before_hooks(clp_of: ClpOf, auth: Auth, cmd: Command, stored: Mapping[str, Any] | None) -> None:
    """Check `cmd` before any hook runs; `stored` is the object as read (None: a create)."""
    if isinstance(cmd, Create):
        create(clp_of, auth, cmd.class_name)
    elif isinstance(cmd, Update):
        update(clp_of, auth, cmd.class_name, cmd.object_id, stored or {})
    elif isinstance(cmd, Delete):
        delete(clp_of, auth, cmd.class_name, cmd.object_id, stored or {})
