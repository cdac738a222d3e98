"""Run the whole video-impact study from a spec and collect one frozen result.

Every statsmodels warning raised on the way is caught and becomes a note in the result (the
console and the report show them); no estimate that failed is shown as a number: it is in
``refused`` with the reason. Intervals follow ``videx.study.inference``; the sentences use the
spec's labels (``Words``).
"""

from __future__ import annotations

import functools
import math
import platform
import warnings
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from videx import __version__
from videx.errors import VidexError
from videx.study.data import Covariate, StudyData, by_column, load
from videx.study.inference import Reference
from videx.study.spec import StudySpec, Words

if TYPE_CHECKING:   # the statistics modules load when the table has been read (fast errors)
    from videx.study import crude as crude_mod
    from videx.study import models, sensitivity
    from videx.study import survival as survival_mod


def association_note(words: Words) -> str:
    """What the figures are, and are not, in the study's own words."""
    w = words
    example = ("for example, video found during an investigation can reflect investigative "
               "effort (cases worked harder yield both more video and more arrests), and video "
               "logged after an arrest makes the comparison look better than it is. "
               if w.clearance else "")
    return (f"These figures describe an association, not proof that {w.exposure} causes "
            f"{w.outcome_noun}. Cases {w.with_()} can differ from cases {w.without()} in ways "
            f"that also change how often they are {w.outcome}" + (": " if example else ". ")
            + example + "Adjustment removes only the differences that were measured.")


ASSOCIATION_NOTE = association_note(Words())
DROP_WARNING_SHARE = 0.20


@dataclass(frozen=True)
class StudyResult:
    """Every estimate of one study run, with the data account and provenance. ``refused``
    maps each estimate that was not made to the reason; ``clusters`` is the number of
    clusters (None without ``--cluster``)."""

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
    clusters: int | None = None

    @property
    def n(self) -> int:
        return self.data.n

    @property
    def covariates(self) -> list[Covariate]:
        return self.data.covariates

    @property
    def level(self) -> int:
        return self.spec.confidence

    @property
    def words(self):
        return self.spec.words()

    def crude_variance(self) -> str:
        return self.headline_interval()[1] if self.headline_interval() else ""

    def headline_interval(self) -> tuple[tuple[float, float], str, bool | None] | None:
        """(interval, its variance label, whether it accounts for clusters) of the headline
        risk ratio (``headline_interval``)."""
        return headline_interval(self.crude, self.crude_cluster, self.spec.cluster)

    def estimates(self) -> list[dict]:
        """Every risk-ratio-scale estimate with its interval's level, variance type and
        whether it accounts for clusters (None when the study has none), for the forest plot
        and tables; ``group`` is ``overall`` or ``subgroup``."""
        from videx.study.inference import unclustered
        rows = []
        cl = self.spec.cluster
        plain = False if cl else None

        def add(label, est, ci, variance, clustered, group="overall", ci_z=None, flags=()):
            if est is not None and ci is not None:
                rows.append({"label": label, "estimate": est, "ci": ci, "ci_level": self.level,
                             "variance": variance, "clustered": clustered, "group": group,
                             "ci_z": ci_z, "flags": list(flags)})
        c = self.crude
        add("Crude RR", c.rr, c.rr_ci, unclustered(c.rr_method or "", cl), plain,
            flags=c.flags)
        if self.crude_cluster and "rr" in self.crude_cluster:
            k = self.crude_cluster["rr"]
            add("Crude RR, cluster-robust", k.estimate, k.ci, k.variance, True,
                ci_z=k.ci_z if k.disagree else None, flags=c.flags)
        if self.crude_complete:
            k = self.crude_complete
            add(f"Crude RR on the {k.n} complete cases", k.rr, k.rr_ci,
                unclustered(k.rr_method or "", cl), plain, flags=k.flags)
        if self.adjusted:
            a = self.adjusted
            add("Adjusted RR (modified Poisson)" if a.covariates else
                "Unadjusted RR (modified Poisson)", a.rr, a.rr_ci, a.covariance,
                a.clustered or plain, ci_z=a.rr_ci_z)
            lb = a.log_binomial or {}
            if lb.get("reported"):
                add("Adjusted RR (log-binomial)", lb["rr"], lb["rr_ci"], a.covariance,
                    a.clustered or plain)
        if self.mantel_haenszel:
            m = self.mantel_haenszel
            add(f"Mantel-Haenszel RR by {' x '.join(m.strata_by)}", m.rr, m.rr_ci, m.variance,
                plain, flags=m.flags)
        if self.ipw:
            add("IPW RR", self.ipw.rr, self.ipw.rr_ci, self.ipw.covariance,
                self.ipw.clustered or plain)
        if self.bootstrap and self.bootstrap.get("ci"):
            b = self.bootstrap
            add("Crude RR, bootstrap percentile interval", c.rr, b["ci"],
                f"bootstrap over {b['resampled']} ({b['n']} resamples)",
                True if b["resampled"] == "clusters" else plain)
        late = self.late_exposure
        if late and late.get("rr") is not None:
            add(late["label"], late["rr"], late["rr_ci"], late["variance"], late["clustered"],
                flags=late["flags"])
        for s in self.subgroups:
            add(f"{s['by']} = {s['level']}", s["rr"], s["rr_ci"], s.get("variance", ""),
                s.get("clustered"), group="subgroup", flags=s.get("flags", ()))
        return rows

    def headline(self) -> str:
        c, w, level = self.crude, self.words, self.level
        if c.rr is None:
            return f"No risk ratio: {c.rr_refused or 'not enough cases'}."
        ci, how, _ = self.headline_interval()
        text = (f"Cases {w.with_()}: {c.exposed.rate * 100:.1f}% {w.outcome} "
                f"({c.exposed.cleared}/{c.exposed.n}), against {c.unexposed.rate * 100:.1f}% "
                f"without ({c.unexposed.cleared}/{c.unexposed.n}): a risk ratio of "
                f"{c.rr:.2f} ({level}% CI {ci[0]:.2f} to {ci[1]:.2f}, {how}), i.e. "
                f"{w.change(c.rr)}.")
        why = self.refused.get("crude RR, cluster-robust")
        if why:
            text += f" A cluster-robust interval is not estimable: {why}."
        for flag in c.flags:
            text += f" Caution: the risk ratio {flag}."
        if self.crude_complete and self.crude_complete.rr is not None:
            k = self.crude_complete
            text += (f" On the {k.n} of {c.n} cases with every covariate known, the crude "
                     f"ratio is {k.rr:.2f}.")
        if self.adjusted:
            a = self.adjusted
            lead = (f"Adjusted for {', '.join(self.spec.covariates)}" if self.spec.covariates
                    else "Unadjusted (modified Poisson, no covariate)")
            text += (f" {lead}, the risk ratio is {a.rr:.2f} ({level}% CI {a.rr_ci[0]:.2f} to "
                     f"{a.rr_ci[1]:.2f}, {a.covariance}).")
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
        lines += ["", self.crude.summary(cluster=self.spec.cluster)]
        if self.crude_cluster:
            for key, k in self.crude_cluster.items():
                lines.append(f"crude {key.upper()} {k.estimate:.3g}: {self.level}% CI "
                             f"{k.ci[0]:.3g} to {k.ci[1]:.3g}, {k.variance}" + (
                                 f" (z interval {k.ci_z[0]:.3g} to {k.ci_z[1]:.3g} "
                                 "disagrees about no effect)" if k.disagree else ""))
        for part in (self.adjusted, self.mantel_haenszel, self.ipw, self.survival):
            if part is not None:
                lines.append(part.summary(self.level))
        for what, why in self.refused.items():
            lines.append(f"{what}: not estimable: {why}")
        for ev in self.evalues.values():
            lines.append(ev.summary())
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_dict(self, relative_to: str | Path | None = None) -> dict:
        """Every figure as strict JSON. ``relative_to`` (the folder results.json is written
        to) makes the spec's case table path relative to it, as in the written study.toml,
        so a rerun from that spec writes the same document."""
        from videx.study.spec import written_dict
        doc = {
            "alpha": self.spec.alpha,
            "confidence_level": self.level,
            "title": self.spec.display_title,
            "labels": {"exposure": self.spec.exposure_label,
                       "outcome": self.spec.outcome_label},
            "clusters": ({"column": self.spec.cluster, "count": self.clusters,
                          "reference": (Reference(self.clusters).name
                                        if self.clusters and self.clusters >= 2 else None),
                          "small_sample_factor": "G/(G-1)"} if self.spec.cluster else None),
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
            "headline_interval": (dict(zip(("ci", "variance", "clustered"),
                                           self.headline_interval()))
                                  if self.headline_interval() else None),
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
            "association_note": association_note(self.words),
            "notes": list(self.notes),
            "spec": written_dict(self.spec, relative_to, self.data.input_sha256 or None),
            "input_sha256": self.data.input_sha256,
            "versions": self.versions,
        }
        plain = False if self.spec.cluster else None     # intervals that treat cases as
        for key in ("crude", "crude_complete", "mantel_haenszel"):   # independent
            if doc[key] is not None:
                doc[key]["clustered"] = plain
        if doc["survival"] is not None:
            doc["survival"]["clustered"] = (self.survival.covariance.startswith("cluster-robust")
                                            or plain)
            doc["survival"]["logrank_clustered"] = plain
        if doc["adjusted"] is not None:
            doc["adjusted"]["clustered"] = self.adjusted.clustered or plain
        if doc["ipw"] is not None:
            doc["ipw"]["clustered"] = self.ipw.clustered or plain
        return strict_json(doc)


def headline_interval(crude, crude_cluster: dict | None, cluster: str | None
                      ) -> tuple[tuple[float, float], str, bool | None] | None:
    """(interval, its variance label, whether it accounts for clusters: None without
    --cluster) of the headline risk ratio: cluster-robust when the study has clusters and it
    can be estimated, otherwise the crude interval, labelled; None without a ratio."""
    from videx.study.inference import unclustered
    if crude.rr is None or crude.rr_ci is None:
        return None
    if crude_cluster and "rr" in crude_cluster:
        k = crude_cluster["rr"]
        return k.ci, k.variance, True
    return crude.rr_ci, unclustered(crude.rr_method, cluster), False if cluster else None


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
    from videx.study.inference import few_clusters_note
    frame, alpha, words, level = data.frame, spec.alpha, spec.words(), spec.confidence
    notes = list(data.notes)
    refused: dict[str, str] = {}
    if data.n == 0:
        raise VidexError(f"no case left to analyse: {data.n_input} rows, all dropped "
                         f"({'; '.join(f'{v} {k}' for k, v in data.dropped.items())})")
    crude = crude_mod.from_frame(frame, alpha, words)
    complete = data.complete_frame()
    crude_complete = (crude_mod.from_frame(complete, alpha, words) if len(complete) < data.n
                      else None)
    cluster_all = frame["cluster"].rename(spec.cluster) if spec.cluster else None
    clusters = crude_cluster = None
    if spec.cluster:
        clusters = int(frame["cluster"].nunique())
        note = few_clusters_note(clusters, spec.cluster)
        if note:
            notes.append(note)
        crude_cluster, why = crude_mod.clustered(frame, alpha, spec.cluster, words)
        for key, reason in why.items():
            refused[f"crude {key.upper()}, cluster-robust"] = reason
    X = data.design()
    y, x = complete["y"], complete["x"]
    cluster = complete["cluster"].rename(spec.cluster) if spec.cluster else None
    ipw = mh = surv = None
    adjusted = _attempt(refused, "adjusted", lambda: models.adjusted(y, x, X, cluster, alpha,
                                                                      words))
    if adjusted:
        notes += adjusted.warnings
        if adjusted.or_refused:
            refused["adjusted OR"] = adjusted.or_refused
    if X.shape[1]:
        ipw = _attempt(refused, "IPW", lambda: models.ipw(
            y, x, X, spec.propensity_link, alpha, cluster, spec.trim, words))
        if ipw:
            notes += ipw.warnings
    if spec.stratify:
        mh = _attempt(refused, "Mantel-Haenszel", lambda: models.mantel_haenszel(
            complete if spec.covariates else frame, list(spec.stratify), alpha, words,
            spec.cluster))
    if "time_days" in frame:
        ok = frame["event"] >= 0
        sub = frame[ok]
        covs = None
        if X.shape[1]:     # incomplete rows stay in the crude curves, not the adjusted Cox
            covs = data.design(complete_only=False).loc[ok]
            covs.loc[~sub["complete"]] = np.nan
        surv = survival_mod.survival(
            sub["time_days"], sub["event"], sub["x"], covs, data.survival_dropped, alpha,
            sub["cluster"].rename(spec.cluster) if spec.cluster else None, words)
        notes += surv.notes
        refused.update(surv.refused)
    evalues = {}
    head = headline_interval(crude, crude_cluster, spec.cluster)
    if head:
        ev = _attempt(refused, "E-value, crude", lambda: sensitivity.evalue(
            "crude", crude.rr, head[0], f"{level}% CI, {head[1]}", words))
        if ev:
            evalues["crude"] = ev
    if adjusted:
        ev = _attempt(refused, "E-value, adjusted", lambda: sensitivity.evalue(
            "adjusted", adjusted.rr, adjusted.rr_ci, f"{level}% CI, {adjusted.covariance}",
            words))
        if ev:
            evalues["adjusted"] = ev
    subgroups, heterogeneity = [], []
    for by in spec.subgroups:
        column = by_column(by)
        sub = frame[frame[column] != ""]
        for lev, g in sub.groupby(column, sort=True):
            subgroups.append(_crude_row(g, alpha, words, spec.cluster, f" in {by} = {lev}",
                                        {"by": by, "level": lev, "n": int(len(g))}))
        try:
            test = models.interaction_test(
                sub, column, cluster_all[sub.index] if cluster_all is not None else None,
                words)
        except models.Refused as err:
            test = {"by": by, "p": None, "reason": str(err)}
        heterogeneity.append({**test, "by": by})
    if len(spec.subgroups) > 1:
        notes.append(f"{len(spec.subgroups)} subgroup variables were tested for heterogeneity: "
                     f"with a Bonferroni correction, treat only p < {alpha / len(spec.subgroups):.3g}"
                     " as evidence that the effect differs")
    boot = None
    if spec.bootstrap:
        if crude.rr is None:
            refused["bootstrap"] = f"no crude risk ratio to resample ({crude.rr_refused})"
        else:
            boot = _attempt(refused, "bootstrap", lambda: sensitivity.bootstrap(
                frame, lambda f: crude_mod.from_frame(f, alpha, words).rr, spec.bootstrap,
                spec.seed, alpha, "cluster" if spec.cluster else None, spec.cluster))
        if boot:
            boot["statistic"] = "crude risk ratio"
            boot["level"] = level
            notes += boot["notes"]
    late = None
    if data.late_exposure is not None:
        moved = frame.assign(x=np.where(frame["exposure_after_clearance"] == 1, 0, frame["x"]))
        late = _crude_row(moved, alpha, words, spec.cluster, "", {
            "cases": data.late_exposure,
            "label": f"Crude RR, {words.exposure} obtained after the {words.outcome_noun} "
                     "counted as none",
            "meaning": f"cases {words.with_()} whose exposure came after the outcome "
                       f"({words.outcome}), re-counted as {words.without()}"})
    return StudyResult(spec, data, crude, crude_complete, crude_cluster, adjusted, ipw, mh,
                       surv, evalues, subgroups, heterogeneity, boot, late, versions(), refused,
                       notes, clusters)


def _crude_row(frame, alpha: float, words: Words, cluster: str | None, where: str,
               head: dict) -> dict:
    """The crude risk ratio of a subset (a subgroup level, the late-video recount) with the
    study's interval: cluster-robust when the study has clusters and it can be estimated
    there, otherwise the crude interval labelled as not accounting for them, with why."""
    from videx.study import crude as crude_mod
    from videx.study.inference import unclustered
    c = crude_mod.from_frame(frame, alpha, words)
    row = {**head, "exposed_rate": c.exposed.rate, "unexposed_rate": c.unexposed.rate,
           "rr": c.rr, "rr_ci": c.rr_ci, "pct_increase": c.pct_increase, "ci_level":
           int(round((1 - alpha) * 100)), "variance": c.rr_method,
           "clustered": None, "refused": c.rr_refused, "cluster_refused": None,
           "flags": list(c.flags)}
    if cluster and c.rr is not None:
        ints, why = crude_mod.clustered(frame, alpha, cluster, words, where)
        if "rr" in ints:
            row.update(rr_ci=ints["rr"].ci, variance=ints["rr"].variance, clustered=True)
        else:
            row.update(variance=unclustered(c.rr_method, cluster), clustered=False,
                       cluster_refused=why["rr"])
    return row
