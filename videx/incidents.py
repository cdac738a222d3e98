"""Shootings from the records system: import, list, show.

``occurred_at`` must carry an offset, or be read in an explicit zone (``--tz`` or the zone set
with ``videx init --tz``); DST-ambiguous or non-existent local times are errors naming the row.
"""

from __future__ import annotations

from pathlib import Path

from sqlite_utils import Database

from videx import catalog, geo
from videx.errors import NotFound, VidexError
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


def import_incidents(db: Database, path: str | Path, tz: str | None = None,
                     mapping: dict[str, str] | None = None,
                     skip_bad: bool = False) -> ImportReport:
    """Validate and upsert incidents; nothing is written when rows are bad, unless ``skip_bad``.

    ``tz`` reads times that have no offset; without it the zone set by ``videx init --tz`` is
    used, and with neither such a time is an error.
    """
    zone = tz or catalog.get_setting(db, "default_tz")
    bounds = catalog.city_bounds(db)
    good, errors = parse_file(path, REQUIRED, lambda cells: parse_row(cells, zone, bounds),
                              mapping)
    return write_import(db, "incidents", path, [r for _, r in good], errors, skip_bad,
                        "incidents import", {"tz": zone, "map": mapping or {}})


def get_incident(db: Database, incident_id: str) -> dict:
    """One incident as a dict, or NotFound."""
    row = next(db.query("SELECT * FROM incidents WHERE id = ?", [incident_id]), None)
    if row is None:
        raise NotFound(f"no incident {incident_id!r} in the catalog (see videx incidents list)")
    return row


def list_incidents(db: Database, start_ts: float | None = None, end_ts: float | None = None,
                   category: str | None = None) -> list[dict]:
    """Incidents in time order, optionally within [start_ts, end_ts) (POSIX seconds, UTC)."""
    sql, params = "SELECT * FROM incidents WHERE 1", []
    if start_ts is not None:
        sql += " AND occurred_ts >= ?"
        params.append(start_ts)
    if end_ts is not None:
        sql += " AND occurred_ts < ?"
        params.append(end_ts)
    if category:
        sql += " AND category = ?"
        params.append(category)
    return list(db.query(sql + " ORDER BY occurred_ts", params))
