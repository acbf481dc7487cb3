"""passwordPolicy and accountLockout on a real Parsnip process, with Parse Server's codes and
messages (RestWrite, UsersRouter and AccountLockout)."""

from __future__ import annotations

import json
import secrets
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import asyncio

import asyncpg
import httpx

from tests.api.mail_helpers import adapter_flag, smtp_server
from tests.api.users_helpers import master, signup
from tests.conftest import start_server, stop_server

POLICY_ERROR = {"code": 142, "error": "Password does not meet the Password Policy requirements."}
LOCKED = {"code": 101, "error": "Your account is locked due to multiple failed login attempts. "
                                "Please try again after 5 minute(s)"}
INVALID = {"code": 101, "error": "Invalid username/password."}


@contextmanager
def server(dsn: str, *flags: str):
    info = start_server(dsn, *flags)
    try:
        with httpx.Client(base_url=info.url, headers={"X-Parse-Application-Id": info.app_id}, timeout=30) as c:
            yield info, c
    finally:
        stop_server(info)


def _name() -> str:
    return "u" + secrets.token_hex(5)


def _login(api, name: str, password: str) -> httpx.Response:
    return api.post("/login", json={"username": name, "password": password})


def _refused(r: httpx.Response, body: dict) -> None:
    """A Parse error answer: 404 for 101 (as Parse), 400 otherwise."""
    assert (r.status_code, r.json()) == (404 if body["code"] == 101 else 400, body)


def test_pattern_username_and_custom_message_on_signup_and_change(fresh_dsn):
    policy = {"validatorPattern": "^(?=.*[0-9]).{6,}$", "doNotAllowUsername": True}
    with server(fresh_dsn, "--passwordPolicy", json.dumps(policy)) as (info, api):
        _refused(api.post("/users", json={"username": "alice", "password": "short"}), POLICY_ERROR)
        _refused(api.post("/users", json={"username": "alice", "password": "xalice1"}),
                 {"code": 142, "error": "Password cannot contain your username."})
        user = signup(api, username="alice", password="good-pw1")
        _refused(api.put(f"/users/{user.id}", json={"password": "nodigits"}, headers=user.headers), POLICY_ERROR)
        _refused(api.put(f"/users/{user.id}", json={"password": "alice-99"}, headers=user.headers),
                 {"code": 142, "error": "Password cannot contain your username."})
        assert api.put(f"/users/{user.id}", json={"password": "other-pw2"}, headers=user.headers).status_code == 200
        assert _login(api, "alice", "other-pw2").status_code == 200
    with server(fresh_dsn, "--passwordPolicy", json.dumps({**policy, "validationError": "Add a digit."})) as (_, api):
        _refused(api.post("/users", json={"username": "bob", "password": "nodigits"}),
                 {"code": 142, "error": "Add a digit."})


def test_password_history_refuses_recent_passwords(fresh_dsn):
    with server(fresh_dsn, "--passwordPolicy", json.dumps({"maxPasswordHistory": 2})) as (info, api):
        user = signup(api, password="pw-1")
        reused = {"code": 142, "error": "New password should not be the same as last 2 passwords."}

        def change(pw: str) -> httpx.Response:
            return api.put(f"/users/{user.id}", json={"password": pw}, headers=user.headers)

        _refused(change("pw-1"), reused)
        assert change("pw-2").status_code == 200
        _refused(change("pw-2"), reused)
        _refused(change("pw-1"), reused)
        assert change("pw-3").status_code == 200
        assert change("pw-1").status_code == 200  # three changes ago: allowed again
        stored = api.get(f"/users/{user.id}", headers=master(info)).json()
        assert "_password_history" not in stored


def test_expired_password_refuses_login(fresh_dsn):
    with server(fresh_dsn, "--passwordPolicy", json.dumps({"maxPasswordAge": 1})) as (info, api):
        name = _name()
        user = signup(api, username=name, password="pw")
        assert _login(api, name, "pw").status_code == 200

        async def age() -> None:  # two days pass: backdate the change time in the projection
            conn = await asyncpg.connect(fresh_dsn)
            await conn.execute("""UPDATE "p__User" SET data = jsonb_set(data, '{_password_changed_at}',
                '{"__type": "Date", "iso": "2000-01-01T00:00:00.000Z"}') WHERE object_id = $1""", user.id)
            await conn.close()

        asyncio.run(age())
        _refused(_login(api, name, "pw"), {"code": 101, "error": "Your password has expired. Please reset your password."})


def test_reset_applies_the_policy_and_its_token_lifetime(fresh_dsn):
    policy = {"validatorPattern": "[0-9]", "resetTokenValidityDuration": 3600}
    with smtp_server() as (inbox, port), server(fresh_dsn, *adapter_flag(port), "--passwordPolicy",
                                                json.dumps(policy)) as (info, api):
        name = _name()
        signup(api, username=name, password="pw-1", email=f"{name}@x.com")
        api.post("/requestPasswordReset", json={"email": f"{name}@x.com"})
        token = inbox.link().split("token=")[1]
        url = f"{info.url}/apps/{info.app_id}/request_password_reset"
        xhr = {"X-Requested-With": "XMLHttpRequest"}
        _refused(httpx.post(url, data={"token": token, "new_password": "nodigit"}, headers=xhr),
                 {"code": -1, "error": POLICY_ERROR["error"]})
        r = httpx.post(url, data={"token": token, "new_password": "nodigit"})
        assert r.status_code == 302 and "error=Password+does+not+meet" in r.headers["location"]

        async def expire() -> None:
            conn = await asyncpg.connect(fresh_dsn)
            await conn.execute("""UPDATE "p__User" SET data = jsonb_set(data, '{_perishable_token_expires_at}',
                '{"__type": "Date", "iso": "2000-01-01T00:00:00.000Z"}')""")
            await conn.close()

        asyncio.run(expire())
        _refused(httpx.post(url, data={"token": token, "new_password": "digit-1"}, headers=xhr),
                 {"code": -1, "error": "The password reset link has expired"})


def test_lockout_after_threshold_even_with_the_right_password(fresh_dsn):
    lockout = {"duration": 5, "threshold": 3}
    with server(fresh_dsn, "--accountLockout", json.dumps(lockout)) as (info, api):
        name = _name()
        signup(api, username=name, password="right")
        _refused(_login(api, name, "wrong"), INVALID)
        assert _login(api, name, "right").status_code == 200  # a success resets the count
        for _ in range(3):
            _refused(_login(api, name, "wrong"), INVALID)
        _refused(_login(api, name, "right"), LOCKED)
        _refused(_login(api, name, "wrong"), LOCKED)


def test_concurrent_failed_logins_are_all_counted(fresh_dsn):
    lockout = {"duration": 5, "threshold": 20}
    with server(fresh_dsn, "--accountLockout", json.dumps(lockout)) as (info, api):
        name = _name()
        user = signup(api, username=name, password="right")

        def attempt(_: int) -> dict:
            with httpx.Client(base_url=info.url, headers={"X-Parse-Application-Id": info.app_id}, timeout=30) as c:
                return _login(c, name, "wrong").json()

        with ThreadPoolExecutor(max_workers=20) as pool:
            answers = list(pool.map(attempt, range(20)))
        assert all(a == INVALID for a in answers)

        async def count() -> int:
            conn = await asyncpg.connect(fresh_dsn)
            value = await conn.fetchval("""SELECT (data->>'_failed_login_count')::int FROM "p__User"
                                           WHERE object_id = $1""", user.id)
            await conn.close()
            return value

        assert asyncio.run(count()) == 20
        _refused(_login(api, name, "right"), {**LOCKED, "error": LOCKED["error"]})


def test_a_reset_unlocks_when_configured(fresh_dsn):
    lockout = {"duration": 5, "threshold": 1, "unlockOnPasswordReset": True}
    with smtp_server() as (inbox, port), server(fresh_dsn, *adapter_flag(port), "--accountLockout",
                                                json.dumps(lockout)) as (info, api):
        name = _name()
        signup(api, username=name, password="right", email=f"{name}@x.com")
        _refused(_login(api, name, "wrong"), INVALID)
        _refused(_login(api, name, "right"), LOCKED)
        api.post("/requestPasswordReset", json={"email": f"{name}@x.com"})
        token = inbox.link().split("token=")[1]
        r = httpx.post(f"{info.url}/apps/{info.app_id}/request_password_reset",
                       data={"token": token, "new_password": "fresh"})
        assert r.status_code == 302 and "password_reset_success" in r.headers["location"]
        assert _login(api, name, "fresh").status_code == 200
