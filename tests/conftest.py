"""Shared fixtures: every test works in its own folder with its own catalog (``VIDEX_DB``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from videx import catalog
from videx.cli import cli

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
BOUNDS = "41.72,-72.72,41.81,-72.64"
DEMO_ID = "HPD-23-004120"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Point VIDEX_DB at a fresh file and run from tmp_path."""
    monkeypatch.setenv("VIDEX_DB", str(tmp_path / "videx.db"))
    monkeypatch.delenv("VIDEX_DEBUG", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def run():
    """Invoke the CLI in-process; returns the click Result."""
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)
    return invoke


@pytest.fixture
def db(tmp_path):
    d = catalog.open_catalog(tmp_path / "videx.db")
    yield d
    d.close()


@pytest.fixture
def city(run):
    """A catalog with bounds, zone, the fixture cameras and incidents."""
    assert run("init", "--bounds", BOUNDS, "--tz", "America/New_York").exit_code == 0
    assert run("cameras", "import", FIXTURES / "cameras.csv").exit_code == 0
    assert run("cameras", "import", FIXTURES / "cameras-registered.geojson").exit_code == 0
    assert run("incidents", "import", FIXTURES / "incidents.csv").exit_code == 0


@pytest.fixture
def clips_copy(tmp_path):
    """A private copy of the fixture clips folder (tests may change files in it)."""
    dest = tmp_path / "clips"
    shutil.copytree(FIXTURES / "clips", dest)
    return dest


@pytest.fixture
def truth():
    return json.loads((FIXTURES / "clips" / "truth.json").read_text())


@pytest.fixture
def ingested(city, run, clips_copy):
    """The city catalog with the fixture clips ingested (rejects included)."""
    result = run("ingest", clips_copy, "--camera-from-folder")
    assert result.exit_code == 3, result.output
    return clips_copy


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
