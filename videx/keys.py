"""The department's package signing key: Ed25519 (``cryptography``), so that whoever receives
an evidence package (a prosecutor, a defence expert) can check it came from the department
unaltered, with nothing but the public key file and ``videx verify PACKAGE --public-key``.

- ``create_key(cat, out)`` writes a new private key to ``out`` (PEM, owner-only, never
  overwritten) and records the public key in the catalog (setting ``package_signing_key``,
  a protected row, with an audit entry). Keep the private key file outside the catalog;
  ``videx extract`` (and the web's package download) sign with it when
  ``$VIDEX_SIGNING_KEY`` names it.
- ``export_public_key(...)`` writes the public key (PEM) for recipients.
- A key is named by its id: the first 16 hex digits of the SHA-256 of its 32 raw public
  bytes (the same on every machine).
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from videx.errors import VidexError

KEY_ENV = "VIDEX_SIGNING_KEY"
SETTING = "package_signing_key"


class SigningKeyError(VidexError):
    """A signing or public key file is missing, unreadable or not the catalog's key."""


def _crypto():
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError as err:     # a broken install: setup.cfg requires it
        raise SigningKeyError("package signatures need the cryptography package: pip "
                              "install cryptography") from err
    return serialization, ed25519


def key_id(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


@dataclass(frozen=True)
class PublicKey:
    """An Ed25519 public key: its 32 raw bytes and id."""

    raw: bytes

    @property
    def key_id(self) -> str:
        return key_id(self.raw)

    def pem(self) -> str:
        serialization, ed25519 = _crypto()
        key = ed25519.Ed25519PublicKey.from_public_bytes(self.raw)
        return key.public_bytes(serialization.Encoding.PEM,
                                serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def verify(self, signature: bytes, data: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature
        _, ed25519 = _crypto()
        try:
            ed25519.Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, data)
        except InvalidSignature:
            return False
        return True

    def to_setting(self) -> dict:
        return {"key_id": self.key_id, "alg": "ed25519",
                "public_key": base64.b64encode(self.raw).decode()}

    @classmethod
    def from_setting(cls, value: dict) -> PublicKey:
        return cls(base64.b64decode(value["public_key"]))


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 private key (from a key file) and its public half."""

    private: object
    public: PublicKey

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data)


def load_public_key(path: str | Path) -> PublicKey:
    """A public key file as ``videx keys export`` writes it (PEM)."""
    serialization, ed25519 = _crypto()
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError, TypeError) as err:
        raise SigningKeyError(f"cannot read public key {path}: it must be the PEM file "
                              "videx keys export writes") from err
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise SigningKeyError(f"{path} is not an Ed25519 public key")
    return PublicKey(key.public_bytes(serialization.Encoding.Raw,
                                      serialization.PublicFormat.Raw))


def load_signing_key(path: str | Path | None = None) -> SigningKey | None:
    """The private key in ``path`` (or the file named by $VIDEX_SIGNING_KEY), or None when
    neither is given."""
    path = path or os.environ.get(KEY_ENV)
    if not path:
        return None
    serialization, ed25519 = _crypto()
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as err:
        raise SigningKeyError(f"cannot read signing key {path}: it must be the PEM file "
                              "videx keys create writes") from err
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise SigningKeyError(f"{path} is not an Ed25519 private key")
    raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
    return SigningKey(key, PublicKey(raw))


def catalog_key(cat) -> PublicKey | None:
    """The public key the catalog signs its packages with, or None."""
    value = cat.setting(SETTING)
    return PublicKey.from_setting(value) if value else None


def signing_key_for(cat) -> SigningKey | None:
    """The key to sign this catalog's packages with: None when the catalog has none; the
    key file in $VIDEX_SIGNING_KEY otherwise, which must be the catalog's."""
    public = catalog_key(cat)
    if public is None:
        return None
    key = load_signing_key()
    if key is None:
        raise SigningKeyError(f"this catalog signs its evidence packages (key {public.key_id}):"
                              f" set {KEY_ENV} to the key file written by videx keys create")
    if key.public != public:
        raise SigningKeyError(f"the signing key in {KEY_ENV} ({key.public.key_id}) is not this "
                              f"catalog's ({public.key_id})")
    return key


def create_key(cat, out: str | Path) -> PublicKey:
    """Write a new Ed25519 private key to ``out`` (PEM, owner-only; refuse to overwrite) and
    make it the catalog's package signing key (refused when it has one)."""
    serialization, ed25519 = _crypto()
    existing = catalog_key(cat)
    if existing is not None:
        raise SigningKeyError(f"this catalog already signs its packages with key "
                              f"{existing.key_id}")
    cat.check_writable()
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as err:
        raise SigningKeyError(f"{out} exists: a key file is never overwritten") from err
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    public = PublicKey(key.public_key().public_bytes(serialization.Encoding.Raw,
                                                     serialization.PublicFormat.Raw))
    with cat.write("keys create", {"key_id": public.key_id, "alg": "ed25519"}):
        cat.set_setting(SETTING, public.to_setting())
    return public


def export_public_key(out: str | Path, public: PublicKey) -> None:
    """Write a public key (PEM) to ``out`` (a new file)."""
    try:
        with open(out, "x", encoding="ascii") as fh:
            fh.write(public.pem())
    except FileExistsError as err:
        raise SigningKeyError(f"{out} exists: choose a new file name") from err
