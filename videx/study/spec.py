"""The study specification: which table, which columns mean what, which methods.

A spec can come from command-line options or a TOML file (``videx study run --spec
study.toml``); options given on the command line override the file. The resolved spec is
written into ``results.json`` so a study reruns exactly.
"""

from __future__ import annotations

import re
import sys
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from videx.errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class Matcher:
    """Which cell values mean "yes": a list (case-insensitive, trimmed) or ``re:REGEX``."""

    column: str
    values: tuple[str, ...] = ()
    regex: str | None = None

    @classmethod
    def parse(cls, text: str, option: str) -> Matcher:
        """Parse ``COLUMN=VALUES`` (``yes,y,1``) or ``COLUMN=re:REGEX``."""
        column, sep, rest = str(text).partition("=")
        if not sep or not column.strip() or not rest.strip():
            raise InputError(f"{option} {text!r}: use COLUMN=VALUES (comma-separated values "
                             "meaning yes) or COLUMN=re:REGEX")
        if rest.startswith("re:"):
            try:
                re.compile(rest[3:])
            except re.error as err:
                raise InputError(f"{option} {text!r}: bad regex: {err}") from err
            return cls(column.strip(), (), rest[3:])
        return cls(column.strip(), tuple(v.strip().lower() for v in rest.split(",") if v.strip()))

    def matches(self, value: str) -> bool:
        v = str(value).strip()
        if self.regex is not None:
            return re.search(self.regex, v, re.I) is not None
        return v.lower() in self.values

    def __str__(self) -> str:
        return f"{self.column}=" + (f"re:{self.regex}" if self.regex is not None
                                    else ",".join(self.values))


@dataclass(frozen=True)
class StudySpec:
    """Everything that defines one run of the video-impact study."""

    cases: str
    outcome: str = "cleared=yes,y,true,1"
    exposure: str = "video=yes,y,true,1"
    covariates: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    cluster: str | None = None
    where: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    stratify: tuple[str, ...] = ()
    subgroups: tuple[str, ...] = ()
    occurred: str | None = None
    cleared_at: str | None = None
    censor_date: str | None = None
    propensity_link: str = "logit"
    bootstrap: int = 0
    seed: int = 20230501
    alpha: float = 0.05
    exposure_time: str | None = None
    title: str = "Video-impact study: clearance of shootings with and without relevant video"

    def outcome_matcher(self) -> Matcher:
        return Matcher.parse(self.outcome, "--outcome")

    def exposure_matcher(self) -> Matcher:
        return Matcher.parse(self.exposure, "--exposure")

    def filters(self) -> list[tuple[str, Matcher]]:
        return ([("where", Matcher.parse(w, "--where")) for w in self.where]
                + [("exclude", Matcher.parse(x, "--exclude")) for x in self.exclude])

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    def validate(self) -> StudySpec:
        self.outcome_matcher()
        self.exposure_matcher()
        self.filters()
        if self.propensity_link not in ("logit", "probit"):
            raise InputError(f"propensity_link {self.propensity_link!r}: use logit or probit")
        if self.bootstrap < 0:
            raise InputError("bootstrap must be >= 0")
        if not 0 < self.alpha < 0.5:
            raise InputError("alpha must be between 0 and 0.5")
        stray = set(self.categorical) - set(self.covariates)
        if stray:
            raise InputError(f"categorical {', '.join(sorted(stray))} is not a covariate")
        if self.censor_date and not self.occurred:
            raise InputError("--censor-date needs --occurred (and --cleared-at)")
        return self


LIST_KEYS = {"covariates", "categorical", "where", "exclude", "stratify", "subgroups"}


def load_spec(path: str | Path, overrides: dict | None = None) -> StudySpec:
    """Read a TOML spec (``cases`` relative to the spec's folder) and apply overrides."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise InputError(f"cannot read spec: {err}", file=str(path)) from err
    known = {f.name for f in fields(StudySpec)}
    unknown = set(doc) - known
    if unknown:
        raise InputError(f"unknown key(s) {', '.join(sorted(unknown))} (known: "
                         f"{', '.join(sorted(known))})", file=str(path))
    if "cases" in doc and not Path(doc["cases"]).is_absolute():
        doc["cases"] = str((path.parent / doc["cases"]).resolve())
    doc = {k: (tuple(v) if k in LIST_KEYS else v) for k, v in doc.items()}
    return build_spec(doc, overrides)


def build_spec(base: dict, overrides: dict | None = None) -> StudySpec:
    """A validated StudySpec from a dict plus non-empty overrides."""
    merged = dict(base)
    for k, v in (overrides or {}).items():
        if v not in (None, (), []):
            merged[k] = tuple(v) if k in LIST_KEYS else v
    if not merged.get("cases"):
        raise InputError("no case table: give --cases FILE or cases = \"...\" in the spec")
    spec = StudySpec(**merged)
    return replace(spec).validate()


def spec_to_toml(spec: StudySpec) -> str:
    """A TOML text that reproduces ``spec``."""
    lines = []
    for k, v in spec.to_dict().items():
        if v is None or v == []:
            continue
        if isinstance(v, list):
            lines.append(f"{k} = [{', '.join(_toml_str(x) for x in v)}]")
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            lines.append(f"{k} = {v}")
        else:
            lines.append(f"{k} = {_toml_str(v)}")
    return "\n".join(lines) + "\n"


def _toml_str(value) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


__all__ = ["Matcher", "StudySpec", "load_spec", "build_spec", "spec_to_toml"]
