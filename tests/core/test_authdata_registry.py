"""Which providers `Config.auth` and `enableAnonymousUsers` enable."""

from __future__ import annotations

import pytest

from parsnip.core.accounts.authdata.anonymous import AnonymousAdapter
from parsnip.core.accounts.authdata.oauth2 import OAuth2Adapter
from parsnip.core.accounts.authdata.registry import build
from parsnip.core.config import Config
from parsnip.core.errors import ParseError

URL = "http://127.0.0.1:9/introspect"


def _refused(reg, provider: str) -> None:
    with pytest.raises(ParseError) as e:
        reg.get(provider)
    assert (e.value.code, e.value.message) == (252, "This authentication method is unsupported.")


def test_anonymous_is_on_by_default_and_off_by_either_option():
    assert isinstance(build(Config()).get("anonymous")[0], AnonymousAdapter)
    _refused(build(Config(enableAnonymousUsers=False)), "anonymous")
    _refused(build(Config(auth={"anonymous": {"enabled": False}})), "anonymous")


def test_oauth2_entries_under_any_name_and_unusable_entries_left_out():
    reg = build(Config(auth={
        "corp": {"oauth2": True, "tokenIntrospectionEndpointUrl": URL},
        "nourl": {"oauth2": True},
        "noapps": {"oauth2": True, "tokenIntrospectionEndpointUrl": URL, "appidField": "aud"},
        "facebook": {"appIds": ["x"]},
        "bad-name": {"oauth2": True, "tokenIntrospectionEndpointUrl": URL},
    }))
    assert isinstance(reg.get("corp")[0], OAuth2Adapter)
    for name in ("nourl", "noapps", "facebook", "bad-name", "nosuch"):
        _refused(reg, name)


def test_config_auth_from_a_flag_is_json():
    from parsnip.core.config import load
    cfg = load(env={}, overrides={"auth": '{"corp": {"oauth2": true, "tokenIntrospectionEndpointUrl": "%s"}}' % URL})
    assert isinstance(build(cfg).get("corp")[0], OAuth2Adapter)
