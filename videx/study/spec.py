"""The study specification: which table, which columns mean what, which methods.

A spec can come from command-line options or a TOML file (``videx study run --spec
study.toml``); options given on the command line override the file. Every run writes the
resolved spec as ``study.toml`` beside its results, with the case table's path relative to that
file and its SHA-256, so the written spec reruns exactly from anywhere.

Standard library only: a spec is read and checked before any statistics module loads.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from dataclasses import asdict, dataclass, fields, replace
from datetime import date
from pathlib import Path

from videx.errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MISSING_POLICIES = ("drop", "no")
CLEARED = "cleared"        # the default outcome label: the outcome is clearance
FALSE_WORDS = ("0", "0.0", "no", "n", "false", "f", "none", "not cleared", "open")
TRUE_WORDS = ("1", "1.0", "yes", "y", "true", "t", "x")


def _values(text: str, option: str) -> tuple[tuple[str, ...], str | None]:
    """Values meaning a side: ``a,b``, a JSON list ``["Closed, arrest", "Cleared"]`` (for
    values that hold commas), or ``re:REGEX``. Returns (values, regex)."""
    rest = text.strip()
    if rest.startswith("re:"):
        try:
            re.compile(rest[3:])
        except re.error as err:
            raise InputError(f"{option} {text!r}: bad regex: {err}") from err
        return (), rest[3:]
    if rest.startswith("["):
        try:
            items = json.loads(rest)
        except json.JSONDecodeError as err:
            raise InputError(f"{option} {text!r}: not a JSON list ({err.msg}); write it as "
                             "[\"Closed, arrest\", \"Cleared\"]") from err
        if not isinstance(items, list) or not all(isinstance(v, (str, int, float))
                                                  for v in items):
            raise InputError(f"{option} {text!r}: a list of values, e.g. [\"a\", \"b\"]")
        return tuple(str(v).strip().lower() for v in items if str(v).strip()), None
    return tuple(v.strip().lower() for v in rest.split(",") if v.strip()), None


@dataclass(frozen=True)
class Matcher:
    """Which cell values mean "yes": a list (case-insensitive, trimmed) or ``re:REGEX``."""

    column: str
    values: tuple[str, ...] = ()
    regex: str | None = None

    @classmethod
    def parse(cls, text: str | list, option: str) -> Matcher:
        """Parse ``COLUMN=VALUES`` (``yes,y,1``, a JSON list, or ``re:REGEX``); a list of such
        texts for the same column (repeated options) merges their values."""
        if isinstance(text, (list, tuple)):
            parts = [cls.parse(t, option) for t in text]
            if len({p.column for p in parts}) > 1:
                raise InputError(f"{option}: repeated values must name the same column")
            if any(p.regex for p in parts) and len(parts) > 1:
                raise InputError(f"{option}: a regex cannot be combined with other values")
            return cls(parts[0].column, tuple(v for p in parts for v in p.values),
                       parts[0].regex)
        column, sep, rest = str(text).partition("=")
        if not sep or not column.strip() or not rest.strip():
            raise InputError(f"{option} {text!r}: use COLUMN=VALUES (comma-separated values "
                             "meaning yes, a JSON list for values with commas) or "
                             "COLUMN=re:REGEX")
        values, regex = _values(rest, option)
        return cls(column.strip(), values, regex)

    def matches(self, value: str) -> bool:
        v = str(value).strip()
        if self.regex is not None:
            return re.search(self.regex, v, re.I) is not None
        return v.lower() in self.values

    def mask(self, series):
        """``matches`` over a pandas Series of text cells, deciding each distinct value once
        (a yes/no column of 100,000 rows has a handful)."""
        import pandas as pd
        distinct = pd.unique(series.to_numpy(dtype=object))
        hit = {v: self.matches(v) for v in distinct}
        return pd.Series(series.map(hit).to_numpy(dtype=bool), index=series.index)

    def __str__(self) -> str:
        if self.regex is not None:
            return f"{self.column}=re:{self.regex}"
        if any("," in v for v in self.values):
            return f"{self.column}=" + json.dumps(list(self.values))
        return f"{self.column}=" + ",".join(self.values)


@dataclass(frozen=True)
class Words:
    """How the report names the exposure and the outcome, for every sentence.

    ``exposure`` completes "cases with ..." ("relevant video", "a camera within 50 m");
    ``outcome`` completes "cases that were ..." ("cleared", "relevant video found"). The
    clearance wording ("123% higher clearance", "time to clearance") is used only when the
    outcome is ``cleared``."""

    exposure: str = "relevant video"
    outcome: str = CLEARED

    @property
    def clearance(self) -> bool:
        return self.outcome.strip().lower() == CLEARED

    def with_(self) -> str:
        return f"with {self.exposure}"

    def without(self) -> str:
        return f"without {self.exposure}"

    @property
    def outcome_noun(self) -> str:
        """The outcome as a noun: "clearance", or the label itself."""
        return "clearance" if self.clearance else self.outcome

    @property
    def rate(self) -> str:
        """What a rate is of: "clearance rate", or "share RELEVANT VIDEO FOUND"."""
        return "clearance rate" if self.clearance else f"share {self.outcome}"

    def change(self, rr: float) -> str:
        """A risk ratio as a change: "123% higher clearance" / "relevant video found 23%
        less often" / "no difference"."""
        pct_change = (rr - 1) * 100
        if round(pct_change) == 0:
            return ("no difference in clearance" if self.clearance else
                    f"no difference in how often cases were {self.outcome}")
        more = pct_change > 0
        if self.clearance:
            return f"{abs(pct_change):.0f}% {'higher' if more else 'lower'} clearance"
        return f"{self.outcome} {abs(pct_change):.0f}% {'more' if more else 'less'} often"

    @property
    def time_to(self) -> str:
        return "time to clearance" if self.clearance else f"time until {self.outcome}"

    @property
    def still_open(self) -> str:
        return "cases still open" if self.clearance else f"cases not yet {self.outcome}"

    def title(self) -> str:
        return f"Video-impact study: {self.outcome_noun}, with and without {self.exposure}"


@dataclass(frozen=True)
class StudySpec:
    """Everything that defines one run of the video-impact study."""

    cases: str
    outcome: str = "cleared=yes,y,true,1"
    exposure: str = "video=yes,y,true,1"
    outcome_no: str | None = None
    exposure_no: str | None = None
    missing_outcome: str = "drop"
    missing_exposure: str = "drop"
    exposure_label: str = "relevant video"
    outcome_label: str = CLEARED
    covariates: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()
    numeric_leading: tuple[str, ...] = ()
    cluster: str | None = None
    where: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    stratify: tuple[str, ...] = ()
    subgroups: tuple[str, ...] = ()
    occurred: str | None = None
    cleared_at: str | None = None
    censor_date: str | None = None
    propensity_link: str = "logit"
    trim: float | None = None
    bootstrap: int = 0
    seed: int = 20230501
    alpha: float = 0.05
    exposure_time: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    cases_sha256: str | None = None
    title: str | None = None

    def words(self) -> Words:
        return Words(self.exposure_label, self.outcome_label)

    @property
    def display_title(self) -> str:
        """The report's title: ``title``, or one made from the labels."""
        return self.title or self.words().title()

    def outcome_matcher(self) -> Matcher:
        return Matcher.parse(self.outcome, "--outcome")

    def exposure_matcher(self) -> Matcher:
        return Matcher.parse(self.exposure, "--exposure")

    def no_matcher(self, side: str) -> Matcher | None:
        """What means "no" for ``outcome`` or ``exposure``, when given."""
        text = getattr(self, f"{side}_no")
        if not text:
            return None
        column = (self.outcome_matcher() if side == "outcome" else self.exposure_matcher()).column
        values, regex = _values(text, f"--{side}-no")
        return Matcher(column, values, regex)

    @property
    def confidence(self) -> int:
        """The interval level in percent (95 for alpha 0.05), for every label."""
        return int(round((1 - self.alpha) * 100))

    def filters(self) -> list[tuple[str, Matcher]]:
        return ([("where", Matcher.parse(w, "--where")) for w in self.where]
                + [("exclude", Matcher.parse(x, "--exclude")) for x in self.exclude])

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    def validate(self) -> StudySpec:
        for key in ("exposure_label", "outcome_label"):
            if not isinstance(getattr(self, key), str) or not getattr(self, key).strip():
                raise InputError(f"{key} must be a non-empty text (e.g. "
                                 + ("'a camera within 50 m')" if key == "exposure_label"
                                    else "'relevant video found')"))
        self.outcome_matcher()
        self.exposure_matcher()
        self.no_matcher("outcome")
        self.no_matcher("exposure")
        self.filters()
        if self.propensity_link not in ("logit", "probit"):
            raise InputError(f"propensity_link {self.propensity_link!r}: use logit or probit")
        for side in ("outcome", "exposure"):
            if getattr(self, f"missing_{side}") not in MISSING_POLICIES:
                raise InputError(f"missing_{side} {getattr(self, f'missing_{side}')!r}: use "
                                 "drop (blank rows are left out) or no (blank means no)")
        if self.bootstrap < 0:
            raise InputError("bootstrap must be >= 0")
        if not 0 < self.alpha < 0.5:
            raise InputError("alpha must be between 0 and 0.5")
        if self.trim is not None and not 0 < self.trim < 0.5:
            raise InputError("trim must be between 0 and 0.5 (e.g. 0.01 keeps propensities "
                             "inside 0.01-0.99)")
        typed = {"categorical": self.categorical, "numeric": self.numeric,
                 "numeric_leading": self.numeric_leading}
        for key, cols in typed.items():
            stray = set(cols) - set(self.covariates)
            if stray:
                raise InputError(f"{key} {', '.join(sorted(stray))} is not a covariate")
        both = (set(self.categorical) & (set(self.numeric) | set(self.numeric_leading)))
        if both:
            raise InputError(f"{', '.join(sorted(both))} cannot be both categorical and numeric")
        if self.censor_date:
            if not self.occurred:
                raise InputError("--censor-date needs --occurred (and --cleared-at)")
            try:
                date.fromisoformat(str(self.censor_date)[:10])
            except ValueError as err:
                raise InputError(f"censor date {self.censor_date!r} is not a date (use "
                                 "YYYY-MM-DD)") from err
        if not Path(self.cases).is_file():
            raise InputError("case table not found" if not Path(self.cases).exists()
                             else "the case table is not a file", file=str(self.cases))
        return self


LIST_KEYS = {"covariates", "categorical", "numeric", "numeric_leading", "where", "exclude",
             "stratify", "subgroups"}


def load_spec(path: str | Path, overrides: dict | None = None) -> StudySpec:
    """Read a TOML spec (``cases`` relative to the spec's folder) and apply overrides. A spec
    that records the table's SHA-256 refuses a table that has changed since."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise InputError(f"cannot read spec: {err}", file=str(path)) from err
    known = {f.name for f in fields(StudySpec)}
    unknown = set(doc) - known
    if unknown:
        raise InputError(f"unknown key(s) {', '.join(sorted(unknown))} (known: "
                         f"{', '.join(sorted(known))})", file=str(path))
    if "cases" in doc and not isinstance(doc["cases"], str):
        raise InputError(f"cases = {doc['cases']!r}: the case table's file name, in quotes "
                         '(cases = "cases.csv")', file=str(path))
    if "cases" in doc and not Path(doc["cases"]).is_absolute():
        doc["cases"] = str((path.parent / doc["cases"]).resolve())
    doc = {k: (tuple(v) if k in LIST_KEYS else v) for k, v in doc.items()}
    if overrides and overrides.get("cases"):
        doc.pop("cases_sha256", None)      # another table: the recorded hash says nothing
    return build_spec(doc, overrides)


def build_spec(base: dict, overrides: dict | None = None) -> StudySpec:
    """A validated StudySpec from a dict plus non-empty overrides."""
    merged = dict(base)
    for k, v in (overrides or {}).items():
        if v not in (None, (), []):
            merged[k] = tuple(v) if k in LIST_KEYS else v
    if not merged.get("cases"):
        raise InputError("no case table: give --cases FILE or cases = \"...\" in the spec")
    for key in ("outcome", "exposure"):           # repeated options: one matcher
        if isinstance(merged.get(key), (list, tuple)):
            merged[key] = str(Matcher.parse(list(merged[key]), f"--{key}"))
    spec = StudySpec(**merged)
    return replace(spec).validate()


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def written_dict(spec: StudySpec, folder: str | Path | None = None,
                 cases_sha256: str | None = None) -> dict:
    """``spec`` as a rerun needs it: with ``folder`` (where the spec or results are written)
    the case table's path relative to that folder (absolute when on another drive), and the
    table's SHA-256. A first run and a rerun from its written spec give the same dict."""
    doc = spec.to_dict()
    if folder is not None:
        import os
        here = Path(folder).resolve()
        try:
            doc["cases"] = Path(os.path.relpath(Path(spec.cases).resolve(), here)).as_posix()
        except ValueError:
            doc["cases"] = str(Path(spec.cases).resolve())
    if cases_sha256:
        doc["cases_sha256"] = cases_sha256
    return doc


def spec_to_toml(spec: StudySpec, written_to: str | Path | None = None,
                 cases_sha256: str | None = None) -> str:
    """TOML that reproduces ``spec``. With ``written_to`` (the spec file's path) the case
    table's path is made relative to it (absolute when on another drive), and its SHA-256 is
    recorded."""
    doc = written_dict(spec, None if written_to is None else Path(written_to).resolve().parent,
                       cases_sha256)
    lines = []
    for k, v in doc.items():
        if v is None or v == []:
            continue
        if isinstance(v, list):
            lines.append(f"{k} = [{', '.join(_toml_str(x) for x in v)}]")
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            lines.append(f"{k} = {v!r}")
        else:
            lines.append(f"{k} = {_toml_str(v)}")
    return "\n".join(lines) + "\n"


def _toml_str(value) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


__all__ = ["Matcher", "StudySpec", "Words", "load_spec", "build_spec", "spec_to_toml",
           "written_dict", "file_sha256"]
