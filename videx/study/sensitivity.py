"""Sensitivity: E-values (VanderWeele and Ding 2017) and bootstrap intervals.

The E-value is the minimum strength of association, on the risk-ratio scale, that an unmeasured
confounder would need with both the exposure and the outcome to fully explain away an observed
risk ratio: ``RR + sqrt(RR * (RR - 1))`` for RR >= 1 (use 1/RR below 1). For an interval, the
E-value of the limit nearest 1, or 1 when the interval includes 1.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np


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
    """E-values for one risk-ratio estimate and its interval."""

    estimate_name: str
    rr: float
    rr_ci: tuple[float, float]
    evalue_estimate: float
    evalue_ci: float

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        if self.rr < 1:
            return (f"E-value for the {self.estimate_name} RR {self.rr:.2f}: "
                    f"{self.evalue_estimate:.2f} (interval limit: {self.evalue_ci:.2f}). An "
                    f"unmeasured confounder associated with both video and clearance by a "
                    f"risk ratio of {self.evalue_estimate:.2f} each could explain the lower "
                    "clearance away.")
        return (f"E-value for the {self.estimate_name} RR {self.rr:.2f}: "
                f"{self.evalue_estimate:.2f} (interval limit: {self.evalue_ci:.2f}). An "
                f"unmeasured confounder associated with both video and clearance by a risk "
                f"ratio of {self.evalue_estimate:.2f} each could explain the estimate away.")


def evalue(name: str, rr: float, rr_ci: tuple[float, float]) -> EValue:
    return EValue(name, rr, tuple(rr_ci), evalue_rr(rr), evalue_ci(rr, *rr_ci))


def bootstrap(frame, statistic, n: int, seed: int, alpha: float = 0.05,
              cluster: str | None = None) -> dict:
    """Percentile bootstrap of ``statistic(frame) -> float`` over resampled rows, or, with a
    ``cluster`` column, over resampled clusters (each drawn cluster brings all its rows)."""
    rng = np.random.default_rng(seed)
    values = []
    failed = 0
    if cluster is not None:
        codes = frame[cluster].astype("category").cat.codes.to_numpy()
        members = [np.flatnonzero(codes == g) for g in range(codes.max() + 1)]
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
        return {"n": n, "failed": failed, "ci": None, "seed": seed, "resampled": resampled}
    lo, hi = np.percentile(values, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return {"n": n, "failed": failed, "ci": (float(lo), float(hi)), "seed": seed,
            "resampled": resampled}
