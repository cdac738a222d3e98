"""Adjusted, weighted and stratified estimates (statsmodels fits; the study's own M-estimator
for weighting).

- Modified Poisson regression (Zou 2004): Poisson GLM on the 0/1 outcome with a robust
  sandwich covariance (HC0, requested explicitly: statsmodels' GLM treats HC1-HC3 as HC0), or
  cluster-robust by a column. The adjusted risk ratio.
- Logistic regression: the adjusted odds ratio with its model-based interval (inverse
  information, what R's ``glm`` and Stata's ``logit`` report) and its robust one, labelled.
- Log-binomial regression: a second adjusted RR, reported only when it converges with every
  fitted probability inside (0, 1).
- Mantel-Haenszel risk ratio across strata (Greenland-Robins variance), Cochran's Q test of
  homogeneity of the stratum risk ratios, and the Breslow-Day test for the odds ratios.
- Inverse-probability weighting: a propensity model (logit or probit), then normalised
  (Hajek) weighted clearance rates, solved with the propensity model as one M-estimator whose
  sandwich covariance accounts for estimating the weights, per row or per cluster. No
  propensity is clipped unless asked (``trim``), and then the cases touched are counted; the
  weights reported are the weights used.
- A test of heterogeneity of the risk ratio across subgroups (interaction terms, Wald test).

Fits that cannot be trusted are refused with the reason (``Refused``): a covariate level in
which clearance (or video) never varies, a covariate with one value, collinear covariates, too
few cases. With fewer than 30 clusters intervals use t(G - 1) critical values.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from videx.study.crude import FEW_CLUSTERS, critical

MIN_CASES = 10
HUGE_COEFFICIENT = 15.0


class Refused(Exception):
    """An estimate that cannot be made from these data, with the reason in plain words."""


def z_crit(alpha: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2))


@dataclass(frozen=True)
class Covariance:
    """How an estimate's variance was computed, and the critical value its interval uses."""

    kind: str                  # "HC0", "cluster", "model"
    label: str
    clusters: int | None = None

    def crit(self, alpha: float) -> float:
        return critical(alpha, self.clusters if self.kind == "cluster" else None)[0]


def covariance_for(cluster: pd.Series | None) -> tuple[str, dict, Covariance]:
    """statsmodels cov_type, its kwds, and the Covariance description."""
    if cluster is None:
        return "HC0", {}, Covariance("HC0", "robust sandwich (HC0)")
    groups = pd.factorize(cluster)[0]
    g = int(groups.max() + 1)
    dist = critical(0.05, g)[1]
    label = f"cluster-robust by {cluster.name} ({g} clusters" + (
        f", {dist} critical values)" if dist != "z" else ")")
    return "cluster", {"groups": groups}, Covariance("cluster", label, g)


def _ci(b: float, se: float, crit: float) -> tuple[float, float]:
    return math.exp(b - crit * se), math.exp(b + crit * se)


def diagnose(y: pd.Series, x: pd.Series, covariates: pd.DataFrame,
             logistic: bool = False) -> None:
    """Raise Refused when an adjusted model of ``y`` on ``x`` and ``covariates`` cannot be
    fitted meaningfully; the message names the cause."""
    n = len(y)
    if n < MIN_CASES:
        raise Refused(f"only {n} case(s) with every covariate: too few for an adjusted model")
    if x.nunique() < 2:
        raise Refused("every case " + ("has" if x.iloc[0] == 1 else "lacks") + " video: "
                      "nothing to compare")
    if y.nunique() < 2:
        raise Refused("every case " + ("was" if y.iloc[0] == 1 else "was not") + " cleared")
    for col in covariates.columns:
        values = covariates[col]
        if values.nunique() < 2:
            raise Refused(f"covariate {col} has the same value in every case")
        if set(values.unique()) <= {0.0, 1.0} and "=" in col:   # a category's dummy
            level = values == 1
            inside = y[level]
            if inside.sum() == 0:
                raise Refused(f"clearance is perfectly predicted by {col} (no case in it was "
                              "cleared): merge that level with another or leave it out")
            if logistic and inside.sum() == len(inside):
                raise Refused(f"clearance is perfectly predicted by {col} (every case in it "
                              "was cleared): merge that level with another or leave it out")
    if logistic:
        return                                  # the design was checked for the Poisson model
    design = np.column_stack([np.ones(n), x.to_numpy(float), covariates.to_numpy(float)])
    design /= np.maximum(np.abs(design).max(axis=0), 1e-300)      # scale columns alike
    if np.linalg.matrix_rank(design.T @ design) < design.shape[1]:
        raise Refused("the covariates are collinear (one is a combination of the others: "
                      f"{', '.join(covariates.columns)}); leave one out")


def positivity(x: pd.Series, covariates: pd.DataFrame) -> None:
    """Raise Refused when video is perfectly predicted by a covariate level (propensity 0 or
    1 for those cases: weighting cannot compare them)."""
    for col in covariates.columns:
        values = covariates[col]
        if set(values.unique()) <= {0.0, 1.0} and "=" in col:
            inside = x[values == 1]
            if len(inside) and inside.nunique() == 1:
                has = "every case has" if inside.iloc[0] == 1 else "no case has"
                raise Refused(f"video is perfectly predicted by {col} ({has} video): "
                              "propensity weighting cannot compare these cases")


# ------------------------------------------------------------------ adjusted models
@dataclass(frozen=True)
class Adjusted:
    """Adjusted RR (modified Poisson) and OR (logistic, model-based and robust intervals)."""

    rr: float
    rr_ci: tuple[float, float]
    rr_p: float
    odds_ratio: float | None
    or_ci: tuple[float, float] | None
    or_ci_robust: tuple[float, float] | None
    method: str
    covariance: str
    covariates: list[str]
    n: int
    log_binomial: dict | None = None
    rr_ci_z: tuple[float, float] | None = None
    or_refused: str | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["or"] = d.pop("odds_ratio")
        return d

    def summary(self, level: int = 95) -> str:
        text = (f"adjusted RR {self.rr:.2f} ({level}% CI {self.rr_ci[0]:.2f} to "
                f"{self.rr_ci[1]:.2f}), {self.method}, {self.covariance}")
        if self.odds_ratio is not None:
            text += (f"; adjusted OR {self.odds_ratio:.2f} (model-based {self.or_ci[0]:.2f} "
                     f"to {self.or_ci[1]:.2f})")
        elif self.or_refused:
            text += f"; adjusted OR not estimated: {self.or_refused}"
        return text


def _design(x: pd.Series, covariates: pd.DataFrame) -> pd.DataFrame:
    X = pd.concat([x.astype(float).rename("video"), covariates.astype(float)], axis=1)
    X.insert(0, "const", 1.0)
    return X


def adjusted(y: pd.Series, x: pd.Series, covariates: pd.DataFrame,
             cluster: pd.Series | None = None, alpha: float = 0.05) -> Adjusted:
    """Adjusted estimates of the exposure effect on clearance (see module docstring); raises
    Refused for data that cannot give one."""
    from statsmodels.genmod import families
    from statsmodels.genmod.generalized_linear_model import GLM
    diagnose(y, x, covariates)
    X = _design(x, covariates)
    cov_type, cov_kwds, cov = covariance_for(cluster)
    notes = []
    if cov.kind == "cluster" and cov.clusters < FEW_CLUSTERS:
        notes.append(f"only {cov.clusters} clusters: intervals use t({cov.clusters - 1}) "
                     "critical values")
    crit = cov.crit(alpha)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pois = GLM(y.astype(float), X, family=families.Poisson()).fit(cov_type=cov_type,
                                                                      cov_kwds=cov_kwds)
    b, se = float(pois.params["video"]), float(pois.bse["video"])
    if not (math.isfinite(b) and math.isfinite(se) and se > 0) or any(
            abs(v) > HUGE_COEFFICIENT for v in pois.params.drop("const")):
        raise Refused(_huge(pois.params, "the Poisson model"))
    notes += _warning_notes(caught, "Poisson model")
    rr, rr_ci = math.exp(b), _ci(b, se, crit)
    rr_ci_z = _ci(b, se, z_crit(alpha)) if crit != z_crit(alpha) else None
    odds = or_ci = or_robust = or_refused = None
    try:
        diagnose(y, x, covariates, logistic=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = GLM(y.astype(float), X, family=families.Binomial())
            logit = model.fit()                                     # model-based (as R glm)
            robust = model.fit(start_params=logit.params.to_numpy(), cov_type=cov_type,
                               cov_kwds=cov_kwds)           # same estimates, other covariance
        if any(abs(v) > HUGE_COEFFICIENT for v in logit.params.drop("const")) or not np.all(
                np.isfinite(logit.bse)):
            raise Refused(_huge(logit.params, "the logistic model"))
        notes += _warning_notes(caught, "logistic model")
        odds = math.exp(logit.params["video"])
        or_ci = _ci(logit.params["video"], logit.bse["video"], z_crit(alpha))
        or_robust = _ci(robust.params["video"], robust.bse["video"], crit)
    except Refused as err:
        or_refused = str(err)
    return Adjusted(rr, rr_ci, float(2 * stats.norm.sf(abs(b / se))), odds, or_ci, or_robust,
                    "modified Poisson (Poisson GLM, robust covariance)", cov.label,
                    [c for c in X.columns if c not in ("const", "video")], int(len(y)),
                    log_binomial(y, X, pois, cov_type, cov_kwds, crit), rr_ci_z, or_refused,
                    notes)


def _huge(params: pd.Series, what: str) -> str:
    name = params.drop("const").abs().idxmax()
    return (f"{what} did not converge to finite estimates: {name} perfectly predicts the "
            "outcome in these data (separation); merge or leave out that covariate")


def _warning_notes(caught, what: str) -> list[str]:
    out = []
    for w in caught:
        text = str(w.message).splitlines()[0]
        if text and f"{what}: {text}" not in out:
            out.append(f"{what}: {text}")
    return out


def log_binomial(y, X, pois, cov_type, cov_kwds, crit) -> dict:
    """Log-binomial RR, or why it is not reported."""
    from statsmodels.genmod import families
    from statsmodels.genmod.generalized_linear_model import GLM
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fam = families.Binomial(link=families.links.Log())
            res = GLM(y.astype(float), X, family=fam).fit(
                start_params=pois.params.values, maxiter=200, cov_type=cov_type,
                cov_kwds=cov_kwds)
        fitted = res.fittedvalues
        converged = bool(res.converged)
        inside = bool(np.all((fitted > 0) & (fitted < 1)))
        if not (converged and inside and np.all(np.isfinite(res.bse))):
            why = "did not converge" if not converged else "fitted probabilities outside (0, 1)"
            return {"reported": False, "reason": why}
        return {"reported": True, "rr": math.exp(res.params["video"]),
                "rr_ci": _ci(res.params["video"], res.bse["video"], crit)}
    except Exception as err:  # noqa: BLE001 - any failure is "not reported", with the reason
        return {"reported": False, "reason": f"failed: {str(err).splitlines()[0]}"}


# ------------------------------------------------------------------ Mantel-Haenszel
@dataclass(frozen=True)
class MantelHaenszel:
    """Mantel-Haenszel RR across strata with homogeneity tests."""

    strata_by: list[str]
    rr: float | None
    rr_ci: tuple[float, float] | None
    homogeneity_q: float | None
    homogeneity_df: int | None
    homogeneity_p: float | None
    breslow_day_p: float | None
    strata: list[dict]
    strata_used: int
    strata_skipped: int
    variance: str = "Greenland-Robins"

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self, level: int = 95) -> str:
        if self.rr is None:
            return "Mantel-Haenszel: no stratum had cleared cases both with and without video"
        text = (f"Mantel-Haenszel RR by {' x '.join(self.strata_by)}: {self.rr:.2f} "
                f"({level}% CI {self.rr_ci[0]:.2f} to {self.rr_ci[1]:.2f})")
        if self.homogeneity_p is not None:
            text += f"; homogeneity of stratum RRs p = {self.homogeneity_p:.3g}"
        return text


def mantel_haenszel(frame: pd.DataFrame, by: list[str], alpha: float = 0.05) -> MantelHaenszel:
    """MH risk ratio of clearance (``y``) for exposure (``x``) across the levels of ``by``."""
    cols = [frame[f"by:{b}"].astype(str) for b in by]
    key = cols[0].str.cat(cols[1:], sep=" / ") if len(cols) > 1 else cols[0]
    rows, tables = [], []
    num = den = var_num = 0.0
    logs, weights = [], []
    skipped = 0
    for level, g in frame.groupby(key, sort=True):
        a = int(((g.x == 1) & (g.y == 1)).sum())
        n1 = int((g.x == 1).sum())
        c = int(((g.x == 0) & (g.y == 1)).sum())
        n0 = int((g.x == 0).sum())
        row = {"stratum": level, "exposed_n": n1, "exposed_cleared": a, "unexposed_n": n0,
               "unexposed_cleared": c, "rr": (a / n1) / (c / n0) if n1 and n0 and c else None}
        rows.append(row)
        if not (n1 and n0):
            skipped += 1
            continue
        N = n1 + n0
        num += a * n0 / N
        den += c * n1 / N
        var_num += (n1 * n0 * (a + c) - a * c * N) / N ** 2
        tables.append(np.array([[a, n1 - a], [c, n0 - c]], dtype=float))
        if a and c and (a < n1 or c < n0):
            logs.append(math.log(row["rr"]))
            weights.append(1.0 / (1 / a - 1 / n1 + 1 / c - 1 / n0))
    if not num or not den:
        return MantelHaenszel(by, None, None, None, None, None, None, rows, len(tables), skipped)
    rr = num / den
    se = math.sqrt(var_num / (num * den))
    z = z_crit(alpha)
    q = q_df = q_p = None
    if len(logs) >= 2:
        w = np.array(weights)
        lg = np.array(logs)
        pooled = float((w * lg).sum() / w.sum())
        q = float((w * (lg - pooled) ** 2).sum())
        q_df = len(logs) - 1
        q_p = float(stats.chi2.sf(q, q_df))
    bd_p = None
    usable = [t for t in tables if t.min() > 0]
    if len(usable) >= 2:
        from statsmodels.stats.contingency_tables import StratifiedTable
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bd_p = float(StratifiedTable(usable).test_equal_odds().pvalue)
    return MantelHaenszel(by, rr, (rr * math.exp(-z * se), rr * math.exp(z * se)), q, q_df, q_p,
                          bd_p, rows, len(tables), skipped)


# ------------------------------------------------------------------ IPW
@dataclass(frozen=True)
class IPW:
    """Inverse-probability-weighted clearance rates and effects (ATE scale)."""

    rate_exposed: float
    rate_exposed_ci: tuple[float, float]
    rate_unexposed: float
    rate_unexposed_ci: tuple[float, float]
    rd: float
    rd_ci: tuple[float, float]
    rr: float
    rr_ci: tuple[float, float]
    propensity_model: str
    covariates: list[str]
    balance: list[dict]
    propensity_range: dict
    max_weight: float
    covariance: str = "M-estimation sandwich (HC0)"
    max_stabilized_weight: float = 0.0
    effective_n: dict = field(default_factory=dict)
    trimmed: int = 0
    trim: float | None = None
    n: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self, level: int = 95) -> str:
        return (f"IPW: weighted clearance {self.rate_exposed * 100:.1f}% with video vs "
                f"{self.rate_unexposed * 100:.1f}% without; RR {self.rr:.2f} ({level}% CI "
                f"{self.rr_ci[0]:.2f} to {self.rr_ci[1]:.2f}), RD {self.rd * 100:+.1f} "
                f"points ({self.rd_ci[0] * 100:.1f} to {self.rd_ci[1] * 100:.1f}), "
                f"{self.covariance}")


def propensity(x: pd.Series, covariates: pd.DataFrame, link: str = "logit"):
    """Fit the exposure model; returns the statsmodels results."""
    from statsmodels.discrete.discrete_model import Logit, Probit
    Z = covariates.astype(float).copy()
    Z.insert(0, "const", 1.0)
    model = (Logit if link == "logit" else Probit)(x.astype(float), Z)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(disp=False, maxiter=200)


def _psi(theta: np.ndarray, Z: np.ndarray, a: np.ndarray, y: np.ndarray, link: str,
         trim: float | None) -> np.ndarray:
    """Estimating functions, one row per case: the propensity score equations, then the
    Hajek equations for the clearance rate with and without video."""
    k = Z.shape[1]
    beta, mu1, mu0 = theta[:k], theta[k], theta[k + 1]
    eta = Z @ beta
    if link == "logit":
        p = 1.0 / (1.0 + np.exp(-eta))
        score = Z * (a - p)[:, None]
    else:
        p = stats.norm.cdf(eta)
        dens = stats.norm.pdf(eta)
        score = Z * (dens * (a - p) / np.clip(p * (1 - p), 1e-300, None))[:, None]
    if trim:
        p = np.clip(p, trim, 1 - trim)
    return np.column_stack([score, a * (y - mu1) / p, (1 - a) * (y - mu0) / (1 - p)])


def sandwich(theta: np.ndarray, psi, groups: np.ndarray | None) -> np.ndarray:
    """Covariance of an M-estimator: A^-1 B A^-T / n with A the Jacobian of the mean
    estimating function (central differences) and B the outer product of the per-case (or,
    with ``groups``, per-cluster summed) estimating functions; clusters scale B by G/(G-1)."""
    rows = psi(theta)
    n, m = rows.shape
    jac = np.empty((m, m))
    for j in range(m):
        h = 1e-6 * max(1.0, abs(theta[j]))
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        jac[:, j] = (psi(up).mean(axis=0) - psi(down).mean(axis=0)) / (2 * h)
    if groups is None:
        meat = rows.T @ rows / n
    else:
        g = int(groups.max() + 1)
        sums = np.zeros((g, m))
        np.add.at(sums, groups, rows)
        meat = sums.T @ sums / n * g / (g - 1)
    inv = np.linalg.inv(jac)
    return inv @ meat @ inv.T / n


def ipw(y: pd.Series, x: pd.Series, covariates: pd.DataFrame, link: str = "logit",
        alpha: float = 0.05, cluster: pd.Series | None = None,
        trim: float | None = None) -> IPW:
    """Weighted clearance rates, RD and RR (delta method on the log scale), and balance;
    raises Refused when weighting cannot be done."""
    if covariates.shape[1] == 0:
        raise Refused("no covariate to weight on")
    diagnose(y, x, covariates)
    positivity(x, covariates)
    ps_fit = propensity(x, covariates, link)
    Z = np.column_stack([np.ones(len(x)), covariates.to_numpy(float)])
    a, yy = x.to_numpy(float), y.to_numpy(float)
    beta = np.asarray(ps_fit.params, float)
    raw_p = np.asarray(ps_fit.predict(), float)
    if raw_p.min() < 1e-8 or raw_p.max() > 1 - 1e-8:
        raise Refused("video is (almost) perfectly predicted by the covariates: propensities "
                      "reach 0 or 1, so weighting cannot compare these cases")
    p = np.clip(raw_p, trim, 1 - trim) if trim else raw_p
    trimmed = int(((raw_p < trim) | (raw_p > 1 - trim)).sum()) if trim else 0
    w = np.where(a == 1, 1 / p, 1 / (1 - p))
    mu1 = float((a * yy / p).sum() / (a / p).sum())
    mu0 = float(((1 - a) * yy / (1 - p)).sum() / ((1 - a) / (1 - p)).sum())
    theta = np.concatenate([beta, [mu1, mu0]])
    groups = None if cluster is None else pd.factorize(cluster)[0]
    cov_matrix = sandwich(theta, lambda t: _psi(t, Z, a, yy, link, trim), groups)
    k = Z.shape[1]
    v1, v0, c10 = cov_matrix[k, k], cov_matrix[k + 1, k + 1], cov_matrix[k, k + 1]
    if cluster is None:
        label, g = "M-estimation sandwich (HC0)", None
    else:
        g = int(groups.max() + 1)
        dist = critical(alpha, g)[1]
        label = f"M-estimation sandwich, cluster-robust by {cluster.name} ({g} clusters" + (
            f", {dist} critical values)" if dist != "z" else ")")
    crit = critical(alpha, g)[0]
    rd, se_rd = mu1 - mu0, math.sqrt(max(v1 + v0 - 2 * c10, 0.0))
    rr = mu1 / mu0
    se_log = math.sqrt(max(v1 / mu1 ** 2 + v0 / mu0 ** 2 - 2 * c10 / (mu1 * mu0), 0.0))
    share = a.mean()
    stab = np.where(a == 1, share / p, (1 - share) / (1 - p))
    balance = [{"covariate": col, "smd_before": smd(covariates[col].to_numpy(float), a),
                "smd_after": smd(covariates[col].to_numpy(float), a, w)}
               for col in covariates.columns]
    notes = []
    if raw_p.min() < 0.02 or raw_p.max() > 0.98:
        notes.append(f"propensity scores reach {raw_p.min():.3f}-{raw_p.max():.3f}: weak "
                     "overlap, weights are unstable" + ("" if trim else
                                                        " (consider --trim 0.01)"))
    if trim:
        notes.append(f"propensities trimmed to {trim:g}-{1 - trim:g}: {trimmed} case(s) "
                     "touched")
    bad = [b["covariate"] for b in balance if abs(b["smd_after"]) > 0.1]
    if bad:
        notes.append(f"imbalance remains after weighting (|SMD| > 0.1): {', '.join(bad)}")
    ess = {"exposed": _ess(w[a == 1]), "unexposed": _ess(w[a == 0])}
    return IPW(mu1, (mu1 - crit * math.sqrt(v1), mu1 + crit * math.sqrt(v1)),
               mu0, (mu0 - crit * math.sqrt(v0), mu0 + crit * math.sqrt(v0)),
               rd, (rd - crit * se_rd, rd + crit * se_rd),
               rr, (rr * math.exp(-crit * se_log), rr * math.exp(crit * se_log)),
               f"{link} regression of video on covariates", list(covariates.columns), balance,
               {"exposed": [float(raw_p[a == 1].min()), float(raw_p[a == 1].max())],
                "unexposed": [float(raw_p[a == 0].min()), float(raw_p[a == 0].max())]},
               float(w.max()), label, float(stab.max()), ess, trimmed, trim, int(len(a)),
               notes)


def _ess(w: np.ndarray) -> float:
    return float(w.sum() ** 2 / (w ** 2).sum()) if len(w) else 0.0


def smd(values: np.ndarray, x: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Standardized mean difference (exposed minus unexposed) over the unweighted pooled SD."""
    v1, v0 = values[x == 1], values[x == 0]
    sd = math.sqrt((v1.var(ddof=1) + v0.var(ddof=1)) / 2) if len(v1) > 1 and len(v0) > 1 else 0
    if weights is None:
        m1, m0 = v1.mean(), v0.mean()
    else:
        m1 = np.average(v1, weights=weights[x == 1])
        m0 = np.average(v0, weights=weights[x == 0])
    return float((m1 - m0) / sd) if sd > 0 else 0.0


# ------------------------------------------------------------------ subgroup heterogeneity
def interaction_test(frame: pd.DataFrame, column: str, cluster: pd.Series | None = None
                     ) -> dict:
    """Wald test that the risk ratio is the same in every level of ``column`` (Poisson model
    with video x level interactions, robust or cluster-robust covariance)."""
    from statsmodels.genmod import families
    from statsmodels.genmod.generalized_linear_model import GLM
    levels = pd.get_dummies(frame[column], prefix="g", drop_first=True, dtype=float)
    if levels.shape[1] == 0:
        return {"by": column, "p": None, "reason": "one level only"}
    inter = levels.mul(frame["x"].astype(float), axis=0).add_prefix("video:")
    X = pd.concat([frame["x"].astype(float).rename("video"), levels, inter], axis=1)
    X.insert(0, "const", 1.0)
    cov_type, cov_kwds, cov = covariance_for(cluster)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = GLM(frame["y"].astype(float), X, family=families.Poisson()).fit(
                cov_type=cov_type, cov_kwds=cov_kwds)
        names = list(inter.columns)
        b = fit.params[names].to_numpy()
        v = fit.cov_params().loc[names, names].to_numpy()
        if not (np.all(np.isfinite(b)) and np.all(np.isfinite(v))) or np.abs(b).max() > 15:
            return {"by": column, "p": None, "reason": "a level without cleared cases"}
        chi2 = float(b @ np.linalg.solve(v, b))
        return {"by": column, "chi2": chi2, "df": len(names),
                "p": float(stats.chi2.sf(chi2, len(names))), "covariance": cov.label}
    except (np.linalg.LinAlgError, ValueError) as err:
        return {"by": column, "p": None, "reason": str(err).splitlines()[0]}
