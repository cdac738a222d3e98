"""The study on messy case tables, from specs, through the CLI and from the catalog."""

import csv
import json
import math
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


def table(tmp_path, name, header, rows):
    return write(tmp_path / name, header + "\n" + "\n".join(rows) + "\n")


def test_fixture_reproduces_the_department_figure(fixture_result):
    r = fixture_result
    assert r.n == 419 and r.data.n_input == 426
    assert r.crude.pct_increase == pytest.approx(123, abs=1)   # "123% higher clearance"
    assert r.crude.rr == pytest.approx(2.23, abs=0.01)
    assert "i.e. 123% higher clearance" in r.headline()
    # the generator's true within-category RR is 1.6: adjustment moves toward it
    for est in (r.adjusted.rr, r.mantel_haenszel.rr, r.ipw.rr):
        assert 1.4 < est < 1.8
        assert est < r.crude.rr
    assert r.mantel_haenszel.homogeneity_p > 0.05


def test_every_row_is_accounted_for(fixture_result):
    d = fixture_result.data
    assert d.dropped == {"blank exposure (video)": 5, "blank outcome (clearance)": 2}
    assert sum(d.dropped.values()) == d.n_input - d.n
    assert all(e["row"] >= 2 for e in d.dropped_examples)
    assert d.survival_dropped == {"cleared but cleared_at blank or unparseable": 2}
    assert d.value_maps["exposure"]["Y"]["yes"] is True
    assert d.value_maps["exposure"]["N"]["yes"] is False
    # "Exceptionally cleared" is read as no and is not an explicit no: shown to the analyst
    assert d.suspicious == {"outcome": ["Exceptionally cleared"]}
    assert "? 'Exceptionally cleared'" in fixture_result.summary()
    cat = [c for c in d.covariates if c.name == "category"][0]
    assert set(cat.levels) == {"fatal", "non-fatal", "shots-fired"}  # "Fatal", " fatal" folded
    assert {c.name: c.kind for c in d.covariates}["victims"] == "numeric"
    assert {c.name: c.kind for c in d.covariates}["year"] == "categorical"


def test_every_estimate_carries_its_variance_type(fixture_result):
    labels = {e["label"]: e["variance"] for e in fixture_result.estimates()}
    assert labels["Crude RR"] == "Katz log interval; does not account for clustering by " \
                                 "neighborhood"
    t = "cluster-robust by neighborhood (16 clusters, t(15) critical values)"
    assert labels["Crude RR, cluster-robust"] == t
    assert labels["Adjusted RR (modified Poisson)"] == t
    assert labels["IPW RR"] == f"M-estimation sandwich, {t}"
    assert labels["Crude RR, bootstrap percentile interval"].startswith(
        "bootstrap over clusters")
    assert fixture_result.survival.covariance == t
    assert {e["group"] for e in fixture_result.estimates()} == {"overall", "subgroup"}


def test_results_are_strict_json_with_provenance(fixture_result, tmp_path):
    from videx.study.report import write_report
    paths = write_report(fixture_result, tmp_path / "out")
    text = paths["results"].read_text()
    doc = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in results.json"))
    for key in ("n", "crude", "adjusted", "ipw", "mantel_haenszel", "survival", "evalue",
                "dropped", "spec", "input_sha256", "versions", "heterogeneity"):
        assert key in doc
    assert re.fullmatch(r"[0-9a-f]{64}", doc["input_sha256"])
    assert doc["bootstrap"]["n"] == 200 and doc["bootstrap"]["ci"][0] < 2.23
    assert doc["late_exposure"]["cases"] >= 1


# ------------------------------------------------------------------ missing values and wording
def test_blank_means_no_is_a_decision_shown_in_the_headline(tmp_path):
    rows = ["yes,yes"] * 20 + ["yes,"] * 30 + [",yes"] * 5 + ["no,"] * 40 + [",no"] * 5 \
        + ["no,no"] * 25 + ["yes,no"] * 5
    f = table(tmp_path, "c.csv", "closed,camera", rows)
    drop = run_study(build_spec({"cases": str(f), "outcome": "closed=yes",
                                 "exposure": "camera=yes"}))
    assert drop.data.dropped["blank exposure (camera)"] == 70
    assert "70 of 130 rows (54%) were left out for a blank exposure; if a blank means no, " \
           "rerun with --missing-exposure no" in drop.headline()
    keep = run_study(build_spec({"cases": str(f), "outcome": "closed=yes",
                                 "exposure": "camera=yes", "missing_exposure": "no",
                                 "missing_outcome": "no"}))
    assert keep.n == 130 and keep.data.blank_as_no == {"outcome": 10, "exposure": 70}
    assert keep.crude.exposed.n == 25 and keep.crude.exposed.cleared == 20


def test_values_that_look_like_yes_are_shown_and_unknown_ones_refused(tmp_path, run):
    rows = ["1.0,1.0"] * 30 + ["0.0,0.0"] * 30 + ["1,1"] * 10 + ["2,0"] * 3
    f = table(tmp_path, "c.csv", "cleared,video", rows)
    r = run("study", "run", "--cases", f, "--outcome", "cleared=1", "--exposure", "video=1",
            "--out", tmp_path / "o")
    assert r.exit_code == 0
    assert "exposure column video: how each value was read" in r.stdout
    assert "? '1.0'" in r.stdout and "? '2'" in r.stdout          # 1.0 read as no: shown
    r = run("study", "run", "--cases", f, "--outcome", "cleared=1,1.0", "--outcome-no",
            "0,0.0", "--exposure", "video=1,1.0", "--out", tmp_path / "o")
    assert r.exit_code == 1
    assert ("outcome column cleared has values that are neither yes (cleared=1,1.0) nor no "
            "(0,0.0): '2' (3 rows)") in r.stderr


@pytest.mark.parametrize("a, c, words", [
    (10, 20, "50% lower clearance"), (20, 20, "no difference in clearance"),
    (30, 20, "50% higher clearance")])
def test_the_headline_says_higher_lower_or_no_difference(tmp_path, a, c, words):
    rows = ["yes,yes"] * a + ["no,yes"] * (60 - a) + ["yes,no"] * c + ["no,no"] * (60 - c)
    f = table(tmp_path, "c.csv", "cleared,video", rows)
    r = run_study(build_spec({"cases": str(f), "exposure_label": "a camera within 50 m"}))
    assert f"i.e. {words}." in r.headline()
    assert r.headline().startswith(f"Cases with a camera within 50 m: {a / 60:.1%} cleared "
                                   f"({a}/60), against 33.3% without (20/60)")
    assert "-" not in r.headline().split("i.e.")[1]


def test_values_with_commas_as_a_json_list(tmp_path, run):
    f = table(tmp_path, "c.csv", "status,video", ['"Closed, arrest",yes', "Cleared,no",
                                                   "Open,yes", "Open,no"] * 10)
    r = run("study", "run", "--cases", f, "--outcome",
            'status=["Closed, arrest", "Cleared"]', "--out", tmp_path / "o",
            "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["crude"]["exposed"]["cleared"] == 10
    r2 = run("study", "run", "--cases", f, "--outcome", 'status=["Closed, arrest"]',
             "--outcome", "status=Cleared", "--out", tmp_path / "p", "--format", "json")
    assert json.loads(r2.stdout)["crude"] == json.loads(r.stdout)["crude"]


def test_alpha_drives_every_label(tmp_path):
    from videx.study.report import write_report
    spec = load_spec(SPEC, {"alpha": 0.10, "bootstrap": 0})
    r = run_study(spec)
    assert "(90% CI" in r.headline() and "95%" not in r.headline()
    paths = write_report(r, tmp_path / "o")
    md = paths["markdown"].read_text()
    assert "90% CI" in md and "95%" not in md


# ------------------------------------------------------------------ degenerate data
def test_outcome_perfectly_predicted_by_a_category_is_refused_with_the_reason(tmp_path, run):
    rows = (["yes,yes,a"] * 10 + ["no,no,a"] * 10 + ["no,yes,b"] * 8 + ["no,no,b"] * 12
            + ["yes,yes,c"] * 5 + ["yes,no,c"] * 5)
    f = table(tmp_path, "c.csv", "cleared,video,area", rows)
    r = run("study", "run", "--cases", f, "--covariate", "area", "--out", tmp_path / "o",
            "--format", "json")
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert doc["adjusted"] is None
    assert doc["refused"]["adjusted"].startswith(
        "the outcome (cleared) is perfectly predicted by area=b (no case in it was cleared)")
    assert ("No adjusted estimate: the outcome (cleared) is perfectly predicted by area=b"
            in doc["headline"])
    assert "Warning" not in r.stderr and "warn" not in r.stderr.lower()


@pytest.mark.parametrize("rows, reason", [
    (["yes,yes,1"] * 8 + ["no,yes,1"] * 7 + ["yes,no,1"] * 5 + ["no,no,1"] * 10,
     "covariate age has the same value in every case"),
    (["yes,yes,30", "no,yes,31", "yes,no,20", "no,no,21", "yes,yes,25", "no,no,26"],
     "too few for an adjusted model"),
])
def test_degenerate_covariates_are_refused(tmp_path, rows, reason):
    f = table(tmp_path, "c.csv", "cleared,video,age", rows)
    r = run_study(build_spec({"cases": str(f), "covariates": ("age",)}))
    assert r.adjusted is None and reason in r.refused["adjusted"]


def test_empty_group_and_single_row_headlines_give_the_true_reason(tmp_path):
    f = table(tmp_path, "c.csv", "cleared,video", ["yes,yes", "no,yes", "yes,yes"])
    r = run_study(build_spec({"cases": str(f)}))
    assert r.headline() == "No risk ratio: no case without relevant video: nothing to compare."
    f = table(tmp_path, "d.csv", "cleared,video", ["no,yes"] * 5 + ["yes,no"] * 5)
    r = run_study(build_spec({"cases": str(f)}))
    assert r.crude.rr == 0
    assert "100% lower clearance" in r.headline()


def test_exposure_perfectly_predicted_refuses_weighting(tmp_path):
    rows = (["yes,yes,a"] * 10 + ["no,yes,a"] * 10 + ["yes,no,b"] * 6 + ["no,no,b"] * 14
            + ["yes,yes,b"] * 4 + ["no,yes,b"] * 6)
    f = table(tmp_path, "c.csv", "cleared,video,area", rows)
    r = run_study(build_spec({"cases": str(f), "covariates": ("area",)}))
    assert r.ipw is None
    assert r.refused["IPW"] == ("the exposure (relevant video) is perfectly predicted by area=a "
                                "(every case has it): propensity weighting cannot compare these "
                                "cases")


# ------------------------------------------------------------------ covariate types
def test_mostly_numeric_covariates_and_leading_numbers(tmp_path):
    rows = [f"{'yes' if i % 3 else 'no'},{'yes' if i % 2 else 'no'},{20 + i}" for i in range(40)]
    rows += ["yes,yes,26, pic", "no,no,Unknown", "yes,no,31 (est.)"]
    f = write(tmp_path / "c.csv", "cleared,video,age\n" + "\n".join(
        r.replace("26, pic", '"26, pic"') for r in rows) + "\n")
    r = run_study(build_spec({"cases": str(f), "covariates": ("age",)}))
    age = r.covariates[0]
    assert age.kind == "numeric" and age.how == "93% of cells are numbers"
    assert r.data.incomplete == {"not a number in numeric covariate age": 3}
    assert r.n == 43 and r.adjusted.n == 40 and r.crude_complete.n == 40
    assert "On the 40 of 43 cases with every covariate known" in r.headline()
    lead = run_study(build_spec({"cases": str(f), "covariates": ("age",),
                                 "numeric_leading": ("age",)}))
    assert lead.data.incomplete == {"no number at the start of covariate age": 1}
    assert lead.adjusted.n == 42


def test_a_category_with_too_many_levels_needs_to_be_declared(tmp_path):
    rows = [f"yes,{'yes' if i % 2 else 'no'},unit-{i}" for i in range(30)]
    f = table(tmp_path, "c.csv", "cleared,video,unit", rows)
    with pytest.raises(InputError, match="covariate unit has 30 different values, too many for "
                                         "a category"):
        load(build_spec({"cases": str(f), "covariates": ("unit",)}))
    data = load(build_spec({"cases": str(f), "covariates": ("unit",),
                            "categorical": ("unit",)}))
    assert data.covariates[0].kind == "categorical" and len(data.covariates[0].rare_levels) == 30


# ------------------------------------------------------------------ subgroups
def test_subgroups_get_a_heterogeneity_test_and_a_multiplicity_note(fixture_result):
    het = {h["by"]: h for h in fixture_result.heterogeneity}
    assert set(het) == {"category", "year"}
    assert het["category"]["df"] == 2 and 0 < het["category"]["p"] < 1
    assert any("Bonferroni" in n for n in fixture_result.notes)


# ------------------------------------------------------------------ inputs and reruns
def test_excel_exports_and_bad_dates(tmp_path, run):
    f = tmp_path / "c.csv"
    f.write_bytes("cleared;video;nom\r\n".encode("cp1252")
                  + "".join(f"{'yes' if i % 2 else 'no'};{'yes' if i % 3 else 'no'};José\r\n"
                            for i in range(30)).encode("cp1252"))
    r = run("study", "run", "--cases", f, "--out", tmp_path / "o")
    assert r.exit_code == 1 and "suggest" not in r.stderr and "--encoding cp1252" in r.stderr
    r = run("study", "run", "--cases", f, "--encoding", "cp1252", "--out", tmp_path / "o")
    assert r.exit_code == 0, r.output
    r = run("study", "run", "--cases", f, "--encoding", "cp1252", "--occurred", "nom",
            "--censor-date", "not-a-date", "--out", tmp_path / "o")
    assert r.exit_code == 1
    assert r.stderr.strip() == ("Error: censor date 'not-a-date' is not a date (use "
                                "YYYY-MM-DD)")


@pytest.mark.heavy
def test_the_written_spec_reproduces_every_number(run, tmp_path, monkeypatch):
    out = tmp_path / "out"
    r = run("study", "run", "--spec", SPEC, "--bootstrap", "50", "--out", out)
    assert r.exit_code == 0, r.output
    spec_text = (out / "study.toml").read_text()
    assert "cases_sha256 = " in spec_text and not spec_text.split("cases = ")[1].startswith(
        '"/')                                          # relative to the spec file
    assert spec_text in (out / "report.md").read_text()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)                       # follow the report's own instruction
    r = run("study", "run", "--spec", out / "study.toml", "--out", tmp_path / "again")
    assert r.exit_code == 0, r.output
    # byte for byte: the spec inside records the table relative to the folder and its hash
    # on the first run too (issue 18: cases_sha256 null -> hash, relative -> absolute)
    first = (out / "results.json").read_bytes()
    assert (tmp_path / "again" / "results.json").read_bytes() == first
    assert (tmp_path / "again" / "study.toml").read_text() == spec_text
    doc = json.loads(first)
    assert list(doc)[:2] == ["alpha", "confidence_level"] and doc["alpha"] == 0.05
    assert doc["spec"]["cases_sha256"] == doc["input_sha256"]
    assert not doc["spec"]["cases"].startswith("/")
    r = run("study", "run", "--spec", out / "study.toml", "--out", out)     # in place
    assert (out / "results.json").read_bytes() == first
    copy = tmp_path / "changed.csv"
    copy.write_text(CASES.read_text() + CASES.read_text().splitlines()[1] + "\n")
    (out / "study.toml").write_text(spec_text.replace(
        spec_text.split("cases = ")[1].split("\n")[0], json.dumps(str(copy))))
    r = run("study", "run", "--spec", out / "study.toml", "--out", tmp_path / "x")
    assert r.exit_code == 1 and "the case table changed since this spec was written" in r.stderr


def test_a_run_from_the_command_line_reruns_byte_for_byte_from_its_spec(run, tmp_path,
                                                                       monkeypatch):
    table = tmp_path / "data" / "cases.csv"
    table.parent.mkdir()
    table.write_text(CASES.read_text())
    monkeypatch.chdir(table.parent)
    r = run("study", "run", "--cases", "cases.csv", "--outcome", "clearance=Cleared by arrest",
            "--exposure", "video=yes,y", "--covariate", "category", "--cluster",
            "neighborhood", "--bootstrap", "30", "--out", tmp_path / "one")
    assert r.exit_code == 0, r.output
    monkeypatch.chdir(tmp_path)
    r = run("study", "run", "--spec", tmp_path / "one" / "study.toml", "--out", "two")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "one" / "results.json").read_bytes() == (
        tmp_path / "two" / "results.json").read_bytes()
    assert json.loads((tmp_path / "two" / "results.json").read_text())["spec"]["cases"] == \
        "../data/cases.csv"


def test_cli_run_writes_everything(run, tmp_path):
    out = tmp_path / "out"
    r = run("study", "run", "--spec", SPEC, "--bootstrap", "0", "--out", out)
    assert r.exit_code == 0, r.output
    assert "risk ratio of 2.23" in r.stdout and "123% higher clearance" in r.stdout
    for name in ("results.json", "report.md", "report.html", "rates.png", "forest.png",
                 "km.png", "balance.png", "overlap.png", "study.toml"):
        assert (out / name).stat().st_size > 300, name
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html
    assert not re.search(r"(src|href)=['\"]https?:", html)   # self-contained, no network
    md = (out / "report.md").read_text()
    assert "association" in md and "investigative effort" in md
    assert ("odds ratio (Woolf; does not account for clustering by neighborhood) - not a % "
            "change in the proportion cleared") in md
    assert "model-based, as R glm" in md


def test_bad_specs_fail_clearly(tmp_path):
    f = write(tmp_path / "c.csv", "cleared,video\nyes,no\n")
    with pytest.raises(InputError, match=r"missing column category \(found: cleared, video\)"):
        load(build_spec({"cases": str(f), "covariates": ("category",)}))
    with pytest.raises(InputError, match="use COLUMN=VALUES"):
        build_spec({"cases": str(f), "exposure": "video"})
    bad = write(tmp_path / "s.toml", 'cases = "c.csv"\nexposre = "video=yes"\n')
    with pytest.raises(InputError, match="unknown key.*exposre"):
        load_spec(bad)


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


def test_dataset_cells_cannot_run_as_formulas(city, run, tmp_path):
    f = write(tmp_path / "i.csv", "id,occurred_at,lat,lon,neighborhood\n"
              "=cmd|' /C calc'!A0,2023-05-01T14:30:00Z,41.76,-72.68,+SUM(1)\n")
    assert run("incidents", "import", f).exit_code == 0
    out = tmp_path / "cases.csv"
    assert run("study", "dataset", "--out", out).exit_code == 0
    text = out.read_text()
    assert "'=cmd|" in text and "'+SUM(1)" in text
    assert not re.search(r"(^|,)[=+@]", text, re.M)


def test_no_statistics_number_is_nan_or_infinite_anywhere(fixture_result):
    def walk(v):
        if isinstance(v, float):
            assert math.isfinite(v)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    walk(fixture_result.to_dict())


@pytest.mark.parametrize("text", [
    "case,cleared,video\r\n1,yes,no\r\n2,no,yes\r\n",                      # Excel CRLF
    "\n\ncase,cleared,video\n1, yes ,no\n\n2,no,\" yes\"\n",               # blank lines, padding
    "case,cleared,video,note\n1,yes,no,\"two\nlines\"\n2,no,yes\n",         # a quoted newline
    "case,cleared,,cleared\n1,yes,x,no\n2,no,y,yes\n",                        # blank and repeated
    "case;cleared;video\n1;yes;no\n2;no;yes;\n",                             # ';' and a trailing ;
])
def test_the_fast_table_reader_agrees_with_the_row_by_row_reader(tmp_path, text):
    from videx.study.data import _read_row_by_row, read_cases
    from videx.textfile import sniff_delimiter
    path = write(tmp_path / "t.csv", text)
    fast = read_cases(path)
    slow = _read_row_by_row(path, None, sniff_delimiter(text, str(path)))
    assert fast.to_dict("index") == slow.to_dict("index")
    assert list(fast.columns) == list(slow.columns)
    assert all(v == v.strip() for row in fast.to_dict("records") for v in row.values())


def test_a_row_wider_than_the_header_is_named(tmp_path):
    from videx.study.data import read_cases
    path = write(tmp_path / "t.csv", "case,cleared\n1,yes\n2,no,extra\n")
    with pytest.raises(InputError, match=r"row 3: more cells than the header"):
        read_cases(path)


# ------------------------------------------------------------------ --trim
def test_trim_leaves_the_cases_out_and_says_how_many(tmp_path):
    # docs: "--trim T: leave out cases with a propensity outside T..1-T (counted)"; the
    # propensity model is refitted on the cases kept (issue 18: it clipped them instead)
    import numpy as np
    import pandas as pd

    from videx.study import models
    rng = np.random.default_rng(3)
    n = 800
    age = rng.normal(0, 1.6, n)
    x = rng.binomial(1, 1 / (1 + np.exp(-2.2 * age)))
    y = rng.binomial(1, 0.2 + 0.15 * x + 0.05 * (age > 0))
    frame = pd.DataFrame({"y": y, "x": x, "age": age})
    trimmed = models.ipw(frame["y"], frame["x"], frame[["age"]], trim=0.05)
    first = np.asarray(models.propensity(frame["x"], frame[["age"]]).predict())
    keep = (first >= 0.05) & (first <= 0.95)
    assert trimmed.trimmed == int((~keep).sum()) > 20 and trimmed.n == int(keep.sum())
    by_hand = models.ipw(frame["y"][keep], frame["x"][keep], frame[["age"]][keep])
    assert trimmed.rr == pytest.approx(by_hand.rr, rel=1e-12)
    assert trimmed.rr_ci == pytest.approx(by_hand.rr_ci, rel=1e-9)
    assert trimmed.max_weight == by_hand.max_weight
    assert (f"--trim 0.05: {trimmed.trimmed} case(s) with a propensity outside 0.05-0.95 left "
            f"out of the weighting; the weighted estimates describe the other {trimmed.n}"
            in trimmed.warnings[-1])
    f = tmp_path / "c.csv"
    frame.assign(cleared=np.where(y == 1, "yes", "no"), video=np.where(x == 1, "yes", "no")
                 ).to_csv(f, index=False)
    r = run_study(build_spec({"cases": str(f), "covariates": ("age",), "trim": 0.05}))
    from videx.study.report import blocks
    text = " ".join(str(b[1]) for b in blocks(r, {}, ""))
    assert (f"--trim 0.05: {trimmed.trimmed} case(s) with a propensity outside 0.05-0.95 "
            f"left out; the weighted estimates describe the other {trimmed.n}.") in text
    assert r.ipw.rr == pytest.approx(trimmed.rr, rel=1e-12)


# ------------------------------------------------------------------ labels from the data
def test_labels_reach_every_sentence_and_clearance_words_only_for_clearance(tmp_path, run):
    # issue 18: with the outcome "relevant video found" and the exposure "a city camera
    # within 100 m" the report still said "cleared", "clearance of shootings", "video"
    rows = []
    for i in range(400):
        cam = i % 5 < 2
        found = (i % 7 < 3) if cam else (i % 7 < 1)
        rows.append(f"{'Y' if found else 'N'},{'Y' if cam else 'N'},{['a', 'b', 'c'][i % 3]},"
                    f"d{i % 9},2022-0{1 + i % 9}-01,{f'2022-1{i % 3}-15' if found else ''},"
                    f"{f'2022-1{i % 3}-20' if cam and found and i % 4 == 0 else ''}")
    f = table(tmp_path, "c.csv", "found,camera,area,district,occ,found_at,camera_at", rows)
    out = tmp_path / "o"
    r = run("study", "run", "--cases", f, "--outcome", "found=Y", "--exposure", "camera=Y",
            "--outcome-label", "relevant video found", "--exposure-label",
            "a city camera within 100 m", "--covariate", "area", "--cluster", "district",
            "--stratify", "area", "--subgroup", "area", "--occurred", "occ", "--cleared-at",
            "found_at", "--exposure-time", "camera_at", "--bootstrap", "20", "--out", out)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("Cases with a city camera within 100 m: ")
    assert "relevant video found" in r.stdout.splitlines()[0]
    doc = json.loads((out / "results.json").read_text())
    assert doc["labels"] == {"exposure": "a city camera within 100 m",
                             "outcome": "relevant video found"}
    assert doc["title"] == ("Video-impact study: relevant video found, with and without a "
                            "city camera within 100 m")
    md = (out / "report.md").read_text().split("## Reproduce")[0]
    html = (out / "report.html").read_text().split("<h2>Reproduce</h2>")[0]
    for text in (r.stdout, md, re.sub(r"base64,[A-Za-z0-9+/=]+", "", html), doc["headline"],
                 doc["association_note"], json.dumps(doc["estimates"])):
        assert not re.search(r"clear|arrest|shooting", text, re.I), re.search(
            r".{60}(clear|arrest|shooting).{60}", text, re.I | re.S)
        assert not re.search(r"\bvideo\b(?! found)", text.replace("Video-impact", "")), \
            re.search(r".{60}\bvideo\b(?! found).{60}", text.replace("Video-impact", ""),
                      re.S)
    assert "IPW: weighted share relevant video found" in r.stdout
    assert "An unmeasured confounder associated with both a city camera within 100 m and " \
           "relevant video found" in r.stdout
    assert "## Time until relevant video found" in md
    assert re.search(r"i\.e\. relevant video found \d+% more often\.", doc["headline"])


def test_unadjusted_and_tiny_p_values_are_worded(tmp_path):
    rows = ["yes,yes"] * 80 + ["no,yes"] * 20 + ["yes,no"] * 10 + ["no,no"] * 90
    f = table(tmp_path, "c.csv", "cleared,video", rows)
    r = run_study(build_spec({"cases": str(f)}))
    assert "Unadjusted (modified Poisson, no covariate), the risk ratio is 8.00" in r.headline()
    assert "Adjusted for nothing" not in r.summary()
    assert "Fisher's exact test p < 0.0001" in r.summary()
    assert "p = 0" not in r.summary() and "p = 0.0\n" not in r.summary()


# ------------------------------------------------------------------ the table from the catalog
def test_dataset_writes_the_spec_that_names_the_exposure(city, run, tmp_path):
    out = tmp_path / "cases.csv"
    r = run("study", "dataset", "--exposure", "nearby", "--radius", "50m", "--source", "city",
            "--out", out)
    assert r.exit_code == 0, r.output
    spec = tmp_path / "cases.toml"
    assert r.stdout.splitlines()[1] == (f"{spec}: the spec that runs it (exposure called 'a "
                                        f"city camera within 50 m'): videx study run --spec "
                                        f"{spec}")
    text = spec.read_text()
    assert 'cases = "cases.csv"' in text and 'exposure_label = "a city camera within 50 m"' \
        in text and 'outcome = "cleared=yes"' in text and 'outcome_no = "no"' in text
    r = run("study", "run", "--spec", spec, "--out", tmp_path / "o")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("Cases with a city camera within 50 m: ")
    from videx.study.dataset import EXPOSURE_LABELS, NearbyRule, exposure_label
    assert set(EXPOSURE_LABELS) == {"probative", "obtained", "coverage", "nearby"}
    assert exposure_label("nearby", 100.0) == "a camera within 100 m"
    assert exposure_label("nearby", 75.5, NearbyRule(in_view=True, active=True)) == (
        "a camera within 75.5 m with the place in view active on the day")


def test_dataset_never_invents_an_outcome(db, run, tmp_path):
    # issue 18: a list without a clearance column gave cleared=no for every case
    assert run("init", "--tz", "America/New_York", "--bounds", "41.72,-72.72,41.81,-72.64"
               ).exit_code == 0
    rows = [f"S{i},2023-05-{1 + i % 28:02d}T14:00:00Z,41.76,-72.68" for i in range(30)]
    assert run("incidents", "import", table(tmp_path, "i.csv", "id,occurred_at,lat,lon",
                                            rows)).exit_code == 0
    out = tmp_path / "cases.csv"
    r = run("study", "dataset", "--exposure", "nearby", "--out", out)
    assert r.exit_code == 0, r.output
    assert "30 cases, 0 with video (nearby), 0 cleared" in r.stdout
    assert r.stderr.splitlines()[0] == (
        "Warning: no incident has a clearance recorded (its list had no cleared or cleared_at "
        "column): the cleared column is blank, so study run has no outcome to analyse; import "
        "the incident list again with its clearance column (e.g. --map cleared=COLUMN)")
    rows = list(csv.DictReader(out.open()))
    assert {r_["cleared"] for r_ in rows} == {""}
    r = run("study", "run", "--spec", tmp_path / "cases.toml", "--out", tmp_path / "o")
    assert r.exit_code == 1
    assert r.stderr.strip() == ("Error: no case left to analyse: 30 rows, all dropped (30 "
                                "blank outcome (cleared))")


def test_every_interval_states_its_level_and_whether_it_accounts_for_clusters(
        fixture_result, tmp_path):
    from videx.study.report import write_report
    r = fixture_result
    paths = write_report(r, tmp_path / "o")
    doc = json.loads(paths["results"].read_text())
    for e in doc["estimates"]:
        assert e["ci_level"] == 95 and e["clustered"] in (True, False), e["label"]
        assert ("cluster-robust" in e["variance"] or "clusters" in e["variance"]) == \
            e["clustered"] or "does not account for clustering by neighborhood" in e["variance"]
    for key in ("crude", "crude_complete", "adjusted", "ipw", "mantel_haenszel", "survival"):
        if doc[key] is not None:
            assert doc[key]["clustered"] in (True, False), key
    assert doc["clusters"] == {"column": "neighborhood", "count": 16, "reference": "t(15)",
                               "small_sample_factor": "G/(G-1)"}
    for text in (paths["markdown"].read_text().split("## Reproduce")[0], r.summary()):
        # every interval: "95% CI" (tables say it in their header), never a bare "CI"
        assert not re.search(r"(?<!95% )\bCI\b", text), re.search(r".{40}(?<!95% )\bCI\b.{40}",
                                                                  text)
    md = paths["markdown"].read_text()
    table = md.split("## All estimates")[1].split("\n\n")[1].splitlines()
    assert table[0] == ("| estimate | risk ratio | 95% CI | variance | accounts for clusters "
                        "| caution |")
    assert all(row.split(" | ")[4] in ("yes", "no") for row in table[2:])
