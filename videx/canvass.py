"""The canvass: which cameras could have seen an incident, which clips cover its window,
where in each clip the moment falls, and whose footage must be requested before it is gone.

Clip times in the catalog are already corrected for each camera's clock offset, so the window
(true time) is compared with corrected clip times directly; ``offset_s`` is the position of the
incident moment inside the clip file (seconds from the clip's first frame).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlite_utils import Database

from videx import activity, audit, geo
from videx.cameras import cameras_near, get_camera
from videx.errors import NotFound, VidexError
from videx.incidents import get_incident
from videx.timeutil import from_ts, hms, iso_utc, now_utc

STATUS_FOOTAGE = "footage"
STATUS_GAP = "gap-at-moment"
STATUS_NONE = "no-footage"
STATUS_TEXT = {STATUS_FOOTAGE: "footage catalogued", STATUS_GAP: "gap at the moment",
               STATUS_NONE: "no footage catalogued"}
OUTCOMES = ("requested", "obtained", "declined", "overwritten", "no-footage")

CLIP_QUERY = """
    SELECT id, path, sha256, start_ts, end_ts, duration_s, clock_offset_s, time_source,
           time_confidence
    FROM clips
    WHERE camera_id = :camera AND start_ts < :t1 AND start_ts >= :t0 - :max_dur AND end_ts > :t0
    ORDER BY start_ts"""


@dataclass(frozen=True)
class CanvassResult:
    """Cameras around one incident and the catalogued footage of its window."""

    incident: dict
    window_start_ts: float
    window_end_ts: float
    radius_m: float
    before_s: float
    after_s: float
    cameras: list[dict] = field(default_factory=list)
    generated_at: str = ""

    @property
    def moment_ts(self) -> float:
        return self.incident["occurred_ts"]

    def request_list(self) -> list[dict]:
        """Cameras with no catalogued footage whose retention deadline has not passed."""
        return [c for c in self.cameras if c["status"] == STATUS_NONE
                and c["deadline_state"] == "open"]

    def summary(self) -> str:
        counts = {s: sum(1 for c in self.cameras if c["status"] == s) for s in STATUS_TEXT}
        return (f"{self.incident['id']}: {len(self.cameras)} camera(s) within "
                f"{self.radius_m:g} m; {counts[STATUS_FOOTAGE]} with footage at the moment, "
                f"{counts[STATUS_GAP]} with a gap at the moment, {counts[STATUS_NONE]} with no "
                f"footage catalogued; {len(self.request_list())} to request before retention "
                "runs out")

    def to_dict(self) -> dict:
        inc = self.incident
        return {
            "incident": {"id": inc["id"], "occurred_at": inc["occurred_at"], "lat": inc["lat"],
                         "lon": inc["lon"], "address": inc.get("address"),
                         "time_uncertainty_s": inc.get("time_uncertainty_s") or 0.0},
            "window": {"start": iso_utc(self.window_start_ts), "end": iso_utc(self.window_end_ts)},
            "radius_m": self.radius_m, "before_s": self.before_s, "after_s": self.after_s,
            "generated_at": self.generated_at,
            "cameras": self.cameras,
        }

    def to_geojson(self) -> dict:
        inc = self.incident
        features = [{"type": "Feature",
                     "geometry": {"type": "Point", "coordinates": [inc["lon"], inc["lat"]]},
                     "properties": {"kind": "incident", "id": inc["id"],
                                    "occurred_at": inc["occurred_at"]}}]
        for cam in self.cameras:
            props = {k: v for k, v in cam.items() if k not in ("lat", "lon")}
            props["kind"] = "camera"
            props["clip_count"] = len(cam["clips"])
            features.append({"type": "Feature",
                             "geometry": {"type": "Point", "coordinates": [cam["lon"], cam["lat"]]},
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


def camera_active(cam: dict, moment: datetime) -> bool:
    """Whether a camera's active_from/active_to (UTC ISO) include the moment."""
    stamp = iso_utc(moment)
    return ((not cam.get("active_from") or cam["active_from"] <= stamp)
            and (not cam.get("active_to") or stamp <= cam["active_to"]))


def assess_camera(db: Database, cam: dict, inc: dict, t0: float, t1: float,
                  now: datetime, outcome: dict | None) -> dict:
    """One canvass row: view, clips in [t0, t1), coverage, status and retention deadline."""
    moment = inc["occurred_ts"]
    rows = db.execute(CLIP_QUERY, {"camera": cam["id"], "t0": t0, "t1": t1,
                                   "max_dur": cam["max_clip_s"] or 0.0}).fetchall()
    clips = [{"clip_id": r[0], "path": r[1], "sha256": r[2], "start": iso_utc(r[3]),
              "end": iso_utc(r[4]), "offset_s": round(moment - r[3], 3),
              "offset_hms": hms(moment - r[3]) if r[3] <= moment < r[4] else None,
              "contains_moment": r[3] <= moment < r[4], "clock_offset_s": r[6],
              "time_source": r[7], "time_confidence": r[8]} for r in rows]
    for clip in clips:
        near, peak = activity.activity_near(db, clip["clip_id"], clip["offset_s"])
        clip["activity_near_moment"], clip["activity_peak"] = near, peak
    covered, gaps = merge_coverage([(r[3], r[4]) for r in rows], t0, t1)
    if any(c["contains_moment"] for c in clips):
        status = STATUS_FOOTAGE
    else:
        status = STATUS_GAP if clips else STATUS_NONE
    deadline = hours_left = state = None
    if status == STATUS_NONE and cam.get("retention_days") is not None:
        deadline_ts = moment + cam["retention_days"] * 86400.0
        deadline = iso_utc(deadline_ts)
        hours_left = round((deadline_ts - now.timestamp()) / 3600.0, 1)
        state = "open" if hours_left > 0 else "lost"
    return {
        "camera_id": cam["id"], "name": cam.get("name"), "source": cam["source"],
        "integration": cam["integration"], "kind": cam.get("kind"),
        "lat": cam["lat"], "lon": cam["lon"], "distance_m": cam["distance_m"],
        "in_view": geo.in_view(cam["lat"], cam["lon"], cam.get("heading_deg"),
                               cam.get("fov_deg"), cam.get("range_m"), inc["lat"], inc["lon"]),
        "status": status,
        "covered_s": round(covered, 1), "window_s": round(t1 - t0, 1),
        "gaps": [{"start": iso_utc(a), "end": iso_utc(b), "duration_s": round(b - a, 1)}
                 for a, b in gaps],
        "retention_days": cam.get("retention_days"), "retention_deadline": deadline,
        "hours_left": hours_left, "deadline_state": state,
        "action": (None if status != STATUS_NONE else
                   "ask owner" if cam["integration"] == "registered" else "pull from system"),
        "owner_name": cam.get("owner_name"), "owner_contact": cam.get("owner_contact"),
        "outcome": outcome["status"] if outcome else None,
        "clips": clips,
    }


def _view_rank(in_view: bool | None) -> int:
    return {True: 0, None: 1, False: 2}[in_view]


def _activity_key(cam: dict) -> float:
    values = [k["activity_near_moment"] for k in cam["clips"]
              if k.get("activity_near_moment") is not None]
    return -max(values) if values else float("inf")


def canvass_incident(db: Database, inc: dict, radius_m: float = 250.0, before_s: float = 1800.0,
                     after_s: float = 900.0, now: datetime | None = None,
                     record: bool = True, sort: str = "view") -> CanvassResult:
    """Canvass around an incident dict (``id``, ``occurred_ts``, ``occurred_at``, ``lat``,
    ``lon``, optional ``time_uncertainty_s``). Distances in metres, times in seconds.

    ``sort="view"`` orders cameras in view first, then by coverage, then distance;
    ``sort="activity"`` puts the cameras (and clips) with most activity near the moment first
    (scanned clips only; see ``videx scan``)."""
    if radius_m <= 0 or before_s < 0 or after_s < 0:
        raise VidexError("radius must be positive and --before/--after not negative")
    now = now or now_utc()
    unc = float(inc.get("time_uncertainty_s") or 0.0)
    t0 = inc["occurred_ts"] - before_s - unc
    t1 = inc["occurred_ts"] + after_s + unc
    outcomes = {r["camera_id"]: r for r in db.query(
        "SELECT camera_id, status FROM outcomes WHERE incident_id = ?", [inc["id"]])}
    moment = from_ts(inc["occurred_ts"])
    rows = [assess_camera(db, cam, inc, t0, t1, now, outcomes.get(cam["id"]))
            for cam in cameras_near(db, inc["lat"], inc["lon"], radius_m)
            if camera_active(cam, moment)]
    rows.sort(key=lambda c: (_view_rank(c["in_view"]), -c["covered_s"], c["distance_m"]))
    if sort == "activity":  # most activity around the moment first (stable: ties keep order)
        for cam in rows:
            cam["clips"].sort(key=lambda k: -(k.get("activity_near_moment") or -1.0))
        rows.sort(key=_activity_key)
    result = CanvassResult(inc, t0, t1, radius_m, before_s, after_s, rows, iso_utc(now))
    if record:
        audit.append(db, "canvass", {"radius_m": radius_m, "before_s": before_s,
                                     "after_s": after_s, "lat": inc["lat"], "lon": inc["lon"],
                                     "time": inc["occurred_at"], "cameras": len(rows)},
                     case_no=inc["id"])
    return result


def canvass(db: Database, incident_id: str, **kwargs) -> CanvassResult:
    """Canvass a catalogued incident by id (see ``canvass_incident`` for options)."""
    return canvass_incident(db, get_incident(db, incident_id), **kwargs)


def adhoc_incident(case_no: str, lat: float, lon: float, when: datetime,
                   uncertainty_s: float = 0.0) -> dict:
    """An incident dict for a canvass that is not (yet) in the catalog."""
    return {"id": case_no, "occurred_at": iso_utc(when), "occurred_ts": when.timestamp(),
            "lat": lat, "lon": lon, "address": None, "time_uncertainty_s": uncertainty_s}


def record_outcome(db: Database, incident_id: str, camera_id: str, status: str,
                   note: str | None = None) -> dict:
    """Record what happened with one camera's footage for an incident (latest wins; the audit
    log keeps the history)."""
    if status not in OUTCOMES:
        raise VidexError(f"unknown outcome {status!r} (expected one of: {', '.join(OUTCOMES)})")
    get_incident(db, incident_id)
    get_camera(db, camera_id)
    row = {"incident_id": incident_id, "camera_id": camera_id, "status": status, "note": note,
           "recorded_at": iso_utc(now_utc()), "recorded_by": audit.current_user()}
    with db.atomic():
        db.execute("INSERT INTO outcomes (incident_id, camera_id, status, note, recorded_at, "
                   "recorded_by) VALUES (:incident_id, :camera_id, :status, :note, :recorded_at, "
                   ":recorded_by) ON CONFLICT (incident_id, camera_id) DO UPDATE SET "
                   "status = excluded.status, note = excluded.note, "
                   "recorded_at = excluded.recorded_at, recorded_by = excluded.recorded_by", row)
        audit.append(db, "outcome", {"camera": camera_id, "status": status, "note": note},
                     case_no=incident_id)
    return row


def record_review(db: Database, incident_id: str, clip_id: int, probative: bool,
                  note: str | None = None) -> dict:
    """Mark a clip probative or not for an incident (latest review wins)."""
    get_incident(db, incident_id)
    if not db.execute("SELECT 1 FROM clips WHERE id = ?", [clip_id]).fetchone():
        raise NotFound(f"no clip {clip_id} in the catalog (see videx clips list)")
    row = {"incident_id": incident_id, "clip_id": clip_id, "probative": int(probative),
           "note": note, "reviewed_at": iso_utc(now_utc()), "reviewed_by": audit.current_user()}
    with db.atomic():
        db.execute("INSERT INTO reviews (incident_id, clip_id, probative, note, reviewed_at, "
                   "reviewed_by) VALUES (:incident_id, :clip_id, :probative, :note, :reviewed_at, "
                   ":reviewed_by) ON CONFLICT (incident_id, clip_id) DO UPDATE SET "
                   "probative = excluded.probative, note = excluded.note, "
                   "reviewed_at = excluded.reviewed_at, reviewed_by = excluded.reviewed_by", row)
        audit.append(db, "review", {"clip": clip_id, "probative": bool(probative), "note": note},
                     case_no=incident_id)
    return row

