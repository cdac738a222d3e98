"""The catalog on PostgreSQL: the same workflow and answers as on SQLite, an audit chain that
holds under concurrent writers, and verified copies between the two (a throwaway cluster)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BOUNDS, DEMO_ID, FIXTURES
from videx import pgcluster

REASON = pgcluster.available()


@pytest.fixture(autouse=True)
def needs_postgres():
    """Skip without PostgreSQL/psycopg, or fail under VIDEX_REQUIRE_PG (CI as root)."""
    if REASON:
        if os.environ.get("VIDEX_REQUIRE_PG"):
            pytest.fail(f"VIDEX_REQUIRE_PG is set but {REASON}")
        pytest.skip(REASON)

VOLATILE = {"generated_at", "updated_at", "ingested_at", "catalog", "path", "retention_deadline",
            "hours_left", "recorded_at", "reviewed_at"}


@pytest.fixture
def cluster(pg_cluster):
    return pg_cluster


@pytest.fixture
def pg_url(cluster, monkeypatch):
    url = cluster.database()
    monkeypatch.setenv("VIDEX_DB", url)
    return url


def build(run, clips):
    """The fixture city, its clips and a few records, through the CLI; the answers that
    matter, with volatile fields (times of the run, paths) left out."""
    assert run("init", "--bounds", BOUNDS, "--tz", "America/New_York").exit_code == 0
    assert run("cameras", "import", FIXTURES / "cameras.csv").exit_code == 0
    assert run("cameras", "import", FIXTURES / "cameras-registered.geojson").exit_code == 0
    assert run("incidents", "import", FIXTURES / "incidents.csv").exit_code == 0
    ingest = run("ingest", clips, "--camera-from-folder", "--jobs", "1")   # ids in file order
    assert ingest.exit_code == 3, ingest.output      # the damaged fixtures are refused
    assert run("outcome", DEMO_ID, "PRIV-001", "--status", "requested", "--note",
               "letter").exit_code == 0
    assert run("outcome", DEMO_ID, "PRIV-001", "--status", "obtained").exit_code == 0
    assert run("review", DEMO_ID, "3", "--probative", "--note", "figure").exit_code == 0
    canvass = json.loads(run("canvass", DEMO_ID, "--format", "json").output)
    clips_out = json.loads(run("clips", "list", "--format", "json").output)
    shown = json.loads(run("incidents", "show", DEMO_ID, "--format", "json").output)
    verify = run("audit", "verify", "--deep")
    return {"canvass": strip(canvass), "clips": strip(clips_out), "incident": strip(shown),
            "verify": verify.exit_code, "verify_text": verify.output}


def strip(value):
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


def test_the_whole_workflow_gives_the_same_answers_on_both_backends(pg_url, run, tmp_path,
                                                                     monkeypatch):
    clips = tmp_path / "clips"
    shutil.copytree(FIXTURES / "clips", clips)
    on_pg = build(run, clips)
    monkeypatch.setenv("VIDEX_DB", str(tmp_path / "videx.db"))
    on_sqlite = build(run, clips)
    assert on_pg["verify"] == 0 and on_sqlite["verify"] == 0, on_pg["verify_text"]
    assert on_pg["canvass"] == on_sqlite["canvass"]
    assert on_pg["clips"] == on_sqlite["clips"]
    assert on_pg["incident"] == on_sqlite["incident"]
    assert len(on_pg["clips"]) == 15
    statuses = [c["status"] for c in on_pg["canvass"]["cameras"]]
    assert statuses.count("footage") >= 5 and "gap-at-moment" in statuses


def test_a_bad_url_is_one_line(run, cluster, monkeypatch):
    monkeypatch.setenv("VIDEX_DB", f"postgresql://videx@/nosuchdb?host={cluster.root}"
                                   f"&port={cluster.port}")
    result = run("cameras", "list")
    assert result.exit_code == 1
    assert "cannot connect" in result.output and "nosuchdb" in result.output
    assert "Traceback" not in result.output


def test_init_refuses_a_database_holding_other_tables(pg_url, run):
    import psycopg
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE payroll (id int)")
    result = run("init")
    assert result.exit_code == 1 and "other tables" in result.output


WRITER = r"""
import sys
from videx.catalog import open_catalog
cat = open_catalog(sys.argv[1])
for i in range(int(sys.argv[3])):
    with cat.write("stress", {"writer": sys.argv[2], "i": i}):
        cat.set_setting(f"stress_{sys.argv[2]}", i)
cat.close()
"""


def test_concurrent_writers_never_fork_the_audit_chain(pg_url, run):
    assert run("init").exit_code == 0
    before = json.loads(run("audit", "verify", "--format", "json").output)["entries"]
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, pg_url, str(w), "25"])
             for w in range(6)]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    result = run("audit", "verify", "--format", "json")
    check = json.loads(result.output)
    assert result.exit_code == 0 and check["ok"], check
    assert check["entries"] == before + 6 * 25       # every write, each its own entry


def test_db_copy_round_trip_keeps_every_row_and_the_chain(ingested, pg_url, run, tmp_path,
                                                          monkeypatch):
    src = tmp_path / "videx.db"
    result = run("db", "copy", src, pg_url, "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] and report["tables"]["clips"] == 15 and report["audit_entries"] > 5
    import psycopg
    with psycopg.connect(pg_url) as conn:      # the planner has statistics for the new rows
        analyzed = dict(conn.execute("SELECT relname, last_analyze IS NOT NULL FROM "
                                     "pg_stat_user_tables").fetchall())
    assert analyzed["clips"] and analyzed["cameras"], analyzed
    back = tmp_path / "back.db"
    result = run("db", "copy", pg_url, back)
    assert result.exit_code == 0, result.output
    assert "every table identical" in result.output
    # the copy answers like the original
    monkeypatch.setenv("VIDEX_DB", pg_url)
    on_pg = strip(json.loads(run("canvass", DEMO_ID, "--format", "json").output))
    monkeypatch.setenv("VIDEX_DB", str(back))
    on_back = strip(json.loads(run("canvass", DEMO_ID, "--format", "json").output))
    assert on_pg == on_back and on_pg["cameras"]
    # the copied chain is the original's, entry for entry; each side goes on from there (db
    # copy records itself in the source after copying, the canvass above in the copies)
    from videx.catalog import open_catalog
    n = report["audit_entries"]
    with open_catalog(src) as a, open_catalog(pg_url) as b:
        ea = [e for e in a.auditlog.iter_entries()]
        eb = [e for e in b.auditlog.iter_entries()]
    assert [e["hash"] for e in eb[:n]] == [e["hash"] for e in ea[:n]]
    assert ea[n]["command"] == "db copy" and eb[n]["command"] == "db copy"
    assert eb[n]["prev_hash"] == ea[n]["prev_hash"] == ea[n - 1]["hash"]


def test_tampering_on_postgres_is_found_and_a_tampered_source_is_not_copied(ingested, pg_url,
                                                                            run, tmp_path,
                                                                            monkeypatch):
    assert run("db", "copy", tmp_path / "videx.db", pg_url).exit_code == 0
    import psycopg
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE clips SET start_ts = start_ts + 3600 WHERE id = 3")
    monkeypatch.setenv("VIDEX_DB", pg_url)
    result = run("audit", "verify", "--deep")
    assert result.exit_code == 1 and "clips 3: content differs" in result.output
    again = run("db", "copy", pg_url, tmp_path / "laundered.db")
    assert again.exit_code == 1 and "does not verify" in again.output
    assert not (tmp_path / "laundered.db").exists() or \
        Path(tmp_path / "laundered.db").stat().st_size == 0


def test_db_copy_refuses_a_destination_with_data(ingested, pg_url, run, tmp_path):
    assert run("db", "copy", tmp_path / "videx.db", pg_url).exit_code == 0
    result = run("db", "copy", tmp_path / "videx.db", pg_url)
    assert result.exit_code == 1 and "already holds tables" in result.output
    result = run("db", "copy", tmp_path / "videx.db", tmp_path / "videx.db")
    assert result.exit_code == 1 and "already exists" in result.output


def test_transactions_start_with_their_first_statement_and_end_cleanly(pg_url):
    """On PostgreSQL a BEGIN travels with the transaction's first statement: a write that
    fails at its first statement, a write that sends nothing, an empty read and a read that
    fails all leave the connection out of any transaction, and the chain keeps every entry
    that was committed and nothing else."""
    from videx import audit, catalog
    from videx.errors import CatalogError
    cat = catalog.open_catalog(pg_url, create=True)
    try:
        entries = audit.verify(cat).entries
        with pytest.raises(Exception, match="no_such_table"):
            with cat.write("bad first statement"):
                cat.db.execute("SELECT * FROM no_such_table")
        assert not cat.db.in_transaction
        with cat.write("nothing sent") as tx:
            tx.cancelled = True
        assert not cat.db.in_transaction
        with cat.reading():
            pass
        with pytest.raises(Exception, match="no_such_table"):
            with cat.reading():
                cat.db.execute("SELECT * FROM no_such_table")
        assert not cat.db.in_transaction
        with pytest.raises(CatalogError, match="internal"):
            with cat.write("raises"):
                raise CatalogError("internal: stop")
        assert not cat.db.in_transaction
        assert cat.record("one view") is None
        with cat.write("a setting") as tx:
            cat.set_setting("bench_note", "kept")
        check = audit.verify(cat, deep=True)
        assert check.ok and check.entries == entries + 2, check.summary()
        assert cat.setting("bench_note") == "kept"
    finally:
        cat.close()


def test_a_long_case_does_not_make_other_canvasses_scan_every_outcome(pg_url, run):
    """Prepared statements run with one generic plan, estimated from the distinct incidents
    among the outcomes. Thousands of outcomes on one case once made PostgreSQL look up every
    camera's latest outcome by scanning the outcomes table backwards (56 ms a canvass at 10M
    clips instead of 1.5 ms); the schema tells it an incident has few (m008)."""
    import psycopg
    from psycopg import sql as pgsql

    from videx.store.clips import _canvass_sql
    assert run("init", "--bounds", BOUNDS, "--tz", "America/New_York").exit_code == 0
    assert run("cameras", "import", FIXTURES / "cameras.csv").exit_code == 0
    assert run("incidents", "import", FIXTURES / "incidents.csv").exit_code == 0
    with psycopg.connect(pg_url, autocommit=True) as conn:
        camera = conn.execute("SELECT id FROM cameras ORDER BY id LIMIT 1").fetchone()[0]
        conn.execute("INSERT INTO outcomes (incident_id, camera_id, status, recorded_at, "
                     "recorded_by) SELECT %s, %s, 'requested', 'x', 'y' "
                     "FROM generate_series(1, 3000)", [DEMO_ID, camera])
        conn.execute("ANALYZE outcomes")
        _, sql = _canvass_sql()
        parts = sql.split("?")
        numbered = "".join(p + (f"${i + 1}" if i < len(parts) - 1 else "")
                           for i, p in enumerate(parts))
        conn.execute(f"PREPARE canvass (text, {', '.join(['float8'] * (len(parts) - 2))}) "
                     f"AS {numbered}")
        conn.execute("SET plan_cache_mode = force_generic_plan")
        values = ["another case", 2e9, 1e9, 1e9, 40.0, 41.0, -75.0, -74.0] + [40.5, 1e5] * 4 \
            + [1e6]
        plan = "\n".join(r[0] for r in conn.execute(
            pgsql.SQL("EXPLAIN EXECUTE canvass ({})").format(
                pgsql.SQL(", ").join(pgsql.Literal(v) for v in values))))
    assert "idx_outcomes_incident" in plan, plan
    assert "Seq Scan on outcomes" not in plan and "pkey on outcomes" not in plan, plan


def test_a_kept_cluster_is_restarted_when_durable_commits_are_asked_for():
    """Benchmarks can run PostgreSQL as a department server does (fsync and synchronous
    commits on); a kept cluster running without them is restarted with them, not reused."""
    import tempfile

    import psycopg

    from videx.pgcluster import TempCluster

    def flushing(cluster):
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            return [conn.execute(f"SHOW {name}").fetchone()[0]
                    for name in ("fsync", "synchronous_commit")]
    keep = tempfile.mkdtemp(prefix="videx-pg-kept-")
    try:
        assert flushing(TempCluster(port=55477, keep=keep)) == ["off", "off"]
        assert flushing(TempCluster(port=55477, keep=keep)) == ["off", "off"]     # reused
        assert flushing(TempCluster(port=55477, keep=keep, durable=True)) == ["on", "on"]
    finally:
        TempCluster(port=55477, keep=keep, durable=True).stop()
        shutil.rmtree(keep, ignore_errors=True)
