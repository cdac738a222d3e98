"""Reading tabular input (delimited text or GeoJSON Point features) into records.

Real exports name their columns their own way, leave cells blank, repeat case numbers and save
in odd encodings. A ``ReadOptions`` says how to read one file:

- ``maps``: ``FIELD=COLUMN`` reads a field from another column, ``FIELD=TEMPLATE`` builds it
  from several (``id={year}-{No.}``; ``{row}`` is the spreadsheet row number, for lists without
  unique ids). Column names match ignoring case and surrounding spaces.
- ``sets``: ``FIELD=VALUE`` for a column the file lacks (``source=city``);
  ``defaults``: ``FIELD=VALUE`` for the blank cells of a column (``cleared=no`` where a blank
  cell means no).
- ``encoding`` and ``delimiter`` (see ``videx.textfile``), ``date_format`` (strptime) and
  ``time_column`` (a separate time-of-day column) for dates.

Columns that feed no field are kept with the record (``extra``, JSON), so nothing in the file
is lost and analysts can carry them into the study.

Rows are numbered as a spreadsheet shows them: in a CSV the header is row 1 and the first
record row 2; in GeoJSON, row N is the N-th feature (from 1). Every parse error is an
``InputError`` that names the file, row and column (the file's own column name).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from videx import geo, limits
from videx.errors import InputError, OptionError
from videx.textfile import check_controls, decode_bytes, read_table
from videx.timeutil import iso_utc, now_utc

TRUE_WORDS = {"1", "1.0", "true", "t", "yes", "y"}
FALSE_WORDS = {"0", "0.0", "false", "f", "no", "n"}
MORE_CELLS = None      # key under which read_table counts cells beyond the header
_PLACEHOLDER = re.compile(r"^(?:[xX?#*]+|n/?a|unknown|none|null|tbd|-+)$", re.I)
_TEMPLATE_PART = re.compile(r"\{([^{}]+)\}")
# columns only one kind of file has (to name a file given to the wrong import)
SIGNATURES = {
    "cameras": {"source", "integration", "heading_deg", "fov_deg", "range_m", "owner_name",
                "owner_contact", "retention_days", "clock_offset_s", "kind"},
    "incidents": {"occurred_at", "category", "victims", "shotspotter", "cleared",
                  "cleared_at", "clearance_type", "time_uncertainty_s"}}
_WKT_POINT = re.compile(r"^\s*POINT\s*Z?\s*\(\s*(-?[\d.]+(?:[eE]-?\d+)?)\s+"
                        r"(-?[\d.]+(?:[eE]-?\d+)?)(?:\s+-?[\d.]+)?\s*\)\s*$", re.I)


@dataclass(frozen=True)
class ReadOptions:
    """How to read one input file (see module docstring)."""

    maps: tuple[str, ...] = ()
    sets: tuple[str, ...] = ()
    defaults: tuple[str, ...] = ()
    encoding: str | None = None
    delimiter: str | None = None
    date_format: str | None = None
    time_column: str | None = None

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()
                if v not in (None, ())}


def _pairs(items: tuple[str, ...], option: str, fields: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = str(item).partition("=")
        name = name.strip()
        if not sep or not name or not value.strip():
            raise OptionError(f"{item!r}: use FIELD=VALUE", option)
        if name not in fields:
            raise OptionError(f"{item!r}: unknown field {name!r} (fields: "
                              f"{', '.join(fields)})", option)
        out[name] = value.strip()
    return out


@dataclass(frozen=True)
class Source:
    """Where one field's value comes from: a column, a template over columns, or a constant."""

    kind: str          # "column", "template" or "constant"
    text: str          # the column name, the template, or the value
    columns: tuple[str, ...] = ()

    def label(self, field_name: str) -> str:
        if self.kind == "column":
            return self.text if self.text.lower() == field_name.lower() else \
                f"{self.text} ({field_name})"
        if self.kind == "template":
            return f"{field_name} (from {self.text})"
        return f"{field_name} (set)"

    def value(self, cells: dict, row: int) -> str:
        if self.kind == "constant":
            return self.text
        if self.kind == "column":
            v = cells.get(self.text)
            return "" if v is None else str(v).strip()
        parts = {}
        for name in self.columns:
            if name == "row":
                parts[name] = str(row)
                continue
            v = cells.get(name)
            v = "" if v is None else str(v).strip()
            if not v:
                return ""       # a template with a blank part gives a blank value
            parts[name] = v
        return _TEMPLATE_PART.sub(lambda m: parts[_column_key(m.group(1), parts)], self.text)


def _column_key(name: str, parts: dict) -> str:
    return name if name in parts else next(k for k in parts if k.lower() == name.strip().lower())


class Mapping:
    """Resolves each videx field of a file to a ``Source`` and keeps the unused columns."""

    def __init__(self, file: str, columns: list[str], fields: list[str], options: ReadOptions):
        self.file = file
        self.columns = columns
        by_lower: dict[str, str] = {}
        for c in columns:
            by_lower.setdefault(c.strip().lower(), c)

        def find(name: str) -> str | None:
            return by_lower.get(name.strip().lower())

        maps = _pairs(options.maps, "map", fields)
        sets = _pairs(options.sets, "set", fields)
        self.defaults = _pairs(options.defaults, "default", fields)
        self.sources: dict[str, Source] = {}
        for name, spec in maps.items():
            if name in sets:
                raise OptionError(f"{name} is both mapped and set", "set")
            if "{" in spec:
                refs = []
                for ref in _TEMPLATE_PART.findall(spec):
                    if ref.strip().lower() == "row":
                        refs.append("row")
                        continue
                    col = find(ref)
                    if col is None:
                        raise OptionError(f"{name}={spec}: no column {ref!r} in {file} "
                                          f"(columns: {', '.join(columns)}; {{row}} is the "
                                          "row number)", "map")
                    refs.append(col)
                template = _TEMPLATE_PART.sub(lambda m: "{" + (
                    "row" if m.group(1).strip().lower() == "row" else find(m.group(1))) + "}",
                    spec)
                self.sources[name] = Source("template", template, tuple(refs))
            else:
                col = find(spec)
                if col is None:
                    raise OptionError(f"{name}={spec}: no column {spec!r} in {file} "
                                      f"(columns: {', '.join(columns)})", "map")
                self.sources[name] = Source("column", col, (col,))
        for name, value in sets.items():
            self.sources[name] = Source("constant", value)
        for name in fields:
            if name not in self.sources and find(name):
                self.sources[name] = Source("column", find(name), (find(name),))
        if options.time_column:
            col = find(options.time_column)
            if col is None:
                raise OptionError(f"no column {options.time_column!r} in {file} (columns: "
                                  f"{', '.join(columns)})", "time_column")
            self.time_column = col
        else:
            self.time_column = None
        used = {c for s in self.sources.values() for c in s.columns}
        if self.time_column:
            used.add(self.time_column)
        self.extra_columns = [c for c in columns if c not in used]

    def require(self, required: list[str], alternatives: dict[str, str] | None = None,
                kind: str | None = None) -> None:
        """One InputError listing the required fields no column, map or set provides (and,
        when the columns are those of the other kind of file, saying so)."""
        alternatives = alternatives or {}
        missing = [f for f in required if f not in self.sources
                   and alternatives.get(f) not in self.sources]
        if missing:
            raise InputError(f"missing column{'s' if len(missing) > 1 else ''} "
                             f"{', '.join(missing)} (found: {', '.join(self.columns)}; map one "
                             "with FIELD=COLUMN or set a value for the whole file)"
                             + self.looks_like(kind), file=self.file)

    def looks_like(self, kind: str | None) -> str:
        """A hint when the file's columns are those of another kind of file."""
        have = {c.strip().lower() for c in self.columns}
        for other, columns in SIGNATURES.items():
            if other != kind and kind is not None and len(have & columns) >= 2:
                return (f"; its columns ({', '.join(sorted(have & columns))}) are those of "
                        f"{other}: import it with videx {other} import")
        return ""

    def placeholder(self, name: str, cells: dict) -> str | None:
        """The cell feeding field ``name`` that is a placeholder (``XXX``, ``???``, ``N/A``),
        or None."""
        src = self.sources.get(name)
        for col in (src.columns if src else ()):
            v = "" if col == "row" or cells.get(col) is None else str(cells.get(col)).strip()
            if v and _PLACEHOLDER.match(v):
                return v
        return None

    def fields(self, cells: dict, row: int) -> tuple[dict, dict, dict]:
        """(field values, field labels for errors, extra columns) of one row."""
        values, labels = {}, {}
        for name, src in self.sources.items():
            v = src.value(cells, row)
            if not v and name in self.defaults:
                v = self.defaults[name]
            values[name] = v
            labels[name] = src.label(name)
        for name, value in self.defaults.items():
            if name not in values:
                values[name], labels[name] = value, f"{name} (default)"
        if self.time_column:
            values["__time__"] = str(cells.get(self.time_column) or "").strip()
            labels["__time__"] = self.time_column
        extra = {c: ("" if cells.get(c) is None else str(cells.get(c)).strip())
                 for c in self.extra_columns}
        return values, labels, extra


def load_table(path: str | Path, options: ReadOptions) -> tuple[list[str],
                                                                 list[tuple[int, dict]]]:
    """(columns, [(row number, cells)]) of a delimited text file or a GeoJSON file."""
    path = Path(path)
    if path.suffix.lower() in (".geojson", ".json"):
        try:
            data = path.read_bytes()
        except FileNotFoundError as err:
            raise InputError("file not found", file=str(path)) from err
        rows, columns = _geojson_rows(path, decode_bytes(data, str(path), options.encoding))
        return columns, rows
    if path.exists() and path.read_bytes()[:64].lstrip().startswith(b"{"):
        rows, columns = _geojson_rows(path, decode_bytes(path.read_bytes(), str(path),
                                                         options.encoding))
        return columns, rows
    return read_table(path, options.encoding, options.delimiter)


def _geojson_rows(path: Path, text: str):
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"not valid JSON: {err.msg} at line {err.lineno}",
                         file=str(path)) from err
    except RecursionError as err:
        raise InputError("JSON nested too deeply to be GeoJSON features (a damaged or hostile "
                         "file)", file=str(path)) from err
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(features, list):
        raise InputError("not a GeoJSON FeatureCollection", file=str(path))
    rows, columns = [], []
    for i, feat in enumerate(features, start=1):
        props = _feature_cells(path, i, feat)
        for key in props:
            if key not in columns:
                columns.append(key)
        rows.append((i, props))
    return rows, columns


def _feature_cells(path: Path, i: int, feat) -> dict:
    """One GeoJSON Point feature as cells (properties plus lat/lon); InputError naming the
    feature for any other shape."""
    def bad(message: str, column: str = "geometry") -> InputError:
        return InputError(message, file=str(path), row=i, column=column)

    if not isinstance(feat, dict):
        raise bad(f"feature is {type(feat).__name__}, not an object", None)
    geom = feat.get("geometry")
    if not isinstance(geom, dict):
        raise bad("geometry is missing or not an object")
    if geom.get("type") != "Point":
        raise bad(f"geometry is {geom.get('type')!r}, expected Point")
    coords = geom.get("coordinates")
    if (not isinstance(coords, list) or len(coords) < 2
            or not all(isinstance(c, (int, float)) and not isinstance(c, bool)
                       for c in coords[:2])):
        raise bad("Point coordinates must be [lon, lat] numbers")
    props = feat.get("properties")
    if props is None:
        props = {}
    if not isinstance(props, dict):
        raise bad("properties must be an object", "properties")
    cells = {}
    for key, value in props.items():
        if isinstance(value, (dict, list)):
            raise bad(f"property {key!r} is a {type(value).__name__}, not a single value", key)
        if isinstance(value, str):
            check_controls(value, str(path), i, key)
        cells[key] = "" if value is None else value
    cells["lon"], cells["lat"] = coords[0], coords[1]
    return cells


class Cells:
    """Typed access to one row's fields, raising InputError with file, row and the column the
    value came from."""

    def __init__(self, file: str, row: int, fields: dict, labels: dict | None = None,
                 options: ReadOptions | None = None):
        self.file, self.row, self.fields = file, row, fields
        self.labels = labels or {}
        self.options = options or ReadOptions()

    def error(self, column: str | None, message: str) -> InputError:
        return InputError(message, file=self.file, row=self.row,
                          column=self.labels.get(column, column) if column else None)

    def text(self, column: str, required: bool = False) -> str | None:
        value = self.fields.get(column)
        value = "" if value is None else str(value).strip()
        if not value:
            if required:
                raise self.error(column, "value is required")
            return None
        return value

    def number(self, column: str, required: bool = False, lo: float | None = None,
               hi: float | None = None, integer: bool = False,
               above: bool = False) -> float | None:
        """A number cell within [lo, hi] (``above``: strictly above ``lo``), finite, and
        within 64 bits when ``integer``."""
        value = self.text(column, required)
        if value is None:
            return None
        try:
            num = float(value)
        except ValueError as err:
            raise self.error(column, f"{value!r} is not a number") from err
        if num != num:  # NaN
            raise self.error(column, f"{value!r} is not a number")
        problem = limits.number_problem(num, integer)
        if problem:
            raise self.error(column, f"{value} {problem}")
        if (lo is not None and (num < lo or (above and num == lo))) or (
                hi is not None and num > hi):
            low = f"{'above' if above else '>='} {lo:g}" if lo is not None else None
            allowed = (f"{lo:g}..{hi:g}" if lo is not None and hi is not None and not above
                       else f"{low} and <= {hi:g}" if low and hi is not None
                       else low if low else f"<= {hi:g}")
            raise self.error(column, f"{value} is outside the allowed range {allowed}")
        if integer:
            if num != int(num):
                raise self.error(column, f"{value!r} is not a whole number")
            return int(num)
        return num

    def boolean(self, column: str) -> bool | None:
        value = self.text(column)
        if value is None:
            return None
        if value.lower() in TRUE_WORDS:
            return True
        if value.lower() in FALSE_WORDS:
            return False
        raise self.error(column, f"{value!r} is not yes/no (use true/false, yes/no or 1/0)")

    def choice(self, column: str, choices: tuple[str, ...], required: bool = False,
               aliases: dict[str, str] | None = None) -> str | None:
        value = self.text(column, required)
        if value is None:
            return None
        key = value.lower().replace("_", "-").replace(" ", "-")
        key = (aliases or {}).get(key, key)
        if key not in choices:
            raise self.error(column, f"unknown {column} {value!r} (expected one of: "
                             f"{', '.join(choices)})")
        return key

    def point(self, bounds) -> tuple[float, float]:
        """(lat, lon) from ``lat``/``lon`` or a WKT ``point`` field, checked: present, in
        range, not a placeholder (0,0 or -1,-1), inside the city ``bounds`` when set."""
        if self.text("point") and not (self.text("lat") or self.text("lon")):
            m = _WKT_POINT.match(self.text("point"))
            if not m:
                raise self.error("point", f"{self.text('point')!r} is not a WKT POINT "
                                 "(lon lat)")
            lon, lat = float(m.group(1)), float(m.group(2))
            column = "point"
        else:
            if not self.text("lat") and not self.text("lon"):
                raise self.error("lat", "no coordinates (blank): the row was not geocoded")
            lat = self.number("lat", required=True)
            lon = self.number("lon", required=True)
            column = "lat"
        if (lat, lon) in ((0.0, 0.0), (-1.0, -1.0)):
            raise self.error(column, f"{lat:g},{lon:g} is a placeholder for a row that was "
                             "not geocoded, not a place")
        swapped = (bounds and geo.in_bounds(lon, lat, bounds)
                   and not geo.in_bounds(lat, lon, bounds))
        hint = (f"; swapped ({lon:g},{lat:g}) it is inside the city: lat and lon look "
                "swapped (read them from each other's column with --map lat=COLUMN --map "
                "lon=COLUMN)") if swapped else ""
        try:
            geo.check_latlon(lat, lon)
        except ValueError as err:
            raise self.error(column, f"{err}{hint}") from err
        if bounds and not geo.in_bounds(lat, lon, bounds):
            raise self.error(column, f"{lat},{lon} is outside the city bounds "
                             f"{','.join(format(b, 'g') for b in bounds)}{hint}")
        return lat, lon


def parse_file(path: str | Path, fields: list[str], required: list[str],
               parse_row: Callable[[Cells], dict], options: ReadOptions | None = None,
               alternatives: dict[str, str] | None = None, kind: str | None = None
               ) -> tuple[list[tuple[int, dict]], list[InputError]]:
    """Parse every row with ``parse_row``; return ([(row, record)], errors), refusing duplicate
    ids. A bad row never stops the others from being checked. Each record gets ``extra``: the
    row's unused columns as JSON (None when there are none)."""
    options = options or ReadOptions()
    columns, rows = load_table(path, options)
    mapping = Mapping(str(path), columns, fields, options)
    mapping.require(required, alternatives, kind)
    good, errors, seen = [], [], {}
    for number, raw in rows:
        try:
            values, labels, extra = mapping.fields(raw, number)
            cells = Cells(str(path), number, values, labels, options)
            if raw.get(MORE_CELLS):
                raise cells.error(None, f"{raw[MORE_CELLS]} more cell(s) than the header has "
                                  "columns")
            problem = limits.id_problem(cells.text("id") or "")
            if problem:
                raise cells.error("id", problem)
            fake = mapping.placeholder("id", raw)
            if fake:
                raise cells.error("id", f"{fake!r} is a placeholder, not a case number (build "
                                  "the id with {row} to keep such rows)")
            if not cells.text("id"):
                raise cells.error("id", "no id (a blank case number: a continuation row of "
                                  "the one above?)")
            record = parse_row(cells)
            record["extra"] = json.dumps(extra, ensure_ascii=False) if extra else None
            if record["id"] in seen:
                raise cells.error("id", f"duplicate id {record['id']!r} (first on row "
                                  f"{seen[record['id']]})")
            seen[record["id"]] = number
            good.append((number, record))
        except InputError as err:
            errors.append(err)
    return good, errors


def swapped_hints(path: str | Path, good: list[tuple[int, dict]], bounds,
                  ) -> tuple[list[tuple[int, dict]], list[InputError]]:
    """Without city bounds, refuse points far from all others (usually lat and lon swapped)."""
    if bounds or len(good) < 3:
        return good, []
    far = dict(geo.outlier_check([(r["lat"], r["lon"]) for _, r in good]))
    errors = [InputError(f"{record['lat']},{record['lon']} is {far[i] / 1000:.0f} km from "
                         "the others; are lat and lon swapped? (set city bounds with videx "
                         "init --bounds)", file=str(path), row=number, column="lat")
              for i, (number, record) in enumerate(good) if i in far]
    return [g for i, g in enumerate(good) if i not in far], errors


def reason_key(err: InputError) -> str:
    """An error's reason without its particular values, for counting refusals by kind."""
    reason = re.sub(r"'[^']*'|\"[^\"]*\"|-?\d+(?:\.\d+)?(?:,-?\d+(?:\.\d+)?)?", "…",
                    err.reason)
    return f"{err.column or 'row'}: {reason}"


GROUP_FROM = 4          # this many rows failing for one reason are one line
FIRST_ROWS = 5          # row numbers named on a grouped line


@dataclass(frozen=True)
class ErrorGroup:
    """Rows refused for one reason: the first row's error and every row number."""

    key: str
    first: InputError
    rows: tuple[int, ...]

    def line(self) -> str:
        if len(self.rows) < GROUP_FROM:
            raise ValueError("not a group")
        e = self.first
        where = ", ".join(x for x in (e.file, f"column {e.column}" if e.column else None) if x)
        shown = ", ".join(str(r) for r in self.rows[:FIRST_ROWS])
        more = f" and {len(self.rows) - FIRST_ROWS} more" if len(self.rows) > FIRST_ROWS else ""
        return f"{where}: {len(self.rows)} rows ({shown}{more}), e.g. row {e.row}: {e.reason}"


def group_errors(errors: list[InputError]) -> list[InputError | ErrorGroup]:
    """Errors in row order, those sharing a reason with GROUP_FROM or more rows folded into
    one ErrorGroup (placed where its first row is)."""
    by_key: dict[str, list[InputError]] = {}
    for e in errors:
        by_key.setdefault(reason_key(e), []).append(e)
    out: list[InputError | ErrorGroup] = []
    done: set[str] = set()
    for e in errors:
        key = reason_key(e)
        if len(by_key[key]) < GROUP_FROM:
            out.append(e)
        elif key not in done:
            done.add(key)
            out.append(ErrorGroup(key, e, tuple(x.row or 0 for x in by_key[key])))
    return out


_DECIMAL_COMMA = re.compile(r"^'-?\d+,\d+' is not a number")


def error_hints(errors: list[InputError]) -> list[str]:
    """Likely causes of many refusals at once (one line each)."""
    hints = []
    commas = [e for e in errors if _DECIMAL_COMMA.match(e.reason)]
    if commas:
        value = commas[0].reason.split("'")[1]
        hints.append(f"{len(commas)} number(s) such as '{value}' are written with a decimal "
                     "comma (a European spreadsheet export): save the file with decimal "
                     f"points ({value.replace(',', '.')})")
    return hints


@dataclass(frozen=True)
class RowChange:
    """What importing a row would change in an existing record: (field, old, new) as shown
    to people (local times in the catalog's zone)."""

    id: str
    row: int | None
    fields: tuple[tuple[str, str, str], ...]

    def text(self) -> str:
        return f"{self.id} " + ", ".join(f"{f} {old} -> {new}" for f, old, new in self.fields)

    def to_dict(self) -> dict:
        return {"id": self.id, "row": self.row,
                "fields": {f: [old, new] for f, old, new in self.fields}}


def describe_value(value) -> str:
    return "(blank)" if value is None or value == "" else str(value)


def plain_changes(old: dict, new: dict) -> list[tuple[str, str, str]]:
    """Every field of ``new`` whose value differs from the stored row ``old``."""
    return [(k, describe_value(old.get(k)), describe_value(v)) for k, v in new.items()
            if k != "id" and old.get(k) != v]


@dataclass(frozen=True)
class ImportReport:
    """What an import did (or, in a dry run or when refused as a whole, would do): ids
    added / changed / unchanged, the rows refused (bad, a likely duplicate, or a change to an
    existing record without ``update``), every change with its fields, and warnings."""

    file: str
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    written: bool = False
    dry_run: bool = False
    update: bool = False
    skip_bad: bool = False
    changes: list[RowChange] = field(default_factory=list)
    unapplied: list[RowChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    noun: str = "record"

    @property
    def refused(self) -> int:
        return len(self.errors) + len(self.unapplied)

    @property
    def exit_code(self) -> int:
        """0 done; 1 nothing imported (bad or refused rows, without --skip-bad); 3 imported
        in part (some rows refused). A dry run exits as the import would."""
        if self.refused and not self.skip_bad:
            return 1
        return 3 if self.refused else 0

    def refusals(self) -> dict[str, int]:
        """{kind of refusal: rows}, most frequent first."""
        kinds = Counter(reason_key(e) for e in self.errors)
        if self.unapplied:
            kinds["row: would change an existing record (needs --update)"] = len(self.unapplied)
        return dict(kinds.most_common())

    def counts(self) -> str:
        return (f"{len(self.added)} added, {len(self.changed)} changed, "
                f"{len(self.unchanged)} unchanged, {self.refused} refused")

    def change_lines(self) -> list[str]:
        """What changed (or would change), fields counted, with three examples."""
        out = []
        for rows, how in ((self.changes, "changed" if self.written else "would change"),
                          (self.unapplied, "would change (refused: pass --update to change "
                                           "them; --dry-run to review)")):
            if not rows:
                continue
            fields = Counter(f for c in rows for f, _, _ in c.fields)
            out.append(f"{len(rows)} existing {self.noun}(s) {how}: "
                       + ", ".join(f"{f} ({n})" for f, n in fields.most_common()))
            out += [f"  {c.text()}" for c in rows[:3]]
        return out

    def summary(self) -> str:
        lines = self.change_lines()
        if self.dry_run:
            lines.append(f"{self.file}: dry run, nothing written: {self.counts()}")
        elif not self.written:
            todo = []
            if self.unapplied:
                todo.append(f"pass --update to change the {len(self.unapplied)} existing "
                            f"{self.noun}(s) named above")
            if self.errors:
                todo.append(f"fix the {len(self.errors)} bad row(s)")
            lines.append(f"{self.file}: nothing imported ({self.counts()}): "
                         + " and ".join(todo) + ", or pass --skip-bad to import the other rows")
        else:
            lines.append(f"{self.file}: {self.counts()}")
        if self.errors:
            lines += [f"  {n} x {kind}" for kind, n in self.refusals().items()]
        return "\n".join(lines)

    def refused_rows(self) -> list[dict]:
        """Every refused row (for --errors-out): file, row, column, reason."""
        rows = [{"file": e.file, "row": e.row, "column": e.column, "reason": e.reason}
                for e in self.errors]
        rows += [{"file": self.file, "row": c.row, "column": ", ".join(f for f, _, _ in
                                                                        c.fields),
                  "reason": f"would change {c.text()} (pass --update)"} for c in self.unapplied]
        return sorted(rows, key=lambda r: r["row"] or 0)

    def to_dict(self) -> dict:
        return {"file": self.file, "added": self.added, "changed": self.changed,
                "unchanged": self.unchanged, "written": self.written, "dry_run": self.dry_run,
                "refused": [{"file": e.file, "row": e.row, "column": e.column,
                             "reason": e.reason, "message": str(e)} for e in self.errors],
                "refused_by_reason": self.refusals(),
                "changes": [c.to_dict() for c in self.changes],
                "unapplied_changes": [c.to_dict() for c in self.unapplied],
                "warnings": self.notes, "hints": self.hints, "exit_code": self.exit_code}


@dataclass
class _Plan:
    added: list[tuple[int, dict]] = field(default_factory=list)
    changed: list[tuple[int, dict, dict, RowChange]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    unapplied: list[RowChange] = field(default_factory=list)
    refused: list[InputError] = field(default_factory=list)


def write_import(cat, table: str, path: str | Path, good: list[tuple[int, dict]],
                 errors: list[InputError], skip_bad: bool, command: str, args: dict,
                 on_changed: Callable[[dict, dict], None] | None = None, *,
                 update: bool = False, dry_run: bool = False,
                 vet: Callable[[object, list[tuple[int, dict, dict | None]]],
                               list[InputError]] | None = None,
                 changes: Callable[[dict, dict], list[tuple[str, str, str]]] = plain_changes,
                 notes: tuple[str, ...] = (), noun: str = "record") -> ImportReport:
    """Upsert the good ``(row, record)`` pairs into ``table`` in one transaction with its
    audit entry, never silently rewriting the record:

    - a record whose id exists and whose fields differ is a change: made only with
      ``update``, otherwise refused (named, with its fields);
    - ``vet(cat, [(row, record, stored row or None)])`` may refuse more rows (e.g. likely
      duplicates), given the catalog as it is inside the transaction;
    - with any refused row (bad, vetted out, a change without ``update``) nothing is written
      unless ``skip_bad``, which never implies ``update``;
    - ``dry_run`` computes the same report in a read transaction and writes nothing.

    ``on_changed(old, new)`` runs for each change, inside the same transaction; ``changes``
    lists a change's fields for people."""
    errors = sorted(errors, key=lambda e: e.row or 0)
    store = getattr(cat, table)

    def plan() -> _Plan:
        p = _Plan(refused=list(errors))
        stored = rows_by_id(cat, table, [r["id"] for _, r in good])
        candidates = []
        for row, rec in good:
            old = stored.get(rec["id"])
            if old is None:
                candidates.append((row, rec, None))
                continue
            diff = changes(old, rec)
            if not diff:
                p.unchanged.append(rec["id"])
            elif update:
                candidates.append((row, rec, old))
            else:
                p.unapplied.append(RowChange(rec["id"], row, tuple(diff)))
        vetoed = vet(cat, candidates) if vet else []
        refused_rows = {e.row for e in vetoed}
        p.refused = sorted(p.refused + vetoed, key=lambda e: e.row or 0)
        for row, rec, old in candidates:
            if row in refused_rows:
                continue
            if old is None:
                p.added.append((row, rec))
            else:
                p.changed.append((row, rec, old, RowChange(rec["id"], row,
                                                           tuple(changes(old, rec)))))
        return p

    def report(p: _Plan, written: bool) -> ImportReport:
        return ImportReport(
            str(path), [r["id"] for _, r in p.added], [r["id"] for _, r, _, _ in p.changed],
            p.unchanged, p.refused, written, dry_run, update, skip_bad,
            [c for _, _, _, c in p.changed], p.unapplied, list(notes),
            error_hints(p.refused), noun)

    if dry_run or (errors and not skip_bad):
        with cat.reading():
            return report(plan(), False)
    now = iso_utc(now_utc())
    with cat.write(command, {"file": str(path), "skip_bad": skip_bad, "update": update,
                             **args}) as tx:
        p = plan()
        if (p.refused or p.unapplied) and not skip_bad:
            tx.cancelled = True
            return report(p, False)
        for _, rec in p.added:
            store.upsert(rec, now)
        for _, rec, old, _ in p.changed:
            store.upsert(rec, now)
            if on_changed:
                on_changed(old, rec)
        tx.args.update({"added": len(p.added), "changed": len(p.changed),
                        "changed_fields": dict(Counter(
                            f for _, _, _, c in p.changed for f, _, _ in c.fields)),
                        "skipped_rows": sorted(e.row for e in p.refused if e.row)
                        + sorted(c.row for c in p.unapplied if c.row)})
    return report(p, True)


def rows_by_id(cat, table: str, ids: list[str]) -> dict[str, dict]:
    """{id: stored row} of the ``ids`` that exist in ``table``."""
    from videx.store.records import rows_by_id as read
    return read(cat, table, ids)
