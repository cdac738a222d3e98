"""The application: one ``Web`` object holding what pages share, and the one route table.

A view is a coroutine ``view(web, request, user)`` in one of the page modules (``signin``,
``incidents``, ``clips``, ``requests``, ``study``, ``admin``, ``public``); it parses the
request, calls the library (in a page thread: ``web.run_page``; slow work in the default pool:
``web.run_slow``) and renders a template (``web.page``). ``ROUTES`` says which role each needs;
``Web.endpoint`` checks the sign-in and the role, and turns library errors into pages.
"""

from __future__ import annotations

import functools
import hmac
import re
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from videx import users as users_mod
from videx.errors import NotFound, VidexError
from videx.web.pool import PAGE_THREADS, AuditBatcher, CatalogPool

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


class Forbidden(Exception):
    """A request refused (a stale form token, an action the role may not take)."""


# the library's messages speak to the command line ("see videx incidents list", "pass
# --skip-bad"): the web says the same in its own words
_CLI_SPEAK = [
    (re.compile(r"or pass --skip-bad to import the good rows"),
     "or tick \u201ckeep the good rows\u201d to import those"),
    (re.compile(r"\s*\((?:see|use|set it with|run|pass|or use)\b[^()]*(?:videx |--)[^()]*\)"), ""),
    (re.compile(r"[:;,]?\s*(?:run|use|set (?:it|one) with|with|pass)\s+videx\s[^;)]*"),
     ": ask an administrator"),
    (re.compile(r"\s*\(?pass --[\w-]+[^.;)]*\)?"), ""),
]


def plain_words(message: str) -> str:
    """A library message as the web says it: no command names or options."""
    for pattern, words in _CLI_SPEAK:
        message = pattern.sub(words, message)
    return message


def local_text(text: str | None, zone, local) -> str:
    """A stored UTC time (ISO text, ``...Z``) as the page shows times: local, with the zone
    (``local``: the page's formatter); text that is not a time is shown as it is."""
    if not text:
        return ""
    from datetime import datetime
    try:
        when = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return str(text)
    if when.tzinfo is None:              # stored times are UTC; never read one as local
        return str(text)
    return local(when.timestamp(), zone)


@dataclass(frozen=True)
class WebOptions:
    """How ``videx serve`` runs (every worker and every instance builds the same app).

    ``basemap``: a PMTiles file (raster tiles), a folder of ``{z}/{x}/{y}.png`` tiles or a
    tile server URL template, served to the browser by videx itself. ``trusted_proxies``:
    addresses (or networks) of reverse proxies whose ``X-Forwarded-For`` is believed.
    ``idle_timeout_s``: a session unused this long ends; ``session_max_s``: every session
    ends this long after sign-in. ``public_url``: the address owners' upload links use
    (else the catalog's setting)."""

    location: str
    secret: str | None = None
    https_cookies: bool = False
    cache_dir: str | None = None
    basemap: str | None = None
    trusted_proxies: tuple[str, ...] = ()
    idle_timeout_s: float = 3600.0
    session_max_s: float = 12 * 3600.0
    public_url: str | None = None
    upload_limit_bytes: int = 8 * 2**30
    extra: dict = field(default_factory=dict)


class Web:
    """What every page of one server process shares: options, the catalog pool, the audit
    batcher, the templates, the sign-in limiter, the preview cache and the basemap."""

    def __init__(self, options: WebOptions):
        import anyio
        from jinja2 import Environment, FileSystemLoader, select_autoescape

        from videx import display
        from videx.previews import PreviewCache
        from videx.timeutil import format_local, hms
        from videx.web.sessions import LoginLimiter, ProxyRule
        self.options = options
        self.secret = options.secret or secrets.token_urlsafe(32)
        self.cache = Path(options.cache_dir) if options.cache_dir else Path(
            tempfile.mkdtemp(prefix="videx-serve-"))
        self.cache.mkdir(parents=True, exist_ok=True)
        self.pool = CatalogPool(options.location)
        self.audited = AuditBatcher(self.pool)
        self.limiter = LoginLimiter()
        self.proxies = ProxyRule(options.trusted_proxies)
        self.previews = PreviewCache(self.cache)
        self.quick = anyio.CapacityLimiter(PAGE_THREADS)
        self.basemap = None
        if options.basemap:
            from videx.basemap import open_tiles
            self.basemap = open_tiles(options.basemap)
        env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                          autoescape=select_autoescape(["html"]), auto_reload=False)
        local = functools.lru_cache(maxsize=4096)(format_local)  # deadlines repeat on a page
        env.filters["local"] = lambda ts, zone: local(ts, zone) if ts is not None else ""
        env.filters["local_text"] = lambda text, zone: local_text(text, zone, local)
        env.filters["whole"] = lambda v: f"{v:.0f}"                # metres, seconds
        env.filters["hms"] = lambda s: hms(s) if s is not None else ""
        env.filters["idq"] = lambda v: quote(str(v), safe="")    # an id as one URL segment
        env.globals["display"] = display
        env.globals["allowed"] = users_mod.allowed
        self.env = env

    # ------------------------------------------------------------ running work
    async def run_page(self, fn, *args):
        """A page's catalog work (short reads, a small write) in one of a few threads per
        process: a page is mostly Python holding the GIL, more threads only queue on it."""
        import anyio
        return await anyio.to_thread.run_sync(functools.partial(fn, *args), limiter=self.quick)

    async def run_slow(self, fn, *args):
        """Downloads, previews, imports, the study, password hashing and writes that may wait
        for the write lock: the default pool, so they never hold up page views."""
        from starlette.concurrency import run_in_threadpool
        return await run_in_threadpool(fn, *args)

    async def on_record(self, entry) -> str | None:
        """Wait, without holding a thread, until an ``AuditBatcher`` entry is committed;
        None, or why it could not be written."""
        import asyncio
        return await asyncio.wrap_future(entry)

    def catalog_for(self, user: dict | None):
        """A pooled catalog acting as the signed-in user (``web:NAME`` in the audit log)."""
        return self.pool.catalog(f"web:{user['name']}" if user else None)

    # ------------------------------------------------------------ responses
    def page(self, request, name: str, context: dict, status: int = 200):
        from starlette.responses import HTMLResponse
        user = request.state.user if hasattr(request.state, "user") else None
        ctx = {"user": user["name"] if user else None, "role": user["role"] if user else None,
               "csrf": self.csrf_token(request), "path": request.url.path, **context}
        return self.secure(HTMLResponse(self.env.get_template(name).render(**ctx),
                                        status_code=status))

    def error(self, request, title: str, message: str, status: int, **context):
        return self.page(request, "error.html", {"title": title,
                                                 "message": plain_words(message), **context},
                         status)

    def secure(self, response):
        """Headers every response carries: scripts, styles, images and media only from videx
        itself (the map's tiles too: the basemap is served by videx)."""
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data: blob:; media-src 'self'; "
            "style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; "
            "object-src 'none'; "
            "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    # ------------------------------------------------------------ forms
    @staticmethod
    def text(form, name: str) -> str:
        """A form field as text ("" when absent)."""
        value = form.get(name)
        return value if isinstance(value, str) else ""

    @staticmethod
    def csrf_token(request) -> str:
        token = request.session.get("csrf")
        if not token:
            token = request.session["csrf"] = secrets.token_urlsafe(24)
        return token

    async def form_checked(self, request) -> dict:
        """The form of a POST whose token matches the session's (else ``Forbidden``)."""
        form = await request.form()
        sent = self.text(form, "csrf")
        if not sent or not hmac.compare_digest(sent, request.session.get("csrf") or ""):
            raise Forbidden("the form's security token is missing or stale: reload the page "
                            "and try again")
        return form

    # ------------------------------------------------------------ the route wrapper
    def endpoint(self, view, role: str | None):
        """Wrap a view: sign-in and role check (``role`` None: public), library errors as
        pages in plain words."""
        from videx.web.sessions import signed_in

        async def handler(request):
            user = None
            if role is not None:
                user, refusal = await self.run_page(signed_in, self, request, role)
                if refusal is not None:
                    return refusal
            request.state.user = user
            try:
                return await view(self, request, user)
            except Forbidden as err:
                return self.error(request, "Refused", str(err), 403)
            except NotFound as err:
                return self.error(request, "Not found", str(err), 404)
            except VidexError as err:
                return self.error(request, "Could not do that", str(err), 400)
        handler.__name__ = getattr(view, "__name__", "view")
        return handler


def route_table():
    """Every page: (path, view, role needed or None for public, methods). Case numbers may
    hold "/" (24/0123): an incident's actions come before its page."""
    from videx.web import admin, clips, incidents, public, requests, signin, study, upload
    D, A, M = "detective", "analyst", "admin"
    return [
        ("/", signin.home, None, ["GET"]),
        ("/login", signin.login, None, ["GET", "POST"]),
        ("/logout", signin.logout, None, ["POST"]),
        ("/static/{name:path}", public.static, None, ["GET"]),
        ("/basemap/{z:int}/{x:int}/{y:int}", clips.basemap_tile, D, ["GET"]),
        ("/incidents", incidents.search, D, ["GET"]),
        ("/near", incidents.near, D, ["GET"]),
        ("/incidents/{incident_id:path}/outcome", incidents.record_outcome, D, ["POST"]),
        ("/incidents/{incident_id:path}/review", incidents.record_review, D, ["POST"]),
        ("/incidents/{incident_id:path}/bookmark", incidents.record_bookmark, D, ["POST"]),
        ("/incidents/{incident_id:path}/report", incidents.report_download, D, ["GET"]),
        ("/incidents/{incident_id:path}/package", incidents.package_download, D, ["GET"]),
        ("/incidents/{incident_id:path}/sync", incidents.sync_view, D, ["GET"]),
        ("/incidents/{incident_id:path}/requests", requests.request_all, D, ["POST"]),
        ("/incidents/{incident_id:path}", incidents.incident_page, D, ["GET"]),
        ("/requests", requests.my_requests, D, ["GET"]),
        ("/requests/{code}", requests.request_page, D, ["GET"]),
        ("/requests/{code}/letter", requests.letter, D, ["GET"]),
        ("/requests/{code}/status", requests.record_status, D, ["POST"]),
        ("/clips/{clip_id}", clips.clip_page, D, ["GET"]),
        ("/clips/{clip_id}/media", clips.clip_media, D, ["GET"]),
        ("/cameras/{camera_id:path}", clips.camera_page, D, ["GET"]),
        ("/study", study.study_page, A, ["GET", "POST"]),
        ("/study/{run_id}/report", study.study_report, A, ["GET"]),
        ("/imports", admin.imports, M, ["GET", "POST"]),
        ("/audit", admin.audit_log, M, ["GET"]),
        ("/users", admin.users_page, M, ["GET", "POST"]),
        *upload.ROUTES,
    ]


def create_app(location: str, tiles_url: str | None = None, secret: str | None = None,
               https_cookies: bool = False, cache_dir: str | Path | None = None, **options):
    """The web application for the catalog at ``location`` (a path or ``postgresql://``);
    ``tiles_url`` is the older name of ``basemap`` (see ``WebOptions`` for the others)."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.sessions import SessionMiddleware
    from starlette.routing import Route
    web = Web(WebOptions(location, secret, https_cookies,
                         str(cache_dir) if cache_dir else None,
                         options.pop("basemap", None) or tiles_url, **options))
    routes = []
    for path, view, role, methods in route_table():
        if getattr(view, "raw_route", False):       # public endpoints handle themselves
            routes.append(Route(path, functools.partial(view, web), methods=methods))
        else:
            routes.append(Route(path, web.endpoint(view, role), methods=methods))

    async def not_found(request, exc):
        from starlette.responses import RedirectResponse
        if request.session.get("sid"):
            request.state.user = None
            return web.error(request, "Not found", "There is no such page.", 404)
        return RedirectResponse("/login", 303)

    # the cookie holds the session id and the form token, signed; it is re-signed on every
    # response, so a browser idle longer than the idle timeout presents an expired one
    middleware = [Middleware(SessionMiddleware, secret_key=web.secret, session_cookie="videx",
                             same_site="strict", https_only=https_cookies,
                             max_age=int(web.options.idle_timeout_s))]
    app = Starlette(routes=routes, middleware=middleware, exception_handlers={404: not_found})
    app.state.web = web
    app.state.cache = web.cache
    app.state.pool = web.pool
    return app
