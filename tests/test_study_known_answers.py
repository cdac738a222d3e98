"""Study statistics against published known answers (sources cited per test)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels

from videx.study import crude, models, sensitivity, survival


def two_groups(a, n1, c, n0):
    x = [1] * n1 + [0] * n0
    y = [1] * a + [0] * (n1 - a) + [1] * c + [0] * (n0 - c)
    return pd.DataFrame({"x": x, "y": y})


def test_fagerland_two_independent_proportions():
    # Fagerland, Lydersen and Laake (2015), Statistical Methods in Medical Research 24(2):
    # 7/34 vs 1/34. Newcombe hybrid score interval for the difference (0.019, 0.34);
    # Katz log interval for the ratio (0.91, 54).
    r = crude.compare(7, 34, 1, 34)
    assert r.rd == pytest.approx(6 / 34)
    assert r.rd_ci[0] == pytest.approx(0.019, abs=0.0005)
    assert r.rd_ci[1] == pytest.approx(0.34, abs=0.005)
    assert r.rr == pytest.approx(7.0)
    assert r.rr_ci[0] == pytest.approx(0.91, abs=0.005)
    assert r.rr_ci[1] == pytest.approx(54, abs=0.5)
    assert r.pct_increase == pytest.approx(600.0)


def test_wilson_interval():
    # Newcombe (1998), Statistics in Medicine 17: 81/263, Wilson interval 0.2553 to 0.3662.
    g = crude.group(81, 263)
    assert g.rate_ci[0] == pytest.approx(0.2553, abs=5e-5)
    assert g.rate_ci[1] == pytest.approx(0.3662, abs=5e-5)


def test_evalue_published():
    # VanderWeele and Ding (2017), Ann Intern Med 167:268; R package EValue, evalues.RR(10.73,
    # 8.02, 14.36): 20.94777 for the estimate, 15.52336 for the lower limit.
    assert sensitivity.evalue_rr(10.73) == pytest.approx(20.94777, abs=1e-5)
    assert sensitivity.evalue_ci(10.73, 8.02, 14.36) == pytest.approx(15.52336, abs=1e-5)
    # protective estimates use 1/RR; an interval through 1 gives 1
    assert sensitivity.evalue_rr(1 / 10.73) == pytest.approx(20.94777, abs=1e-5)
    assert sensitivity.evalue_ci(1.3, 0.9, 1.8) == 1.0


# R survival reference values, as used by statsmodels' own tests
# (statsmodels/duration/tests/test_survfunc.py): survfit and survdiff on these data.
TI1 = [3, 1, 2, 3, 2, 1, 5, 3]
ST1 = [0, 1, 1, 1, 0, 0, 1, 0]
TI2 = [1, 1, 2, 3, 7, 1, 5, 3, 9]
ST2 = [0, 1, 0, 0, 1, 0, 1, 0, 1]


def test_kaplan_meier_and_logrank_match_r_survival():
    time = np.array(TI1 + TI2, float)
    event = np.array(ST1 + ST2, float)
    group = np.array([1] * len(TI1) + [0] * len(TI2))
    s = survival.survival(time, event, group)
    one, two = s.curves["exposed"], s.curves["unexposed"]
    assert one["times"] == [1, 2, 3, 5]
    assert one["surv_prob"] == pytest.approx([0.8750000, 0.7291667, 0.5468750, 0.0], abs=1e-6)
    assert one["surv_prob_se"][:3] == pytest.approx([0.1169268, 0.1649762, 0.2005800], abs=1e-6)
    assert one["n_risk"] == [8, 6, 4, 1]
    assert two["times"] == [1, 5, 7, 9]
    assert two["surv_prob"] == pytest.approx([0.8888889, 0.5925926, 0.2962963, 0.0], abs=1e-6)
    assert s.logrank_chi2 == pytest.approx(2.14673, abs=1e-4)
    assert s.logrank_p == pytest.approx(0.14287, abs=1e-4)
    assert s.hr is not None and s.hr > 1  # group 1 clears faster in these data


def test_ipw_matches_stata_teffects_on_cattaneo():
    # Stata: teffects ipw (bweight) (mbsmoke mmarried c.mage##c.mage fbaby medu, probit)
    # on cattaneo2.dta: ATE -230.68864 (SE 25.81524), POM0 3403.4627 (SE 9.5714); the data and
    # results ship with statsmodels (statsmodels/treatment/tests/results/).
    path = Path(statsmodels.__file__).parent / "treatment/tests/results/cataneo2.csv"
    df = pd.read_csv(path)
    covs = df[["mmarried_", "mage", "mage2", "fbaby_", "medu"]].astype(float)
    eff, _ = models.ipw_effects(df["bweight"], df["mbsmoke_"], covs, link="probit")
    assert eff["ate"] == pytest.approx(-230.68863779526, rel=1e-4)
    assert eff["ate_se"] == pytest.approx(25.815243801554, rel=1e-3)
    assert eff["pom0"] == pytest.approx(3403.4627086846, rel=1e-5)
    assert np.sqrt(eff["cov"][1, 1]) == pytest.approx(9.5713688979534, rel=1e-3)


def test_modified_poisson_equals_katz_with_one_binary_exposure():
    # With a single binary regressor the HC0 sandwich variance of log RR is
    # 1/a - 1/n1 + 1/c - 1/n0, the Katz variance (Zou 2004).
    for a, n1, c, n0 in [(7, 34, 1, 34), (62, 160, 45, 259), (30, 50, 12, 70)]:
        f = two_groups(a, n1, c, n0)
        adj = models.adjusted(f["y"], f["x"], pd.DataFrame(index=f.index))
        kat = crude.compare(a, n1, c, n0)
        assert adj.rr == pytest.approx(kat.rr, rel=1e-8)
        assert adj.rr_ci[0] == pytest.approx(kat.rr_ci[0], rel=1e-6)
        assert adj.rr_ci[1] == pytest.approx(kat.rr_ci[1], rel=1e-6)


def simulate(seed, n=3000, true_rr=1.5):
    """A confounder raises both the chance of video and of clearance; video multiplies the
    clearance risk by exactly true_rr within every confounder level."""
    rng = np.random.default_rng(seed)
    conf = rng.binomial(1, 0.4, n)
    age = rng.normal(0, 1, n)
    x = rng.binomial(1, np.where(conf == 1, 0.7, 0.2))
    base = np.where(conf == 1, 0.40, 0.12) * np.exp(0.05 * age)
    y = rng.binomial(1, np.clip(base * np.where(x == 1, true_rr, 1.0), 0, 1))
    return pd.DataFrame({"x": x, "y": y, "conf": conf.astype(float), "age": age,
                         "by:conf": conf.astype(str)})


def test_simulation_adjusted_recovers_truth_crude_does_not():
    true_rr, covered, mh_covered, crude_rr = 1.5, 0, 0, []
    seeds = range(20)
    for seed in seeds:
        f = simulate(seed, true_rr=true_rr)
        crude_rr.append(crude.from_frame(f).rr)
        adj = models.adjusted(f["y"], f["x"], f[["conf", "age"]])
        covered += adj.rr_ci[0] <= true_rr <= adj.rr_ci[1]
        mh = models.mantel_haenszel(f, ["conf"])
        mh_covered += mh.rr_ci[0] <= true_rr <= mh.rr_ci[1]
    assert min(crude_rr) > 1.9          # confounding inflates every crude estimate
    assert covered >= 17                # ~95% coverage expected: 19/20
    assert mh_covered >= 17
    f = simulate(99, n=20000, true_rr=true_rr)
    assert models.ipw(f["y"], f["x"], f[["conf", "age"]]).rr == pytest.approx(true_rr, abs=0.1)


def test_mantel_haenszel_single_stratum_is_crude_and_homogeneity():
    f = two_groups(62, 160, 45, 259).assign(**{"by:all": "one"})
    mh = models.mantel_haenszel(f, ["all"])
    assert mh.rr == pytest.approx(crude.from_frame(f).rr)
    assert mh.homogeneity_p is None  # one stratum: nothing to test
    # two strata with opposite effects: homogeneity is rejected
    a = two_groups(40, 50, 10, 50).assign(**{"by:s": "a"})
    b = two_groups(10, 50, 40, 50).assign(**{"by:s": "b"})
    mh = models.mantel_haenszel(pd.concat([a, b], ignore_index=True), ["s"])
    assert mh.rr == pytest.approx(1.0)
    assert mh.homogeneity_p < 0.001


def test_log_binomial_reported_only_inside_unit_interval():
    f = simulate(3)
    adj = models.adjusted(f["y"], f["x"], f[["conf"]])
    assert adj.log_binomial["reported"] is True
    assert adj.log_binomial["rr"] == pytest.approx(adj.rr, rel=0.1)
