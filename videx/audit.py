"""The append-only, hash-chained audit log: who changed what, and proof that nothing else did.

Every change to the catalog is written in one transaction with its audit entry: UTC time, the
operating-system account of the process (``user``), a name stated with ``--as`` beside it
(``acting_as``, never instead of it), the command, its arguments, the case number, the content
hash of every protected row the change wrote (``audit_rows``; the protected tables are listed
in ``videx.store.protected``), the previous entry's hash and its own.

Entry formats: 1 (videx 0.1: no row hashes), 2 (row hashes, ``acting_as``) and 3, written
since migration ``m009``. A format 3 entry's hash also covers how it is sealed (``alg``: plain
SHA-256, or HMAC-SHA256 with key ``KEYID``) and how many entries of the chain are sealed with
the key up to it (``sealed``), so whether, from which entry and with which key the chain is
keyed is part of what the chain commits to. Older entries keep their format and verify as
they always did; the migration's own entry is the first of format 3.

Verifying the chain, rows and checkpoints is ``videx.audit_check`` (loaded when first used:
a command that only writes entries does not pay for it); ``verify``, ``checkpoint`` and
the check's result classes are reachable from here too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from videx.errors import AuditKeyError

GENESIS = "0" * 64
DELETED = "deleted"
FORMAT = 3
KEY_ENV = "VIDEX_AUDIT_KEY"
KEY_COMMAND = "audit key"         # the entry that keys a chain (the first sealed with the key)
PLAIN = "sha256"
KEYED = "hmac-sha256:"


def protected_tables() -> tuple[str, ...]:
    """The tables whose rows are hashed (see ``videx.store.protected``)."""
    from videx.store import protected
    return protected.names()


# ------------------------------------------------------------------ identity
def os_user() -> str:
    """The operating-system account that owns this process (not $LOGNAME or $USER)."""
    uid = os.getuid()
    try:
        import pwd
        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return f"uid {uid}"


# ------------------------------------------------------------------ hashing
# One entry (a canvass, a page view) is hashed with CPython's own SHA-256: loading OpenSSL's
# (hashlib) costs 2-3 ms of every command's start-up. Row hashes, which come by the thousand
# (ingest, imports, verify), use hashlib's, loaded when first needed. Same digests either way.
try:
    from _sha2 import sha256 as _entry_sha256  # CPython 3.12 and later
except ImportError:
    try:
        from _sha256 import sha256 as _entry_sha256  # CPython 3.10, 3.11
    except ImportError:                                # (a build without them)
        from hashlib import sha256 as _entry_sha256


def canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def row_hash(table: str, row: dict) -> str:
    """SHA-256 (hex) of a row's full content, independent of column order and backend."""
    import hashlib
    return hashlib.sha256(canonical([table, row]).encode("utf-8")).hexdigest()


class RowHasher:
    """``row_hash`` for many rows of one table read as tuples with the same columns, giving
    the same hashes at about two thirds of the cost: the columns are put in the canonical
    (sorted) order once, so the JSON encoder need not sort every row's keys."""

    def __init__(self, table: str, columns: Iterable[str]):
        import hashlib
        import operator
        self.sha256 = hashlib.sha256
        columns = list(columns)
        order = sorted(range(len(columns)), key=lambda i: columns[i])
        self.table = table
        self.names = [columns[i] for i in order]
        self.pick = (operator.itemgetter(*order) if len(order) > 1
                     else (lambda values: (values[order[0]],)))
        self.encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"),
                                       default=str).encode

    def __call__(self, values) -> str:
        text = self.encode([self.table, dict(zip(self.names, self.pick(values)))])
        return self.sha256(text.encode("utf-8")).hexdigest()


def rows_digest(rows: Iterable[tuple[str, str, str]]) -> str | None:
    """SHA-256 over an entry's (table, key, row hash) triples; None for an entry with none."""
    lines = sorted(f"{t}\t{k}\t{h}" for t, k, h in rows)
    if not lines:
        return None
    import hashlib
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


class Unsorted(Exception):
    """Rows given to ``streamed_rows_digest`` were not in the digest's order."""


def streamed_rows_digest(rows: Iterable[tuple[str, str, str]]) -> str | None:
    """``rows_digest`` of triples that arrive already in the digest's order (the lines
    sorted), without holding them: raises ``Unsorted`` when one arrives out of order (the
    caller then sorts them itself)."""
    import hashlib
    digest = None
    prev = None
    for t, k, h in rows:
        line = f"{t}\t{k}\t{h}"
        if digest is None:
            digest = hashlib.sha256(line.encode("utf-8"))
        else:
            if line < prev:
                raise Unsorted(line)
            digest.update(b"\n" + line.encode("utf-8"))
        prev = line
    return None if digest is None else digest.hexdigest()


def entry_payload(entry: dict) -> bytes:
    """The bytes an entry's hash covers: format 1 entries predate row hashes and --as, format
    2 entries predate the seal's commitments (``alg``, ``sealed``)."""
    v = entry.get("v", 1)
    if v == 1:
        fields = [entry["prev_hash"], entry["at"], entry["user"], entry["command"],
                  entry["args"], entry["case_no"]]
    elif v == 2:
        fields = [entry["v"], entry["prev_hash"], entry["at"], entry["user"],
                  entry.get("acting_as"), entry["command"], entry["args"], entry["case_no"],
                  entry.get("rows_digest")]
    else:
        fields = [entry["v"], entry["prev_hash"], entry["at"], entry["user"],
                  entry.get("acting_as"), entry["command"], entry["args"], entry["case_no"],
                  entry.get("rows_digest"), entry.get("alg") or PLAIN,
                  int(entry.get("sealed") or 0)]
    return json.dumps(fields, separators=(",", ":")).encode("utf-8")


def alg_for(key: AuditKey | None) -> str:
    return PLAIN if key is None else f"{KEYED}{key.key_id}"


def key_id_of(alg: str | None) -> str | None:
    """The key id an entry's ``alg`` names, or None for a plain entry."""
    return alg[len(KEYED):] if alg and alg.startswith(KEYED) else None


def seal(entry: dict, key: AuditKey | None) -> tuple[str, str]:
    """(alg, hash) for an entry: plain SHA-256, or HMAC-SHA256 with the chain's key. A format
    3 entry's ``sealed`` (keyed entries up to and including it) must be set by the caller;
    a missing one counts as 0 (an unkeyed chain)."""
    alg = alg_for(key)
    payload = entry_payload(dict(entry, alg=alg))
    if key is None:
        return alg, _entry_sha256(payload).hexdigest()
    import hmac
    return alg, hmac.new(key.secret, payload, "sha256").hexdigest()


# ------------------------------------------------------------------ the recorded head
class Head(NamedTuple):
    """The ``audit_head`` setting: the newest entry's hash and, since format 3, how many
    entries are sealed with the key and the key's id, with an HMAC over both when keyed (so
    that keyed entries cannot be cut from the end of the chain without the key)."""

    hash: str
    sealed: int | None = None
    key_id: str | None = None
    mac: str | None = None

    def value(self):
        return {"hash": self.hash, "sealed": self.sealed, "key_id": self.key_id,
                "mac": self.mac}


def head_mac(key: AuditKey, head_hash: str, sealed: int) -> str:
    text = json.dumps(["videx audit head", head_hash, sealed, key.key_id],
                      separators=(",", ":"))
    import hmac
    return hmac.new(key.secret, text.encode("utf-8"), "sha256").hexdigest()


def new_head(head_hash: str, sealed: int, key: AuditKey | None) -> Head:
    if key is None:
        return Head(head_hash, sealed)
    return Head(head_hash, sealed, key.key_id, head_mac(key, head_hash, sealed))


def parse_head(value) -> Head | None:
    """The recorded head from its setting's (JSON-decoded) value: a hash alone (formats 1
    and 2) or a format 3 object; None when there is none; a malformed one counts as a head
    that matches nothing."""
    if value is None:
        return None
    if isinstance(value, str):
        return Head(value)
    if isinstance(value, dict) and isinstance(value.get("hash"), str):
        sealed = value.get("sealed")
        return Head(value["hash"], sealed if isinstance(sealed, int) else None,
                    value.get("key_id"), value.get("mac"))
    return Head("malformed")


# ------------------------------------------------------------------ keys
class AuditKey(NamedTuple):
    """A secret for a keyed chain; ``key_id`` (16 hex digits) names it in entries."""

    secret: bytes
    key_id: str

    @classmethod
    def from_secret(cls, secret: bytes) -> AuditKey:
        return cls(secret, _entry_sha256(secret).hexdigest()[:16])


def new_key_file(path: str | Path) -> AuditKey:
    """Write a new random key to ``path`` (owner-only permissions); refuse to overwrite."""
    path = Path(path)
    import secrets
    secret = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as err:
        raise AuditKeyError(f"{path} exists: a key file is never overwritten") from err
    with os.fdopen(fd, "w") as fh:
        fh.write(secret.hex() + "\n")
    return AuditKey.from_secret(secret)


def load_key(path: str | Path | None = None) -> AuditKey | None:
    """The key in ``path`` (or the file named by $VIDEX_AUDIT_KEY), or None when neither."""
    path = path or os.environ.get(KEY_ENV)
    if not path:
        return None
    try:
        text = Path(path).read_text().strip()
        return AuditKey.from_secret(bytes.fromhex(text))
    except (OSError, ValueError) as err:
        raise AuditKeyError(f"cannot read audit key {path}: it must hold the hex key written "
                            "by videx audit key") from err


# ------------------------------------------------------------------ verification (lazily)
_CHECK = frozenset({"ChainState", "describe_seal", "write_checkpoint", "read_checkpoint", "RowProblem", "AuditCheck", "ChainWalk", "verify_chain", "verify", "checkpoint", "enable_key", "CHECKPOINT_FORMAT"})


def __getattr__(name: str):
    """``verify``, ``checkpoint``, ``AuditCheck`` ... live in ``videx.audit_check``, imported
    the first time one is asked for (PEP 562)."""
    if name in _CHECK:
        from videx import audit_check
        return getattr(audit_check, name)
    raise AttributeError(f"module 'videx.audit' has no attribute {name!r}")
