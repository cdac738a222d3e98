"""Rendering rows for people (aligned tables) and programs (JSON, CSV, GeoJSON).

CSV cells that are text and start with ``=``, ``+``, ``-`` or ``@`` get a leading apostrophe so
a spreadsheet shows them instead of running them as formulas; numbers are written as numbers,
booleans as ``yes``/``no`` and unknown values as an empty cell. Tables show booleans as
``yes``/``no``; JSON keeps ``true``/``false``/``null``.
"""

from __future__ import annotations

import io
import json

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """Neutralise text that a spreadsheet would run as a formula."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str)
    return value


def to_json(data) -> str:
    """Pretty JSON with stable key order as given."""
    return json.dumps(data, indent=2, default=str)


def to_csv(rows: list[dict], columns: list[str] | None = None) -> str:
    """CSV with a header; ``columns`` defaults to the keys of the first row."""
    columns = columns or (list(rows[0]) if rows else [])
    buf = io.StringIO()
    import csv
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([safe_cell(row.get(c)) for c in columns])
    return buf.getvalue()


def to_table(rows: list[dict], columns: list[str] | None = None, max_width: int = 48) -> str:
    """A plain aligned text table for a terminal."""
    columns = columns or (list(rows[0]) if rows else [])
    if not rows:
        return "(none)"

    def cell(v) -> str:
        text = ("" if v is None else {True: "yes", False: "no"}[v] if isinstance(v, bool)
                else f"{v:g}" if isinstance(v, float) else str(v))
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    body = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(b[i]) for b in body)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(b, widths)).rstrip() for b in body]
    return "\n".join(lines)


def to_geojson(rows: list[dict], lat: str = "lat", lon: str = "lon") -> dict:
    """A FeatureCollection of Point features from rows with lat/lon keys."""
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [r[lon], r[lat]]},
         "properties": {k: v for k, v in r.items() if k not in (lat, lon)}} for r in rows]}


def render(rows: list[dict], fmt: str, columns: list[str] | None = None) -> str:
    """Render rows as ``table`` (with ``columns``), ``json``, ``csv`` or ``geojson``."""
    if fmt == "json":
        return to_json(rows)
    if fmt == "csv":
        return to_csv(rows, columns if columns and not rows else None).rstrip("\n")
    if fmt == "geojson":
        return to_json(to_geojson(rows))
    return to_table(rows, columns)


def stream(rows, fmt: str, columns: list[str], write, lat: str = "lat",
           lon: str = "lon") -> int:
    """Write rows as they come (``write(text)`` without a newline added): CSV (header first,
    even with no rows), JSON (a list) or GeoJSON (a FeatureCollection); a table needs every
    row first. Returns the number of rows."""
    n = 0
    if fmt == "table":
        rows = list(rows)
        write(to_table(rows, columns) + "\n")
        return len(rows)
    if fmt == "csv":
        import csv
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        write(buf.getvalue())
        for row in rows:
            buf.seek(0)
            buf.truncate()
            writer.writerow([safe_cell(row.get(c)) for c in columns])
            write(buf.getvalue())
            n += 1
        return n
    if fmt == "geojson":
        write('{"type": "FeatureCollection", "features": [')
    else:
        write("[")
    for row in rows:
        if fmt == "geojson":
            item = {"type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [row[lon], row[lat]]},
                    "properties": {k: v for k, v in row.items() if k not in (lat, lon)}}
        else:
            item = row
        write(("," if n else "") + "\n" + json.dumps(item, default=str))
        n += 1
    write("\n]}\n" if fmt == "geojson" else "\n]\n")
    return n
