"""Turning a messy case table into the analysis frame, accounting for every row.

Rows fall into three groups, each counted by reason:

- **dropped**: left out of every estimate (a filter, a blank outcome or exposure under the
  ``drop`` policy);
- **analysable**: every other row. The crude comparison, the headline, uses all of them;
- **complete**: analysable rows with every covariate readable. Adjusted, weighted and
  stratified estimates use these; when they are fewer, the crude figure on the same rows is
  reported beside the headline.

The frame has ``y`` (1 = cleared), ``x`` (1 = relevant video), ``complete``, the covariates
(numeric, or categorical normalised by trimming and case-folding), and where asked
``cluster``, strata and subgroup columns (``by:NAME``) and time-to-clearance columns.
Everything is column operations (no Python per cell).
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from videx.errors import InputError
from videx.study.spec import FALSE_WORDS, TRUE_WORDS, StudySpec, file_sha256
from videx.textfile import has_controls, read_rows, read_text, sniff_delimiter

NUMERIC_SHARE = 0.5      # a covariate most of whose cells are numbers is numeric
MAX_LEVELS = 20          # more levels than this needs --categorical: probably not a category
RARE_LEVEL = 5           # categorical levels with fewer rows are reported as sparse
LEADING_NUMBER = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)")
DATE_FORMATS = ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S",
                "%Y-%m-%d %H:%M", "%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y")


@dataclass(frozen=True)
class Covariate:
    """How a covariate was read: ``numeric`` or ``categorical`` (with its levels)."""

    name: str
    kind: str
    levels: tuple[str, ...] = ()
    rare_levels: tuple[str, ...] = ()
    how: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "levels": list(self.levels),
                "rare_levels": list(self.rare_levels), "how": self.how}


@dataclass(frozen=True)
class StudyData:
    """The analysis frame and the account of every row that is not in it."""

    frame: pd.DataFrame
    n_input: int
    dropped: dict[str, int]
    dropped_examples: list[dict]
    covariates: list[Covariate]
    value_maps: dict[str, dict[str, dict]]
    survival_dropped: dict[str, int] = field(default_factory=dict)
    input_sha256: str = ""
    late_exposure: int | None = None
    incomplete: dict[str, int] = field(default_factory=dict)
    blank_as_no: dict[str, int] = field(default_factory=dict)
    suspicious: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.frame)

    @property
    def n_complete(self) -> int:
        return int(self.frame["complete"].sum())

    def complete_frame(self) -> pd.DataFrame:
        return self.frame[self.frame["complete"]]

    def design(self, complete_only: bool = True) -> pd.DataFrame:
        """Covariate design matrix (dummies for categoricals, most frequent level as the
        reference) on the complete rows."""
        frame = self.complete_frame() if complete_only else self.frame
        cols = []
        for cov in self.covariates:
            col = frame[cov.name]
            if cov.kind == "numeric":
                cols.append(col.astype(float).rename(cov.name))
            else:
                known = col.where(col.isin(cov.levels))     # a blank is no level
                dummies = pd.get_dummies(pd.Categorical(known, categories=list(cov.levels)),
                                         prefix=cov.name, prefix_sep="=", drop_first=True,
                                         dtype=float)
                dummies.index = frame.index
                cols.append(dummies)
        return pd.concat(cols, axis=1) if cols else pd.DataFrame(index=frame.index)


def by_column(name: str) -> str:
    """Frame column holding the text levels of a stratum / subgroup column."""
    return f"by:{name}"


def unique_names(columns: list[str]) -> list[str]:
    """Header names made unique as a spreadsheet user would read them: a blank header becomes
    ``column N`` (N counted from 1) and a repeated one ``NAME (2)``, ``NAME (3)``..."""
    seen: dict[str, int] = {}
    out = []
    for i, name in enumerate(columns):
        name = name or f"column {i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name} ({seen[name]})"
        seen.setdefault(name, 1)
        out.append(name)
    return out


def read_cases(path: str | Path, encoding: str | None = None,
               delimiter: str | None = None) -> pd.DataFrame:
    """A case table as text cells (blank = ""), indexed by spreadsheet row number (header =
    row 1), read as every videx table is read (see ``videx.textfile``: encodings, delimiters,
    control characters). Headers are made unique with ``unique_names``.

    Tables are parsed by pandas' C reader; a table it cannot read as a plain rectangle (a
    control character, a row with more cells than the header) goes through the row-by-row
    reader, which names the offending row.
    """
    text = read_text(path, encoding)
    sep = sniff_delimiter(text, str(path), delimiter)
    if not has_controls(text):
        df = _read_rectangle(text, sep)
        if df is not None:
            return df
    return _read_row_by_row(path, encoding, sep)


def _padded(text: str, sep: str) -> bool:
    """True when some cell may have leading or trailing spaces or tabs (a quick look at the
    whole text: substring searches, no regular expression)."""
    edges = []
    if " " in text:
        edges += [sep + " ", " " + sep, " \n", " \r", "\n ", '" ', ' "']
    if "\t" in text and sep != "\t":
        edges += [sep + "\t", "\t" + sep, "\t\n", "\t\r", "\n\t", '"\t', '\t"']
    return text[:1] in (" ", "\t") or text.rstrip("\r\n")[-1:] in (" ", "\t") or any(
        e in text for e in edges)


def _read_rectangle(text: str, sep: str) -> pd.DataFrame | None:
    """Fast path of ``read_cases``; None when the table is not a clean rectangle."""
    lines = io.StringIO(text, newline="")
    records = csv.reader(lines, delimiter=sep)
    header = next(records, None)
    while header is not None and not any(c.strip() for c in header):
        header = next(records, None)
    if header is None:
        return None
    columns = unique_names([c.strip() for c in header])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)   # a row wider than the header
            df = pd.read_csv(io.StringIO(text), sep=sep, header=None, names=columns,
                             skiprows=records.line_num, dtype=object, keep_default_na=False,
                             na_filter=False, skip_blank_lines=False, engine="c",
                             quotechar='"', index_col=False)
    except (pd.errors.ParserError, pd.errors.ParserWarning, ValueError):
        return None
    if df.empty:
        return None
    if _padded(text, sep):                       # some cell has surrounding spaces
        for c in df.columns:
            df[c] = df[c].fillna("").str.strip()
    elif df.iloc[:, -1].isna().any():            # a short row lacks its last cells
        df = df.fillna("")
    df.index = pd.RangeIndex(2, 2 + len(df))     # spreadsheet rows: the header is row 1
    first = df.iloc[:, 0].to_numpy(dtype=object) == ""
    if not first.any():                          # a blank row starts with a blank cell
        return df
    maybe = df[first]
    blank = maybe.index[(maybe == "").all(axis=1)]
    return df.drop(blank) if len(blank) else df


def _read_row_by_row(path, encoding, sep) -> pd.DataFrame:
    columns, rows = read_rows(path, encoding, sep)
    columns = unique_names(columns)
    width = len(columns)
    extra = [n for n, cells in rows if len(cells) > width and any(cells[width:])]
    if extra:
        raise InputError("more cells than the header has columns (rows "
                         f"{', '.join(map(str, extra[:5]))})", file=str(path), row=extra[0])
    short = [cells + [""] * (width - len(cells)) if len(cells) < width else cells[:width]
             for _, cells in rows] if any(len(c) != width for _, c in rows) else None
    df = pd.DataFrame(short or [cells for _, cells in rows], columns=columns, dtype=object)
    df.index = pd.Index([n for n, _ in rows])      # spreadsheet row numbers
    return df


def needed_columns(spec: StudySpec) -> list[str]:
    cols = [spec.outcome_matcher().column, spec.exposure_matcher().column, *spec.covariates,
            *(m.column for _, m in spec.filters()), *spec.stratify, *spec.subgroups]
    cols += [c for c in (spec.cluster, spec.occurred, spec.cleared_at, spec.exposure_time) if c]
    return list(dict.fromkeys(cols))


def parse_dates(series: pd.Series) -> pd.Series:
    """Dates/times to UTC timestamps, trying explicit formats column-wide (the first that reads
    most cells wins); unparseable or blank cells become NaT."""
    cells = series.where(series != "")
    best, best_n = None, -1
    for fmt in DATE_FORMATS:
        parsed = pd.to_datetime(cells, errors="coerce", utc=True, format=fmt)
        n = int(parsed.notna().sum())
        if n > best_n:
            best, best_n = parsed, n
        if n == int(cells.notna().sum()):
            return parsed
    mixed = pd.to_datetime(cells, errors="coerce", utc=True, format="mixed")  # last resort
    return mixed if int(mixed.notna().sum()) > best_n else best


def load(spec: StudySpec) -> StudyData:
    """Read ``spec.cases`` and build the analysis frame (InputError on missing columns, on
    unknown outcome/exposure values when both sides are listed, on a covariate with too many
    levels to be a category)."""
    raw = read_cases(spec.cases, spec.encoding, spec.delimiter)
    sha = file_sha256(spec.cases)
    if spec.cases_sha256 and spec.cases_sha256 != sha:
        raise InputError(f"the case table changed since this spec was written (SHA-256 "
                         f"{sha[:12]}..., recorded {spec.cases_sha256[:12]}...): remove "
                         "cases_sha256 from the spec to run on the new table",
                         file=spec.cases)
    derived_year = bool(spec.occurred and "year" not in raw.columns
                        and spec.occurred in raw.columns)
    if derived_year:
        years = parse_dates(raw[spec.occurred]).dt.year      # NaN where not a date
        raw["year"] = pd.Series(np.where(years.isna(), "", years.fillna(0).astype(int)
                                         .astype(str)), index=raw.index, dtype=object)
    missing = [c for c in needed_columns(spec) if c not in raw.columns]
    if missing:
        raise InputError(f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
                         f" (found: {', '.join(raw.columns)})", file=spec.cases)
    reasons = pd.Series("", index=raw.index, dtype=object)

    def drop(mask, reason):
        mask = mask & (reasons == "")
        reasons[mask] = reason

    for kind, m in spec.filters():
        hit = m.mask(raw[m.column])
        drop(~hit if kind == "where" else hit,
             f"{'not matching --where' if kind == 'where' else 'excluded by --exclude'} {m}")
    sides = {"outcome": spec.outcome_matcher(), "exposure": spec.exposure_matcher()}
    blank_as_no = {}
    for side, m in sides.items():
        blank = raw[m.column] == ""
        if getattr(spec, f"missing_{side}") == "drop":
            drop(blank, f"blank {side} ({m.column})")
        else:
            blank_as_no[side] = int((blank & (reasons == "")).sum())
    keep = reasons == ""
    value_maps, suspicious = {}, {}
    for side, m in sides.items():
        value_maps[side], odd = _value_map(raw.loc[keep, m.column], m, spec.no_matcher(side))
        if odd:
            suspicious[side] = odd
        no = spec.no_matcher(side)
        if no is not None:
            cells = raw.loc[keep, m.column]
            unknown = cells[(cells != "") & ~m.mask(cells) & ~no.mask(cells)]
            if len(unknown):
                counts = unknown.value_counts()
                raise InputError(f"{side} column {m.column} has values that are neither yes "
                                 f"({m}) nor no ({spec.__dict__[side + '_no']}): "
                                 + ", ".join(f"{v!r} ({n} rows)" for v, n in counts.items()),
                                 file=spec.cases)
    frame = pd.DataFrame(index=raw.index[keep])
    frame["row"] = raw.index[keep]
    frame["y"] = sides["outcome"].mask(raw.loc[keep, sides["outcome"].column]).astype(int)
    frame["x"] = sides["exposure"].mask(raw.loc[keep, sides["exposure"].column]).astype(int)
    frame["complete"] = True
    incomplete: Counter = Counter()
    covariates = []
    for name in spec.covariates:
        cov, values, bad = _covariate(raw.loc[keep, name], name, spec)
        frame[name] = values
        for reason, mask in bad.items():
            newly = mask & frame["complete"]
            if newly.any():
                incomplete[reason] += int(newly.sum())
            frame.loc[mask, "complete"] = False
        covariates.append(cov)
    notes = []
    if spec.cluster:
        col = casefold(raw.loc[keep, spec.cluster])
        blank = col == ""
        if blank.any():
            col = col.where(~blank, "(blank, row " + frame["row"].astype(str) + ")")
            notes.append(f"{int(blank.sum())} row(s) with a blank {spec.cluster} are clusters "
                         "of their own")
        frame["cluster"] = col
    for name in dict.fromkeys((*spec.stratify, *spec.subgroups)):
        frame[by_column(name)] = casefold(raw.loc[keep, name])
        blank = int((frame[by_column(name)] == "").sum())
        if blank:
            uses = " and ".join(u for u, names in (("the Mantel-Haenszel strata",
                                                     spec.stratify),
                                                    ("the subgroups", spec.subgroups))
                                if name in names)
            what = f"a blank {name}" + (f" (no readable {spec.occurred} date)"
                                        if name == "year" and derived_year else "")
            notes.append(f"{blank} row(s) with {what} are left out of {uses} by {name}")
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
    examples = [{"row": int(i), "reason": r} for i, r in reasons[~keep].items()][:50]
    return StudyData(frame.reset_index(drop=True), len(raw), dropped, examples, covariates,
                     value_maps, survival_dropped, sha, late, dict(incomplete.most_common()),
                     blank_as_no, suspicious, notes)


def casefold(col: pd.Series) -> pd.Series:
    """Case-folded text cells, folding each distinct value once."""
    distinct = pd.unique(col.to_numpy(dtype=object))
    folded = {v: (v.casefold() if isinstance(v, str) else "") for v in distinct}
    return pd.Series(col.map(folded).to_numpy(dtype=object), index=col.index)


def _as_numbers(col: pd.Series) -> pd.Series:
    """Cells read as numbers (NaN where blank or not a number), converting each distinct
    value once: a category column of 100,000 rows has a handful."""
    values = pd.unique(col.to_numpy(dtype=object))
    numbers = pd.to_numeric(pd.Series(values, dtype=object).where(values != ""),
                            errors="coerce").to_numpy(dtype=float)
    lookup = dict(zip(values, numbers))
    return pd.Series(col.map(lookup).to_numpy(dtype=float), index=col.index)


def _covariate(col: pd.Series, name: str, spec: StudySpec):
    """(Covariate, values, {reason: rows that cannot be used}) for one covariate column."""
    blank = col == ""
    bad = {f"blank covariate {name}": blank}
    if name in spec.numeric_leading:
        numbers = pd.to_numeric(col.str.extract(LEADING_NUMBER, expand=False), errors="coerce")
        bad[f"no number at the start of covariate {name}"] = numbers.isna() & ~blank
        return (Covariate(name, "numeric", how="the number at the start of each cell"),
                numbers.astype(float), bad)
    numbers = _as_numbers(col)
    share = numbers[~blank].notna().mean() if (~blank).any() else 0.0
    if name in spec.numeric or (name not in spec.categorical and share >= NUMERIC_SHARE):
        bad[f"not a number in numeric covariate {name}"] = numbers.isna() & ~blank
        how = "forced numeric" if name in spec.numeric else f"{share:.0%} of cells are numbers"
        return Covariate(name, "numeric", how=how), numbers.astype(float), bad
    norm = casefold(col)
    counts = norm[~blank].value_counts()
    if len(counts) > MAX_LEVELS and name not in spec.categorical:
        raise InputError(f"covariate {name} has {len(counts)} different values, too many for a "
                         f"category (the most common: {', '.join(map(repr, counts.index[:5]))}"
                         f"): declare --categorical {name} if it is one, or --numeric {name} / "
                         f"--numeric-leading {name} if it holds numbers", file=spec.cases)
    levels = tuple(sorted(counts.index, key=lambda v: (-counts[v], v)))
    return (Covariate(name, "categorical", levels,
                      tuple(v for v in levels if counts[v] < RARE_LEVEL),
                      "declared categorical" if name in spec.categorical else
                      f"{share:.0%} of cells are numbers"), norm, bad)


def _near(value: str, targets: tuple[str, ...]) -> bool:
    """A near miss: a target after removing punctuation, or one letter off."""
    squashed = re.sub(r"[^a-z0-9]", "", value)
    for t in targets:
        tt = re.sub(r"[^a-z0-9]", "", t)
        if squashed == tt or (len(tt) > 3 and _one_edit(squashed, tt)):
            return True
    return False


def _one_edit(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b)) == 1
    if len(a) > len(b):
        a, b = b, a
    return any(b[:i] + b[i + 1:] == a for i in range(len(b)))


def _value_map(col: pd.Series, matcher, no) -> tuple[dict[str, dict], list[str]]:
    """Each distinct value, how it was read, its row count; and the values read as "no" that
    look like a yes or are not an explicit no (shown on the console)."""
    counts = col.value_counts()
    out, odd = {}, []
    for v, n in counts.items():
        text = str(v)
        yes = bool(matcher.matches(text))
        low = text.strip().lower()
        explicit_no = (no.matches(text) if no is not None
                       else low in FALSE_WORDS or low == "")
        looks_yes = not yes and (low in TRUE_WORDS or _near(low, matcher.values or ()))
        out[text] = {"yes": yes, "rows": int(n), "explicit_no": bool(explicit_no),
                     "looks_like_yes": bool(looks_yes)}
        if not yes and (looks_yes or not explicit_no):
            odd.append(text)
    return out, odd


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


__all__ = ["Covariate", "StudyData", "by_column", "load", "parse_dates", "read_cases"]
