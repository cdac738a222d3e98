"""The canvass: which cameras could have seen an incident, which clips cover its window,
where in each clip the moment falls, and whose footage must be requested before it is gone.

Clip times in the catalog are already corrected for each camera's clock offset, so the window
(true time) is compared with corrected clip times directly; ``offset_s`` is the position of the
incident moment inside the clip file (seconds from the clip's first frame).

The result is typed (``CanvassResult`` of ``CameraHit`` of ``ClipHit``, numeric instants in
POSIX seconds UTC, with each camera's view geometry) and computed once: the report, contact
sheet, extract and scan take it as their input instead of canvassing again.
"""

import functools
import time
from collections.abc import Iterator
from datetime import datetime
from typing import NamedTuple

from videx import geo
from videx.errors import OptionError, VidexError
from videx.store.cameras import CanvassCamera
from videx.timeutil import describe, hms, iso_utc, now_utc

STATUS_FOOTAGE = "footage"
STATUS_GAP = "gap-at-moment"
STATUS_NONE = "not-catalogued"   # (not "no-footage": that is an owner's answer, an outcome)
STATUSES = (STATUS_FOOTAGE, STATUS_GAP, STATUS_NONE)   # their words: videx.display
SORTS = ("view", "activity")
# the window every canvass uses unless told otherwise (the CLI's, the web's, the study's)
RADIUS_M, BEFORE_S, AFTER_S = 250.0, 1800.0, 900.0
CSV_COLUMNS = [
    "incident_id", "occurred_at", "camera_id", "name", "source", "integration", "kind",
    "distance_m", "in_view", "status", "covered_s", "window_s", "retention_deadline",
    "hours_left", "deadline_state", "outcome", "clip_id", "clip_start", "clip_end",
    "contains_moment", "offset_s", "offset_hms", "activity_near_moment", "activity_mode",
    "sha256", "path"]


class Incident(NamedTuple):
    """Where and when: the moment (POSIX seconds UTC) and place (WGS84 degrees).

    A day-precision incident (a date with no time of day) has no moment: ``occurred_ts`` and
    ``occurred_end_ts`` bound its local day, and the canvass covers the whole day."""

    id: str
    occurred_ts: float
    lat: float
    lon: float
    address: str | None = None
    time_uncertainty_s: float = 0.0
    time_precision: str = "exact"
    occurred_end_ts: float | None = None
    neighborhood: str | None = None

    @property
    def occurred_at(self) -> str:
        return iso_utc(self.occurred_ts)

    @property
    def exact(self) -> bool:
        return self.time_precision != "day"

    @property
    def until_ts(self) -> float:
        """End of the span the incident may have happened in (the moment itself when exact)."""
        return self.occurred_ts if self.exact else (self.occurred_end_ts or self.occurred_ts)

    def when(self, zone) -> str:
        """For people: local time with zone, or "2020-01-02 (time unknown)"."""
        return describe(self.occurred_ts, self.time_precision, zone)

    @classmethod
    def from_row(cls, row: dict) -> "Incident":
        return cls(row["id"], row["occurred_ts"], row["lat"], row["lon"], row.get("address"),
                   float(row.get("time_uncertainty_s") or 0.0),
                   row.get("time_precision") or "exact", row.get("occurred_end_ts"),
                   row.get("neighborhood"))

    def to_dict(self, zone=None) -> dict:
        d = {"id": self.id, "occurred_at": self.occurred_at,
             "time_precision": self.time_precision,
             "occurred_end": None if self.exact else iso_utc(self.until_ts),
             "lat": self.lat, "lon": self.lon, "address": self.address,
             "time_uncertainty_s": self.time_uncertainty_s}
        if zone is not None:
            d["occurred_local"] = self.when(zone)
        return d


# Results are named tuples (immutable; one line of generated code per class at import, where a
# frozen dataclass costs six: a millisecond of every command's start-up each). The hot paths
# build them with tuple.__new__ directly: a 24-field CameraHit in well under a microsecond.
# (No "from __future__ import annotations" here: typing.NamedTuple would compile every field's
# annotation string at import; as objects they cost nothing.)
_new = tuple.__new__


class View(NamedTuple):
    """A camera's view wedge: centre bearing and width (degrees), reach (metres, if known)."""

    heading_deg: float
    fov_deg: float
    range_m: float | None


class ClipHit(NamedTuple):
    """One catalogued clip in the window; ``offset_s`` is where the moment falls in it."""

    clip_id: int
    path: str
    sha256: str
    start_ts: float
    end_ts: float
    duration_s: float
    offset_s: float | None     # None for a day-precision incident: there is no moment
    contains_moment: bool      # for a day-precision incident: overlaps that day
    clock_offset_s: float
    time_source: str
    time_confidence: str
    codec: str | None = None
    width: int | None = None        # display (upright) size, pixels
    height: int | None = None
    fps: float | None = None
    activity_near_moment: float | None = None
    activity_peak: float | None = None
    activity_mode: str | None = None    # "full" or "fast": their scores differ in scale

    def to_dict(self) -> dict:
        return {"clip_id": self.clip_id, "path": self.path, "sha256": self.sha256,
                "start": iso_utc(self.start_ts), "end": iso_utc(self.end_ts),
                "offset_s": None if self.offset_s is None else round(self.offset_s, 3),
                "offset_hms": hms(self.offset_s) if self.contains_moment
                and self.offset_s is not None else None,
                "contains_moment": self.contains_moment,
                "clock_offset_s": self.clock_offset_s, "time_source": self.time_source,
                "time_confidence": self.time_confidence,
                "activity_near_moment": self.activity_near_moment,
                "activity_peak": self.activity_peak, "activity_mode": self.activity_mode}


class CameraHit(NamedTuple):
    """One camera within the radius: view, coverage of the window, status and deadline."""

    camera_id: str
    name: str | None
    source: str
    integration: str
    kind: str | None
    lat: float
    lon: float
    address: str | None
    distance_m: float
    in_view: bool | None
    view: View | None
    status: str
    covered_s: float
    window_s: float
    gaps: tuple[tuple[float, float], ...]
    retention_days: float | None
    deadline_ts: float | None
    hours_left: float | None
    deadline_state: str | None
    action: str | None
    owner_name: str | None
    owner_contact: str | None
    outcome: str | None
    clips: tuple[ClipHit, ...] = ()

    @property
    def retention_deadline(self) -> str | None:
        return iso_utc(self.deadline_ts)

    @property
    def activity(self) -> tuple[float | None, str | None]:
        """(highest activity near the moment among its scanned clips, that scan's mode)."""
        best = max((k for k in self.clips if k.activity_near_moment is not None),
                   key=lambda k: k.activity_near_moment, default=None)
        return (None, None) if best is None else (best.activity_near_moment, best.activity_mode)

    def wedge(self, reach_m: float, steps: int = 16) -> list[list[float]] | None:
        """The view wedge as a closed GeoJSON ring ([lon, lat] pairs, counterclockwise), reach
        ``range_m`` or ``reach_m``; None without view geometry."""
        if self.view is None:
            return None
        reach = self.view.range_m or reach_m
        fov = min(self.view.fov_deg, 359.0)
        bearings = [self.view.heading_deg + fov / 2 - fov * i / steps for i in range(steps + 1)]
        arc = [list(geo.destination(self.lat, self.lon, b, reach))[::-1] for b in bearings]
        apex = [self.lon, self.lat]
        return [apex, *arc, apex]   # bearings fall clockwise-to-counter: counterclockwise ring

    def to_dict(self) -> dict:
        return {
            "camera_id": self.camera_id, "name": self.name, "source": self.source,
            "integration": self.integration, "kind": self.kind, "lat": self.lat,
            "lon": self.lon, "address": self.address, "distance_m": self.distance_m,
            "in_view": self.in_view,
            "view": None if self.view is None else {
                "heading_deg": self.view.heading_deg, "fov_deg": self.view.fov_deg,
                "range_m": self.view.range_m},
            "status": self.status, "covered_s": self.covered_s, "window_s": self.window_s,
            "gaps": [{"start": iso_utc(a), "end": iso_utc(b), "duration_s": round(b - a, 1)}
                     for a, b in self.gaps],
            "retention_days": self.retention_days,
            "retention_deadline": self.retention_deadline, "hours_left": self.hours_left,
            "deadline_state": self.deadline_state, "action": self.action,
            "owner_name": self.owner_name, "owner_contact": self.owner_contact,
            "outcome": self.outcome, "clips": [k.to_dict() for k in self.clips]}


class CanvassResult(NamedTuple):
    """Cameras around one incident and the catalogued footage of its window (POSIX s, UTC)."""

    incident: Incident
    window_start_ts: float
    window_end_ts: float
    radius_m: float
    before_s: float
    after_s: float
    generated_ts: float
    cameras: tuple[CameraHit, ...] = ()
    sort: str = "view"
    audit_note: str | None = None       # why the canvass's audit entry was not written

    @property
    def moment_ts(self) -> float:
        return self.incident.occurred_ts

    def clips(self, containing_moment: bool = False) -> list[tuple[CameraHit, ClipHit]]:
        """(camera, clip) pairs in canvass order, optionally only clips with the moment."""
        return [(c, k) for c in self.cameras for k in c.clips
                if k.contains_moment or not containing_moment]

    def request_list(self) -> list[CameraHit]:
        """Cameras with no catalogued footage still to be asked for: the retention deadline
        has not passed, or the retention is unknown (ask now)."""
        return [c for c in self.cameras if c.status == STATUS_NONE
                and c.deadline_state in ("open", "unknown")]

    def summary(self) -> str:
        counts = {s: sum(1 for c in self.cameras if c.status == s) for s in STATUSES}
        return (f"{self.incident.id}: {len(self.cameras)} camera(s) within "
                f"{self.radius_m:g} m; {counts[STATUS_FOOTAGE]} with footage at the moment, "
                f"{counts[STATUS_GAP]} with a gap at the moment, {counts[STATUS_NONE]} with "
                f"nothing catalogued; {len(self.request_list())} to request before retention "
                "runs out (or with retention unknown)")

    def parameters(self) -> dict:
        """The options this canvass ran with (for audit entries and manifests)."""
        return {"radius_m": self.radius_m, "before_s": self.before_s, "after_s": self.after_s,
                "sort": self.sort}

    def to_dict(self, zone=None) -> dict:
        return {"incident": self.incident.to_dict(zone),
                "window": {"start": iso_utc(self.window_start_ts),
                           "end": iso_utc(self.window_end_ts)},
                "radius_m": self.radius_m, "before_s": self.before_s, "after_s": self.after_s,
                "generated_at": iso_utc(self.generated_ts),
                "cameras": [c.to_dict() for c in self.cameras]}

    def to_geojson(self) -> dict:
        """The incident, each camera (keeping its own ``kind``: doorbell, ptz, ...) and each
        camera's view wedge as a Polygon; ``feature`` says which is which."""
        inc = self.incident
        features = [{"type": "Feature",
                     "geometry": {"type": "Point", "coordinates": [inc.lon, inc.lat]},
                     "properties": {"feature": "incident", "id": inc.id,
                                    "occurred_at": inc.occurred_at,
                                    "time_precision": inc.time_precision}}]
        for cam in self.cameras:
            props = {k: v for k, v in cam.to_dict().items() if k not in ("lat", "lon", "clips")}
            props["feature"] = "camera"
            props["clip_ids"] = [k.clip_id for k in cam.clips]
            features.append({"type": "Feature",
                             "geometry": {"type": "Point", "coordinates": [cam.lon, cam.lat]},
                             "properties": props})
            ring = cam.wedge(self.radius_m * 0.4)
            if ring:
                features.append({"type": "Feature",
                                 "geometry": {"type": "Polygon", "coordinates": [ring]},
                                 "properties": {"feature": "view", "camera_id": cam.camera_id,
                                                "kind": cam.kind, "in_view": cam.in_view,
                                                "heading_deg": cam.view.heading_deg,
                                                "fov_deg": cam.view.fov_deg,
                                                "range_m": cam.view.range_m}})
        return {"type": "FeatureCollection", "features": features}

    def csv_rows(self) -> list[dict]:
        """One row per camera and clip (a camera without clips: one row), ``CSV_COLUMNS``."""
        inc = self.incident
        rows = []
        for c in self.cameras:
            base = {"incident_id": inc.id, "occurred_at": inc.occurred_at,
                    "camera_id": c.camera_id, "name": c.name, "source": c.source,
                    "integration": c.integration, "kind": c.kind,
                    "distance_m": c.distance_m, "in_view": c.in_view, "status": c.status,
                    "covered_s": c.covered_s, "window_s": c.window_s,
                    "retention_deadline": c.retention_deadline, "hours_left": c.hours_left,
                    "deadline_state": c.deadline_state, "outcome": c.outcome}
            for k in c.clips or (None,):
                d = k.to_dict() if k else {}
                rows.append({**base, "clip_id": d.get("clip_id"), "clip_start": d.get("start"),
                             "clip_end": d.get("end"),
                             "contains_moment": d.get("contains_moment"),
                             "offset_s": d.get("offset_s") if d.get("contains_moment") else None,
                             "offset_hms": d.get("offset_hms"),
                             "activity_near_moment": d.get("activity_near_moment"),
                             "activity_mode": d.get("activity_mode"),
                             "sha256": d.get("sha256"), "path": d.get("path")})
        return rows


def merge_coverage(intervals: list[tuple[float, float]], t0: float, t1: float):
    """(covered seconds, gaps) of [t0, t1) given clip intervals (POSIX seconds)."""
    covered, gaps, cursor = 0.0, [], t0
    for s, e in sorted(intervals):
        s, e = max(s, t0), min(e, t1)
        if e <= cursor:
            continue
        if s > cursor:
            gaps.append((cursor, s))
        covered += e - max(s, cursor)
        cursor = e
    if cursor < t1:
        gaps.append((cursor, t1))
    return covered, gaps


def camera_active(cam: CanvassCamera, moment_ts: float) -> bool:
    """Whether a camera's active_from/active_to (UTC ISO) include the moment."""
    return _active(cam, iso_utc(moment_ts))


def _active(cam: CanvassCamera, stamp: str) -> bool:
    return ((not cam.active_from or cam.active_from <= stamp)
            and (not cam.active_to or stamp <= cam.active_to))


def assess_camera(cat, cam: CanvassCamera, distance_m: float, inc: Incident, t0: float,
                  t1: float, now_ts: float, outcome: str | None,
                  scanned: set[int] | None = None, prefetched: list | None = None
                  ) -> CameraHit:
    """One canvass row: view, clips in [t0, t1), coverage, status and retention deadline.

    ``distance_m``: from the incident, metres (great-circle). ``scanned`` (the ids of scanned
    clips, when known) saves asking for the activity of clips that were never scanned;
    ``prefetched`` (clips with their scan peak and mode, from ``ClipStore.canvass_rows``)
    saves asking for the clips at all."""
    if prefetched is None:
        prefetched = [(row, None, None) if scanned is not None and row[0] not in scanned
                      else (row,) for row in cat.clips.window(cam.id, t0, t1, cam.max_clip_s)]
    deadline_ts = hours_left = state = action = None
    if prefetched:
        clips = _clip_hits(cat, inc, prefetched)
        covered, gaps = merge_coverage([(k.start_ts, k.end_ts) for k in clips], t0, t1)
        covered, gaps = round(covered, 1), tuple(gaps)
        status = (STATUS_FOOTAGE if any(k.contains_moment for k in clips) else STATUS_GAP)
    else:                       # most cameras of a canvass: nothing catalogued in the window
        clips, covered, gaps, status = (), 0.0, ((t0, t1),), STATUS_NONE
    if status == STATUS_NONE:
        retention = cam.retention_days
        action = "ask owner" if cam.integration == "registered" else "pull from system"
        if retention is None:
            state = "unknown"      # nobody knows when it is overwritten: ask now
        else:
            # footage from the start of a whole-day incident is overwritten first
            deadline_ts = inc.occurred_ts + retention * 86400.0
            hours_left = round((deadline_ts - now_ts) / 3600.0, 1)
            state = "open" if hours_left > 0 else "lost"
    heading, fov, reach = cam.heading_deg, cam.fov_deg, cam.range_m
    if heading is None or fov is None:
        view = in_view = None
    else:
        view = _view(heading, fov, reach)
        in_view = (False if reach is not None and distance_m > reach    # geo.in_view's
                   else geo.in_view(cam.lat, cam.lon, heading, fov, reach, inc.lat, inc.lon,
                                    distance_m))                        # first test
    return _new(CameraHit, (
        cam[0], cam[1], cam[2], cam[3], cam[4], cam[5], cam[6], cam.address,
        round(distance_m, 1), in_view, view, status, covered, round(t1 - t0, 1), gaps,
        cam.retention_days, deadline_ts, hours_left, state, action, cam.owner_name,
        cam.owner_contact, outcome, clips))


@functools.lru_cache(maxsize=65536)
def _view(heading_deg: float, fov_deg: float, range_m: float | None) -> View:
    """The (immutable, shared) View for this geometry: a city's cameras repeat few."""
    return View(heading_deg, fov_deg, range_m)


def _clip_hits(cat, inc: Incident, prefetched: list) -> tuple[ClipHit, ...]:
    """The ClipHits of one camera's clips in the window (``assess_camera``'s ``prefetched``
    items), with the moment's offset and the activity near it where scanned."""
    moment, until, exact = inc.occurred_ts, inc.until_ts, inc.exact
    out = []
    for item in prefetched:
        (cid, path, sha, s, e, dur, off, src, conf, codec, w, h, fps) = item[0]
        if len(item) == 1:                      # not known whether scanned: ask
            near, peak, mode = cat.scans.activity_near(cid, moment - s if exact else 0.0)
        else:
            peak, mode = item[1], item[2]
            near = (cat.scans.peak_near(cid, moment - s) if peak is not None and exact
                    else None)
        if exact:
            out.append(_new(ClipHit, (cid, path, sha, s, e, dur, moment - s, s <= moment < e,
                                      off, src, conf, codec, w, h, fps, near, peak, mode)))
        else:
            out.append(_new(ClipHit, (cid, path, sha, s, e, dur, None,
                                      s < until and e > moment, off, src, conf, codec, w, h,
                                      fps, None, peak, mode)))
    return tuple(out)


_VIEW_RANK = {True: 0, None: 1, False: 2}


def _view_rank(in_view: bool | None) -> int:
    return _VIEW_RANK[in_view]


def _footage_rank(cam: CameraHit) -> int:
    if cam.status != STATUS_FOOTAGE:
        return 2
    return 0 if cam.in_view else 1


def _activity_key(cam: CameraHit) -> float:
    values = [k.activity_near_moment for k in cam.clips if k.activity_near_moment is not None]
    return -max(values) if values else float("inf")


MAX_RADIUS_M = 20_000.0


def check_window(radius_m: float, before_s: float, after_s: float) -> None:
    """Refuse a radius that is not positive or beyond a city (``MAX_RADIUS_M``), or a window
    side that is negative or longer than ``limits.MAX_WINDOW_S``."""
    from videx import limits
    if not 0 < radius_m <= MAX_RADIUS_M:
        raise OptionError(f"radius must be more than 0 m and at most {MAX_RADIUS_M / 1000:g} "
                          f"km (got {radius_m:g} m)", "radius")
    for side, seconds in (("before", before_s), ("after", after_s)):
        if not 0 <= seconds <= limits.MAX_WINDOW_S:
            raise OptionError(f"the window {side} the moment must be from 0 to "
                              f"{limits.MAX_WINDOW_S / 86400:g} days (got {seconds:g} s)", side)


def window(inc: Incident, before_s: float, after_s: float) -> tuple[float, float]:
    """[t0, t1) searched for an incident (POSIX seconds): the moment (or the whole local day)
    widened by the window and the time uncertainty."""
    from videx import limits
    unc = float(inc.time_uncertainty_s or 0.0)
    t0, t1 = inc.occurred_ts - before_s - unc, inc.until_ts + after_s + unc
    problem = (limits.instant_problem(t0, "its window's start", limits.ODD_EARLIEST_TS)
               or limits.instant_problem(t1, "its window's end", limits.ODD_EARLIEST_TS))
    if problem:    # stored before videx refused such values at import
        try:
            when = iso_utc(inc.occurred_ts)
        except (OverflowError, ValueError, OSError):
            when = f"{inc.occurred_ts:g} s"
        raise VidexError(f"incident {inc.id}: {problem} (time {when}, uncertainty {unc:g} s): "
                         "correct it and re-import it with --update")
    return t0, t1


def canvass_incident(cat, inc: Incident, radius_m: float = RADIUS_M,
                     before_s: float = BEFORE_S, after_s: float = AFTER_S,
                     now: datetime | None = None,
                     record: bool = True, sort: str = "view") -> CanvassResult:
    """Canvass around an incident. Distances in metres, times in seconds.

    ``sort="view"`` orders cameras in view first, then by coverage, then distance;
    ``sort="activity"`` puts the cameras (and clips) with most activity near the moment first
    (scanned clips only). With ``record`` the canvass is written to the audit log (when the
    catalog can be written; ``audit_note`` says why not otherwise)."""
    check_window(radius_m, before_s, after_s)
    if sort not in SORTS:
        raise OptionError(f"unknown sort {sort!r} (use {' or '.join(SORTS)})", "sort")
    now_ts = now.timestamp() if now else time.time()
    t0, t1 = window(inc, before_s, after_s)
    # cameras, clips, scans and outcomes in one statement: one consistent state, no
    # transaction; only scanned clips ask for their activity near the moment
    rows = cat.clips.canvass_rows(inc.id, inc.lat, inc.lon, radius_m, t0, t1)
    stamp = None                    # the moment as UTC text, made only when a camera has dates
    found = []
    lat, lon, distance = inc.lat, inc.lon, geo.haversine_m
    for cam, clips in rows:
        d = distance(lat, lon, cam.lat, cam.lon)
        if d > radius_m:
            continue
        if cam.active_from or cam.active_to:
            stamp = stamp or iso_utc(inc.occurred_ts)
            if not _active(cam, stamp):
                continue
        found.append(assess_camera(cat, cam, d, inc, t0, t1, now_ts, cam.outcome, None,
                                   clips))
    result = _result(inc, found, t0, t1, radius_m, before_s, after_s, now_ts, sort)
    if record:
        result = with_audit_note(result, cat.record("canvass", audit_args(result),
                                                    case_no=inc.id))
    return result


def audit_args(result: CanvassResult) -> dict:
    """What a canvass's audit entry says (command "canvass", the incident as case number)."""
    inc = result.incident
    return {**result.parameters(), "lat": inc.lat, "lon": inc.lon, "time": inc.occurred_at,
            "cameras": len(result.cameras)}


def with_audit_note(result: CanvassResult, note: str | None) -> CanvassResult:
    """``result``, saying why its audit entry was not written when ``note`` says so."""
    return result._replace(audit_note=f"audit entry not written: {note}") if note else result


def _canvass(cat, inc: Incident, cams: list[tuple[float, CanvassCamera]], radius_m: float,
             before_s: float, after_s: float, now_ts: float, outcomes: dict[str, str],
             sort: str, scanned: set[int] | None = None) -> CanvassResult:
    """The canvass of one incident given the cameras within the radius (distance in metres,
    camera)."""
    t0, t1 = window(inc, before_s, after_s)
    stamp = iso_utc(inc.occurred_ts)
    rows = [assess_camera(cat, cam, d, inc, t0, t1, now_ts, outcomes.get(cam.id), scanned)
            for d, cam in cams if _active(cam, stamp)]
    return _result(inc, rows, t0, t1, radius_m, before_s, after_s, now_ts, sort)


def _result(inc: Incident, rows: list[CameraHit], t0: float, t1: float, radius_m: float,
            before_s: float, after_s: float, now_ts: float, sort: str) -> CanvassResult:
    """The canvass result: cameras in the order ``sort`` asks for."""
    if len(rows) > 1:
        rows.sort(key=lambda c: (_VIEW_RANK[c.in_view], -c.covered_s, c.distance_m,
                                 c.camera_id))
    if sort == "activity":
        # cameras in view with footage at the moment first, then most activity near it
        # (stable: ties keep the view order); clips likewise by activity
        rows = [c._replace(clips=tuple(sorted(
            c.clips, key=lambda k: -(k.activity_near_moment if k.activity_near_moment
                                     is not None else -1.0)))) for c in rows]
        rows.sort(key=lambda c: (_footage_rank(c), _activity_key(c)))
    return _new(CanvassResult, (inc, t0, t1, radius_m, before_s, after_s, now_ts,
                                tuple(rows), sort, None))


class CameraGrid:
    """Every camera in memory, bucketed in a lat/lon grid, for many radius questions."""

    def __init__(self, cams: list[CanvassCamera], cell_m: float):
        self.cell_lat = max(cell_m, 1.0) / 111_000.0
        self.cells: dict[tuple[int, int], list[CanvassCamera]] = {}
        for cam in cams:
            self.cells.setdefault(self._key(cam.lat, cam.lon), []).append(cam)

    def _key(self, lat: float, lon: float) -> tuple[int, int]:
        return int(lat // self.cell_lat), int(lon // self.cell_lat)

    def near(self, lat: float, lon: float, radius_m: float
             ) -> list[tuple[float, CanvassCamera]]:
        """The cameras within ``radius_m`` metres as (great-circle distance in metres,
        camera), nearest first (by distance to 0.1 m, then id)."""
        s, w, n, e = geo.bbox(lat, lon, radius_m)
        (i0, j0), (i1, j1) = self._key(s, w), self._key(n, e)
        if (i1 - i0 + 1) * (j1 - j0 + 1) > len(self.cells):   # a wide search: every cell
            cells = [cell for (i, j), cell in self.cells.items()
                     if i0 <= i <= i1 and j0 <= j <= j1]
        else:
            cells = [self.cells[k] for k in ((i, j) for i in range(i0, i1 + 1)
                                             for j in range(j0, j1 + 1)) if k in self.cells]
        out = []
        for cell in cells:
            for cam in cell:
                if not (s <= cam.lat <= n and w <= cam.lon <= e):
                    continue
                d = geo.haversine_m(lat, lon, cam.lat, cam.lon)
                if d <= radius_m:
                    out.append((d, cam))
        out.sort(key=lambda dc: (round(dc[0], 1), dc[1].id))
        return out


def canvass_many(cat, incidents: list[Incident], radius_m: float = RADIUS_M,
                 before_s: float = BEFORE_S, after_s: float = AFTER_S,
                 now: datetime | None = None, sort: str = "view",
                 progress=None) -> Iterator[CanvassResult]:
    """Canvass many incidents in one pass: the same results as ``canvass_incident`` for each,
    with cameras, outcomes and the list of scanned clips read once. Yields results in the
    order given (write the audit entry with ``record_batch``)."""
    check_window(radius_m, before_s, after_s)
    now_ts = (now or now_utc()).timestamp()
    with cat.reading():
        grid = CameraGrid(cat.cameras.all_for_canvass(), radius_m)
        outcomes = cat.history.current_outcome_statuses()
        scanned = set(cat.scans.scanned())
        for inc in incidents:
            cams = grid.near(inc.lat, inc.lon, radius_m)
            yield _canvass(cat, inc, cams, radius_m, before_s, after_s, now_ts,
                           outcomes.get(inc.id, {}), sort, scanned)
            if progress:
                progress(1)


def select_incidents(cat, ids: list[str] | None = None, start_ts: float | None = None,
                     end_ts: float | None = None, neighborhood: str | None = None
                     ) -> tuple[list[Incident], list[str]]:
    """Incidents for a batch canvass: the given ids (in that order) or every incident, kept
    when inside [start_ts, end_ts) and the neighborhood; returns (incidents, unknown ids)."""
    rows = cat.incidents.list(start_ts, end_ts, neighborhood=neighborhood)
    if ids is None:
        return [Incident.from_row(r) for r in rows], []
    by_id = {r["id"]: r for r in rows}
    known = [i for i in dict.fromkeys(ids) if i in by_id]
    unknown = [i for i in dict.fromkeys(ids) if i not in by_id and cat.incidents.get(i) is None]
    return [Incident.from_row(by_id[i]) for i in known], unknown


BATCH_COLUMNS = [
    "incident_id", "occurred_at", "occurred_local", "time_precision", "incident_lat",
    "incident_lon", "camera_id", "name", "source", "integration", "lat", "lon", "distance_m",
    "in_view", "status", "covered_s", "window_s", "clips", "clips_at_moment",
    "retention_deadline", "hours_left", "deadline_state", "outcome"]
SUMMARY_COLUMNS = [
    "incident_id", "occurred_at", "occurred_local", "time_precision", "lat", "lon",
    "neighborhood", "cameras_within", "in_view", "with_footage", "gap_at_moment",
    "not_catalogued", "nearest_camera_m", "to_request", "retention_unknown", "first_deadline",
    "least_hours_left"]


def batch_rows(result: CanvassResult, zone) -> list[dict]:
    """One row per camera of a canvass (one row with no camera when none is within reach),
    the incident first, for a batch output."""
    inc = result.incident
    head = {"incident_id": inc.id, "occurred_at": inc.occurred_at,
            "occurred_local": inc.when(zone), "time_precision": inc.time_precision,
            "incident_lat": inc.lat, "incident_lon": inc.lon}
    if not result.cameras:
        return [{**head, **{c: None for c in BATCH_COLUMNS if c not in head},
                 "lat": inc.lat, "lon": inc.lon, "clips": 0}]
    out = []
    for c in result.cameras:
        at = [f"{k.clip_id}@{k.to_dict()['offset_hms'] or 'day'}" for k in c.clips
              if k.contains_moment]
        out.append({**head, "camera_id": c.camera_id, "name": c.name, "source": c.source,
                    "integration": c.integration, "lat": c.lat, "lon": c.lon,
                    "distance_m": c.distance_m, "in_view": c.in_view, "status": c.status,
                    "covered_s": c.covered_s, "window_s": c.window_s, "clips": len(c.clips),
                    "clips_at_moment": " ".join(at) or None,
                    "retention_deadline": c.retention_deadline, "hours_left": c.hours_left,
                    "deadline_state": c.deadline_state, "outcome": c.outcome})
    return out


def summary_row(result: CanvassResult, zone) -> dict:
    """One row per incident: how many cameras, in view, with footage, to request, and when.

    Any camera field may be unknown (a city's open-data list gives only an id and a place):
    ``retention_unknown`` counts the cameras to request whose retention is not known (ask
    now); ``first_deadline`` (UTC ISO) and ``least_hours_left`` come from the others and are
    None when no camera to request has a known retention."""
    inc, cams = result.incident, result.cameras
    open_ = result.request_list()
    known = [c for c in open_ if c.deadline_ts is not None]
    return {"incident_id": inc.id, "occurred_at": inc.occurred_at,
            "occurred_local": inc.when(zone), "time_precision": inc.time_precision,
            "lat": inc.lat, "lon": inc.lon, "neighborhood": inc.neighborhood,
            "cameras_within": len(cams), "in_view": sum(1 for c in cams if c.in_view),
            "with_footage": sum(1 for c in cams if c.status == STATUS_FOOTAGE),
            "gap_at_moment": sum(1 for c in cams if c.status == STATUS_GAP),
            "not_catalogued": sum(1 for c in cams if c.status == STATUS_NONE),
            "nearest_camera_m": min((c.distance_m for c in cams), default=None),
            "to_request": len(open_),
            "retention_unknown": sum(1 for c in open_ if c.deadline_state == "unknown"),
            "first_deadline": iso_utc(min((c.deadline_ts for c in known), default=None)),
            "least_hours_left": min((c.hours_left for c in known), default=None)}


def record_batch(cat, parameters: dict, incidents: int, selection: dict) -> str | None:
    """One audit entry for a batch canvass; the reason when it could not be written."""
    return cat.record("canvass batch", {**parameters, **selection, "incidents": incidents})


def canvass(cat, incident_id: str, **kwargs) -> CanvassResult:
    """Canvass a catalogued incident by id (see ``canvass_incident`` for options)."""
    return canvass_incident(cat, Incident.from_row(cat.incidents.require(incident_id)),
                            **kwargs)


def adhoc_incident(case_no: str, lat: float, lon: float, when: datetime,
                   uncertainty_s: float = 0.0) -> Incident:
    """An incident for a canvass that is not (yet) in the catalog (its case number, time
    and uncertainty checked as an imported incident's are)."""
    from videx import limits
    problem = limits.id_problem(case_no)
    if problem:
        raise OptionError(f"case number: {problem}", "case")
    problem = limits.incident_time_problem(when.timestamp(), time.time(), False, flag=None)
    if problem:
        raise OptionError(f"{iso_utc(when)} {problem}", "time")
    if not 0 <= uncertainty_s <= limits.MAX_UNCERTAINTY_S:
        raise OptionError(f"the time uncertainty must be from 0 to a year (got "
                          f"{uncertainty_s:g} s)", "uncertainty")
    return Incident(case_no, when.timestamp(), lat, lon, None, uncertainty_s)
