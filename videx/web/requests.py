"""Requests to camera owners in the web: request every open camera of an incident at once,
"My requests" across cases by urgency, a request's page (its window in the owner's clock,
the link and its QR code, what the link received, its history) with the letter to print, and
the status changes a detective records (sent by hand, declined, no footage, withdrawn, sent
by e-mail)."""

from __future__ import annotations

import time
from urllib.parse import quote

from videx import requests as requests_mod
from videx.errors import NotFound, OptionError, VidexError

ACTIONS = ("sent", "declined", "no-footage", "withdraw", "email")


def _words(r: requests_mod.Request, now: float) -> dict:
    """A request as the pages show it (the display model's words)."""
    from videx import display
    hours = r.hours_left(now)
    state = "unknown" if hours is None else "open" if hours > 0 else "lost"
    status = r.shown_status(now)
    return {"req": r, "status": status, "status_words": display.outcome_words(status),
            "deadline": display.deadline_words(hours, state) if r.is_open() else "",
            "urgency": display.urgency(hours, state) if r.is_open() else None,
            "hours": hours}


async def request_all(web, request, user):
    """Request every open camera of the incident (the urgent list), most urgent first."""
    from starlette.responses import RedirectResponse
    incident_id = request.path_params["incident_id"]
    await web.form_checked(request)

    def work():
        with web.catalog_for(user) as cat:
            try:
                return requests_mod.create(cat, incident_id, all_open=True,
                                           detective=user["name"])
            except OptionError as err:
                if err.option == "public_url":
                    raise VidexError("Requests need the address owners' links point to: ask "
                                     "an administrator to set the public address.") from err
                raise
    made = await web.run_slow(work)
    q = quote(incident_id, safe="")
    return RedirectResponse(f"/incidents/{q}?requested={len(made.created)}#request-now", 303)


async def my_requests(web, request, user):
    """The signed-in detective's open requests across cases, most urgent first (all open
    requests with ``?all=1``)."""
    everyone = request.query_params.get("all") == "1"

    def work():
        now = time.time()
        with web.catalog_for(user) as cat:
            mine = [r for r in requests_mod.list_requests(cat) if r.is_open() and (
                everyone or r.acting_as == f"web:{user['name']}"
                or r.detective == user["name"])]
            zone = cat.display_zone()
        rows = [_words(r, now) for r in mine]
        rows.sort(key=lambda w: (w["hours"] is None, w["hours"] if w["hours"] is not None
                                 else 0.0, w["req"].code))
        return {"rows": rows, "everyone": everyone, "zone": zone}
    return web.page(request, "requests.html", await web.run_page(work))


def _get(cat, code: str) -> requests_mod.Request:
    try:
        return requests_mod.get(cat, code)
    except OptionError:
        raise NotFound("There is no such request.") from None


async def request_page(web, request, user):
    from videx import letters, mail

    def work():
        now = time.time()
        with web.catalog_for(user) as cat:
            r = _get(cat, request.path_params["code"])
            url, why = None, None
            if r.link_usable(now):
                try:
                    url = requests_mod.upload_url(cat, r)
                except VidexError as err:
                    why = str(err)
            try:                     # one zone on the page: the one its window is shown in
                zone = r.zone
            except VidexError:
                zone = cat.display_zone()
            return {**_words(r, now), "url": url, "link_note": why,
                    "qr": letters.qr_svg(url) if url else None,
                    "files": requests_mod.files(cat, r),
                    "history": requests_mod.history(cat, r)[::-1],
                    "smtp": mail.configured(cat), "zone": zone}
    return web.page(request, "request.html", await web.run_page(work))


async def letter(web, request, user):
    """The letter to print (one page, A4 or Letter), as the command line writes it."""
    from starlette.responses import HTMLResponse

    from videx import letters

    def work():
        with web.catalog_for(user) as cat:
            r = _get(cat, request.path_params["code"])
            if not r.link_usable():
                raise VidexError("This request's link no longer works (withdrawn or expired): "
                                 "make a new request to send a letter.")
            html = letters.letter_html(cat, r, requests_mod.upload_url(cat, r))
            cat.record("requests letter", {"code": r.code, "out": "web"}, case_no=r.incident_id)
            return html
    return web.secure(HTMLResponse(await web.run_slow(work)))


async def record_status(web, request, user):
    """A status a detective records: sent by hand, declined, no footage; withdrawn; or the
    letter sent by e-mail now."""
    from starlette.responses import RedirectResponse
    code = request.path_params["code"]
    form = await web.form_checked(request)
    action, note = web.text(form, "action"), web.text(form, "note").strip() or None
    if action not in ACTIONS:
        raise VidexError("Choose what happened with the request.")

    def work():
        with web.catalog_for(user) as cat:
            r = _get(cat, code)
            if action == "withdraw":
                requests_mod.withdraw(cat, r.code, note)
            elif action == "email":
                report = requests_mod.send(cat, [r.code])
                if report.failed:
                    raise VidexError(f"The letter was not sent: {report.failed[0][1]}")
            else:
                requests_mod.mark(cat, r.code, action, note)
            return r.code
    done = await web.run_slow(work)
    return RedirectResponse(f"/requests/{quote(done, safe='')}", 303)
