"""Sane ranges at the door: the values videx refuses before storing anything, so that no
absurd value is kept and later makes a canvass, report or ingest fail.

- instants: corrected clip times and camera activity dates between 1970 and 2100
  (``EARLIEST_TS``..``LATEST_TS``); incident times from 1970 to a day ahead of now unless
  the caller allows odd dates (a cold case, a clock error), and then still 1900-2100;
- numbers: finite (no ``inf``/``nan``/``1e400``), integers within 64 bits; a camera's range
  above 0 and at most 2 km, a clock offset that keeps times in 1970-2100 (a DVR whose clock
  reset to 2000 is decades off and must stay correctable), a time uncertainty of at most a
  year;
- ids: at most 200 characters, no control characters and no bidirectional controls (a
  right-to-left override shows ``1202-CH`` for ``HC-2021``);
- durations (canvass windows, uncertainty): at most ``MAX_WINDOW_S`` / a year.

Each check returns the reason as text (None when the value is fine), for the caller to raise
with its own file/row/column or option.
"""

from __future__ import annotations

import math
import unicodedata

EARLIEST_TS = 0.0                       # 1970-01-01T00:00:00Z
LATEST_TS = 4_102_444_800.0             # 2100-01-01T00:00:00Z
ODD_EARLIEST_TS = -2_208_988_800.0      # 1900-01-01T00:00:00Z (with the flag)
FUTURE_SLACK_S = 86_400.0               # an incident may be dated up to a day ahead
INT64_MAX = 2 ** 63 - 1
MAX_ID_CHARS = 200
MAX_RANGE_M = 2000.0
MAX_CLOCK_OFFSET_S = LATEST_TS - EARLIEST_TS
MAX_UNCERTAINTY_S = 366 * 86_400.0
MAX_WINDOW_S = 31 * 86_400.0            # a canvass window side (--before / --after)
MAX_RETENTION_DAYS = 36_500.0
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                          "\u2066\u2067\u2068\u2069")


def id_problem(text: str) -> str | None:
    """Why a record id (case number, camera id) cannot be stored, or None."""
    if len(text) > MAX_ID_CHARS:
        return f"the id has {len(text)} characters (at most {MAX_ID_CHARS})"
    for ch in text:
        if ch in BIDI_CONTROLS:
            return (f"the id holds the invisible bidirectional control U+{ord(ch):04X} "
                    "(it makes the id display differently from what it is)")
        if unicodedata.category(ch) == "Cc":
            return f"the id holds the control character U+{ord(ch):04X}"
    return None


def number_problem(value: float, integer: bool = False) -> str | None:
    """Why a number cannot be stored (not finite, or an integer beyond 64 bits), or None."""
    if not math.isfinite(value):
        return "is not a finite number"
    if integer and abs(value) > INT64_MAX:
        return "is beyond the 64-bit integer range"
    return None


def year_of(ts: float) -> str:
    """The year of an instant, for messages (even far outside datetime's range)."""
    year = 1970 + ts / 31_556_952
    return str(math.floor(year)) if abs(year) < 1e6 else f"{year:.3g}"


def instant_problem(ts: float, what: str, earliest: float = EARLIEST_TS,
                    latest: float = LATEST_TS) -> str | None:
    """Why an instant (POSIX s) is outside [earliest, latest), or None."""
    if not math.isfinite(ts) or ts < earliest or ts >= latest:
        lo = "1900" if earliest == ODD_EARLIEST_TS else "1970"
        return f"{what} would be in the year {year_of(ts) if math.isfinite(ts) else ts}, " \
               f"outside {lo}-{year_of(latest)}"
    return None


def incident_time_problem(ts: float, now_ts: float, allow_odd: bool,
                          flag: str | None = "--allow-odd-dates") -> str | None:
    """Why an incident's time is refused: before 1970 or more than a day ahead of now, unless
    ``allow_odd`` (then 1900-2100); ``flag`` names the option that allows it."""
    if allow_odd:
        return instant_problem(ts, "the time", ODD_EARLIEST_TS, LATEST_TS)
    if ts < EARLIEST_TS:
        return "is before 1970: check the date and its format" + (
            f" (pass {flag} for an old case)" if flag else "")
    if ts > now_ts + FUTURE_SLACK_S:
        return "is more than a day in the future: check the date and its format" + (
            f" (pass {flag} to keep it)" if flag else "")
    return None
