"""Incident pages: search, the incident's canvass (urgent requests first, the map, cameras,
coverage, clips, bookmarks, the case record), the synchronized view of every clip at the
moment, "cameras near a place at a time", the forms that add to the record, and the report
and package downloads."""

from __future__ import annotations

import json
from urllib.parse import quote

from videx import canvass, history
from videx.errors import TimestampError, VidexError

SEARCH_LIMIT = 200


# ------------------------------------------------------------ search
def _bounds(cat, q) -> tuple[float | None, float | None]:
    """The search's date range: a date is that whole local day ("to" includes it), a time
    with an offset is that instant. Refusals say what to type."""
    from videx.timeutil import read_when
    zone = cat.input_zone_or_none()
    out = []
    for key, label in (("from", "From"), ("to", "To")):
        text = (q.get(key) or "").strip()
        if not text:
            out.append(None)
            continue
        try:
            when = read_when(text, zone)
        except TimestampError:
            raise VidexError(f"{label}: type a date like 2023-05-01, or a date and time like "
                             f"2023-05-01 14:30 (you typed {text!r})") from None
        out.append((when.end if key == "to" and when.end else when.start).timestamp())
    return out[0], out[1]


async def search(web, request, user):
    """Find incidents by case number, address or neighborhood and a date range; or go to the
    cameras near a place at a time."""
    from videx.timeutil import describe
    q = {k: v.strip() for k, v in request.query_params.items()}

    def work():
        with web.catalog_for(user) as cat:
            zone = cat.display_zone()
            t0, t1 = _bounds(cat, q)
            rows = cat.incidents.search(q.get("q") or None, t0, t1,
                                        q.get("neighborhood") or None, SEARCH_LIMIT + 1)
            for r in rows:
                r["occurred_local"] = describe(r["occurred_ts"], r["time_precision"], zone)
            return rows, zone
    try:
        rows, zone = await web.run_page(work)
    except VidexError as err:
        return web.page(request, "incidents.html", {"rows": [], "more": False, "q": q,
                                                    "error": str(err)}, 400)
    return web.page(request, "incidents.html", {"rows": rows[:SEARCH_LIMIT],
                                                "more": len(rows) > SEARCH_LIMIT, "q": q,
                                                "error": None, "zone": zone})


# ------------------------------------------------------------ the canvass on a page
def canvass_context(web, cat, result, record) -> dict:
    """What the incident page (and the ad hoc canvass page) shows of one canvass result."""
    from videx import display, incident_report
    zone = cat.display_zone()
    inc = result.incident
    outcomes, reviews = [], []
    bookmarks, requested = [], {}
    if record is not None:
        from videx.requests import Request
        case = cat.case_record(inc.id)            # one round trip on PostgreSQL
        outcomes, reviews, zone, bookmarks = case.outcomes, case.reviews, case.zone, \
            case.bookmarks
        requested = {r["camera_id"]: Request.from_row(r) for r in case.requests}
    words = {c.camera_id: display.camera_words(c) for c in result.cameras}
    incident_q = quote(inc.id, safe="")

    def player(clip):
        t = clip.offset_s if clip.contains_moment and clip.offset_s is not None else 0.0
        return f"/clips/{clip.clip_id}?t={t:.3f}&incident={incident_q}"
    clips = [{"camera": c, "clip": k, "href": player(k),
              "moment": display.moment_words(k.start_ts, k.end_ts,
                                             inc.occurred_ts if inc.exact else None)
              if inc.exact else ("in the day" if k.contains_moment else "outside the day")}
             for c, k in result.clips()]
    at_moment = [item for item in clips if item["clip"].contains_moment]
    return {
        "result": result, "record": record, "zone": zone, "occurred": inc.when(zone),
        "words": words, "urgent": display.by_urgency(result.request_list()),
        "requested": requested,
        "to_request": [c for c in result.request_list() if c.integration == "registered"
                       and not (c.camera_id in requested and requested[c.camera_id].is_open())],
        "lost": [c for c in result.cameras if c.deadline_state == "lost"],
        # drawn 360 px wide with 12 px labels: on a phone it is shown about that size
        "map": incident_report.map_svg(result, 360, link=lambda cid: f"/cameras/{quote(cid, '')}",
                                       font_px=12),
        "map_data": json.dumps(map_data(result, words, zone)),
        "timeline": incident_report.timeline_svg(result, zone, link=player),
        "timeline_data": json.dumps(timeline_data(result, zone, player)),
        "clips": clips, "at_moment": at_moment,
        "outcomes": outcomes[::-1], "reviews": reviews[::-1], "bookmarks": bookmarks,
        "current_reviews": history.latest(reviews, "clip_id"),
        "statuses": history.OUTCOMES, "basemap": web.basemap is not None,
    }


def map_data(result, words, zone) -> dict:
    """The map's data for the browser (``static/map.js``): the incident, the radius, and each
    camera with its view, colour and words."""
    from videx.timeutil import format_local
    inc = result.incident
    return {"incident": {"id": inc.id, "lat": inc.lat, "lon": inc.lon},
            "radius_m": result.radius_m,
            "cameras": [{"id": c.camera_id, "name": c.name, "lat": c.lat, "lon": c.lon,
                         "distance_m": round(c.distance_m), "in_view": c.in_view,
                         "view": None if c.view is None else {
                             "heading_deg": c.view.heading_deg, "fov_deg": c.view.fov_deg,
                             "range_m": c.view.range_m or result.radius_m * 0.4},
                         "colour": words[c.camera_id].colour,
                         "status": words[c.camera_id].status,
                         "deadline": words[c.camera_id].deadline,
                         "deadline_at": format_local(c.deadline_ts, zone)
                         if c.deadline_ts else "",
                         "outcome": words[c.camera_id].outcome,
                         "href": f"/cameras/{quote(c.camera_id, safe='')}"}
                        for c in result.cameras]}


def timeline_data(result, zone, player) -> dict:
    """The coverage line's data for the browser (``static/timeline.js`` draws it, zoomable
    around the moment)."""
    inc = result.incident
    cams = [c for c in result.cameras if c.clips]
    return {"t0": result.window_start_ts, "t1": result.window_end_ts,
            "moment": inc.occurred_ts if inc.exact else None,
            "day": None if inc.exact else [inc.occurred_ts, inc.until_ts],
            "zone": zone.key, "radius_m": result.radius_m,
            "empty": len(result.cameras) - len(cams),
            "cameras": [{"id": c.camera_id,
                         "clips": [{"id": k.clip_id, "start": k.start_ts, "end": k.end_ts,
                                    "href": player(k)} for k in c.clips]} for c in cams]}


async def incident_page(web, request, user):
    incident_id = request.path_params["incident_id"]

    def work():
        with web.catalog_for(user) as cat:
            record = cat.incidents.require(incident_id)
            result = canvass.canvass_incident(cat, canvass.Incident.from_row(record),
                                              record=False)
            entry = web.audited.submit(cat.actor, "canvass", canvass.audit_args(result),
                                       result.incident.id)
            # read after the canvass: the history holds every outcome the canvass showed
            return canvass_context(web, cat, result, record), entry
    ctx, entry = await web.run_page(work)
    ctx["result"] = canvass.with_audit_note(ctx["result"], await web.on_record(entry))
    return web.page(request, "incident.html", ctx)


async def near(web, request, user):
    """Cameras near a place at a time: an address of a catalogued incident or camera (or
    "lat,lon") and a time; the ad hoc canvass, audited."""
    from videx import geo
    from videx.timeutil import parse_instant
    q = {k: v.strip() for k, v in request.query_params.items()}
    place, when_text = q.get("place", ""), q.get("time", "")

    def work():
        with web.catalog_for(user) as cat:
            if not place or not when_text:
                raise VidexError("Type a place (an address, or a position like "
                                 "41.7637,-72.6851) and a time (like 2023-05-01 14:30).")
            try:
                when = parse_instant(when_text, cat.input_zone_or_none())
            except TimestampError:
                raise VidexError(f"Time: type a date and time like 2023-05-01 14:30 (you "
                                 f"typed {when_text!r}).") from None
            try:
                lat, lon = geo.parse_latlon(place)
            except (ValueError, VidexError):
                found = {(p["address"], round(p["lat"], 5), round(p["lon"], 5)): p
                         for p in cat.incidents.places(place)}
                if not found:
                    raise VidexError(f"No catalogued incident or camera has an address like "
                                     f"{place!r}: type another part of the address, or a "
                                     "position like 41.7637,-72.6851.") from None
                if len({a.lower() for a, _, _ in found}) > 1:
                    return {"choices": list(found.values())}
                lat, lon = next(iter(found.values()))["lat"], next(iter(found.values()))["lon"]
            case = (q.get("case") or "ad hoc")[:100]
            inc = canvass.adhoc_incident(case, lat, lon, when)
            result = canvass.canvass_incident(cat, inc, record=False)
            entry = web.audited.submit(cat.actor, "canvass", {**canvass.audit_args(result),
                                                              "place": place[:200]}, None)
            return {**canvass_context(web, cat, result, None), "entry": entry}
    try:
        ctx = await web.run_page(work)
    except VidexError as err:
        return web.page(request, "incidents.html", {"rows": [], "more": False, "q": q,
                                                    "near_error": str(err)}, 400)
    if "choices" in ctx:
        return web.page(request, "incidents.html", {"rows": [], "more": False, "q": q,
                                                    "choices": ctx["choices"]})
    ctx["result"] = canvass.with_audit_note(ctx["result"], await web.on_record(ctx["entry"]))
    return web.page(request, "incident.html", {**ctx, "adhoc": True, "place": place})


# ------------------------------------------------------------ the synchronized view
async def sync_view(web, request, user):
    """Every clip that covers the moment, in one grid, playing together from the moment."""
    incident_id = request.path_params["incident_id"]

    def work():
        with web.catalog_for(user) as cat:
            result = canvass.canvass(cat, incident_id, record=False)
            zone = cat.display_zone()
            from videx.previews import playable
            clips = []
            for cam, k in result.clips(containing_moment=True):
                row = cat.clips.get(k.clip_id) or {}
                clips.append({"camera": cam, "clip": k, "preview": not playable(row),
                              "offset": k.offset_s or 0.0,
                              "clock_offset_s": k.clock_offset_s})
            entry = web.audited.submit(cat.actor, "view sync", {
                "clips": [c["clip"].clip_id for c in clips]}, result.incident.id)
            return {"result": result, "clips": clips, "zone": zone,
                    "occurred": result.incident.when(zone)}, entry
    ctx, entry = await web.run_page(work)
    await web.on_record(entry)
    return web.page(request, "sync.html", ctx)


# ------------------------------------------------------------ adding to the record
async def _record_then_show(web, user, incident_id: str, change, anchor: str = "history"):
    """Apply ``change(cat)`` as the user (it may wait for the write lock: not a page
    thread), then show the case record."""
    from starlette.responses import RedirectResponse

    def work():
        with web.catalog_for(user) as cat:
            change(cat)
    await web.run_slow(work)
    return RedirectResponse(f"/incidents/{quote(incident_id, safe='')}#{anchor}", 303)


async def record_outcome(web, request, user):
    incident_id = request.path_params["incident_id"]
    form = await web.form_checked(request)
    return await _record_then_show(web, user, incident_id, lambda cat: history.record_outcome(
        cat, incident_id, web.text(form, "camera_id"), web.text(form, "status"),
        web.text(form, "note").strip() or None))


async def record_review(web, request, user):
    incident_id = request.path_params["incident_id"]
    form = await web.form_checked(request)
    try:
        clip_id = int(web.text(form, "clip_id"))
    except ValueError:
        raise VidexError("choose a clip for the review") from None
    probative = web.text(form, "probative") == "yes"
    return await _record_then_show(web, user, incident_id, lambda cat: history.record_review(
        cat, incident_id, clip_id, probative, web.text(form, "note").strip() or None))


async def record_bookmark(web, request, user):
    """A time in a clip marked with a note; back to the clip at that time."""
    from starlette.responses import RedirectResponse
    incident_id = request.path_params["incident_id"]
    form = await web.form_checked(request)
    try:
        clip_id = int(web.text(form, "clip_id"))
        offset_s = float(web.text(form, "offset_s"))
    except ValueError:
        raise VidexError("the bookmark needs a clip and a time in it: pause the clip where "
                         "you want the mark, then add it") from None
    note = web.text(form, "note")

    def work():
        with web.catalog_for(user) as cat:
            history.record_bookmark(cat, incident_id, clip_id, offset_s, note)
    await web.run_slow(work)
    return RedirectResponse(f"/clips/{clip_id}?t={offset_s:.3f}&incident="
                            f"{quote(incident_id, safe='')}#bookmarks", 303)


# ------------------------------------------------------------ downloads
def _download(web, path, media_type: str):
    """A file made for this request, sent as an attachment; its folder removed after."""
    import shutil

    from starlette.background import BackgroundTask
    from starlette.responses import FileResponse
    return web.secure(FileResponse(path, media_type=media_type, filename=path.name,
                                   content_disposition_type="attachment",
                                   background=BackgroundTask(shutil.rmtree, path.parent, True)))


async def report_download(web, request, user):
    import tempfile
    from pathlib import Path

    from videx import evidence, incident_report
    incident_id = request.path_params["incident_id"]

    def work():
        with web.catalog_for(user) as cat:
            result = canvass.canvass(cat, incident_id, record=False)
            out = Path(tempfile.mkdtemp(dir=web.cache)) / \
                f"report-{evidence.safe_name(incident_id)}.html"
            incident_report.write(cat, result, out, web.basemap)
            return out
    return _download(web, await web.run_slow(work), "text/html")


async def package_download(web, request, user):
    import tempfile
    from pathlib import Path

    from videx import evidence
    incident_id = request.path_params["incident_id"]

    def work():
        with web.catalog_for(user) as cat:
            result = canvass.canvass(cat, incident_id, record=False)
            return evidence.extract_zip(cat, result, Path(tempfile.mkdtemp(dir=web.cache)))
    return _download(web, await web.run_slow(work), "application/zip")
