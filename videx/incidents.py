"""Shootings from the records system: import, list, show.

``occurred_at`` is read as ``videx.timeutil.read_when`` reads record times: with a time of day
it is an exact instant (an offset in the cell, or local time in an explicit zone); a date alone
(``2020-01-02``, ``20200102``, or any form ``--date-format`` names) is a whole local day
(``time_precision = "day"``), never midnight. ``--time-column`` adds a separate time-of-day
column. DST-ambiguous or non-existent local times are errors naming the row.
"""

from __future__ import annotations

from pathlib import Path

from videx.errors import VidexError
from videx.records import Cells, ImportReport, ReadOptions, parse_file, swapped_hints, write_import
from videx.timeutil import When, at_time_of_day, iso_utc, read_when

FIELDS = ["id", "occurred_at", "time_uncertainty_s", "lat", "lon", "point", "address",
          "neighborhood", "category", "victims", "shotspotter", "cleared", "cleared_at",
          "clearance_type"]
REQUIRED = ["id", "occurred_at", "lat", "lon"]
CATEGORIES = ("fatal", "non-fatal", "shots-fired")
CATEGORY_ALIASES = {"nonfatal": "non-fatal", "non-fatal-shooting": "non-fatal",
                    "fatal-shooting": "fatal", "homicide": "fatal", "shotsfired": "shots-fired"}


def parse_time(cells: Cells, column: str, zone, required: bool = False,
               clock: str | None = None) -> When | None:
    """How a time cell reads (exact or a whole day), or None when blank. ``clock``
    (``HH:MM:SS``, from a separate time-of-day column) makes a date exact."""
    value = cells.text(column, required)
    if value is None:
        return None
    try:
        when = read_when(value, zone, cells.options.date_format)
        return at_time_of_day(when, clock, zone) if clock and when.precision == "day" else when
    except VidexError as err:
        raise cells.error(column, str(err)) from err


def parse_row(cells: Cells, zone, bounds) -> dict:
    """Validate one incident row into a record (raises InputError)."""
    clock = cells.text("__time__")
    occurred = parse_time(cells, "occurred_at", zone, required=True,
                          clock=_time_of_day(cells, clock) if clock else None)
    cleared = parse_time(cells, "cleared_at", zone)
    lat, lon = cells.point(bounds)
    is_cleared = cells.boolean("cleared")
    if cleared and is_cleared is None:
        is_cleared = True
    if cleared and (cleared.end or cleared.start) < occurred.start:
        raise cells.error("cleared_at", "cleared before the incident occurred")
    return {
        "id": cells.text("id", required=True),
        "occurred_at": iso_utc(occurred.start),
        "occurred_ts": occurred.start.timestamp(),
        "time_precision": occurred.precision,
        "occurred_end_ts": occurred.end.timestamp() if occurred.end else None,
        "time_source": occurred.source,
        "time_uncertainty_s": cells.number("time_uncertainty_s", lo=0) or 0.0,
        "lat": lat,
        "lon": lon,
        "address": cells.text("address"),
        "neighborhood": cells.text("neighborhood"),
        "category": cells.choice("category", CATEGORIES, aliases=CATEGORY_ALIASES),
        "victims": cells.number("victims", lo=0, integer=True),
        "shotspotter": cells.boolean("shotspotter"),
        "cleared": is_cleared,
        "cleared_at": None if cleared is None else (
            iso_utc(cleared.start) if cleared.precision == "exact"
            else _local_date(cleared, zone)),
        "clearance_type": cells.choice("clearance_type", ("arrest", "exceptional")),
    }


def _time_of_day(cells: Cells, clock: str) -> str:
    """A time-of-day cell as HH:MM[:SS] (accepts 14:30, 1430, 2:30 PM)."""
    import re
    from datetime import datetime
    raw = clock.strip().upper()
    for fmt in ("%H:%M:%S", "%H:%M", "%H%M", "%I:%M %p", "%I:%M:%S %p", "%I %p", "%I:%M%p"):
        try:
            return datetime.strptime(raw, fmt).strftime("%H:%M:%S")
        except ValueError:
            continue
    if re.fullmatch(r"\d{1,2}", raw):
        raise cells.error("__time__", f"{clock!r} is not a time of day (write 14:00 for 2 PM)")
    raise cells.error("__time__", f"{clock!r} is not a time of day (use 14:30, 1430 or "
                      "2:30 PM)")


def _local_date(when: When, zone) -> str:
    return when.start.astimezone(zone).date().isoformat()


def import_incidents(cat, path: str | Path, tz: str | None = None,
                     mapping: dict[str, str] | None = None, skip_bad: bool = False,
                     options: ReadOptions | None = None) -> ImportReport:
    """Validate and upsert incidents; nothing is written when rows are bad, unless ``skip_bad``.

    ``tz`` reads times that have no offset; without it the catalog's zone is used, and with
    neither such a time is an error naming the row. ``mapping`` ({field: column}) is the same
    as ``options.maps``.
    """
    options = options or ReadOptions()
    if mapping:
        options = ReadOptions(**{**options.__dict__, "maps": options.maps + tuple(
            f"{k}={v}" for k, v in mapping.items())})
    zone = cat.input_zone_or_none(tz)
    bounds = cat.bounds
    good, errors = parse_file(path, FIELDS, REQUIRED,
                              lambda cells: parse_row(cells, zone, bounds), options,
                              {"lat": "point", "lon": "point"})
    good, far = swapped_hints(path, good, bounds)
    return write_import(cat, "incidents", path, [r for _, r in good], errors + far, skip_bad,
                        "incidents import", {"tz": zone.key if zone else None,
                                             "options": options.to_dict()})
