"""Catalogs made by the videx before audit format 3 (fixtures/catalogs, made with
scripts/make_old_catalogs.py from commit 05bf443) open, upgrade and verify with this one:
their format 2 entries keep verifying, their old checkpoint still holds, users and settings
become protected with a baseline, and the forgeries the new format closes are closed on
them too."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import DEMO_ID, FIXTURES, edit
from videx import audit, catalog

OLD = FIXTURES / "catalogs"
pytestmark = pytest.mark.sqlite_only     # the fixtures are SQLite files


@pytest.fixture
def plain(tmp_path, monkeypatch):
    shutil.copy(OLD / "v2-plain.db", tmp_path / "videx.db")
    return tmp_path / "videx.db"


@pytest.fixture
def keyed(tmp_path, monkeypatch):
    shutil.copy(OLD / "v2-keyed.db", tmp_path / "videx.db")
    shutil.copy(OLD / "v2-keyed.key", tmp_path / "audit.key")
    return tmp_path / "videx.db", tmp_path / "audit.key"


def log_of(path):
    with catalog.open_catalog(path) as cat:
        return cat.auditlog.entries(), cat.auditlog.recorded_head()


def test_an_old_catalog_upgrades_and_its_format_2_entries_still_verify(plain, run):
    with catalog.open_catalog(plain) as cat:
        entries = cat.auditlog.entries()
        assert [e["v"] for e in entries[:-1]] == [2] * (len(entries) - 1)
        migrate = entries[-1]
        assert (migrate["v"], migrate["command"]) == (3, "migrate")
        args = json.loads(migrate["args"])
        assert args["applied"][0] == "m009_protected_users_and_settings"   # (and later ones)
        assert args["baseline_rows"] == 3           # user jdoe, the zone and the bounds
        assert cat.users.get("jdoe")["password_changed_at"] == cat.users.get("jdoe")[
            "created_at"]
    r = run("audit", "verify", "--deep", "--against", OLD / "v2-plain.checkpoint.json")
    assert r.exit_code == 0, r.output                 # a format 1 checkpoint still holds
    assert run("outcome", DEMO_ID, "RING-002", "--status", "obtained").exit_code == 0
    assert run("audit", "verify", "--deep").exit_code == 0
    log, head = log_of(plain)
    assert log[-1]["v"] == 3 and head["hash"] == log[-1]["hash"] and head["sealed"] == 0


def test_upgraded_users_and_settings_are_protected_from_the_baseline_on(plain, run):
    assert run("audit", "verify", "--deep").exit_code == 0
    edit(plain, "UPDATE users SET role = 'admin' WHERE name = 'jdoe'",
         "UPDATE settings SET value = '\"UTC\"' WHERE key = 'default_tz'")
    r = run("audit", "verify", "--deep")
    assert r.exit_code == 1
    assert [line for line in r.stdout.splitlines() if line.startswith("ROW")] == [
        "ROW users jdoe: content differs from its last audited state",
        "ROW settings default_tz: content differs from its last audited state"]


def test_relabelling_old_entries_is_caught_too(plain, run):
    """The relabelling forgery on format 2 entries: claimed keyed where the chain never was."""
    log, _ = log_of(plain)
    edit(plain, "UPDATE audit SET alg = 'hmac-sha256:0123456789abcdef' WHERE id >= 3")
    for extra in ((), ("--accept-unverifiable",)):
        r = run("audit", "verify", *extra)
        assert r.exit_code == 1
        assert "broken at entry 3: entry claims to be sealed with key 0123456789abcdef" in \
            r.stdout


def test_an_old_keyed_catalog_needs_its_key_to_upgrade_then_holds_its_seal(keyed, run,
                                                                          monkeypatch):
    path, key = keyed
    r = run("audit", "verify")
    assert r.exit_code == 1 and "VIDEX_AUDIT_KEY" in r.stderr    # the migration needs the key
    assert "Traceback" not in r.output
    monkeypatch.setenv("VIDEX_AUDIT_KEY", str(key))
    r = run("audit", "verify", "--deep")
    assert r.exit_code == 0, r.output
    log, head = log_of(path)
    keyed_entries = [e for e in log if e["alg"].startswith("hmac-sha256:")]
    first = keyed_entries[0]
    assert first["command"] == "audit key" and first["v"] == 2
    assert head["sealed"] == len(keyed_entries) and head["mac"]
    assert f"keyed with {head['key_id']} since entry {first['id']}" in r.stdout
    # cutting keyed entries from the end (head pointed back) fails with the key
    edit(path, "DELETE FROM audit_rows WHERE entry_id = ?", "DELETE FROM audit WHERE id = ?",
         params=(log[-1]["id"],))
    edit(path, "UPDATE settings SET value = ? WHERE key = 'audit_head'",
         params=(json.dumps(dict(head, hash=log[-2]["hash"], sealed=head["sealed"] - 1)),))
    r = run("audit", "verify")
    assert r.exit_code == 1 and "the recorded head is not sealed with the key" in r.stdout
    # without the key the keyed entries (old and new) cannot be checked
    monkeypatch.delenv("VIDEX_AUDIT_KEY")
    r = run("audit", "verify")
    assert r.exit_code == 1 and "could not be checked without it" in r.stdout


def test_a_plain_rewrite_of_an_old_keyed_chain_fails_with_the_key(keyed, run, monkeypatch):
    path, key = keyed
    monkeypatch.setenv("VIDEX_AUDIT_KEY", str(key))
    assert run("audit", "verify").exit_code == 0
    log, _ = log_of(path)
    prev = audit.GENESIS
    for e in log:                                    # every entry resealed plain
        e = dict(e, prev_hash=prev, alg="sha256")
        alg, digest = audit.seal(e, None)
        edit(path, "UPDATE audit SET prev_hash = ?, hash = ?, alg = ? WHERE id = ?",
             params=(prev, digest, alg, e["id"]))
        prev = digest
    edit(path, "DELETE FROM settings WHERE key = 'audit_key_id'")
    edit(path, "UPDATE settings SET value = ? WHERE key = 'audit_head'",
         params=(json.dumps({"hash": prev, "sealed": 0, "key_id": None, "mac": None}),))
    r = run("audit", "verify")
    assert r.exit_code == 1
    assert "seals no entry of this chain: the chain was rewritten without the key" in r.stdout
