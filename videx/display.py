"""How a canvass is said and coloured, defined once for every output.

The command line's table, the web pages and the HTML incident report all take their words and
colours from here (statsmodels' ``Summary`` idea: one result, several renderings):

- coverage states (``footage``, ``gap-at-moment``, ``not-catalogued``) and their words;
- what happened with a camera's footage (outcomes and request statuses) and their words;
- the retention deadline: "7 d 22 h left", "overdue 3 h", "retention unknown: ask now",
  and its urgency (overdue, under 24 h, under 72 h, later, unknown) with a colour;
- coverage of the window in minutes ("12 of 47 min");
- where the moment falls in a clip ("at 0:04:10", "not in this clip: it starts 4 min after").

Durations are seconds, deadlines hours (as ``CameraHit.hours_left``), instants POSIX seconds.
"""

from __future__ import annotations

from typing import NamedTuple

from videx.canvass import STATUS_FOOTAGE, STATUS_GAP, STATUS_NONE
from videx.timeutil import hms

COVERAGE_WORDS = {STATUS_FOOTAGE: "footage at the moment", STATUS_GAP: "gap at the moment",
                  STATUS_NONE: "nothing catalogued"}
COVERAGE_COLOURS = {STATUS_FOOTAGE: "#2f855a", STATUS_GAP: "#b7791f", STATUS_NONE: "#718096"}

# what happened with a camera's footage for a case (an outcome or a request status)
OUTCOME_WORDS = {
    "drafted": "request drafted", "requested": "requested", "sent": "request sent",
    "reminded": "reminder sent", "uploaded": "uploaded by the owner", "obtained": "obtained",
    "declined": "owner declined", "no-footage": "owner has no footage",
    "overwritten": "overwritten", "withdrawn": "request withdrawn"}

URGENCY_WORDS = {"overdue": "overdue", "day": "under 24 h", "days": "under 72 h",
                 "later": "later", "unknown": "retention unknown"}
URGENCY_COLOURS = {"overdue": "#9b2c2c", "day": "#c53030", "days": "#c05621",
                   "later": "#2b6cb0", "unknown": "#6b46c1"}
REQUEST_COLOUR = "#c53030"        # a camera to request before its deadline, on maps
IN_VIEW_WORDS = {True: "in view", False: "facing away", None: "view unknown"}


def duration_words(seconds: float) -> str:
    """A length of time for people: "7 d 22 h", "3 h 5 min", "45 min", "30 s"."""
    s = abs(float(seconds))
    if s < 60:
        return f"{s:.0f} s"
    minutes = int(round(s / 60))
    if minutes < 60:
        return f"{minutes} min"
    hours = int(round(s / 3600)) if s >= 86400 else None
    if hours is not None:
        days, hours = divmod(hours, 24)
        return f"{days} d {hours} h" if hours else f"{days} d"
    h, m = divmod(minutes, 60)
    return f"{h} h {m} min" if m else f"{h} h"


def urgency(hours_left: float | None, state: str | None) -> str | None:
    """How soon a camera's footage is lost: ``overdue``, ``day`` (< 24 h), ``days`` (< 72 h),
    ``later``, ``unknown`` (no retention known: ask now); None when nothing is to request."""
    if state == "unknown":
        return "unknown"
    if hours_left is None:
        return None
    if hours_left <= 0:
        return "overdue"
    return "day" if hours_left < 24 else "days" if hours_left < 72 else "later"


def deadline_words(hours_left: float | None, state: str | None) -> str:
    """"7 d 22 h left", "overdue 3 h", "retention unknown: ask now", or "" (nothing to ask)."""
    if state == "unknown":
        return "retention unknown: ask now"
    if hours_left is None:
        return ""
    if hours_left <= 0:
        return f"overdue {duration_words(-hours_left * 3600)}"
    return f"{duration_words(hours_left * 3600)} left"


def coverage_words(covered_s: float, window_s: float) -> str:
    """How much of the window the clips cover: "12 of 47 min", "40 s of 47 min" (seconds
    while under two minutes), "none of 47 min"."""
    window = f"{window_s:.0f} s" if window_s < 120 else f"{window_s / 60:.0f} min"
    if covered_s <= 0:
        return f"none of {window}"
    covered = f"{covered_s:.0f} s" if covered_s < 120 else f"{covered_s / 60:.0f} min"
    if window_s < 120:
        covered = f"{covered_s:.0f}"
    return f"{covered} of {window}"


def clock_offset_words(offset_s: float) -> str | None:
    """A camera clock's error for people ("runs 2 min 10 s fast"), None when under 1 s."""
    if abs(offset_s) < 1:
        return None
    s = int(round(abs(offset_s)))
    parts = ([f"{s // 3600} h"] if s >= 3600 else []) + (
        [f"{s % 3600 // 60} min"] if s % 3600 >= 60 else []) + (
        [f"{s % 60} s"] if s % 60 else [])
    return f"runs {' '.join(parts)} {'fast' if offset_s > 0 else 'slow'}"


def size_words(n_bytes: int) -> str:
    """A file size for people: "850 KB", "12.4 MB", "2.0 GB" (powers of 1024)."""
    n = float(n_bytes)
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit in ("bytes", "KB") else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def outcome_words(status: str | None) -> str:
    """What happened with the footage, for people ("" when nothing was recorded)."""
    return OUTCOME_WORDS.get(status, status) if status else ""


def moment_words(start_ts: float, end_ts: float, moment_ts: float | None) -> str:
    """Where the moment falls in a clip: "at 0:04:10", "not in this clip: it starts 4 min
    after", "... it ends 2 min before", or "" for a day-precision incident."""
    if moment_ts is None:
        return ""
    if start_ts <= moment_ts < end_ts:
        return f"at {hms(moment_ts - start_ts)}"
    if moment_ts < start_ts:
        return f"not in this clip: it starts {duration_words(start_ts - moment_ts)} after"
    return f"not in this clip: it ends {duration_words(moment_ts - end_ts)} before"


class CameraWords(NamedTuple):
    """One canvass camera as people read it (every output renders these)."""

    status: str
    status_colour: str
    coverage: str
    in_view: str
    deadline: str
    urgency: str | None
    urgency_colour: str | None
    outcome: str

    @property
    def colour(self) -> str:
        """The camera's colour on maps: urgent red while it is still to be requested."""
        return REQUEST_COLOUR if self.urgency in ("day", "days", "later", "unknown") \
            else self.status_colour


def camera_words(cam) -> CameraWords:
    """The words and colours of a ``canvass.CameraHit``."""
    level = urgency(cam.hours_left, cam.deadline_state)
    return CameraWords(COVERAGE_WORDS[cam.status], COVERAGE_COLOURS[cam.status],
                       coverage_words(cam.covered_s, cam.window_s), IN_VIEW_WORDS[cam.in_view],
                       deadline_words(cam.hours_left, cam.deadline_state), level,
                       URGENCY_COLOURS.get(level) if level else None,
                       outcome_words(cam.outcome))


def by_urgency(cameras) -> list:
    """Cameras still to be asked for (``CanvassResult.request_list``'s), most urgent first:
    fewest hours left, then unknown retention (ask now), then by distance."""
    return sorted(cameras, key=lambda c: (c.hours_left is None, c.hours_left or 0.0,
                                          c.distance_m))


def legend() -> list[tuple[str, str]]:
    """(words, colour) for a map legend."""
    return [(COVERAGE_WORDS[s], COVERAGE_COLOURS[s]) for s in COVERAGE_WORDS] + [
        ("to request before its deadline", REQUEST_COLOUR)]
