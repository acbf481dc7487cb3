"""Class-level permissions and protected fields (core/security/clp.py), and the ACL rule
(core/security/acl.py), as pure functions over every kind of entry."""

from __future__ import annotations

import pytest

from core.errors import ParseError
from core.security import acl, clp
from core.security.auth import MASTER, Auth

ALICE = Auth(user_id="alice", roles=frozenset({"Mods"}))
BOB = Auth(user_id="bob")
NOBODY = Auth()


@pytest.mark.parametrize("perms, auth, allowed", [
    ({"*": True}, NOBODY, True),
    ({}, NOBODY, False),
    ({}, MASTER, True),
    ({"alice": True}, ALICE, True),
    ({"alice": True}, BOB, False),
    ({"role:Mods": True}, ALICE, True),
    ({"role:Mods": True}, BOB, False),
    ({"requiresAuthentication": True}, BOB, True),
])
def test_operation_permissions(perms, auth, allowed):
    stored = {"find": perms}
    if allowed:
        assert not clp.check(stored, auth, "find").restricted
    else:
        with pytest.raises(ParseError) as e:
            clp.check(stored, auth, "find")
        assert (e.value.code, e.value.message) == (119, "Permission denied")


@pytest.mark.parametrize("operation", ["find", "get", "count", "create", "update", "delete", "addField"])
def test_requires_authentication_refuses_anonymous_callers_with_101(operation):
    with pytest.raises(ParseError) as e:
        clp.check({operation: {"requiresAuthentication": True}}, NOBODY, operation)
    assert e.value.code == 101


def test_a_class_without_clp_allows_everything():
    for op in clp.OPERATIONS:
        assert clp.check(None, NOBODY, op) == clp.ALLOWED


@pytest.mark.parametrize("stored, operation, owner_fields", [
    ({"find": {}, "readUserFields": ["owner"]}, "find", ("owner",)),
    ({"get": {"pointerFields": ["owner", "editors"]}}, "get", ("owner", "editors")),
    ({"update": {}, "writeUserFields": ["owner"]}, "update", ("owner",)),
])
def test_pointer_permissions_restrict_to_objects_pointing_at_the_caller(stored, operation, owner_fields):
    assert clp.check(stored, BOB, operation).owner_fields == owner_fields


def test_pointer_permissions_never_allow_create():
    with pytest.raises(ParseError):
        clp.check({"create": {}, "writeUserFields": ["owner"]}, BOB, "create")


def test_points_at_single_and_array_pointers():
    me = {"__type": "Pointer", "className": "_User", "objectId": "bob"}
    assert clp.points_at(me, "bob") and clp.points_at([me], "bob")
    assert not clp.points_at(me, "alice") and not clp.points_at(me, None)
    assert not clp.points_at({**me, "className": "Other"}, "bob")


@pytest.mark.parametrize("protected, auth, hidden", [
    ({"*": ["secret", "email"]}, BOB, {"secret", "email"}),
    ({"*": ["secret", "email"], "role:Mods": ["email"]}, ALICE, {"email"}),  # the most permissive entry wins
    ({"*": ["secret"], "alice": []}, ALICE, set()),
    ({"*": ["secret"], "authenticated": []}, BOB, set()),
    ({"*": ["secret"], "authenticated": []}, NOBODY, {"secret"}),
    ({"*": ["secret"]}, MASTER, set()),
])
def test_protected_fields_intersect_the_entries_that_apply(protected, auth, hidden):
    assert set(clp.protection({"protectedFields": protected}, "Thing", auth).always) == hidden


def test_user_field_entries_unhide_for_the_pointed_user():
    prot = clp.protection({"protectedFields": {"*": ["secret"], "userField:owner": []}}, "Thing", BOB)
    mine = {"owner": {"__type": "Pointer", "className": "_User", "objectId": "bob"}}
    assert prot.hidden_for(mine, "o1", "bob") == frozenset()
    assert prot.hidden_for({"owner": None}, "o2", "bob") == {"secret"}


def test_a_users_email_is_hidden_from_others_but_not_from_themself():
    prot = clp.protection(None, "_User", BOB)
    assert prot.always == {"email"}
    assert prot.hidden_for({}, "bob", "bob") == frozenset()
    assert prot.hidden_for({}, "alice", "bob") == {"email"}


@pytest.mark.parametrize("object_acl, auth, read, write", [
    (None, NOBODY, True, True),
    ({}, ALICE, False, False),
    ({}, MASTER, True, True),
    ({"*": {"read": True}}, NOBODY, True, False),
    ({"alice": {"read": True, "write": True}}, ALICE, True, True),
    ({"alice": {"read": True, "write": True}}, BOB, False, False),
    ({"role:Mods": {"write": True}}, ALICE, False, True),
    ({"bob": {"read": "yes"}}, BOB, False, False),  # only a real true grants
])
def test_acl_rule(object_acl, auth, read, write):
    assert acl.can_read(object_acl, auth) is read
    assert acl.can_write(object_acl, auth) is write
