"""Time to the outcome: Kaplan-Meier curves by exposure, log-rank test, Cox model (Efron ties).

The event is the outcome (clearance by default); open cases are censored at the censor date.
Curves show the share of cases still without the outcome by days since the incident. With
clusters, the Cox hazard ratios get cluster-robust (Lin-Wei) standard errors with the
small-sample factor G/(G - 1), as Stata's ``stcox, vce(cluster)``, and t(G - 1) critical values
below 30 clusters (``videx.study.inference``). Kaplan-Meier and the log-rank test treat cases
as independent. The Cox fit is ``videx.study.cox`` (numpy, Efron ties; checked against R's
``coxph``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from videx.study import cox
from videx.study.inference import (
    Reference,
    Refused,
    cluster_label,
    format_p,
    interval,
    require_clusters,
    unclustered,
)
from videx.study.spec import Words


@dataclass(frozen=True)
class Survival:
    """Kaplan-Meier by group, log-rank test and Cox hazard ratio of the outcome; a test or
    ratio that cannot be made is None with its reason in ``refused``."""

    n: int
    events: int
    curves: dict
    median_days: dict
    logrank_chi2: float | None
    logrank_p: float | None
    hr: float | None
    hr_ci: tuple[float, float] | None
    hr_adjusted: float | None
    hr_adjusted_ci: tuple[float, float] | None
    dropped: dict
    notes: list[str] = field(default_factory=list)
    covariance: str = "model-based"
    refused: dict = field(default_factory=dict)
    logrank: str = "log-rank test"
    words: Words = field(default_factory=Words)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("words")
        return d

    def summary(self, level: int = 95) -> str:
        text = f"{self.words.time_to}: "
        if self.logrank_p is not None:
            text += (f"log-rank chi2 {self.logrank_chi2:.2f}, {format_p(self.logrank_p)}"
                     + (f" ({self.logrank.split('; ', 1)[1]})" if "; " in self.logrank
                        else ""))
        else:
            text += f"log-rank test not estimable: {self.refused.get('log-rank')}"
        if self.hr is not None:
            text += (f"; Cox HR {self.hr:.2f} ({level}% CI {self.hr_ci[0]:.2f} to "
                     f"{self.hr_ci[1]:.2f}, {self.covariance})")
        elif "Cox" in self.refused:
            text += f"; Cox HR: not estimable: {self.refused['Cox']}"
        if self.hr_adjusted is not None:
            text += (f", adjusted {self.hr_adjusted:.2f} ({level}% CI "
                     f"{self.hr_adjusted_ci[0]:.2f} to {self.hr_adjusted_ci[1]:.2f})")
        elif "Cox, adjusted" in self.refused:
            text += f"; adjusted Cox HR: not estimable: {self.refused['Cox, adjusted']}"
        return text


def km_curve(time: np.ndarray, event: np.ndarray) -> dict:
    """Kaplan-Meier survival (share without the outcome) at each event time, with SE and risk
    set."""
    sf = SurvfuncRight(time, event)
    median = sf.quantile(0.5)
    return {"times": sf.surv_times.tolist(), "surv_prob": sf.surv_prob.tolist(),
            "surv_prob_se": [None if not np.isfinite(v) else float(v) for v in sf.surv_prob_se],
            "n_risk": sf.n_risk.tolist(), "n_events": sf.n_events.tolist(),
            "median": None if not np.isfinite(median) else float(median)}


def _cox(time, event, exog: pd.DataFrame, alpha: float, groups, words: Words, what: str):
    """(HR of the exposure, its interval); Refused with the reason."""
    ev_exp = float(event[exog["video"].to_numpy() == 1].sum())
    ev_un = float(event[exog["video"].to_numpy() == 0].sum())
    if not ev_exp or not ev_un:
        side = words.with_() if not ev_exp else words.without()
        raise Refused(f"no case {side} was {words.outcome} during the follow-up: the hazard "
                      f"ratio is {'0' if not ev_exp else 'unbounded'} and has no interval")
    try:
        res = cox.fit(time, event, exog.to_numpy(dtype=float), groups=groups)
    except np.linalg.LinAlgError:
        raise Refused(f"the {what} cannot be estimated (its information matrix is singular: "
                      "a covariate is constant or duplicates another)") from None
    i = list(exog.columns).index("video")
    b, se = float(res.params[i]), float(res.bse[i])
    model_se = math.sqrt(max(float(res.cov_model[i, i]), 0.0))
    if not res.converged:
        raise Refused(f"the {what} did not converge in {res.iterations} iterations")
    if not math.isfinite(b) or abs(b) > 15:
        raise Refused(f"the {what} did not converge to a finite estimate: a covariate "
                      f"perfectly orders the times to {words.outcome_noun} (separation)")
    g = None if groups is None else int(np.max(groups) + 1)
    crit = Reference(g).crit(alpha)
    return math.exp(b), interval(b, se, crit, True, f"the {what}'s log hazard ratio",
                                 model_se)


def survival(time: np.ndarray, event: np.ndarray, group: np.ndarray,
             covariates: pd.DataFrame | None = None, dropped: dict | None = None,
             alpha: float = 0.05, cluster: pd.Series | None = None,
             words: Words | None = None) -> Survival:
    """KM by ``group`` (1 = exposed), log-rank, and Cox HR (crude and, with covariates,
    adjusted).

    ``time`` in days, ``event`` 1 = the outcome, 0 = censored.
    """
    words = words or Words()
    time, event, group = (np.asarray(a, dtype=float) for a in (time, event, group))
    curves = {label: km_curve(time[group == g], event[group == g])
              for g, label in ((1, "exposed"), (0, "unexposed")) if (group == g).any()}
    refused: dict[str, str] = {}
    chi2 = p = None
    name = None if cluster is None else str(cluster.name)
    logrank = unclustered("log-rank test", name)
    if len(curves) < 2:
        why = (f"every case {'has' if 'exposed' in curves else 'lacks'} {words.exposure}: "
               "nothing to compare")
        refused["log-rank"] = refused["Cox"] = why
    elif len(np.unique(time[event == 1])) < 2:
        why = (f"no case was {words.outcome} during the follow-up: nothing to compare"
               if not event.sum() else
               f"every case {words.outcome} during the follow-up has the same time to "
               f"{words.outcome_noun} ({time[event == 1][0]:g} days): there is no order of "
               "events to compare")
        refused["log-rank"] = refused["Cox"] = why
    else:
        try:
            chi2, p = (float(v) for v in survdiff(time, event, group))
            if not (math.isfinite(chi2) and math.isfinite(p)):
                raise np.linalg.LinAlgError
        except (np.linalg.LinAlgError, ValueError, ZeroDivisionError):
            chi2 = p = None
            refused["log-rank"] = ("its variance is zero (every case had the outcome on the "
                                   "same day, or none at all): nothing to test")
    notes = []
    hr = hr_ci = hra = hra_ci = None
    groups = None if cluster is None else pd.factorize(cluster)[0]
    label = "model-based"
    if groups is not None:
        g = int(groups.max() + 1) if len(groups) else 0
        try:
            require_clusters(g, name)
            label = cluster_label(name, g)
        except Refused as err:
            refused.setdefault("Cox", str(err))
            label = f"cluster-robust by {name}: not estimable with {g} cluster"
    if "Cox" not in refused:
        try:
            hr, hr_ci = _cox(time, event, pd.DataFrame({"video": group}), alpha, groups,
                             words, "Cox model")
        except Refused as err:
            refused["Cox"] = str(err)
        if covariates is not None and covariates.shape[1]:
            keep = covariates.notna().all(axis=1).to_numpy()
            exog = pd.concat([pd.Series(group, name="video", index=covariates.index),
                              covariates], axis=1)[keep]
            sub = None if groups is None else pd.factorize(groups[keep])[0]
            try:
                if sub is not None:
                    require_clusters(int(sub.max() + 1) if len(sub) else 0, name)
                hra, hra_ci = _cox(time[keep], event[keep], exog, alpha, sub, words,
                                   "adjusted Cox model")
            except Refused as err:
                refused["Cox, adjusted"] = str(err)
    return Survival(int(len(time)), int(event.sum()), curves,
                    {k: v["median"] for k, v in curves.items()}, chi2, p,
                    hr, hr_ci, hra, hra_ci, dropped or {}, notes, label, refused, logrank,
                    words)
