"""The department's settings that letters, e-mails and upload links use (not code).

Each is a row of the catalog's ``settings`` table, changed only through ``set_settings``
(``videx settings set``) in an audited write. Unset settings read as their default.

Wording and contact (``videx settings set KEY VALUE``):

- ``department_name``, ``department_address`` (lines separated by newlines),
  ``department_phone``, ``department_email`` (also the sender of every e-mail);
- ``letter_reason``: what the department says about the case, the only case detail a letter
  gives besides the case number (default: a sentence that gives none);
- ``letter_closing``: the line before the detective's name;
- ``upload_max_mb``: the largest file an upload link takes (megabytes, default 4096);
- ``link_days_after_deadline``: how long an upload link works after the footage's deadline
  (days, default 7).

Set by ``videx init`` (shown by ``videx settings show``): ``public_url``, ``smtp_url`` (never
with a password), ``evidence_store``, ``link_key_id``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from videx.errors import OptionError


@dataclass(frozen=True)
class Setting:
    """One department setting: its key, default, and what it is for."""

    key: str
    default: object
    help: str
    kind: str = "text"        # "text", "email", "number"
    minimum: float = 0.0


WORDING = (
    Setting("department_name", "Police Department", "the department's name on letters"),
    Setting("department_address", "", "postal address (lines separated by newlines)"),
    Setting("department_phone", "", "phone number for owners' questions"),
    Setting("department_email", "", "e-mail address; the sender of every e-mail", "email"),
    Setting("letter_reason", "Your camera may have recorded something that helps an "
            "investigation.", "what the letter says about the case (case details stay out "
            "unless you put them here)"),
    Setting("letter_closing", "Thank you for your help.", "the line before the detective's "
            "name"),
    Setting("upload_max_mb", 4096, "largest file an upload link takes, megabytes", "number",
            1),
    Setting("link_days_after_deadline", 7, "days an upload link keeps working after the "
            "footage's deadline", "number", 1),
)
BY_KEY = {s.key: s for s in WORDING}
INIT_KEYS = ("public_url", "smtp_url", "evidence_store", "link_key_id", "default_tz", "bounds")


def get(cat, key: str):
    """A department setting's value, or its default."""
    return cat.setting(key, BY_KEY[key].default)


def parse_value(key: str, text: str):
    """A value given on the command line for ``key``, checked; OptionError when it is not a
    known setting or not a valid value."""
    setting = BY_KEY.get(key)
    if setting is None:
        hint = (" (set it with videx init)" if key in INIT_KEYS else "")
        raise OptionError(f"unknown setting {key!r}{hint}: one of "
                          f"{', '.join(BY_KEY)}", "key")
    text = str(text)
    if any(ord(c) < 32 and c not in "\n\t" for c in text) or len(text) > 2000:
        raise OptionError(f"{key}: the value holds control characters or is over 2000 "
                          "characters", "value")
    if setting.kind == "number":
        try:
            value = float(text)
        except ValueError as err:
            raise OptionError(f"{key}: {text!r} is not a number", "value") from err
        if not value >= setting.minimum or value != value or value > 1e9:
            raise OptionError(f"{key}: must be a number of at least {setting.minimum:g}",
                              "value")
        return int(value) if value.is_integer() else value
    if setting.kind == "email" and text and not looks_like_email(text):
        raise OptionError(f"{key}: {text!r} is not an e-mail address", "value")
    return text.strip()


def looks_like_email(text: str) -> bool:
    """A plain ``name@host.domain`` address (no display name, no spaces)."""
    import re
    return re.fullmatch(r"[^@\s<>,;]+@[^@\s<>,;]+\.[A-Za-z]{2,}", text or "") is not None


def set_settings(cat, values: dict) -> None:
    """Set department settings (``{key: value}``, values as ``parse_value`` gives them) in one
    audited write."""
    with cat.write("settings set", {"values": values}):
        for key, value in values.items():
            cat.set_setting(key, value)


def unset(cat, key: str) -> None:
    """Return a department setting to its default."""
    if key not in BY_KEY:
        raise OptionError(f"unknown setting {key!r}: one of {', '.join(BY_KEY)}", "key")
    with cat.write("settings unset", {"key": key}):
        cat.delete_setting(key)


def show(cat) -> list[dict]:
    """Every department setting and the settings ``videx init`` sets: key, value, whether it
    is the default, and what it is for."""
    rows = []
    for s in WORDING:
        stored = cat.setting(s.key)
        rows.append({"key": s.key, "value": s.default if stored is None else stored,
                     "default": stored is None, "help": s.help})
    for key in ("public_url", "smtp_url", "evidence_store", "link_key_id"):
        rows.append({"key": key, "value": cat.setting(key), "default": False,
                     "help": "set with videx init"})
    return rows


@dataclass(frozen=True)
class Configured:
    """What ``configure`` set (for ``videx init`` to say), and the link secret's file."""

    changed: dict
    link_key_path: str | None = None
    link_key_created: bool = False


def configure(cat, *, bounds=None, zone: str | None = None, public_url: str | None = None,
              smtp_url: str | None = None, evidence_store: str | None = None,
              link_key: bool = False) -> Configured:
    """``videx init``'s settings in one audited write: city bounds, zone, the public address
    of upload links, the SMTP server (never a password), the evidence store, and with
    ``link_key`` the upload-link secret (its file created when missing, outside the catalog;
    the catalog records its id). Everything is checked before anything changes."""
    from pathlib import Path

    from videx import links, mail
    values: dict = {}
    if bounds:
        values["bounds"] = list(bounds)
    if zone:
        values["default_tz"] = zone
    if public_url is not None:
        values[links.URL_SETTING] = links.check_public_url(public_url)
    if smtp_url is not None:
        values["smtp_url"] = mail.stored_url(smtp_url)
    if evidence_store is not None:
        store = Path(evidence_store).expanduser().resolve()
        if store.exists() and not store.is_dir():
            raise OptionError(f"{store} is not a folder", "evidence_store")
        try:
            store.mkdir(parents=True, exist_ok=True, mode=0o750)
        except OSError as err:
            raise OptionError(f"cannot create the evidence store {store}: {err.strerror}",
                              "evidence_store") from err
        if not os.access(store, os.W_OK):
            raise OptionError(f"the evidence store {store} is not writable", "evidence_store")
        values["evidence_store"] = str(store)
    key, created = None, False
    if link_key:
        current = cat.setting(links.KEY_SETTING)
        if current is not None:
            key = links.load_key()              # must exist and be this catalog's
            if key.key_id != current:
                raise OptionError(f"this catalog's links use key {current}, but {key.path} "
                                  f"holds key {key.key_id}: set {links.KEY_ENV} to the right "
                                  "file (a key is never replaced: links made with it would "
                                  "stop working)", "link_key")
        else:
            cat.check_writable()
            key, created = links.create_key()
            values[links.KEY_SETTING] = key.key_id
    args = {k: v for k, v in values.items()}
    with cat.write("init", {"bounds": values.get("bounds"), "tz": zone, **{
            k: v for k, v in args.items() if k not in ("bounds", "default_tz")}}):
        for k, v in values.items():
            cat.set_setting(k, v)
    return Configured(values, key.path if key else None, created)
