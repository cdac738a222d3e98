"""Instants, zones and durations.

Every instant videx stores is UTC. Local input is accepted only with an explicit zone (an IANA
name such as ``America/New_York``) or a UTC offset; a local time that is ambiguous (the hour
repeated when clocks go back) or non-existent (the hour skipped when clocks go forward) is an
error, never a guess.
"""

from __future__ import annotations

import re
from datetime import date as date_cls
from datetime import datetime, timedelta, timezone
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from videx.errors import TimestampError

UTC = timezone.utc

_DURATION_RE = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*([smhd]))+\s*$", re.I)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])", re.I)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def get_zone(name: str) -> ZoneInfo:
    """Return the IANA zone ``name`` or raise TimestampError naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise TimestampError(f"unknown time zone {name!r} (use an IANA name such as "
                             "America/New_York)") from err


def parse_duration(text: str) -> float:
    """Parse ``30m``, ``90s``, ``1h30m``, ``2d`` into seconds; a unit is required."""
    if not _DURATION_RE.match(str(text)):
        raise TimestampError(f"cannot read duration {text!r}: give a number with a unit "
                             "s, m, h or d, e.g. 30m")
    seconds = float(sum(float(n) * _UNIT_S[u.lower()] for n, u in _DURATION_PART.findall(text)))
    if seconds > MAX_DURATION_S:
        raise TimestampError(f"duration {text!r} is longer than 100 years")
    return seconds


MAX_DURATION_S = 100 * 366 * 86400.0


def localize(naive: datetime, zone: ZoneInfo) -> datetime:
    """Attach ``zone`` to a naive wall-clock time, refusing DST-ambiguous or missing times."""
    early = naive.replace(tzinfo=zone, fold=0)
    late = naive.replace(tzinfo=zone, fold=1)
    if early.utcoffset() != late.utcoffset():
        # Either the wall time occurs twice (fall back) or never (spring forward).
        roundtrip = early.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        if roundtrip != naive:
            raise TimestampError(f"local time {naive:%Y-%m-%d %H:%M:%S} does not exist in "
                                 f"{zone.key} (clocks spring forward); give a UTC offset")
        raise TimestampError(f"local time {naive:%Y-%m-%d %H:%M:%S} is ambiguous in "
                             f"{zone.key} (clocks fall back); give a UTC offset")
    return early


def parse_instant(text: str, tz: str | ZoneInfo | None = None) -> datetime:
    """Parse an ISO-8601-like time into an aware UTC datetime.

    A time with ``Z`` or an offset is exact. A time without one is read in ``tz``; with no
    ``tz`` it is an error (videx never guesses a zone).
    """
    raw = str(text).strip()
    if not raw:
        raise TimestampError("empty time")
    if _ISO_DATE.match(raw) or _COMPACT_DATE.match(raw):
        raise TimestampError(f"{raw!r} is a date without a time of day: give the time (a "
                             "date alone is never read as midnight)")
    cleaned = raw.replace(" ", "T", 1) if re.match(r"^\d{4}-\d{2}-\d{2} \d", raw) else raw
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(cleaned)
    except ValueError as err:
        raise TimestampError(f"cannot read time {raw!r}: use ISO 8601, e.g. "
                             "2023-05-01T14:30:00-04:00") from err
    if dt.tzinfo is None:
        if tz is None:
            raise TimestampError(f"time {raw!r} has no zone or offset: add one (e.g. -04:00 "
                                 "or Z) or pass a zone")
        zone = get_zone(tz) if isinstance(tz, str) else tz
        dt = localize(dt, zone)
    return dt.astimezone(UTC)


def from_ts(ts: float) -> datetime:
    """UTC datetime from POSIX seconds."""
    return datetime.fromtimestamp(ts, UTC)


def iso_utc(value: datetime | float | None) -> str | None:
    """Format an instant (datetime or POSIX seconds) as ``YYYY-MM-DDTHH:MM:SS[.fff]Z``."""
    if value is None:
        return None
    dt = from_ts(value) if isinstance(value, (int, float)) else value.astimezone(UTC)
    base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        base += f".{dt.microsecond // 1000:03d}"
    return base + "Z"


def format_local(value: datetime | float | None, tz: str | ZoneInfo) -> str:
    """Show an instant in local time with its zone abbreviation, e.g. ``2023-05-01 14:30:12 EDT``."""
    if value is None:
        return ""
    dt = from_ts(value) if isinstance(value, (int, float)) else value
    zone = get_zone(tz) if isinstance(tz, str) else tz
    return dt.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def hms(seconds: float | None) -> str:
    """Seconds as ``H:MM:SS`` (negative values keep their sign)."""
    if seconds is None:
        return ""
    sign = "-" if seconds < 0 else ""
    total = int(round(abs(seconds)))
    return f"{sign}{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def now_utc() -> datetime:
    """The current instant in UTC."""
    return datetime.now(UTC)


# ------------------------------------------------------------------ dates as records give them
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SLASHED = re.compile(r"^\d{1,2}([/.\-])\d{1,2}[/.\-](\d{2,4})([ T].*)?$")
_TIME_DIRECTIVES = ("%H", "%I", "%M", "%S", "%p", "%X", "%c", "%T", "%R", "%f")


class When(NamedTuple):
    """An instant as a record gives it: exact (``start`` is the moment) or a whole local day
    (``start`` and ``end`` are the day's first and next day's first instant, UTC); ``source``
    says how it was read."""

    start: datetime
    precision: str            # "exact" or "day"
    end: datetime | None
    source: str


def _day(year: int, month: int, day: int, zone: ZoneInfo | None, raw: str,
         how: str) -> When:
    if zone is None:
        raise TimestampError(f"date {raw!r} has no zone to mark its day in: name a zone")
    try:
        first = date_cls(year, month, day)
        start = localize(datetime.combine(first, datetime.min.time()), zone).astimezone(UTC)
        end = localize(datetime.combine(first + timedelta(days=1), datetime.min.time()),
                       zone).astimezone(UTC)
    except (ValueError, OverflowError) as err:
        raise TimestampError(f"cannot read date {raw!r}: {err}") from err
    return When(start, "day", end, f"date {first.isoformat()} {how} (time of day unknown, "
                                   f"whole day in {zone.key})")


def read_when(text: str, zone: ZoneInfo | None, date_format: str | None = None) -> When:
    """Read a record's time: ISO with a time (exact), ``YYYY-MM-DD`` or ``YYYYMMDD`` (a whole
    day, never midnight), or anything ``date_format`` (strptime) reads. Slashed forms such as
    ``01/02/20`` are ambiguous (January 2 or February 1? 1920 or 2020?) and need the format."""
    raw = str(text).strip()
    if not raw:
        raise TimestampError("empty time")
    if date_format:
        try:
            parsed = datetime.strptime(raw, date_format)
        except ValueError as err:
            rest = re.match(r"unconverted data remains: (.*)$", str(err))
            if rest and re.fullmatch(r"\s*[T ]?\d{1,2}:\d{2}(:\d{2})?(\.\d+)?\s*([AaPp][Mm])?",
                                     rest.group(1)):
                clock = rest.group(1).strip()
                fix = (" %I:%M" + (":%S" if clock.count(":") == 2 else "") + " %p"
                       if clock[-2:].lower() in ("am", "pm") else
                       " %H:%M" + (":%S" if clock.count(":") == 2 else ""))
                raise TimestampError(
                    f"{raw!r} has a time of day ({clock!r}) that --date-format "
                    f"{date_format!r} leaves out: give both, e.g. --date-format "
                    f"'{date_format}{fix}'") from err
            raise TimestampError(f"{raw!r} does not match --date-format {date_format!r}") \
                from err
        if not any(d in date_format for d in _TIME_DIRECTIVES):
            return _day(parsed.year, parsed.month, parsed.day, zone, raw,
                        f"read with {date_format}")
        if parsed.tzinfo is not None:
            return When(parsed.astimezone(UTC), "exact", None, f"read with {date_format}")
        if zone is None:
            raise TimestampError(f"time {raw!r} has no zone or offset: name a zone")
        return When(localize(parsed, zone).astimezone(UTC), "exact", None,
                    f"local time in {zone.key}, read with {date_format}")
    m = _ISO_DATE.match(raw) or _COMPACT_DATE.match(raw)
    if m:
        return _day(int(m.group(1)), int(m.group(2)), int(m.group(3)), zone, raw,
                    "from the record")
    slashed = _SLASHED.match(raw)
    if slashed:
        sep, year, clock = slashed.group(1), slashed.group(2), slashed.group(3)
        century = len(year) == 2
        example = f"%m{sep}%d{sep}%{'y' if century else 'Y'}"
        if clock:
            example = f"'{example}{'T' if clock[0] == 'T' else ' '}%H:%M" + (
                ":%S" if clock.count(":") >= 2 else "") + "'"
        raise TimestampError(f"{raw!r} is ambiguous (month/day or day/month?"
                             f"{' which century?' if century else ''}): give its format, e.g. "
                             f"--date-format {example}")
    dt = parse_instant(raw, zone)
    offset = raw.endswith(("Z", "z")) or bool(re.search(r"[+-]\d{2}:?\d{2}$", raw[10:]))
    return When(dt, "exact", None, "offset in input" if offset else f"local time in {zone}")


def at_time_of_day(day: When, clock: str, zone: ZoneInfo) -> When:
    """A whole-day time made exact by a time of day (``HH:MM:SS``) from another column."""
    local = day.start.astimezone(zone).date()
    naive = datetime.fromisoformat(f"{local.isoformat()}T{clock}")
    return When(localize(naive, zone).astimezone(UTC), "exact", None,
                f"date and time-of-day columns, local time in {zone.key}")


def describe(ts: float | None, precision: str | None, zone: str | ZoneInfo) -> str:
    """An instant for people: local time with its zone, or the local date and "(time unknown)"
    for a day-precision time."""
    if ts is None:
        return ""
    if precision == "day":
        z = get_zone(zone) if isinstance(zone, str) else zone
        return f"{from_ts(ts).astimezone(z):%Y-%m-%d} (time unknown)"
    return format_local(ts, zone)
