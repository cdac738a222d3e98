"""The append-only, hash-chained audit log.

Every command that changes the catalog, and every canvass, appends one entry: UTC time, OS
user, command, arguments, case number, the previous entry's hash and its own hash
(SHA-256 over the previous hash and the entry's fields). ``verify`` walks the chain and names
the first entry that was altered, removed or reordered.
"""

from __future__ import annotations

import getpass
import hashlib
import json
from dataclasses import dataclass

from sqlite_utils import Database

from videx.timeutil import iso_utc, now_utc

GENESIS = "0" * 64


def current_user() -> str:
    """The OS login name, or 'unknown'."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "unknown"


def entry_hash(prev_hash: str, at: str, user: str, command: str, args: str,
               case_no: str | None) -> str:
    """SHA-256 (hex) binding an entry's fields to the hash of the entry before it."""
    payload = json.dumps([prev_hash, at, user, command, args, case_no], separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def append(db: Database, command: str, args: dict | None = None,
           case_no: str | None = None) -> str:
    """Append an entry (inside the caller's transaction, if any) and return its hash."""
    row = db.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    prev = row[0] if row else GENESIS
    at, user = iso_utc(now_utc()), current_user()
    args_json = json.dumps(args or {}, sort_keys=True, default=str)
    digest = entry_hash(prev, at, user, command, args_json, case_no)
    db.execute("INSERT INTO audit (at, user, command, args, case_no, prev_hash, hash) "
               "VALUES (?, ?, ?, ?, ?, ?, ?)", [at, user, command, args_json, case_no, prev,
                                                  digest])
    db.execute("INSERT INTO settings (key, value) VALUES ('audit_head', ?) "
               "ON CONFLICT (key) DO UPDATE SET value = excluded.value", [json.dumps(digest)])
    if not db.conn.in_transaction:
        db.conn.commit()
    return digest


@dataclass(frozen=True)
class AuditCheck:
    """Result of verifying the chain: ``ok`` or the first bad entry and why."""

    entries: int
    ok: bool
    bad_id: int | None = None
    problem: str | None = None

    def summary(self) -> str:
        if self.ok:
            return f"audit log intact: {self.entries} entries, hash chain verified"
        return f"audit log broken at entry {self.bad_id}: {self.problem}"

    def to_dict(self) -> dict:
        return {"entries": self.entries, "ok": self.ok, "bad_id": self.bad_id,
                "problem": self.problem}


def verify(db: Database) -> AuditCheck:
    """Walk the chain in id order and report the first altered, removed or reordered entry."""
    prev = GENESIS
    count = 0
    last_id = 0
    for row in db.execute("SELECT id, at, user, command, args, case_no, prev_hash, hash "
                          "FROM audit ORDER BY id"):
        count += 1
        id_, at, user, command, args, case_no, prev_hash, digest = row
        if id_ != last_id + 1:
            return AuditCheck(count, False, id_, f"entries {last_id + 1}..{id_ - 1} were removed")
        if prev_hash != prev:
            return AuditCheck(count, False, id_, "its link to the entry before does not match: "
                                                "entries were reordered, or one was removed or "
                                                "rewritten")
        if entry_hash(prev_hash, at, user, command, args, case_no) != digest:
            return AuditCheck(count, False, id_, "entry was altered (its hash does not match "
                                                "its contents)")
        prev, last_id = digest, id_
    head = db.execute("SELECT value FROM settings WHERE key = 'audit_head'").fetchone()
    if head and json.loads(head[0]) != prev:
        return AuditCheck(count, False, last_id + 1, "the newest entries were removed (the "
                                                     "recorded head of the chain is missing)")
    return AuditCheck(count, True)


def entries(db: Database, limit: int | None = None) -> list[dict]:
    """Audit entries, newest last (the last ``limit`` when given)."""
    rows = list(db.query("SELECT id, at, user, command, args, case_no, hash FROM audit "
                         "ORDER BY id"))
    return rows[-limit:] if limit else rows
