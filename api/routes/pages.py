"""The email flows over HTTP: /verificationEmailRequest and /requestPasswordReset (REST, with
the application id), and the pages a mailed link opens under /apps (plain browser requests,
no Parse keys): verify an email, choose a new password, and the result pages.

Each result page is a redirect, to the URL `customPages` gives or else to Parsnip's own
minimal HTML page under /apps, as Parse's (legacy) public pages do.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

from parsnip.api.routes import Handler, Reply, compile_routes, match_route
from parsnip.core.accounts import email_flows
from parsnip.core.errors import ParseError
from parsnip.core.events import Context

HTML = "text/html; charset=utf-8"


@dataclass
class PageRequest:
    """A browser's request to a page: query, form fields, and whether it came from script."""

    method: str
    query: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)
    xhr: bool = False
    client_ip: str | None = None

    @property
    def context(self) -> Context:
        return Context(master=True, client_ip=self.client_ip)


def read_form(raw: bytes) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (what the choose-password form posts)."""
    try:
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        return {}


# -- REST ------------------------------------------------------------------------------------

async def verification_email_request(rt, req) -> Reply:
    await email_flows.request_verification(rt, req.context, req.body)
    return Reply({})


async def request_password_reset(rt, req) -> Reply:
    await email_flows.request_password_reset(rt, req.context, req.body, auth=req.auth, cloud_context=req.cloud_context)
    return Reply({})


# -- where each page lives ---------------------------------------------------------------------

# Parse's customPages keys, and the built-in page each stands for.
_BUILT_IN = {
    "invalidLink": "invalid_link.html",
    "invalidVerificationLink": "invalid_verification_link.html",
    "linkSendSuccess": "link_send_success.html",
    "linkSendFail": "link_send_fail.html",
    "verifyEmailSuccess": "verify_email_success.html",
    "choosePassword": "choose_password",
    "passwordResetSuccess": "password_reset_success.html",
}


def page_url(config, key: str) -> str:
    return (config.customPages or {}).get(key) or f"{email_flows.base_url(config)}/apps/{_BUILT_IN[key]}"


def _redirect(url: str, params: dict[str, str | None] | None = None) -> Reply:
    given = {k: v for k, v in (params or {}).items() if v is not None}
    location = url + (("&" if "?" in url else "?") + urlencode(given) if given else "")
    return Reply(raw="", status=302, headers={"Location": location}, content_type=HTML)


def _not_found() -> Reply:
    return Reply(raw="Not found.", status=404, content_type=HTML)


def _app_matches(rt, app_id: str) -> bool:
    return app_id == rt.config.appId


def _unauthorized() -> Reply:
    return Reply({"error": "unauthorized"}, status=403)


# -- the pages -----------------------------------------------------------------------------------

async def verify_email(rt, req: PageRequest, app_id: str) -> Reply:
    """A verification link: success page, or the invalid-link pages."""
    if not _app_matches(rt, app_id):
        return _unauthorized()
    token = req.query.get("token")
    if not token:
        return _redirect(page_url(rt.config, "invalidLink"))
    verified, username = await email_flows.verify_email(rt, req.context, token)
    if verified:
        return _redirect(page_url(rt.config, "verifyEmailSuccess"), {"username": username})
    if username:  # known user, expired token: the page that offers a new link
        return _redirect(page_url(rt.config, "invalidVerificationLink"), {"username": username, "appId": app_id})
    return _redirect(page_url(rt.config, "invalidLink"))


async def resend_verification_email(rt, req: PageRequest, app_id: str) -> Reply:
    """The invalid-verification page's form: mail a new link to the user named."""
    if not _app_matches(rt, app_id):
        return _unauthorized()
    username = req.form.get("username")
    if not username:
        return _redirect(page_url(rt.config, "invalidLink"))
    found = await rt.read(email_flows.user_by_username, username)
    email = found[1].get("email") if found else None
    try:
        if not isinstance(email, str) or found[1].get("emailVerified") is True:
            raise ParseError(ParseError.EMAIL_NOT_FOUND, "no unverified email")
        await email_flows.request_verification(rt, req.context, {"email": email})
    except ParseError:
        return _redirect(page_url(rt.config, "linkSendFail"))
    return _redirect(page_url(rt.config, "linkSendSuccess"))


async def open_reset_link(rt, req: PageRequest, app_id: str) -> Reply:
    """A reset link: on to the choose-password page while the token is good."""
    if not _app_matches(rt, app_id):
        return _unauthorized()
    token = req.query.get("token")
    try:
        await email_flows.reset_token_user(rt, token or "")
    except ParseError:
        return _redirect(page_url(rt.config, "invalidLink"))
    return _redirect(page_url(rt.config, "choosePassword"),
                     {"token": token, "id": rt.config.appId, "app": rt.config.appName})


async def reset_password(rt, req: PageRequest, app_id: str) -> Reply:
    """The choose-password form's POST (or a script's, with X-Requested-With)."""
    if not _app_matches(rt, app_id):
        return _unauthorized()
    token = req.form.get("token")
    password = req.form.get("new_password")
    if not req.xhr and (not token or not password):
        return _redirect(page_url(rt.config, "invalidLink"))
    if not token:
        raise ParseError(ParseError.OTHER_CAUSE, "Missing token")
    if not password:
        raise ParseError(ParseError.PASSWORD_MISSING, "Missing password")
    try:
        username = await email_flows.reset_password(rt, req.context, token, password)
    except ParseError as e:
        if req.xhr:
            raise ParseError(ParseError.OTHER_CAUSE, e.message) from None
        return _redirect(page_url(rt.config, "choosePassword"),
                         {"token": token, "id": rt.config.appId, "error": e.message, "app": rt.config.appName})
    if req.xhr:
        return Reply("Password successfully reset")
    return _redirect(page_url(rt.config, "passwordResetSuccess"), {"username": username})


_FORM = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{app}: choose a new password</title></head>
<body>
<h1>Reset your password{for_app}</h1>
<p class="error">{error}</p>
<form method="POST" action="{action}">
<input type="hidden" name="token" value="{token}">
<label>New password <input type="password" name="new_password"></label>
<button type="submit">Change password</button>
</form>
</body></html>
"""

_MESSAGES = {
    "invalid_link.html": "Invalid link.",
    "invalid_verification_link.html": "Invalid or expired verification link.",
    "link_send_success.html": "A new verification link has been sent. Check your email.",
    "link_send_fail.html": "No link could be sent: the account is unknown or already verified.",
    "verify_email_success.html": "Your email has been verified.",
    "password_reset_success.html": "Your password has been changed.",
}


async def choose_password(rt, req: PageRequest) -> Reply:
    """The built-in form that posts a new password back with the token."""
    q = {k: html.escape(v) for k, v in req.query.items()}
    app = q.get("app") or html.escape(rt.config.appName)
    action = f"{email_flows.base_url(rt.config)}/apps/{html.escape(rt.config.appId)}/request_password_reset"
    body = _FORM.format(app=app, for_app=f" for {app}", error=q.get("error", ""), action=action,
                        token=q.get("token", ""))
    return Reply(raw=body, content_type=HTML)


async def static_page(rt, req: PageRequest, page: str) -> Reply:
    """Parsnip's minimal result pages."""
    if page not in _MESSAGES:
        return _not_found()
    text = html.escape(_MESSAGES[page])
    return Reply(raw=f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{html.escape(rt.config.appName)}"
                     f"</title></head><body><h1>{text}</h1></body></html>\n", content_type=HTML)


PAGES = compile_routes([
    ("GET", "/apps/choose_password", choose_password),
    ("GET", "/apps/:appId/verify_email", verify_email),
    ("POST", "/apps/:appId/resend_verification_email", resend_verification_email),
    ("GET", "/apps/:appId/request_password_reset", open_reset_link),
    ("POST", "/apps/:appId/request_password_reset", reset_password),
    ("GET", "/apps/:page", static_page),
], constraints={"page": r"[a-z_]+\.html"})


def find_page(method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
    """The page route for a browser request under /apps, or None."""
    return match_route(PAGES, method, path)
