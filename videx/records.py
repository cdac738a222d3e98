"""Reading tabular input (CSV or GeoJSON Point features) into rows, and parsing cell values.

Rows are numbered as a spreadsheet shows them: in a CSV the header is row 1 and the first
record row 2; in GeoJSON, row N is the N-th feature (from 1). Every parse error is an
``InputError`` that names the file, row and column.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from videx.errors import InputError
from videx.timeutil import iso_utc, now_utc

TRUE_WORDS = {"1", "true", "t", "yes", "y"}
FALSE_WORDS = {"0", "false", "f", "no", "n"}
EXTRA = "__extra_cells__"


def read_rows(path: str | Path, required: list[str],
              mapping: dict[str, str] | None = None) -> list[tuple[int, dict]]:
    """Read ``path`` (CSV, or GeoJSON with Point geometry) into ``[(row_number, fields)]``.

    ``mapping`` renames source columns to videx fields (``{"occurred_at": "OCC_DATE"}``).
    Missing required columns raise one InputError naming them.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", file=str(path))
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    if path.suffix.lower() in (".geojson", ".json") or text.lstrip().startswith("{"):
        rows, columns = _geojson_rows(path, text)
    else:
        rows, columns = _csv_rows(path, text)
    mapping = mapping or {}
    for name, column in mapping.items():
        if column not in columns:
            raise InputError(f"--map {name}={column}: no column {column!r} in the file "
                             f"(found: {', '.join(columns)})", file=str(path))
    reverse = {column: name for name, column in mapping.items()}
    present = {reverse.get(c, c) for c in columns}
    missing = [c for c in required if c not in present]
    if missing:
        raise InputError(f"missing column{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(missing)} (found: {', '.join(columns)})", file=str(path))
    out = []
    for number, row in rows:
        out.append((number, {reverse.get(k, k): v for k, v in row.items()}))
    return out


def _csv_rows(path: Path, text: str):
    reader = csv.DictReader(text.splitlines())
    columns = [c.strip() for c in (reader.fieldnames or [])]
    if not columns:
        raise InputError("empty file or no header row", file=str(path))
    rows = []
    for i, raw in enumerate(reader, start=2):
        fields = {k.strip(): (v.strip() if isinstance(v, str) else v)
                  for k, v in raw.items() if k is not None}
        if raw.get(None):
            fields[EXTRA] = len(raw[None])
        rows.append((i, fields))
    return rows, columns


def _geojson_rows(path: Path, text: str):
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"not valid JSON: {err.msg} at line {err.lineno}",
                         file=str(path)) from err
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
        cells[key] = "" if value is None else value
    cells["lon"], cells["lat"] = coords[0], coords[1]
    return cells


class Cells:
    """Typed access to one row's cells, raising InputError with file/row/column."""

    def __init__(self, file: str, row: int, fields: dict):
        self.file, self.row, self.fields = file, row, fields
        if EXTRA in fields:
            raise self.error(None, f"{fields[EXTRA]} more cell(s) than the header has columns")

    def error(self, column: str | None, message: str) -> InputError:
        return InputError(message, file=self.file, row=self.row, column=column)

    def text(self, column: str, required: bool = False) -> str | None:
        value = self.fields.get(column)
        value = "" if value is None else str(value).strip()
        if not value:
            if required:
                raise self.error(column, "value is required")
            return None
        return value

    def number(self, column: str, required: bool = False, lo: float | None = None,
               hi: float | None = None, integer: bool = False) -> float | None:
        value = self.text(column, required)
        if value is None:
            return None
        try:
            num = float(value)
        except ValueError as err:
            raise self.error(column, f"{value!r} is not a number") from err
        if num != num:  # NaN
            raise self.error(column, f"{value!r} is not a number")
        if (lo is not None and num < lo) or (hi is not None and num > hi):
            allowed = (f"{lo:g}..{hi:g}" if lo is not None and hi is not None
                       else f">= {lo:g}" if lo is not None else f"<= {hi:g}")
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


def parse_file(path: str | Path, required: list[str], parse_row: Callable[[Cells], dict],
               mapping: dict[str, str] | None = None) -> tuple[list[tuple[int, dict]],
                                                                list[InputError]]:
    """Parse every row with ``parse_row``; return ([(row, record)], errors), refusing duplicate
    ids. A bad row never stops the others from being checked."""
    good, errors, seen = [], [], {}
    for number, fields in read_rows(path, required, mapping):
        try:
            cells = Cells(str(path), number, fields)
            record = parse_row(cells)
            if record["id"] in seen:
                raise cells.error("id", f"duplicate id {record['id']!r} (first on row "
                                  f"{seen[record['id']]})")
            seen[record["id"]] = number
            good.append((number, record))
        except InputError as err:
            errors.append(err)
    return good, errors


@dataclass(frozen=True)
class ImportReport:
    """What an import did: ids added/changed/unchanged and the rows refused (with reasons)."""

    file: str
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    written: bool = False

    def summary(self) -> str:
        if not self.written:
            return (f"{self.file}: nothing imported, {len(self.errors)} bad row(s); fix them or "
                    "pass --skip-bad to import the good rows")
        text = (f"{self.file}: {len(self.added)} added, {len(self.changed)} changed, "
                f"{len(self.unchanged)} unchanged")
        if self.errors:
            text += f", {len(self.errors)} bad row(s) skipped"
        return text

    def to_dict(self) -> dict:
        return {"file": self.file, "added": self.added, "changed": self.changed,
                "unchanged": self.unchanged, "written": self.written,
                "errors": [str(e) for e in self.errors]}


def write_import(cat, table: str, path: str | Path, records: list[dict],
                 errors: list[InputError], skip_bad: bool, command: str, args: dict,
                 on_changed: Callable[[dict, dict], None] | None = None) -> ImportReport:
    """Upsert ``records`` into ``table`` in one transaction with its audit entry; write nothing
    when there are errors unless ``skip_bad``. ``on_changed(old, new)`` runs for each change,
    inside the same transaction."""
    errors = sorted(errors, key=lambda e: e.row or 0)
    if errors and not skip_bad:
        return ImportReport(str(path), errors=errors)
    outcomes: dict[str, list[str]] = {"added": [], "changed": [], "unchanged": []}
    now = iso_utc(now_utc())
    store = getattr(cat, table)
    with cat.write(command, {"file": str(path), "skip_bad": skip_bad, **args}) as tx:
        for rec in records:
            outcome, old = store.upsert(rec, now)
            outcomes[outcome].append(rec["id"])
            if outcome == "changed" and on_changed:
                on_changed(old, rec)
        tx.args.update({"added": len(outcomes["added"]), "changed": len(outcomes["changed"]),
                        "skipped_rows": [e.row for e in errors]})
    return ImportReport(str(path), errors=errors, written=True, **outcomes)
