"""Upload links: ``PUBLIC_URL/u/TOKEN``, one per request, the token its only credential.

A token is ``HMAC-SHA256(link secret, "videx-upload-link" | request code | nonce)``, written
as 43 URL-safe base64 characters (256 bits). The catalog keeps only the token's SHA-256 and
the random nonce, never the token: whoever reads the catalog (a copy, a backup, a database
account) cannot make a working link. The link secret lives in a key file outside the
catalog, so list, letter and reminder can print a request's link again later (they derive
it from the nonce) while the catalog holds only the hash.

The key file: ``$VIDEX_LINK_KEY`` names it; without that variable it is
``$XDG_CONFIG_HOME/videx/link.key`` (``~/.config/videx/link.key``), so on a detective's own
computer ``videx init --link-key`` is all it takes. It holds 32 random bytes in hex, mode
0600, and is never overwritten. Its id (the first 16 hex digits of its SHA-256) is recorded
in the catalog (setting ``link_key_id``, and on each request) so a wrong key file is named as
such instead of printing links that do not work.

The public address is the setting ``public_url`` (``videx init --public-url``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from videx.errors import LinkKeyError, OptionError

KEY_ENV = "VIDEX_LINK_KEY"
KEY_SETTING = "link_key_id"
URL_SETTING = "public_url"
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True)
class LinkKey:
    """The upload-link secret and its id (16 hex digits)."""

    secret: bytes
    key_id: str
    path: str

    @classmethod
    def from_secret(cls, secret: bytes, path: str) -> LinkKey:
        return cls(secret, hashlib.sha256(secret).hexdigest()[:16], path)


def default_key_path() -> Path:
    """Where the link secret is: ``$VIDEX_LINK_KEY``, else the user's videx config folder."""
    named = os.environ.get(KEY_ENV)
    if named:
        return Path(named)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "videx" / "link.key"


def _missing_hint(path: Path) -> str:
    return (f"no upload-link secret at {path}: run videx init --link-key to create it (or set "
            f"{KEY_ENV} to the key file the links were made with)")


def load_key(path: str | Path | None = None) -> LinkKey:
    """The link secret from ``path`` (default ``default_key_path()``); LinkKeyError when it is
    missing or unreadable."""
    path = Path(path) if path else default_key_path()
    try:
        text = path.read_text().strip()
    except FileNotFoundError as err:
        raise LinkKeyError(_missing_hint(path)) from err
    except OSError as err:
        raise LinkKeyError(f"cannot read the upload-link secret {path}: {err.strerror}") from err
    try:
        secret = bytes.fromhex(text)
        if len(secret) < 16:
            raise ValueError("too short")
    except ValueError as err:
        raise LinkKeyError(f"{path} is not an upload-link secret (it must hold the hex key "
                           "written by videx init --link-key)") from err
    return LinkKey.from_secret(secret, str(path))


def create_key(path: str | Path | None = None) -> tuple[LinkKey, bool]:
    """(the link secret at ``path``, whether it was created now): an existing key file is
    read, never overwritten; a new one gets 32 random bytes, mode 0600 (its folder 0700)."""
    path = Path(path) if path else default_key_path()
    if path.exists():
        return load_key(path), False
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_key(path), False
    with os.fdopen(fd, "w") as fh:
        fh.write(secret.hex() + "\n")
    return LinkKey.from_secret(secret, str(path)), True


def catalog_key(cat) -> LinkKey:
    """The link secret this catalog's links are made with: the key file, checked against the
    catalog's ``link_key_id``. LinkKeyError (one line, what to do) otherwise."""
    wanted = cat.setting(KEY_SETTING)
    if wanted is None:
        raise LinkKeyError("this catalog has no upload-link secret yet: run videx init "
                           "--link-key")
    key = load_key()
    if key.key_id != wanted:
        raise LinkKeyError(f"the upload-link secret in {key.path} (key {key.key_id}) is not "
                           f"this catalog's (key {wanted}): set {KEY_ENV} to the right file")
    return key


def new_nonce() -> str:
    """16 random bytes, hex: the part of a token the catalog may know."""
    return secrets.token_hex(16)


def derive_token(key: LinkKey, code: str, nonce: str) -> str:
    """The upload token of request ``code`` (43 URL-safe characters, 256 bits)."""
    mac = hmac.new(key.secret, b"videx-upload-link\x00" + code.encode() + b"\x00"
                   + nonce.encode(), "sha256").digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def token_hash(token: str) -> str:
    """What the catalog stores of a token: its SHA-256 (hex)."""
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def well_formed(token: str | None) -> bool:
    """Whether ``token`` could be a token at all (43 URL-safe base64 characters)."""
    return bool(token) and TOKEN_RE.match(token) is not None


def check_public_url(url: str) -> str:
    """A public address for links (``https://videx.example.org`` or ``http://host:port``,
    optionally with a path), without a trailing slash; OptionError otherwise."""
    text = (url or "").strip()
    try:
        parts = urlsplit(text)
        parts.port            # noqa: B018 - raises ValueError for a bad port
    except ValueError as err:
        raise OptionError(f"cannot read public address {url!r}: {err}", "public_url") from err
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OptionError(f"public address {url!r} must start with https:// (or http://) and "
                          "name a host, e.g. https://videx.example.org", "public_url")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise OptionError(f"public address {url!r} must not hold a query, fragment or "
                          "credentials", "public_url")
    return text.rstrip("/")


def upload_url(public_url: str, token: str) -> str:
    """The link an owner opens: ``PUBLIC_URL/u/TOKEN``."""
    return f"{public_url.rstrip('/')}/u/{token}"
