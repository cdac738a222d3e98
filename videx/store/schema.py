"""The catalog schema: one numbered list of migrations for every backend.

A migration is a function that runs DDL through ``Backend.ddl`` (dialect tokens ``{real}``,
``{id_pk}``, ``{without_rowid}``). Applied migrations are recorded by name in
``videx_migrations``; catalogs made by videx 0.1 recorded them in sqlite-utils'
``_sqlite_migrations`` table, whose entries are adopted on first open.

Nothing else in videx creates or alters tables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from videx.store.backend import Backend

MIGRATIONS: list[tuple[str, Callable[[Backend], None]]] = []
LEGACY_TABLE = "_sqlite_migrations"
TABLE = "videx_migrations"


def migration(fn: Callable[[Backend], None] | None = None, *, rehash: tuple[str, ...] = (),
              rebuilds: bool = False, protects: tuple[str, ...] = ()):
    """Register a function as the next migration (its name is recorded when applied).

    ``rehash``: hashed tables whose rows change shape (new columns); rows that matched their
    audited state before are re-recorded after, rows that did not stay flagged.
    ``rebuilds``: the migration recreates a referenced table (SQLite cannot drop a CHECK
    otherwise), so foreign keys are switched off around it and checked before commit.
    ``protects``: existing tables whose rows this migration starts protecting (listed in
    ``videx.store.protected``): every row is recorded in the migration's entry as its
    baseline (a new, empty table needs no mention)."""
    def register(f):
        f.rehash, f.rebuilds, f.protects = rehash, rebuilds, protects
        MIGRATIONS.append((f.__name__, f))
        return f
    return register(fn) if fn is not None else register


def run(db: Backend, *statements: str) -> None:
    for sql in statements:
        db.execute(db.ddl(sql))


@migration
def m001_core(db: Backend) -> None:
    """Cameras, clips, incidents, outcomes, reviews, rejects, audit and settings."""
    run(db, "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE cameras (
            id TEXT PRIMARY KEY,
            name TEXT,
            source TEXT NOT NULL CHECK (source IN ('city', 'private')),
            integration TEXT NOT NULL CHECK (integration IN ('connected', 'registered')),
            kind TEXT,
            lat {real} NOT NULL, lon {real} NOT NULL,
            heading_deg {real}, fov_deg {real}, range_m {real},
            address TEXT, neighborhood TEXT, owner_name TEXT, owner_contact TEXT,
            retention_days {real},
            clock_offset_s {real} NOT NULL DEFAULT 0,
            tz TEXT,
            active_from TEXT, active_to TEXT,
            max_clip_s {real} NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL)""",
        "CREATE INDEX idx_cameras_lat_lon ON cameras (lat, lon)",
        """CREATE TABLE incidents (
            id TEXT PRIMARY KEY,
            occurred_at TEXT NOT NULL, occurred_ts {real} NOT NULL,
            time_source TEXT NOT NULL,
            time_uncertainty_s {real} NOT NULL DEFAULT 0,
            lat {real} NOT NULL, lon {real} NOT NULL,
            address TEXT, neighborhood TEXT,
            category TEXT CHECK (category IN ('fatal', 'non-fatal', 'shots-fired')),
            victims INTEGER, shotspotter INTEGER,
            cleared INTEGER, cleared_at TEXT,
            clearance_type TEXT CHECK (clearance_type IN ('arrest', 'exceptional')),
            updated_at TEXT NOT NULL)""",
        "CREATE INDEX idx_incidents_ts ON incidents (occurred_ts)",
        """CREATE TABLE clips (
            id {id_pk},
            camera_id TEXT NOT NULL REFERENCES cameras (id),
            path TEXT NOT NULL UNIQUE,
            sha256 TEXT NOT NULL,
            size_bytes INTEGER NOT NULL,
            container TEXT, codec TEXT, width INTEGER, height INTEGER,
            fps {real}, duration_s {real} NOT NULL,
            start_raw TEXT NOT NULL, start_raw_ts {real} NOT NULL,
            clock_offset_s {real} NOT NULL DEFAULT 0,
            start TEXT NOT NULL, start_ts {real} NOT NULL,
            "end" TEXT NOT NULL, end_ts {real} NOT NULL,
            time_source TEXT NOT NULL
                CHECK (time_source IN ('manual', 'sidecar', 'filename', 'metadata', 'mtime')),
            time_detail TEXT,
            time_confidence TEXT NOT NULL CHECK (time_confidence IN ('high', 'low')),
            ingested_at TEXT NOT NULL)""",
        "CREATE INDEX idx_clips_camera_start ON clips (camera_id, start_ts)",
        "CREATE INDEX idx_clips_sha256 ON clips (sha256)",
        """CREATE TABLE outcomes (
            incident_id TEXT NOT NULL REFERENCES incidents (id),
            camera_id TEXT NOT NULL REFERENCES cameras (id),
            status TEXT NOT NULL CHECK (status IN
                ('requested', 'obtained', 'declined', 'overwritten', 'no-footage')),
            note TEXT, recorded_at TEXT NOT NULL, recorded_by TEXT,
            PRIMARY KEY (incident_id, camera_id))""",
        """CREATE TABLE reviews (
            incident_id TEXT NOT NULL REFERENCES incidents (id),
            clip_id INTEGER NOT NULL REFERENCES clips (id),
            probative INTEGER NOT NULL CHECK (probative IN (0, 1)),
            note TEXT, reviewed_at TEXT NOT NULL, reviewed_by TEXT,
            PRIMARY KEY (incident_id, clip_id))""",
        """CREATE TABLE rejects (
            id {id_pk},
            path TEXT NOT NULL UNIQUE, reason TEXT NOT NULL, rejected_at TEXT NOT NULL)""",
        """CREATE TABLE audit (
            id {id_pk},
            at TEXT NOT NULL, "user" TEXT NOT NULL, command TEXT NOT NULL,
            args TEXT NOT NULL, case_no TEXT,
            prev_hash TEXT NOT NULL, hash TEXT NOT NULL)""")


@migration
def m002_activity(db: Backend) -> None:
    """Activity scans: one row per scanned clip, one per clip-second."""
    run(db, """CREATE TABLE scans (
            clip_id INTEGER PRIMARY KEY REFERENCES clips (id),
            mode TEXT NOT NULL CHECK (mode IN ('full', 'fast')),
            scanned_at TEXT NOT NULL, frames INTEGER NOT NULL,
            width INTEGER, height INTEGER, mask_top {real},
            peak {real} NOT NULL, flags TEXT NOT NULL)""",
        """CREATE TABLE activity (
            clip_id INTEGER NOT NULL REFERENCES clips (id),
            second INTEGER NOT NULL, score {real} NOT NULL, luma {real},
            frozen INTEGER NOT NULL,
            PRIMARY KEY (clip_id, second)) {without_rowid}""")


@migration
def m003_evidence_record(db: Backend) -> None:
    """Tamper evidence for rows, OS identity beside any stated name, append-only history.

    - ``audit``: format version ``v``, ``acting_as`` (a name given with ``--as``, never instead
      of the OS account in ``user``), ``rows_digest`` (SHA-256 over the entry's row hashes)
      and ``alg`` (``sha256``, or ``hmac-sha256:KEYID`` for a keyed chain).
    - ``audit_rows``: the content hash of every row an entry wrote.
    - ``outcomes`` and ``reviews`` keep every entry (the latest is the current one).
    """
    run(db, "ALTER TABLE audit ADD COLUMN v INTEGER NOT NULL DEFAULT 1",
        "ALTER TABLE audit ADD COLUMN acting_as TEXT",
        "ALTER TABLE audit ADD COLUMN rows_digest TEXT",
        "ALTER TABLE audit ADD COLUMN alg TEXT NOT NULL DEFAULT 'sha256'",
        """CREATE TABLE audit_rows (
            entry_id INTEGER NOT NULL REFERENCES audit (id),
            tbl TEXT NOT NULL, row_key TEXT NOT NULL, row_hash TEXT NOT NULL,
            PRIMARY KEY (tbl, row_key, entry_id))""",
        "CREATE INDEX idx_audit_rows_entry ON audit_rows (entry_id)",
        """CREATE TABLE outcome_history (
            id {id_pk},
            incident_id TEXT NOT NULL REFERENCES incidents (id),
            camera_id TEXT NOT NULL REFERENCES cameras (id),
            status TEXT NOT NULL CHECK (status IN
                ('requested', 'obtained', 'declined', 'overwritten', 'no-footage')),
            note TEXT, recorded_at TEXT NOT NULL, recorded_by TEXT NOT NULL,
            acting_as TEXT)""",
        """INSERT INTO outcome_history (incident_id, camera_id, status, note, recorded_at,
            recorded_by) SELECT incident_id, camera_id, status, note, recorded_at,
            coalesce(recorded_by, 'unknown') FROM outcomes ORDER BY recorded_at""",
        "DROP TABLE outcomes",
        "ALTER TABLE outcome_history RENAME TO outcomes",
        "CREATE INDEX idx_outcomes_incident ON outcomes (incident_id, camera_id, id)",
        """CREATE TABLE review_history (
            id {id_pk},
            incident_id TEXT NOT NULL REFERENCES incidents (id),
            clip_id INTEGER NOT NULL REFERENCES clips (id),
            probative INTEGER NOT NULL CHECK (probative IN (0, 1)),
            note TEXT, reviewed_at TEXT NOT NULL, reviewed_by TEXT NOT NULL,
            acting_as TEXT)""",
        """INSERT INTO review_history (incident_id, clip_id, probative, note, reviewed_at,
            reviewed_by) SELECT incident_id, clip_id, probative, note, reviewed_at,
            coalesce(reviewed_by, 'unknown') FROM reviews ORDER BY reviewed_at""",
        "DROP TABLE reviews",
        "ALTER TABLE review_history RENAME TO reviews",
        "CREATE INDEX idx_reviews_incident ON reviews (incident_id, clip_id, id)")


@migration(rehash=("incidents", "cameras"))
def m004_real_records(db: Backend) -> None:
    """Records as real exports give them.

    - ``incidents.time_precision``: ``exact``, or ``day`` for a date without a time of day
      (``occurred_ts`` is then the local day's first instant and ``occurred_end_ts`` the next
      day's); never read as midnight.
    - ``extra`` on cameras and incidents: the columns of the imported file that feed no field,
      as JSON, so nothing in the file is lost.
    """
    run(db, "ALTER TABLE incidents ADD COLUMN time_precision TEXT NOT NULL DEFAULT 'exact' "
            "CHECK (time_precision IN ('exact', 'day'))",
        "ALTER TABLE incidents ADD COLUMN occurred_end_ts {real}",
        "ALTER TABLE incidents ADD COLUMN extra TEXT",
        "ALTER TABLE cameras ADD COLUMN extra TEXT",
        "CREATE INDEX idx_incidents_neighborhood ON incidents (neighborhood, occurred_ts)")


@migration(rehash=("clips",), rebuilds=True)
def m005_video_facts(db: Backend) -> None:
    """What phone, doorbell and DVR video needs recorded, and registered time sources.

    - clips get ``rotation`` (degrees the picture is turned for display), ``display_width``
      and ``display_height`` (upright, square pixels), ``vfr`` (variable frame rate),
      ``frames`` (counted from the packets, no decoding) and ``keyframe_interval_s``;
    - scans get a ``note`` (e.g. why a fast scan decoded every frame);
    - ``time_source`` may hold any registered time source's name (``videx.timesources``), so
      its fixed CHECK goes; the code validates names when it writes them.
    """
    if db.dialect == "sqlite":   # no ALTER for a CHECK: rebuild the table
        columns = [r[1] for r in db.rows("PRAGMA table_info(clips)")]
        run(db, """CREATE TABLE clips_new (
            id {id_pk},
            camera_id TEXT NOT NULL REFERENCES cameras (id),
            path TEXT NOT NULL UNIQUE,
            sha256 TEXT NOT NULL,
            size_bytes INTEGER NOT NULL,
            container TEXT, codec TEXT, width INTEGER, height INTEGER,
            fps {real}, duration_s {real} NOT NULL,
            start_raw TEXT NOT NULL, start_raw_ts {real} NOT NULL,
            clock_offset_s {real} NOT NULL DEFAULT 0,
            start TEXT NOT NULL, start_ts {real} NOT NULL,
            "end" TEXT NOT NULL, end_ts {real} NOT NULL,
            time_source TEXT NOT NULL,
            time_detail TEXT,
            time_confidence TEXT NOT NULL CHECK (time_confidence IN ('high', 'low')),
            ingested_at TEXT NOT NULL,
            rotation INTEGER NOT NULL DEFAULT 0,
            display_width INTEGER, display_height INTEGER,
            vfr INTEGER NOT NULL DEFAULT 0,
            frames INTEGER, keyframe_interval_s {real})""")
        cols = ", ".join(f'"{c}"' for c in columns)
        run(db, f"INSERT INTO clips_new ({cols}) SELECT {cols} FROM clips",
            "DROP TABLE clips", "ALTER TABLE clips_new RENAME TO clips",
            "CREATE INDEX idx_clips_camera_start ON clips (camera_id, start_ts)",
            "CREATE INDEX idx_clips_sha256 ON clips (sha256)")
    else:
        run(db, "ALTER TABLE clips DROP CONSTRAINT IF EXISTS clips_time_source_check",
            "ALTER TABLE clips ADD COLUMN rotation INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE clips ADD COLUMN display_width INTEGER",
            "ALTER TABLE clips ADD COLUMN display_height INTEGER",
            "ALTER TABLE clips ADD COLUMN vfr INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE clips ADD COLUMN frames INTEGER",
            "ALTER TABLE clips ADD COLUMN keyframe_interval_s {real}")
    run(db, "UPDATE clips SET display_width = width, display_height = height",
        "ALTER TABLE scans ADD COLUMN note TEXT")


@migration(rehash=("clips",))
def m006_probe_reader(db: Backend) -> None:
    """Which reader probed each clip (``probed_with``: ``pyav X (FFmpeg Y)`` in-process, or
    ``ffprobe`` with the reason the in-process reader could not) and how many streams the
    file holds (``streams``, every kind). Clips catalogued before were probed by ffprobe."""
    run(db, "ALTER TABLE clips ADD COLUMN probed_with TEXT",
        "ALTER TABLE clips ADD COLUMN streams INTEGER",
        "UPDATE clips SET probed_with = 'ffprobe'")


@migration
def m007_users(db: Backend) -> None:
    """People who sign in to ``videx serve``: a name, a role (``detective``, ``analyst``,
    ``admin``) and an argon2 password hash (never the password). Changes to users are audited
    (the entry names the user and role, never the hash)."""
    run(db, """CREATE TABLE users (
            name TEXT PRIMARY KEY,
            role TEXT NOT NULL CHECK (role IN ('detective', 'analyst', 'admin')),
            password_hash TEXT NOT NULL,
            created_at TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0)""")


@migration
def m008_few_records_per_incident(db: Backend) -> None:
    """PostgreSQL: the planner is told that an incident has few outcomes and reviews (as
    many distinct incidents as half the rows), whatever the sample says. Statements run
    prepared, with one generic plan estimated from the distinct values; when a few incidents
    held most outcomes (four cases worked hard under load), PostgreSQL chose to find each
    camera's latest outcome by scanning the whole outcomes table backwards through its
    primary key: 56 ms a canvass instead of 1.5 ms at 10M clips. With the hint the lookup is
    the (incident, camera, id) index whatever the data. SQLite plans each statement with its
    values: nothing to do there."""
    if db.dialect == "postgresql":
        run(db, "ALTER TABLE outcomes ALTER COLUMN incident_id SET (n_distinct = -0.5)",
            "ALTER TABLE reviews ALTER COLUMN incident_id SET (n_distinct = -0.5)",
            "ANALYZE outcomes", "ANALYZE reviews")


@migration(protects=("users", "settings"))
def m009_protected_users_and_settings(db: Backend) -> None:
    """Users and settings become protected rows (their content hashed into the audit entry
    that writes them, checked by ``audit verify --deep``): who may do what (role, disabled,
    password hash) and how times are read (zone, bounds) matter as much as the evidence.

    - ``users.password_changed_at``: when the password was last set (``created_at`` for
      users added before).
    - Audit entries from here on are of format 3 (``videx.audit``: the seal and the count of
      sealed entries are part of each entry's hash) and the recorded head names the count and
      the key, with an HMAC when keyed; existing entries keep their format. No table of the
      chain changes shape.
    """
    run(db, "ALTER TABLE users ADD COLUMN password_changed_at TEXT",
        "UPDATE users SET password_changed_at = created_at")


@migration(rehash=("users",))
def m010_web_sessions_and_bookmarks(db: Backend) -> None:
    """Server-side sign-in sessions and bookmarks in clips.

    - ``web_sessions``: one row per signed-in browser, keyed by the SHA-256 of the random
      session id its cookie carries (the id itself is never stored), so signing out, or a
      user being disabled, ends a session on every server instance of the catalog at once.
      Not evidence: no row hashes (sign-ins and sign-outs are audited).
    - ``users.sessions_valid_from`` (POSIX s): sessions started before it are refused; set
      when a user is disabled, gets a new role or a new password.
    - ``bookmarks``: a time in a clip marked by a detective for a case, with a note;
      append-only and row-hashed like reviews.
    - an index of the audit log by case, for the audit page's case filter.
    """
    run(db, """CREATE TABLE web_sessions (
            id_hash TEXT PRIMARY KEY,
            user_name TEXT NOT NULL REFERENCES users (name),
            created_ts {real} NOT NULL,
            client TEXT, user_agent TEXT)""",
        "CREATE INDEX idx_web_sessions_user ON web_sessions (user_name)",
        "ALTER TABLE users ADD COLUMN sessions_valid_from {real} NOT NULL DEFAULT 0",
        """CREATE TABLE bookmarks (
            id {id_pk},
            incident_id TEXT NOT NULL REFERENCES incidents (id),
            clip_id INTEGER NOT NULL REFERENCES clips (id),
            offset_s {real} NOT NULL,
            note TEXT NOT NULL,
            created_at TEXT NOT NULL, created_by TEXT NOT NULL, acting_as TEXT)""",
        "CREATE INDEX idx_bookmarks_incident ON bookmarks (incident_id, clip_id, id)",
        "CREATE INDEX idx_audit_case ON audit (case_no, id)")


OUTCOME_STATUSES = ("requested", "obtained", "declined", "overwritten", "no-footage", "drafted",
                    "sent", "reminded", "uploaded", "withdrawn")


@migration(rehash=("outcomes",), rebuilds=True)
def m011_requests(db: Backend) -> None:
    """Requests to private camera owners, and what their upload links received.

    - ``requests``: one request for one camera's footage of one incident: a short code for the
      letter, snapshots of the camera, owner and contact, the window (UTC; the camera's clock
      offset and zone at the time, to show it as the owner's camera does), the deadline, the
      upload link's expiry and the SHA-256 of its token (never the token), who made it. Rows
      are written once; the status is history (below).
    - ``request_files``: every file an upload link (or a detective, in person) handed in:
      catalogued, duplicate or refused, with the chain of custody (sender's file name as text,
      stated name, client address, user agent, bytes, SHA-256, time received).
    - ``outcomes`` take the request statuses (drafted, sent, reminded, uploaded, withdrawn;
      declined and no-footage were there) and a ``request_id``: a request's status history is
      its outcome entries, so the canvass shows it where it shows a camera's outcome.
    """
    run(db, """CREATE TABLE requests (
            id {id_pk},
            code TEXT NOT NULL UNIQUE,
            incident_id TEXT NOT NULL REFERENCES incidents (id),
            camera_id TEXT NOT NULL REFERENCES cameras (id),
            camera_name TEXT, camera_address TEXT,
            owner_name TEXT, owner_contact TEXT, owner_email TEXT,
            window_start TEXT NOT NULL, window_start_ts {real} NOT NULL,
            window_end TEXT NOT NULL, window_end_ts {real} NOT NULL,
            clock_offset_s {real} NOT NULL DEFAULT 0,
            camera_tz TEXT, display_tz TEXT,
            deadline TEXT, deadline_ts {real},
            expires_at TEXT NOT NULL, expires_ts {real} NOT NULL,
            token_sha256 TEXT NOT NULL UNIQUE,
            token_nonce TEXT NOT NULL,
            link_key_id TEXT NOT NULL,
            detective TEXT, detective_contact TEXT,
            created_at TEXT NOT NULL, created_by TEXT NOT NULL, acting_as TEXT)""",
        "CREATE INDEX idx_requests_incident ON requests (incident_id, camera_id)",
        """CREATE TABLE request_files (
            id {id_pk},
            request_id INTEGER NOT NULL REFERENCES requests (id),
            received_at TEXT NOT NULL, received_ts {real} NOT NULL,
            result TEXT NOT NULL CHECK (result IN ('catalogued', 'duplicate', 'refused')),
            clip_id INTEGER REFERENCES clips (id),
            sha256 TEXT, size_bytes INTEGER,
            file_name TEXT, stated_name TEXT, client_addr TEXT, user_agent TEXT,
            start_typed TEXT, channel TEXT NOT NULL, reason TEXT)""",
        "CREATE INDEX idx_request_files_request ON request_files (request_id, id)")
    statuses = ", ".join(f"'{s}'" for s in OUTCOME_STATUSES)
    if db.dialect == "sqlite":   # no ALTER for a CHECK: rebuild the table
        columns = [r[1] for r in db.rows("PRAGMA table_info(outcomes)")]
        run(db, f"""CREATE TABLE outcomes_new (
            id {{id_pk}},
            incident_id TEXT NOT NULL REFERENCES incidents (id),
            camera_id TEXT NOT NULL REFERENCES cameras (id),
            status TEXT NOT NULL CHECK (status IN ({statuses})),
            note TEXT, recorded_at TEXT NOT NULL, recorded_by TEXT NOT NULL,
            acting_as TEXT,
            request_id INTEGER REFERENCES requests (id))""")
        cols = ", ".join(f'"{c}"' for c in columns)
        run(db, f"INSERT INTO outcomes_new ({cols}) SELECT {cols} FROM outcomes",
            "DROP TABLE outcomes", "ALTER TABLE outcomes_new RENAME TO outcomes",
            "CREATE INDEX idx_outcomes_incident ON outcomes (incident_id, camera_id, id)")
    else:
        for name, definition in db.rows(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = "
                "'outcomes'::regclass AND contype = 'c'"):
            if "status" in definition:
                run(db, f'ALTER TABLE outcomes DROP CONSTRAINT "{name}"')
        run(db, f"ALTER TABLE outcomes ADD CONSTRAINT outcomes_status_check CHECK (status IN "
                f"({statuses}))",
            "ALTER TABLE outcomes ADD COLUMN request_id BIGINT REFERENCES requests (id)")
    run(db, "CREATE INDEX idx_outcomes_request ON outcomes (request_id, id)")


KNOWN = [name for name, _ in MIGRATIONS]


def pending_needs(pending: tuple[str, ...]) -> tuple[set[str], bool, set[str]]:
    """(hashed tables to re-record, whether foreign keys must be off, tables newly protected)
    for pending migrations."""
    fns = [fn for name, fn in MIGRATIONS if name in pending]
    return ({t for fn in fns for t in fn.rehash}, any(fn.rebuilds for fn in fns),
            {t for fn in fns for t in fn.protects})


class SchemaState(NamedTuple):
    """What a database holds: applied migration names, and which are unknown or pending."""

    is_videx: bool
    applied: tuple[str, ...]
    unknown: tuple[str, ...]
    pending: tuple[str, ...]


def inspect(db: Backend) -> SchemaState:
    """Read the applied migrations (adopting a legacy sqlite-utils record) without changing
    anything."""
    tables = db.tables()
    applied: list[str] = []
    if TABLE in tables:
        applied = [r[0] for r in db.rows(f"SELECT name FROM {TABLE} ORDER BY seq")]
    elif LEGACY_TABLE in tables:
        applied = [r[0] for r in db.rows(
            f"SELECT name FROM {LEGACY_TABLE} WHERE migration_set = 'videx' ORDER BY id")]
    is_videx = bool(applied)
    unknown = tuple(n for n in applied if n not in KNOWN)
    pending = tuple(n for n in KNOWN if n not in applied)
    return SchemaState(is_videx, tuple(applied), unknown, pending)


def apply_pending(db: Backend, now: str, stop_before: str | None = None) -> list[str]:
    """Apply every pending migration (up to ``stop_before``, for tests of upgrades) inside the
    caller's write transaction; return their names."""
    state = inspect(db)
    if TABLE not in db.tables():
        db.execute(db.ddl(f"CREATE TABLE {TABLE} (seq INTEGER PRIMARY KEY, name TEXT NOT NULL "
                          "UNIQUE, applied_at TEXT NOT NULL)"))
        for seq, name in enumerate(state.applied, start=1):
            db.execute(f"INSERT INTO {TABLE} (seq, name, applied_at) VALUES (?, ?, ?)",
                       [seq, name, now])
    done = []
    seq = len(state.applied)
    for name, fn in MIGRATIONS:
        if name == stop_before:
            break
        if name in state.pending:
            fn(db)
            seq += 1
            db.execute(f"INSERT INTO {TABLE} (seq, name, applied_at) VALUES (?, ?, ?)",
                       [seq, name, now])
            done.append(name)
    return done
