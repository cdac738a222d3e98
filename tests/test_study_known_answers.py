"""Study statistics against published known answers (sources cited per test)."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels
from scipy import stats
from scipy.optimize import brentq
from statsmodels.duration.hazard_regression import PHReg

from videx.study import cox, crude, models, sensitivity, survival


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


def cattaneo():
    path = Path(statsmodels.__file__).parent / "treatment/tests/results/cataneo2.csv"
    df = pd.read_csv(path)
    return df, df[["mmarried_", "mage", "mage2", "fbaby_", "medu"]].astype(float)


def test_ipw_matches_stata_teffects_on_cattaneo():
    # Stata: teffects ipw (bweight) (mbsmoke mmarried c.mage##c.mage fbaby medu, probit)
    # on cattaneo2.dta: ATE -230.68864 (SE 25.81524), POM0 3403.4627 (SE 9.5714); the data and
    # results ship with statsmodels (statsmodels/treatment/tests/results/). No propensity is
    # clipped, so the match is to machine precision (statsmodels' GMM clips to [0.01, 0.99]).
    df, covs = cattaneo()
    r = models.ipw(df["bweight"], df["mbsmoke_"], covs, link="probit")
    z = 1.959963984540054
    assert r.rd == pytest.approx(-230.68863779526, rel=1e-6)
    assert (r.rd_ci[1] - r.rd) / z == pytest.approx(25.815243801554, rel=1e-6)
    assert r.rate_unexposed == pytest.approx(3403.4627086846, rel=1e-6)
    assert (r.rate_unexposed_ci[1] - r.rate_unexposed) / z == pytest.approx(9.5713688979534,
                                                                            rel=1e-6)
    assert r.trimmed == 0 and r.trim is None


def independent_ipw_cluster_se(y, a, Z, groups):
    """Cluster-robust SE of the IPW risk difference, computed here independently: logit
    propensity by Newton's method, Hajek means, and the stacked sandwich with the Jacobian
    written out analytically (videx differentiates numerically)."""
    n, k = Z.shape
    beta = np.zeros(k)
    for _ in range(50):
        p = 1 / (1 + np.exp(-Z @ beta))
        grad = Z.T @ (a - p)
        hess = (Z * (p * (1 - p))[:, None]).T @ Z
        step = np.linalg.solve(hess, grad)
        beta += step
        if np.abs(step).max() < 1e-12:
            break
    p = 1 / (1 + np.exp(-Z @ beta))
    mu1 = (a * y / p).sum() / (a / p).sum()
    mu0 = ((1 - a) * y / (1 - p)).sum() / ((1 - a) / (1 - p)).sum()
    psi = np.column_stack([Z * (a - p)[:, None], a * (y - mu1) / p,
                           (1 - a) * (y - mu0) / (1 - p)])
    A = np.zeros((k + 2, k + 2))
    A[:k, :k] = -(Z * (p * (1 - p))[:, None]).T @ Z / n
    # d/dbeta of a(y - mu1)/p = -a(y - mu1)(1 - p)/p * Z ; of (1-a)(y - mu0)/(1-p) = +.. p/(1-p)
    A[k, :k] = (-(a * (y - mu1) * (1 - p) / p)[:, None] * Z).mean(axis=0)
    A[k + 1, :k] = (((1 - a) * (y - mu0) * p / (1 - p))[:, None] * Z).mean(axis=0)
    A[k, k] = -(a / p).mean()
    A[k + 1, k + 1] = -((1 - a) / (1 - p)).mean()
    g = groups.max() + 1
    sums = np.zeros((g, k + 2))
    np.add.at(sums, groups, psi)
    B = sums.T @ sums / n * g / (g - 1)
    inv = np.linalg.inv(A)
    V = inv @ B @ inv.T / n
    return mu1 - mu0, math.sqrt(V[k, k] + V[k + 1, k + 1] - 2 * V[k, k + 1])


def test_cluster_robust_ipw_matches_an_independent_m_estimator():
    df, covs = cattaneo()
    clusters = pd.Series((df["mage"] // 2).astype(int).astype(str), name="agegroup")
    r = models.ipw(df["bweight"], df["mbsmoke_"], covs, link="logit", cluster=clusters)
    Z = np.column_stack([np.ones(len(df)), covs.to_numpy(float)])
    rd, se = independent_ipw_cluster_se(df["bweight"].to_numpy(float),
                                        df["mbsmoke_"].to_numpy(float), Z,
                                        pd.factorize(clusters)[0])
    g = clusters.nunique()
    crit = stats.t.ppf(0.975, g - 1) if g < 30 else stats.norm.ppf(0.975)
    assert r.rd == pytest.approx(rd, rel=1e-9)
    assert (r.rd_ci[1] - r.rd) / crit == pytest.approx(se, rel=1e-5)
    assert f"cluster-robust by agegroup ({g} clusters" in r.covariance
    plain = models.ipw(df["bweight"], df["mbsmoke_"], covs, link="logit")
    assert plain.rd == r.rd and plain.rd_ci != r.rd_ci      # same estimate, other variance


def test_logistic_model_based_interval_matches_r_glm():
    # R: glm(low ~ age + lwt + race + smoke + ptl + ht + ui, family = binomial, data = lbw)
    # smoke: estimate 0.92334482, std. error 0.400820976 (statsmodels ships these R results:
    # statsmodels/genmod/tests/results/results_glm.py, class Lbw).
    path = Path(statsmodels.__file__).parent / "genmod/tests/results/stata_lbw_glm.csv"
    d = pd.read_csv(path)
    race = pd.get_dummies(d["race"], prefix="race", dtype=float)
    covs = pd.concat([d[["age", "lwt"]], race[["race_black", "race_other"]],
                      d[["ptl", "ht", "ui"]]], axis=1).astype(float)
    a = models.adjusted(d["low"], d["smoke"], covs)
    z = 1.959963984540054
    assert math.log(a.odds_ratio) == pytest.approx(0.92334482, abs=1e-6)
    assert math.log(a.or_ci[0]) == pytest.approx(0.92334482 - z * 0.400820976, abs=1e-4)
    assert math.log(a.or_ci[1]) == pytest.approx(0.92334482 + z * 0.400820976, abs=1e-4)
    assert a.or_ci_robust != a.or_ci           # the robust one is reported beside it


def test_mantel_haenszel_against_hand_formulas_on_a_published_table():
    # UGDP tolbutamide trial, deaths by age (Rothman, Modern Epidemiology): age < 55:
    # tolbutamide 8/106, placebo 5/120; age 55+: 22/98 vs 16/85. Published MH RR 1.33.
    strata = [(8, 106, 5, 120), (22, 98, 16, 85)]
    frame = pd.concat([two_groups(*t).assign(**{"by:age": str(i)})
                       for i, t in enumerate(strata)], ignore_index=True)
    mh = models.mantel_haenszel(frame, ["age"])
    num = sum(a * n0 / (n1 + n0) for a, n1, c, n0 in strata)
    den = sum(c * n1 / (n1 + n0) for a, n1, c, n0 in strata)
    var = sum((n1 * n0 * (a + c) - a * c * (n1 + n0)) / (n1 + n0) ** 2
              for a, n1, c, n0 in strata) / (num * den)        # Greenland-Robins
    assert mh.rr == pytest.approx(num / den, rel=1e-12)
    assert round(mh.rr, 2) == 1.33
    z = 1.959963984540054
    assert mh.rr_ci[0] == pytest.approx(num / den * math.exp(-z * math.sqrt(var)), rel=1e-12)
    # Cochran's Q on the log risk ratios with inverse-variance weights
    logs = [math.log((a / n1) / (c / n0)) for a, n1, c, n0 in strata]
    w = [1 / (1 / a - 1 / n1 + 1 / c - 1 / n0) for a, n1, c, n0 in strata]
    pooled = sum(wi * li for wi, li in zip(w, logs)) / sum(w)
    q = sum(wi * (li - pooled) ** 2 for wi, li in zip(w, logs))
    assert mh.homogeneity_q == pytest.approx(q, rel=1e-10)
    assert mh.homogeneity_p == pytest.approx(stats.chi2.sf(q, 1), rel=1e-10)
    # Breslow-Day (without Tarone's correction, statsmodels' default): by hand
    tables = [np.array([[a, n1 - a], [c, n0 - c]], float) for a, n1, c, n0 in strata]
    mh_or = (sum(t[0, 0] * t[1, 1] / t.sum() for t in tables)
             / sum(t[0, 1] * t[1, 0] / t.sum() for t in tables))
    chi = 0.0
    for t in tables:
        r1, c1, n = t[0].sum(), t[:, 0].sum(), t.sum()
        # expected a under the common odds ratio: root of (a(n - r1 - c1 + a))/((r1-a)(c1-a))
        lo, hi = max(0.0, c1 + r1 - n), min(r1, c1)
        def f(x, r1=r1, c1=c1, n=n):
            return x * (n - r1 - c1 + x) - mh_or * (r1 - x) * (c1 - x)
        e = brentq(f, lo + 1e-12, hi - 1e-12, xtol=1e-14)
        v = 1 / (1 / e + 1 / (r1 - e) + 1 / (c1 - e) + 1 / (n - r1 - c1 + e))
        chi += (t[0, 0] - e) ** 2 / v
    assert mh.breslow_day_p == pytest.approx(stats.chi2.sf(chi, 1), rel=1e-6)


def test_cluster_bootstrap_resamples_whole_clusters_reproducibly():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.integers(0, 2, 300), "y": rng.integers(0, 2, 300),
                          "cluster": np.repeat([f"c{i}" for i in range(20)], 15)})
    seen = []

    def stat(f):
        seen.append(f["cluster"].value_counts())
        return crude.from_frame(f).rr
    one = sensitivity.bootstrap(frame, stat, 50, seed=7, cluster="cluster")
    assert all((counts % 15 == 0).all() for counts in seen)     # clusters stay whole
    two = sensitivity.bootstrap(frame, lambda f: crude.from_frame(f).rr, 50, seed=7,
                                cluster="cluster")
    assert one["ci"] == two["ci"] and one["resampled"] == "clusters"
    other = sensitivity.bootstrap(frame, lambda f: crude.from_frame(f).rr, 50, seed=8,
                                  cluster="cluster")
    assert other["ci"] != one["ci"]


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


def test_zero_cells_get_an_interval_that_works_or_a_reason():
    # no cleared case with video: RR 0 with the Miettinen-Nurminen score interval
    r = crude.compare(0, 20, 6, 20)
    assert r.rr == 0 and r.rr_ci[0] == 0 and 0 < r.rr_ci[1] < 1
    assert r.rr_method == "Miettinen-Nurminen score interval"
    # no cleared case without video: unbounded, refused with the reason
    r = crude.compare(6, 20, 0, 20)
    assert r.rr is None and "unbounded" in r.rr_refused and r.rd_ci is not None
    # 10/10 vs 10/10: nothing to say about a ratio (Katz would give (1, 1))
    r = crude.compare(10, 10, 10, 10)
    assert r.rr is None and r.rr_refused == "every case was cleared: nothing to compare"
    assert r.rd == 0 and r.rd_ci[0] < 0 < r.rd_ci[1]


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


def survival_data(name):
    path = Path(statsmodels.__file__).parent / f"duration/tests/results/survival_data_{name}.csv"
    a = np.loadtxt(path)  # time, status, entry, covariates (statsmodels' R comparison data)
    return a[:, 0], a[:, 1], a[:, 3:]


@pytest.mark.parametrize("name, coef, se", [
    # R: coxph(Surv(time, status) ~ exog, ties = "efron"); statsmodels/duration/tests/results
    ("20_1", [-0.9975319], [0.4792421]),
    ("50_2", [-0.6107485, 0.5309737], [0.2177713, 0.2440535]),
    ("100_5", [-0.5641909, -0.3233021, -0.1234858, 0.3712328, 0.6421963],
     [0.1804027, 0.1496253, 0.1338531, 0.1529832, 0.1670848]),
    ("1000_10", [-0.4894399, -0.4839746, -0.3227769, -0.2261293, -0.09318482, 0.09767154,
                 0.1173205, 0.3493732, 0.3640146, 0.5879749],
     [0.0474181, 0.04811855, 0.04507655, 0.04603044, 0.04440409, 0.04478202, 0.04136728,
      0.04473343, 0.045768, 0.04891375]),
])
def test_cox_efron_matches_r_coxph(name, coef, se):
    time, event, X = survival_data(name)
    fit = cox.fit(time, event, X)
    assert fit.converged
    assert fit.params == pytest.approx(coef, abs=2e-7)
    assert fit.bse == pytest.approx(se, abs=2e-7)


def test_cox_cluster_robust_without_ties_matches_statsmodels_phreg():
    # Without tied times Efron's and Breslow's score residuals coincide, so PHReg(groups) is an
    # independent implementation of the same sandwich (it omits videx's G/(G-1) factor).
    time, event, X = survival_data("100_5")
    time = time + np.arange(len(time)) * 1e-6          # break the ties, keep the order
    groups = np.arange(len(time)) % 7
    fit = cox.fit(time, event, X, groups=groups)
    ref = PHReg(time, X, status=event, ties="efron").fit(groups=groups)
    assert fit.params == pytest.approx(ref.params, abs=1e-7)
    assert fit.bse / math.sqrt(7 / 6) == pytest.approx(ref.bse, rel=1e-6)


def test_cox_efron_score_residuals_predict_leave_one_out_changes():
    # With heavy ties (946 of 1000 times tied) the Efron score residuals times the inverse
    # information (dfbeta) must match the actual change in the coefficients when each case is
    # left out; Breslow-style residuals (what PHReg's robust covariance uses) are ~8x worse.
    time, event, X = survival_data("1000_10")
    full = cox.fit(time, event, X)
    order = np.argsort(time, kind="stable")
    *_, sorted_resid = cox._pieces(full.params, X[order], time[order], event[order],
                                   want_residuals=True)
    resid = np.empty_like(sorted_resid)
    resid[order] = sorted_resid
    dfbeta = resid @ full.cov_model
    errors = []
    for i in range(0, len(time), 25):
        keep = np.arange(len(time)) != i
        change = full.params - cox.fit(time[keep], event[keep], X[keep]).params
        errors.append(np.abs(change - dfbeta[i]).max() / np.abs(change).max())
    assert np.median(errors) < 0.015


def test_score_interval_for_the_ratio_matches_fagerland_lydersen_laake():
    # Fagerland, Lydersen and Laake (2017), Statistical Analysis of Contingency Tables, and
    # their R package contingencytables (tests of MiettinenNurminen_asymptotic_score_CI_
    # ratio_2x2 on perondi_2004): 7/34 vs 1/34, "estimate = 7.0000 (95% CI 1.2086 to
    # 43.0330)".
    lo, hi = crude.score_ratio_interval(7, 34, 1, 34)
    assert lo == pytest.approx(1.2086, abs=5e-5)
    assert hi == pytest.approx(43.0330, abs=5e-4)


def test_score_interval_inverts_the_score_test_where_a_group_never_varies():
    # 60/100 vs 5/5: statsmodels' closed-form score interval returns complex roots here and a
    # lower limit (0.619) above the estimate (0.60). The interval videx reports is, by the
    # definition of a score interval (Miettinen and Nurminen 1985), the set of ratios the
    # score test does not reject: at each limit the statistic is exactly z.
    from statsmodels.stats.proportion import score_test_proportions_2indep
    lo, hi = crude.score_ratio_interval(60, 100, 5, 5)
    assert lo < 0.6 < hi
    for limit in (lo, hi):
        stat = score_test_proportions_2indep(60, 100, 5, 5, value=limit, compare="ratio",
                                             correction=True, return_results=True).statistic
        assert abs(stat) == pytest.approx(1.959963984540054, abs=1e-6)
    r = crude.compare(60, 100, 5, 5)
    assert r.rr_ci == (lo, hi) and r.rr_method == "Miettinen-Nurminen score interval"


def test_cluster_robust_covariance_matches_stata_poisson_vce_cluster():
    # Stata: poisson accident yr_con op_75_79, vce(cluster ship) on the ship accidents data
    # (5 clusters, 34 rows); data and Stata's output ship with statsmodels
    # (statsmodels/discrete/tests/results/results_count_robust_cluster.py and ships.csv).
    # Stata's ML commands scale the cluster sandwich by G/(G-1) only: videx's one factor.
    from statsmodels.discrete.tests.results.results_count_robust_cluster import (
        results_poisson_clu as stata,
    )
    from statsmodels.genmod import families
    from statsmodels.genmod.generalized_linear_model import GLM
    d = pd.read_csv(Path(statsmodels.__file__).parent
                    / "discrete/tests/results/ships.csv").dropna()
    X = d[["yr_con", "op_75_79"]].astype(float).assign(const=1.0)
    groups = pd.factorize(d["ship"])[0]
    fit, cov, _ = crude.robust_fit(GLM(d["accident"], X, family=families.Poisson()), groups)
    assert fit.params.to_numpy() == pytest.approx(stata.params_table[:, 0], rel=1e-6)
    assert np.asarray(cov) == pytest.approx(stata.cov, rel=1e-6)
    # Stata's e(chi2): the Wald test of both slopes with that covariance
    b = fit.params.to_numpy()[:2]
    assert float(b @ np.linalg.solve(np.asarray(cov)[:2, :2], b)) == pytest.approx(
        stata.chi2, rel=1e-6)


def test_adjusted_p_value_uses_the_interval_reference_distribution():
    # the p-value and the interval come from the same distribution: t(G-1) with few
    # clusters, so p < alpha exactly when the interval excludes 1 (issue 18: a z p of 0.045
    # was printed beside a t interval of 0.97-2.69)
    f = simulate(5, n=600)
    f["cluster"] = np.arange(len(f)) % 12
    adj = models.adjusted(f["y"], f["x"], f[["conf", "age"]],
                          f["cluster"].rename("area"), 0.05)
    assert adj.reference == "t(11)"
    b = math.log(adj.rr)
    se = (math.log(adj.rr_ci[1]) - b) / stats.t.ppf(0.975, 11)
    assert adj.rr_p == pytest.approx(2 * stats.t.sf(abs(b / se), 11), rel=1e-9)
    for alpha in (0.01, 0.05, 0.2):
        a = models.adjusted(f["y"], f["x"], f[["conf", "age"]],
                            f["cluster"].rename("area"), alpha)
        assert (a.rr_p < alpha) == (not a.rr_ci[0] <= 1 <= a.rr_ci[1])


def test_evalue_uses_the_headline_interval():
    # VanderWeele and Ding's E-value of the interval limit, applied to the interval the
    # headline quotes: cluster-robust on the fixture (issue 18: 2.59 from the Katz interval
    # was printed beside a headline with the cluster-robust one, whose limit gives 2.30)
    from videx.study import load_spec, run_study
    r = run_study(load_spec(Path(__file__).parent.parent / "fixtures/study/study.toml",
                            {"bootstrap": 0}))
    ci, label, clustered = r.headline_interval()
    assert clustered and label.startswith("cluster-robust by neighborhood")
    ev = r.evalues["crude"]
    assert ev.rr_ci == ci
    assert ev.evalue_ci == pytest.approx(sensitivity.evalue_ci(r.crude.rr, *ci), rel=1e-12)
    assert round(ev.evalue_ci, 2) == 2.30
    assert ev.interval == f"95% CI, {label}"


def test_few_cluster_reference_matches_stata_regress_vce_cluster():
    # Stata: regress invest mvalue kstock, vce(cluster company) on the Grunfeld data, 10
    # clusters (statsmodels/regression/tests/results/results_grunfeld_ols_robust_cluster.py):
    # intervals use t(9) (crit 2.2621571627982), p-values t(9) (mvalue: t 7.2706499090564,
    # p .00004710548549), and the joint test F(2, 9) = 51.5906071659, p .0000117341240941.
    # videx reads every cluster-robust interval, p-value and Wald test the same way.
    from statsmodels.regression.tests.results.results_grunfeld_ols_robust_cluster import (
        results_cluster as stata,
    )

    from videx.study.inference import Reference
    ref = Reference(10)
    assert ref.name == "t(9)"
    assert ref.crit(0.05) == pytest.approx(2.2621571627982, rel=1e-12)
    assert ref.p(7.2706499090564) == pytest.approx(.00004710548549, rel=1e-9)
    assert ref.p(2.7149150406994) == pytest.approx(.02380515903536, rel=1e-9)
    p, test = ref.wald(2 * stata.F, 2)
    assert test == "F(2, 9)" and p == pytest.approx(.0000117341240941, rel=1e-9)
    assert Reference(30).name == "z" and Reference(None).crit(0.05) == pytest.approx(
        1.959963984540054, rel=1e-12)
