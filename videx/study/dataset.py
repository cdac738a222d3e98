"""The study's case table built from the catalog: one row per incident with its exposure.

Exposure definitions (``video`` = yes/no):

- ``probative``: at least one clip reviewed as probative for the incident;
- ``obtained``: a canvass outcome of ``obtained`` (or ``uploaded``: a request's upload link
  received footage) for at least one camera;
- ``coverage``: at least one catalogued clip from a camera within the radius, and in view when
  the camera's geometry is known, contains the incident moment;
- ``nearby``: a registered camera (of a source / integration, in view, active on the day, when
  asked) stands within the radius (geodesic metres): from the registry alone, no clips needed.
  The columns ``nearest_camera_m`` and ``cameras_within`` let analysts try other thresholds.

``--carry COLUMN`` copies an incident's original column (kept from import) into the table;
``time_precision`` marks incidents known only to the day.

``video_at`` records when the video was logged (first probative review, outcome time, or clip
ingest time) so that video logged after the clearance can be examined. Outcome ``cleared`` is
clearance by arrest; exceptional clearances count only with ``count_exceptional``. An incident
whose clearance is not recorded (its list had no clearance column) gets a blank ``cleared``
cell, never "no": the table never invents an outcome.

Beside the table, ``write_dataset`` writes the spec that runs it (``cases.toml`` for
``cases.csv``): the outcome and exposure columns, and the exposure's label
(``EXPOSURE_LABELS``: "a camera within 50 m" for ``nearby`` at 50 m).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from videx import geo
from videx.canvass import (
    RADIUS_M,
    STATUS_FOOTAGE,
    CameraGrid,
    Incident,
    camera_active,
    canvass_incident,
)
from videx.errors import OptionError
from videx.output import safe_cell
from videx.store.cameras import CanvassCamera
from videx.timeutil import format_local

EXPOSURES = ("probative", "obtained", "coverage", "nearby")
EXPOSURE_LABELS = {          # how the study's report names each exposure ({radius_m}: metres)
    "probative": "a probative clip",
    "obtained": "footage obtained",
    "coverage": "a clip covering the moment (cameras within {radius_m:g} m)",
    "nearby": "a camera within {radius_m:g} m",
}
MAX_NEAREST_M = 50_000.0
COLUMNS = ["case_id", "occurred_at", "time_precision", "year", "category", "neighborhood",
           "victims", "shotspotter", "video", "video_at", "nearest_camera_m", "cameras_within",
           "cleared", "clearance_type", "cleared_at"]


@dataclass(frozen=True)
class NearbyRule:
    """Which registered cameras count for the ``nearby`` exposure."""

    source: str | None = None
    integration: str | None = None
    in_view: bool = False
    active: bool = False

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def exposure_label(exposure: str, radius_m: float = RADIUS_M, rule: NearbyRule | None = None
                   ) -> str:
    """The report's name for an exposure: ``EXPOSURE_LABELS`` with the radius (metres), and
    for ``nearby`` the rule's source, integration, view and activity."""
    if exposure not in EXPOSURE_LABELS:
        raise OptionError(f"unknown exposure {exposure!r} (use one of {', '.join(EXPOSURES)})",
                          "exposure")
    radius = round(float(radius_m), 1)
    label = EXPOSURE_LABELS[exposure].format(radius_m=radius)
    if exposure == "nearby" and rule is not None:
        kind = " ".join(k for k in (rule.source, rule.integration) if k)
        label = (f"a {kind} camera within {radius:g} m" if kind else label) + (
            " with the place in view" if rule.in_view else "") + (
            " active on the day" if rule.active else "")
    return label


def _counted(grid: CameraGrid, inc: Incident, reach_m: float, rule: NearbyRule
             ) -> list[tuple[float, CanvassCamera]]:
    """The counted cameras within ``reach_m`` metres as (distance in metres, camera)."""
    return [(d, c) for d, c in grid.near(inc.lat, inc.lon, reach_m)
            if (not rule.active or camera_active(c, inc.occurred_ts))
            and (not rule.in_view or geo.in_view(c.lat, c.lon, c.heading_deg, c.fov_deg,
                                                 c.range_m, inc.lat, inc.lon, d))]


def nearby(cat, radius_m: float, rule: NearbyRule) -> dict[str, tuple[float | None, int]]:
    """{incident id: (nearest counted camera in metres, at any distance up to 50 km, or None;
    counted cameras within radius_m)}."""
    cams = [c for c in cat.cameras.all_for_canvass()
            if (not rule.source or c.source == rule.source)
            and (not rule.integration or c.integration == rule.integration)]
    grid = CameraGrid(cams, radius_m)
    out = {}
    for row in cat.incidents.list():
        inc = Incident.from_row(row)
        within = _counted(grid, inc, radius_m, rule)
        reach, found = radius_m, within
        while not found and reach < MAX_NEAREST_M:     # look further for the nearest one
            reach = min(reach * 4, MAX_NEAREST_M)
            found = _counted(grid, inc, reach, rule)
        out[inc.id] = (round(found[0][0], 1) if found else None, len(within))
    return out


def exposure_times(cat, exposure: str, radius_m: float) -> dict[str, str]:
    """{incident id: when the qualifying video was logged (UTC ISO)} for exposed incidents."""
    if exposure == "probative":
        return cat.history.first_probative()
    if exposure == "obtained":
        return cat.history.first_obtained()
    if exposure != "coverage":
        raise OptionError(f"unknown exposure {exposure!r} (use one of {', '.join(EXPOSURES)})",
                          "exposure")
    found = {}
    for inc in cat.incidents.list():
        res = canvass_incident(cat, Incident.from_row(inc), radius_m=radius_m, before_s=0,
                               after_s=0, record=False)
        hits = [k.clip_id for c in res.cameras if c.status == STATUS_FOOTAGE
                and c.in_view is not False for k in c.clips if k.contains_moment]
        if hits:
            found[inc["id"]] = cat.clips.first_ingested(hits)
    return found


def build_rows(cat, exposure: str, radius_m: float = RADIUS_M, count_exceptional: bool = False,
               rule: NearbyRule | None = None, carry: tuple[str, ...] = ()) -> list[dict]:
    """One row per catalogued incident, ready for ``videx study run``."""
    if exposure == "nearby":
        near = nearby(cat, radius_m, rule or NearbyRule())
        exposed = {k: "" for k, (d, n) in near.items() if n}
    else:
        near = {}
        exposed = exposure_times(cat, exposure, radius_m)
    zone = cat.display_zone()
    incidents = cat.incidents.list()
    if carry:
        kept = set()
        for inc in incidents:
            kept |= set(json.loads(inc["extra"] or "{}"))
        missing = [c for c in carry if c not in kept]
        if missing:
            raise OptionError(f"no incident has an imported column {', '.join(missing)} (kept "
                              f"columns: {', '.join(sorted(kept)) or 'none'})", "carry")
    rows = []
    for inc in incidents:
        cleared = None if inc["cleared"] is None else (
            bool(inc["cleared"]) and (inc["clearance_type"] != "exceptional"
                                      or count_exceptional))
        extra = json.loads(inc["extra"] or "{}")
        nearest, within = near.get(inc["id"], (None, None))
        row = {
            "case_id": inc["id"], "occurred_at": inc["occurred_at"],
            "time_precision": inc["time_precision"],
            "year": format_local(inc["occurred_ts"], zone)[:4],
            "category": inc["category"] or "", "neighborhood": inc["neighborhood"] or "",
            "victims": "" if inc["victims"] is None else inc["victims"],
            "shotspotter": {1: "yes", 0: "no"}.get(inc["shotspotter"], ""),
            "video": "yes" if inc["id"] in exposed else "no",
            "video_at": exposed.get(inc["id"], ""),
            "nearest_camera_m": "" if nearest is None else nearest,
            "cameras_within": "" if within is None else within,
            "cleared": "" if cleared is None else "yes" if cleared else "no",
            "clearance_type": inc["clearance_type"] or "",
            "cleared_at": inc["cleared_at"] or "",
        }
        for c in carry:
            row[c] = extra.get(c, "")
        rows.append(row)
    return rows


def write_dataset(cat, out: str | Path, exposure: str, radius_m: float = RADIUS_M,
                  count_exceptional: bool = False, rule: NearbyRule | None = None,
                  carry: tuple[str, ...] = ()) -> dict:
    """Write the case table CSV (spreadsheet-safe cells) and, beside it, the spec that runs
    it (``<name>.toml``); returns counts for the summary (``clearance_unknown``: incidents
    whose cleared cell is blank because no clearance was recorded)."""
    rows = build_rows(cat, exposure, radius_m, count_exceptional, rule, carry)
    out = Path(out)
    columns = COLUMNS + [c for c in carry if c not in COLUMNS]
    tmp = out.with_name(out.name + ".part")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        for r in rows:
            writer.writerow([safe_cell(r[c]) for c in columns])
    tmp.replace(out)
    label = exposure_label(exposure, radius_m, rule if exposure == "nearby" else None)
    spec_path = write_spec(out, label)
    counts = {"cases": len(rows), "exposed": sum(r["video"] == "yes" for r in rows),
              "cleared": sum(r["cleared"] == "yes" for r in rows),
              "clearance_unknown": sum(r["cleared"] == "" for r in rows), "exposure": exposure,
              "exposure_label": label, "out": str(out), "spec": str(spec_path)}
    counts["audit_note"] = cat.record("study dataset", {
        **counts, "radius_m": radius_m, "count_exceptional": count_exceptional,
        "nearby": (rule or NearbyRule()).to_dict() if exposure == "nearby" else None,
        "carry": list(carry)})
    return counts


def write_spec(table: Path, label: str) -> Path:
    """The spec that runs the study on ``table`` (``<name>.toml`` beside it, the table's path
    relative to it): cleared=yes / no, video=yes / no, the exposure's label."""
    from videx.study.spec import build_spec, spec_to_toml
    path = table.with_suffix(".toml") if table.suffix != ".toml" else \
        table.with_name(table.name + ".spec.toml")
    spec = build_spec({"cases": str(table), "outcome": "cleared=yes", "outcome_no": "no",
                       "exposure": "video=yes", "exposure_no": "no", "exposure_label": label})
    path.write_text("# written by videx study dataset: videx study run --spec "
                    f"{path.name} (add --covariate, --cluster ...)\n"
                    + spec_to_toml(spec, written_to=path))
    return path
