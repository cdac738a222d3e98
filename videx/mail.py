"""Sending e-mail through the department's SMTP server (letters, reminders, receipts).

Where the server is: ``$VIDEX_SMTP_URL``, else the catalog's ``smtp_url`` setting (``videx
init --smtp URL``). The URL says how to connect:

- ``smtp://[user@]host[:port]``: STARTTLS (port 587 by default), required: a server that does
  not offer it is refused rather than sent a password or a letter in the clear;
- ``smtps://[user@]host[:port]``: TLS from the first byte (port 465 by default);
- ``smtp://host:25?tls=none``: no encryption, for a relay on the same machine or network
  only; refused together with a user name.

The password is never in the catalog: it comes from ``$VIDEX_SMTP_PASSWORD`` (or from a
password inside ``$VIDEX_SMTP_URL``, which lives only in the environment); ``videx init
--smtp`` refuses a URL holding one. It is never printed, logged or written to the audit log:
``SmtpConfig.describe()`` is what messages and audit entries show (``host:port``, the mode,
the user). ``$VIDEX_SMTP_CAFILE`` names extra CA certificates to trust (an internal mail
server). Every connection has a timeout.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from videx.errors import MailError, OptionError

URL_ENV = "VIDEX_SMTP_URL"
PASSWORD_ENV = "VIDEX_SMTP_PASSWORD"
CAFILE_ENV = "VIDEX_SMTP_CAFILE"
SETTING = "smtp_url"
TIMEOUT_S = 30.0


@dataclass(frozen=True)
class SmtpConfig:
    """How to reach the SMTP server. ``password`` never leaves this object (not in
    ``repr``, ``describe`` or any message)."""

    host: str
    port: int
    mode: str                      # "starttls", "tls" or "none"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: str | None = None

    def describe(self) -> str:
        """``host:port (mode, user NAME)``: what messages and audit entries may show."""
        who = f", user {self.user}" if self.user else ""
        return f"{self.host}:{self.port} ({self.mode}{who})"


def parse_url(url: str, password: str | None = None, allow_password: bool = True
              ) -> SmtpConfig:
    """An ``smtp://`` or ``smtps://`` URL (see module docstring) as a config; OptionError
    naming what is wrong (without echoing a password)."""
    try:
        parts = urlsplit((url or "").strip())
        port = parts.port
    except ValueError as err:
        raise OptionError(f"cannot read the SMTP URL: {err}", "smtp") from err
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise OptionError("the SMTP URL must look like smtp://user@mail.example.org:587 or "
                          "smtps://mail.example.org", "smtp")
    if parts.password and not allow_password:
        raise OptionError(f"the SMTP URL holds a password: give it without one and put the "
                          f"password in ${PASSWORD_ENV} (it is never stored in the catalog)",
                          "smtp")
    query = parse_qs(parts.query)
    tls = (query.get("tls") or [""])[0].lower()
    if parts.scheme == "smtps":
        mode = "tls"
    elif tls in ("", "starttls"):
        mode = "starttls"
    elif tls == "none":
        mode = "none"
    else:
        raise OptionError(f"unknown tls={tls!r} in the SMTP URL (starttls or none)", "smtp")
    user = unquote(parts.username) if parts.username else None
    if mode == "none" and user:
        raise OptionError("the SMTP URL asks for no encryption and a user: a password is never "
                          "sent unencrypted (use STARTTLS or smtps://)", "smtp")
    default_port = {"tls": 465, "starttls": 587, "none": 25}[mode]
    return SmtpConfig(parts.hostname, port or default_port, mode, user,
                      unquote(parts.password) if parts.password else password,
                      os.environ.get(CAFILE_ENV) or None)


def stored_url(url: str) -> str:
    """The URL to keep in the catalog (``videx init --smtp``): checked, never with a
    password."""
    parse_url(url, allow_password=False)
    return url.strip()


def config(cat) -> SmtpConfig:
    """The SMTP server to send through; MailError (one line, what to do) when none is set."""
    url = os.environ.get(URL_ENV) or cat.setting(SETTING)
    if not url:
        raise MailError(f"no SMTP server configured: set one with videx init --smtp URL or "
                        f"${URL_ENV}; nothing was sent")
    try:
        return parse_url(url, os.environ.get(PASSWORD_ENV))
    except OptionError as err:
        raise MailError(str(err)) from err


def configured(cat) -> bool:
    """Whether an SMTP server is set (receipts are e-mailed only then)."""
    return bool(os.environ.get(URL_ENV) or cat.setting(SETTING))


def _context(cfg: SmtpConfig) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if cfg.cafile:
        ctx.load_verify_locations(cfg.cafile)
    return ctx


def _connect(cfg: SmtpConfig) -> smtplib.SMTP:
    where = cfg.describe()
    try:
        if cfg.mode == "tls":
            server = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=TIMEOUT_S,
                                      context=_context(cfg))
        else:
            server = smtplib.SMTP(cfg.host, cfg.port, timeout=TIMEOUT_S)
            server.ehlo()
            if cfg.mode == "starttls":
                if not server.has_extn("starttls"):
                    server.close()
                    raise MailError(f"SMTP server {where} does not offer STARTTLS: nothing was "
                                    "sent (use smtps://, or tls=none for a local relay)")
                server.starttls(context=_context(cfg))
                server.ehlo()
        if cfg.user:
            if cfg.password is None:
                server.close()
                raise MailError(f"SMTP server {where} needs the password of {cfg.user}: set "
                                f"${PASSWORD_ENV}")
            server.login(cfg.user, cfg.password)
        return server
    except MailError:
        raise
    except smtplib.SMTPAuthenticationError as err:
        raise MailError(f"SMTP server {where} refused the sign-in of {cfg.user} (check "
                        f"${PASSWORD_ENV}): {_reply(err)}") from err
    except (smtplib.SMTPException, OSError) as err:
        raise MailError(f"cannot send through SMTP server {where}: {_why(err)}") from err


def _reply(err: smtplib.SMTPResponseException) -> str:
    text = err.smtp_error.decode("utf-8", "replace") if isinstance(err.smtp_error, bytes) \
        else str(err.smtp_error)
    return f"{err.smtp_code} {text.splitlines()[0] if text else ''}".strip()


def _why(err: Exception) -> str:
    if isinstance(err, smtplib.SMTPResponseException):
        return _reply(err)
    if isinstance(err, ssl.SSLCertVerificationError):
        return f"its certificate is not trusted ({err.verify_message}; ${CAFILE_ENV} names " \
               "extra CA certificates)"
    return str(err) or err.__class__.__name__


def send_all(cfg: SmtpConfig, messages: list[EmailMessage]) -> list[str | None]:
    """Send each message on one connection; for each, None when the server accepted it,
    else why not (one line). A connection that cannot be made fails every message."""
    try:
        server = _connect(cfg)
    except MailError as err:
        return [str(err)] * len(messages)
    out: list[str | None] = []
    try:
        for msg in messages:
            try:
                refused = server.send_message(msg)
                out.append(f"the server refused {', '.join(refused)}" if refused else None)
            except smtplib.SMTPRecipientsRefused as err:
                out.append(f"the server refused the recipient "
                           f"{', '.join(err.recipients)}")
            except (smtplib.SMTPException, OSError) as err:
                out.append(f"cannot send through SMTP server {cfg.describe()}: {_why(err)}")
    finally:
        try:
            server.quit()
        except (smtplib.SMTPException, OSError):
            server.close()
    return out


def send_one(cfg: SmtpConfig, message: EmailMessage) -> None:
    """Send one message; MailError when it was not accepted."""
    error = send_all(cfg, [message])[0]
    if error:
        raise MailError(error)
