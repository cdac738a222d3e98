"""The study's one inference policy: how every interval and p-value is computed, and when an
estimate is not made. docs/study.md, "How intervals are computed", says the same in words.

- **Level.** Every interval is at 1 - ``alpha`` (the spec's; 95% by default) and says so.
- **Clusters.** With ``--cluster COLUMN`` every model-based estimate (crude RR and RD, adjusted
  Poisson, logistic and log-binomial models, IPW, Cox, subgroup and late-video risk ratios, the
  heterogeneity test) uses the cluster-robust sandwich: per-cluster sums of the estimating
  functions, with the one small-sample factor ``G / (G - 1)`` (CR1, what Stata applies to its
  maximum-likelihood commands with ``vce(cluster)``). statsmodels' extra (N - 1) / (N - K) (a
  linear-regression degrees-of-freedom factor) is not applied: it tends to 1, and the stacked
  IPW and Cox estimators have no K for it.
- **Reference distribution.** With fewer than ``FEW_CLUSTERS`` clusters, intervals and p-values
  of one coefficient use t(G - 1), and a Wald test of q coefficients uses F(q, G - 1) (refused
  when q > G - 1: such a covariance has rank at most G - 1); otherwise the normal and
  chi-square.
- **Too few clusters.** One cluster: refused (the variance is estimated from differences
  between clusters). Fewer than ``FEW_CLUSTERS``: a note (the intervals can still be too
  narrow).
- **Not cluster-aware, and labelled so.** Wilson, Katz, score, Newcombe and Woolf intervals,
  Fisher's test, Mantel-Haenszel (Greenland-Robins), Cochran's Q, Breslow-Day, Kaplan-Meier and
  the log-rank test treat cases as independent; with ``--cluster`` their labels say
  "does not account for clustering by COLUMN".
- **Degenerate data.** A group (with or without the exposure) whose outcome never varies gives
  a robust variance nothing from that group: the crude ratio then uses the score interval and
  every model-based ratio is refused with the reason. A zero, negative or non-finite variance
  is refused (never a zero-width interval). A 2x2 cell with fewer than ``MIN_CELL`` cases flags
  the estimate.

Standard library and scipy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FEW_CLUSTERS = 30       # below: t(G - 1) / F(q, G - 1) reference and a note
MIN_CLUSTERS = 2        # below: no cluster-robust variance at all
MIN_CELL = 5            # a 2x2 cell with fewer cases flags the estimate as resting on few cases
SINGULAR = 1e-10        # smallest / largest eigenvalue of a correlation matrix: singular below


class Refused(Exception):
    """An estimate that cannot be made from these data, with the reason in plain words."""


def level(alpha: float) -> int:
    """The confidence level in percent (95 for alpha 0.05)."""
    return int(round((1 - alpha) * 100))


def cluster_factor(clusters: int) -> float:
    """The small-sample factor applied to every cluster-robust covariance: G / (G - 1)."""
    return clusters / (clusters - 1)


def require_clusters(clusters: int, column: str, where: str = "") -> None:
    """Refuse a cluster-robust estimate with fewer than two clusters, saying why."""
    if clusters < MIN_CLUSTERS:
        raise Refused(
            f"only {clusters} cluster{'' if clusters == 1 else 's'} ({column}){where}: a "
            "cluster-robust variance is estimated from the differences between clusters, so "
            f"it needs at least {MIN_CLUSTERS} (and is reliable from about {FEW_CLUSTERS}); "
            "remove --cluster to treat the cases as independent")


def few_clusters_note(clusters: int, column: str) -> str | None:
    """The warning for 2 <= G < FEW_CLUSTERS."""
    if MIN_CLUSTERS <= clusters < FEW_CLUSTERS:
        return (f"only {clusters} clusters ({column}): cluster-robust intervals and p-values "
                f"use t({clusters - 1}) critical values (F tests F(q, {clusters - 1})), and "
                f"with fewer than {FEW_CLUSTERS} clusters they can still be too narrow")
    return None


@dataclass(frozen=True)
class Reference:
    """The distribution an estimate's interval and p-value are read from: normal for
    independent cases and 30 or more clusters, t(G - 1) below."""

    clusters: int | None = None

    @property
    def df(self) -> int | None:
        g = self.clusters
        return g - 1 if g is not None and g < FEW_CLUSTERS else None

    @property
    def name(self) -> str:
        return "z" if self.df is None else f"t({self.df})"

    def crit(self, alpha: float) -> float:
        from scipy import stats
        if self.df is None:
            return float(stats.norm.ppf(1 - alpha / 2))
        return float(stats.t.ppf(1 - alpha / 2, self.df))

    def p(self, z: float) -> float:
        """Two-sided p-value of ``z`` = estimate / SE."""
        from scipy import stats
        if self.df is None:
            return float(2 * stats.norm.sf(abs(z)))
        return float(2 * stats.t.sf(abs(z), self.df))

    def wald(self, chi2: float, q: int) -> tuple[float, str]:
        """(p-value, test name) of a Wald statistic on q coefficients: F(q, G - 1) on
        chi2 / q with few clusters, chi-square(q) otherwise."""
        from scipy import stats
        if self.df is None:
            return float(stats.chi2.sf(chi2, q)), f"chi2({q})"
        return float(stats.f.sf(chi2 / q, q, self.df)), f"F({q}, {self.df})"


def cluster_label(column: str, clusters: int) -> str:
    """The variance label of every cluster-robust estimate."""
    ref = Reference(clusters)
    return (f"cluster-robust by {column} ({clusters} clusters"
            + (f", {ref.name} critical values)" if ref.df is not None else ")"))


def unclustered(label: str, column: str | None) -> str:
    """``label`` of a method that treats cases as independent, saying so when the study has
    clusters."""
    return f"{label}; does not account for clustering by {column}" if column else label


def format_p(p: float | None) -> str:
    """A p-value as text: "p = 0.0123" (3 significant digits), "p < 0.0001" below that, never
    "p = 0"."""
    if p is None or not math.isfinite(p):
        return "p not estimable"
    if p < 0.0001:
        return "p < 0.0001"
    return f"p = {p:.2g}" if p < 0.001 else f"p = {p:.3g}"


ZERO_VARIANCE = 1e-12     # a robust variance this small against the model-based one is zero


def interval(centre: float, se: float, crit: float, log: bool, what: str,
             model_se: float | None = None) -> tuple[float, float]:
    """Wald interval ``centre`` +- ``crit`` x ``se`` (back-transformed with exp when ``log``);
    refused when the standard error is zero, negative or not a number, or (given the
    model-based ``model_se``) a vanishing fraction of it: a robust variance of ~1e-29 is a
    zero that rounding hid."""
    if model_se is not None and math.isfinite(se) and math.isfinite(model_se) and \
            se * se <= ZERO_VARIANCE * model_se * model_se:
        se = 0.0
    if not (math.isfinite(se) and se > 0 and math.isfinite(centre)):
        raise Refused(f"the variance of {what} is {'zero' if se == 0 else 'not a number'}: "
                      "the data leave nothing to estimate it from")
    lo, hi = centre - crit * se, centre + crit * se
    return (math.exp(lo), math.exp(hi)) if log else (lo, hi)


def check_rank(cov, what: str, clusters: int | None = None, column: str | None = None,
               nested: str | None = None, model_var=None) -> None:
    """Refuse a Wald test of q coefficients (``what``, e.g. "interaction terms") whose
    covariance (q x q) cannot have full rank, has a zero variance or is singular.
    ``model_var`` (the model-based variances) tells a vanishing robust variance from a small
    one; ``nested`` names the variable whose levels the coefficients belong to, for the hint
    that it is (or is nested in) the cluster variable ``column``."""
    import numpy as np
    q = cov.shape[0]
    hint = ""
    if clusters is not None and nested:
        hint = (f": {nested} is the cluster variable, so each level's effect rests on its own "
                "cluster" if nested == column else
                f": some level's effect rests on a single cluster (is {nested} nested in "
                f"{column}?)")
    robust = "cluster-robust " if clusters is not None else ""
    if clusters is not None and q > clusters - 1:
        raise Refused(f"{q} {what} tested with only {clusters} clusters ({column}): a "
                      f"cluster-robust covariance has rank at most G - 1 = {clusters - 1}"
                      + hint)
    cov = np.array(cov, dtype=float)
    var = np.diag(cov).copy()
    zero = ~np.isfinite(var) | (var <= 0)
    if model_var is not None:
        zero |= var <= ZERO_VARIANCE * np.asarray(model_var, dtype=float)
    if zero.any():
        raise Refused(f"the {robust}variance of {int(zero.sum())} of the {q} {what} is zero"
                      + hint)
    d = np.sqrt(var)
    eig = np.linalg.eigvalsh(cov / np.outer(d, d))
    if eig.min() < SINGULAR * eig.max():
        rank = int((eig >= SINGULAR * eig.max()).sum())
        raise Refused(f"the {robust}covariance of the {what} is singular (rank {rank} of "
                      f"{q})" + hint)


# ------------------------------------------------------------------ the 2x2 table
def constant_group(a: int, n1: int, c: int, n0: int, words) -> str | None:
    """Which group's outcome never varies ("no case without X was cleared", "every case with X
    was cleared"), or None; both groups non-empty."""
    w = words
    for k, n, side in ((c, n0, w.without()), (a, n1, w.with_())):
        if k == 0:
            return f"no case {side} was {w.outcome}"
        if k == n:
            return f"every case {side} was {w.outcome}"
    return None


NARROW = ("a variance estimated from the data takes nothing from that group, so its interval "
          "would be too narrow")


def outcome_problem(a: int, n1: int, c: int, n0: int, words) -> tuple[str, str] | None:
    """(kind, reason) when the 2x2 table (``a`` of ``n1`` exposed cases had the outcome,
    ``c`` of ``n0`` unexposed) cannot carry a model-based ratio, else None.

    Kinds: ``empty`` (a group has no case), ``constant`` (every case, or none, had the
    outcome), ``unbounded`` (no unexposed case had it), ``zero`` (no exposed case had it: the
    ratio is 0), ``group`` (every case of one group had it: a robust variance takes nothing
    from that group). The crude ratio keeps a score interval for ``zero`` and ``group``."""
    w = words
    if not n1 or not n0:
        return "empty", f"no case {w.with_() if not n1 else w.without()}: nothing to compare"
    if a + c == 0:
        return "constant", f"no case was {w.outcome}: nothing to compare"
    if a == n1 and c == n0:
        return "constant", f"every case was {w.outcome}: nothing to compare"
    if c == 0:
        return "unbounded", (f"no case {w.without()} was {w.outcome}: the risk ratio is "
                             "unbounded (see the risk difference)")
    if a == 0:
        return "zero", (f"no case {w.with_()} was {w.outcome}: the risk ratio is 0 and has no "
                        "log-scale interval (the crude score interval bounds it)")
    if a == n1 or c == n0:
        return "group", (f"{constant_group(a, n1, c, n0, w)}: {NARROW} (the crude score "
                         "interval is the one to read)")
    return None


def difference_problem(a: int, n1: int, c: int, n0: int, words) -> str | None:
    """Why a model-based (robust) risk difference is not estimable, or None: a group without
    cases, or a group whose outcome never varies (the crude Newcombe interval remains)."""
    problem = outcome_problem(a, n1, c, n0, words)
    if problem is None:
        return None
    if problem[0] in ("empty", "constant"):
        return problem[1]
    return (f"{constant_group(a, n1, c, n0, words)}: {NARROW} (the crude Newcombe interval is "
            "the one to read)")


def few_cases(a: int, n1: int, c: int, n0: int, words) -> str | None:
    """A flag naming the 2x2 cells with fewer than MIN_CELL cases, or None."""
    w = words
    cells = [(a, f"{w.outcome} {w.with_()}"), (n1 - a, f"not {w.outcome} {w.with_()}"),
             (c, f"{w.outcome} {w.without()}"), (n0 - c, f"not {w.outcome} {w.without()}")]
    small = [f"{k} {name}" for k, name in cells if k < MIN_CELL]
    if not small:
        return None
    return (f"rests on few cases (fewer than {MIN_CELL} in a cell of the 2x2 table: "
            f"{', '.join(small)}): the interval is approximate")


__all__ = ["FEW_CLUSTERS", "MIN_CELL", "MIN_CLUSTERS", "Reference", "Refused", "check_rank",
           "cluster_factor", "cluster_label", "constant_group", "difference_problem", "few_cases", "few_clusters_note", "format_p",
           "interval", "level", "outcome_problem", "require_clusters", "unclustered"]
