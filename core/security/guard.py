"""The one place that decides what a caller may read and write. Every route, the writer,
subqueries, include, and LiveQuery ask here; nothing reads or writes an object around it.

Reads: `read_access` checks the class-level permission and gives a `ReadAccess`, which turns
into SQL (the rows: ACL and pointer permissions; the fields: protected and internal ones) and,
for LiveQuery, into the same decisions in Python. Writes: the writer calls `check_create`,
`check_write` (with the locked object) and `check_add_fields` inside its transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from parsnip.core.errors import ParseError
from parsnip.core.query.ast import And, InQuery, Node, RelatedTo, Select, walk
from parsnip.core.security import acl as _acl
from parsnip.core.security import clp as _clp
from parsnip.core.security.auth import Auth

USER_CLASS = "_User"
SESSION_CLASS = "_Session"

# Stored on _User objects, never returned to anyone (the master key included).
INTERNAL_USER_FIELDS = (
    "_hashed_password", "_email_verify_token", "_email_verify_token_expires_at", "_perishable_token",
    "_perishable_token_expires_at", "_failed_login_count", "_account_lockout_expires_at",
    "_password_changed_at", "_password_history", "sessionToken",
)

# Parse's classesWithMasterOnlyAccess: no client may read or write their objects (a `_Hooks`
# row is a webhook every save of a class would call).
MASTER_ONLY_CLASSES = frozenset({"_JobStatus", "_PushStatus", "_Hooks", "_GlobalConfig", "_GraphQLConfig",
                                 "_JobSchedule", "_Audience", "_Idempotency"})

AddParam = Callable[[Any, str], str]
ClpOf = Callable[[str], "Mapping[str, Any] | None"]


@dataclass(frozen=True, slots=True)
class ReadAccess:
    """What one caller may see of one class."""

    class_name: str
    auth: Auth
    owner_fields: tuple[str, ...] = ()  # pointer permissions: visible only where one points at the caller
    protection: _clp.Protection = field(default_factory=_clp.Protection)

    # -- SQL -------------------------------------------------------------------------------
    def condition(self, add: AddParam) -> str:
        """The rows the caller may read: its ACL allows it, and pointer permissions hold."""
        cond = _acl.read_condition(self.auth, add)
        if self.owner_fields:
            cond = f"({cond} AND {owner_condition(self.owner_fields, self.auth.user_id, add)})"
        return cond

    def hidden(self, add: AddParam) -> str | None:
        """A SQL text[] of the `data` keys to drop from each row, or None when nothing is hidden."""
        parts: list[str] = []
        prot = self.protection
        if not prot.empty:
            keep_hidden = []
            uid = self.auth.user_id
            for fld, visible in prot.unless:
                applies = f"object_id = {add(uid, '::text')}" if fld is None else _points_at(fld, uid, add)
                keep_hidden.append(f"(NOT COALESCE({applies}, FALSE) OR x = ANY({add(sorted(visible), '::text[]')}))")
            where = " AND ".join(keep_hidden) or "TRUE"
            parts.append(f"ARRAY(SELECT x FROM unnest({add(sorted(prot.always), '::text[]')}) AS x WHERE {where})")
        if self.class_name == USER_CLASS:
            parts.append(add(list(INTERNAL_USER_FIELDS), "::text[]"))
            if not self.auth.master:  # authData: only its owner sees it
                parts.append(f"CASE WHEN object_id = {add(self.auth.user_id, '::text')} THEN '{{}}'::text[]"
                             " ELSE ARRAY['authData'] END")
        return " || ".join(parts) if parts else None

    # -- Python (LiveQuery, the writer's answers) --------------------------------------------
    def can_read(self, object_id: str | None, obj: Mapping[str, Any]) -> bool:
        if not _acl.can_read(obj.get("ACL"), self.auth):
            return False
        if self.owner_fields:
            return any(_clp.points_at(obj.get(f), self.auth.user_id) for f in self.owner_fields)
        return True

    def hidden_fields(self, object_id: str | None, obj: Mapping[str, Any]) -> frozenset[str]:
        hidden = set(self.protection.hidden_for(obj, object_id, self.auth.user_id))
        if self.class_name == USER_CLASS:
            hidden.update(INTERNAL_USER_FIELDS)
            if not self.auth.master and object_id != self.auth.user_id:
                hidden.add("authData")
        return frozenset(hidden)


def _points_at(fld: str, user_id: str | None, add: AddParam) -> str:
    if user_id is None:
        return "FALSE"
    ptr = add({"__type": "Pointer", "className": USER_CLASS, "objectId": user_id}, "::jsonb")
    key = add(fld, "::text")
    return f"(data -> {key} @> {ptr} OR data -> {key} @> jsonb_build_array({ptr}))"


def owner_condition(fields: tuple[str, ...], user_id: str | None, add: AddParam) -> str:
    """Some field of `fields` is (or holds) a pointer to the user."""
    if user_id is None:
        return "FALSE"
    return "(" + " OR ".join(_points_at(f, user_id, add) for f in fields) + ")"


def read_access(clp_of: ClpOf, auth: Auth, class_name: str, operation: str = "find") -> ReadAccess:
    """Check `operation` (find, get or count) on the class and say what the caller may see."""
    _master_only(auth, class_name)
    clp = clp_of(class_name)
    decision = _clp.check(clp, auth, operation)
    return ReadAccess(class_name, auth, decision.owner_fields, _clp.protection(clp, class_name, auth))


def check_query(access: ReadAccess, where: Node, order: str | None = None) -> None:
    """A caller may not filter or sort on a field hidden from it (that would leak its values)."""
    hidden = access.protection.always
    if access.class_name == USER_CLASS and not access.auth.master:
        hidden = hidden | {"authData", *INTERNAL_USER_FIELDS}
    if not hidden:
        return
    used = {_top(n.field) for n in walk(where) if isinstance(getattr(n, "field", None), str)}
    for key in (order or "").split(","):
        used.add(_top(key.strip().lstrip("-")))
    if used & hidden:
        raise ParseError(ParseError.OPERATION_FORBIDDEN, _clp.DENIED)


def _top(key: str) -> str:
    return key.split(".", 1)[0]


def subquery_access(clp_of: ClpOf, auth: Auth) -> Callable[[Node], str]:
    """For the SQL compiler: the extra condition on a subquery's class ($inQuery, $select), or
    on the owner of a $relatedTo (which must be readable, so a hidden owner is a missing one).

    The subquery is a find on another class by the same caller, so it passes the same checks.
    """

    def access(node: Node, add: AddParam) -> str:
        assert isinstance(node, (InQuery, Select, RelatedTo))
        if isinstance(node, RelatedTo):
            return read_access(clp_of, auth, node.class_name, "get").condition(add)
        acc = read_access(clp_of, auth, node.class_name, "find")
        check_query(acc, node.where)
        if isinstance(node, Select):
            check_query(acc, And(()), node.key)
        return acc.condition(add)

    return access


# -- writes ------------------------------------------------------------------------------

def check_create(clp_of: ClpOf, auth: Auth, class_name: str) -> None:
    _writable(auth)
    _master_only(auth, class_name)
    _clp.check(clp_of(class_name), auth, "create")


def check_add_fields(clp_of: ClpOf, auth: Auth, class_name: str) -> None:
    """A write that adds fields to an existing class needs the addField permission."""
    if not auth.master:
        _clp.check(clp_of(class_name), auth, "addField")


def check_write(clp_of: ClpOf, auth: Auth, class_name: str, operation: str, object_id: str,
                current: Mapping[str, Any]) -> None:
    """May `auth` update or delete this (locked) object? Refusals look like "not found" (101)
    where Parse's do, so a caller cannot tell a hidden object from a missing one."""
    _writable(auth)
    if auth.master:
        return
    _master_only(auth, class_name)
    decision = _clp.check(clp_of(class_name), auth, operation)
    if class_name == USER_CLASS and object_id != auth.user_id:
        message = "Insufficient auth to delete user" if operation == "delete" else _clp.DENIED
        raise ParseError(ParseError.SESSION_MISSING, message)
    # The very answer the writer gives a missing object, message included.
    missing = "Object not found for delete." if operation == "delete" else "Object not found."
    if not _acl.can_write(current.get("ACL"), auth):
        raise ParseError(ParseError.OBJECT_NOT_FOUND, missing)
    if decision.restricted and not any(_clp.points_at(current.get(f), auth.user_id) for f in decision.owner_fields):
        raise ParseError(ParseError.OBJECT_NOT_FOUND, missing)


def check_class_access(auth: Auth, class_name: str) -> None:
    """Before anything else about a write: a client may not touch a master-only class (119),
    whether or not the object exists."""
    _master_only(auth, class_name)


def _master_only(auth: Auth, class_name: str) -> None:
    """Parse's answer (sanitized) to a client touching a master-only class: 119."""
    if class_name in MASTER_ONLY_CLASSES and not auth.master:
        raise ParseError(ParseError.OPERATION_FORBIDDEN, _clp.DENIED)


def _writable(auth: Auth) -> None:
    if auth.read_only:
        raise ParseError(ParseError.OPERATION_FORBIDDEN,
                         "read-only masterKey isn't allowed to perform the create operation.")

