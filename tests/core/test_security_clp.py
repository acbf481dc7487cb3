"""Class-level permissions, protected fields and pointer permissions, as pure functions:
core/security/clp.py (`check`, `protection`) and the guard built on them (core/security/guard.py).
The rules are Parse Server's (SchemaController.validatePermission, DatabaseController's
protectedFields handling)."""

from __future__ import annotations

import pytest

from parsnip.core.errors import ParseError
from parsnip.core.query.ast import parse_where
from parsnip.core.security import clp, guard
from parsnip.core.security.auth import MASTER, NOBODY, Auth

ALICE = Auth(user_id="alice", session_id="s1")
BOB = Auth(user_id="bob", session_id="s2")
EDITOR = Auth(user_id="carol", roles=frozenset({"Editor"}))
READ_ONLY = Auth(master=True, read_only=True)


def ptr(user_id: str) -> dict:
    return {"__type": "Pointer", "className": "_User", "objectId": user_id}


def refusal(fn, *args) -> tuple[int, str] | None:
    """(code, message) of the ParseError `fn(*args)` raises, or None when it allows."""
    try:
        fn(*args)
    except ParseError as e:
        return e.code, e.message
    return None


def clp_of(stored):
    return lambda class_name: stored


DENIED = (119, "Permission denied")
REQUIRES_LOGIN = (101, "Permission denied")


# -- check() ---------------------------------------------------------------------------------

@pytest.mark.parametrize("stored, auth, operation, expected", [
    # No CLP: everything is public.
    (None, NOBODY, "find", None),
    (None, NOBODY, "create", None),
    (None, NOBODY, "addField", None),
    # An operation left out of a stored CLP keeps Parse's default (public).
    ({"find": {}}, NOBODY, "get", None),
    # An empty entry: nobody but the master key.
    ({"find": {}}, NOBODY, "find", DENIED),
    ({"find": {}}, ALICE, "find", DENIED),
    ({"find": {}}, MASTER, "find", None),
    ({"delete": {}}, READ_ONLY, "delete", None),  # read-only master passes the CLP; _writable refuses
    # Public, user and role entries.
    ({"count": {"*": True}}, NOBODY, "count", None),
    ({"get": {"alice": True}}, ALICE, "get", None),
    ({"get": {"alice": True}}, BOB, "get", DENIED),
    ({"get": {"alice": True}}, NOBODY, "get", DENIED),
    ({"update": {"role:Editor": True}}, EDITOR, "update", None),
    ({"update": {"role:Editor": True}}, ALICE, "update", DENIED),
    ({"update": {"role:Admin": True}}, EDITOR, "update", DENIED),
    # A false entry grants nothing.
    ({"create": {"*": False}}, ALICE, "create", DENIED),
    # requiresAuthentication: any logged-in user; anonymous callers get 101 on every operation.
    ({"find": {"requiresAuthentication": True}}, ALICE, "find", None),
    ({"find": {"requiresAuthentication": True}}, NOBODY, "find", REQUIRES_LOGIN),
    ({"create": {"requiresAuthentication": True}}, NOBODY, "create", REQUIRES_LOGIN),
    ({"delete": {"requiresAuthentication": True}}, NOBODY, "delete", REQUIRES_LOGIN),
    # "authenticated" is a protectedFields group, not an operation entry.
    ({"find": {"authenticated": True}}, ALICE, "find", DENIED),
    # Pointer permissions never allow a create (there is no object to point at the caller yet).
    ({"create": {"pointerFields": ["owner"]}}, ALICE, "create", DENIED),
    ({"addField": {}, "writeUserFields": ["owner"]}, ALICE, "addField", DENIED),
])
def test_check_allows_or_refuses(stored, auth, operation, expected):
    assert refusal(clp.check, stored, auth, operation) == expected


@pytest.mark.parametrize("stored, operation, owner_fields", [
    ({"find": {"pointerFields": ["owner"]}}, "find", ("owner",)),
    ({"update": {"pointerFields": ["owner", "editors"]}}, "update", ("owner", "editors")),
    ({"get": {}, "readUserFields": ["owner"]}, "get", ("owner",)),
    ({"count": {}, "readUserFields": ["owner"]}, "count", ("owner",)),
    ({"delete": {}, "writeUserFields": ["owner"]}, "delete", ("owner",)),
    ({"update": {}, "writeUserFields": ["owner"]}, "update", ("owner",)),
    # Both forms together, each field once.
    ({"find": {"pointerFields": ["owner"]}, "readUserFields": ["owner", "team"]}, "find", ("owner", "team")),
])
def test_pointer_permissions_restrict_to_objects_pointing_at_the_caller(stored, operation, owner_fields):
    decision = clp.check(stored, ALICE, operation)
    assert decision.restricted and decision.owner_fields == owner_fields


@pytest.mark.parametrize("stored, operation", [
    ({"update": {}, "readUserFields": ["owner"]}, "update"),  # read fields do not grant writes
    ({"find": {}, "writeUserFields": ["owner"]}, "find"),  # nor write fields reads
])
def test_read_and_write_user_fields_do_not_cross(stored, operation):
    assert refusal(clp.check, stored, ALICE, operation) == DENIED


def test_a_plain_entry_beats_pointer_permissions():
    stored = {"find": {"alice": True, "pointerFields": ["owner"]}}
    assert clp.check(stored, ALICE, "find") == clp.ALLOWED
    assert clp.check(stored, BOB, "find").owner_fields == ("owner",)


@pytest.mark.parametrize("value, user_id, expected", [
    (ptr("alice"), "alice", True),
    (ptr("bob"), "alice", False),
    ([ptr("bob"), ptr("alice")], "alice", True),
    ({"__type": "Pointer", "className": "Team", "objectId": "alice"}, "alice", False),
    ("alice", "alice", False),
    (None, "alice", False),
    (ptr("alice"), None, False),
])
def test_points_at(value, user_id, expected):
    assert clp.points_at(value, user_id) is expected


# -- protection() ----------------------------------------------------------------------------

@pytest.mark.parametrize("auth, object_id, expected", [
    (NOBODY, "alice", {"email"}),
    (BOB, "alice", {"email"}),
    (ALICE, "alice", set()),  # a user sees their own email
    (MASTER, "alice", set()),
])
def test_user_email_is_protected_by_default(auth, object_id, expected):
    prot = clp.protection(None, "_User", auth)
    assert prot.hidden_for({"email": "a@x.com"}, object_id, auth.user_id) == expected


def test_only_user_has_default_protected_fields():
    assert clp.protection(None, "Post", NOBODY).empty


PROTECTED = {"protectedFields": {
    "*": ["secret", "salary", "phone"],
    "authenticated": ["secret", "salary"],
    "role:Editor": ["secret"],
    "bob": ["salary"],
}}


@pytest.mark.parametrize("auth, hidden", [
    (NOBODY, {"secret", "salary", "phone"}),
    (ALICE, {"secret", "salary"}),  # "*" and "authenticated" apply: their intersection
    (EDITOR, {"secret"}),  # "*", "authenticated" and role:Editor
    (BOB, {"salary"}),  # "*", "authenticated" and his own entry
    (MASTER, set()),
])
def test_protected_fields_hide_what_every_applicable_entry_hides(auth, hidden):
    """Parse's rule: the intersection of every entry that applies (the most permissive wins)."""
    assert set(clp.protection(PROTECTED, "Post", auth).always) == hidden


def test_an_empty_entry_for_the_caller_reveals_everything():
    stored = {"protectedFields": {"*": ["secret"], "alice": []}}
    assert clp.protection(stored, "Post", ALICE).empty
    assert clp.protection(stored, "Post", BOB).always == {"secret"}


def test_stored_protected_fields_on_user_add_to_the_email_default():
    stored = {"protectedFields": {"*": ["phone"]}}
    assert clp.protection(stored, "_User", BOB).always == {"email", "phone"}


USER_FIELD = {"protectedFields": {"*": ["secret", "phone"], "userField:owner": ["phone"]}}


@pytest.mark.parametrize("auth, owner, hidden", [
    (ALICE, ptr("alice"), {"phone"}),  # the owner: only what the userField entry hides
    (ALICE, [ptr("bob"), ptr("alice")], {"phone"}),  # an array of pointers counts too
    (BOB, ptr("alice"), {"secret", "phone"}),
    (NOBODY, ptr("alice"), {"secret", "phone"}),
    (ALICE, None, {"secret", "phone"}),
])
def test_userfield_entries_apply_to_objects_pointing_at_the_caller(auth, owner, hidden):
    prot = clp.protection(USER_FIELD, "Post", auth)
    assert prot.hidden_for({"owner": owner}, "p1", auth.user_id) == hidden


# -- guard: reads ----------------------------------------------------------------------------

def test_read_access_refuses_anonymous_callers_when_login_is_required():
    stored = {"find": {"requiresAuthentication": True}, "get": {"requiresAuthentication": True}}
    assert refusal(guard.read_access, clp_of(stored), NOBODY, "Post", "find") == REQUIRES_LOGIN
    assert refusal(guard.read_access, clp_of(stored), NOBODY, "Post", "get") == REQUIRES_LOGIN
    assert guard.read_access(clp_of(stored), ALICE, "Post", "get").owner_fields == ()


@pytest.mark.parametrize("obj, readable", [
    ({"owner": ptr("alice")}, True),
    ({"owner": ptr("bob")}, False),
    ({}, False),
    ({"owner": ptr("alice"), "ACL": {"bob": {"read": True}}}, False),  # the ACL still applies
    ({"owner": ptr("alice"), "ACL": {"alice": {"read": True}}}, True),
])
def test_read_pointer_permissions_and_acl_both_hold(obj, readable):
    access = guard.read_access(clp_of({"find": {}, "readUserFields": ["owner"]}), ALICE, "Post", "find")
    assert access.can_read("p1", obj) is readable


@pytest.mark.parametrize("where, order, refused", [
    ({"secret": "x"}, None, True),
    ({"secret.inner": "x"}, None, True),
    ({"$or": [{"title": "x"}, {"secret": {"$exists": True}}]}, None, True),
    ({"title": "x"}, "-secret", True),
    ({"title": "x"}, "title,secret", True),
    ({"title": "x"}, "-title", False),
    ({}, None, False),
])
def test_queries_may_not_filter_or_sort_on_hidden_fields(where, order, refused):
    stored = {"protectedFields": {"*": ["secret"]}}
    access = guard.read_access(clp_of(stored), BOB, "Post")
    expected = DENIED if refused else None
    assert refusal(guard.check_query, access, parse_where(where), order) == expected
    master_access = guard.read_access(clp_of(stored), MASTER, "Post")
    assert refusal(guard.check_query, master_access, parse_where(where), order) is None


@pytest.mark.parametrize("field", ["email", "_hashed_password", "sessionToken", "authData", "_perishable_token"])
def test_user_queries_may_not_touch_internal_or_protected_fields(field):
    access = guard.read_access(clp_of(None), BOB, "_User")
    assert refusal(guard.check_query, access, parse_where({field: {"$exists": True}}), None) == DENIED


@pytest.mark.parametrize("auth, object_id, hidden_extra", [
    (BOB, "alice", {"email", "authData"}),
    (ALICE, "alice", set()),
    (MASTER, "alice", set()),
])
def test_user_internal_fields_are_hidden_from_everyone(auth, object_id, hidden_extra):
    access = guard.read_access(clp_of(None), auth, "_User")
    hidden = access.hidden_fields(object_id, {"email": "a@x.com"})
    assert hidden == set(guard.INTERNAL_USER_FIELDS) | hidden_extra


# -- guard: writes ---------------------------------------------------------------------------

@pytest.mark.parametrize("stored, auth, expected", [
    (None, NOBODY, None),
    ({"create": {}}, ALICE, DENIED),
    ({"create": {"requiresAuthentication": True}}, NOBODY, REQUIRES_LOGIN),
    ({"create": {"requiresAuthentication": True}}, ALICE, None),
    ({"create": {"role:Editor": True}}, EDITOR, None),
    ({"create": {"pointerFields": ["owner"]}}, ALICE, DENIED),
    (None, READ_ONLY, (119, "read-only masterKey isn't allowed to perform the create operation.")),
])
def test_check_create(stored, auth, expected):
    assert refusal(guard.check_create, clp_of(stored), auth, "Post") == expected


@pytest.mark.parametrize("stored, auth, expected", [
    (None, ALICE, None),
    ({"addField": {}}, ALICE, DENIED),
    ({"addField": {}}, MASTER, None),
    ({"addField": {"role:Editor": True}}, EDITOR, None),
])
def test_check_add_fields(stored, auth, expected):
    assert refusal(guard.check_add_fields, clp_of(stored), auth, "Post") == expected


MISSING = {"update": (101, "Object not found."), "delete": (101, "Object not found for delete.")}


@pytest.mark.parametrize("operation", ["update", "delete"])
@pytest.mark.parametrize("stored, auth, current, outcome", [
    (None, ALICE, {}, None),
    (None, ALICE, {"ACL": {"alice": {"write": True}}}, None),
    (None, BOB, {"ACL": {"alice": {"write": True}}}, "missing"),
    (None, BOB, {"ACL": {"*": {"read": True}}}, "missing"),  # read is not write
    (None, EDITOR, {"ACL": {"role:Editor": {"write": True}}}, None),
    (None, MASTER, {"ACL": {}}, None),
    ({"update": {}, "delete": {}, "writeUserFields": ["owner"]}, ALICE, {"owner": ptr("alice")}, None),
    ({"update": {}, "delete": {}, "writeUserFields": ["owner"]}, BOB, {"owner": ptr("alice")}, "missing"),
    ({"update": {"pointerFields": ["owner"]}, "delete": {"pointerFields": ["owner"]}}, BOB,
     {"owner": ptr("alice")}, "missing"),
    ({"update": {}, "delete": {}}, ALICE, {}, DENIED),
    ({"update": {"requiresAuthentication": True}, "delete": {"requiresAuthentication": True}}, NOBODY, {},
     REQUIRES_LOGIN),
])
def test_check_write(stored, auth, current, outcome, operation):
    """A refusal by ACL or pointer permission is the very answer a missing object gets."""
    expected = MISSING[operation] if outcome == "missing" else outcome
    assert refusal(guard.check_write, clp_of(stored), auth, "Post", operation, "p1", current) == expected


@pytest.mark.parametrize("operation, message", [("update", "Permission denied"),
                                                ("delete", "Insufficient auth to delete user")])
def test_a_user_object_is_written_only_by_its_user(operation, message):
    acl = {"*": {"read": True, "write": True}}  # even a public-write ACL does not open another user
    assert refusal(guard.check_write, clp_of(None), BOB, "_User", operation, "alice", {"ACL": acl}) == (206, message)
    assert refusal(guard.check_write, clp_of(None), ALICE, "_User", operation, "alice", {"ACL": acl}) is None


def test_the_read_only_master_key_may_not_write():
    for operation in ("update", "delete"):
        assert refusal(guard.check_write, clp_of(None), READ_ONLY, "Post", operation, "p1", {})[0] == 119
