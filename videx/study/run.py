"""Run the whole video-impact study from a spec and collect one frozen result."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field

import numpy as np

from videx import __version__
from videx.study import crude as crude_mod
from videx.study import models, sensitivity
from videx.study import survival as survival_mod
from videx.study.data import Covariate, StudyData, by_column, load
from videx.study.spec import StudySpec

ASSOCIATION_NOTE = (
    "These figures describe an association, not proof that video causes clearance. Video found "
    "during an investigation can reflect investigative effort (cases worked harder yield both "
    "more video and more arrests), and video logged after an arrest makes the comparison look "
    "better than it is. Adjustment removes only the differences that were measured.")


@dataclass(frozen=True)
class StudyResult:
    """Every estimate of one study run, with the data account and provenance."""

    spec: StudySpec
    data: StudyData
    crude: crude_mod.CrudeResult
    adjusted: models.Adjusted | None
    ipw: models.IPW | None
    mantel_haenszel: models.MantelHaenszel | None
    survival: survival_mod.Survival | None
    evalues: dict[str, sensitivity.EValue]
    subgroups: list[dict]
    bootstrap: dict | None
    late_exposure: dict | None
    versions: dict
    notes: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return self.data.n

    @property
    def covariates(self) -> list[Covariate]:
        return self.data.covariates

    def estimates(self) -> list[dict]:
        """Every risk-ratio-scale estimate, for the forest plot and tables."""
        rows = []

        def add(label, est, ci, group="overall"):
            if est is not None and ci is not None:
                rows.append({"label": label, "estimate": est, "ci": ci, "group": group})
        add("Crude RR (Katz interval)", self.crude.rr, self.crude.rr_ci)
        if self.adjusted:
            add("Adjusted RR (modified Poisson)", self.adjusted.rr, self.adjusted.rr_ci)
            lb = self.adjusted.log_binomial or {}
            if lb.get("reported"):
                add("Adjusted RR (log-binomial)", lb["rr"], lb["rr_ci"])
        if self.mantel_haenszel and self.mantel_haenszel.rr:
            add(f"Mantel-Haenszel RR by {' x '.join(self.mantel_haenszel.strata_by)}",
                self.mantel_haenszel.rr, self.mantel_haenszel.rr_ci)
        if self.ipw:
            add("IPW RR", self.ipw.rr, self.ipw.rr_ci)
        if self.bootstrap and self.bootstrap.get("ci"):
            add("Crude RR, bootstrap percentile interval", self.crude.rr, self.bootstrap["ci"])
        if self.late_exposure and self.late_exposure.get("rr"):
            add("Crude RR, video after clearance counted as none", self.late_exposure["rr"],
                self.late_exposure["rr_ci"])
        for s in self.subgroups:
            add(f"{s['by']} = {s['level']}", s["rr"], s["rr_ci"], group="subgroup")
        return rows

    def headline(self) -> str:
        c = self.crude
        if c.rr is None:
            return "No risk ratio: one group has no cleared case."
        text = (f"Cases with relevant video were cleared {c.exposed.rate * 100:.1f}% of the "
                f"time ({c.exposed.cleared}/{c.exposed.n}) against "
                f"{c.unexposed.rate * 100:.1f}% without ({c.unexposed.cleared}/{c.unexposed.n}): "
                f"a risk ratio of {c.rr:.2f} (95% CI {c.rr_ci[0]:.2f} to {c.rr_ci[1]:.2f}), "
                f"i.e. {c.pct_increase:.0f}% higher clearance.")
        if self.adjusted:
            a = self.adjusted
            text += (f" Adjusted for {', '.join(self.spec.covariates) or 'nothing'}, the risk "
                     f"ratio is {a.rr:.2f} ({a.rr_ci[0]:.2f} to {a.rr_ci[1]:.2f}).")
        return text

    def summary(self) -> str:
        lines = [self.headline(), "",
                 f"{self.n} cases analysed of {self.data.n_input} rows "
                 f"({self.data.n_input - self.n} dropped)"]
        for reason, count in self.data.dropped.items():
            lines.append(f"  dropped {count}: {reason}")
        lines += ["", self.crude.summary()]
        for part in (self.adjusted, self.mantel_haenszel, self.ipw, self.survival):
            if part is not None:
                lines.append(part.summary())
        for ev in self.evalues.values():
            lines.append(ev.summary())
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "title": self.spec.title,
            "n": self.n,
            "n_input": self.data.n_input,
            "dropped": self.data.dropped,
            "dropped_examples": self.data.dropped_examples,
            "value_maps": self.data.value_maps,
            "covariates": [c.to_dict() for c in self.data.covariates],
            "crude": self.crude.to_dict(),
            "adjusted": self.adjusted.to_dict() if self.adjusted else None,
            "ipw": self.ipw.to_dict() if self.ipw else None,
            "mantel_haenszel": self.mantel_haenszel.to_dict() if self.mantel_haenszel else None,
            "survival": self.survival.to_dict() if self.survival else None,
            "evalue": {k: v.to_dict() for k, v in self.evalues.items()},
            "subgroups": self.subgroups,
            "bootstrap": self.bootstrap,
            "late_exposure": self.late_exposure,
            "estimates": self.estimates(),
            "headline": self.headline(),
            "association_note": ASSOCIATION_NOTE,
            "notes": self.notes,
            "spec": self.spec.to_dict(),
            "input_sha256": self.data.input_sha256,
            "versions": self.versions,
        }


def versions() -> dict:
    import matplotlib
    import pandas
    import scipy
    import statsmodels
    return {"videx": __version__, "python": platform.python_version(),
            "statsmodels": statsmodels.__version__, "pandas": pandas.__version__,
            "numpy": np.__version__, "scipy": scipy.__version__,
            "matplotlib": matplotlib.__version__}


def separation(c: crude_mod.CrudeResult) -> str | None:
    """Why ratio models cannot be fitted (a group with no case, or none / all cleared)."""
    for label, g in (("with video", c.exposed), ("without video", c.unexposed)):
        if g.n == 0:
            return f"no case {label}"
        if g.cleared == 0:
            return f"no cleared case {label}"
        if g.cleared == g.n:
            return f"every case {label} was cleared"
    return None


def run_study(spec: StudySpec, data: StudyData | None = None) -> StudyResult:
    """Load the case table (unless ``data`` is given) and compute every estimate."""
    data = data or load(spec)
    frame, alpha, notes = data.frame, spec.alpha, []
    if data.n == 0:
        from videx.errors import VidexError
        raise VidexError(f"no case left to analyse: {data.n_input} rows, all dropped "
                         f"({'; '.join(f'{v} {k}' for k, v in data.dropped.items())})")
    crude = crude_mod.from_frame(frame, alpha)
    X = data.design()
    cluster = frame["cluster"].rename(spec.cluster) if spec.cluster else None
    adjusted = ipw = mh = surv = None
    empty = separation(crude)
    if empty:
        notes.append(f"adjusted, weighted and E-value estimates not made: {empty}")
    else:
        try:
            adjusted = models.adjusted(frame["y"], frame["x"], X, cluster, alpha)
            notes += adjusted.warnings
        except Exception as err:  # noqa: BLE001 - report, keep the other estimates
            notes.append(f"adjusted model not estimated: {str(err).splitlines()[0]}")
    if X.shape[1] and not empty:
        try:
            ipw = models.ipw(frame["y"], frame["x"], X, spec.propensity_link, alpha)
            notes += ipw.warnings
        except Exception as err:  # noqa: BLE001
            notes.append(f"IPW not estimated: {str(err).splitlines()[0]}")
    if spec.stratify:
        mh = models.mantel_haenszel(frame, list(spec.stratify), alpha)
    if "time_days" in frame:
        ok = frame["event"] >= 0
        surv = survival_mod.survival(frame.loc[ok, "time_days"], frame.loc[ok, "event"],
                                     frame.loc[ok, "x"], X.loc[ok] if X.shape[1] else None,
                                     data.survival_dropped, alpha)
        notes += surv.notes
    evalues = {}
    if crude.rr and crude.rr_ci:
        evalues["crude"] = sensitivity.evalue("crude", crude.rr, crude.rr_ci)
    if adjusted:
        evalues["adjusted"] = sensitivity.evalue("adjusted", adjusted.rr, adjusted.rr_ci)
    subgroups = []
    for by in spec.subgroups:
        for level, g in frame.groupby(by_column(by), sort=True):
            c = crude_mod.from_frame(g, alpha)
            subgroups.append({"by": by, "level": level, "n": int(len(g)),
                              "exposed_rate": c.exposed.rate, "unexposed_rate": c.unexposed.rate,
                              "rr": c.rr, "rr_ci": c.rr_ci, "pct_increase": c.pct_increase})
    boot = None
    if spec.bootstrap:
        boot = sensitivity.bootstrap(frame, lambda f: crude_mod.from_frame(f, alpha).rr,
                                     spec.bootstrap, spec.seed, alpha)
        boot["statistic"] = "crude risk ratio"
    late = None
    if data.late_exposure is not None:
        moved = frame.assign(x=np.where(frame["exposure_after_clearance"] == 1, 0, frame["x"]))
        c = crude_mod.from_frame(moved, alpha)
        late = {"cases": data.late_exposure, "rr": c.rr, "rr_ci": c.rr_ci,
                "meaning": "exposed cases whose video was obtained after clearance, "
                           "re-counted as without video"}
    return StudyResult(spec, data, crude, adjusted, ipw, mh, surv, evalues, subgroups, boot,
                       late, versions(), notes)
