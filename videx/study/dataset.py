"""The study's case table built from the catalog: one row per incident with its exposure.

Exposure definitions (``video`` = yes/no):

- ``probative``: at least one clip reviewed as probative for the incident;
- ``obtained``: a canvass outcome of ``obtained`` for at least one camera;
- ``coverage``: at least one catalogued clip from a camera within the radius, and in view when
  the camera's geometry is known, contains the incident moment.

``video_at`` records when the video was logged (first probative review, outcome time, or clip
ingest time) so that video logged after the clearance can be examined. Outcome ``cleared`` is
clearance by arrest; exceptional clearances count only with ``count_exceptional``.
"""

from __future__ import annotations

import csv
from pathlib import Path

from videx.canvass import STATUS_FOOTAGE, Incident, canvass_incident
from videx.errors import OptionError
from videx.output import safe_cell
from videx.timeutil import format_local

EXPOSURES = ("probative", "obtained", "coverage")
COLUMNS = ["case_id", "occurred_at", "year", "category", "neighborhood", "victims",
           "shotspotter", "video", "video_at", "cleared", "clearance_type", "cleared_at"]


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


def build_rows(cat, exposure: str, radius_m: float = 250.0,
               count_exceptional: bool = False) -> list[dict]:
    """One row per catalogued incident, ready for ``videx study run``."""
    exposed = exposure_times(cat, exposure, radius_m)
    zone = cat.display_zone()
    rows = []
    for inc in cat.incidents.list():
        cleared = bool(inc["cleared"]) and (inc["clearance_type"] != "exceptional"
                                            or count_exceptional)
        rows.append({
            "case_id": inc["id"], "occurred_at": inc["occurred_at"],
            "year": format_local(inc["occurred_ts"], zone)[:4],
            "category": inc["category"] or "", "neighborhood": inc["neighborhood"] or "",
            "victims": "" if inc["victims"] is None else inc["victims"],
            "shotspotter": {1: "yes", 0: "no"}.get(inc["shotspotter"], ""),
            "video": "yes" if inc["id"] in exposed else "no",
            "video_at": exposed.get(inc["id"], ""),
            "cleared": "yes" if cleared else "no",
            "clearance_type": inc["clearance_type"] or "",
            "cleared_at": inc["cleared_at"] or "",
        })
    return rows


def write_dataset(cat, out: str | Path, exposure: str, radius_m: float = 250.0,
                  count_exceptional: bool = False) -> dict:
    """Write the case table CSV (spreadsheet-safe cells); returns counts for the summary."""
    rows = build_rows(cat, exposure, radius_m, count_exceptional)
    out = Path(out)
    tmp = out.with_name(out.name + ".part")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(COLUMNS)
        for r in rows:
            writer.writerow([safe_cell(r[c]) for c in COLUMNS])
    tmp.replace(out)
    counts = {"cases": len(rows), "exposed": sum(r["video"] == "yes" for r in rows),
              "cleared": sum(r["cleared"] == "yes" for r in rows), "exposure": exposure,
              "out": str(out)}
    counts["audit_note"] = cat.record("study dataset", {
        **counts, "radius_m": radius_m, "count_exceptional": count_exceptional})
    return counts
