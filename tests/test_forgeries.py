"""Forgeries of the evidence record, each performed with direct SQL as someone with write
access to the catalog (and the published algorithms, but not the key) would, and whether
``audit verify`` catches it with and without a checkpoint and the key: the rows of the table
in docs/integrity.md. Runs on SQLite and (VIDEX_TEST_BACKEND=postgresql) PostgreSQL."""

from __future__ import annotations

import json

import pytest

from conftest import DEMO_ID, edit
from videx import audit, catalog

FAKE_KEY = "feedfacefeedface"


class Forger:
    """Direct SQL on the catalog in VIDEX_DB, with videx's published hash functions."""

    def __init__(self, path):
        self.path = path

    def read(self):
        return catalog.open_catalog(catalog.resolve_path(None))

    def sql(self, *statements, params=()):
        edit(self.path, *statements, params=params)

    def entries(self) -> list[dict]:
        with self.read() as cat:
            return cat.auditlog.entries()

    def head(self):
        with self.read() as cat:
            return cat.auditlog.recorded_head()

    def set_head(self, value) -> None:
        self.sql("UPDATE settings SET value = ? WHERE key = 'audit_head'",
                 params=(json.dumps(value),))

    def launder_row(self, table: str, key: str) -> int:
        """Make the newest audit record of a row match its current (edited) content, and
        that entry's digest match its records; returns the entry id."""
        with self.read() as cat:
            row = cat.row_for_hash(table, key)
            entry_id = cat.db.scalar("SELECT max(entry_id) FROM audit_rows WHERE tbl = ? AND "
                                     "row_key = ?", [table, key])
            self.sql("UPDATE audit_rows SET row_hash = ? WHERE entry_id = ? AND tbl = ? AND "
                     "row_key = ?", params=(audit.row_hash(table, row), entry_id, table, key))
        with self.read() as cat:
            digest = audit.rows_digest(cat.auditlog.rows_of(entry_id))
        self.sql("UPDATE audit SET rows_digest = ? WHERE id = ?", params=(digest, entry_id))
        return entry_id

    def rechain(self, start_id: int = 1, mutate=None) -> str:
        """Recompute every entry from ``start_id`` on with plain SHA-256 (all a forger
        without the key can do) after ``mutate(entry)``; move the head; returns it."""
        log = self.entries()
        prev = audit.GENESIS if start_id == 1 else log[start_id - 2]["hash"]
        for e in log[start_id - 1:]:
            e = dict(e, prev_hash=prev, alg="sha256")
            if mutate:
                mutate(e)
            alg, digest = audit.seal(e, None)
            self.sql("UPDATE audit SET prev_hash = ?, hash = ?, alg = ?, command = ?, args = ?, "
                     "rows_digest = ? WHERE id = ?",
                     params=(prev, digest, alg, e["command"], e["args"], e["rows_digest"],
                             e["id"]))
            prev = digest
        self.set_head({"hash": prev, "sealed": 0, "key_id": None, "mac": None})
        return prev


@pytest.fixture
def forger(tmp_path):
    return Forger(tmp_path / "videx.db")


def verify(run, *args):
    r = run("audit", "verify", *args)
    return r.exit_code, r.stdout + r.stderr


def move_clip_one_hour(forger) -> None:
    forger.sql("UPDATE clips SET start_ts = start_ts + 3600, end_ts = end_ts + 3600 "
               "WHERE id = 1")


# ------------------------------------------------------------------ 1. relabelling
def test_relabelling_forgery_on_a_never_keyed_catalog_is_caught(ingested, run, forger,
                                                                 tmp_path):
    """Move a clip, launder its row hash and the entry's digest, then claim the entries are
    keyed (so that, without the key, nobody could check them): exit 1 with or without a
    checkpoint, and even when unverifiable entries are accepted."""
    cp = tmp_path / "cp.json"
    assert run("audit", "checkpoint", "--out", cp).exit_code == 0
    move_clip_one_hour(forger)
    code, out = verify(run, "--deep")
    assert code == 1 and "ROW clips 1: content differs" in out       # plain edit: deep sees it
    entry_id = forger.launder_row("clips", "1")
    code, out = verify(run, "--deep")
    assert code == 1 and f"broken at entry {entry_id}: entry was altered" in out
    forger.sql("UPDATE audit SET alg = ? WHERE id >= ?", params=(f"hmac-sha256:{FAKE_KEY}",
                                                                 entry_id))
    for extra in ((), ("--accept-unverifiable",), ("--against", cp),
                  ("--against", cp, "--accept-unverifiable")):
        code, out = verify(run, "--deep", *extra)
        assert code == 1, (extra, out)
        assert (f"audit log broken at entry {entry_id}: entry claims to be sealed with key "
                f"{FAKE_KEY}, but the chain is not keyed before it and it is not the entry "
                "that keys it: its seal was relabelled") in out


def test_a_relabelling_with_a_forged_keying_entry_needs_acceptance_and_fails_the_checkpoint(
        ingested, run, forger, tmp_path):
    """The thorough forger also turns the entry into a fake "audit key" entry and writes a
    head that claims the keyed entries: unverifiable without the key (exit 1), and a
    checkpoint taken after that entry says the chain was not keyed there. Only someone who
    both accepts unverifiable entries and has no later checkpoint is fooled: the table in
    docs/integrity.md says so."""
    move_clip_one_hour(forger)
    entry_id = forger.launder_row("clips", "1")
    cp = tmp_path / "cp.json"
    forger.sql("UPDATE clips SET start_ts = start_ts - 3600, end_ts = end_ts - 3600 "
               "WHERE id = 1")
    forger.launder_row("clips", "1")              # undo, to take an honest checkpoint ...
    assert verify(run, "--deep")[0] == 0
    assert run("audit", "checkpoint", "--out", cp).exit_code == 0
    move_clip_one_hour(forger)                    # ... and forge again after it
    forger.launder_row("clips", "1")
    log = forger.entries()
    forger.sql("UPDATE audit SET command = ?, args = ? WHERE id = ?",
               params=(audit.KEY_COMMAND, json.dumps({"key_id": FAKE_KEY}), entry_id))
    forger.sql("UPDATE audit SET alg = ? WHERE id >= ?", params=(f"hmac-sha256:{FAKE_KEY}",
                                                                 entry_id))
    sealed = len(log) - entry_id + 1
    forger.set_head({"hash": log[-1]["hash"], "sealed": sealed, "key_id": FAKE_KEY,
                     "mac": "0" * 64})
    code, out = verify(run, "--deep")
    assert code == 1 and (f"{sealed} entries (from entry {entry_id}) are sealed with key "
                          f"{FAKE_KEY} and could not be checked without it") in out
    code, out = verify(run, "--deep", "--accept-unverifiable", "--against", cp)
    assert code == 1 and "is sealed differently from the checkpoint" in out
    assert "then not keyed" in out and f"now keyed with key {FAKE_KEY}" in out
    code, out = verify(run, "--deep", "--accept-unverifiable")
    assert code == 0 and "accepted unchecked" in out    # the documented limit
    assert run("outcome", DEMO_ID, "PRIV-001", "--status", "requested").exit_code == 1


# ------------------------------------------------------------------ 2. keyed chain rewritten
def test_a_keyed_chain_rewritten_without_the_key_fails_with_the_key_or_a_checkpoint(
        city, run, forger, tmp_path, monkeypatch):
    key = tmp_path / "audit.key"
    assert run("audit", "key", "--out", key).exit_code == 0
    monkeypatch.setenv("VIDEX_AUDIT_KEY", str(key))
    assert run("outcome", DEMO_ID, "PRIV-001", "--status", "requested").exit_code == 0
    cp = tmp_path / "cp.json"
    assert run("audit", "checkpoint", "--out", cp).exit_code == 0
    assert verify(run, "--deep", "--against", cp)[0] == 0
    # rewrite: the outcome's note, every entry plain SHA-256, no key setting, no trace of it
    forger.sql("UPDATE outcomes SET note = 'never asked'")
    forger.launder_row("outcomes", "1")
    with forger.read() as cat:
        keying = [e["id"] for e in cat.auditlog.entries() if e["command"] == "audit key"][0]
    forger.sql("DELETE FROM settings WHERE key = 'audit_key_id'",
               "DELETE FROM audit_rows WHERE tbl = 'settings' AND row_key = 'audit_key_id'")
    forger.rechain(keying, mutate=lambda e: e.update(
        rows_digest=None, command="note", args="{}") if e["id"] == keying else None)
    code, out = verify(run, "--deep")
    assert code == 1 and "the key given" in out and "seals no entry of this chain" in out
    code, out = verify(run, "--deep", "--against", cp)
    assert code == 1
    monkeypatch.delenv("VIDEX_AUDIT_KEY")
    code, out = verify(run, "--deep", "--against", cp)
    assert code == 1 and "was rewritten at or before it" in out
    assert verify(run, "--deep")[0] == 0     # without key or checkpoint: the documented limit


def test_keyed_entries_cut_from_the_end_fail_with_the_key(city, run, forger, tmp_path,
                                                          monkeypatch):
    """The head is sealed with the key: removing the newest keyed entries and pointing the
    head back needs a head HMAC nobody without the key can make."""
    key = tmp_path / "audit.key"
    assert run("audit", "key", "--out", key).exit_code == 0
    monkeypatch.setenv("VIDEX_AUDIT_KEY", str(key))
    for status in ("requested", "obtained"):
        assert run("outcome", DEMO_ID, "PRIV-001", "--status", status).exit_code == 0
    log, head = forger.entries(), forger.head()
    assert head["sealed"] == 3 and head["key_id"] and head["mac"]
    forger.sql("DELETE FROM audit_rows WHERE entry_id = ?", "DELETE FROM audit WHERE id = ?",
               params=(log[-1]["id"],))
    forger.sql("DELETE FROM outcomes WHERE status = 'obtained'")
    forger.set_head(dict(head, hash=log[-2]["hash"], sealed=2))
    code, out = verify(run, "--deep")
    assert code == 1 and "the recorded head is not sealed with the key" in out
    forger.set_head(head)                                 # the old, sealed head: too long
    code, out = verify(run)
    assert code == 1 and "the newest entries were removed" in out


# ------------------------------------------------------------------ 4. unprotected rows
def test_a_role_edit_is_named_and_laundering_it_needs_a_rechain_that_a_checkpoint_catches(
        city, run, forger, tmp_path):
    assert run("users", "add", "jdoe", "--role", "detective", "--password-stdin",
               input="a-long-password\n").exit_code == 0
    cp = tmp_path / "cp.json"
    assert run("audit", "checkpoint", "--out", cp).exit_code == 0
    forger.sql("UPDATE users SET role = 'admin' WHERE name = 'jdoe'")
    code, out = verify(run, "--deep")
    assert code == 1 and "ROW users jdoe: content differs from its last audited state" in out
    assert verify(run)[0] == 0                           # rows are what --deep is for
    entry_id = forger.launder_row("users", "jdoe")
    assert "broken at entry" in verify(run, "--deep")[1]
    forger.rechain(entry_id)
    assert verify(run, "--deep")[0] == 0                 # consistent, plain: needs an anchor
    code, out = verify(run, "--deep", "--against", cp)
    assert code == 1 and "was rewritten at or before it" in out


def test_password_hash_and_disabled_flag_edits_are_named(city, run, forger):
    for name in ("jdoe", "rroe"):
        assert run("users", "add", name, "--role", "detective", "--password-stdin",
                   input="a-long-password\n").exit_code == 0
    assert run("users", "disable", "rroe").exit_code == 0
    with forger.read() as cat:
        other = cat.db.scalar("SELECT password_hash FROM users WHERE name = 'rroe'")
    forger.sql("UPDATE users SET password_hash = ? WHERE name = 'jdoe'", params=(other,))
    forger.sql("UPDATE users SET disabled = 0 WHERE name = 'rroe'")
    forger.sql("INSERT INTO users (name, role, password_hash, created_at, disabled) VALUES "
               "('mallory', 'admin', 'x', 'x', 0)")
    code, out = verify(run, "--deep")
    assert code == 1
    assert [line for line in out.splitlines() if line.startswith("ROW")] == [
        "ROW users jdoe: content differs from its last audited state",
        "ROW users mallory: has no audited state (written outside videx)",
        "ROW users rroe: content differs from its last audited state"]


def test_settings_edits_are_named_and_new_settings_are_protected_too(city, run, forger,
                                                                     open_db):
    with open_db() as cat:                     # a setting added by a later feature
        with cat.write("serve config"):
            cat.set_setting("public_url", "https://videx.example.gov")
    assert verify(run, "--deep")[0] == 0
    forger.sql("UPDATE settings SET value = ? WHERE key = 'default_tz'",
               params=(json.dumps("Europe/Berlin"),))
    forger.sql("UPDATE settings SET value = ? WHERE key = 'bounds'",
               params=(json.dumps([0, 0, 1, 1]),))
    forger.sql("UPDATE settings SET value = ? WHERE key = 'public_url'",
               params=(json.dumps("https://phish.example.com"),))
    forger.sql("INSERT INTO settings (key, value) VALUES ('smtp_host', ?)",
               params=(json.dumps("mail.example.com"),))
    code, out = verify(run, "--deep")
    assert code == 1
    rows = sorted(line for line in out.splitlines() if line.startswith("ROW"))
    assert rows == [
        "ROW settings bounds: content differs from its last audited state",
        "ROW settings default_tz: content differs from its last audited state",
        "ROW settings public_url: content differs from its last audited state",
        "ROW settings smtp_host: has no audited state (written outside videx)"]


def test_the_chain_bookkeeping_and_stray_row_hashes(ingested, run, forger):
    run("canvass", DEMO_ID)
    log = forger.entries()
    canvass = [e for e in log if e["command"] == "canvass"][-1]
    move_clip_one_hour(forger)
    with forger.read() as cat:
        forged = audit.row_hash("clips", cat.row_for_hash("clips", "1"))
    # a row hash slipped under an entry that records none
    forger.sql("INSERT INTO audit_rows (entry_id, tbl, row_key, row_hash) VALUES (?, 'clips', "
               "'1', ?)", params=(canvass["id"], forged))
    code, out = verify(run, "--deep")
    assert code == 1 and f"broken at entry {canvass['id']}: the row hashes recorded" in out
    forger.sql("DELETE FROM audit_rows WHERE entry_id = ? AND tbl = 'clips'",
               params=(canvass["id"],))
    # ... or under an entry id that does not exist (the newest for the row)
    if not _on_pg():
        forger.sql("PRAGMA foreign_keys = OFF")
    _without_fk(forger, "INSERT INTO audit_rows (entry_id, tbl, row_key, row_hash) VALUES "
                        "(999999, 'clips', '1', ?)", (forged,))
    code, out = verify(run, "--deep")
    assert code == 1 and "row hashes are recorded for entries that do not exist" in out


def _on_pg() -> bool:
    from conftest import ON_PG
    return ON_PG


def _without_fk(forger, sql, params):
    """Insert bypassing the foreign key (SQLite's sqlite3 has it off; PostgreSQL's owner can
    switch triggers off for the session)."""
    if _on_pg():
        import os

        import psycopg
        with psycopg.connect(os.environ["VIDEX_DB"], autocommit=True) as pg:
            pg.execute("SET session_replication_role = replica")
            pg.execute(sql.replace("?", "%s"), params)
    else:
        forger.sql(sql, params=params)


def test_a_keyed_chain_whose_key_setting_was_deleted_stays_keyed(city, run, forger, tmp_path,
                                                                 monkeypatch):
    """Deleting the key-id setting neither unkeys the chain for writers nor lets a second
    key be set up over it."""
    assert run("audit", "key", "--out", tmp_path / "audit.key").exit_code == 0
    forger.sql("DELETE FROM settings WHERE key = 'audit_key_id'")
    r = run("outcome", DEMO_ID, "PRIV-001", "--status", "requested")
    assert r.exit_code == 1 and "audit chain is keyed" in r.stderr
    r = run("audit", "key", "--out", tmp_path / "second.key")
    assert r.exit_code == 1 and "already keyed" in r.stderr
    assert not (tmp_path / "second.key").exists()
    monkeypatch.setenv("VIDEX_AUDIT_KEY", str(tmp_path / "audit.key"))
    code, out = verify(run, "--deep")
    assert code == 1 and "ROW settings audit_key_id: was deleted outside videx" in out
