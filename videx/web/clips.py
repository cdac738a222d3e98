"""Clips and cameras: the player (the moment marked, clock times while playing, frame and
second steps, bookmarks, the next camera at the moment), the clip's media by catalogue id
only, a camera's page, and the basemap's tiles."""

from __future__ import annotations

import json
from urllib.parse import quote

from videx import canvass
from videx.errors import NotFound


def _clip_row(cat, clip_id_text: str) -> dict:
    try:
        clip_id = int(clip_id_text)
    except ValueError:
        raise NotFound("no such clip") from None
    return cat.clips.require(clip_id)


def _known_incident(cat, incident_id: str | None) -> dict | None:
    """The ``?incident=`` of a request when it names a catalogued incident, else None."""
    return cat.incidents.get(incident_id) if incident_id else None


def _moment_context(cat, row: dict, record: dict) -> dict:
    """Where the case's moment falls in this clip, and the next clip (of another camera)
    that holds the moment, in the canvass's order."""
    from videx import display
    inc = canvass.Incident.from_row(record)
    moment = inc.occurred_ts if inc.exact else None
    result = canvass.canvass_incident(cat, inc, record=False)
    at_moment = [(c, k) for c, k in result.clips(containing_moment=True)]
    here = next((i for i, (_, k) in enumerate(at_moment) if k.clip_id == row["id"]), None)
    following = [(c, k) for c, k in (at_moment[here + 1:] + at_moment[:here]
                                     if here is not None else at_moment)
                 if c.camera_id != row["camera_id"]]
    nxt = None
    if following:
        cam, k = following[0]
        nxt = {"camera_id": cam.camera_id, "href": f"/clips/{k.clip_id}?t={k.offset_s or 0:.3f}"
               f"&incident={quote(inc.id, safe='')}"}
    return {"moment_ts": moment,
            "moment_offset_s": None if moment is None else moment - row["start_ts"],
            "moment_in_clip": moment is not None and row["start_ts"] <= moment < row["end_ts"],
            "moment_words": display.moment_words(row["start_ts"], row["end_ts"], moment),
            "next_camera": nxt}


async def clip_page(web, request, user):
    from videx.previews import playable

    def work():
        with web.catalog_for(user) as cat:
            row = _clip_row(cat, request.path_params["clip_id"])
            record = _known_incident(cat, request.query_params.get("incident"))
            case = record["id"] if record else None
            entry = web.audited.submit(cat.actor, "view clip",
                                       {"clip": row["id"], "sha256": row["sha256"]}, case)
            zone = cat.display_zone()
            ctx = {"clip": row, "camera": cat.cameras.get(row["camera_id"]), "zone": zone,
                   "incident": case, "preview": not playable(row),
                   "bookmarks": cat.bookmarks.for_clip(row["id"], case),
                   "moment_ts": None, "moment_in_clip": False, "moment_words": "",
                   "next_camera": None, "moment_offset_s": None}
            if record:
                ctx.update(_moment_context(cat, row, record))
            return ctx, entry
    ctx, entry = await web.run_page(work)
    await web.on_record(entry)
    try:
        t = float(request.query_params.get("t") or 0)
    except ValueError:
        t = 0.0
    row = ctx["clip"]
    ctx["t"] = min(max(0.0, t if t == t else 0.0), float(row["duration_s"]))
    ctx["player"] = json.dumps({
        "start_ts": row["start_ts"], "clock_offset_s": row["clock_offset_s"] or 0.0,
        "duration_s": row["duration_s"], "fps": row["fps"] or 25.0, "zone": ctx["zone"].key,
        "moment_offset_s": ctx["moment_offset_s"] if ctx["moment_in_clip"] else None,
        "start_at": ctx["t"],
        "bookmarks": [{"offset_s": b["offset_s"], "note": b["note"]} for b in ctx["bookmarks"]]})
    return web.page(request, "clip.html", ctx)


async def clip_media(web, request, user):
    from starlette.responses import FileResponse

    from videx.previews import original_file, playable

    def work():
        with web.catalog_for(user) as cat:
            row = _clip_row(cat, request.path_params["clip_id"])
            rng = request.headers.get("range", "")
            entry = None
            if not rng or rng.replace(" ", "").startswith("bytes=0-"):
                record = _known_incident(cat, request.query_params.get("incident"))
                entry = web.audited.submit(
                    cat.actor, "play clip", {"clip": row["id"], "sha256": row["sha256"]},
                    record["id"] if record else None)
            return row, entry
    row, entry = await web.run_page(work)
    if entry is not None:
        await web.on_record(entry)
    path = original_file(row)
    if path is None:
        return web.error(request, "Not found", "The clip's file is missing or is no longer "
                         "the catalogued one: ask an administrator to check the catalog's "
                         "originals.", 404)
    if playable(row):
        return web.secure(FileResponse(path, media_type="video/mp4"))
    preview = await web.run_slow(web.previews.get, path, row["sha256"])
    return web.secure(FileResponse(preview, media_type="video/mp4"))


async def camera_page(web, request, user):
    def work():
        with web.catalog_for(user) as cat:
            cam = cat.cameras.require(request.path_params["camera_id"])
            return {"camera": cam, "clips": cat.clips.by_camera(cam["id"])[-200:][::-1],
                    "zone": cat.display_zone()}
    return web.page(request, "camera.html", await web.run_page(work))


async def basemap_tile(web, request, user):
    """One tile of the department's basemap, for the map on the incident page."""
    from starlette.responses import Response
    if web.basemap is None:
        raise NotFound("no basemap: start videx serve with --basemap")
    p = request.path_params
    get = web.run_slow if hasattr(web.basemap, "template") else web.run_page
    try:
        found = await get(web.basemap.get, p["z"], p["x"], p["y"])
    except OSError:
        found = None
    if found is None:
        return web.secure(Response(status_code=404))
    body, kind = found
    response = Response(body, media_type=kind)
    response.headers["Cache-Control"] = "private, max-age=86400"
    return web.secure(response)
