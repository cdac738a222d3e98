"""The study on messy case tables, from specs, through the CLI and from the catalog."""

import json
import re

import pytest

from conftest import DEMO_ID, FIXTURES, write
from videx.errors import InputError
from videx.study import build_spec, load_spec, run_study
from videx.study.data import load

SPEC = FIXTURES / "study" / "study.toml"
CASES = FIXTURES / "study" / "cases.csv"


@pytest.fixture(scope="module")
def fixture_result():
    return run_study(load_spec(SPEC, {"bootstrap": 200}))


def test_fixture_reproduces_the_department_figure(fixture_result):
    r = fixture_result
    assert r.n == 419 and r.data.n_input == 426
    assert r.crude.pct_increase == pytest.approx(123, abs=1)   # "123% higher clearance"
    assert r.crude.rr == pytest.approx(2.23, abs=0.01)
    # the generator's true within-category RR is 1.6: adjustment moves toward it
    for est in (r.adjusted.rr, r.mantel_haenszel.rr, r.ipw.rr):
        assert 1.4 < est < 1.8
        assert est < r.crude.rr
    assert r.mantel_haenszel.homogeneity_p > 0.05


def test_every_dropped_row_is_counted_by_reason(fixture_result):
    d = fixture_result.data
    assert d.dropped == {"blank exposure (video)": 3, "blank covariate category": 2,
                         "blank outcome (clearance)": 2}
    assert sum(d.dropped.values()) == d.n_input - d.n
    assert all(e["row"] >= 2 for e in d.dropped_examples)
    assert d.survival_dropped == {"cleared but cleared_at blank or unparseable": 2}
    # values read as yes/no are reported, so a typo cannot hide as "no"
    assert d.value_maps["exposure"]["Y"]["yes"] is True
    assert d.value_maps["exposure"]["N"]["yes"] is False
    assert d.value_maps["outcome"]["Exceptionally cleared"]["yes"] is False
    cat = [c for c in d.covariates if c.name == "category"][0]
    assert cat.kind == "categorical"
    assert set(cat.levels) == {"fatal", "non-fatal", "shots-fired"}  # "Fatal", " fatal" folded
    assert {c.name: c.kind for c in d.covariates}["victims"] == "numeric"
    assert {c.name: c.kind for c in d.covariates}["year"] == "categorical"


def test_results_carry_provenance(fixture_result):
    doc = fixture_result.to_dict()
    for key in ("n", "crude", "adjusted", "ipw", "mantel_haenszel", "survival", "evalue",
                "dropped", "spec", "input_sha256", "versions"):
        assert key in doc
    for arm in ("exposed", "unexposed"):
        assert {"n", "cleared", "rate", "rate_ci"} <= set(doc["crude"][arm])
    assert {"rr", "rr_ci", "pct_increase", "rd", "rd_ci", "or", "fisher_p"} <= set(doc["crude"])
    assert {"rr", "rr_ci", "or", "or_ci", "method"} <= set(doc["adjusted"])
    assert re.fullmatch(r"[0-9a-f]{64}", doc["input_sha256"])
    assert doc["versions"]["statsmodels"]
    assert doc["bootstrap"]["n"] == 200 and doc["bootstrap"]["ci"][0] < 2.23
    assert doc["late_exposure"]["cases"] >= 1


def test_messy_table_drops_are_explicit(tmp_path):
    f = write(tmp_path / "c.csv", "cleared,video,age,area\n"
              "yes,yes,30,north\nno,no,41,south\nyes,no,x9,north\n,yes,22,south\n"
              "no,yes,35,\n" + "yes,yes,33,north\nno,no,40,south\n" * 10)
    spec = build_spec({"cases": str(f), "covariates": ("age",), "cluster": "area"})
    data = load(spec)
    assert data.dropped == {"blank outcome (cleared)": 1,
                            "not a number in numeric covariate age": 1, "blank cluster area": 1}
    assert data.n == 22


def test_filters_and_regex_mapping(tmp_path):
    f = write(tmp_path / "c.csv", "status,cam,kind\n"
              "Cleared by arrest,Y,fatal\nOpen,N,fatal\nCLEARED BY ARREST,N,drill\n"
              "Exceptionally cleared,Y,fatal\n")
    spec = build_spec({"cases": str(f), "outcome": "status=re:^cleared by arrest$",
                       "exposure": "cam=y", "exclude": ("kind=drill",)})
    data = load(spec)
    assert data.dropped == {"excluded by --exclude kind=drill": 1}
    assert data.frame["y"].tolist() == [1, 0, 0]
    spec = build_spec({"cases": str(f), "outcome": "status=re:^cleared by arrest$",
                       "exposure": "cam=y", "where": ("kind=fatal",)})
    assert load(spec).dropped == {"not matching --where kind=fatal": 1}


def test_bad_specs_fail_clearly(tmp_path):
    f = write(tmp_path / "c.csv", "cleared,video\nyes,no\n")
    with pytest.raises(InputError, match=r"missing column category \(found: cleared, video\)"):
        load(build_spec({"cases": str(f), "covariates": ("category",)}))
    with pytest.raises(InputError, match="use COLUMN=VALUES"):
        build_spec({"cases": str(f), "exposure": "video"})
    bad = write(tmp_path / "s.toml", 'cases = "c.csv"\nexposre = "video=yes"\n')
    with pytest.raises(InputError, match="unknown key.*exposre"):
        load_spec(bad)


def test_cli_run_writes_everything_and_reruns_from_its_spec(run, tmp_path):
    out = tmp_path / "out"
    r = run("study", "run", "--spec", SPEC, "--bootstrap", "0", "--out", out)
    assert r.exit_code == 0, r.output
    assert "risk ratio of 2.23" in r.stdout and "123% higher clearance" in r.stdout
    for name in ("results.json", "report.md", "report.html", "rates.png", "forest.png",
                 "km.png", "balance.png", "overlap.png"):
        assert (out / name).stat().st_size > 1000, name
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html
    assert not re.search(r"(src|href)=['\"]https?:", html)   # self-contained, no network
    md = (out / "report.md").read_text()
    assert "association" in md and "investigative effort" in md
    assert "odds ratio (Woolf) - not a % change in clearance" in md
    first = json.loads((out / "results.json").read_text())
    # rerun from the spec recorded in the results: same numbers
    spec_text = md.split("```toml\n")[1].split("```")[0]
    respec = write(tmp_path / "again.toml", spec_text)
    r = run("study", "run", "--spec", respec, "--out", tmp_path / "again", "--format", "json")
    again = json.loads(r.stdout)
    assert again["crude"] == first["crude"] and again["adjusted"] == first["adjusted"]
    assert again["input_sha256"] == first["input_sha256"]


def test_cli_errors_are_one_line(run, tmp_path):
    r = run("study", "run", "--cases", CASES, "--covariate", "colour", "--out", tmp_path / "o")
    assert r.exit_code == 1
    assert r.stderr.startswith(f"Error: {CASES}: missing columns cleared, colour (found: case_id,")
    assert "Traceback" not in r.output
    r = run("study", "run", "--out", tmp_path / "o")
    assert r.exit_code == 1 and "no case table" in r.stderr


def test_dataset_from_catalog(ingested, run, tmp_path):
    cams = json.loads(run("canvass", DEMO_ID, "--format", "json").stdout)["cameras"]
    clip = [c for c in cams if c["camera_id"] == "CITY-001"][0]["clips"][0]["clip_id"]
    run("review", DEMO_ID, clip, "--probative")
    out = tmp_path / "cases.csv"
    r = run("study", "dataset", "--exposure", "probative", "--out", out)
    assert r.exit_code == 0
    rows = out.read_text().splitlines()
    assert len(rows) == 420
    assert sum(",yes," in row and row.startswith(DEMO_ID) for row in rows) == 1
    assert "1 with video (probative)" in r.stdout
    r = run("study", "dataset", "--exposure", "coverage", "--out", out)
    assert "1 with video (coverage)" in r.stdout
    r = run("study", "dataset", "--exposure", "obtained", "--out", out)
    assert "0 with video (obtained)" in r.stdout


def test_degenerate_groups_are_reported_not_estimated(tmp_path):
    rows = "cleared,video,category\n" + "no,yes,a\n" + "yes,no,a\nno,no,b\n" * 20
    f = write(tmp_path / "c.csv", rows)
    r = run_study(build_spec({"cases": str(f), "covariates": ("category",)}))
    assert r.crude.rr is None and r.adjusted is None and r.ipw is None
    assert r.evalues == {}
    assert "not made: no cleared case with video" in r.notes[0]
    assert r.headline() == "No risk ratio: one group has no cleared case."
