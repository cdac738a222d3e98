"""Reading tabular input (CSV or GeoJSON Point features) into rows, and parsing cell values.

Rows are numbered as a spreadsheet shows them: in a CSV the header is row 1 and the first
record row 2; in GeoJSON, row N is the N-th feature (from 1). Every parse error is an
``InputError`` that names the file, row and column.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from videx.errors import InputError

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
    for field, column in mapping.items():
        if column not in columns:
            raise InputError(f"--map {field}={column}: no column {column!r} in the file "
                             f"(found: {', '.join(columns)})", file=str(path))
    reverse = {column: field for field, column in mapping.items()}
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
        geom = (feat or {}).get("geometry") or {}
        if geom.get("type") != "Point":
            raise InputError(f"geometry is {geom.get('type')!r}, expected Point",
                             file=str(path), row=i, column="geometry")
        coords = geom.get("coordinates") or []
        if len(coords) < 2:
            raise InputError("Point has no coordinates", file=str(path), row=i,
                             column="geometry")
        props = {k: ("" if v is None else v) for k, v in (feat.get("properties") or {}).items()}
        props["lon"], props["lat"] = coords[0], coords[1]
        for key in props:
            if key not in columns:
                columns.append(key)
        rows.append((i, props))
    return rows, columns


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
