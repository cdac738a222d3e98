"""The append-only, hash-chained audit log: who changed what, and proof that nothing else did.

Every change to the catalog is written in one transaction with its audit entry: UTC time, the
operating-system account of the process (``user``), a name stated with ``--as`` beside it
(``acting_as``, never instead of it), the command, its arguments, the case number, the content
hash of every row the change wrote (``audit_rows``), the previous entry's hash and its own.

What ``verify`` detects:

- chain: an entry altered, removed or reordered; the newest entries removed (against the
  recorded head); an entry's row hashes altered;
- ``deep``: every camera, incident, clip, outcome, review, request or request file whose
  current content differs from its last audited state, every such row with no audited state, and every audited row that is
  gone;
- ``against`` a checkpoint kept outside the catalog: truncation, deletion of the whole log, or
  a chain recomputed from an entry on (which otherwise verifies, since SHA-256 needs no key);
- keyed chain (HMAC-SHA256 with a key file kept outside the catalog): entries cannot be
  recomputed without the key, and a plain entry after a keyed one is refused.

What it cannot detect: a change made and audited through videx by someone entitled to do it
(that is a record, not tampering), or, without a checkpoint or key, a whole log rewritten
consistently by someone with write access to the file. Keep checkpoints.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from videx.errors import AuditKeyError, VidexError

GENESIS = "0" * 64
DELETED = "deleted"
FORMAT = 2
KEY_ENV = "VIDEX_AUDIT_KEY"
HASHED_TABLES = ("cameras", "incidents", "clips", "outcomes", "reviews", "bookmarks",
                 "requests", "request_files")


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
def canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def row_hash(table: str, row: dict) -> str:
    """SHA-256 (hex) of a row's full content, independent of column order and backend."""
    return hashlib.sha256(canonical([table, row]).encode("utf-8")).hexdigest()


def rows_digest(rows: Iterable[tuple[str, str, str]]) -> str | None:
    """SHA-256 over an entry's (table, key, row hash) triples; None for an entry with none."""
    lines = sorted(f"{t}\t{k}\t{h}" for t, k, h in rows)
    if not lines:
        return None
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def entry_payload(entry: dict) -> bytes:
    """The bytes an entry's hash covers (format 1 entries predate row hashes and --as)."""
    if entry.get("v", 1) == 1:
        fields = [entry["prev_hash"], entry["at"], entry["user"], entry["command"],
                  entry["args"], entry["case_no"]]
    else:
        fields = [entry["v"], entry["prev_hash"], entry["at"], entry["user"],
                  entry.get("acting_as"), entry["command"], entry["args"], entry["case_no"],
                  entry.get("rows_digest")]
    return json.dumps(fields, separators=(",", ":")).encode("utf-8")


def seal(entry: dict, key: AuditKey | None) -> tuple[str, str]:
    """(alg, hash) for an entry: plain SHA-256, or HMAC-SHA256 with the chain's key."""
    payload = entry_payload(entry)
    if key is None:
        return "sha256", hashlib.sha256(payload).hexdigest()
    return f"hmac-sha256:{key.key_id}", hmac.new(key.secret, payload, "sha256").hexdigest()


# ------------------------------------------------------------------ keys
@dataclass(frozen=True)
class AuditKey:
    """A secret for a keyed chain; ``key_id`` (16 hex digits) names it in entries."""

    secret: bytes
    key_id: str

    @classmethod
    def from_secret(cls, secret: bytes) -> AuditKey:
        return cls(secret, hashlib.sha256(secret).hexdigest()[:16])


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


# ------------------------------------------------------------------ checkpoints
def write_checkpoint(path: str | Path, location: str, entry: dict, entries: int,
                     written_at: str) -> dict:
    """Write the chain's head to ``path`` (JSON) for safekeeping outside the catalog."""
    doc = {"videx_audit_checkpoint": 1, "catalog": location, "entry": entry["id"],
           "hash": entry["hash"], "entry_at": entry["at"], "entries": entries,
           "written_at": written_at}
    Path(path).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return doc


def read_checkpoint(path: str | Path) -> dict:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        if doc.get("videx_audit_checkpoint") != 1:
            raise ValueError("not a videx audit checkpoint")
        int(doc["entry"]), str(doc["hash"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise VidexError(f"{path}: not a readable audit checkpoint ({err})") from err
    return doc


# ------------------------------------------------------------------ verification
@dataclass(frozen=True)
class RowProblem:
    """One row whose content does not match its audit record."""

    table: str
    key: str
    problem: str   # "changed", "unaudited" or "deleted"

    def __str__(self) -> str:
        text = {"changed": "content differs from its last audited state",
                "unaudited": "has no audited state (written outside videx)",
                "deleted": "was deleted outside videx (audited, now missing)"}[self.problem]
        return f"{self.table} {self.key}: {text}"


@dataclass(frozen=True)
class AuditCheck:
    """Result of verifying the log: ``ok``, or the first bad entry and every bad row."""

    entries: int
    ok: bool
    bad_id: int | None = None
    problem: str | None = None
    deep: bool = False
    rows_checked: int = 0
    row_problems: list[RowProblem] = field(default_factory=list)
    checkpoint: dict | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.bad_id is not None:
            return f"audit log broken at entry {self.bad_id}: {self.problem}"
        if self.problem:
            return f"audit log check failed: {self.problem}"
        if self.row_problems:
            return (f"audit log intact: {self.entries} entries, but {len(self.row_problems)} "
                    f"row(s) of {self.rows_checked} differ from their audited state")
        text = f"audit log intact: {self.entries} entries, hash chain verified"
        if self.deep:
            text += f"; {self.rows_checked} rows match their audited state"
        if self.checkpoint:
            text += f"; contains checkpoint entry {self.checkpoint['entry']}"
        return text

    def to_dict(self) -> dict:
        return {"entries": self.entries, "ok": self.ok, "bad_id": self.bad_id,
                "problem": self.problem, "deep": self.deep, "rows_checked": self.rows_checked,
                "row_problems": [{"table": p.table, "key": p.key, "problem": p.problem}
                                 for p in self.row_problems],
                "checkpoint": self.checkpoint, "notes": self.notes}


def verify_chain(entries: Iterable[dict], rows_of, recorded_head: str | None,
                 key: AuditKey | None) -> AuditCheck:
    """Walk entries in id order; ``rows_of(entry_id)`` gives an entry's row hash triples."""
    prev, count, last_id = GENESIS, 0, 0
    keyed_since: int | None = None
    unchecked = 0
    for e in entries:
        count += 1
        if e["id"] != last_id + 1:
            return AuditCheck(count, False, e["id"],
                              f"entries {last_id + 1}..{e['id'] - 1} were removed")
        if e["prev_hash"] != prev:
            return AuditCheck(count, False, e["id"],
                              "its link to the entry before does not match: entries were "
                              "reordered, or one was removed or rewritten")
        alg = e.get("alg") or "sha256"
        if alg.startswith("hmac-sha256:"):
            keyed_since = keyed_since or e["id"]
            if key is None:
                unchecked += 1
            elif alg != f"hmac-sha256:{key.key_id}":
                return AuditCheck(count, False, e["id"], f"entry is sealed with key "
                                  f"{alg.split(':', 1)[1]}, not the key given ({key.key_id})")
            elif not hmac.compare_digest(seal(e, key)[1], e["hash"]):
                return AuditCheck(count, False, e["id"], "entry was altered (its keyed hash "
                                  "does not match its contents)")
        elif keyed_since is not None:
            return AuditCheck(count, False, e["id"], f"entry is not keyed although the chain is "
                              f"keyed since entry {keyed_since}: it was rewritten without the key")
        elif seal(e, None)[1] != e["hash"]:
            return AuditCheck(count, False, e["id"],
                              "entry was altered (its hash does not match its contents)")
        if e.get("v", 1) >= 2 and rows_digest(rows_of(e["id"])) != e.get("rows_digest"):
            return AuditCheck(count, False, e["id"], "the row hashes recorded with this entry "
                              "were altered")
        prev, last_id = e["hash"], e["id"]
    if recorded_head is not None and recorded_head != prev:
        return AuditCheck(count, False, last_id + 1, "the newest entries were removed (the "
                                                     "recorded head of the chain is missing)")
    notes = []
    if unchecked:
        notes.append(f"{unchecked} keyed entries were checked for order and links but not "
                     f"for content: set {KEY_ENV} to the key file to check them")
    return AuditCheck(count, True, notes=notes)


def verify(cat, deep: bool = False, against: str | Path | None = None,
           progress=None) -> AuditCheck:
    """Verify a catalog's log: the chain always; every hashed row with ``deep``; that the log
    still holds a checkpoint's head with ``against``."""
    log = cat.auditlog
    check = verify_chain(log.iter_entries(), log.rows_of, log.recorded_head(), cat.audit_key)
    if not check.ok:
        return check
    notes = list(check.notes)
    checkpoint = None
    if against is not None:
        checkpoint = read_checkpoint(against)
        held = log.entry(int(checkpoint["entry"]))
        if held is None:
            return AuditCheck(check.entries, False, None,
                              f"entry {checkpoint['entry']} of the checkpoint written "
                              f"{checkpoint.get('written_at')} is missing: the log was "
                              "truncated or deleted", checkpoint=checkpoint)
        if held["hash"] != checkpoint["hash"]:
            return AuditCheck(check.entries, False, None,
                              f"entry {checkpoint['entry']} differs from the checkpoint written "
                              f"{checkpoint.get('written_at')}: the log was rewritten at or "
                              "before it", checkpoint=checkpoint)
    problems: list[RowProblem] = []
    checked = 0
    if deep:
        for table in HASHED_TABLES:
            for batch in cat.iter_rows_for_hash(table):
                key_col = cat.KEYS[table]
                keys = [str(r[key_col]) for r in batch]
                audited = log.latest_hashes(table, keys)
                for key, row in zip(keys, batch):
                    checked += 1
                    if key not in audited:
                        problems.append(RowProblem(table, key, "unaudited"))
                    elif audited[key] != row_hash(table, row):
                        problems.append(RowProblem(table, key, "changed"))
                if progress:
                    progress(len(batch))
            for key in log.audited_but_missing(table, cat.KEYS[table],
                                               table in cat.INTEGER_KEYS, DELETED):
                problems.append(RowProblem(table, key, "deleted"))
    return AuditCheck(check.entries, not problems, None, None, deep, checked, problems,
                      checkpoint, notes)


def checkpoint(cat, out: str | Path) -> dict:
    """Record a checkpoint entry, then write the head (that entry) to ``out``."""
    if Path(out).exists():
        raise VidexError(f"{out} exists: a checkpoint file is never overwritten")
    with cat.write("audit checkpoint", {"out": str(out)}):
        pass
    last = cat.auditlog.entry(cat.auditlog.last()["id"])
    from videx.timeutil import iso_utc, now_utc
    return write_checkpoint(out, cat.location, last, cat.auditlog.count(), iso_utc(now_utc()))


def enable_key(cat, key_file: str | Path) -> AuditKey:
    """Create a key file and seal every later entry of this catalog's chain with it."""
    if cat.setting("audit_key_id") is not None:
        raise AuditKeyError(f"the audit chain is already keyed (key "
                            f"{cat.setting('audit_key_id')})")
    cat.check_writable()
    key = new_key_file(key_file)
    cat._key = key
    with cat.write("audit key", {"key_id": key.key_id}):
        cat.set_setting("audit_key_id", key.key_id)
    return key
