"""Sending the account emails: the adapter interface, the SMTP adapter that `emailAdapter`
configures, and the texts of the verification and password-reset mails.

smtplib blocks, so the SMTP adapter runs each delivery in a worker thread; the trio loop
never waits on a mail server.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Mapping, Protocol

import trio


class MailAdapter(Protocol):
    """What the email flows need from a mail service."""

    async def send_mail(self, to: str, subject: str, text: str) -> None: ...


@dataclass(frozen=True, slots=True)
class SmtpAdapter:
    """Delivers through an SMTP server (optionally STARTTLS and login)."""

    host: str
    port: int
    from_address: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 30.0

    async def send_mail(self, to: str, subject: str, text: str) -> None:
        await trio.to_thread.run_sync(self._send, to, subject, text)

    def _send(self, to: str, subject: str, text: str) -> None:
        msg = EmailMessage()
        msg["From"] = self.from_address
        msg["To"] = to
        msg["Subject"] = subject
        msg.set_content(text)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(msg)


def load_adapter(option: Mapping[str, Any] | None) -> MailAdapter | None:
    """The adapter `emailAdapter` names ({"module": "smtp", "options": {...}}), or None."""
    if not option:
        return None
    module = option.get("module")
    opts = option.get("options") or {}
    if module != "smtp":
        raise ValueError(f"emailAdapter: unknown module {module!r} (Parsnip knows 'smtp')")
    if not opts.get("host") or not opts.get("fromAddress"):
        raise ValueError("emailAdapter smtp: options.host and options.fromAddress are required")
    return SmtpAdapter(host=opts["host"], port=int(opts.get("port", 25)), from_address=opts["fromAddress"],
                       username=opts.get("username"), password=opts.get("password"),
                       starttls=bool(opts.get("starttls", False)))


def verification_mail(app_name: str, email: str, link: str) -> tuple[str, str]:
    """(subject, text) of the mail that asks a user to confirm their address."""
    return (f"Please verify your e-mail for {app_name}",
            f"Hi,\n\nYou are being asked to confirm the e-mail address {email} with {app_name}\n\n"
            f"Click here to confirm it:\n{link}\n")


def reset_mail(app_name: str, username: str | None, link: str) -> tuple[str, str]:
    """(subject, text) of the mail with a password-reset link."""
    who = f" (your username is '{username}')" if username else ""
    return (f"Password Reset for {app_name}",
            f"Hi,\n\nYou requested to reset your password for {app_name}{who}.\n\n"
            f"Click here to reset it:\n{link}\n")
