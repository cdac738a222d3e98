"""The canvass: which cameras could have seen an incident, which clips cover its window,
where in each clip the moment falls, and whose footage must be requested before it is gone.

Clip times in the catalog are already corrected for each camera's clock offset, so the window
(true time) is compared with corrected clip times directly; ``offset_s`` is the position of the
incident moment inside the clip file (seconds from the clip's first frame).

The result is typed (``CanvassResult`` of ``CameraHit`` of ``ClipHit``, numeric instants in
POSIX seconds UTC, with each camera's view geometry) and computed once: the report, contact
sheet, extract and scan take it as their input instead of canvassing again.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from videx import geo
from videx.errors import OptionError
from videx.store.cameras import CANVASS_COLUMNS
from videx.timeutil import hms, iso_utc, now_utc

STATUS_FOOTAGE = "footage"
STATUS_GAP = "gap-at-moment"
STATUS_NONE = "no-footage"
STATUS_TEXT = {STATUS_FOOTAGE: "footage catalogued", STATUS_GAP: "gap at the moment",
               STATUS_NONE: "no footage catalogued"}
SORTS = ("view", "activity")


@dataclass(frozen=True)
class Incident:
    """Where and when: the moment (POSIX seconds UTC) and place (WGS84 degrees)."""

    id: str
    occurred_ts: float
    lat: float
    lon: float
    address: str | None = None
    time_uncertainty_s: float = 0.0

    @property
    def occurred_at(self) -> str:
        return iso_utc(self.occurred_ts)

    @classmethod
    def from_row(cls, row: dict) -> Incident:
        return cls(row["id"], row["occurred_ts"], row["lat"], row["lon"], row.get("address"),
                   float(row.get("time_uncertainty_s") or 0.0))

    def to_dict(self) -> dict:
        return {"id": self.id, "occurred_at": self.occurred_at, "lat": self.lat,
                "lon": self.lon, "address": self.address,
                "time_uncertainty_s": self.time_uncertainty_s}


@dataclass(frozen=True)
class View:
    """A camera's view wedge: centre bearing and width (degrees), reach (metres, if known)."""

    heading_deg: float
    fov_deg: float
    range_m: float | None


@dataclass(frozen=True)
class ClipHit:
    """One catalogued clip in the window; ``offset_s`` is where the moment falls in it."""

    clip_id: int
    path: str
    sha256: str
    start_ts: float
    end_ts: float
    duration_s: float
    offset_s: float
    contains_moment: bool
    clock_offset_s: float
    time_source: str
    time_confidence: str
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    activity_near_moment: float | None = None
    activity_peak: float | None = None

    def to_dict(self) -> dict:
        return {"clip_id": self.clip_id, "path": self.path, "sha256": self.sha256,
                "start": iso_utc(self.start_ts), "end": iso_utc(self.end_ts),
                "offset_s": round(self.offset_s, 3),
                "offset_hms": hms(self.offset_s) if self.contains_moment else None,
                "contains_moment": self.contains_moment,
                "clock_offset_s": self.clock_offset_s, "time_source": self.time_source,
                "time_confidence": self.time_confidence,
                "activity_near_moment": self.activity_near_moment,
                "activity_peak": self.activity_peak}


@dataclass(frozen=True)
class CameraHit:
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


@dataclass(frozen=True)
class CanvassResult:
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
    audit_note: str | None = field(default=None, compare=False)

    @property
    def moment_ts(self) -> float:
        return self.incident.occurred_ts

    def clips(self, containing_moment: bool = False) -> list[tuple[CameraHit, ClipHit]]:
        """(camera, clip) pairs in canvass order, optionally only clips with the moment."""
        return [(c, k) for c in self.cameras for k in c.clips
                if k.contains_moment or not containing_moment]

    def request_list(self) -> list[CameraHit]:
        """Cameras with no catalogued footage whose retention deadline has not passed."""
        return [c for c in self.cameras if c.status == STATUS_NONE
                and c.deadline_state == "open"]

    def summary(self) -> str:
        counts = {s: sum(1 for c in self.cameras if c.status == s) for s in STATUS_TEXT}
        return (f"{self.incident.id}: {len(self.cameras)} camera(s) within "
                f"{self.radius_m:g} m; {counts[STATUS_FOOTAGE]} with footage at the moment, "
                f"{counts[STATUS_GAP]} with a gap at the moment, {counts[STATUS_NONE]} with no "
                f"footage catalogued; {len(self.request_list())} to request before retention "
                "runs out")

    def parameters(self) -> dict:
        """The options this canvass ran with (for audit entries and manifests)."""
        return {"radius_m": self.radius_m, "before_s": self.before_s, "after_s": self.after_s,
                "sort": self.sort}

    def to_dict(self) -> dict:
        return {"incident": self.incident.to_dict(),
                "window": {"start": iso_utc(self.window_start_ts),
                           "end": iso_utc(self.window_end_ts)},
                "radius_m": self.radius_m, "before_s": self.before_s, "after_s": self.after_s,
                "generated_at": iso_utc(self.generated_ts),
                "cameras": [c.to_dict() for c in self.cameras]}

    def to_geojson(self) -> dict:
        inc = self.incident
        features = [{"type": "Feature",
                     "geometry": {"type": "Point", "coordinates": [inc.lon, inc.lat]},
                     "properties": {"kind": "incident", "id": inc.id,
                                    "occurred_at": inc.occurred_at}}]
        for cam in self.cameras:
            props = {k: v for k, v in cam.to_dict().items() if k not in ("lat", "lon")}
            props["kind"] = "camera"
            props["clip_count"] = len(cam.clips)
            features.append({"type": "Feature",
                             "geometry": {"type": "Point", "coordinates": [cam.lon, cam.lat]},
                             "properties": props})
        return {"type": "FeatureCollection", "features": features}


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


def camera_active(cam: dict, moment_ts: float) -> bool:
    """Whether a camera's active_from/active_to (UTC ISO) include the moment."""
    stamp = iso_utc(moment_ts)
    return ((not cam.get("active_from") or cam["active_from"] <= stamp)
            and (not cam.get("active_to") or stamp <= cam["active_to"]))


def assess_camera(cat, cam: dict, inc: Incident, t0: float, t1: float, now_ts: float,
                  outcome: str | None) -> CameraHit:
    """One canvass row: view, clips in [t0, t1), coverage, status and retention deadline."""
    moment = inc.occurred_ts
    clips = []
    intervals = []
    for (cid, path, sha, s, e, dur, off, src, conf, codec, w, h, fps) in cat.clips.window(
            cam["id"], t0, t1, cam["max_clip_s"]):
        near, peak = cat.scans.activity_near(cid, moment - s)
        clips.append(ClipHit(cid, path, sha, s, e, dur, moment - s, s <= moment < e, off, src,
                             conf, codec, w, h, fps, near, peak))
        intervals.append((s, e))
    covered, gaps = merge_coverage(intervals, t0, t1)
    if any(c.contains_moment for c in clips):
        status = STATUS_FOOTAGE
    else:
        status = STATUS_GAP if clips else STATUS_NONE
    deadline_ts = hours_left = state = None
    if status == STATUS_NONE and cam.get("retention_days") is not None:
        deadline_ts = moment + cam["retention_days"] * 86400.0
        hours_left = round((deadline_ts - now_ts) / 3600.0, 1)
        state = "open" if hours_left > 0 else "lost"
    view = (View(cam["heading_deg"], cam["fov_deg"], cam.get("range_m"))
            if cam.get("heading_deg") is not None and cam.get("fov_deg") is not None else None)
    return CameraHit(
        cam["id"], cam.get("name"), cam["source"], cam["integration"], cam.get("kind"),
        cam["lat"], cam["lon"], cam.get("address"), cam["distance_m"],
        geo.in_view(cam["lat"], cam["lon"], cam.get("heading_deg"), cam.get("fov_deg"),
                    cam.get("range_m"), inc.lat, inc.lon),
        view, status, round(covered, 1), round(t1 - t0, 1), tuple(gaps),
        cam.get("retention_days"), deadline_ts, hours_left, state,
        None if status != STATUS_NONE else
        "ask owner" if cam["integration"] == "registered" else "pull from system",
        cam.get("owner_name"), cam.get("owner_contact"), outcome, tuple(clips))


def _view_rank(in_view: bool | None) -> int:
    return {True: 0, None: 1, False: 2}[in_view]


def _activity_key(cam: CameraHit) -> float:
    values = [k.activity_near_moment for k in cam.clips if k.activity_near_moment is not None]
    return -max(values) if values else float("inf")


def check_window(radius_m: float, before_s: float, after_s: float) -> None:
    """Refuse a radius that is not positive or a window side that is negative."""
    if not radius_m > 0:
        raise OptionError(f"radius must be more than 0 m (got {radius_m:g})", "radius")
    if before_s < 0:
        raise OptionError("the window before the moment cannot be negative", "before")
    if after_s < 0:
        raise OptionError("the window after the moment cannot be negative", "after")


def canvass_incident(cat, inc: Incident, radius_m: float = 250.0, before_s: float = 1800.0,
                     after_s: float = 900.0, now: datetime | None = None,
                     record: bool = True, sort: str = "view") -> CanvassResult:
    """Canvass around an incident. Distances in metres, times in seconds.

    ``sort="view"`` orders cameras in view first, then by coverage, then distance;
    ``sort="activity"`` puts the cameras (and clips) with most activity near the moment first
    (scanned clips only). With ``record`` the canvass is written to the audit log (when the
    catalog can be written; ``audit_note`` says why not otherwise)."""
    check_window(radius_m, before_s, after_s)
    if sort not in SORTS:
        raise OptionError(f"unknown sort {sort!r} (use {' or '.join(SORTS)})", "sort")
    now_ts = (now or now_utc()).timestamp()
    unc = float(inc.time_uncertainty_s or 0.0)
    t0 = inc.occurred_ts - before_s - unc
    t1 = inc.occurred_ts + after_s + unc
    with cat.reading():
        outcomes = {k: v["status"] for k, v in cat.history.current_outcomes(inc.id).items()}
        rows = [assess_camera(cat, cam, inc, t0, t1, now_ts, outcomes.get(cam["id"]))
                for cam in cat.cameras.near(inc.lat, inc.lon, radius_m,
                                            columns=CANVASS_COLUMNS)
                if camera_active(cam, inc.occurred_ts)]
    rows.sort(key=lambda c: (_view_rank(c.in_view), -c.covered_s, c.distance_m))
    if sort == "activity":  # most activity around the moment first (stable: ties keep order)
        rows = [replace(c, clips=tuple(sorted(
            c.clips, key=lambda k: -(k.activity_near_moment if k.activity_near_moment
                                     is not None else -1.0)))) for c in rows]
        rows.sort(key=_activity_key)
    result = CanvassResult(inc, t0, t1, radius_m, before_s, after_s, now_ts, tuple(rows), sort)
    if record:
        note = cat.record("canvass", {**result.parameters(), "lat": inc.lat, "lon": inc.lon,
                                      "time": inc.occurred_at, "cameras": len(rows)},
                          case_no=inc.id)
        if note:
            result = replace(result, audit_note=f"audit entry not written: {note}")
    return result


def canvass(cat, incident_id: str, **kwargs) -> CanvassResult:
    """Canvass a catalogued incident by id (see ``canvass_incident`` for options)."""
    return canvass_incident(cat, Incident.from_row(cat.incidents.require(incident_id)),
                            **kwargs)


def adhoc_incident(case_no: str, lat: float, lon: float, when: datetime,
                   uncertainty_s: float = 0.0) -> Incident:
    """An incident for a canvass that is not (yet) in the catalog."""
    return Incident(case_no, when.timestamp(), lat, lon, None, uncertainty_s)
