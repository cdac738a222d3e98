"""What is served without signing in: the stylesheet and scripts (``videx/web/static``,
including the JavaScript libraries vendored from npm)."""

from __future__ import annotations

from videx.web.app import STATIC

MEDIA_TYPES = {".css": "text/css", ".js": "text/javascript", ".png": "image/png",
               ".svg": "image/svg+xml", ".json": "application/json", ".map": "application/json"}


async def static(web, request, user):
    """A file of ``videx/web/static`` (no listing, nothing outside it)."""
    from starlette.responses import FileResponse, PlainTextResponse
    name = request.path_params["name"]
    path = (STATIC / name).resolve()
    media = MEDIA_TYPES.get(path.suffix)
    if (media is None or not path.is_relative_to(STATIC.resolve()) or not path.is_file()
            or any(part.startswith(".") for part in path.relative_to(STATIC.resolve()).parts)):
        return web.secure(PlainTextResponse("not found", 404))
    response = FileResponse(path, media_type=media)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return web.secure(response)
