"""Adjusted, weighted and stratified estimates (statsmodels fits; the study's own M-estimator
for weighting). Intervals and p-values follow ``videx.study.inference``.

- Modified Poisson regression (Zou 2004): Poisson GLM on the 0/1 outcome with a robust
  sandwich covariance (HC0, requested explicitly: statsmodels' GLM treats HC1-HC3 as HC0), or
  cluster-robust by a column (CR1: G/(G - 1)). The adjusted risk ratio, and its p-value from
  the same reference distribution as its interval.
- Logistic regression: the adjusted odds ratio with its model-based interval (inverse
  information, what R's ``glm`` and Stata's ``logit`` report) and its robust one, labelled.
- Log-binomial regression: a second adjusted RR, reported only when it converges with every
  fitted probability inside (0, 1).
- Mantel-Haenszel risk ratio across strata (Greenland-Robins variance), Cochran's Q test of
  homogeneity of the stratum risk ratios, and the Breslow-Day test for the odds ratios; cases
  are treated as independent (labelled so when the study has clusters).
- Inverse-probability weighting: a propensity model (logit or probit), then normalised
  (Hajek) weighted rates, solved with the propensity model as one M-estimator whose sandwich
  covariance accounts for estimating the weights, per row or per cluster. No propensity is
  clipped; ``trim`` leaves out the cases whose propensity falls outside trim..1-trim (counted)
  and refits the propensity model on the others. The weights reported are the weights used.
- A test of heterogeneity of the risk ratio across subgroups (interaction terms, Wald test:
  chi-square, or F(q, G - 1) with few clusters; refused when its covariance is singular).

Fits that cannot be trusted are refused with the reason (``Refused``): a covariate level in
which the outcome (or the exposure) never varies, a covariate with one value, collinear
covariates, too few cases, a group whose outcome never varies, a single cluster.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from videx.study.crude import counts, robust_fit
from videx.study.inference import (
    FEW_CLUSTERS,
    Reference,
    Refused,
    check_rank,
    cluster_label,
    format_p,
    interval,
    outcome_problem,
    require_clusters,
    unclustered,
)
from videx.study.spec import Words

MIN_CASES = 10
HUGE_COEFFICIENT = 15.0
EXPOSURE = "video"          # the exposure's column in every design matrix
__all__ = ["Adjusted", "IPW", "MantelHaenszel", "Refused", "adjusted", "interaction_test",
           "ipw", "mantel_haenszel", "FEW_CLUSTERS"]


def z_crit(alpha: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2))


@dataclass(frozen=True)
class Covariance:
    """How an estimate's variance was computed, and the reference its interval uses."""

    kind: str                  # "HC0", "cluster", "model"
    label: str
    clusters: int | None = None

    @property
    def reference(self) -> Reference:
        return Reference(self.clusters if self.kind == "cluster" else None)

    def crit(self, alpha: float) -> float:
        return self.reference.crit(alpha)


def covariance_for(cluster: pd.Series | None) -> tuple[np.ndarray | None, Covariance]:
    """Cluster codes (None without clusters) and the Covariance description; refuses a
    single cluster."""
    if cluster is None:
        return None, Covariance("HC0", "robust sandwich (HC0)")
    groups = pd.factorize(cluster)[0]
    g = int(groups.max() + 1) if len(groups) else 0
    require_clusters(g, str(cluster.name))
    return groups, Covariance("cluster", cluster_label(str(cluster.name), g), g)


def _name(col: str, words: Words) -> str:
    return words.exposure if col == EXPOSURE else col


def diagnose(y: pd.Series, x: pd.Series, covariates: pd.DataFrame, words: Words,
             logistic: bool = False) -> None:
    """Raise Refused when an adjusted model of ``y`` on ``x`` and ``covariates`` cannot be
    fitted meaningfully; the message names the cause."""
    w = words
    n = len(y)
    if n < MIN_CASES:
        raise Refused(f"only {n} case(s) with every covariate: too few for an adjusted model "
                      f"(at least {MIN_CASES})")
    if x.nunique() < 2:
        raise Refused(outcome_problem(*counts(pd.DataFrame({"x": x, "y": y})), w)[1])
    if set(np.unique(y)) <= {0, 1}:               # a 0/1 outcome (a continuous one, in the
        problem = outcome_problem(*counts(pd.DataFrame({"x": x, "y": y})), w)   # tests: no)
        if problem:
            raise Refused(problem[1])
    elif y.nunique() < 2:
        raise Refused("the outcome has the same value in every case")
    for col in covariates.columns:
        values = covariates[col]
        if values.nunique() < 2:
            raise Refused(f"covariate {col} has the same value in every case")
        if set(values.unique()) <= {0.0, 1.0} and "=" in col:   # a category's dummy
            level = values == 1
            inside = y[level]
            if inside.sum() == 0:
                raise Refused(f"the outcome ({w.outcome}) is perfectly predicted by {col} (no "
                              f"case in it was {w.outcome}): merge that level with another "
                              "or leave it out")
            if logistic and inside.sum() == len(inside):
                raise Refused(f"the outcome ({w.outcome}) is perfectly predicted by {col} "
                              f"(every case in it was {w.outcome}): merge that level with "
                              "another or leave it out")
    if logistic:
        return                                  # the design was checked for the Poisson model
    design = np.column_stack([np.ones(n), x.to_numpy(float), covariates.to_numpy(float)])
    design /= np.maximum(np.abs(design).max(axis=0), 1e-300)      # scale columns alike
    if np.linalg.matrix_rank(design.T @ design) < design.shape[1]:
        raise Refused("the covariates are collinear (one is a combination of the others: "
                      f"{', '.join(covariates.columns)}); leave one out")


def positivity(x: pd.Series, covariates: pd.DataFrame, words: Words) -> None:
    """Raise Refused when the exposure is perfectly predicted by a covariate level (propensity
    0 or 1 for those cases: weighting cannot compare them)."""
    for col in covariates.columns:
        values = covariates[col]
        if set(values.unique()) <= {0.0, 1.0} and "=" in col:
            inside = x[values == 1]
            if len(inside) and inside.nunique() == 1:
                has = "every case has" if inside.iloc[0] == 1 else "no case has"
                raise Refused(f"the exposure ({words.exposure}) is perfectly predicted by "
                              f"{col} ({has} it): propensity weighting cannot compare these "
                              "cases")


# ------------------------------------------------------------------ adjusted models
@dataclass(frozen=True)
class Adjusted:
    """Adjusted RR (modified Poisson) and OR (logistic, model-based and robust intervals).
    ``rr_p``: two-sided p-value of RR = 1 from the interval's reference distribution
    (``reference``: ``z`` or ``t(G-1)``)."""

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
    reference: str = "z"
    clustered: bool = False
    or_variance: str = "model-based"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["or"] = d.pop("odds_ratio")
        return d

    def summary(self, level: int = 95) -> str:
        text = (f"adjusted RR {self.rr:.2f} ({level}% CI {self.rr_ci[0]:.2f} to "
                f"{self.rr_ci[1]:.2f}, {self.covariance}; {format_p(self.rr_p)}), "
                f"{self.method}")
        if self.odds_ratio is not None:
            text += (f"; adjusted OR {self.odds_ratio:.2f} ({level}% CI {self.or_ci[0]:.2f} "
                     f"to {self.or_ci[1]:.2f}, {self.or_variance})")
        elif self.or_refused:
            text += f"; adjusted OR: not estimable: {self.or_refused}"
        return text


def _design(x: pd.Series, covariates: pd.DataFrame) -> pd.DataFrame:
    X = pd.concat([x.astype(float).rename(EXPOSURE), covariates.astype(float)], axis=1)
    X.insert(0, "const", 1.0)
    return X


def _se(cov, name: str) -> float:
    v = float(cov.loc[name, name]) if hasattr(cov, "loc") else float(cov)
    return math.sqrt(v) if v > 0 else (0.0 if v == 0 else float("nan"))


def adjusted(y: pd.Series, x: pd.Series, covariates: pd.DataFrame,
             cluster: pd.Series | None = None, alpha: float = 0.05,
             words: Words | None = None) -> Adjusted:
    """Adjusted estimates of the exposure effect on the outcome (see module docstring);
    raises Refused for data that cannot give one."""
    from statsmodels.genmod import families
    from statsmodels.genmod.generalized_linear_model import GLM
    words = words or Words()
    diagnose(y, x, covariates, words)
    groups, cov = covariance_for(cluster)
    X = _design(x, covariates)
    ref = cov.reference
    crit = ref.crit(alpha)
    notes = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pois, vcov, mvar = robust_fit(GLM(y.astype(float), X, family=families.Poisson()),
                                      groups)
    b, se = float(pois.params[EXPOSURE]), _se(vcov, EXPOSURE)
    if not math.isfinite(b) or any(abs(v) > HUGE_COEFFICIENT
                                   for v in pois.params.drop("const")):
        raise Refused(_huge(pois.params, "the Poisson model", words))
    notes += _warning_notes(caught, "Poisson model")
    rr = math.exp(b)
    mse = math.sqrt(max(float(mvar[EXPOSURE]), 0.0))
    rr_ci = interval(b, se, crit, True, f"the adjusted log risk ratio ({cov.label})", mse)
    rr_ci_z = interval(b, se, z_crit(alpha), True, "the adjusted log risk ratio", mse) \
        if ref.df is not None else None
    odds = or_ci = or_robust = or_refused = None
    try:
        diagnose(y, x, covariates, words, logistic=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = GLM(y.astype(float), X, family=families.Binomial())
            logit = model.fit()                                     # model-based (as R glm)
            robust, rcov, rvar = robust_fit(model, groups,          # same estimates,
                                            start_params=logit.params.to_numpy())  # variance
        if any(abs(v) > HUGE_COEFFICIENT for v in logit.params.drop("const")) or not np.all(
                np.isfinite(logit.bse)):
            raise Refused(_huge(logit.params, "the logistic model", words))
        notes += _warning_notes(caught, "logistic model")
        odds = math.exp(logit.params[EXPOSURE])
        or_ci = interval(float(logit.params[EXPOSURE]), float(logit.bse[EXPOSURE]),
                         z_crit(alpha), True, "the log odds ratio")
        or_robust = interval(float(robust.params[EXPOSURE]), _se(rcov, EXPOSURE), crit, True,
                             f"the log odds ratio ({cov.label})",
                             math.sqrt(max(float(rvar[EXPOSURE]), 0.0)))
    except Refused as err:
        or_refused = str(err)
    return Adjusted(rr, rr_ci, ref.p(b / se), odds, or_ci, or_robust,
                    "modified Poisson (Poisson GLM, robust covariance)", cov.label,
                    [c for c in X.columns if c not in ("const", EXPOSURE)], int(len(y)),
                    log_binomial(y, X, pois, groups, crit), rr_ci_z, or_refused, notes,
                    ref.name, cov.kind == "cluster",
                    unclustered("model-based", None if cluster is None else str(cluster.name)))


def _huge(params: pd.Series, what: str, words: Words) -> str:
    name = _name(params.drop("const").abs().idxmax(), words)
    return (f"{what} did not converge to finite estimates: {name} perfectly predicts the "
            "outcome in these data (separation); merge or leave out that covariate")


def _warning_notes(caught, what: str) -> list[str]:
    out = []
    for w in caught:
        text = str(w.message).splitlines()[0]
        if text and f"{what}: {text}" not in out:
            out.append(f"{what}: {text}")
    return out


def log_binomial(y, X, pois, groups, crit) -> dict:
    """Log-binomial RR, or why it is not reported."""
    from statsmodels.genmod import families
    from statsmodels.genmod.generalized_linear_model import GLM
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fam = families.Binomial(link=families.links.Log())
            res, vcov, mvar = robust_fit(GLM(y.astype(float), X, family=fam), groups,
                                         start_params=pois.params.values, maxiter=200)
        fitted = res.fittedvalues
        converged = bool(res.converged)
        inside = bool(np.all((fitted > 0) & (fitted < 1)))
        if not (converged and inside):
            why = "did not converge" if not converged else "fitted probabilities outside (0, 1)"
            return {"reported": False, "reason": why}
        b = float(res.params[EXPOSURE])
        return {"reported": True, "rr": math.exp(b),
                "rr_ci": interval(b, _se(vcov, EXPOSURE), crit, True, "the log risk ratio",
                                  math.sqrt(max(float(mvar[EXPOSURE]), 0.0)))}
    except Refused as err:
        return {"reported": False, "reason": str(err)}
    except Exception as err:  # noqa: BLE001 - any failure is "not reported", with the reason
        return {"reported": False, "reason": f"failed: {str(err).splitlines()[0]}"}


# ------------------------------------------------------------------ Mantel-Haenszel
@dataclass(frozen=True)
class MantelHaenszel:
    """Mantel-Haenszel RR across strata with homogeneity tests; cases treated as
    independent."""

    strata_by: list[str]
    rr: float
    rr_ci: tuple[float, float]
    homogeneity_q: float | None
    homogeneity_df: int | None
    homogeneity_p: float | None
    breslow_day_p: float | None
    strata: list[dict]
    strata_used: int
    strata_skipped: int
    variance: str = "Greenland-Robins"
    blank_left_out: int = 0
    flags: list[str] = field(default_factory=list)
    clustered: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self, level: int = 95) -> str:
        text = (f"Mantel-Haenszel RR by {' x '.join(self.strata_by)}: {self.rr:.2f} "
                f"({level}% CI {self.rr_ci[0]:.2f} to {self.rr_ci[1]:.2f}, {self.variance})")
        if self.homogeneity_p is not None:
            text += f"; homogeneity of stratum RRs {format_p(self.homogeneity_p)}"
        return text + "".join(f"; {f}" for f in self.flags)


def mantel_haenszel(frame: pd.DataFrame, by: list[str], alpha: float = 0.05,
                    words: Words | None = None, cluster: str | None = None
                    ) -> MantelHaenszel:
    """MH risk ratio of the outcome (``y``) for the exposure (``x``) across the levels of
    ``by`` (rows with a blank stratum cell are left out and counted); raises Refused when
    no stratum can carry it."""
    words = words or Words()
    cols = [frame[f"by:{b}"].astype(str) for b in by]
    blank = np.zeros(len(frame), dtype=bool)
    for col in cols:
        blank |= (col == "").to_numpy()
    frame, cols = frame[~blank], [c[~blank] for c in cols]
    key = cols[0].str.cat(cols[1:], sep=" / ") if len(cols) > 1 else cols[0]
    problem = outcome_problem(*counts(frame), words) if len(frame) else (
        "empty", "no case with every stratum known")
    if problem:
        raise Refused(problem[1])
    rows, tables = [], []
    num = den = var_num = 0.0
    logs, weights = [], []
    skipped = sparse = 0
    from videx.study.inference import MIN_CELL
    for level, g in frame.groupby(key, sort=True):
        a, n1, c, n0 = counts(g)
        row = {"stratum": level, "exposed_n": n1, "exposed_cleared": a, "unexposed_n": n0,
               "unexposed_cleared": c, "rr": (a / n1) / (c / n0) if n1 and n0 and c else None}
        rows.append(row)
        if not (n1 and n0):
            skipped += 1
            continue
        if min(a, n1 - a, c, n0 - c) < MIN_CELL:
            sparse += 1
        N = n1 + n0
        num += a * n0 / N
        den += c * n1 / N
        var_num += (n1 * n0 * (a + c) - a * c * N) / N ** 2
        tables.append(np.array([[a, n1 - a], [c, n0 - c]], dtype=float))
        if a and c and (a < n1 or c < n0):
            logs.append(math.log(row["rr"]))
            weights.append(1.0 / (1 / a - 1 / n1 + 1 / c - 1 / n0))
    if not tables:
        raise Refused(f"no stratum has cases both {words.with_()} and {words.without()}")
    if not num:
        raise Refused(f"no case {words.with_()} was {words.outcome} in any stratum that has "
                      "both groups: the pooled risk ratio is 0 and has no log-scale interval")
    if not den:
        raise Refused(f"no case {words.without()} was {words.outcome} in any stratum that has "
                      "both groups: the pooled risk ratio is unbounded")
    rr = num / den
    se = math.sqrt(var_num / (num * den)) if var_num > 0 else 0.0
    ci = interval(math.log(rr), se, z_crit(alpha), True, "the Mantel-Haenszel log risk ratio")
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
    flags = []
    if sparse:
        flags.append(f"{sparse} of {len(tables)} strata have fewer than {MIN_CELL} cases in a "
                     "cell: read the stratum table")
    return MantelHaenszel(by, rr, ci, q, q_df, q_p, bd_p, rows, len(tables), skipped,
                          unclustered("Greenland-Robins", cluster), int(blank.sum()), flags,
                          False)


# ------------------------------------------------------------------ IPW
@dataclass(frozen=True)
class IPW:
    """Inverse-probability-weighted rates of the outcome and effects (ATE scale)."""

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
    reference: str = "z"
    clustered: bool = False
    words: Words = field(default_factory=Words)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("words")
        return d

    def summary(self, level: int = 95) -> str:
        w = self.words
        return (f"IPW: weighted {w.rate} {self.rate_exposed * 100:.1f}% {w.with_()} vs "
                f"{self.rate_unexposed * 100:.1f}% {w.without()}; RR {self.rr:.2f} ({level}% "
                f"CI {self.rr_ci[0]:.2f} to {self.rr_ci[1]:.2f}), RD {self.rd * 100:+.1f} "
                f"points ({level}% CI {self.rd_ci[0] * 100:.1f} to {self.rd_ci[1] * 100:.1f}), "
                f"{self.covariance}" + (f"; {self.trimmed} case(s) with a propensity outside "
                                        f"{self.trim:g}-{1 - self.trim:g} left out"
                                        if self.trim else ""))


def propensity(x: pd.Series, covariates: pd.DataFrame, link: str = "logit"):
    """Fit the exposure model; returns the statsmodels results."""
    from statsmodels.discrete.discrete_model import Logit, Probit
    Z = covariates.astype(float).copy()
    Z.insert(0, "const", 1.0)
    model = (Logit if link == "logit" else Probit)(x.astype(float), Z)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(disp=False, maxiter=200)


def _psi(theta: np.ndarray, Z: np.ndarray, a: np.ndarray, y: np.ndarray, link: str
         ) -> np.ndarray:
    """Estimating functions, one row per case: the propensity score equations, then the
    Hajek equations for the outcome rate with and without the exposure."""
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
    return np.column_stack([score, a * (y - mu1) / p, (1 - a) * (y - mu0) / (1 - p)])


def sandwich(theta: np.ndarray, psi, groups: np.ndarray | None) -> np.ndarray:
    """Covariance of an M-estimator: A^-1 B A^-T / n with A the Jacobian of the mean
    estimating function (central differences) and B the outer product of the per-case (or,
    with ``groups``, per-cluster summed) estimating functions; clusters scale B by G/(G-1)."""
    from videx.study.inference import cluster_factor
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
        meat = sums.T @ sums / n * cluster_factor(g)
    inv = np.linalg.inv(jac)
    return inv @ meat @ inv.T / n


def ipw(y: pd.Series, x: pd.Series, covariates: pd.DataFrame, link: str = "logit",
        alpha: float = 0.05, cluster: pd.Series | None = None,
        trim: float | None = None, words: Words | None = None) -> IPW:
    """Weighted rates of the outcome, RD and RR (delta method on the log scale), and
    balance; raises Refused when weighting cannot be done. With ``trim``, cases whose
    propensity (from the model on every case) falls outside trim..1-trim are left out and the
    propensity model is refitted on the others."""
    words = words or Words()
    if covariates.shape[1] == 0:
        raise Refused("no covariate to weight on")
    diagnose(y, x, covariates, words)
    positivity(x, covariates, words)
    trimmed = 0
    if trim:
        first = np.asarray(propensity(x, covariates, link).predict(), float)
        keep = (first >= trim) & (first <= 1 - trim)
        trimmed = int((~keep).sum())
        if trimmed:
            y, x, covariates = y[keep], x[keep], covariates[keep]
            cluster = None if cluster is None else cluster[keep]
            covariates = covariates.loc[:, covariates.nunique() > 1]
            try:
                diagnose(y, x, covariates, words)
                positivity(x, covariates, words)
            except Refused as err:
                raise Refused(f"after leaving out the {trimmed} case(s) with a propensity "
                              f"outside {trim:g}-{1 - trim:g}: {err}") from None
            if covariates.shape[1] == 0:
                raise Refused(f"after leaving out the {trimmed} case(s) with a propensity "
                              f"outside {trim:g}-{1 - trim:g}, no covariate varies")
    groups, cov = covariance_for(cluster)
    ps_fit = propensity(x, covariates, link)
    Z = np.column_stack([np.ones(len(x)), covariates.to_numpy(float)])
    a, yy = x.to_numpy(float), y.to_numpy(float)
    beta = np.asarray(ps_fit.params, float)
    p = np.asarray(ps_fit.predict(), float)
    if p.min() < 1e-8 or p.max() > 1 - 1e-8:
        raise Refused(f"the exposure ({words.exposure}) is (almost) perfectly predicted by the "
                      "covariates: propensities reach 0 or 1, so weighting cannot compare "
                      "these cases (--trim leaves such cases out)")
    w = np.where(a == 1, 1 / p, 1 / (1 - p))
    mu1 = float((a * yy / p).sum() / (a / p).sum())
    mu0 = float(((1 - a) * yy / (1 - p)).sum() / ((1 - a) / (1 - p)).sum())
    theta = np.concatenate([beta, [mu1, mu0]])
    cov_matrix = sandwich(theta, lambda t: _psi(t, Z, a, yy, link), groups)
    k = Z.shape[1]
    v1, v0, c10 = cov_matrix[k, k], cov_matrix[k + 1, k + 1], cov_matrix[k, k + 1]
    label = ("M-estimation sandwich (HC0)" if groups is None
             else f"M-estimation sandwich, {cov.label}")
    ref = cov.reference
    crit = ref.crit(alpha)
    rd = mu1 - mu0
    rr = mu1 / mu0
    sd = lambda v: math.sqrt(v) if v > 0 else 0.0     # noqa: E731
    rd_ci = interval(rd, sd(v1 + v0 - 2 * c10), crit, False, "the weighted risk difference")
    rr_ci = interval(math.log(rr), sd(v1 / mu1 ** 2 + v0 / mu0 ** 2 - 2 * c10 / (mu1 * mu0)),
                     crit, True, "the weighted log risk ratio")
    r1_ci = interval(mu1, sd(v1), crit, False, f"the weighted rate {words.with_()}")
    r0_ci = interval(mu0, sd(v0), crit, False, f"the weighted rate {words.without()}")
    share = a.mean()
    stab = np.where(a == 1, share / p, (1 - share) / (1 - p))
    balance = [{"covariate": col, "smd_before": smd(covariates[col].to_numpy(float), a),
                "smd_after": smd(covariates[col].to_numpy(float), a, w)}
               for col in covariates.columns]
    notes = []
    if p.min() < 0.02 or p.max() > 0.98:
        notes.append(f"propensity scores reach {p.min():.3f}-{p.max():.3f}: weak overlap, "
                     "weights are unstable" + ("" if trim else " (consider --trim 0.01)"))
    if trim:
        notes.append(f"--trim {trim:g}: {trimmed} case(s) with a propensity outside "
                     f"{trim:g}-{1 - trim:g} left out of the weighting; the weighted estimates "
                     f"describe the other {len(a)} (the propensity model was refitted on them)")
    bad = [b["covariate"] for b in balance if abs(b["smd_after"]) > 0.1]
    if bad:
        notes.append(f"imbalance remains after weighting (|SMD| > 0.1): {', '.join(bad)}")
    ess = {"exposed": _ess(w[a == 1]), "unexposed": _ess(w[a == 0])}
    return IPW(mu1, r1_ci, mu0, r0_ci, rd, rd_ci, rr, rr_ci,
               f"{link} regression of the exposure on the covariates",
               list(covariates.columns), balance,
               {"exposed": [float(p[a == 1].min()), float(p[a == 1].max())],
                "unexposed": [float(p[a == 0].min()), float(p[a == 0].max())]},
               float(w.max()), label, float(stab.max()), ess, trimmed, trim, int(len(a)),
               notes, ref.name, groups is not None, words)


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
def interaction_test(frame: pd.DataFrame, column: str, cluster: pd.Series | None = None,
                     words: Words | None = None) -> dict:
    """Wald test that the risk ratio is the same in every level of ``column`` (Poisson model
    with exposure x level interactions, robust or cluster-robust covariance): chi-square(q),
    or F(q, G - 1) with fewer than 30 clusters. Raises Refused with the reason when the test
    cannot be made (one level, a level without the outcome, a singular covariance)."""
    from statsmodels.genmod import families
    from statsmodels.genmod.generalized_linear_model import GLM
    words = words or Words()
    levels = pd.get_dummies(frame[column], prefix="g", drop_first=True, dtype=float)
    if levels.shape[1] == 0:
        raise Refused("one level only")
    for level, g in frame.groupby(column, sort=True):
        problem = outcome_problem(*counts(g), words)
        if problem:
            raise Refused(f"in {column} = {level}, {problem[1].split(':')[0]}: that level has "
                          "no risk ratio to compare")
    inter = levels.mul(frame["x"].astype(float), axis=0).add_prefix(f"{EXPOSURE}:")
    X = pd.concat([frame["x"].astype(float).rename(EXPOSURE), levels, inter], axis=1)
    X.insert(0, "const", 1.0)
    groups, cov = covariance_for(cluster)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit, vcov, mvar = robust_fit(GLM(frame["y"].astype(float), X,
                                         family=families.Poisson()), groups)
    names = list(inter.columns)
    b = fit.params[names].to_numpy()
    v = np.asarray(vcov.loc[names, names], dtype=float)
    if not np.all(np.isfinite(b)) or np.abs(b).max() > HUGE_COEFFICIENT:
        raise Refused("the interaction model did not converge to finite estimates")
    shown = column.split(":", 1)[1] if column.startswith("by:") else column
    check_rank(v, "interaction terms", cov.clusters, str(cluster.name) if cluster is not
               None else None, shown, mvar[names].to_numpy())
    chi2 = float(b @ np.linalg.solve(v, b))
    p, test = cov.reference.wald(chi2, len(names))
    return {"by": column, "chi2": chi2, "df": len(names), "p": p, "test": test,
            "covariance": cov.label}

