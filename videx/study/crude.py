"""Crude (unadjusted) comparison of two proportions: rates, RR, RD, OR, Fisher's exact test.

Intervals come from statsmodels: Wilson for each rate, Katz (log) for the risk ratio, Newcombe
(hybrid score) for the risk difference, Woolf (logit) for the odds ratio.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from scipy.stats import fisher_exact
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint


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
    fisher_p: float
    alpha: float = 0.05

    def to_dict(self) -> dict:
        d = asdict(self)
        d["or"] = d.pop("odds_ratio")
        return d

    def summary(self) -> str:
        e, u = self.exposed, self.unexposed
        lines = [f"with video:    {e.cleared}/{e.n} cleared ({pct(e.rate)})",
                 f"without video: {u.cleared}/{u.n} cleared ({pct(u.rate)})"]
        if self.rr is not None:
            lines.append(f"risk ratio {self.rr:.2f} ({ci(self.rr_ci)}): "
                         f"{self.pct_increase:+.0f}% in the proportion cleared")
        if self.rd is not None:
            lines.append(f"risk difference {self.rd * 100:+.1f} points "
                         f"({ci(self.rd_ci, 100, '.1f')})")
        if self.odds_ratio is not None:
            lines.append(f"odds ratio {self.odds_ratio:.2f} ({ci(self.or_ci)}) "
                         "(an odds ratio, not a change in the proportion cleared)")
        lines.append(f"Fisher's exact test p = {self.fisher_p:.3g}")
        return "\n".join(lines)


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


def compare(a: int, n1: int, c: int, n0: int, alpha: float = 0.05) -> CrudeResult:
    """Compare ``a`` cleared of ``n1`` exposed with ``c`` cleared of ``n0`` unexposed."""
    exposed, unexposed = group(a, n1, alpha), group(c, n0, alpha)
    rr = rr_ci = pct_inc = pct_ci = rd = rd_ci = odds = odds_ci = None
    if n1 and n0:
        rd = a / n1 - c / n0
        rd_ci = _pair(*confint_proportions_2indep(a, n1, c, n0, method="newcomb",
                                                  compare="diff", alpha=alpha))
        if a > 0 and c > 0:
            rr = (a / n1) / (c / n0)
            rr_ci = _pair(*confint_proportions_2indep(a, n1, c, n0, method="log",
                                                      compare="ratio", alpha=alpha))
            pct_inc = (rr - 1) * 100
            pct_ci = ((rr_ci[0] - 1) * 100, (rr_ci[1] - 1) * 100) if rr_ci else None
        b, d = n1 - a, n0 - c
        if min(a, b, c, d) > 0:
            odds = (a * d) / (b * c)
            odds_ci = _pair(*confint_proportions_2indep(a, n1, c, n0, method="logit",
                                                        compare="odds-ratio", alpha=alpha))
    table = [[a, n1 - a], [c, n0 - c]]
    fisher_p = float(fisher_exact(table)[1]) if n1 and n0 else float("nan")
    return CrudeResult(exposed, unexposed, rr, rr_ci, pct_inc, pct_ci, rd, rd_ci, odds, odds_ci,
                       fisher_p, alpha)


def from_frame(frame, alpha: float = 0.05) -> CrudeResult:
    """Crude comparison from an analysis frame with 0/1 columns ``x`` and ``y``."""
    x, y = frame["x"].to_numpy(), frame["y"].to_numpy()
    return compare(int(((x == 1) & (y == 1)).sum()), int((x == 1).sum()),
                   int(((x == 0) & (y == 1)).sum()), int((x == 0).sum()), alpha)
