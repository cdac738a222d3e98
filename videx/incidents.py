"""Shootings from the records system: import, list, show.

``occurred_at`` is read as ``videx.timeutil.read_when`` reads record times: with a time of day
it is an exact instant (an offset in the cell, or local time in an explicit zone); a date alone
(``2020-01-02``, ``20200102``, or any form ``--date-format`` names) is a whole local day
(``time_precision = "day"``), never midnight. ``--time-column`` adds a separate time-of-day
column. DST-ambiguous or non-existent local times are errors naming the row. An incident
dated before 1970 or more than a day ahead is refused unless ``allow_odd_dates``.

A re-import adds new case numbers and never silently rewrites an incident: a row that would
change an existing one is refused (its fields named, e.g. ``C2180122 occurred_at
2021-03-04 01:07 EST -> 00:07 EST``) unless ``update``; a ``tz`` other than the catalog's zone
is named in a warning.
"""

from __future__ import annotations

from pathlib import Path

from videx import limits
from videx.errors import VidexError
from videx.records import (
    Cells,
    ImportReport,
    ReadOptions,
    describe_value,
    parse_file,
    swapped_hints,
    write_import,
)
from videx.timeutil import When, at_time_of_day, get_zone, iso_utc, now_utc, read_when

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


def parse_row(cells: Cells, zone, bounds, allow_odd_dates: bool = False,
              now_ts: float | None = None) -> dict:
    """Validate one incident row into a record (raises InputError)."""
    clock = cells.text("__time__")
    occurred = parse_time(cells, "occurred_at", zone, required=True,
                          clock=_time_of_day(cells, clock) if clock else None)
    cleared = parse_time(cells, "cleared_at", zone)
    now_ts = now_utc().timestamp() if now_ts is None else now_ts
    for column, when in (("occurred_at", occurred), ("cleared_at", cleared)):
        problem = when and limits.incident_time_problem(when.start.timestamp(), now_ts,
                                                        allow_odd_dates)
        if problem:
            raise cells.error(column, f"{cells.text(column)!r} {problem}")
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
        "time_uncertainty_s": cells.number("time_uncertainty_s", lo=0,
                                           hi=limits.MAX_UNCERTAINTY_S) or 0.0,
        "lat": lat,
        "lon": lon,
        "address": cells.text("address"),
        "neighborhood": cells.text("neighborhood"),
        "category": cells.choice("category", CATEGORIES, aliases=CATEGORY_ALIASES),
        "victims": cells.number("victims", lo=0, hi=100_000, integer=True),
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
                     options: ReadOptions | None = None, *, update: bool = False,
                     dry_run: bool = False, allow_odd_dates: bool = False) -> ImportReport:
    """Validate and import incidents (see module docstring); nothing is written when rows are
    refused unless ``skip_bad`` (which never implies ``update``); ``dry_run`` reports what
    would happen and writes nothing.

    ``tz`` reads times that have no offset; without it the catalog's zone is used, and with
    neither such a time is an error naming the row. ``mapping`` ({field: column}) is the same
    as ``options.maps``.
    """
    options = options or ReadOptions()
    if mapping:
        options = ReadOptions(**{**options.__dict__, "maps": options.maps + tuple(
            f"{k}={v}" for k, v in mapping.items())})
    zone = cat.input_zone_or_none(tz)
    notes = []
    if tz and cat.zone_name and get_zone(tz).key != cat.zone_name:
        notes.append(f"--tz {get_zone(tz).key} differs from the catalog's zone "
                     f"{cat.zone_name}: local times in {path} are read in {get_zone(tz).key}")
    bounds = cat.bounds
    now_ts = now_utc().timestamp()
    good, errors = parse_file(path, FIELDS, REQUIRED,
                              lambda cells: parse_row(cells, zone, bounds, allow_odd_dates,
                                                      now_ts), options,
                              {"lat": "point", "lon": "point"}, kind="incidents")
    good, far = swapped_hints(path, good, bounds)
    shown_in = cat.display_zone()
    return write_import(cat, "incidents", path, good, errors + far, skip_bad,
                        "incidents import", {"tz": zone.key if zone else None,
                                             "options": options.to_dict(),
                                             "allow_odd_dates": allow_odd_dates},
                        update=update, dry_run=dry_run,
                        changes=lambda old, new: incident_changes(old, new, shown_in),
                        notes=tuple(notes), noun="incident")


TIME_FIELDS = ("occurred_at", "occurred_ts", "occurred_end_ts", "time_precision",
               "time_source")


def incident_changes(old: dict, new: dict, zone) -> list[tuple[str, str, str]]:
    """The fields an incident row would change, as people read them: the time (however it is
    stored) as one ``occurred_at`` in local time, the date written once when it stays
    (``2021-03-04 01:07 EST -> 00:07 EST``). The same instant read another way (another
    ``time_source`` text) is no change."""
    out = []
    if any(old.get(k) != new.get(k) for k in TIME_FIELDS[:-1]):   # how it was read: no change
        was = _local(old["occurred_ts"], old.get("time_precision"), zone)
        now = _local(new["occurred_ts"], new.get("time_precision"), zone)
        if was == now:
            out.append(("occurred_at", f"{_show(was, True, True)} (stored "
                        f"{old.get('occurred_at')})", f"{new.get('occurred_at')}"))
        else:
            seconds = bool(was[2] or now[2])
            out.append(("occurred_at", _show(was, True, seconds),
                        _show(now, was[0] != now[0] or was[1] is None, seconds)))
    for k, v in new.items():
        if k not in TIME_FIELDS and k != "id" and old.get(k) != v:
            out.append((k, describe_value(old.get(k)), describe_value(v)))
    return out


def _local(ts: float, precision: str | None, zone) -> tuple[str, str | None, int]:
    """(local date, HH:MM and zone or None for a whole day, seconds) of an instant."""
    from videx.timeutil import from_ts
    local = from_ts(ts).astimezone(zone)
    if precision == "day":
        return local.strftime("%Y-%m-%d"), None, 0
    return local.strftime("%Y-%m-%d"), local.strftime("%H:%M|%Z"), local.second


def _show(parts: tuple[str, str | None, int], with_date: bool, seconds: bool) -> str:
    day, clock, sec = parts
    if clock is None:
        return f"{day} (time unknown)"
    hm, zone_name = clock.split("|")
    text = hm + (f":{sec:02d}" if seconds else "") + f" {zone_name}"
    return f"{day} {text}" if with_date else text
