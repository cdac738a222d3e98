"""Shared fixtures: every test works in its own folder with its own catalog (``VIDEX_DB``).

Building the city catalog (153 cameras, 419 incidents) and ingesting the fixture clips takes a
few seconds, so both are built once per session and copied into each test that asks for them.
The ingested catalog's clips live in one session folder that is restored from ``fixtures/``
before each test that uses it (tests may alter or delete clip files).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from videx import catalog
from videx.cli import cli

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
# VIDEX_TEST_BACKEND=postgresql runs the catalog fixtures (db, city, ingested, open_db) on a
# throwaway PostgreSQL cluster: scripts/test reruns the catalog and canvass tests that way.
# Tests that reach into the SQLite file itself are marked sqlite_only.
ON_PG = os.environ.get("VIDEX_TEST_BACKEND") == "postgresql"
BOUNDS = "41.72,-72.72,41.81,-72.64"
DEMO_ID = "HPD-23-004120"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Point VIDEX_DB at a fresh file and run from tmp_path; no stray identity, key or mail
    server (the link secret's default folder is this test's too)."""
    monkeypatch.setenv("VIDEX_DB", str(tmp_path / "videx.db"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in ("VIDEX_DEBUG", "VIDEX_AS", "VIDEX_AUDIT_KEY", "VIDEX_LINK_KEY",
                 "VIDEX_SMTP_URL", "VIDEX_SMTP_PASSWORD", "VIDEX_SMTP_CAFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def invoke(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)


@pytest.fixture
def run():
    """Invoke the CLI in-process; returns the click Result."""
    return invoke


def settle(db_path: Path) -> None:
    """Fold the WAL into the main file so the catalog can be copied as one file."""
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


@pytest.fixture(scope="session")
def templates(tmp_path_factory):
    """Session catalogs: ``city.db`` and ``ingested.db`` (clips in ``clips/``)."""
    base = tmp_path_factory.mktemp("templates")
    mp = pytest.MonkeyPatch()
    mp.setenv("VIDEX_DB", str(base / "city.db"))
    try:
        assert invoke("init", "--bounds", BOUNDS, "--tz", "America/New_York").exit_code == 0
        assert invoke("cameras", "import", FIXTURES / "cameras.csv").exit_code == 0
        assert invoke("cameras", "import",
                      FIXTURES / "cameras-registered.geojson").exit_code == 0
        assert invoke("incidents", "import", FIXTURES / "incidents.csv").exit_code == 0
        settle(base / "city.db")
        shutil.copy(base / "city.db", base / "ingested.db")
        shutil.copytree(FIXTURES / "clips", base / "clips")
        mp.setenv("VIDEX_DB", str(base / "ingested.db"))
        result = invoke("ingest", base / "clips", "--camera-from-folder")
        assert result.exit_code == 3, result.output
        settle(base / "ingested.db")
    finally:
        mp.undo()
    return base


# modules whose tests start real servers, browsers or clusters, or decode video at length:
# the full suite (scripts/test) runs them; the quick loop (scripts/test --quick) does not
SERVER_MODULES = {"test_browser", "test_web", "test_web_field", "test_web_requests",
                  "test_postgres"}
VIDEO_MODULES = {"test_video", "test_probe_parity"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.module.__name__.rpartition(".")[2]
        if module in SERVER_MODULES:
            item.add_marker(pytest.mark.server)
        elif module in VIDEO_MODULES:
            item.add_marker(pytest.mark.video)
    if ON_PG:
        skip = pytest.mark.skip(reason="reaches into the SQLite file (VIDEX_TEST_BACKEND)")
        for item in items:
            if "sqlite_only" in item.keywords:
                item.add_marker(skip)


def _on_pg(request, monkeypatch, template: Path | None) -> str:
    """A fresh PostgreSQL catalog (a verified copy of ``template``, or empty); VIDEX_DB
    points at it."""
    cluster = request.getfixturevalue("pg_cluster")
    url = cluster.database()
    if template is not None:
        from videx.store.transfer import copy_catalog
        assert copy_catalog(str(template), url, record=False).ok
    monkeypatch.setenv("VIDEX_DB", url)
    return url


@pytest.fixture
def city(templates, tmp_path, request, monkeypatch):
    """A catalog with bounds, zone, the fixture cameras and incidents."""
    if ON_PG:
        _on_pg(request, monkeypatch, templates / "city.db")
        return
    shutil.copy(templates / "city.db", tmp_path / "videx.db")


@pytest.fixture
def ingested(templates, tmp_path, request, monkeypatch):
    """The city catalog with the fixture clips ingested (rejects included); returns the clips
    folder (restored from fixtures/ for this test)."""
    clips = templates / "clips"
    shutil.rmtree(clips)
    shutil.copytree(FIXTURES / "clips", clips)
    if ON_PG:
        _on_pg(request, monkeypatch, templates / "ingested.db")
        return clips
    shutil.copy(templates / "ingested.db", tmp_path / "videx.db")
    return clips


@pytest.fixture
def db(tmp_path, request, monkeypatch):
    """A new, empty catalog opened from Python."""
    location = _on_pg(request, monkeypatch, None) if ON_PG else tmp_path / "videx.db"
    cat = catalog.open_catalog(location, create=True)
    yield cat
    cat.close()


@pytest.fixture
def open_db(tmp_path):
    """Open this test's catalog (made by a fixture or the CLI) from Python."""
    opened = []

    def opener(**kwargs):
        cat = catalog.open_catalog(catalog.resolve_path(None), **kwargs)   # VIDEX_DB
        opened.append(cat)
        return cat
    yield opener
    for cat in opened:
        cat.close()


HOLD_WRITE_LOCK = r"""
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT OR REPLACE INTO rejects (path, reason, rejected_at) VALUES "
             "('held_by', 'other process', 'now')")
print("held", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


def hold_write_lock(path, seconds: float) -> subprocess.Popen:
    """Another process holding a SQLite catalog's write lock for ``seconds`` (returns once it
    holds it); just before letting go it writes a refused file ``held_by`` (a table that is
    not protected: a protected row written outside videx would fail audit verify --deep)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD_WRITE_LOCK, str(path), str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def edit(db_path: Path, *statements: str, params=()) -> None:
    """Change the catalog directly with SQL, as someone bypassing videx would (on the
    PostgreSQL catalog in VIDEX_DB when the tests run on PostgreSQL)."""
    if ON_PG:
        import psycopg
        with psycopg.connect(os.environ["VIDEX_DB"], autocommit=True) as pg:
            for sql in statements:
                pg.execute(sql.replace("?", "%s"), params or None)
        return
    conn = sqlite3.connect(db_path)
    for sql in statements:
        conn.execute(sql, params)
    conn.commit()
    conn.close()


@pytest.fixture
def clips_copy(tmp_path):
    """A private copy of the fixture clips folder (tests may change files in it)."""
    dest = tmp_path / "clips"
    shutil.copytree(FIXTURES / "clips", dest)
    return dest


@pytest.fixture
def truth():
    return json.loads((FIXTURES / "clips" / "truth.json").read_text())


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway PostgreSQL cluster for the session (skips, or fails under
    VIDEX_REQUIRE_PG=1, when PostgreSQL or psycopg is missing)."""
    from videx import pgcluster
    reason = pgcluster.available()
    if reason:
        if os.environ.get("VIDEX_REQUIRE_PG"):
            pytest.fail(f"VIDEX_REQUIRE_PG is set but {reason}")
        pytest.skip(reason)
    cluster = pgcluster.TempCluster()
    yield cluster
    cluster.stop()
