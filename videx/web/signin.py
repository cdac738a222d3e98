"""Signing in and out."""

from __future__ import annotations

from videx.web import sessions
from videx.web.app import Forbidden


async def home(web, request, user):
    from starlette.responses import RedirectResponse
    return RedirectResponse("/incidents", 303)


def _safe_next(target: str) -> str:
    """Only a path of this site (no other host) may follow a sign-in."""
    ok = target.startswith("/") and not target.startswith("//") and "\\" not in target
    return target if ok else "/incidents"


async def login(web, request, user):
    from starlette.responses import RedirectResponse
    if request.method == "GET":
        return web.page(request, "login.html", {"next": request.query_params.get("next", ""),
                                                "error": None})
    try:
        form = await web.form_checked(request)
    except Forbidden as err:
        return web.page(request, "login.html", {"next": "", "error": str(err)}, 403)
    name, password = web.text(form, "name").strip(), web.text(form, "password")
    nxt = web.text(form, "next")
    client = web.proxies.client(request)
    if web.limiter.blocked(client, name):
        return web.page(request, "login.html", {"next": nxt, "error": "Too many failed "
                                                "sign-ins: wait a few minutes and try "
                                                "again."}, 429)
    found, client = await web.run_slow(sessions.start, web, request, name, password)
    if found is None:
        web.limiter.failed(client, name)
        return web.page(request, "login.html", {"next": nxt, "error": "Wrong name or "
                                                "password."}, 401)
    web.limiter.succeeded(client, name)
    return RedirectResponse(_safe_next(nxt), 303)


async def logout(web, request, user):
    from starlette.responses import RedirectResponse
    try:
        await web.form_checked(request)
    except Forbidden as err:
        request.state.user = None
        return web.error(request, "Refused", str(err), 403)
    await web.run_slow(sessions.end, web, request)
    return RedirectResponse("/login", 303)
