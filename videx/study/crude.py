"""Crude (unadjusted) comparison of two proportions: rates, RR, RD, OR, Fisher's exact test,
and the same risk ratio and difference with cluster-robust intervals.

Intervals (``videx.study.inference`` holds the policy): Wilson for each rate; Katz (log) for
the risk ratio, or the Miettinen-Nurminen score interval when a group's outcome never varies
(no exposed case had the outcome, RR 0; or every case of a group had it: Katz would take no
variance from that group); Newcombe (hybrid score) for the risk difference; Woolf (logit) for
the odds ratio. A ratio that says nothing is refused with the reason: no case without the
exposure had the outcome (unbounded), or the outcome is the same for every case.

With clusters, the risk ratio comes from a Poisson model with only an intercept and the
exposure (the same point estimate as the crude ratio) and the difference from a linear
probability model, each with the cluster-robust covariance (CR1, G/(G - 1)); with fewer than
30 clusters the intervals use t(G - 1) critical values, and the z interval is shown too when
the two disagree about "no effect".
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.stats import fisher_exact
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    score_test_proportions_2indep,
)

from videx.study.inference import (
    FEW_CLUSTERS,
    Reference,
    Refused,
    cluster_factor,
    cluster_label,
    difference_problem,
    few_cases,
    interval,
    outcome_problem,
    require_clusters,
)
from videx.study.spec import Words

KATZ = "Katz log interval"
SCORE = "Miettinen-Nurminen score interval"
__all__ = ["FEW_CLUSTERS", "ClusterInterval", "CrudeResult", "Group", "compare", "clustered",
           "from_frame", "score_ratio_interval"]


@dataclass(frozen=True)
class Group:
    """One arm: cases, cases with the outcome, its rate (0-1) with the Wilson interval."""

    n: int
    cleared: int
    rate: float | None
    rate_ci: tuple[float, float] | None


@dataclass(frozen=True)
class CrudeResult:
    """Unadjusted comparison of the outcome with (exposed) and without (unexposed) the
    exposure. ``rr_refused`` says why there is no ratio; ``flags`` what to be careful of."""

    exposed: Group
    unexposed: Group
    rr: float | None
    rr_ci: tuple[float, float] | None
    pct_increase: float | None
    pct_increase_ci: tuple[float, float] | None
    rd: float | None
    rd_ci: tuple[float, float] | None
    odds_ratio: float | None
    or_ci: tuple[float, float] | None
    fisher_p: float | None
    alpha: float = 0.05
    rr_method: str | None = None
    rr_refused: str | None = None
    problem: str | None = None
    flags: tuple[str, ...] = ()
    words: Words = field(default_factory=Words)

    @property
    def n(self) -> int:
        return self.exposed.n + self.unexposed.n

    @property
    def cells(self) -> tuple[int, int, int, int]:
        """(a, n1, c, n0): outcome among exposed, exposed, outcome among unexposed, unexposed."""
        return self.exposed.cleared, self.exposed.n, self.unexposed.cleared, self.unexposed.n

    def to_dict(self) -> dict:
        d = asdict(self)
        d["or"] = d.pop("odds_ratio")
        d.pop("words")
        d["flags"] = list(self.flags)
        return d

    def summary(self, cluster: str | None = None) -> str:
        """The comparison in words; ``cluster`` (the study's cluster column) labels each
        interval as not accounting for it."""
        from videx.study.inference import format_p, unclustered
        w = self.words
        e, u = self.exposed, self.unexposed
        level = int(round((1 - self.alpha) * 100))
        lines = [f"{w.with_()}:    {e.cleared}/{e.n} {w.outcome} ({pct(e.rate)})",
                 f"{w.without()}: {u.cleared}/{u.n} {w.outcome} ({pct(u.rate)})"]
        if self.rr is not None:
            lines.append(f"risk ratio {self.rr:.2f} ({level}% CI {ci(self.rr_ci)}, "
                         f"{unclustered(self.rr_method, cluster)}): {w.change(self.rr)}")
        elif self.rr_refused:
            lines.append(f"risk ratio: not estimable: {self.rr_refused}")
        if self.rd is not None:
            lines.append(f"risk difference {self.rd * 100:+.1f} points "
                         f"({level}% CI {ci(self.rd_ci, 100, '.1f')}, "
                         f"{unclustered('Newcombe', cluster)})")
        if self.odds_ratio is not None:
            lines.append(f"odds ratio {self.odds_ratio:.2f} ({level}% CI {ci(self.or_ci)}, "
                         f"{unclustered('Woolf', cluster)}) (an odds ratio, not a change in "
                         f"the proportion {w.outcome})")
        if self.fisher_p is not None:
            lines.append(f"Fisher's exact test {format_p(self.fisher_p)}"
                         + (f" (does not account for clustering by {cluster})"
                            if cluster else ""))
        lines += [f"crude risk ratio {f}" for f in self.flags]
        return "\n".join(lines)


def change_words(rr: float) -> str:
    """A risk ratio as a change in the proportion cleared: "123% higher clearance", "23%
    lower clearance", or "no difference" (``Words.change`` for other outcomes)."""
    return Words().change(rr)


def pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.1f}%"


def ci(pair, scale: float = 1.0, fmt: str = ".2f") -> str:
    if not pair:
        return "not estimable"
    return f"{pair[0] * scale:{fmt}} to {pair[1] * scale:{fmt}}"


def _pair(lo, hi):
    lo, hi = float(np.real(lo)), float(np.real(hi))
    if not (math.isfinite(lo) and math.isfinite(hi)) or not lo < hi:
        return None
    return (lo, hi)


def group(cleared: int, n: int, alpha: float = 0.05) -> Group:
    """The outcome in one arm with the Wilson interval."""
    if n == 0:
        return Group(0, 0, None, None)
    lo, hi = proportion_confint(cleared, n, alpha=alpha, method="wilson")
    return Group(int(n), int(cleared), cleared / n, (float(lo), float(hi)))


def score_ratio_interval(a: int, n1: int, c: int, n0: int, alpha: float = 0.05
                         ) -> tuple[float, float]:
    """Miettinen-Nurminen (1985) score interval for the ratio of two proportions (``c`` > 0),
    found by inverting the score test (statsmodels' ``score_test_proportions_2indep`` with
    its N/(N - 1) correction) with a bracketing root finder: the closed-form roots that
    statsmodels' ``confint_proportions_2indep(method="score")`` uses go complex when a group's
    outcome never varies. Lower limit 0 when ``a`` is 0."""
    from scipy import stats
    z = float(stats.norm.ppf(1 - alpha / 2))
    rr = (a / n1) / (c / n0)

    def excess(log_theta: float) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = score_test_proportions_2indep(a, n1, c, n0, value=math.exp(log_theta),
                                                compare="ratio", correction=True,
                                                return_results=True)
        return float(res.statistic) ** 2 - z * z

    def root(inside: float, step: float) -> float:
        outside = inside + step
        while excess(outside) < 0:
            outside += step
            if abs(outside - inside) > 60:
                raise Refused("the score interval has no finite limit")
        return math.exp(brentq(excess, min(inside, outside), max(inside, outside),
                               xtol=1e-12, rtol=1e-12))

    centre = math.log(rr) if rr > 0 else math.log((a + 0.5) / n1 / (c / n0))
    lower = 0.0 if a == 0 else root(centre, -1.0)
    return lower, root(centre, 1.0)


def _ratio(a: int, n1: int, c: int, n0: int, alpha: float, words: Words):
    """(rr, interval, method, refusal, problem kind) for the crude risk ratio."""
    problem = outcome_problem(a, n1, c, n0, words)
    kind = problem[0] if problem else None
    if kind in ("empty", "constant", "unbounded"):
        return None, None, None, problem[1], kind
    rr = (a / n1) / (c / n0)
    if kind in ("zero", "group"):
        return rr, score_ratio_interval(a, n1, c, n0, alpha), SCORE, None, kind
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pair = _pair(*confint_proportions_2indep(a, n1, c, n0, method="log", compare="ratio",
                                                 alpha=alpha))
    return rr, pair, KATZ, None, kind


def compare(a: int, n1: int, c: int, n0: int, alpha: float = 0.05,
            words: Words | None = None) -> CrudeResult:
    """Compare ``a`` of ``n1`` exposed cases with the outcome with ``c`` of ``n0`` unexposed."""
    words = words or Words()
    exposed, unexposed = group(a, n1, alpha), group(c, n0, alpha)
    rr = rr_ci = pct_inc = pct_ci = rd = rd_ci = odds = odds_ci = method = refused = None
    fisher_p = kind = None
    flags: list[str] = []
    if n1 and n0:
        rd = a / n1 - c / n0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rd_ci = _pair(*confint_proportions_2indep(a, n1, c, n0, method="newcomb",
                                                      compare="diff", alpha=alpha))
        rr, rr_ci, method, refused, kind = _ratio(a, n1, c, n0, alpha, words)
        if rr is not None:
            pct_inc = (rr - 1) * 100
            pct_ci = ((rr_ci[0] - 1) * 100, (rr_ci[1] - 1) * 100) if rr_ci else None
            flag = few_cases(a, n1, c, n0, words)
            if flag:
                flags.append(flag)
        b, d = n1 - a, n0 - c
        if min(a, b, c, d) > 0:
            odds = (a * d) / (b * c)
            odds_ci = _pair(*confint_proportions_2indep(a, n1, c, n0, method="logit",
                                                        compare="odds-ratio", alpha=alpha))
        fisher_p = float(fisher_exact([[a, n1 - a], [c, n0 - c]])[1])
    else:
        refused = outcome_problem(a, n1, c, n0, words)[1]
        kind = "empty"
    return CrudeResult(exposed, unexposed, rr, rr_ci, pct_inc, pct_ci, rd, rd_ci, odds, odds_ci,
                       fisher_p, alpha, method, refused, kind, tuple(flags), words)


def counts(frame) -> tuple[int, int, int, int]:
    """(a, n1, c, n0) of an analysis frame with 0/1 columns ``x`` and ``y``."""
    x, y = frame["x"].to_numpy(), frame["y"].to_numpy()
    return (int(((x == 1) & (y == 1)).sum()), int((x == 1).sum()),
            int(((x == 0) & (y == 1)).sum()), int((x == 0).sum()))


def from_frame(frame, alpha: float = 0.05, words: Words | None = None) -> CrudeResult:
    """Crude comparison from an analysis frame with 0/1 columns ``x`` and ``y``."""
    return compare(*counts(frame), alpha, words)


# ------------------------------------------------------------------ clusters
@dataclass(frozen=True)
class ClusterInterval:
    """An estimate with its cluster-robust interval: the one used (t with few clusters), the
    z interval beside it, and the variance label."""

    estimate: float
    ci: tuple[float, float]
    ci_z: tuple[float, float]
    clusters: int
    variance: str
    disagree: bool
    clustered: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


def cluster_interval(estimate: float, se: float, clusters: int, name: str, alpha: float,
                     log: bool, what: str = "the estimate", model_se: float | None = None
                     ) -> ClusterInterval:
    """Interval of an estimate (log scale when ``log``) from its cluster-robust SE."""
    ref, z_ref = Reference(clusters), Reference(None)
    centre = math.log(estimate) if log else estimate
    used = interval(centre, se, ref.crit(alpha), log, what, model_se)
    with_z = interval(centre, se, z_ref.crit(alpha), log, what, model_se)
    null = 1.0 if log else 0.0
    disagree = (used[0] <= null <= used[1]) != (with_z[0] <= null <= with_z[1])
    return ClusterInterval(estimate, used, with_z, clusters, cluster_label(name, clusters),
                           disagree)


def robust_fit(model, groups: np.ndarray | None, **fit_kwds):
    """Fit a statsmodels GLM/OLS with the study's robust covariance: HC0 without clusters,
    else the cluster-robust sandwich times G/(G - 1) (``cluster_factor``) and nothing else.
    Returns (results, covariance, model-based variances: the diagonal of the inverse
    information, to tell a vanishing robust variance from a small one)."""
    if groups is None:
        res = model.fit(cov_type="HC0", **fit_kwds)
        cov = res.cov_params()
    else:
        g = int(len(np.unique(groups)))
        res = model.fit(cov_type="cluster",
                        cov_kwds={"groups": groups, "use_correction": False}, **fit_kwds)
        cov = res.cov_params() * cluster_factor(g)
    model_var = np.diag(np.asarray(res.normalized_cov_params, dtype=float)) * float(res.scale)
    if hasattr(cov, "index"):
        model_var = pd.Series(model_var, index=cov.index)
    return res, cov, model_var


def clustered(frame, alpha: float, name: str, words: Words | None = None, where: str = ""
              ) -> tuple[dict[str, ClusterInterval], dict[str, str]]:
    """Crude RR (Poisson, intercept and exposure) and RD (linear probability) with
    cluster-robust intervals: ({"rr": ..., "rd": ...}, {key: why not estimable}); ``where``
    names the subset of cases (" in year = 2021") in a refusal."""
    from statsmodels.genmod import families
    from statsmodels.genmod.generalized_linear_model import GLM
    from statsmodels.regression.linear_model import OLS
    words = words or Words()
    y = frame["y"].to_numpy(float)
    x = frame["x"].to_numpy(float)
    groups = np.unique(frame["cluster"].to_numpy(), return_inverse=True)[1]
    g = int(groups.max() + 1) if len(groups) else 0
    out: dict[str, ClusterInterval] = {}
    refused: dict[str, str] = {}
    try:
        require_clusters(g, name, where)
    except Refused as err:
        return out, {"rr": str(err), "rd": str(err)}
    cells = counts(frame)
    problem = outcome_problem(*cells, words)
    design = np.column_stack([np.ones_like(x), x])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if problem:
            refused["rr"] = problem[1]
        else:
            try:
                pois, cov, mvar = robust_fit(GLM(y, design, family=families.Poisson()),
                                             groups)
                out["rr"] = cluster_interval(math.exp(pois.params[1]),
                                             math.sqrt(max(cov[1, 1], 0.0)), g, name, alpha,
                                             True, "the log risk ratio", math.sqrt(mvar[1]))
            except Refused as err:
                refused["rr"] = str(err)
        if problem:
            refused["rd"] = difference_problem(*cells, words)
        else:
            try:
                lpm, cov, mvar = robust_fit(OLS(y, design), groups)
                out["rd"] = cluster_interval(float(lpm.params[1]),
                                             math.sqrt(max(cov[1, 1], 0.0)), g, name, alpha,
                                             False, "the risk difference",
                                             math.sqrt(max(mvar[1], 0.0)))
            except Refused as err:
                refused["rd"] = str(err)
    return out, refused
