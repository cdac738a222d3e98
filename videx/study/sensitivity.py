"""Sensitivity: E-values (VanderWeele and Ding 2017) and bootstrap intervals.

The E-value is the minimum strength of association, on the risk-ratio scale, that an unmeasured
confounder would need with both the exposure and the outcome to fully explain away an observed
risk ratio: ``RR + sqrt(RR * (RR - 1))`` for RR >= 1 (use 1/RR below 1). For an interval, the
E-value of the limit nearest 1, or 1 when the interval includes 1. The study computes it from
the interval it reports for that estimate (the headline's: cluster-robust with ``--cluster``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from videx.study.inference import FEW_CLUSTERS, MIN_CLUSTERS, Refused
from videx.study.spec import Words


def evalue_rr(rr: float) -> float:
    """E-value of a risk-ratio point estimate."""
    if rr is None or not math.isfinite(rr) or rr <= 0:
        raise ValueError("risk ratio must be positive and finite")
    r = rr if rr >= 1 else 1.0 / rr
    return r + math.sqrt(r * (r - 1.0))


def evalue_ci(rr: float, lo: float, hi: float) -> float:
    """E-value of the interval limit nearest 1 (1.0 when the interval includes 1)."""
    if lo <= 1.0 <= hi:
        return 1.0
    return evalue_rr(lo if rr >= 1 else hi)


@dataclass(frozen=True)
class EValue:
    """E-values for one risk-ratio estimate and the interval it is reported with
    (``interval``: that interval's level and variance)."""

    estimate_name: str
    rr: float
    rr_ci: tuple[float, float]
    evalue_estimate: float
    evalue_ci: float
    interval: str = ""
    words: Words = field(default_factory=Words)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("words")
        return d

    def summary(self) -> str:
        w = self.words
        away = (f"the {'lower' if self.rr < 1 else 'higher'} "
                f"{'clearance' if w.clearance else 'share ' + w.outcome}")
        return (f"E-value for the {self.estimate_name} RR {self.rr:.2f}: "
                f"{self.evalue_estimate:.2f}; for the limit of its {self.interval} "
                f"({self.rr_ci[0]:.2f} to {self.rr_ci[1]:.2f}): {self.evalue_ci:.2f}. An "
                f"unmeasured confounder associated with both {w.exposure} and "
                f"{w.outcome_noun} by a risk ratio of {self.evalue_estimate:.2f} each could "
                f"explain {away} away" + ("; one of 1.00 could explain the interval's limit "
                                          "away, as the interval includes 1."
                                          if self.evalue_ci == 1.0 else "."))


def evalue(name: str, rr: float, rr_ci: tuple[float, float], interval: str = "",
           words: Words | None = None) -> EValue:
    """E-values of ``rr`` and of the limit of ``rr_ci`` (the interval as reported, described
    by ``interval``); Refused for a risk ratio of 0."""
    if rr is None or rr <= 0 or not math.isfinite(rr):
        raise Refused("the risk ratio is 0: no confounder strength is needed to explain it "
                      "away, and none could")
    return EValue(name, rr, tuple(rr_ci), evalue_rr(rr), evalue_ci(rr, *rr_ci), interval,
                  words or Words())


def bootstrap(frame, statistic, n: int, seed: int, alpha: float = 0.05,
              cluster: str | None = None, name: str | None = None) -> dict:
    """Percentile bootstrap of ``statistic(frame) -> float`` over resampled rows, or, with a
    ``cluster`` column, over resampled clusters (each drawn cluster brings all its rows);
    ``name`` is what the clusters are called in messages (default: the column).

    Refused with one cluster (every resample is the same data), and when every usable
    resample gives the same value (a zero-width interval). ``notes`` say when some resamples
    had no value and when there are fewer than 30 clusters."""
    rng = np.random.default_rng(seed)
    values = []
    failed = 0
    notes = []
    if cluster is not None:
        codes = frame[cluster].astype("category").cat.codes.to_numpy()
        members = [np.flatnonzero(codes == g) for g in range(codes.max() + 1)]
        if len(members) < MIN_CLUSTERS:
            raise Refused(f"only {len(members)} cluster ({name or cluster}): resampling one "
                          "cluster gives back the same cases every time")
        if len(members) < FEW_CLUSTERS:
            notes.append(f"only {len(members)} clusters ({name or cluster}) resampled: a "
                         "cluster bootstrap with "
                         f"fewer than {FEW_CLUSTERS} clusters tends to give too narrow an "
                         "interval")
    for _ in range(n):
        if cluster is None:
            take = rng.integers(0, len(frame), len(frame))
        else:
            take = np.concatenate([members[g] for g in rng.integers(0, len(members),
                                                                    len(members))])
        sample = frame.iloc[take].reset_index(drop=True)
        try:
            v = statistic(sample)
        except Exception:  # noqa: BLE001 - a degenerate resample (e.g. no exposed case)
            v = None
        if v is None or not math.isfinite(v):
            failed += 1
        else:
            values.append(v)
    resampled = "clusters" if cluster is not None else "rows"
    if not values:
        raise Refused(f"no resample of the {n} gave a value")
    lo, hi = np.percentile(values, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    if not lo < hi:
        raise Refused(f"every usable resample gave the same value ({lo:.3g}): a zero-width "
                      "interval says nothing")
    if failed:
        notes.append(f"{failed} of {n} resamples had no value (a resample without one of the "
                     "groups, or without the outcome in one); the interval comes from the "
                     f"other {n - failed}")
    return {"n": n, "failed": failed, "ci": (float(lo), float(hi)), "seed": seed,
            "resampled": resampled, "notes": notes}
