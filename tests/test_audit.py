import json

from conftest import DEMO_ID
from videx import audit, catalog


def entries(run):
    return json.loads(run("audit", "list", "--format", "json", "--limit", "0").stdout)


def test_changes_and_canvasses_are_logged(ingested, run):
    run("canvass", DEMO_ID)
    run("outcome", DEMO_ID, "PRIV-001", "--status", "requested")
    log = entries(run)
    commands = [e["command"] for e in log]
    assert commands[:5] == ["init", "cameras import", "cameras import", "incidents import",
                            "ingest"]
    assert commands[-2:] == ["canvass", "outcome"]
    assert log[-1]["case_no"] == DEMO_ID and log[-2]["case_no"] == DEMO_ID
    assert json.loads(log[-1]["args"])["status"] == "requested"
    r = run("audit", "verify")
    assert r.exit_code == 0
    assert r.stdout.strip() == f"audit log intact: {len(log)} entries, hash chain verified"


def tamper(tmp_path, sql):
    db = catalog.open_catalog(tmp_path / "videx.db")
    db.execute(sql)
    db.conn.commit()
    return db


def test_altered_entry_is_named(city, run, tmp_path):
    tamper(tmp_path, "UPDATE audit SET args = '{}' WHERE id = 3")
    r = run("audit", "verify")
    assert r.exit_code == 1
    assert r.stdout.strip() == ("audit log broken at entry 3: entry was altered (its hash does "
                                "not match its contents)")


def test_removed_entry_is_named(city, run, tmp_path):
    tamper(tmp_path, "DELETE FROM audit WHERE id = 2")
    assert run("audit", "verify").stdout.strip() == (
        "audit log broken at entry 3: entries 2..2 were removed")


def test_reordered_entries_are_named(city, run, tmp_path):
    db = tamper(tmp_path, "UPDATE audit SET id = 100 WHERE id = 2")
    db.execute("UPDATE audit SET id = 2 WHERE id = 3")
    db.execute("UPDATE audit SET id = 3 WHERE id = 100")
    db.conn.commit()
    assert run("audit", "verify").stdout.strip().startswith(
        "audit log broken at entry 2: its link to the entry before does not match")


def test_removed_newest_entry_is_noticed(city, run, tmp_path):
    tamper(tmp_path, "DELETE FROM audit WHERE id = (SELECT max(id) FROM audit)")
    r = run("audit", "verify")
    assert r.exit_code == 1
    assert "the newest entries were removed" in r.stdout


def test_chain_links_each_entry_to_the_one_before(db):
    first = audit.append(db, "test", {"a": 1})
    second = audit.append(db, "test", {"a": 2}, case_no="X")
    rows = db.execute("SELECT prev_hash, hash FROM audit ORDER BY id").fetchall()
    assert rows[0] == (audit.GENESIS, first)
    assert rows[1] == (first, second)
