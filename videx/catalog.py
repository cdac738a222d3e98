"""The catalog: one SQLite file opened through sqlite-utils, its schema and its settings.

The schema is created and changed only by the recorded migrations below (sqlite-utils
``Migrations``; applied ones are listed in ``_sqlite_migrations``). Instants are stored twice:
as UTC ISO-8601 text for people and as POSIX seconds (``*_ts``) for indexed interval queries.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sqlite_utils import Database, Migrations

from videx.errors import VidexError

DEFAULT_DB = "videx.db"
DEFAULT_TZ = "America/New_York"
BUSY_TIMEOUT_MS = 10_000

migrations = Migrations("videx")


@migrations()
def m001_core(db: Database) -> None:
    """Cameras, clips, incidents, outcomes, reviews, rejects, audit and settings."""
    db.execute("""
        CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)""")
    db.execute("""
        CREATE TABLE cameras (
            id TEXT PRIMARY KEY,
            name TEXT,
            source TEXT NOT NULL CHECK (source IN ('city', 'private')),
            integration TEXT NOT NULL CHECK (integration IN ('connected', 'registered')),
            kind TEXT,
            lat REAL NOT NULL, lon REAL NOT NULL,
            heading_deg REAL, fov_deg REAL, range_m REAL,
            address TEXT, neighborhood TEXT, owner_name TEXT, owner_contact TEXT,
            retention_days REAL,
            clock_offset_s REAL NOT NULL DEFAULT 0,
            tz TEXT,
            active_from TEXT, active_to TEXT,
            max_clip_s REAL NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL)""")
    db.execute("CREATE INDEX idx_cameras_lat_lon ON cameras (lat, lon)")
    db.execute("""
        CREATE TABLE incidents (
            id TEXT PRIMARY KEY,
            occurred_at TEXT NOT NULL, occurred_ts REAL NOT NULL,
            time_source TEXT NOT NULL,
            time_uncertainty_s REAL NOT NULL DEFAULT 0,
            lat REAL NOT NULL, lon REAL NOT NULL,
            address TEXT, neighborhood TEXT,
            category TEXT CHECK (category IN ('fatal', 'non-fatal', 'shots-fired')),
            victims INTEGER, shotspotter INTEGER,
            cleared INTEGER, cleared_at TEXT,
            clearance_type TEXT CHECK (clearance_type IN ('arrest', 'exceptional')),
            updated_at TEXT NOT NULL)""")
    db.execute("CREATE INDEX idx_incidents_ts ON incidents (occurred_ts)")
    db.execute("""
        CREATE TABLE clips (
            id INTEGER PRIMARY KEY,
            camera_id TEXT NOT NULL REFERENCES cameras (id),
            path TEXT NOT NULL UNIQUE,
            sha256 TEXT NOT NULL,
            size_bytes INTEGER NOT NULL,
            container TEXT, codec TEXT, width INTEGER, height INTEGER,
            fps REAL, duration_s REAL NOT NULL,
            start_raw TEXT NOT NULL, start_raw_ts REAL NOT NULL,
            clock_offset_s REAL NOT NULL DEFAULT 0,
            start TEXT NOT NULL, start_ts REAL NOT NULL,
            "end" TEXT NOT NULL, end_ts REAL NOT NULL,
            time_source TEXT NOT NULL
                CHECK (time_source IN ('manual', 'sidecar', 'filename', 'metadata', 'mtime')),
            time_detail TEXT,
            time_confidence TEXT NOT NULL CHECK (time_confidence IN ('high', 'low')),
            ingested_at TEXT NOT NULL)""")
    db.execute("CREATE INDEX idx_clips_camera_start ON clips (camera_id, start_ts)")
    db.execute("CREATE INDEX idx_clips_sha256 ON clips (sha256)")
    db.execute("""
        CREATE TABLE outcomes (
            incident_id TEXT NOT NULL REFERENCES incidents (id),
            camera_id TEXT NOT NULL REFERENCES cameras (id),
            status TEXT NOT NULL CHECK (status IN
                ('requested', 'obtained', 'declined', 'overwritten', 'no-footage')),
            note TEXT, recorded_at TEXT NOT NULL, recorded_by TEXT,
            PRIMARY KEY (incident_id, camera_id))""")
    db.execute("""
        CREATE TABLE reviews (
            incident_id TEXT NOT NULL REFERENCES incidents (id),
            clip_id INTEGER NOT NULL REFERENCES clips (id),
            probative INTEGER NOT NULL CHECK (probative IN (0, 1)),
            note TEXT, reviewed_at TEXT NOT NULL, reviewed_by TEXT,
            PRIMARY KEY (incident_id, clip_id))""")
    db.execute("""
        CREATE TABLE rejects (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE, reason TEXT NOT NULL, rejected_at TEXT NOT NULL)""")
    db.execute("""
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL, user TEXT NOT NULL, command TEXT NOT NULL,
            args TEXT NOT NULL, case_no TEXT,
            prev_hash TEXT NOT NULL, hash TEXT NOT NULL)""")


@migrations()
def m002_activity(db: Database) -> None:
    """Activity scans: one row per scanned clip, one per clip-second."""
    db.execute("""
        CREATE TABLE scans (
            clip_id INTEGER PRIMARY KEY REFERENCES clips (id),
            mode TEXT NOT NULL CHECK (mode IN ('full', 'fast')),
            scanned_at TEXT NOT NULL, frames INTEGER NOT NULL,
            width INTEGER, height INTEGER, mask_top REAL,
            peak REAL NOT NULL, flags TEXT NOT NULL)""")
    db.execute("""
        CREATE TABLE activity (
            clip_id INTEGER NOT NULL REFERENCES clips (id),
            second INTEGER NOT NULL, score REAL NOT NULL, luma REAL, frozen INTEGER NOT NULL,
            PRIMARY KEY (clip_id, second)) WITHOUT ROWID""")


def resolve_path(path: str | os.PathLike | None) -> Path:
    """The catalog path: the argument, else ``$VIDEX_DB``, else ``./videx.db``."""
    return Path(path or os.environ.get("VIDEX_DB") or DEFAULT_DB)


def connect(path: str | os.PathLike) -> Database:
    """Open a SQLite file with WAL, foreign keys and a busy timeout (no migrations)."""
    db = Database(str(path))
    db.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    db.conn.execute("PRAGMA journal_mode = WAL")
    db.conn.execute("PRAGMA foreign_keys = ON")
    db.conn.execute("PRAGMA synchronous = NORMAL")
    return db


def open_catalog(path: str | os.PathLike | None = None) -> Database:
    """Open (creating if needed) the catalog and apply any pending migrations."""
    target = resolve_path(path)
    if target.parent and not target.parent.exists():
        raise VidexError(f"folder {target.parent} for the catalog does not exist")
    db = connect(target)
    migrations.apply(db)
    return db


def schema_version(db: Database) -> list[str]:
    """Names of the migrations applied to ``db``, in order."""
    return [m.name for m in migrations.applied(db)]


def get_setting(db: Database, key: str, default=None):
    """A catalog setting (JSON-decoded), or ``default``."""
    row = db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
    return json.loads(row[0]) if row else default


def set_setting(db: Database, key: str, value) -> None:
    """Store a catalog setting as JSON (call inside the caller's transaction)."""
    db.execute("INSERT INTO settings (key, value) VALUES (?, ?) "
               "ON CONFLICT (key) DO UPDATE SET value = excluded.value", [key, json.dumps(value)])


def default_tz(db: Database) -> str:
    """The catalog's display / input zone (IANA name)."""
    return get_setting(db, "default_tz", DEFAULT_TZ)


def city_bounds(db: Database) -> tuple[float, float, float, float] | None:
    """(south, west, north, east) of the city, or None when not set."""
    value = get_setting(db, "bounds")
    return tuple(value) if value else None


def upsert(db: Database, table: str, record: dict, now: str) -> tuple[str, dict | None]:
    """Insert or update ``record`` by its ``id``; return ("added" | "changed" | "unchanged",
    the previous row). Booleans compare as SQLite stores them (0/1)."""
    old = next(db.query(f"SELECT * FROM {table} WHERE id = ?", [record["id"]]), None)
    if old is not None and all(
            old.get(k) == (int(v) if isinstance(v, bool) else v) for k, v in record.items()):
        return "unchanged", old
    columns = list(record) + ["updated_at"]
    db.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
        "ON CONFLICT (id) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in columns if c != "id"),
        list(record.values()) + [now])
    return ("added" if old is None else "changed"), old
