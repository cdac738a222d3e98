import sqlite3

from videx import catalog
from videx.canvass import CLIP_QUERY


def test_blank_database_is_migrated(tmp_path):
    db = catalog.open_catalog(tmp_path / "new.db")
    tables = set(db.table_names())
    assert {"settings", "cameras", "clips", "incidents", "outcomes", "reviews", "rejects",
            "audit", "scans", "activity", "_sqlite_migrations"} <= tables
    indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"idx_clips_camera_start", "idx_cameras_lat_lon", "idx_clips_sha256",
            "idx_incidents_ts"} <= indexes
    assert catalog.schema_version(db) == ["m001_core", "m002_activity"]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == catalog.BUSY_TIMEOUT_MS
    db.close()
    # reopening applies nothing twice
    again = catalog.open_catalog(tmp_path / "new.db")
    assert catalog.schema_version(again) == ["m001_core", "m002_activity"]


def test_a_catalog_from_the_first_release_is_upgraded(tmp_path):
    from videx.catalog import connect, migrations
    db = connect(tmp_path / "old.db")
    migrations.apply(db, stop_before="m002_activity")
    db.execute("INSERT INTO settings (key, value) VALUES ('default_tz', '\"UTC\"')")
    db.conn.commit()
    db.close()
    upgraded = catalog.open_catalog(tmp_path / "old.db")
    assert "activity" in upgraded.table_names()
    assert catalog.default_tz(upgraded) == "UTC"  # data kept


def test_foreign_keys_are_enforced(db):
    try:
        db.execute("INSERT INTO outcomes (incident_id, camera_id, status, recorded_at) "
                   "VALUES ('nope', 'nope', 'requested', 'x')")
    except sqlite3.IntegrityError as err:
        assert "FOREIGN KEY" in str(err)
    else:  # pragma: no cover
        raise AssertionError("foreign key not enforced")


def test_clip_window_query_uses_the_index_bounded_on_both_sides(db):
    plan = " ".join(r[3] for r in db.execute("EXPLAIN QUERY PLAN " + CLIP_QUERY,
                                             {"camera": "C", "t0": 0, "t1": 1, "max_dur": 5}))
    assert "USING INDEX idx_clips_camera_start (camera_id=? AND start_ts>? AND start_ts<?)" \
        in plan, plan
    assert "SCAN" not in plan


def test_settings_round_trip(db):
    catalog.set_setting(db, "bounds", [1, 2, 3, 4])
    assert catalog.city_bounds(db) == (1, 2, 3, 4)
    assert catalog.default_tz(db) == "America/New_York"
