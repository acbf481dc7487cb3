"""Email verification and password reset end to end: a real Parsnip process mails through SMTP
to a local server the test runs, and the test follows the links in the captured mails.
Codes and messages as Parse Server answers them (UsersRouter, the public pages)."""

from __future__ import annotations

import json
import secrets
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.api.mail_helpers import adapter_flag, smtp_server
from tests.api.users_helpers import master, signup
from tests.conftest import start_server, stop_server

NOT_CONFIGURED = {"code": 1, "error": "An appName, publicServerURL, and emailAdapter are required for "
                  "password reset and email verification functionality."}


@contextmanager
def server_with_mail(dsn: str, *flags: str):
    with smtp_server() as (inbox, port):
        info = start_server(dsn, *adapter_flag(port), "--appName", "MyApp", *flags)
        try:
            with httpx.Client(base_url=info.url, headers={"X-Parse-Application-Id": info.app_id},
                              timeout=30) as client:
                yield info, client, inbox
        finally:
            stop_server(info)


def _name() -> str:
    return "u" + secrets.token_hex(5)


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_without_an_adapter_both_requests_answer_error_1_as_parse(api):
    for path in ("/requestPasswordReset", "/verificationEmailRequest"):
        r = api.post(path, json={"email": "nobody@x.com"})
        assert (r.status_code, r.json()) == (500, NOT_CONFIGURED)


def test_signup_mails_a_verification_link_that_verifies_the_email(fresh_dsn):
    with server_with_mail(fresh_dsn, "--verifyUserEmails", "true", "--preventLoginWithUnverifiedEmail", "true") as (
            info, api, inbox):
        name = _name()
        user = signup(api, username=name, password="pw1", email=f"{name}@x.com")
        mail = inbox.wait(1)[0]
        assert mail["To"] == f"{name}@x.com" and mail["Subject"] == "Please verify your e-mail for MyApp"
        link = inbox.link()
        assert link.startswith(f"{info.url}/apps/{info.app_id}/verify_email?token=")
        stored = api.get(f"/users/{user.id}", headers=master(info)).json()
        assert stored["emailVerified"] is False and "_email_verify_token" not in stored

        r = api.get("/login", params={"username": name, "password": "pw1"})
        assert (r.status_code, r.json()) == (400, {"code": 205, "error": "User email is not verified."})

        r = httpx.get(link)
        assert r.status_code == 302
        assert r.headers["location"] == f"{info.url}/apps/verify_email_success.html?username={name}"
        assert httpx.get(r.headers["location"]).status_code == 200
        assert api.get(f"/users/{user.id}", headers=master(info)).json()["emailVerified"] is True
        assert api.get("/login", params={"username": name, "password": "pw1"}).status_code == 200

        # The token is spent: the same link is now invalid.
        r = httpx.get(link)
        assert (r.status_code, r.headers["location"]) == (302, f"{info.url}/apps/invalid_link.html")


def test_verification_email_request_codes_and_a_new_link(fresh_dsn):
    with server_with_mail(fresh_dsn, "--verifyUserEmails", "true") as (info, api, inbox):
        r = api.post("/verificationEmailRequest", json={})
        assert (r.status_code, r.json()) == (400, {"code": 204, "error": "you must provide an email"})
        r = api.post("/verificationEmailRequest", json={"email": 5})
        assert (r.status_code, r.json()) == (400, {"code": 125, "error": "you must provide a valid email string"})
        r = api.post("/verificationEmailRequest", json={"email": "nobody@x.com"})
        assert (r.status_code, r.json()) == (400, {"code": 205, "error": "No user found with email nobody@x.com"})

        name = _name()
        signup(api, username=name, email=f"{name}@x.com")
        first = inbox.link(0)
        r = api.post("/verificationEmailRequest", json={"email": f"{name}@x.com"})
        assert (r.status_code, r.json()) == (200, {})
        second = inbox.link(1)
        assert first != second
        assert httpx.get(first).headers["location"].endswith("/apps/invalid_link.html")  # replaced
        assert "verify_email_success" in httpx.get(second).headers["location"]
        r = api.post("/verificationEmailRequest", json={"email": f"{name}@x.com"})
        assert (r.status_code, r.json()) == (400, {"code": -1, "error": f"Email {name}@x.com is already verified."})


def test_an_email_change_asks_for_verification_again(fresh_dsn):
    with server_with_mail(fresh_dsn, "--verifyUserEmails", "true") as (info, api, inbox):
        name = _name()
        user = signup(api, username=name, email=f"{name}@x.com")
        httpx.get(inbox.link(0))
        r = api.put(f"/users/{user.id}", json={"email": f"{name}@y.com"}, headers=user.headers)
        assert r.status_code == 200, r.text
        assert inbox.wait(2)[1]["To"] == f"{name}@y.com"
        assert api.get(f"/users/{user.id}", headers=master(info)).json()["emailVerified"] is False
        assert "verify_email_success" in httpx.get(inbox.link(1)).headers["location"]


def test_password_reset_by_mail_and_the_choose_password_form(fresh_dsn):
    with server_with_mail(fresh_dsn) as (info, api, inbox):
        r = api.post("/requestPasswordReset", json={})
        assert (r.status_code, r.json()) == (400, {"code": 204, "error": "you must provide an email"})
        r = api.post("/requestPasswordReset", json={"email": ["x"]})
        assert (r.status_code, r.json()) == (400, {"code": 125, "error": "you must provide a valid email string"})
        assert api.post("/requestPasswordReset", json={"email": "nobody@x.com"}).json() == {}  # no hint
        assert inbox.messages == []

        name = _name()
        user = signup(api, username=name, password="old-pw", email=f"{name}@x.com")
        r = api.post("/requestPasswordReset", json={"email": f"{name}@x.com"})
        assert (r.status_code, r.json()) == (200, {})
        mail = inbox.wait(1)[0]
        assert mail["Subject"] == "Password Reset for MyApp" and f"your username is '{name}'" in inbox.link() + \
            mail.get_payload(decode=True).decode()
        link = inbox.link()
        assert link.startswith(f"{info.url}/apps/{info.app_id}/request_password_reset?token=")

        r = httpx.get(link)
        assert r.status_code == 302
        choose = r.headers["location"]
        assert choose.startswith(f"{info.url}/apps/choose_password?")
        params = _query(choose)
        assert params["id"] == info.app_id and params["app"] == "MyApp" and params["token"] == _query(link)["token"]
        page = httpx.get(choose)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert 'name="new_password"' in page.text and params["token"] in page.text

        action = f"{info.url}/apps/{info.app_id}/request_password_reset"
        r = httpx.post(action, data={"token": params["token"], "new_password": "new-pw"})
        assert (r.status_code, r.headers["location"]) == (302, f"{info.url}/apps/password_reset_success.html?username={name}")
        assert api.get("/login", params={"username": name, "password": "old-pw"}).json()["code"] == 101
        assert api.get("/login", params={"username": name, "password": "new-pw"}).status_code == 200
        # revokeSessionOnPasswordReset (default true): the old session is gone.
        r = api.get("/users/me", headers=user.headers)
        assert (r.status_code, r.json()) == (400, {"code": 209, "error": "Invalid session token"})
        # The token is spent.
        assert httpx.get(link).headers["location"] == f"{info.url}/apps/invalid_link.html"
        r = httpx.post(action, data={"token": params["token"], "new_password": "x"},
                       headers={"X-Requested-With": "XMLHttpRequest"})
        assert (r.status_code, r.json()) == (400, {
            "code": -1, "error": "Failed to reset password: username / email / token is invalid"})


def test_sessions_survive_a_reset_when_told_and_the_xhr_form(fresh_dsn):
    with server_with_mail(fresh_dsn, "--revokeSessionOnPasswordReset", "false") as (info, api, inbox):
        name = _name()
        user = signup(api, username=name, password="old-pw", email=f"{name}@x.com")
        api.post("/requestPasswordReset", json={"email": f"{name}@x.com"})
        token = _query(inbox.link())["token"]
        r = httpx.post(f"{info.url}/apps/{info.app_id}/request_password_reset",
                       data={"token": token, "new_password": "new-pw"}, headers={"X-Requested-With": "XMLHttpRequest"})
        assert (r.status_code, r.json()) == (200, "Password successfully reset")
        assert api.get("/users/me", headers=user.headers).status_code == 200


def test_custom_pages_receive_the_redirects(fresh_dsn):
    pages = {k: f"https://example.com/{k}" for k in (
        "invalidLink", "verifyEmailSuccess", "choosePassword", "passwordResetSuccess")}
    with server_with_mail(fresh_dsn, "--verifyUserEmails", "true", "--customPages", json.dumps(pages)) as (
            info, api, inbox):
        assert httpx.get(f"{info.url}/apps/{info.app_id}/verify_email?token=nope").headers["location"] == \
            "https://example.com/invalidLink"
        name = _name()
        signup(api, username=name, email=f"{name}@x.com")
        r = httpx.get(inbox.link(0))
        assert r.headers["location"] == f"https://example.com/verifyEmailSuccess?username={name}"
        api.post("/requestPasswordReset", json={"email": f"{name}@x.com"})
        r = httpx.get(inbox.link(1))
        assert r.headers["location"].startswith("https://example.com/choosePassword?token=")
        token = _query(r.headers["location"])["token"]
        r = httpx.post(f"{info.url}/apps/{info.app_id}/request_password_reset",
                       data={"token": token, "new_password": "brand-new"})
        assert r.headers["location"] == f"https://example.com/passwordResetSuccess?username={name}"


def test_pages_of_another_app_are_refused(fresh_dsn):
    with server_with_mail(fresh_dsn) as (info, api, inbox):
        r = httpx.get(f"{info.url}/apps/other/verify_email?token=x")
        assert (r.status_code, r.json()) == (403, {"error": "unauthorized"})


def test_an_expired_verification_link_offers_a_new_one(fresh_dsn):
    import time

    with server_with_mail(fresh_dsn, "--verifyUserEmails", "true", "--emailVerifyTokenValidityDuration", "1") as (
            info, api, inbox):
        name = _name()
        signup(api, username=name, email=f"{name}@x.com")
        link = inbox.link(0)
        time.sleep(1.2)
        r = httpx.get(link)
        assert r.headers["location"] == (f"{info.url}/apps/invalid_verification_link.html"
                                         f"?username={name}&appId={info.app_id}")
        r = httpx.post(f"{info.url}/apps/{info.app_id}/resend_verification_email", data={"username": name})
        assert r.headers["location"] == f"{info.url}/apps/link_send_success.html"
        assert "verify_email_success" in httpx.get(inbox.link(1)).headers["location"]
        r = httpx.post(f"{info.url}/apps/{info.app_id}/resend_verification_email", data={"username": name})
        assert r.headers["location"] == f"{info.url}/apps/link_send_fail.html"  # verified already
