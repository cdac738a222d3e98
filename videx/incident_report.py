"""The one-page incident report: one self-contained HTML file (it opens offline).

One canvass result feeds every part: an SVG map in Web Mercator (incident, radius ring,
cameras with their view wedges coloured by status, labels placed so they do not overlap, and,
with a department tile server, the streets underneath, embedded), a coverage timeline with a
time axis (clips per camera across the window, the moment marked), activity sparklines for
scanned clips, the contact sheet, the request list (every camera without footage still to be
asked for, including those whose retention is unknown), and the case history.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

from videx import __version__, audit, basemap, display
from videx.canvass import STATUS_FOOTAGE
from videx.timeutil import format_local, hms, iso_utc, now_utc

LABEL_PX_PER_CHAR, LABEL_HEIGHT = 6.8, 12.0     # 11 px text (scaled with font_px)


def esc(value) -> str:
    return html.escape("" if value is None else str(value))


def place_labels(points: list[tuple[float, float, str]], size: int,
                 avoid: list[tuple[float, float, float, float]],
                 font_px: float = 11.0) -> list[tuple[float, float]]:
    """Top-left corners for text labels next to points, trying eight positions each and
    keeping the one that overlaps other labels, markers and ``avoid`` boxes least."""
    per_char, height = LABEL_PX_PER_CHAR * font_px / 11, LABEL_HEIGHT * font_px / 11
    boxes: list[tuple[float, float, float, float]] = list(avoid)
    boxes += [(x - 6, y - 6, x + 6, y + 6) for x, y, _ in points]      # the markers
    out = []
    for x, y, text in points:
        w = per_char * len(text)
        h = height
        options = [(x + 8, y - h / 2), (x - 8 - w, y - h / 2), (x - w / 2, y - 9 - h),
                   (x - w / 2, y + 9), (x + 7, y - 7 - h), (x + 7, y + 7),
                   (x - 7 - w, y - 7 - h), (x - 7 - w, y + 7)]
        # only boxes that can touch one of the eight candidates count: cut the list once
        rx0, ry0, rx1, ry1 = x - w - 10, y - h - 12, x + w + 10, y + h + 12
        near = [b for b in boxes if b[0] < rx1 and rx0 < b[2] and b[1] < ry1 and ry0 < b[3]]
        best, least = options[0], math.inf
        for option in options:        # the first of the cheapest, as min() would pick
            cost = _label_cost(option, w, h, size, near)
            if cost < least:
                best, least = option, cost
                if cost == 0:         # nothing can beat a free spot
                    break
        boxes.append((best[0], best[1], best[0] + w, best[1] + h))
        out.append(best)
    return out


def _label_cost(corner, w: float, h: float, size: int, taken: list) -> float:
    """How badly a label box at ``corner`` (pixels) fits: 100 per pixel outside the map,
    plus the area it shares with each box in ``taken``."""
    x0, y0 = corner
    x1, y1 = x0 + w, y0 + h
    outside = ((-x0 if x0 < 0 else 0) + (x1 - size if x1 > size else 0)
               + (-y0 if y0 < 0 else 0) + (y1 - size if y1 > size else 0)) * 100
    shared = 0
    for b in taken:
        ow = (x1 if x1 < b[2] else b[2]) - (x0 if x0 > b[0] else b[0])
        if ow > 0:
            oh = (y1 if y1 < b[3] else b[3]) - (y0 if y0 > b[1] else b[1])
            if oh > 0:
                shared += ow * oh
    return outside + shared


def map_svg(result, size: int = 520, tiles: list[basemap.Tile] | None = None,
            link=None, font_px: float = 11.0) -> str:
    """Map of the canvass in Web Mercator, the radius fitting the square; ``tiles`` (from
    ``basemap.tiles``) are drawn underneath. Cameras are coloured as ``videx.display`` says;
    the view wedges of cameras whose view holds the place are filled, the others only
    outlined. ``link(camera_id)`` (a URL) makes each camera a link. ``font_px``: label size
    in map pixels (a page that shows the map smaller than ``size`` needs more)."""
    inc = result.incident
    view = basemap.View(inc.lat, inc.lon, result.radius_m, size)
    scale = view.px_per_m()
    cx = cy = size / 2
    role = "img" if link is None else "group"      # links inside: not one image
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{size}' height='{size}' "
             f"viewBox='0 0 {size} {size}' role='{role}' aria-label='map'>",
             f"<rect width='{size}' height='{size}' fill='#f7fafc'/>"]
    for t in tiles or []:
        parts.append(f"<image x='{t.x:.1f}' y='{t.y:.1f}' width='{t.side:.2f}' "
                     f"height='{t.side:.2f}' preserveAspectRatio='none' href='data:"
                     f"{t.content_type};base64,{base64.b64encode(t.png).decode()}'/>")
    ring = result.radius_m * scale
    parts.append(f"<circle cx='{cx}' cy='{cy}' r='{ring:.1f}' fill='none' stroke='#4a5568' "
                 "stroke-dasharray='6 4'/>")
    points = []
    for cam in result.cameras:
        x, y = view.xy(cam.lat, cam.lon)
        words = display.camera_words(cam)
        colour = words.colour
        if cam.view:
            heading, fov = cam.view.heading_deg, cam.view.fov_deg
            reach = min(cam.view.range_m or result.radius_m * 0.4, result.radius_m * 1.2)
            r = reach * scale
            a0, a1 = math.radians(heading - fov / 2), math.radians(heading + fov / 2)
            x0, y0 = x + r * math.sin(a0), y - r * math.cos(a0)
            x1, y1 = x + r * math.sin(a1), y - r * math.cos(a1)
            large = 1 if fov > 180 else 0
            paint = (f"fill='{colour}' fill-opacity='0.22' stroke='{colour}' "
                     "stroke-opacity='0.6'" if cam.in_view else
                     f"fill='none' stroke='{colour}' stroke-opacity='0.45' "
                     "stroke-dasharray='3 3'")
            parts.append(f"<path class='wedge' d='M{x:.1f},{y:.1f} L{x0:.1f},{y0:.1f} "
                         f"A{r:.1f},{r:.1f} 0 {large} 1 {x1:.1f},{y1:.1f} Z' {paint}/>")
        marker = (f"<circle cx='{x:.1f}' cy='{y:.1f}' r='7' fill='{colour}' stroke='white' "
                  f"stroke-width='2'><title>{esc(cam.camera_id)}: {esc(words.status)}, "
                  f"{cam.distance_m:.0f} m{', ' + esc(words.deadline) if words.deadline else ''}"
                  "</title></circle>")
        if link is not None:
            marker = (f"<a href='{esc(link(cam.camera_id))}' class='camera' "
                      f"data-camera='{esc(cam.camera_id)}' aria-label='{esc(cam.camera_id)}: "
                      f"{esc(words.status)}, {cam.distance_m:.0f} m'>{marker}</a>")
        parts.append(marker)
        points.append((x, y, cam.camera_id))
    legend_box = (cx + ring * 0.71, cy - ring * 0.71 - 11, cx + ring * 0.71 + 50,
                  cy - ring * 0.71 + 2)
    avoid = [(cx - 12, cy - 12, cx + 12, cy + 12), legend_box, (size - 30, 8, size, 40)]
    label_h = LABEL_HEIGHT * font_px / 11
    for (_, _, text), (lx, ly) in zip(points, place_labels(points, size, avoid, font_px)):
        parts.append(f"<text x='{lx:.1f}' y='{ly + label_h - 2:.1f}' font-size='{font_px:g}' "
                     f"paint-order='stroke' stroke='#ffffff' stroke-width='3' "
                     f"class='label'>{esc(text)}</text>")
    parts.append(f"<text x='{legend_box[0] + 4:.0f}' y='{legend_box[3] - 2:.0f}' "
                 f"font-size='11' fill='#4a5568'>{result.radius_m:g} m</text>")
    parts.append(f"<path d='M{cx},{cy - 11} L{cx + 4},{cy - 3} L{cx + 11},{cy - 3} "
                 f"L{cx + 5},{cy + 2} L{cx + 7},{cy + 10} L{cx},{cy + 5} L{cx - 7},{cy + 10} "
                 f"L{cx - 5},{cy + 2} L{cx - 11},{cy - 3} L{cx - 4},{cy - 3} Z' "
                 f"fill='#e53e3e' stroke='#742a2a'><title>incident</title></path>")
    parts.append(f"<text x='{size - 20}' y='22' font-size='14' text-anchor='middle'>N</text>"
                 f"<path d='M{size - 20},26 l-5,12 l5,-4 l5,4 z' fill='#2d3748'/>")
    parts.append("</svg>")
    return "".join(parts)


TICK_STEPS_S = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600)


def timeline_svg(result, zone, width: int = 860, link=None) -> str:
    """Clips per camera across the window, under a time axis in local time; the moment (or
    the incident's whole day) marked. Cameras with no clip in the window get one line below,
    not empty rows. ``link(clip)`` (a URL, e.g. the player at the moment) makes each clip a
    link."""
    cams = [c for c in result.cameras if c.clips]
    empty = len(result.cameras) - len(cams)
    t0, t1 = result.window_start_ts, result.window_end_ts
    left, row_h, axis = 110, 20, 34
    plot_w = width - left - 10
    height = axis + row_h * max(1, len(cams)) + (18 if empty else 4)

    def x(t):
        return left + (min(max(t, t0), t1) - t0) / (t1 - t0) * plot_w

    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
             f"viewBox='0 0 {width} {height}' role='{'img' if link is None else 'group'}' "
             "aria-label='coverage timeline'>"]
    step = next((s for s in TICK_STEPS_S if (t1 - t0) / s <= 10), TICK_STEPS_S[-1])
    tick = math.ceil(t0 / step) * step
    bottom = axis + row_h * max(1, len(cams))
    while tick <= t1:
        tx = x(tick)
        parts.append(f"<line x1='{tx:.1f}' x2='{tx:.1f}' y1='{axis - 6}' y2='{bottom}' "
                     f"stroke='#cbd5e0'/><text x='{tx:.1f}' y='{axis - 9}' font-size='11' "
                     f"text-anchor='middle' class='tick'>"
                     f"{esc(format_local(tick, zone)[11:16])}</text>")
        tick += step
    parts.append(f"<text x='4' y='12' font-size='11' fill='#4a5568'>"
                 f"{esc(format_local(t0, zone)[:10])}, {esc(format_local(t0, zone)[-3:])}"
                 "</text>")
    for i, cam in enumerate(cams):
        y = axis + i * row_h
        parts.append(f"<text x='4' y='{y + 13}' font-size='11'>{esc(cam.camera_id[:16])}</text>")
        parts.append(f"<rect x='{left}' y='{y + 2}' width='{plot_w}' height='{row_h - 6}' "
                     f"fill='#fed7d7' opacity='0.6'><title>gap</title></rect>")
        for clip in cam.clips:
            s, e = clip.start_ts, clip.end_ts
            bar = (f"<rect class='clip' x='{x(s):.1f}' y='{y + 2}' "
                   f"width='{max(3.0, x(e) - x(s)):.1f}' height='{row_h - 6}' "
                   f"fill='{display.COVERAGE_COLOURS[STATUS_FOOTAGE]}'><title>clip "
                   f"{clip.clip_id}: {esc(format_local(s, zone))} to "
                   f"{esc(format_local(e, zone))}</title></rect>")
            parts.append(bar if link is None else
                         f"<a href='{esc(link(clip))}' aria-label='clip {clip.clip_id}, "
                         f"{esc(cam.camera_id)}'>{bar}</a>")
    if not cams:
        parts.append(f"<text x='{left}' y='{axis + 13}' font-size='11' fill='#718096'>no "
                     "catalogued clip in the window</text>")
    if empty:
        parts.append(f"<text x='4' y='{height - 4}' font-size='11' fill='#718096'>{empty} "
                     f"other camera(s) within {result.radius_m:g} m: no clip in the window"
                     "</text>")
    if not result.incident.exact:   # a whole-day incident: shade the day, no moment line
        d0, d1 = x(result.moment_ts), x(result.incident.until_ts)
        parts.append(f"<rect x='{d0:.1f}' y='{axis - 4}' width='{max(1.5, d1 - d0):.1f}' "
                     f"height='{bottom - axis + 4}' fill='#c53030' opacity='0.08'><title>the "
                     "day of the incident (time unknown)</title></rect>")
    else:
        mx = x(result.moment_ts)
        parts.append(f"<line x1='{mx:.1f}' x2='{mx:.1f}' y1='{axis - 4}' y2='{bottom}' "
                     f"stroke='#c53030' stroke-width='2'/><text x='{mx + 3:.1f}' "
                     f"y='{axis + 8 if not cams else bottom - 2}' font-size='11' "
                     f"fill='#c53030'>moment</text>")
    parts.append("</svg>")
    return "".join(parts)


def sparkline_svg(scores: list[float], offset_s: float | None, width: int = 220,
                  height: int = 34) -> str:
    """Per-second activity as a line; the incident moment as a red tick."""
    if not scores:
        return "<span class='muted'>not scanned</span>"
    top = max(max(scores), 0.5)
    step = width / max(1, len(scores) - 1)
    pts = " ".join(f"{i * step:.1f},{height - 2 - s / top * (height - 4):.1f}"
                   for i, s in enumerate(scores))
    mark = ""
    if offset_s is not None and 0 <= offset_s <= len(scores):
        mx = offset_s * step
        mark = f"<line x1='{mx:.1f}' x2='{mx:.1f}' y1='0' y2='{height}' stroke='#c53030'/>"
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}'>"
            f"<polyline points='{pts}' fill='none' stroke='#2b6cb0' stroke-width='1.5'/>{mark}"
            "</svg>")


def table(head: list[str], rows: list[list]) -> str:
    if not rows:
        return "<p class='muted'>none</p>"
    return ("<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{c if isinstance(c, Markup) else esc(c)}</td>"
                                       for c in row) + "</tr>" for row in rows) + "</table>")


class Markup(str):
    """Already-safe HTML (SVG snippets) for table cells."""


CSS = """body{font-family:system-ui,sans-serif;margin:1.5rem auto;max-width:62rem;padding:0 1rem;
color:#1a202c}h1{margin-bottom:.2rem}.muted{color:#718096}table{border-collapse:collapse;
margin:.5rem 0 1rem}td,th{border:1px solid #cbd5e0;padding:.2rem .5rem;font-size:.85rem;
text-align:left;vertical-align:middle}th{background:#edf2f7}.legend span{display:inline-block;
margin-right:1rem}.dot{display:inline-block;width:.8rem;height:.8rem;border-radius:50%;
margin-right:.3rem;vertical-align:middle}img{max-width:100%;border:1px solid #cbd5e0}
.row{display:flex;gap:1.5rem;flex-wrap:wrap}@media print{body{max-width:none}}"""


def build(cat, result, tiles_url: str | None = None) -> tuple[str, list[str]]:
    """The report's HTML text for one canvass result (every part uses the same result), and
    notes (e.g. basemap tiles that could not be fetched)."""
    import cv2

    from videx.frames import contact_sheet
    zone = cat.display_zone()
    notes = []
    tiles = []
    if tiles_url:
        view = basemap.View(result.incident.lat, result.incident.lon, result.radius_m)
        tiles, note = basemap.tiles(view, tiles_url)
        if note:
            notes.append(note)
    inc = result.incident
    incident_id = inc.id
    sheet_html = "<p class='muted'>no catalogued clip contains the moment</p>"
    sheet, _ = contact_sheet(result, zone)
    if sheet is not None:
        ok, jpg = cv2.imencode(".jpg", sheet, [cv2.IMWRITE_JPEG_QUALITY, 85])
        sheet_html = (f"<img alt='frames at the moment' src='data:image/jpeg;base64,"
                      f"{base64.b64encode(jpg.tobytes()).decode()}'>")
    clip_rows = []
    for cam, clip in result.clips():
        near = clip.activity_near_moment
        clip_rows.append([cam.camera_id, clip.clip_id, format_local(clip.start_ts, zone),
                          ("in the day" if clip.offset_s is None else hms(clip.offset_s))
                          if clip.contains_moment else "outside",
                          "" if near is None else f"{near:.1f}",
                          Markup(sparkline_svg(cat.scans.scores(clip.clip_id), clip.offset_s))])
    requests = [[c.camera_id, c.integration, c.owner_name or "", c.owner_contact or "",
                 format_local(c.deadline_ts, zone) if c.deadline_ts else "",
                 display.deadline_words(c.hours_left, c.deadline_state),
                 display.outcome_words(c.outcome)]
                for c in display.by_urgency(result.request_list())]
    lost = [[c.camera_id, c.integration, format_local(c.deadline_ts, zone)]
            for c in result.cameras if c.deadline_state == "lost"]
    outcomes = [[r["camera_id"], display.outcome_words(r["status"]), r["note"] or "",
                 r["recorded_at"],
                 _who(r["recorded_by"], r["acting_as"])]
                for r in cat.history.outcomes(incident_id)]
    starts = {k.clip_id: k.start_ts for _, k in result.clips()}
    bookmarks = []
    for b in cat.bookmarks.for_incident(incident_id):
        start = starts.get(b["clip_id"])
        if start is None:
            start = (cat.clips.get(b["clip_id"]) or {}).get("start_ts")
        bookmarks.append([b["clip_id"], hms(b["offset_s"]),
                          "" if start is None else format_local(start + b["offset_s"], zone),
                          b["note"], b["created_at"], _who(b["created_by"], b["acting_as"])])
    reviews = [[r["clip_id"], "probative" if r["probative"] else "not probative",
                r["note"] or "", r["reviewed_at"], _who(r["reviewed_by"], r["acting_as"])]
               for r in cat.history.reviews(incident_id)]
    cams = [[c.camera_id, c.source, c.integration, f"{c.distance_m:.0f}", w.in_view, w.status,
             w.coverage, w.outcome] for c in result.cameras
            for w in (display.camera_words(c),)]
    legend = "".join(f"<span><i class='dot' style='background:{col}'></i>{esc(words)}"
                     f"</span>" for words, col in display.legend())
    body = f"""
<h1>Incident {esc(inc.id)}: video evidence</h1>
<p>{esc(inc.when(zone))} ({esc(inc.occurred_at)}),
{esc(inc.address or f"{inc.lat:.5f}, {inc.lon:.5f}")}.
Window {esc(format_local(result.window_start_ts, zone))} to
{esc(format_local(result.window_end_ts, zone))}; radius {result.radius_m:g} m.</p>
<p><strong>{esc(result.summary())}</strong></p>
<div class='row'><div>{map_svg(result, tiles=tiles)}<p class='legend'>{legend}</p></div>
<div style='flex:1'><h2>Cameras</h2>{table(['camera', 'source', 'integration', 'm',
 'in view', 'status', 'covered', 'outcome'], cams)}</div></div>
<h2>Coverage of the window</h2>{timeline_svg(result, zone)}
<h2>Frames at the moment</h2>{sheet_html}
<h2>Clips and activity</h2>{table(['camera', 'clip', 'start', 'moment at',
 'activity near moment (%)', 'activity per second'], clip_rows)}
<h2>Request before it is overwritten</h2>{table(['camera', 'integration', 'owner', 'contact',
 'deadline', 'time left', 'status'], requests)}
<h2>Lost (retention passed, nothing catalogued)</h2>{table(['camera', 'integration',
 'deadline'], lost)}
<h2>Outcomes</h2>{table(['camera', 'status', 'note', 'recorded', 'by'], outcomes)}
<h2>Reviews</h2>{table(['clip', 'finding', 'note', 'reviewed', 'by'], reviews)}
<h2>Bookmarks</h2>{table(['clip', 'at', 'true time', 'note', 'marked', 'by'], bookmarks)}
<p class='muted'>Generated {esc(iso_utc(now_utc()))} by {esc(_who(audit.os_user(), cat.actor))}
with videx {esc(__version__)}. Times are corrected for each camera's clock offset. This report
is recorded in the catalog's audit log.</p>"""
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Incident "
            f"{esc(inc.id)}</title><style>{CSS}</style></head><body>{body}</body></html>",
            notes)


def _who(os_account: str | None, acting_as: str | None) -> str:
    return f"{acting_as} ({os_account})" if acting_as else (os_account or "")


def write(cat, result, out: str | Path, tiles_url: str | None = None
          ) -> tuple[Path, list[str]]:
    """Write the report to ``out`` (written to a temporary name first, then renamed); returns
    the path and notes (tiles not fetched, an audit entry that could not be written)."""
    out = Path(out)
    text, notes = build(cat, result, tiles_url)
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    note = cat.record("report", {"out": str(out), "tiles": None if tiles_url is None
                                 else str(tiles_url), **result.parameters()},
                      case_no=result.incident.id)
    return out, notes + ([note] if note else [])
