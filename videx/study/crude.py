"""Crude (unadjusted) comparison of two proportions: rates, RR, RD, OR, Fisher's exact test,
and the same risk ratio and difference with cluster-robust intervals.

Intervals: Wilson for each rate; Katz (log) for the risk ratio, or the Miettinen-Nurminen
score interval when no case with video was cleared (RR 0); Newcombe (hybrid score) for the
risk difference; Woolf (logit) for the odds ratio. A ratio that says nothing is refused with
the reason: no cleared case without video (unbounded), or every case in both groups cleared.

With clusters, the risk ratio comes from a Poisson model with only an intercept and video (the
same point estimate as the crude ratio) and the difference from a linear probability model,
each with a cluster-robust covariance; with fewer than 30 clusters the intervals use
t(G - 1) critical values, and the z interval is shown too when the two disagree about 1.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats
from scipy.stats import fisher_exact
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

FEW_CLUSTERS = 30


@dataclass(frozen=True)
class Group:
    """One arm: cases, cleared, clearance rate (0-1) with its Wilson interval."""

    n: int
    cleared: int
    rate: float | None
    rate_ci: tuple[float, float] | None


@dataclass(frozen=True)
class CrudeResult:
    """Unadjusted comparison of clearance with (exposed) and without (unexposed) video."""

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

    @property
    def n(self) -> int:
        return self.exposed.n + self.unexposed.n

    def to_dict(self) -> dict:
        d = asdict(self)
        d["or"] = d.pop("odds_ratio")
        return d

    def summary(self, label: str = "video") -> str:
        e, u = self.exposed, self.unexposed
        level = int(round((1 - self.alpha) * 100))
        lines = [f"with {label}:    {e.cleared}/{e.n} cleared ({pct(e.rate)})",
                 f"without {label}: {u.cleared}/{u.n} cleared ({pct(u.rate)})"]
        if self.rr is not None:
            lines.append(f"risk ratio {self.rr:.2f} ({level}% CI {ci(self.rr_ci)}, "
                         f"{self.rr_method}): {change_words(self.rr)}")
        elif self.rr_refused:
            lines.append(f"risk ratio not estimated: {self.rr_refused}")
        if self.rd is not None:
            lines.append(f"risk difference {self.rd * 100:+.1f} points "
                         f"({level}% CI {ci(self.rd_ci, 100, '.1f')})")
        if self.odds_ratio is not None:
            lines.append(f"odds ratio {self.odds_ratio:.2f} ({level}% CI {ci(self.or_ci)}) "
                         "(an odds ratio, not a change in the proportion cleared)")
        if self.fisher_p is not None:
            lines.append(f"Fisher's exact test p = {self.fisher_p:.3g}")
        return "\n".join(lines)


def change_words(rr: float) -> str:
    """A risk ratio as a change in the proportion cleared: "123% higher clearance", "23%
    lower clearance", or "no difference"."""
    pct_change = (rr - 1) * 100
    if round(pct_change) == 0:
        return "no difference in clearance"
    return f"{abs(pct_change):.0f}% {'higher' if pct_change > 0 else 'lower'} clearance"


def pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.1f}%"


def ci(pair, scale: float = 1.0, fmt: str = ".2f") -> str:
    if not pair:
        return "n/a"
    return f"{pair[0] * scale:{fmt}} to {pair[1] * scale:{fmt}}"


def _pair(lo, hi):
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    return (lo, hi)


def group(cleared: int, n: int, alpha: float = 0.05) -> Group:
    """Clearance in one arm with the Wilson interval."""
    if n == 0:
        return Group(0, 0, None, None)
    lo, hi = proportion_confint(cleared, n, alpha=alpha, method="wilson")
    return Group(int(n), int(cleared), cleared / n, (float(lo), float(hi)))


def _ratio(a: int, n1: int, c: int, n0: int, alpha: float):
    """(rr, interval, method, refusal) for the risk ratio, zero cells handled."""
    if c == 0:
        return None, None, None, ("no cleared case without video: the risk ratio is "
                                  "unbounded (see the risk difference)")
    if a == n1 and c == n0:
        return None, None, None, ("every case in both groups was cleared: a risk ratio says "
                                  "nothing here")
    rr = (a / n1) / (c / n0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if a > 0:
            pair = _pair(*confint_proportions_2indep(a, n1, c, n0, method="log",
                                                     compare="ratio", alpha=alpha))
            return rr, pair, "Katz log interval", None
        lo, hi = confint_proportions_2indep(a, n1, c, n0, method="score", compare="ratio",
                                            alpha=alpha)
    return rr, (0.0, float(hi)), "Miettinen-Nurminen score interval", None   # lower: RR 0


def compare(a: int, n1: int, c: int, n0: int, alpha: float = 0.05) -> CrudeResult:
    """Compare ``a`` cleared of ``n1`` exposed with ``c`` cleared of ``n0`` unexposed."""
    exposed, unexposed = group(a, n1, alpha), group(c, n0, alpha)
    rr = rr_ci = pct_inc = pct_ci = rd = rd_ci = odds = odds_ci = method = refused = None
    fisher_p = None
    if n1 and n0:
        rd = a / n1 - c / n0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rd_ci = _pair(*confint_proportions_2indep(a, n1, c, n0, method="newcomb",
                                                      compare="diff", alpha=alpha))
        rr, rr_ci, method, refused = _ratio(a, n1, c, n0, alpha)
        if rr is not None:
            pct_inc = (rr - 1) * 100
            pct_ci = ((rr_ci[0] - 1) * 100, (rr_ci[1] - 1) * 100) if rr_ci else None
        b, d = n1 - a, n0 - c
        if min(a, b, c, d) > 0:
            odds = (a * d) / (b * c)
            odds_ci = _pair(*confint_proportions_2indep(a, n1, c, n0, method="logit",
                                                        compare="odds-ratio", alpha=alpha))
        fisher_p = float(fisher_exact([[a, n1 - a], [c, n0 - c]])[1])
    else:
        refused = ("no case with video" if not n1 else "no case without video") + \
            ": nothing to compare"
    return CrudeResult(exposed, unexposed, rr, rr_ci, pct_inc, pct_ci, rd, rd_ci, odds, odds_ci,
                       fisher_p, alpha, method, refused)


def from_frame(frame, alpha: float = 0.05) -> CrudeResult:
    """Crude comparison from an analysis frame with 0/1 columns ``x`` and ``y``."""
    x, y = frame["x"].to_numpy(), frame["y"].to_numpy()
    return compare(int(((x == 1) & (y == 1)).sum()), int((x == 1).sum()),
                   int(((x == 0) & (y == 1)).sum()), int((x == 0).sum()), alpha)


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

    def to_dict(self) -> dict:
        return asdict(self)


def critical(alpha: float, clusters: int | None) -> tuple[float, str]:
    """(critical value, its name): t(G - 1) with fewer than 30 clusters, else normal."""
    z = float(stats.norm.ppf(1 - alpha / 2))
    if clusters is not None and clusters < FEW_CLUSTERS:
        return float(stats.t.ppf(1 - alpha / 2, clusters - 1)), f"t({clusters - 1})"
    return z, "z"


def cluster_interval(estimate: float, se: float, clusters: int, name: str, alpha: float,
                     log: bool) -> ClusterInterval:
    """Interval of an estimate (log scale when ``log``) from its cluster-robust SE."""
    crit, dist = critical(alpha, clusters)
    z = float(stats.norm.ppf(1 - alpha / 2))
    centre = math.log(estimate) if log else estimate
    back = math.exp if log else (lambda v: v)
    used = (back(centre - crit * se), back(centre + crit * se))
    with_z = (back(centre - z * se), back(centre + z * se))
    null = 1.0 if log else 0.0
    disagree = (used[0] <= null <= used[1]) != (with_z[0] <= null <= with_z[1])
    label = f"cluster-robust by {name} ({clusters} clusters" + (
        f", {dist} critical values)" if dist != "z" else ")")
    return ClusterInterval(estimate, used, with_z, clusters, label, disagree)


def clustered(frame, alpha: float, name: str) -> dict[str, ClusterInterval] | None:
    """Crude RR (Poisson, intercept and video) and RD (linear probability) with
    cluster-robust intervals; None when a group has no cleared case."""
    from statsmodels.genmod import families
    from statsmodels.genmod.generalized_linear_model import GLM
    from statsmodels.regression.linear_model import OLS
    y = frame["y"].to_numpy(float)
    x = frame["x"].to_numpy(float)
    groups = np.unique(frame["cluster"].to_numpy(), return_inverse=True)[1]
    g = int(groups.max() + 1)
    design = np.column_stack([np.ones_like(x), x])
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if y[x == 1].sum() > 0 and y[x == 0].sum() > 0:
            pois = GLM(y, design, family=families.Poisson()).fit(
                cov_type="cluster", cov_kwds={"groups": groups})
            out["rr"] = cluster_interval(math.exp(pois.params[1]), float(pois.bse[1]), g, name,
                                         alpha, log=True)
        lpm = OLS(y, design).fit(cov_type="cluster", cov_kwds={"groups": groups})
    out["rd"] = cluster_interval(float(lpm.params[1]), float(lpm.bse[1]), g, name, alpha,
                                 log=False)
    return out
