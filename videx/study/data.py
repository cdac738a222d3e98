"""Turning a messy case table into the analysis frame, counting every dropped row by reason.

The frame has one row per analysed case with ``y`` (1 = cleared), ``x`` (1 = relevant video),
the covariates (numeric, or categorical normalised by trimming and case-folding), and where
asked ``cluster``, strata, subgroups and time-to-clearance columns (``time_days``, ``event``).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from videx.errors import InputError
from videx.study.spec import StudySpec

NUMERIC_SHARE = 0.9   # a covariate is numeric when this share of its cells parse as numbers
RARE_LEVEL = 5        # categorical levels with fewer rows are reported as possible typos


@dataclass(frozen=True)
class Covariate:
    """How a covariate was read: ``numeric`` or ``categorical`` (with its levels)."""

    name: str
    kind: str
    levels: tuple[str, ...] = ()
    rare_levels: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "levels": list(self.levels),
                "rare_levels": list(self.rare_levels)}


@dataclass(frozen=True)
class StudyData:
    """The analysis frame and the account of every row that did not make it."""

    frame: pd.DataFrame
    n_input: int
    dropped: dict[str, int]
    dropped_examples: list[dict]
    covariates: list[Covariate]
    value_maps: dict[str, dict[str, dict]]
    survival_dropped: dict[str, int] = field(default_factory=dict)
    input_sha256: str = ""
    late_exposure: int | None = None

    @property
    def n(self) -> int:
        return len(self.frame)

    def design(self, covariates: list[str] | None = None) -> pd.DataFrame:
        """Covariate design matrix (dummies for categoricals, first level as reference)."""
        cols = []
        for cov in self.covariates:
            if covariates is not None and cov.name not in covariates:
                continue
            col = self.frame[cov.name]
            if cov.kind == "numeric":
                cols.append(col.astype(float).rename(cov.name))
            else:
                dummies = pd.get_dummies(pd.Categorical(col, categories=list(cov.levels)),
                                         prefix=cov.name, prefix_sep="=", drop_first=True,
                                         dtype=float)
                dummies.index = self.frame.index
                cols.append(dummies)
        return pd.concat(cols, axis=1) if cols else pd.DataFrame(index=self.frame.index)


def by_column(name: str) -> str:
    """Frame column holding the text levels of a stratum / subgroup column."""
    return f"by:{name}"


def sha256_of(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV as text cells (blank = "")."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", file=str(path))
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=False,
                         encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise InputError(f"cannot read as CSV: {str(err).splitlines()[0]}",
                         file=str(path)) from err
    df.columns = [str(c).strip() for c in df.columns]
    return df.map(lambda v: v.strip() if isinstance(v, str) else v)


def needed_columns(spec: StudySpec) -> list[str]:
    cols = [spec.outcome_matcher().column, spec.exposure_matcher().column, *spec.covariates,
            *(m.column for _, m in spec.filters()), *spec.stratify, *spec.subgroups]
    cols += [c for c in (spec.cluster, spec.occurred, spec.cleared_at, spec.exposure_time) if c]
    return list(dict.fromkeys(cols))


def parse_dates(series: pd.Series) -> pd.Series:
    """Dates/times to UTC timestamps; unparseable or blank cells become NaT."""
    return pd.to_datetime(series.where(series != ""), errors="coerce", utc=True, format="mixed")


def load(spec: StudySpec) -> StudyData:
    """Read ``spec.cases`` and build the analysis frame (raises InputError on missing columns)."""
    raw = read_table(spec.cases)
    if spec.occurred and "year" not in raw.columns and spec.occurred in raw.columns:
        years = parse_dates(raw[spec.occurred]).dt.year
        raw["year"] = years.map(lambda v: "" if pd.isna(v) else str(int(v)))
    missing = [c for c in needed_columns(spec) if c not in raw.columns]
    if missing:
        raise InputError(f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
                         f" (found: {', '.join(raw.columns)})", file=spec.cases)
    reasons = pd.Series("", index=raw.index, dtype=object)

    def drop(mask, reason):
        mask = mask & (reasons == "")
        reasons[mask] = reason

    for kind, m in spec.filters():
        hit = raw[m.column].map(m.matches)
        drop(~hit if kind == "where" else hit, f"{'not matching --where' if kind == 'where' else 'excluded by --exclude'} {m}")
    out_m, exp_m = spec.outcome_matcher(), spec.exposure_matcher()
    drop(raw[out_m.column] == "", f"blank outcome ({out_m.column})")
    drop(raw[exp_m.column] == "", f"blank exposure ({exp_m.column})")
    covariates = []
    for name in spec.covariates:
        drop(raw[name] == "", f"blank covariate {name}")
        covariates.append(Covariate(name, "categorical") if name in spec.categorical
                          else _detect(raw, name, reasons, drop))
    for name, label in ([(spec.cluster, "cluster")] if spec.cluster else []) + [
            (s, "stratum") for s in spec.stratify] + [(s, "subgroup") for s in spec.subgroups]:
        drop(raw[name] == "", f"blank {label} {name}")
    keep = reasons == ""
    frame = pd.DataFrame(index=raw.index[keep])
    frame["row"] = raw.index[keep] + 2
    frame["y"] = raw.loc[keep, out_m.column].map(out_m.matches).astype(int)
    frame["x"] = raw.loc[keep, exp_m.column].map(exp_m.matches).astype(int)
    value_maps = {"outcome": _value_map(raw.loc[keep, out_m.column], out_m),
                  "exposure": _value_map(raw.loc[keep, exp_m.column], exp_m)}
    final_covs = []
    for cov in covariates:
        col = raw.loc[keep, cov.name]
        if cov.kind == "numeric":
            frame[cov.name] = pd.to_numeric(col).astype(float)
            final_covs.append(cov)
        else:
            norm = col.str.casefold()
            counts = norm.value_counts()
            levels = tuple(sorted(counts.index, key=lambda v: (-counts[v], v)))
            frame[cov.name] = norm
            final_covs.append(Covariate(cov.name, "categorical", levels,
                                        tuple(v for v in levels if counts[v] < RARE_LEVEL)))
    if spec.cluster:
        frame["cluster"] = raw.loc[keep, spec.cluster].str.casefold()
    for name in (*spec.stratify, *spec.subgroups):
        frame[by_column(name)] = raw.loc[keep, name].str.casefold()
    survival_dropped: dict[str, int] = {}
    if spec.occurred and spec.cleared_at:
        survival_dropped = _survival_columns(spec, raw.loc[keep], frame)
    late = None
    if spec.exposure_time and spec.cleared_at:
        got = parse_dates(raw.loc[keep, spec.exposure_time])
        cleared = parse_dates(raw.loc[keep, spec.cleared_at])
        frame["exposure_after_clearance"] = ((frame["x"] == 1) & (frame["y"] == 1)
                                             & got.notna() & cleared.notna()
                                             & (got > cleared)).astype(int)
        late = int(frame["exposure_after_clearance"].sum())
    dropped = dict(Counter(reasons[~keep]).most_common())
    examples = [{"row": int(i) + 2, "reason": r} for i, r in reasons[~keep].items()][:50]
    return StudyData(frame.reset_index(drop=True), len(raw), dropped, examples, final_covs,
                     value_maps, survival_dropped, sha256_of(spec.cases), late)


def _detect(raw: pd.DataFrame, name: str, reasons: pd.Series, drop) -> Covariate:
    """Numeric when at least 90 % of the non-blank cells parse; the rest are dropped rows."""
    col = raw[name]
    present = col[(col != "") & (reasons == "")]
    numbers = pd.to_numeric(present, errors="coerce")
    if len(present) and numbers.notna().mean() >= NUMERIC_SHARE:
        bad = pd.to_numeric(col, errors="coerce").isna() & (col != "")
        drop(bad, f"not a number in numeric covariate {name}")
        return Covariate(name, "numeric")
    return Covariate(name, "categorical")


def _value_map(col: pd.Series, matcher) -> dict[str, dict]:
    """Each distinct cell value, whether it was read as yes, and how many rows had it."""
    counts = col.value_counts()
    return {str(v): {"yes": bool(matcher.matches(v)), "rows": int(n)} for v, n in counts.items()}


def _survival_columns(spec: StudySpec, raw: pd.DataFrame, frame: pd.DataFrame) -> dict[str, int]:
    """Add ``time_days`` and ``event`` (clearance); open cases censored at the censor date."""
    occurred = parse_dates(raw[spec.occurred])
    cleared_at = parse_dates(raw[spec.cleared_at])
    censor = (pd.Timestamp(spec.censor_date, tz="UTC") if spec.censor_date
              else cleared_at.max())
    event = (frame["y"].values == 1) & cleared_at.notna().values & (cleared_at <= censor).values
    end = np.where(event, cleared_at, censor)
    days = (pd.to_datetime(end, utc=True) - occurred).dt.total_seconds() / 86400.0
    reasons = pd.Series("", index=raw.index, dtype=object)
    reasons[occurred.isna()] = f"unparseable or blank {spec.occurred}"
    reasons[(reasons == "") & (frame["y"].values == 1) & cleared_at.isna()] = (
        f"cleared but {spec.cleared_at} blank or unparseable")
    reasons[(reasons == "") & (days < 0).values] = f"{spec.cleared_at} before {spec.occurred}"
    ok = (reasons == "").values
    frame["time_days"] = np.where(ok, days, np.nan)
    frame["event"] = np.where(ok, event.astype(int), -1)
    return dict(Counter(reasons[~ok]).most_common())
