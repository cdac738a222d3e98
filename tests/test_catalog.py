"""The catalog layer: migrations, opening rules, transactions and the canvass query plan."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import DEMO_ID, edit, hold_write_lock
from videx import audit, catalog
from videx.errors import CatalogError
from videx.store import schema
from videx.store.backend import SQLiteBackend
from videx.store.clips import WINDOW_QUERY


def test_blank_database_is_migrated(tmp_path):
    cat = catalog.open_catalog(tmp_path / "new.db", create=True)
    # an independent look at the file, through sqlite-utils
    from sqlite_utils import Database
    other = Database(tmp_path / "new.db")
    assert {"settings", "cameras", "clips", "incidents", "outcomes", "reviews", "rejects",
            "audit", "audit_rows", "scans", "activity", "videx_migrations"} <= set(
        other.table_names())
    indexes = {i.name for t in other.tables for i in t.indexes}
    assert {"idx_clips_camera_start", "idx_cameras_lat_lon", "idx_clips_sha256",
            "idx_incidents_ts", "idx_outcomes_incident", "idx_reviews_incident",
            "idx_audit_rows_entry"} <= indexes
    assert [c.name for c in other["outcomes"].columns][:4] == [
        "id", "incident_id", "camera_id", "status"]
    other.close()
    assert cat.migrations() == schema.KNOWN
    assert cat.db.scalar("PRAGMA journal_mode") == "wal"
    assert cat.db.scalar("PRAGMA foreign_keys") == 1
    assert cat.db.scalar("PRAGMA busy_timeout") > 0
    cat.close()
    again = catalog.open_catalog(tmp_path / "new.db")   # reopening applies nothing twice
    assert again.migrations() == schema.KNOWN
    assert [e["command"] for e in again.auditlog.entries()] == ["migrate"]
    again.close()


def legacy_catalog(path):
    """A catalog as videx 0.1 left it: m001 and m002 applied by sqlite-utils, with rows."""
    db = SQLiteBackend(path)
    schema.m001_core(db)
    schema.m002_activity(db)
    db.execute("CREATE TABLE _sqlite_migrations (id INTEGER PRIMARY KEY, migration_set TEXT, "
               "name TEXT, applied_at TEXT)")
    db.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES "
               "('videx', 'm001_core', 'x'), ('videx', 'm002_activity', 'y')")
    db.execute("INSERT INTO settings (key, value) VALUES ('default_tz', '\"UTC\"')")
    db.execute("INSERT INTO cameras (id, source, integration, lat, lon, updated_at) VALUES "
               "('C1', 'city', 'connected', 41.76, -72.68, 'x')")
    db.execute("INSERT INTO incidents (id, occurred_at, occurred_ts, time_source, lat, lon, "
               "updated_at) VALUES ('I1', '2023-05-01T18:30:00Z', 1682965800, 'x', 41.76, "
               "-72.68, 'x')")
    db.execute("INSERT INTO outcomes (incident_id, camera_id, status, note, recorded_at, "
               "recorded_by) VALUES ('I1', 'C1', 'requested', 'kept', 'z', 'old')")
    prev = audit.GENESIS
    entry = {"v": 1, "prev_hash": prev, "at": "t", "user": "old", "command": "init",
             "args": "{}", "case_no": None}
    digest = audit.seal(entry, None)[1]
    db.execute('INSERT INTO audit (at, "user", command, args, case_no, prev_hash, hash) '
               "VALUES ('t', 'old', 'init', '{}', NULL, ?, ?)", [prev, digest])
    db.execute("INSERT INTO settings (key, value) VALUES ('audit_head', ?)",
               [json.dumps(digest)])
    db.close()


def test_a_catalog_from_the_first_release_is_upgraded_with_a_baseline(tmp_path):
    legacy_catalog(tmp_path / "old.db")
    cat = catalog.open_catalog(tmp_path / "old.db")
    assert cat.migrations() == schema.KNOWN
    assert cat.zone_name == "UTC"                                   # data kept
    assert [o["note"] for o in cat.history.outcomes("I1")] == ["kept"]
    log = cat.auditlog.entries()
    assert [e["command"] for e in log] == ["init", "migrate"]
    # camera, incident, outcome and the zone setting
    assert json.loads(log[-1]["args"])["baseline_rows"] == 4
    check = audit.verify(cat, deep=True)
    assert check.ok and check.rows_checked == 4, check.summary()


def test_only_init_creates_a_catalog(run, tmp_path):
    for args in (["canvass", "X"], ["audit", "verify"], ["verify", "--catalog"],
                 ["cameras", "list"]):
        r = run(*args)
        assert r.exit_code == 1, args
        assert r.stderr.strip() == (f"Error: no catalog at {tmp_path / 'videx.db'}: run videx "
                                    "init to create one (or check --db / VIDEX_DB)")
    assert not (tmp_path / "videx.db").exists()


def test_empty_foreign_and_non_sqlite_files_are_refused(run, tmp_path):
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    r = run("audit", "verify", "--db", empty)
    assert r.exit_code == 1
    assert "an empty file, not a catalog, at" in r.stderr
    assert empty.stat().st_size == 0                                 # not migrated
    text = tmp_path / "notes.db"
    text.write_text("not a database")
    r = run("cameras", "list", "--db", text)
    assert r.stderr.strip() == (f"Error: {text} is not a videx catalog (not a SQLite file): "
                                "check --db / VIDEX_DB, or run videx init with a new path")
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE people (name TEXT)")
    conn.close()
    r = run("canvass", "X", "--db", other)
    assert r.exit_code == 1 and "is a database but not a videx catalog" in r.stderr
    assert run("init", "--db", other).exit_code == 1                # not taken over either


@pytest.mark.sqlite_only
def test_newer_catalog_is_read_but_not_written(city, run, tmp_path):
    edit(tmp_path / "videx.db", "INSERT INTO videx_migrations (seq, name, applied_at) "
         "VALUES (99, 'm099_future', 'x')")
    r = run("canvass", DEMO_ID, "--format", "json")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["incident"]["id"] == DEMO_ID
    assert "Warning: audit entry not written: catalog" in r.stderr
    assert "was written by a newer videx (migration m099_future)" in r.stderr
    r = run("outcome", DEMO_ID, "PRIV-001", "--status", "requested")
    assert r.exit_code == 1
    assert "written by a newer videx (migration m099_future): upgrade videx" in r.stderr


@pytest.mark.sqlite_only
def test_read_only_catalog_is_canvassed_without_an_audit_entry(ingested, tmp_path):
    """A catalog the user may not write (as another OS user, since root may write anything):
    canvass prints its result and says the audit entry was not written; changes are refused."""
    folder = Path(tempfile.mkdtemp(prefix="videx-ro-"))
    try:
        os.chmod(folder, 0o755)
        target = folder / "videx.db"
        shutil.copy(tmp_path / "videx.db", target)
        os.chmod(target, 0o644)
        prefix = []
        if os.geteuid() == 0:
            prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
            reach = subprocess.run([*prefix, sys.executable, "-c", "import videx.cli"],
                                   capture_output=True, text=True, cwd=folder)
            if reach.returncode != 0:     # a clone in a folder other users cannot read
                pytest.skip("another OS user (nobody) cannot run this Python or import videx "
                            "from where the repository is cloned: "
                            + (reach.stderr.strip().splitlines() or ["?"])[-1])
        else:
            os.chmod(target, 0o444)
            os.chmod(folder, 0o555)
        before = target.read_bytes()
        videx = [*prefix, sys.executable, "-m", "videx"]
        env = {**os.environ, "HOME": str(folder), "VIDEX_DB": str(target)}
        done = subprocess.run([*videx, "canvass", DEMO_ID, "--format", "json"],
                              capture_output=True, text=True, env=env, cwd=folder)
        assert done.returncode == 0, done.stderr
        assert len(json.loads(done.stdout)["cameras"]) == 16
        assert done.stderr.strip() == (f"Warning: audit entry not written: catalog {target} "
                                       "is read-only: it can be searched and canvassed, not "
                                       "changed")
        done = subprocess.run([*videx, "outcome", DEMO_ID, "PRIV-001", "--status",
                               "requested"], capture_output=True, text=True, env=env,
                              cwd=folder)
        assert done.returncode == 1 and "is read-only" in done.stderr
        assert target.read_bytes() == before
    finally:
        os.chmod(folder, 0o755)
        shutil.rmtree(folder)


def test_foreign_keys_are_enforced(db):
    errors = (sqlite3.IntegrityError,)
    if db.db.dialect == "postgresql":
        import psycopg
        errors = (psycopg.errors.ForeignKeyViolation,)
    with pytest.raises(errors, match="(?i)foreign key"):
        with db.write("test"):
            db.db.execute("INSERT INTO outcomes (incident_id, camera_id, status, recorded_at, "
                          "recorded_by) VALUES ('nope', 'nope', 'requested', 'x', 'y')")
    assert db.auditlog.count() == 1           # the failed change left no audit entry either


def test_a_change_outside_a_write_transaction_is_refused(db):
    with pytest.raises(CatalogError, match="outside Catalog.write"):
        db.set_setting("bounds", [1, 2, 3, 4])


@pytest.mark.sqlite_only
def test_clip_window_query_uses_the_index_bounded_on_both_sides(db):
    plan = " ".join(r[3] for r in db.db.rows("EXPLAIN QUERY PLAN " + WINDOW_QUERY,
                                             ["C", 1.0, -5.0, 0.0]))
    assert "USING INDEX idx_clips_camera_start (camera_id=? AND start_ts>? AND start_ts<?)" \
        in plan, plan
    assert "SCAN" not in plan


@pytest.mark.sqlite_only
def test_the_one_statement_canvass_uses_the_same_bounded_index_range(db):
    from videx.store.clips import _canvass_sql
    _, sql = _canvass_sql()
    plan = " ".join(r[3] for r in db.db.rows("EXPLAIN QUERY PLAN " + sql,
                                             ["I", 1.0, 0.0, 0.0, 0, 1, 0, 1] + [0.5, 1e5] * 4
                                             + [1e6]))
    assert "SEARCH c USING INDEX idx_cameras_lat_lon" in plan, plan
    assert "USING INDEX idx_clips_camera_start (camera_id=? AND start_ts>? AND start_ts<?)" \
        in plan, plan
    assert "idx_outcomes_incident (incident_id=? AND camera_id=?)" in plan, plan
    assert "SCAN" not in plan


def test_settings_and_zones(db):
    with db.write("test"):
        db.set_setting("bounds", [1, 2, 3, 4])
    assert db.bounds == (1, 2, 3, 4)
    assert db.zone_name is None
    assert db.display_zone().key == "UTC"                    # shown, labelled, in UTC
    with pytest.raises(Exception, match="the catalog has none"):
        db.input_zone()                                      # but never read in a guess
    assert db.input_zone("Europe/Paris").key == "Europe/Paris"


@pytest.mark.sqlite_only   # builds an old SQLite catalog file
def test_an_upgrade_keeps_tampered_rows_flagged(tmp_path):
    """m005 reshapes the clip table: rows that matched their audited state are re-recorded
    by the migration entry; a row edited by hand before the upgrade stays flagged after it."""
    path = tmp_path / "m4.db"
    db = SQLiteBackend(path)
    db.begin_write()
    schema.apply_pending(db, "2026-01-01T00:00:00Z", stop_before="m005_video_facts")
    db.commit()
    cat = catalog.Catalog(db)
    with cat.write("setup") as tx:
        db.execute("INSERT INTO cameras (id, source, integration, lat, lon, updated_at) VALUES "
                   "('C1', 'city', 'connected', 41.76, -72.68, 'x')")
        tx.touch("cameras", "C1")
        for i in (1, 2):
            db.execute(
                'INSERT INTO clips (id, camera_id, path, sha256, size_bytes, duration_s, '
                'start_raw, start_raw_ts, start, start_ts, "end", end_ts, time_source, '
                "time_confidence, ingested_at, width, height) VALUES (?, 'C1', ?, 'h', 1, 10, "
                "'a', 0, 'a', 0, 'b', 10, 'filename', 'high', 'x', 160, 120)",
                [i, f"/e/{i}.mp4"])
            tx.touch("clips", i)
    cat.close()
    edit(path, "UPDATE clips SET start_ts = 3600 WHERE id = 2")    # by hand, before upgrade
    upgraded = catalog.open_catalog(path)
    assert upgraded.migrations() == schema.KNOWN
    row = upgraded.clips.require(1)
    assert (row["display_width"], row["display_height"], row["rotation"]) == (160, 120, 0)
    check = audit.verify(upgraded, deep=True)
    assert [(p.table, p.key, p.problem) for p in check.row_problems] == [
        ("clips", "2", "changed")]
    migrate = upgraded.auditlog.entries()[-1]
    assert migrate["command"] == "migrate" and json.loads(migrate["args"])[
        "rerecorded_rows"] == 1
    upgraded.close()


@pytest.mark.sqlite_only
def test_opening_a_catalog_never_reads_its_file_outside_sqlite(db, tmp_path, monkeypatch):
    # Closing any descriptor of a database file drops every POSIX lock this process holds on
    # it, so a header peek with open() while another thread has the catalog open let other
    # processes write under it ("database disk image is malformed" under web load).
    import builtins
    import io
    path = str(tmp_path / "videx.db")
    seen = []
    real_open, real_io_open = builtins.open, io.open

    def spy(file, *args, **kwargs):
        if str(file).startswith(path):
            seen.append(str(file))
        return real_open(file, *args, **kwargs)
    monkeypatch.setattr(builtins, "open", spy)
    monkeypatch.setattr(io, "open", spy)
    with db.reading():
        for _ in range(3):
            catalog.open_catalog(path).close()
    monkeypatch.setattr(builtins, "open", real_open)
    monkeypatch.setattr(io, "open", real_io_open)
    assert seen == []
    (tmp_path / "not.db").write_text("hello, not a database")
    with pytest.raises(CatalogError, match="not a SQLite file"):
        catalog.open_catalog(tmp_path / "not.db")


@pytest.mark.sqlite_only
def test_a_writer_waits_for_another_process_and_gives_up_cleanly(db, monkeypatch):
    from videx.store import backend
    holder = hold_write_lock(db.location, 0.4)
    with db.write("after the other process") as tx:      # waits, then sees its commit
        assert [(r["path"], r["reason"]) for r in db.clips.rejects()] == [
            ("held_by", "other process")]
        tx.cancelled = True
    holder.wait()
    assert db.db.scalar("PRAGMA busy_timeout") == backend.BUSY_TIMEOUT_MS

    monkeypatch.setattr(backend, "BUSY_TIMEOUT_MS", 300)
    holder = hold_write_lock(db.location, 5)
    try:
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            with db.write("too late"):
                pass
        assert not db.db._gate.locked()           # the in-process queue is free again
        assert not db.db.in_transaction
        assert db.db.scalar("PRAGMA busy_timeout") == 300
    finally:
        holder.kill()
        holder.wait()
    assert db.record("afterwards") is None and audit.verify(db).ok


@pytest.mark.sqlite_only
def test_writers_in_one_process_queue_and_keep_the_chain(db):
    import threading
    other = catalog.open_catalog(db.location)
    started, finish = threading.Event(), threading.Event()
    order = []

    def first():
        with db.write("first"):
            db.set_setting("first", 1)
            started.set()
            finish.wait(10)
            order.append("first")

    def second():
        with other.write("second"):
            other.set_setting("second", 2)
            order.append("second")
    a = threading.Thread(target=first)
    a.start()
    assert started.wait(10)
    b = threading.Thread(target=second)
    b.start()
    b.join(0.3)
    assert b.is_alive() and db.db._gate.locked()     # queued behind the first writer
    finish.set()
    a.join(10)
    b.join(10)
    other.close()
    assert order == ["first", "second"]
    assert [e["command"] for e in db.auditlog.entries()][-2:] == ["first", "second"]
    assert audit.verify(db).ok


def test_case_history_reads_outcomes_reviews_and_the_zone_together(ingested, open_db):
    """The incident page's history reads (one round trip on PostgreSQL) answer exactly what
    the separate reads answer."""
    from videx import history
    cat = open_db()
    camera = cat.db.scalar("SELECT id FROM cameras ORDER BY id LIMIT 1")
    clip = cat.db.scalar("SELECT id FROM clips ORDER BY id LIMIT 1")
    history.record_outcome(cat, DEMO_ID, camera, "requested", "letter sent")
    history.record_outcome(cat, DEMO_ID, camera, "obtained")
    history.record_review(cat, DEMO_ID, clip, True, "shows the car")
    outcomes, reviews, zone = cat.case_history(DEMO_ID)
    assert [o["status"] for o in outcomes] == ["requested", "obtained"]
    assert outcomes == cat.history.outcomes(DEMO_ID)
    assert reviews == cat.history.reviews(DEMO_ID) and reviews[0]["note"] == "shows the car"
    assert zone == cat.display_zone() and zone.key == "America/New_York"
    assert cat.case_history("no such case") == ([], [], zone)
    assert not cat.db.in_transaction


def test_record_many_chains_entries_in_order_in_one_transaction(db):
    before = db.auditlog.count()
    assert db.record_many([]) is None and db.auditlog.count() == before
    assert db.record_many([("web:ann", "canvass", {"cameras": 3}, "C1"),
                           (None, "sign in", {"name": "bob"}, None),
                           ("web:cy", "view clip", {"clip": 7}, "C2")]) is None
    entries = db.auditlog.entries(3)
    assert [(e["acting_as"], e["command"], e["case_no"]) for e in entries] == [
        ("web:ann", "canvass", "C1"), (None, "sign in", None), ("web:cy", "view clip", "C2")]
    assert [e["prev_hash"] for e in entries[1:]] == [e["hash"] for e in entries[:-1]]
    assert json.loads(entries[0]["args"]) == {"cameras": 3}
    assert len({e["at"] for e in entries}) == 1          # one transaction, one instant
    assert audit.verify(db, deep=True).ok


@pytest.mark.sqlite_only
def test_record_many_on_a_catalog_it_may_not_change_says_why_and_writes_nothing(city, tmp_path):
    edit(tmp_path / "videx.db", "INSERT INTO videx_migrations (seq, name, applied_at) "
         "VALUES (99, 'm099_from_the_future', '2030-01-01T00:00:00Z')")
    cat = catalog.open_catalog(tmp_path / "videx.db")
    before = cat.auditlog.count()
    note = cat.record_many([("web:ann", "canvass", {}, "C1"), (None, "sign in", {}, None)])
    assert note and "newer videx" in note
    assert cat.auditlog.count() == before and not cat.db.in_transaction
    cat.close()
