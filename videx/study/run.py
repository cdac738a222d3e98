"""Run the whole video-impact study from a spec and collect one frozen result.

Every statsmodels warning raised on the way is caught and becomes a note in the result (the
console and the report show them); no estimate that failed is shown as a number.
"""

from __future__ import annotations

import functools
import math
import platform
import warnings
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

import numpy as np

from videx import __version__
from videx.errors import VidexError
from videx.study.data import Covariate, StudyData, by_column, load
from videx.study.spec import StudySpec

if TYPE_CHECKING:   # the statistics modules load when the table has been read (fast errors)
    from videx.study import crude as crude_mod
    from videx.study import models, sensitivity
    from videx.study import survival as survival_mod

ASSOCIATION_NOTE = (
    "These figures describe an association, not proof that video causes clearance. Video found "
    "during an investigation can reflect investigative effort (cases worked harder yield both "
    "more video and more arrests), and video logged after an arrest makes the comparison look "
    "better than it is. Adjustment removes only the differences that were measured.")
DROP_WARNING_SHARE = 0.20


@dataclass(frozen=True)
class StudyResult:
    """Every estimate of one study run, with the data account and provenance."""

    spec: StudySpec
    data: StudyData
    crude: crude_mod.CrudeResult
    crude_complete: crude_mod.CrudeResult | None
    crude_cluster: dict | None
    adjusted: models.Adjusted | None
    ipw: models.IPW | None
    mantel_haenszel: models.MantelHaenszel | None
    survival: survival_mod.Survival | None
    evalues: dict[str, sensitivity.EValue]
    subgroups: list[dict]
    heterogeneity: list[dict]
    bootstrap: dict | None
    late_exposure: dict | None
    versions: dict
    refused: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return self.data.n

    @property
    def covariates(self) -> list[Covariate]:
        return self.data.covariates

    @property
    def level(self) -> int:
        return self.spec.confidence

    def crude_variance(self) -> str:
        return (self.crude_cluster["rr"].variance if self.crude_cluster
                and "rr" in self.crude_cluster else self.crude.rr_method or "")

    def estimates(self) -> list[dict]:
        """Every risk-ratio-scale estimate with its variance type, for the forest plot and
        tables; ``group`` is ``overall`` or ``subgroup``."""
        rows = []

        def add(label, est, ci, variance, group="overall", ci_z=None):
            if est is not None and ci is not None:
                rows.append({"label": label, "estimate": est, "ci": ci, "variance": variance,
                             "group": group, "ci_z": ci_z})
        c = self.crude
        add("Crude RR", c.rr, c.rr_ci, c.rr_method or "")
        if self.crude_cluster and "rr" in self.crude_cluster:
            k = self.crude_cluster["rr"]
            add("Crude RR, cluster-robust", k.estimate, k.ci, k.variance,
                ci_z=k.ci_z if k.disagree else None)
        if self.crude_complete:
            k = self.crude_complete
            add(f"Crude RR on the {k.n} complete cases", k.rr, k.rr_ci, k.rr_method or "")
        if self.adjusted:
            a = self.adjusted
            add("Adjusted RR (modified Poisson)", a.rr, a.rr_ci, a.covariance, ci_z=a.rr_ci_z)
            lb = a.log_binomial or {}
            if lb.get("reported"):
                add("Adjusted RR (log-binomial)", lb["rr"], lb["rr_ci"], a.covariance)
        if self.mantel_haenszel and self.mantel_haenszel.rr:
            m = self.mantel_haenszel
            add(f"Mantel-Haenszel RR by {' x '.join(m.strata_by)}", m.rr, m.rr_ci, m.variance)
        if self.ipw:
            add("IPW RR", self.ipw.rr, self.ipw.rr_ci, self.ipw.covariance)
        if self.bootstrap and self.bootstrap.get("ci"):
            add("Crude RR, bootstrap percentile interval", c.rr, self.bootstrap["ci"],
                f"bootstrap over {self.bootstrap['resampled']} ({self.bootstrap['n']} "
                "resamples)")
        if self.late_exposure and self.late_exposure.get("rr"):
            add("Crude RR, video after clearance counted as none", self.late_exposure["rr"],
                self.late_exposure["rr_ci"], "Katz log interval")
        for s in self.subgroups:
            add(f"{s['by']} = {s['level']}", s["rr"], s["rr_ci"], s.get("variance", ""),
                group="subgroup")
        return rows

    def headline(self) -> str:
        from videx.study.crude import change_words
        c, label, level = self.crude, self.spec.exposure_label, self.level
        if c.rr is None:
            return f"No risk ratio: {c.rr_refused or 'not enough cases'}."
        interval, how = c.rr_ci, ""
        if self.crude_cluster and "rr" in self.crude_cluster:
            interval = self.crude_cluster["rr"].ci
            how = f", {self.crude_cluster['rr'].variance}"
        text = (f"Cases with {label} were cleared {c.exposed.rate * 100:.1f}% of the time "
                f"({c.exposed.cleared}/{c.exposed.n}) against {c.unexposed.rate * 100:.1f}% "
                f"without ({c.unexposed.cleared}/{c.unexposed.n}): a risk ratio of {c.rr:.2f} "
                f"({level}% CI {interval[0]:.2f} to {interval[1]:.2f}{how}), i.e. "
                f"{change_words(c.rr)}.")
        if self.crude_complete and self.crude_complete.rr is not None:
            k = self.crude_complete
            text += (f" On the {k.n} of {c.n} cases with every covariate known, the crude "
                     f"ratio is {k.rr:.2f}.")
        if self.adjusted:
            a = self.adjusted
            text += (f" Adjusted for {', '.join(self.spec.covariates) or 'nothing'}, the risk "
                     f"ratio is {a.rr:.2f} ({a.rr_ci[0]:.2f} to {a.rr_ci[1]:.2f}).")
        elif "adjusted" in self.refused:
            text += f" No adjusted estimate: {self.refused['adjusted']}."
        for side in ("outcome", "exposure"):
            dropped = self.data.dropped.get(
                f"blank {side} ({getattr(self.spec, side + '_matcher')().column})", 0)
            if dropped > DROP_WARNING_SHARE * self.data.n_input:
                text += (f" Note: {dropped} of {self.data.n_input} rows "
                         f"({dropped / self.data.n_input:.0%}) were left out for a blank "
                         f"{side}; if a blank means no, rerun with --missing-{side} no.")
        return text

    def value_map_lines(self) -> list[str]:
        """How each value of the outcome and exposure columns was read, when any value read
        as "no" looks like a yes or is not an explicit no."""
        lines = []
        for side, odd in self.data.suspicious.items():
            col = getattr(self.spec, f"{side}_matcher")().column
            lines.append(f"{side} column {col}: how each value was read (check the values "
                         "marked ?):")
            for value, m in self.data.value_maps[side].items():
                mark = "?" if value in odd else " "
                lines.append(f"  {mark} {value!r:30} -> {'yes' if m['yes'] else 'no':3}  "
                             f"({m['rows']} rows)")
            lines.append(f"  list the no values with --{side}-no to make any other value an "
                         "error")
        return lines

    def summary(self) -> str:
        lines = [self.headline(), "",
                 f"{self.n} cases analysed of {self.data.n_input} rows "
                 f"({self.data.n_input - self.n} dropped)"]
        for reason, count in self.data.dropped.items():
            lines.append(f"  dropped {count}: {reason}")
        for side, count in self.data.blank_as_no.items():
            if count:
                lines.append(f"  {count} blank {side} cell(s) read as no")
        for reason, count in self.data.incomplete.items():
            lines.append(f"  left out of adjusted estimates {count}: {reason}")
        lines += self.value_map_lines()
        lines += ["", self.crude.summary(self.spec.exposure_label)]
        if self.crude_cluster:
            for key, k in self.crude_cluster.items():
                lines.append(f"crude {key.upper()} {k.estimate:.3g}: {self.level}% CI "
                             f"{k.ci[0]:.3g} to {k.ci[1]:.3g}, {k.variance}" + (
                                 f" (z interval {k.ci_z[0]:.3g} to {k.ci_z[1]:.3g} "
                                 "disagrees about no effect)" if k.disagree else ""))
        for part in (self.adjusted, self.mantel_haenszel, self.ipw, self.survival):
            if part is not None:
                lines.append(part.summary(self.level) if hasattr(part, "strata_by")
                             or hasattr(part, "balance") or hasattr(part, "rr_p")
                             else part.summary())
        for what, why in self.refused.items():
            lines.append(f"{what}: not estimated: {why}")
        for ev in self.evalues.values():
            lines.append(ev.summary())
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        doc = {
            "title": self.spec.title,
            "confidence_level": self.level,
            "n": self.n,
            "n_input": self.data.n_input,
            "n_complete": self.data.n_complete,
            "dropped": self.data.dropped,
            "dropped_examples": self.data.dropped_examples,
            "incomplete": self.data.incomplete,
            "blank_as_no": self.data.blank_as_no,
            "value_maps": self.data.value_maps,
            "suspicious_values": self.data.suspicious,
            "covariates": [c.to_dict() for c in self.data.covariates],
            "crude": self.crude.to_dict(),
            "crude_complete": self.crude_complete.to_dict() if self.crude_complete else None,
            "crude_cluster": ({k: v.to_dict() for k, v in self.crude_cluster.items()}
                              if self.crude_cluster else None),
            "adjusted": self.adjusted.to_dict() if self.adjusted else None,
            "ipw": self.ipw.to_dict() if self.ipw else None,
            "mantel_haenszel": self.mantel_haenszel.to_dict() if self.mantel_haenszel else None,
            "survival": self.survival.to_dict() if self.survival else None,
            "evalue": {k: v.to_dict() for k, v in self.evalues.items()},
            "subgroups": self.subgroups,
            "heterogeneity": self.heterogeneity,
            "bootstrap": self.bootstrap,
            "late_exposure": self.late_exposure,
            "estimates": self.estimates(),
            "refused": self.refused,
            "headline": self.headline(),
            "association_note": ASSOCIATION_NOTE,
            "notes": list(self.notes),
            "spec": self.spec.to_dict(),
            "input_sha256": self.data.input_sha256,
            "versions": self.versions,
        }
        return strict_json(doc)


def strict_json(doc):
    """``doc`` with every NaN or infinity replaced by None (JSON has neither), and a note
    naming where that happened."""
    where: list[str] = []

    def clean(value, path):
        if isinstance(value, float) and not math.isfinite(value):
            where.append(path)
            return None
        if isinstance(value, (np.floating,)):
            return clean(float(value), path)
        if isinstance(value, (np.integer,)):
            return int(value)
        if isinstance(value, dict):
            return {k: clean(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v, f"{path}[{i}]") for i, v in enumerate(value)]
        return value
    out = clean(doc, "")
    if where:
        out["notes"] = out.get("notes", []) + [
            f"not a number (written as null): {', '.join(where[:8])}"
            + (f" and {len(where) - 8} more" if len(where) > 8 else "")]
    return out


@functools.lru_cache(maxsize=1)
def _package_versions() -> tuple:
    def v(name):
        try:
            return version(name)
        except PackageNotFoundError:
            return None
    return tuple((name, v(name)) for name in ("statsmodels", "pandas", "numpy", "scipy",
                                              "matplotlib"))


def versions() -> dict:
    """The versions that produced a result (package metadata is read once per process)."""
    return {"videx": __version__, "python": platform.python_version(),
            **dict(_package_versions())}


def _attempt(refused: dict, what: str, fn):
    from videx.study import models
    try:
        return fn()
    except models.Refused as err:
        refused[what] = str(err)
    except (ValueError, np.linalg.LinAlgError, ZeroDivisionError) as err:
        refused[what] = f"the fit failed ({str(err).splitlines()[0]})"
    return None


def run_study(spec: StudySpec, data: StudyData | None = None) -> StudyResult:
    """Load the case table (unless ``data`` is given) and compute every estimate."""
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        result = _run(spec, data)
    extra = []
    for w in caught:
        text = f"{w.category.__name__}: {str(w.message).splitlines()[0]}"
        if text not in extra:
            extra.append(text)
    if extra:
        from dataclasses import replace
        result = replace(result, notes=result.notes + [f"warning from the fits: {t}"
                                                       for t in extra[:10]])
    return result


def _run(spec: StudySpec, data: StudyData | None) -> StudyResult:
    data = data or load(spec)
    from videx.study import crude as crude_mod
    from videx.study import models, sensitivity
    from videx.study import survival as survival_mod
    frame, alpha = data.frame, spec.alpha
    notes = list(data.notes)
    refused: dict[str, str] = {}
    if data.n == 0:
        raise VidexError(f"no case left to analyse: {data.n_input} rows, all dropped "
                         f"({'; '.join(f'{v} {k}' for k, v in data.dropped.items())})")
    crude = crude_mod.from_frame(frame, alpha)
    complete = data.complete_frame()
    crude_complete = (crude_mod.from_frame(complete, alpha) if len(complete) < data.n
                      else None)
    cluster_all = frame["cluster"].rename(spec.cluster) if spec.cluster else None
    crude_cluster = None
    if spec.cluster and crude.exposed.n and crude.unexposed.n:
        crude_cluster = _attempt(refused, "crude cluster-robust interval",
                                 lambda: crude_mod.clustered(frame, alpha, spec.cluster))
    X = data.design()
    y, x = complete["y"], complete["x"]
    cluster = complete["cluster"].rename(spec.cluster) if spec.cluster else None
    adjusted = ipw = mh = surv = None
    if crude.rr is None:
        refused["adjusted"] = crude.rr_refused or "no risk ratio"
    else:
        adjusted = _attempt(refused, "adjusted", lambda: models.adjusted(y, x, X, cluster,
                                                                          alpha))
        if adjusted:
            notes += adjusted.warnings
            if adjusted.or_refused:
                notes.append(f"adjusted odds ratio not estimated: {adjusted.or_refused}")
        if X.shape[1]:
            ipw = _attempt(refused, "IPW", lambda: models.ipw(
                y, x, X, spec.propensity_link, alpha, cluster, spec.trim))
            if ipw:
                notes += ipw.warnings
    if spec.stratify:
        mh = models.mantel_haenszel(complete if spec.covariates else frame, list(spec.stratify),
                                    alpha)
    if "time_days" in frame:
        ok = frame["event"] >= 0
        sub = frame[ok]
        covs = None
        if X.shape[1]:     # incomplete rows stay in the crude curves, not the adjusted Cox
            covs = data.design(complete_only=False).loc[ok]
            covs.loc[~sub["complete"]] = np.nan
        surv = survival_mod.survival(
            sub["time_days"], sub["event"], sub["x"], covs, data.survival_dropped, alpha,
            sub["cluster"].rename(spec.cluster) if spec.cluster else None)
        notes += surv.notes
    evalues = {}
    if crude.rr and crude.rr_ci and crude.rr > 0:
        evalues["crude"] = sensitivity.evalue("crude", crude.rr, crude.rr_ci)
    if adjusted:
        evalues["adjusted"] = sensitivity.evalue("adjusted", adjusted.rr, adjusted.rr_ci)
    subgroups, heterogeneity = [], []
    for by in spec.subgroups:
        column = by_column(by)
        for level, g in frame[frame[column] != ""].groupby(column, sort=True):
            c = crude_mod.from_frame(g, alpha)
            subgroups.append({"by": by, "level": level, "n": int(len(g)),
                              "exposed_rate": c.exposed.rate, "unexposed_rate": c.unexposed.rate,
                              "rr": c.rr, "rr_ci": c.rr_ci, "pct_increase": c.pct_increase,
                              "variance": c.rr_method, "refused": c.rr_refused})
        test = models.interaction_test(frame[frame[column] != ""], column,
                                       cluster_all[frame[column] != ""]
                                       if cluster_all is not None else None)
        heterogeneity.append({**test, "by": by})
    if len(spec.subgroups) > 1:
        notes.append(f"{len(spec.subgroups)} subgroup variables were tested for heterogeneity: "
                     f"with a Bonferroni correction, treat only p < {alpha / len(spec.subgroups):.3g}"
                     " as evidence that the effect differs")
    boot = None
    if spec.bootstrap:
        boot = sensitivity.bootstrap(frame, lambda f: crude_mod.from_frame(f, alpha).rr,
                                     spec.bootstrap, spec.seed, alpha,
                                     "cluster" if spec.cluster else None)
        boot["statistic"] = "crude risk ratio"
    late = None
    if data.late_exposure is not None:
        moved = frame.assign(x=np.where(frame["exposure_after_clearance"] == 1, 0, frame["x"]))
        c = crude_mod.from_frame(moved, alpha)
        late = {"cases": data.late_exposure, "rr": c.rr, "rr_ci": c.rr_ci,
                "meaning": "exposed cases whose video was obtained after clearance, "
                           "re-counted as without video"}
    return StudyResult(spec, data, crude, crude_complete, crude_cluster, adjusted, ipw, mh,
                       surv, evalues, subgroups, heterogeneity, boot, late, versions(), refused,
                       notes)
