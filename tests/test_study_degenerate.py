"""Degenerate case tables (issue 18): every estimator estimates or says "not estimable:
REASON" (text) and null plus the reason (results.json); never nan, never a zero-width
interval, never a traceback. One table row per case, each asserting the exact wording."""

import json
import math
import re

import pytest

from conftest import write
from videx.study import build_spec, run_study

HEADER = "cleared,video,category,hood,occurred,cleared_at"
CATEGORIES = ("fatal", "non-fatal", "shots")
SINGLE = ("only 1 cluster (hood){where}: a cluster-robust variance is estimated from the "
          "differences between clusters, so it needs at least 2 (and is reliable from about "
          "30); remove --cluster to treat the cases as independent")


def cases(groups, hoods=8, occurred=lambda i: "2021-03-01", days=lambda i: 10 + i % 40):
    """Rows from (count, exposed, cleared) groups, spread over categories and hoods; a case
    that was cleared gets a clearance date ``days(i)`` after the incident."""
    rows, i = [], 0
    for count, exposed, cleared in groups:
        for _ in range(count):
            occ = occurred(i)
            day = 1 + days(i) % 28
            rows.append(",".join([
                "yes" if cleared else "no", "yes" if exposed else "no",
                CATEGORIES[i % 3], f"h{i % hoods}" if hoods > 1 else "only", occ,
                f"2021-04-{day:02d}" if cleared else ""]))
            i += 1
    return rows


def mixed(hoods=8):
    """A table with an ordinary effect: 40% vs 25% cleared (the interleaving spreads each
    group over categories and hoods)."""
    return cases([(48, 1, 1), (72, 1, 0), (45, 0, 1), (135, 0, 0)], hoods)


SURVIVAL = {"occurred": "occurred", "cleared_at": "cleared_at"}
CASES = {
    "all cleared": dict(
        rows=cases([(40, 1, 1), (80, 0, 1)], days=lambda i: 9),
        spec=dict(cluster="hood", covariates=("category",), stratify=("category",),
                  bootstrap=20, **SURVIVAL),
        expect={
            "crude.rr": None,
            "crude.rr_refused": "every case was cleared: nothing to compare",
            "headline": "No risk ratio: every case was cleared: nothing to compare.",
            "refused.crude RR, cluster-robust": "every case was cleared: nothing to compare",
            "refused.crude RD, cluster-robust": "every case was cleared: nothing to compare",
            "refused.adjusted": "every case was cleared: nothing to compare",
            "refused.IPW": "every case was cleared: nothing to compare",
            "refused.Mantel-Haenszel": "every case was cleared: nothing to compare",
            "refused.log-rank": "every case cleared during the follow-up has the same time to "
                                "clearance (40 days): there is no order of events to compare",
            "refused.bootstrap": "no crude risk ratio to resample (every case was cleared: "
                                 "nothing to compare)",
            "mantel_haenszel": None, "ipw": None, "adjusted": None},
        text=["risk ratio: not estimable: every case was cleared: nothing to compare",
              "IPW: not estimable: every case was cleared: nothing to compare"]),
    "none cleared among the exposed": dict(
        rows=cases([(70, 1, 0), (40, 0, 1), (90, 0, 0)]),
        spec=dict(cluster="hood", covariates=("category",), stratify=("category",),
                  bootstrap=20, **SURVIVAL),
        expect={
            "crude.rr": 0.0, "crude.rr_method": "Miettinen-Nurminen score interval",
            "refused.IPW": "no case with relevant video was cleared: the risk ratio is 0 and "
                           "has no log-scale interval (the crude score interval bounds it)",
            "refused.adjusted": "no case with relevant video was cleared: the risk ratio is 0 "
                                "and has no log-scale interval (the crude score interval "
                                "bounds it)",
            "refused.Mantel-Haenszel": "no case with relevant video was cleared: the risk "
                                       "ratio is 0 and has no log-scale interval (the crude "
                                       "score interval bounds it)",
            "refused.Cox": "no case with relevant video was cleared during the follow-up: the "
                           "hazard ratio is 0 and has no interval",
            "refused.E-value, crude": "the risk ratio is 0: no confounder strength is needed "
                                      "to explain it away, and none could",
            "refused.bootstrap": "every usable resample gave the same value (0): a zero-width "
                                 "interval says nothing",
            "refused.crude RD, cluster-robust":
                "no case with relevant video was cleared: a variance estimated from the data "
                "takes nothing from that group, so its interval would be too narrow (the crude "
                "Newcombe interval is the one to read)",
            "ipw": None, "survival.hr": None},
        text=["IPW: not estimable: no case with relevant video was cleared"]),
    "a single cluster": dict(
        rows=mixed(hoods=1),
        spec=dict(cluster="hood", covariates=("category",), subgroups=("category",),
                  bootstrap=20, **SURVIVAL),
        expect={
            "refused.crude RR, cluster-robust": SINGLE.format(where=""),
            "refused.adjusted": SINGLE.format(where=""),
            "refused.IPW": SINGLE.format(where=""),
            "refused.Cox": SINGLE.format(where=""),
            "refused.bootstrap": "only 1 cluster (hood): resampling one cluster gives back "
                                 "the same cases every time",
            "heterogeneity.0.reason": SINGLE.format(where=""),
            "heterogeneity.0.p": None,
            "subgroups.0.cluster_refused": SINGLE.format(where=" in category = fatal"),
            "subgroups.0.variance": "Katz log interval; does not account for clustering by "
                                    "hood",
            "subgroups.0.clustered": False,
            "clusters.count": 1, "clusters.reference": None,
            "survival.covariance": "cluster-robust by hood: not estimable with 1 cluster",
            "ipw": None, "adjusted": None, "survival.hr": None, "bootstrap": None},
        headline=["(95% CI 1.14 to 2.24, Katz log interval; does not account for clustering "
                  "by hood), i.e. 60% higher clearance. A cluster-robust interval is not "
                  "estimable: " + SINGLE.format(where="") + "."]),
    "a subgroup that is the cluster variable": dict(
        rows=mixed(hoods=12),
        spec=dict(cluster="hood", subgroups=("hood",)),
        expect={
            "heterogeneity.0.p": None,
            "heterogeneity.0.reason": "the cluster-robust variance of 11 of the 11 interaction "
                                      "terms is zero: hood is the cluster variable, so each "
                                      "level's effect rests on its own cluster",
            "subgroups.0.cluster_refused": SINGLE.format(where=" in hood = h0"),
            "subgroups.0.clustered": False}),
    "five unexposed cases, all cleared": dict(
        rows=cases([(60, 1, 1), (40, 1, 0), (5, 0, 1)]),
        spec=dict(cluster="hood", covariates=("category",)),
        expect={
            "crude.rr_method": "Miettinen-Nurminen score interval",
            "crude.flags.0": "rests on few cases (fewer than 5 in a cell of the 2x2 table: 0 "
                             "not cleared without relevant video): the interval is approximate",
            "refused.crude RR, cluster-robust":
                "every case without relevant video was cleared: a variance estimated from the "
                "data takes nothing from that group, so its interval would be too narrow (the "
                "crude score interval is the one to read)",
            "refused.adjusted": "every case without relevant video was cleared: a variance "
                                "estimated from the data takes nothing from that group, so its "
                                "interval would be too narrow (the crude score interval is the "
                                "one to read)",
            "adjusted": None, "ipw": None},
        headline=["a risk ratio of 0.60 (95% CI 0.50 to 1.08, Miettinen-Nurminen score "
                  "interval; does not account for clustering by hood)",
                  "Caution: the risk ratio rests on few cases (fewer than 5 in a cell of the "
                  "2x2 table: 0 not cleared without relevant video): the interval is "
                  "approximate."]),
    "no unexposed case cleared during the follow-up": dict(
        rows=cases([(30, 1, 1), (30, 1, 0), (60, 0, 0)]),
        spec=dict(**SURVIVAL),
        expect={
            "crude.rr": None,
            "crude.rr_refused": "no case without relevant video was cleared: the risk ratio "
                                "is unbounded (see the risk difference)",
            "refused.Cox": "no case without relevant video was cleared during the follow-up: "
                           "the hazard ratio is unbounded and has no interval"}),
    "every case exposed, with --occurred/--cleared-at": dict(
        rows=cases([(40, 1, 1), (60, 1, 0)]),
        spec=dict(cluster="hood", covariates=("category",), **SURVIVAL),
        expect={
            "headline": "No risk ratio: no case without relevant video: nothing to compare.",
            "refused.log-rank": "every case has relevant video: nothing to compare",
            "refused.Cox": "every case has relevant video: nothing to compare",
            "refused.adjusted": "no case without relevant video: nothing to compare",
            "survival.logrank_p": None, "survival.hr": None}),
    "unparseable occurred dates with --subgroup year and --stratify year": dict(
        rows=cases([(48, 1, 1), (72, 1, 0), (45, 0, 1), (135, 0, 0)],
                   occurred=lambda i: ("not a date" if i == 5 else "31/31/2020" if i == 9
                                       else "2021-03-01" if i % 2 else "2022-05-02")),
        spec=dict(stratify=("year",), subgroups=("year",), **SURVIVAL),
        expect={
            "notes.0": "2 row(s) with a blank year (no readable occurred date) are left out of "
                       "the Mantel-Haenszel strata and the subgroups by year",
            "mantel_haenszel.strata_used": 2,
            "survival.dropped.unparseable or blank occurred": 2},
        check=lambda doc: {s["level"] for s in doc["subgroups"]} == {"2021", "2022"}),
}


def pick(doc, path):
    for key in path.split("."):
        if doc is None:
            return None
        doc = doc[int(key)] if isinstance(doc, list) else doc.get(key)
    return doc


def walk_intervals(value, where=""):
    """Every float is finite and every interval (a key ending in ci) has lo < hi."""
    if isinstance(value, float):
        assert math.isfinite(value), where
    elif isinstance(value, dict):
        for k, v in value.items():
            if str(k).endswith("ci") and isinstance(v, list) and len(v) == 2:
                assert v[0] < v[1], f"zero-width or reversed interval at {where}.{k}: {v}"
            walk_intervals(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            walk_intervals(v, f"{where}[{i}]")


@pytest.mark.parametrize("name", list(CASES))
def test_degenerate_case_tables(name, tmp_path, run):
    case = CASES[name]
    f = write(tmp_path / "cases.csv", HEADER + "\n" + "\n".join(case["rows"]) + "\n")
    spec = {"cases": str(f), **case["spec"]}
    result = run_study(build_spec(spec))
    doc = result.to_dict()
    for path, expected in case["expect"].items():
        got = pick({**doc, "headline": result.headline()}, path)
        assert got == expected, (path, got)
    for text in case.get("headline", []):
        assert text in result.headline()
    summary = result.summary()
    for text in case.get("text", []):
        assert text in summary
    if "check" in case:
        assert case["check"](doc)
    # the same through the command line: exit 0, strict JSON, the same refusals, no nan, no
    # zero-width interval, no traceback, in every output
    args = ["study", "run", "--cases", f, "--out", tmp_path / "out", "--format", "json"]
    for key, value in case["spec"].items():
        option = {"covariates": "--covariate", "subgroups": "--subgroup"}.get(
            key, "--" + key.replace("_", "-"))
        for v in (value if isinstance(value, tuple) else (value,)):
            args += [option, v]
    r = run(*args)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    assert out["refused"] == doc["refused"]
    walk_intervals(out)
    written = (tmp_path / "out" / "results.json").read_text()
    walk_intervals(json.loads(written, parse_constant=lambda c: pytest.fail(c)))
    for name_ in ("report.md", "report.html"):
        text = re.sub(r"base64,[A-Za-z0-9+/=]+", "", (tmp_path / "out" / name_).read_text())
        assert not re.search(r"\b(nan|inf)\b", text, re.I), name_
        assert "Traceback" not in text
        for why in doc["refused"].values():
            assert why.split(":")[0] in text
    for line in summary.splitlines():
        assert "nan to nan" not in line and " 1.00 to 1.00" not in line
