"""Adjusted and stratified estimates with statsmodels.

- Modified Poisson regression (Zou 2004): Poisson GLM on the 0/1 outcome with a robust
  sandwich covariance, giving an adjusted risk ratio. HC0 is requested explicitly: statsmodels'
  GLM treats HC1-HC3 as HC0 anyway. With ``--cluster``, a cluster-robust covariance instead.
- Logistic regression: adjusted odds ratio (same covariance choice).
- Log-binomial regression: a secondary adjusted RR, reported only when it converges with all
  fitted probabilities inside (0, 1).
- Mantel-Haenszel risk ratio across strata (Greenland-Robins variance) with a Cochran Q test of
  homogeneity of the stratum risk ratios, and the Breslow-Day test for the odds ratios.
- Inverse-probability weighting (statsmodels ``TreatmentEffect.ipw``, GMM standard errors that
  account for estimating the propensity model), giving weighted clearance rates, RD and RR.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.contingency_tables import StratifiedTable
from statsmodels.treatment.treatment_effects import TreatmentEffect

FEW_CLUSTERS = 30


def z_crit(alpha: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2))


@dataclass(frozen=True)
class Adjusted:
    """Adjusted RR (modified Poisson), OR (logistic) and, when it fits, log-binomial RR."""

    rr: float
    rr_ci: tuple[float, float]
    rr_p: float
    odds_ratio: float | None
    or_ci: tuple[float, float] | None
    method: str
    covariance: str
    covariates: list[str]
    n: int
    log_binomial: dict | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["or"] = d.pop("odds_ratio")
        return d

    def summary(self) -> str:
        text = (f"adjusted RR {self.rr:.2f} ({self.rr_ci[0]:.2f} to {self.rr_ci[1]:.2f}), "
                f"{self.method}, {self.covariance}")
        if self.odds_ratio is not None:
            text += f"; adjusted OR {self.odds_ratio:.2f} ({self.or_ci[0]:.2f} to {self.or_ci[1]:.2f})"
        return text


def _design(x: pd.Series, covariates: pd.DataFrame) -> pd.DataFrame:
    X = pd.concat([x.astype(float).rename("video"), covariates], axis=1)
    return sm.add_constant(X, has_constant="add")


def _cov_args(cluster: pd.Series | None) -> tuple[str, dict, str]:
    if cluster is None:
        return "HC0", {}, "robust sandwich (HC0)"
    groups = pd.factorize(cluster)[0]
    return "cluster", {"groups": groups}, f"cluster-robust by {cluster.name} ({groups.max() + 1} clusters)"


def _ci(params, bse, name, alpha) -> tuple[float, float]:
    z = z_crit(alpha)
    return (math.exp(params[name] - z * bse[name]), math.exp(params[name] + z * bse[name]))


def adjusted(y: pd.Series, x: pd.Series, covariates: pd.DataFrame,
             cluster: pd.Series | None = None, alpha: float = 0.05) -> Adjusted:
    """Adjusted estimates of the exposure effect on clearance (see module docstring)."""
    X = _design(x, covariates)
    cov_type, cov_kwds, cov_label = _cov_args(cluster)
    notes = []
    if cluster is not None and cov_kwds["groups"].max() + 1 < FEW_CLUSTERS:
        notes.append(f"only {cov_kwds['groups'].max() + 1} clusters: cluster-robust intervals "
                     f"may be too narrow (fewer than {FEW_CLUSTERS})")
    pois = sm.GLM(y, X, family=sm.families.Poisson()).fit(cov_type=cov_type, cov_kwds=cov_kwds)
    rr = math.exp(pois.params["video"])
    rr_ci = _ci(pois.params, pois.bse, "video", alpha)
    if not (rr > 0 and math.isfinite(rr) and rr_ci[0] > 0 and math.isfinite(rr_ci[1])):
        raise ValueError("the Poisson model gave no finite risk ratio (a covariate pattern "
                         "with no cleared case, or too few cases)")
    odds = odds_ci = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            logit = sm.GLM(y, X, family=sm.families.Binomial()).fit(cov_type=cov_type,
                                                                    cov_kwds=cov_kwds)
        if np.all(np.isfinite(logit.bse)):
            odds = math.exp(logit.params["video"])
            odds_ci = _ci(logit.params, logit.bse, "video", alpha)
    except Exception as err:  # noqa: BLE001 - perfect separation and friends
        notes.append(f"logistic regression failed: {err}")
    return Adjusted(rr, rr_ci, float(pois.pvalues["video"]), odds, odds_ci,
                    "modified Poisson (Poisson GLM, robust covariance)", cov_label,
                    [c for c in X.columns if c not in ("const", "video")], int(len(y)),
                    log_binomial(y, X, pois, cov_type, cov_kwds, alpha), notes)


def log_binomial(y, X, pois, cov_type, cov_kwds, alpha) -> dict:
    """Log-binomial RR, or why it is not reported."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fam = sm.families.Binomial(link=sm.families.links.Log())
            res = sm.GLM(y, X, family=fam).fit(start_params=pois.params.values, maxiter=200,
                                               cov_type=cov_type, cov_kwds=cov_kwds)
        fitted = res.fittedvalues
        converged = bool(res.converged)
        inside = bool(np.all((fitted > 0) & (fitted < 1)))
        if not (converged and inside and np.all(np.isfinite(res.bse))):
            why = "did not converge" if not converged else "fitted probabilities outside (0, 1)"
            return {"reported": False, "reason": why}
        return {"reported": True, "rr": math.exp(res.params["video"]),
                "rr_ci": _ci(res.params, res.bse, "video", alpha)}
    except Exception as err:  # noqa: BLE001
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

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        if self.rr is None:
            return "Mantel-Haenszel: no stratum had both exposed and unexposed cases"
        text = (f"Mantel-Haenszel RR by {' x '.join(self.strata_by)}: {self.rr:.2f} "
                f"({self.rr_ci[0]:.2f} to {self.rr_ci[1]:.2f})")
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
        if a and c:
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
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        return (f"IPW: weighted clearance {self.rate_exposed * 100:.1f}% with video vs "
                f"{self.rate_unexposed * 100:.1f}% without; RR {self.rr:.2f} "
                f"({self.rr_ci[0]:.2f} to {self.rr_ci[1]:.2f}), RD "
                f"{self.rd * 100:+.1f} points ({self.rd_ci[0] * 100:.1f} to "
                f"{self.rd_ci[1] * 100:.1f})")


def propensity(x: pd.Series, covariates: pd.DataFrame, link: str = "logit"):
    """Fit the exposure model; returns the statsmodels results."""
    X = sm.add_constant(covariates.astype(float), has_constant="add")
    model = (sm.Logit if link == "logit" else sm.Probit)(x.astype(float), X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(disp=False, maxiter=200)


def ipw_effects(outcome: pd.Series, x: pd.Series, covariates: pd.DataFrame,
                link: str = "logit", alpha: float = 0.05) -> tuple[dict, object]:
    """ATE, potential-outcome means and their joint covariance via TreatmentEffect.ipw."""
    ps = propensity(x, covariates, link)
    outcome_model = sm.OLS(outcome.astype(float).to_numpy(), np.ones((len(outcome), 1)))
    teff = TreatmentEffect(outcome_model, x.astype(int).to_numpy(), results_select=ps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = teff.ipw(return_results=True, effect_group="all", disp=False)
    gmm = res.results_gmm
    ate, pom0 = float(gmm.params[0]), float(gmm.params[1])
    cov = np.asarray(gmm.cov_params())[:2, :2]
    return {"ate": ate, "ate_se": float(math.sqrt(cov[0, 0])), "pom0": pom0,
            "pom1": ate + pom0, "cov": cov}, ps


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


def ipw(y: pd.Series, x: pd.Series, covariates: pd.DataFrame, link: str = "logit",
        alpha: float = 0.05) -> IPW:
    """Weighted clearance rates, RD and RR (delta method on the log scale), and balance."""
    eff, ps_res = ipw_effects(y, x, covariates, link, alpha)
    z = z_crit(alpha)
    cov = eff["cov"]
    # Var(POM1) = Var(ATE) + Var(POM0) + 2 Cov(ATE, POM0)
    var1 = cov[0, 0] + cov[1, 1] + 2 * cov[0, 1]
    var0 = cov[1, 1]
    p1, p0 = eff["pom1"], eff["pom0"]
    # log RR = log(ATE + POM0) - log(POM0): gradient wrt (ATE, POM0)
    grad = np.array([1 / p1, 1 / p1 - 1 / p0])
    se_log = float(math.sqrt(grad @ cov @ grad))
    rr = p1 / p0
    ps = np.asarray(ps_res.predict())
    xv = x.to_numpy().astype(int)
    w = np.where(xv == 1, 1 / ps, 1 / (1 - ps))
    balance = [{"covariate": col, "smd_before": smd(covariates[col].to_numpy(float), xv),
                "smd_after": smd(covariates[col].to_numpy(float), xv, w)}
               for col in covariates.columns]
    notes = []
    if ps.min() < 0.02 or ps.max() > 0.98:
        notes.append(f"propensity scores reach {ps.min():.3f}-{ps.max():.3f}: weak overlap, "
                     "weights are unstable")
    bad = [b["covariate"] for b in balance if abs(b["smd_after"]) > 0.1]
    if bad:
        notes.append(f"imbalance remains after weighting (|SMD| > 0.1): {', '.join(bad)}")
    return IPW(p1, (p1 - z * math.sqrt(var1), p1 + z * math.sqrt(var1)),
               p0, (p0 - z * math.sqrt(var0), p0 + z * math.sqrt(var0)),
               eff["ate"], (eff["ate"] - z * eff["ate_se"], eff["ate"] + z * eff["ate_se"]),
               rr, (rr * math.exp(-z * se_log), rr * math.exp(z * se_log)),
               f"{link} regression of video on covariates", list(covariates.columns), balance,
               {"exposed": [float(ps[xv == 1].min()), float(ps[xv == 1].max())],
                "unexposed": [float(ps[xv == 0].min()), float(ps[xv == 0].max())]},
               float(w.max()), notes)
