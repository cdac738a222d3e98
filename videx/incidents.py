"""Shootings from the records system: import, list, show.

``occurred_at`` must carry an offset, or be read in an explicit zone (``--tz`` or the zone set
with ``videx init --tz``); DST-ambiguous or non-existent local times are errors naming the row.
"""

from __future__ import annotations

from pathlib import Path

from videx import geo
from videx.errors import VidexError
from videx.records import Cells, ImportReport, parse_file, write_import
from videx.timeutil import iso_utc, parse_instant

FIELDS = ["id", "occurred_at", "time_uncertainty_s", "lat", "lon", "address", "neighborhood",
          "category", "victims", "shotspotter", "cleared", "cleared_at", "clearance_type"]
REQUIRED = ["id", "occurred_at", "lat", "lon"]
CATEGORIES = ("fatal", "non-fatal", "shots-fired")
CATEGORY_ALIASES = {"nonfatal": "non-fatal", "non-fatal-shooting": "non-fatal",
                    "fatal-shooting": "fatal", "homicide": "fatal", "shotsfired": "shots-fired"}


def parse_time(cells: Cells, column: str, tz: str | None, required: bool = False):
    """(UTC datetime, source note) for a time cell, or (None, None) when blank."""
    value = cells.text(column, required)
    if value is None:
        return None, None
    try:
        dt = parse_instant(value, tz)
    except VidexError as err:
        raise cells.error(column, str(err)) from err
    has_offset = parse_has_offset(value)
    return dt, ("offset in input" if has_offset else f"local time in {tz}")


def parse_has_offset(value: str) -> bool:
    """Whether an ISO time string carries its own ``Z`` or ``+HH:MM`` offset."""
    v = value.strip()
    return v.endswith(("Z", "z")) or (len(v) > 10 and ("+" in v[10:] or "-" in v[10:]))


def parse_row(cells: Cells, tz: str | None, bounds) -> dict:
    """Validate one incident row into a record (raises InputError)."""
    occurred, source = parse_time(cells, "occurred_at", tz, required=True)
    cleared_at, _ = parse_time(cells, "cleared_at", tz)
    lat = cells.number("lat", required=True, lo=-90, hi=90)
    lon = cells.number("lon", required=True, lo=-180, hi=180)
    if bounds and not geo.in_bounds(lat, lon, bounds):
        raise cells.error("lat", f"{lat},{lon} is outside the city bounds "
                          f"{','.join(format(b, 'g') for b in bounds)}")
    cleared = cells.boolean("cleared")
    if cleared_at and cleared is None:
        cleared = True
    if cleared_at and cleared_at < occurred:
        raise cells.error("cleared_at", "cleared before the incident occurred")
    return {
        "id": cells.text("id", required=True),
        "occurred_at": iso_utc(occurred),
        "occurred_ts": occurred.timestamp(),
        "time_source": source,
        "time_uncertainty_s": cells.number("time_uncertainty_s", lo=0) or 0.0,
        "lat": lat,
        "lon": lon,
        "address": cells.text("address"),
        "neighborhood": cells.text("neighborhood"),
        "category": cells.choice("category", CATEGORIES, aliases=CATEGORY_ALIASES),
        "victims": cells.number("victims", lo=0, integer=True),
        "shotspotter": cells.boolean("shotspotter"),
        "cleared": cleared,
        "cleared_at": iso_utc(cleared_at),
        "clearance_type": cells.choice("clearance_type", ("arrest", "exceptional")),
    }


def import_incidents(cat, path: str | Path, tz: str | None = None,
                     mapping: dict[str, str] | None = None,
                     skip_bad: bool = False) -> ImportReport:
    """Validate and upsert incidents; nothing is written when rows are bad, unless ``skip_bad``.

    ``tz`` reads times that have no offset; without it the catalog's zone is used, and with
    neither such a time is an error naming the row.
    """
    zone = cat.input_zone_or_none(tz)
    bounds = cat.bounds
    good, errors = parse_file(path, REQUIRED, lambda cells: parse_row(cells, zone, bounds),
                              mapping)
    return write_import(cat, "incidents", path, [r for _, r in good], errors, skip_bad,
                        "incidents import", {"tz": zone.key if zone else None,
                                             "map": mapping or {}})
