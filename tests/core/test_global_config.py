"""Parse.Config's rules without a server: what a PUT body becomes, the event payload a change
makes, and what a client or the master key is shown (as Parse Server 9.10 on PostgreSQL)."""

from __future__ import annotations

import pytest

from parsnip.core.errors import ParseError
from parsnip.core.events import CONFIG, Event, SYSTEM
from parsnip.core.global_config import ConfigCache, GlobalConfig, apply, plan, read_change
from parsnip.core.values import now


def _change(body: dict, current: GlobalConfig = GlobalConfig()) -> tuple[dict | None, GlobalConfig]:
    payload = plan(read_change(body), current)
    return payload, current if payload is None else apply(current, payload)


def test_flags_are_false_unless_truthy_and_only_for_named_parameters():
    payload, after = _change({"params": {"a": 1, "b": 2, "c": 3},
                              "masterKeyOnly": {"a": True, "b": 0, "c": "yes", "unnamed": True}})
    assert payload == {"set": {"a": 1, "b": 2, "c": 3}, "masterKeyOnly": {"a": True, "b": False, "c": "yes"}}
    assert after.view(master=True) == {"params": {"a": 1, "b": 2, "c": 3},
                                       "masterKeyOnly": {"a": True, "b": False, "c": "yes"}}
    assert after.view(master=False) == {"params": {"b": 2}, "masterKeyOnly": {"b": False}}


def test_delete_removes_a_parameter_null_stores_null_and_a_flag_outlives_its_parameter():
    _, config = _change({"params": {"a": 1, "s": "x"}, "masterKeyOnly": {"s": True}})
    _, config = _change({"params": {"a": None, "s": {"__op": "Delete"}}}, config)
    assert config.view(master=True) == {"params": {"a": None}, "masterKeyOnly": {"a": False, "s": False}}
    _, config = _change({"params": {"s": {"__op": "Delete"}}, "masterKeyOnly": {"s": {"__op": "Delete"}}}, config)
    assert config.view(master=True) == {"params": {"a": None}, "masterKeyOnly": {"a": False}}


def test_never_saved_and_empty_changes():
    assert GlobalConfig().view(master=False) == {"params": {}}
    assert _change({})[0] is None
    assert _change({"params": None, "masterKeyOnly": {"a": True}})[0] is None


def test_operators_apply_to_the_stored_value():
    _, config = _change({"params": {"n": {"__op": "Increment", "amount": 2}, "l": {"__op": "Add", "objects": [1]}}})
    _, config = _change({"params": {"n": {"__op": "Increment", "amount": 3},
                                    "l": {"__op": "AddUnique", "objects": [1, 2]}}}, config)
    assert config.params == {"n": 5, "l": [1, 2]} and config.version == 2


@pytest.mark.parametrize("body, code", [
    ("text", 107), ({"params": [1]}, 107), ({"params": "abc"}, 107), ({"params": {"a": 1}, "masterKeyOnly": [1]}, 107),
    ({"params": {"": 1}}, 105), ({"params": {"a": {"__op": "AddRelation", "objects": []}}}, 107),
    ({"params": {"a": "\x00"}}, 111), ({"params": {"a": 1}, "masterKeyOnly": {"a": "\x00"}}, 111),
])
def test_bad_bodies(body, code):
    with pytest.raises(ParseError) as refused:
        read_change(body)
    assert refused.value.code == code


def test_the_cache_drops_its_copy_on_a_config_event_and_refuses_a_stale_read():
    cache = ConfigCache()
    generation = cache.generation
    cache.put(GlobalConfig({"a": 1}, {"a": False}, 1), generation)
    assert cache.get().params == {"a": 1}
    stale = cache.generation
    cache.watch([Event(CONFIG, "@Config", None, 2, now(), SYSTEM, {"set": {"a": 2}})])
    assert cache.get() is None
    cache.put(GlobalConfig({"a": 1}, {"a": False}, 1), stale)  # read before the change: not kept
    assert cache.get() is None
