"""The audit log: entries with every change, the chain, row hashes, checkpoints, keys, identity."""

import json
import os
import pwd

import pytest

from conftest import DEMO_ID, edit
from videx import audit


def entries(run):
    return json.loads(run("audit", "list", "--format", "json", "--limit", "0").stdout)


def test_changes_and_canvasses_are_logged(ingested, run):
    run("canvass", DEMO_ID)
    run("outcome", DEMO_ID, "PRIV-001", "--status", "requested")
    log = entries(run)
    commands = [e["command"] for e in log]
    assert commands[:6] == ["migrate", "init", "cameras import", "cameras import",
                            "incidents import", "ingest"]
    assert commands[-2:] == ["canvass", "outcome"]
    assert log[-1]["case_no"] == DEMO_ID and log[-2]["case_no"] == DEMO_ID
    assert json.loads(log[-1]["args"])["status"] == "requested"
    r = run("audit", "verify")
    assert r.exit_code == 0
    assert r.stdout.strip() == f"audit log intact: {len(log)} entries, hash chain verified"


def test_the_os_account_is_recorded_and_a_stated_name_beside_it(city, run, monkeypatch):
    monkeypatch.setenv("LOGNAME", "chief_of_police")
    monkeypatch.setenv("USER", "chief_of_police")
    assert run("--as", "Det. R. Diaz", "outcome", DEMO_ID, "PRIV-001", "--status",
               "requested").exit_code == 0
    last = entries(run)[-1]
    assert last["user"] == pwd.getpwuid(os.getuid()).pw_name != "chief_of_police"
    assert last["acting_as"] == "Det. R. Diaz"
    shown = json.loads(run("incidents", "show", DEMO_ID, "--format", "json").stdout)
    assert shown["outcomes"][-1]["recorded_by"] == last["user"]
    assert shown["outcomes"][-1]["acting_as"] == "Det. R. Diaz"


def test_altered_entry_is_named(city, run, tmp_path):
    edit(tmp_path / "videx.db", "UPDATE audit SET args = '{}' WHERE id = 3")
    r = run("audit", "verify")
    assert r.exit_code == 1
    assert r.stdout.strip() == ("audit log broken at entry 3: entry was altered (its hash does "
                                "not match its contents)")


def test_removed_entry_is_named(city, run, tmp_path):
    edit(tmp_path / "videx.db", "DELETE FROM audit_rows WHERE entry_id = 2",
         "DELETE FROM audit WHERE id = 2")
    assert run("audit", "verify").stdout.strip() == (
        "audit log broken at entry 3: entries 2..2 were removed")


@pytest.mark.sqlite_only   # its tampering SQL is SQLite's (json_quote, PRAGMA, rowid)
def test_reordered_entries_are_named(city, run, tmp_path):
    edit(tmp_path / "videx.db", "PRAGMA foreign_keys = OFF",
         "UPDATE audit SET id = 100 WHERE id = 2", "UPDATE audit SET id = 2 WHERE id = 3",
         "UPDATE audit SET id = 3 WHERE id = 100")
    assert run("audit", "verify").stdout.strip().startswith(
        "audit log broken at entry 2: its link to the entry before does not match")


def test_removed_newest_entry_is_noticed(city, run, tmp_path):
    edit(tmp_path / "videx.db", "DELETE FROM audit_rows WHERE entry_id = "
         "(SELECT max(id) FROM audit)", "DELETE FROM audit WHERE id = (SELECT max(id) FROM audit)")
    r = run("audit", "verify")
    assert r.exit_code == 1
    assert "the newest entries were removed" in r.stdout


@pytest.mark.sqlite_only   # its tampering SQL is SQLite's (json_quote, PRAGMA, rowid)
def test_altered_row_hashes_are_named(city, run, tmp_path):
    edit(tmp_path / "videx.db", "UPDATE audit_rows SET row_hash = 'x' WHERE rowid = "
         "(SELECT min(rowid) FROM audit_rows)")
    r = run("audit", "verify")
    assert r.exit_code == 1
    assert "the row hashes recorded with this entry were altered" in r.stdout


def test_chain_links_each_entry_to_the_one_before(db):
    with db.write("test", {"a": 1}):
        pass
    with db.write("test", {"a": 2}, case_no="X"):
        pass
    rows = [(e["prev_hash"], e["hash"]) for e in db.auditlog.entries()]
    assert rows[0][0] == audit.GENESIS
    assert rows[1][0] == rows[0][1] and rows[2][0] == rows[1][1]
    assert db.auditlog.entries()[-1]["case_no"] == "X"


# ------------------------------------------------------------------ deep verify
@pytest.mark.sqlite_only   # its tampering SQL is SQLite's (json_quote, PRAGMA, rowid)
def test_deep_verify_names_every_direct_sql_edit(ingested, run, tmp_path):
    clip = json.loads(run("clips", "list", "--format", "json").stdout)[0]
    run("outcome", DEMO_ID, "PRIV-001", "--status", "requested", "--note", "asked")
    run("review", DEMO_ID, clip["id"], "--probative")
    assert run("audit", "verify", "--deep").exit_code == 0
    edit(tmp_path / "videx.db",
         "UPDATE clips SET start_ts = start_ts + 3600, start = 'x' WHERE id = 1",
         "UPDATE cameras SET clock_offset_s = 12 WHERE id = 'CITY-002'",
         "UPDATE clips SET path = '/elsewhere.mp4', sha256 = 'ab' WHERE id = 2",
         "DELETE FROM reviews", "DELETE FROM outcomes",
         "PRAGMA foreign_keys = OFF", "DELETE FROM clips WHERE id = 3",
         "INSERT INTO incidents (id, occurred_at, occurred_ts, time_source, lat, lon, "
         "updated_at) VALUES ('FAKE', 'x', 0, 'x', 41.76, -72.68, 'x')")
    r = run("audit", "verify", "--deep")
    assert r.exit_code == 1
    rows = [line for line in r.stdout.splitlines() if line.startswith("ROW ")]
    assert rows == [
        "ROW cameras CITY-002: content differs from its last audited state",
        "ROW incidents FAKE: has no audited state (written outside videx)",
        "ROW clips 1: content differs from its last audited state",
        "ROW clips 2: content differs from its last audited state",
        "ROW clips 3: was deleted outside videx (audited, now missing)",
        "ROW outcomes 1: was deleted outside videx (audited, now missing)",
        "ROW reviews 1: was deleted outside videx (audited, now missing)"]
    assert run("audit", "verify").exit_code == 0     # the chain itself was not touched


def test_changes_through_videx_keep_deep_verify_green(ingested, run):
    f = ingested.parent / "offset.csv"
    f.write_text("id,source,integration,lat,lon,clock_offset_s\n"
                 "RING-002,private,connected,41.76031,-72.68551,95\n")
    assert run("cameras", "import", f, "--update").exit_code == 0   # re-corrects RING-002's clips
    run("scan", "--incident", DEMO_ID)
    check = json.loads(run("audit", "verify", "--deep", "--format", "json").stdout)
    assert check["ok"] and check["rows_checked"] > 500 and check["row_problems"] == []


# ------------------------------------------------------------------ checkpoints
@pytest.mark.sqlite_only   # its tampering SQL is SQLite's (json_quote, PRAGMA, rowid)
def test_checkpoint_catches_truncation_deletion_and_rechaining(city, run, tmp_path):
    cp = tmp_path / "cp.json"
    r = run("audit", "checkpoint", "--out", cp)
    assert r.exit_code == 0
    doc = json.loads(cp.read_text())
    assert run("audit", "verify", "--against", cp).exit_code == 0
    run("outcome", DEMO_ID, "PRIV-001", "--status", "requested")
    assert run("audit", "verify", "--against", cp).exit_code == 0   # later entries are fine
    db = tmp_path / "videx.db"
    # truncate the tail and move the recorded head back: the plain chain check passes ...
    edit(db, f"DELETE FROM audit_rows WHERE entry_id >= {doc['entry'] - 1}",
         f"DELETE FROM audit WHERE id >= {doc['entry'] - 1}",
         "UPDATE settings SET value = (SELECT json_quote(hash) FROM audit ORDER BY id DESC "
         "LIMIT 1) WHERE key = 'audit_head'")
    assert run("audit", "verify").exit_code == 0
    r = run("audit", "verify", "--against", cp)       # ... the checkpoint does not
    assert r.exit_code == 1
    assert f"entry {doc['entry']} of the checkpoint" in r.stdout and "truncated" in r.stdout
    edit(db, "DELETE FROM audit_rows", "DELETE FROM audit", "DELETE FROM settings WHERE key = "
         "'audit_head'")
    r = run("audit", "verify", "--against", cp)
    assert r.exit_code == 1 and "the log was deleted" in r.stdout
    r = run("audit", "verify", "--deep")              # without the checkpoint too
    assert r.exit_code == 1 and "the audit log is empty" in r.stdout
    assert "ROW incidents HPD-23-004120: has no audited state" in r.stdout


@pytest.mark.sqlite_only   # its tampering SQL is SQLite's (json_quote, PRAGMA, rowid)
def test_a_recomputed_chain_fails_against_the_checkpoint(city, run, tmp_path, open_db):
    cp = tmp_path / "cp.json"
    run("audit", "checkpoint", "--out", cp)
    # rewrite entry 2's arguments and recompute every hash after it, as a forger would
    cat = open_db()
    log = cat.auditlog.entries()
    edit(tmp_path / "videx.db", "UPDATE audit SET args = '{\"file\": \"forged.csv\"}' "
         "WHERE id = 2")
    prev = log[0]["hash"]
    for e in log[1:]:
        e = dict(e, prev_hash=prev)
        if e["id"] == 2:
            e["args"] = '{"file": "forged.csv"}'
        digest = audit.seal(e, None)[1]
        edit(tmp_path / "videx.db", "UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?",
             params=(prev, digest, e["id"]))
        prev = digest
    edit(tmp_path / "videx.db", "UPDATE settings SET value = json_quote(?) WHERE key = "
         "'audit_head'", params=(prev,))
    assert run("audit", "verify").exit_code == 0          # SHA-256 needs no key ...
    r = run("audit", "verify", "--against", cp)
    assert r.exit_code == 1 and "was rewritten at or before it" in r.stdout


# ------------------------------------------------------------------ keyed chain
@pytest.mark.sqlite_only   # its tampering SQL is SQLite's (json_quote, PRAGMA, rowid)
def test_keyed_chain_cannot_be_recomputed_without_the_key(city, run, tmp_path, monkeypatch,
                                                        open_db):
    key = tmp_path / "audit.key"
    assert run("audit", "key", "--out", key).exit_code == 0
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    r = run("outcome", DEMO_ID, "PRIV-001", "--status", "requested")
    assert r.exit_code == 1
    assert "audit chain is keyed" in r.stderr and "VIDEX_AUDIT_KEY" in r.stderr
    r = run("canvass", DEMO_ID, "--format", "json")        # a read still answers, and says
    assert r.exit_code == 0 and json.loads(r.stdout)["incident"]["id"] == DEMO_ID
    assert "Warning: audit entry not written: this catalog's audit chain is keyed" in r.stderr
    monkeypatch.setenv("VIDEX_AUDIT_KEY", str(key))
    assert run("outcome", DEMO_ID, "PRIV-001", "--status", "requested").exit_code == 0
    assert run("audit", "verify").exit_code == 0
    cat = open_db()
    log, head = cat.auditlog.entries(), cat.auditlog.recorded_head()
    assert log[-1]["alg"].startswith("hmac-sha256:") and log[-2]["alg"].startswith("hmac")
    db = tmp_path / "videx.db"
    # altering a keyed entry is caught with the key ...
    edit(db, "UPDATE audit SET args = '{}' WHERE id = ?", params=(log[-1]["id"],))
    r = run("audit", "verify")
    assert r.exit_code == 1 and "keyed hash does not match" in r.stdout
    # ... and resealing it with plain SHA-256 (all a forger without the key can do) is refused
    forged = dict(log[-1], args="{}")
    alg, digest = audit.seal(forged, None)
    edit(db, "UPDATE audit SET alg = ?, hash = ? WHERE id = ?",
         params=(alg, digest, forged["id"]))
    edit(db, "UPDATE settings SET value = json_quote(?) WHERE key = 'audit_head'",
         params=(digest,))
    r = run("audit", "verify")
    assert r.exit_code == 1
    assert "is not keyed although the chain is keyed since entry" in r.stdout
    # without the key the content of keyed entries cannot be checked: that fails the check
    # unless the user accepts it, and the report says so either way
    edit(db, "UPDATE audit SET alg = ?, hash = ?, args = ? WHERE id = ?",
         params=(log[-1]["alg"], log[-1]["hash"], log[-1]["args"], log[-1]["id"]))
    edit(db, "UPDATE settings SET value = ? WHERE key = 'audit_head'",
         params=(json.dumps(head),))
    assert run("audit", "verify").exit_code == 0              # restored: intact with the key
    monkeypatch.delenv("VIDEX_AUDIT_KEY")
    r = run("audit", "verify")
    assert r.exit_code == 1
    assert r.stdout.strip() == (
        f"audit log check failed: 2 entries (from entry {log[-2]['id']}) are sealed with key "
        f"{head['key_id']} and could not be checked without it: set VIDEX_AUDIT_KEY to the "
        "key file (or accept them unchecked with --accept-unverifiable)")
    r = run("audit", "verify", "--accept-unverifiable")
    assert r.exit_code == 0
    assert "2 entries (from entry" in r.stderr and "accepted unchecked" in r.stderr


def test_key_files_are_never_overwritten(tmp_path):
    key = audit.new_key_file(tmp_path / "k")
    assert audit.load_key(tmp_path / "k") == key
    with pytest.raises(Exception, match="never overwritten"):
        audit.new_key_file(tmp_path / "k")


def test_a_checkpoint_is_never_written_for_a_chain_that_does_not_verify(city, run, tmp_path):
    edit(tmp_path / "videx.db", "UPDATE audit SET args = '{}' WHERE id = 3")
    r = run("audit", "checkpoint", "--out", tmp_path / "cp.json")
    assert r.exit_code == 1 and not (tmp_path / "cp.json").exists()
    assert r.stderr.strip() == ("Error: the audit log does not verify (broken at entry 3: entry "
                                "was altered (its hash does not match its contents)): no "
                                "checkpoint written; run videx audit verify")
