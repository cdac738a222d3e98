"""Time to clearance: Kaplan-Meier curves by exposure, log-rank test, Cox model (Efron ties).

The event is clearance; open cases are censored at the censor date. Curves show the share of
cases still open (1 - cumulative clearance) by days since the shooting. With clusters, the Cox
hazard ratios get cluster-robust (Lin-Wei) standard errors with the small-sample factor
G/(G - 1), as Stata's ``stcox, vce(cluster)``, and t(G - 1) critical values below 30 clusters.
The Cox fit is ``videx.study.cox`` (numpy, Efron ties; checked against R's ``coxph``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from videx.study import cox
from videx.study.crude import critical


@dataclass(frozen=True)
class Survival:
    """Kaplan-Meier by group, log-rank test and Cox hazard ratio of clearance."""

    n: int
    events: int
    curves: dict
    median_days: dict
    logrank_chi2: float
    logrank_p: float
    hr: float | None
    hr_ci: tuple[float, float] | None
    hr_adjusted: float | None
    hr_adjusted_ci: tuple[float, float] | None
    dropped: dict
    notes: list[str] = field(default_factory=list)
    covariance: str = "model-based"

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        text = (f"time to clearance: log-rank chi2 {self.logrank_chi2:.2f}, "
                f"p = {self.logrank_p:.3g}")
        if self.hr is not None:
            text += f"; Cox HR {self.hr:.2f} ({self.hr_ci[0]:.2f} to {self.hr_ci[1]:.2f})"
        if self.hr_adjusted is not None:
            text += (f", adjusted {self.hr_adjusted:.2f} ({self.hr_adjusted_ci[0]:.2f} to "
                     f"{self.hr_adjusted_ci[1]:.2f})")
        return text


def km_curve(time: np.ndarray, event: np.ndarray) -> dict:
    """Kaplan-Meier survival (share still open) at each event time, with SE and risk set."""
    sf = SurvfuncRight(time, event)
    median = sf.quantile(0.5)
    return {"times": sf.surv_times.tolist(), "surv_prob": sf.surv_prob.tolist(),
            "surv_prob_se": [None if not np.isfinite(v) else float(v) for v in sf.surv_prob_se],
            "n_risk": sf.n_risk.tolist(), "n_events": sf.n_events.tolist(),
            "median": None if not np.isfinite(median) else float(median)}


def _cox(time, event, exog: pd.DataFrame, alpha: float, groups=None):
    try:
        res = cox.fit(time, event, exog.to_numpy(dtype=float), groups=groups)
    except np.linalg.LinAlgError:
        raise ValueError("the Cox model cannot be estimated (a covariate is constant or "
                         "duplicates another)") from None
    i = list(exog.columns).index("video")
    b, se = float(res.params[i]), float(res.bse[i])
    if not (res.converged and math.isfinite(b) and math.isfinite(se)) or abs(b) > 15:
        raise ValueError("the Cox model did not converge (a group with no clearance?)")
    g = None if groups is None else int(np.max(groups) + 1)
    z = critical(alpha, g)[0]
    return math.exp(b), (math.exp(b - z * se), math.exp(b + z * se))


def survival(time: np.ndarray, event: np.ndarray, group: np.ndarray,
             covariates: pd.DataFrame | None = None, dropped: dict | None = None,
             alpha: float = 0.05, cluster: pd.Series | None = None) -> Survival:
    """KM by ``group`` (1 = video), log-rank, and Cox HR (crude and, with covariates, adjusted).

    ``time`` in days, ``event`` 1 = cleared, 0 = censored.
    """
    time, event, group = (np.asarray(a, dtype=float) for a in (time, event, group))
    curves = {label: km_curve(time[group == g], event[group == g])
              for g, label in ((1, "exposed"), (0, "unexposed")) if (group == g).any()}
    chi2, p = survdiff(time, event, group)
    notes = []
    hr = hr_ci = hra = hra_ci = None
    groups = None if cluster is None else pd.factorize(cluster)[0]
    label = "model-based"
    if groups is not None:
        g = int(groups.max() + 1)
        dist = critical(alpha, g)[1]
        label = f"cluster-robust by {cluster.name} ({g} clusters" + (
            f", {dist} critical values)" if dist != "z" else ")")
    try:
        hr, hr_ci = _cox(time, event, pd.DataFrame({"video": group}), alpha, groups)
        if covariates is not None and covariates.shape[1]:
            keep = covariates.notna().all(axis=1).to_numpy()
            exog = pd.concat([pd.Series(group, name="video", index=covariates.index),
                              covariates], axis=1)[keep]
            hra, hra_ci = _cox(time[keep], event[keep], exog, alpha,
                               None if groups is None else pd.factorize(groups[keep])[0])
    except Exception as err:  # noqa: BLE001 - a degenerate fit is reported, not fatal
        notes.append(f"Cox model not estimated: {str(err).splitlines()[0]}")
    return Survival(int(len(time)), int(event.sum()), curves,
                    {k: v["median"] for k, v in curves.items()}, float(chi2), float(p),
                    hr, hr_ci, hra, hra_ci, dropped or {}, notes, label)
