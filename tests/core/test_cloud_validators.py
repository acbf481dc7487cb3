"""Parse's validator options on their own (`core/cloud/validators.py`): which caller each lets
through, with Parse's message for the others (code 142), the master key bypassing them unless
`validate_master_key`, and `skip_with_master_key` telling the trigger not to run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from parsnip.core.cloud.validators import Validation
from parsnip.core.errors import ParseError


@dataclass
class Req:
    master: bool = False
    params: dict[str, Any] = field(default_factory=dict)


def _user(fields: dict | None):
    async def load() -> dict | None:
        return fields

    return load


async def _async_roles():
    return ["b"]


ROLES = "Validation failed. User does not match the required roles."
ALL_ROLES = "Validation failed. User does not match all the required roles."
LOGIN = "Validation failed. Please login to continue."


@pytest.mark.parametrize("options, has_user, roles, user, refused", [
    ({"require_any_user_roles": ["a", "b"]}, True, {"b"}, {}, None),
    ({"require_any_user_roles": ["a", "b"]}, True, {"c"}, {}, ROLES),
    ({"require_any_user_roles": ["a"]}, False, set(), None, LOGIN),
    ({"require_any_user_roles": lambda: ["c"]}, True, {"c"}, {}, None),
    ({"require_any_user_roles": _async_roles}, True, {"a"}, {}, ROLES),
    ({"require_all_user_roles": ["a", "b"]}, True, {"a", "b", "c"}, {}, None),
    ({"require_all_user_roles": ["a", "b"]}, True, {"a"}, {}, ALL_ROLES),
    ({"require_all_user_roles": []}, False, set(), None, LOGIN),
    ({"require_user_keys": ["nick"]}, True, set(), {"nick": "N"}, None),
    ({"require_user_keys": ["nick"]}, True, set(), {"nick": None}, "Validation failed. Please set data for nick on your account."),
    ({"require_user_keys": ["nick"]}, False, set(), None, "Please login to make this request."),
    ({"require_user_keys": {"level": {"options": [1, 2]}}}, True, set(), {"level": 2}, None),
    ({"require_user_keys": {"level": {"options": [1, 2]}}}, True, set(), {"level": 3},
     "Validation failed. Invalid option for level. Expected: 1, 2"),
    ({"require_user_keys": {"level": {"options": lambda v: v > 1, "error": "too low"}}}, True, set(), {"level": 1},
     "too low"),
])
async def test_role_and_user_key_options(options, has_user, roles, user, refused):
    validation = Validation.of(options, None)
    check = validation.check(Req(), has_user, roles=frozenset(roles), load_user=_user(user))
    if refused is None:
        assert await check is False
        return
    with pytest.raises(ParseError) as caught:
        await check
    assert (caught.value.code, caught.value.message) == (142, refused)


@pytest.mark.parametrize("options, skipped", [
    ({"skip_with_master_key": True}, True),
    ({"require_any_user_roles": ["a"]}, False),  # the master key passes, the handler runs
    ({"require_any_user_roles": ["a"], "skip_with_master_key": True}, True),
])
async def test_the_master_key_passes_and_may_skip_the_handler(options, skipped):
    assert await Validation.of(options, None).check(Req(master=True), False) is skipped


async def test_validate_master_key_checks_the_master_key_too():
    validation = Validation.of({"require_any_user_roles": ["a"], "validate_master_key": True}, None)
    with pytest.raises(ParseError) as caught:
        await validation.check(Req(master=True), False)
    assert caught.value.message == LOGIN


@pytest.mark.parametrize("options, error", [
    ({"rate_limit": {"requestCount": 1}}, NotImplementedError),
    ({"require_any_user_roles": "admin"}, TypeError),
    ({"require_user_keys": "nick"}, TypeError),
    ({"no_such_option": True}, TypeError),
])
def test_bad_or_unsupported_options_are_refused_at_registration(options, error):
    with pytest.raises(error):
        Validation.of(options, None)
