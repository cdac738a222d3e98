"""Acceptance checks for the evidence record under concurrency and crashes: real processes on
a real catalog (slow: about two and a half minutes; run with -m slow, or skip with -m 'not
slow'). The concurrent run also runs on PostgreSQL (VIDEX_TEST_BACKEND=postgresql).
VIDEX_STRESS_SECONDS shortens the concurrent run for a quick local look."""

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("stress", ROOT / "scripts" / "stress.py")
stress = importlib.util.module_from_spec(spec)
spec.loader.exec_module(stress)

pytestmark = pytest.mark.slow


def test_twelve_concurrent_writers_verifiers_and_readers_lose_nothing_and_never_cry_wolf(
        ingested, tmp_path):
    """4 writers, 4 verifiers (audit verify, two of them --deep, again and again) and 4
    canvassing readers for 60 s: no write lost, no command failed, and not one false alarm
    from a verifier reading while others write (each reads one snapshot)."""
    seconds = float(os.environ.get("VIDEX_STRESS_SECONDS", "60"))
    result = stress.concurrent(os.environ["VIDEX_DB"], seconds, str(tmp_path / "work"))
    assert result["false_alarms"] == []
    assert result["by_kind"]["verify"] >= 8, result["by_kind"]
    assert result["failed"] == []
    assert result["lost_writes"] == []
    assert all(n > 0 for n in result["by_kind"].values()), result["by_kind"]
    assert result["canvass_entries"]["run"] == result["canvass_entries"]["logged"]
    assert result["audit_verify"] == 0 and result["audit_verify_deep"] == 0


@pytest.mark.sqlite_only   # drives the SQLite file (PostgreSQL: tests/test_postgres.py)
def test_kill_9_during_ingest_leaves_a_consistent_audited_catalog(city, tmp_path):
    result = stress.kills(str(tmp_path / "videx.db"), str(tmp_path / "work"), times=50,
                          files=120)
    assert result["problems"] == []
    counts = result["catalogued_after_each_kill"]
    assert counts == sorted(counts) and counts[-1] > 0       # progress kept across kills
    assert result["final_exit"] == 0
    assert result["audit_verify_deep"] == 0
