"""``videx serve``: the detective's core loop in a browser, on the shared catalog.

A Starlette application with server-rendered Jinja2 pages (``videx/templates``) and no
JavaScript framework. Every request opens the catalog as the signed-in user (``acting_as``
in the audit log; the server's OS account is recorded beside it), so every view of evidence
and every change is audited with who did it.

Security:

- sign-in with users and roles (``videx.users``); argon2 password hashes;
- the session is a cookie signed with a server secret (``VIDEX_SERVER_SECRET``, else a random
  one per server start), HttpOnly, SameSite=Strict, Secure when ``--https-cookies``;
- every form carries a per-session CSRF token, checked on every POST (403 without it);
- failed sign-ins are limited per address and name (``LoginLimiter``: 429 after 5 in 5 min);
- an anonymous request for any page but ``/login`` is sent to ``/login``;
- clips are served by catalogue id only (``/clips/ID/media``), never by path; every page sets
  a strict Content-Security-Policy, ``X-Frame-Options: DENY`` and ``nosniff``.

Clips play from the moment: MP4/MOV with H.264 are sent as they are, with HTTP range requests;
other codecs (H.265, MJPEG, ...) get an H.264 preview made once with ffmpeg into the server's
cache folder (labelled a preview: the original is what packages carry).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import hmac
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from urllib.parse import quote, urlencode

from videx import users as users_mod
from videx.errors import CatalogError, NotFound, VidexError

TEMPLATES = Path(__file__).parent / "templates"
PLAYABLE = {("h264", "mov,mp4,m4a,3gp,3g2,mj2")}
SEARCH_LIMIT = 200


class LoginLimiter:
    """At most ``limit`` failed sign-ins per (address, name) and ``4 * limit`` per address
    within ``window_s`` seconds."""

    def __init__(self, limit: int = 5, window_s: float = 300.0):
        self.limit, self.window_s = limit, window_s
        self.failures: dict[tuple, collections.deque] = collections.defaultdict(
            collections.deque)
        self.lock = threading.Lock()

    def _recent(self, key, now) -> collections.deque:
        q = self.failures[key]
        while q and now - q[0] > self.window_s:
            q.popleft()
        if len(self.failures) > 10_000:      # forget keys whose failures have all expired
            for k in [k for k, v in self.failures.items() if not v or now - v[-1] >
                      self.window_s]:
                if k != key:
                    del self.failures[k]
        return q

    def blocked(self, address: str, name: str) -> bool:
        now = time.monotonic()
        with self.lock:
            return (len(self._recent((address, name.lower()), now)) >= self.limit
                    or len(self._recent((address,), now)) >= 4 * self.limit)

    def failed(self, address: str, name: str) -> None:
        now = time.monotonic()
        with self.lock:
            self._recent((address, name.lower()), now).append(now)
            self._recent((address,), now).append(now)

    def succeeded(self, address: str, name: str) -> None:
        with self.lock:
            self.failures.pop((address, name.lower()), None)


class CatalogPool:
    """Open connections to one catalog, reused across requests (a PostgreSQL connection costs
    milliseconds to open; a SQLite one less, but still more than a query).

    ``catalog(actor)`` lends a ``Catalog`` acting as ``actor`` over a pooled connection; the
    first connection is opened with ``open_catalog`` (so a catalog that needs migrating is
    migrated, once). A connection that saw an error is closed, not reused."""

    def __init__(self, location: str, keep: int = 16):
        import queue
        self.location, self.keep = location, keep
        self.free: queue.LifoQueue = queue.LifoQueue()
        self.newer: tuple[str, ...] = ()

    def _backend(self):
        import queue

        from videx.catalog import open_catalog
        while True:
            try:
                backend = self.free.get_nowait()
            except queue.Empty:
                cat = open_catalog(self.location)
                self.newer = cat.newer
                return cat.db
            if not getattr(getattr(backend, "conn", None), "closed", False):
                return backend          # (a server restart closes PostgreSQL connections)
            backend.close()

    @contextlib.contextmanager
    def catalog(self, actor: str | None):
        from videx.catalog import Catalog
        backend = self._backend()
        try:
            yield Catalog(backend, actor, newer=self.newer)
        except VidexError:
            self._give_back(backend)        # an answer (not found, refused): reusable
            raise
        except BaseException:
            backend.close()                 # anything else: do not trust the connection
            raise
        self._give_back(backend)

    def _give_back(self, backend) -> None:
        try:
            backend.rollback()              # nothing left open for the next request
        except Exception:  # noqa: BLE001 - a broken connection is dropped
            backend.close()
            return
        if self.free.qsize() < self.keep:
            self.free.put(backend)
        else:
            backend.close()


# Threads per server process for pages' catalog work. A page is mostly Python holding the
# GIL: forty threads at once (Starlette's default) only queue on it, each pausing the others.
# Measured at 10M clips, 20 users, alternating: SQLite p95 60-135 ms (median 124) with 40
# threads, 64-117 (95) with 8, 62-77 (71) with 4.
PAGE_THREADS = 4


class AuditBatcher:
    """Audit entries for actions that change no row (page views, sign-ins), written by one
    thread per server process in batches: whatever arrived while the last batch was being
    written goes in the next one, in one transaction (one audit lock, one commit: one WAL
    flush on PostgreSQL). ``submit`` hands back a future that is done once the entry is
    committed (its result: None, or the reason it could not be written, as
    ``Catalog.record``); pages wait for it outside their worker threads and only then answer,
    so nothing is shown before it is on record. Under load this replaces a queue of
    single-entry transactions, each holding the audit lock through its own commit."""

    MAX_BATCH = 64

    def __init__(self, pool: CatalogPool):
        import queue
        self.pool = pool
        self.requests: queue.SimpleQueue = queue.SimpleQueue()
        self.thread: threading.Thread | None = None
        self.start_lock = threading.Lock()

    def submit(self, actor: str | None, command: str, args: dict, case_no: str | None = None):
        """Queue an entry; a ``concurrent.futures.Future`` of its outcome."""
        from concurrent.futures import Future
        done: Future = Future()
        self._start()
        self.requests.put(((actor, command, args, case_no), done))
        return done

    def record(self, actor: str | None, command: str, args: dict,
               case_no: str | None = None) -> str | None:
        """``submit`` and wait (from a thread that may block)."""
        return self.submit(actor, command, args, case_no).result()

    def _start(self) -> None:
        if self.thread is None:
            with self.start_lock:             # started lazily: after the worker forked
                if self.thread is None:
                    self.thread = threading.Thread(target=self._run, name="videx-audit",
                                                   daemon=True)
                    self.thread.start()

    def _run(self) -> None:
        import queue
        while True:
            batch = [self.requests.get()]
            while len(batch) < self.MAX_BATCH:
                try:
                    batch.append(self.requests.get_nowait())
                except queue.Empty:
                    break
            try:
                with self.pool.catalog(None) as cat:
                    note = cat.record_many([action for action, _ in batch])
            except BaseException as err:  # noqa: BLE001 - every waiting request is told
                for _, done in batch:         # (each its own error: they raise in parallel)
                    done.set_exception(CatalogError(
                        f"the audit entry could not be written: {err}"))
                continue
            for _, done in batch:
                done.set_result(note)


def create_app(location: str, tiles_url: str | None = None, secret: str | None = None,
               https_cookies: bool = False, cache_dir: str | Path | None = None):
    """The web application for the catalog at ``location`` (a path or ``postgresql://``)."""
    import asyncio
    import os

    import anyio
    from jinja2 import Environment, FileSystemLoader, select_autoescape
    from starlette.applications import Starlette
    from starlette.background import BackgroundTask
    from starlette.concurrency import run_in_threadpool
    from starlette.middleware import Middleware
    from starlette.middleware.sessions import SessionMiddleware
    from starlette.responses import (
        FileResponse,
        HTMLResponse,
        PlainTextResponse,
        RedirectResponse,
        Response,
    )
    from starlette.routing import Route

    from videx import canvass, evidence, history, incident_report
    from videx.timeutil import describe, format_local, hms, parse_instant

    env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                      autoescape=select_autoescape(["html"]),
                      auto_reload=False)          # templates are part of the install
    local = functools.lru_cache(maxsize=4096)(format_local)   # deadlines repeat on a page
    env.filters["local"] = lambda ts, zone: local(ts, zone) if ts is not None else ""
    env.filters["whole"] = lambda v: f"{v:.0f}"                 # metres, seconds
    env.globals["yes_no"] = {True: "yes", False: "no", None: "?"}
    env.filters["hms"] = lambda s: hms(s) if s is not None else ""
    env.filters["idq"] = lambda v: quote(str(v), safe="")     # an id as one URL segment
    limiter = LoginLimiter()
    cache = Path(cache_dir) if cache_dir else Path(tempfile.mkdtemp(prefix="videx-serve-"))
    cache.mkdir(parents=True, exist_ok=True)
    preview_locks: dict[str, threading.Lock] = {}
    preview_locks_guard = threading.Lock()
    preview_slots = threading.BoundedSemaphore(2)      # ffmpeg runs at once, per process
    secret = secret or os.environ.get("VIDEX_SERVER_SECRET") or secrets.token_urlsafe(32)

    # ------------------------------------------------------------ helpers
    pool = CatalogPool(location)
    audited = AuditBatcher(pool)
    quick = anyio.CapacityLimiter(PAGE_THREADS)

    async def on_record(entry) -> str | None:
        """Wait, without holding a thread, until an ``AuditBatcher`` entry is committed; None,
        or why it could not be written."""
        return await asyncio.wrap_future(entry)

    async def in_page_thread(fn, *args):
        """Run a page's catalog work (short reads, a small write) in one of a few threads per
        process; downloads, previews, imports, the study and sign-in's password hashing use
        the larger default pool, so a slow export never holds up page views."""
        return await anyio.to_thread.run_sync(functools.partial(fn, *args), limiter=quick)

    def catalog_for(user: dict | None):
        return pool.catalog(f"web:{user['name']}" if user else None)

    def page(request, name: str, context: dict, status: int = 200) -> HTMLResponse:
        ctx = {"user": request.session.get("user"), "role": request.session.get("role"),
               "csrf": csrf_token(request), "allowed": users_mod.allowed, **context}
        return secure(HTMLResponse(env.get_template(name).render(**ctx), status_code=status))

    def secure(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:" + (" https:" if tiles_url else "")
            + "; media-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'; "
              "frame-ancestors 'none'; form-action 'self'")
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "no-store"
        return response

    def text(form, name: str) -> str:
        """A form field as text ("" when absent)."""
        return str(form.get(name) or "")

    def csrf_token(request) -> str:
        token = request.session.get("csrf")
        if not token:
            token = request.session["csrf"] = secrets.token_urlsafe(24)
        return token

    async def form_checked(request) -> dict:
        form = await request.form()
        sent = text(form, "csrf")
        if not sent or not hmac.compare_digest(sent, request.session.get("csrf") or ""):
            raise Forbidden("the form's security token is missing or stale: reload the page")
        return form

    class Forbidden(Exception):
        pass

    def signed_in(request, role: str = "detective"):
        """The signed-in user (re-checked against the catalog), or a response to return."""
        name = request.session.get("user")
        if not name:
            nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return None, RedirectResponse(f"/login?{urlencode({'next': nxt})}", 303)
        with catalog_for(None) as cat:
            user = users_mod.get_user(cat, name)
        if user is None:
            request.session.clear()
            return None, RedirectResponse("/login", 303)
        request.session["role"] = user["role"]
        if not users_mod.allowed(user["role"], role):
            return None, page(request, "error.html", {"title": "Not allowed",
                                                      "message": f"This page needs the {role} "
                                                      "role."}, 403)
        return user, None

    def not_found(request, message: str) -> HTMLResponse:
        return page(request, "error.html", {"title": "Not found", "message": message}, 404)

    def endpoint(role: str = "detective"):
        """Wrap a handler: sign-in and role check, library errors as pages."""
        def wrap(fn):
            async def handler(request):
                user, refusal = await in_page_thread(signed_in, request, role)
                if refusal is not None:
                    return refusal
                try:
                    return await fn(request, user)
                except Forbidden as err:
                    return page(request, "error.html", {"title": "Refused",
                                                        "message": str(err)}, 403)
                except NotFound as err:
                    return not_found(request, str(err))
                except VidexError as err:
                    return page(request, "error.html", {"title": "Could not do that",
                                                        "message": str(err)}, 400)
            return handler
        return wrap

    # ------------------------------------------------------------ sign-in
    async def login(request):
        if request.method == "GET":
            return page(request, "login.html", {"next": request.query_params.get("next", ""),
                                                "error": None})
        try:
            form = await form_checked(request)
        except Forbidden as err:
            return page(request, "login.html", {"next": "", "error": str(err)}, 403)
        name, password = text(form, "name"), text(form, "password")
        address = request.client.host if request.client else "?"
        nxt = text(form, "next")
        if limiter.blocked(address, name):
            return page(request, "login.html", {"next": nxt, "error": "Too many failed "
                                                "sign-ins: wait a few minutes."}, 429)

        def check():
            with catalog_for(None) as cat:
                user = users_mod.check_password(cat, name, password)
                audited.record(None, "sign in" if user else "sign in refused",
                               {"name": name, "address": address})
                return user
        user = await run_in_threadpool(check)
        if user is None:
            limiter.failed(address, name)
            return page(request, "login.html", {"next": nxt, "error": "Wrong name or "
                                                "password."}, 401)
        limiter.succeeded(address, name)
        request.session.clear()                       # a fresh session: no fixation
        request.session.update({"user": user["name"], "role": user["role"],
                                "csrf": secrets.token_urlsafe(24)})
        target = nxt if nxt.startswith("/") and not nxt.startswith("//") else "/incidents"
        return RedirectResponse(target, 303)

    async def logout(request):
        try:
            await form_checked(request)
        except Forbidden as err:
            return page(request, "error.html", {"title": "Refused", "message": str(err)}, 403)
        request.session.clear()
        return RedirectResponse("/login", 303)

    async def home(request):
        return RedirectResponse("/incidents", 303)

    # ------------------------------------------------------------ incidents
    @endpoint()
    async def incidents_page(request, user):
        q = request.query_params

        def work():
            with catalog_for(user) as cat:
                zone = cat.display_zone()
                t0 = parse_instant(q["from"], cat.input_zone_or_none()).timestamp() \
                    if q.get("from") else None
                t1 = parse_instant(q["to"], cat.input_zone_or_none()).timestamp() \
                    if q.get("to") else None
                rows = cat.incidents.search(q.get("q") or None, t0, t1,
                                            q.get("neighborhood") or None, SEARCH_LIMIT + 1)
                for r in rows:
                    r["occurred_local"] = describe(r["occurred_ts"], r["time_precision"], zone)
                return rows
        rows = await in_page_thread(work)
        return page(request, "incidents.html", {"rows": rows[:SEARCH_LIMIT],
                                                "more": len(rows) > SEARCH_LIMIT,
                                                "q": dict(q)})

    def download(path: Path, media_type: str) -> Response:
        """A file made for this request, sent as an attachment; its folder removed after."""
        return secure(FileResponse(path, media_type=media_type, filename=path.name,
                                   content_disposition_type="attachment",
                                   background=BackgroundTask(shutil.rmtree, path.parent, True)))

    @endpoint()
    async def incident_page(request, user):
        incident_id = request.path_params["incident_id"]

        def work():
            with catalog_for(user) as cat:
                record = cat.incidents.require(incident_id)
                result = canvass.canvass_incident(cat, canvass.Incident.from_row(record),
                                                  record=False)
                entry = audited.submit(cat.actor, "canvass", canvass.audit_args(result),
                                       result.incident.id)
                # read after the canvass: the history holds every outcome the canvass showed
                outcomes, reviews, zone = cat.case_history(incident_id)
                tiles, tiles_note = [], None
                if tiles_url:
                    from videx import basemap
                    view = basemap.View(result.incident.lat, result.incident.lon,
                                        result.radius_m, 520)
                    tiles, tiles_note = basemap.tiles(view, tiles_url)
                return {"result": result, "zone": zone,
                        "occurred": result.incident.when(zone),
                        "map": incident_report.map_svg(result, tiles=tiles),
                        "timeline": incident_report.timeline_svg(result, zone),
                        "tiles_note": tiles_note,
                        "outcomes": outcomes,
                        "reviews": reviews,
                        "current_reviews": history.latest(reviews, "clip_id"),
                        "statuses": history.OUTCOMES, "record": record}, entry
        # tiles may come over the network: then not in one of the few page threads
        ctx, entry = await (run_in_threadpool if tiles_url else in_page_thread)(work)
        ctx["result"] = canvass.with_audit_note(ctx["result"], await on_record(entry))
        return page(request, "incident.html", ctx)

    async def record_then_show(user, incident_id: str, change) -> Response:
        """Apply ``change(cat)`` (an outcome or a review) as the user, then show the case
        history."""
        def work():
            with catalog_for(user) as cat:
                change(cat)
        await run_in_threadpool(work)         # may wait for the write lock: not a page thread
        return RedirectResponse(f"/incidents/{quote(incident_id, safe='')}#history", 303)

    @endpoint()
    async def record_outcome(request, user):
        incident_id = request.path_params["incident_id"]
        form = await form_checked(request)
        return await record_then_show(user, incident_id, lambda cat: history.record_outcome(
            cat, incident_id, text(form, "camera_id"), text(form, "status"),
            text(form, "note") or None))

    @endpoint()
    async def record_review(request, user):
        incident_id = request.path_params["incident_id"]
        form = await form_checked(request)
        try:
            clip_id = int(text(form, "clip_id"))
        except ValueError:
            raise VidexError("no clip chosen for the review") from None
        probative = text(form, "probative") == "yes"
        return await record_then_show(user, incident_id, lambda cat: history.record_review(
            cat, incident_id, clip_id, probative, text(form, "note") or None))

    @endpoint()
    async def report_download(request, user):
        incident_id = request.path_params["incident_id"]

        def work():
            with catalog_for(user) as cat:
                result = canvass.canvass(cat, incident_id, record=False)
                out = Path(tempfile.mkdtemp(dir=cache)) / \
                    f"report-{evidence.safe_name(incident_id)}.html"
                incident_report.write(cat, result, out, tiles_url)
                return out
        return download(await run_in_threadpool(work), "text/html")

    @endpoint()
    async def package_download(request, user):
        incident_id = request.path_params["incident_id"]

        def work():
            with catalog_for(user) as cat:
                result = canvass.canvass(cat, incident_id, record=False)
                base = Path(tempfile.mkdtemp(dir=cache))
                name = f"package-{evidence.safe_name(incident_id)}"
                evidence.extract(cat, result, base / name)
                archive = base / f"{name}.zip"
                with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
                    for f in sorted((base / name).rglob("*")):
                        if f.is_file():
                            zf.write(f, f.relative_to(base).as_posix())
                shutil.rmtree(base / name, ignore_errors=True)
                return archive
        return download(await run_in_threadpool(work), "application/zip")

    # ------------------------------------------------------------ clips and cameras
    def known_incident(cat, incident_id: str | None) -> str | None:
        """The ``?incident=`` of a request when it names a catalogued incident (the audit
        entry's case number), else None."""
        if incident_id and cat.incidents.get(incident_id) is not None:
            return incident_id
        return None

    def clip_row(cat, clip_id_text: str) -> dict:
        try:
            clip_id = int(clip_id_text)
        except ValueError:
            raise NotFound("no such clip") from None
        return cat.clips.require(clip_id)

    @endpoint()
    async def clip_page(request, user):
        def work():
            with catalog_for(user) as cat:
                row = clip_row(cat, request.path_params["clip_id"])
                case = known_incident(cat, request.query_params.get("incident"))
                entry = audited.submit(cat.actor, "view clip",
                                       {"clip": row["id"], "sha256": row["sha256"]}, case)
                return {"clip": row, "camera": cat.cameras.get(row["camera_id"]),
                        "zone": cat.display_zone(), "incident": case,
                        "preview": (row["codec"], row["container"]) not in PLAYABLE}, entry
        ctx, entry = await in_page_thread(work)
        await on_record(entry)
        try:
            ctx["t"] = max(0.0, float(request.query_params.get("t") or 0))
        except ValueError:
            ctx["t"] = 0.0
        return page(request, "clip.html", ctx)

    @endpoint()
    async def clip_media(request, user):
        def work():
            with catalog_for(user) as cat:
                row = clip_row(cat, request.path_params["clip_id"])
                rng = request.headers.get("range", "")
                entry = None
                if not rng or rng.replace(" ", "").startswith("bytes=0-"):
                    entry = audited.submit(
                        cat.actor, "play clip", {"clip": row["id"], "sha256": row["sha256"]},
                        known_incident(cat, request.query_params.get("incident")))
                return row, entry
        row, entry = await in_page_thread(work)
        if entry is not None:
            await on_record(entry)
        path = original_file(row)
        if path is None:
            return not_found(request, "the clip's file is missing or no longer the catalogued "
                                      "one (run videx verify --catalog)")
        if (row["codec"], row["container"]) in PLAYABLE:
            return secure(FileResponse(path, media_type="video/mp4"))
        preview = await run_in_threadpool(make_preview, path, row["sha256"])
        return secure(FileResponse(preview, media_type="video/mp4"))

    def make_preview(path: Path, sha256: str) -> Path:
        """An H.264 MP4 preview of a clip browsers cannot play, made once per original (by
        its SHA-256, checked first) into the cache; one ffmpeg per original at a time."""
        out = cache / f"preview-{sha256}.mp4"
        with preview_locks_guard:
            lock = preview_locks.setdefault(sha256, threading.Lock())
        with lock, preview_slots:
            if out.exists():
                return out
            from videx.hashing import sha256_file
            if sha256_file(path) != sha256:
                raise VidexError("the clip's file no longer matches its catalogued SHA-256: "
                                 "run videx verify --catalog")
            tmp = cache / f".preview-{sha256}-{secrets.token_hex(4)}.mp4"
            try:
                done = subprocess.run(
                    ["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(path), "-map",
                     "0:v:0", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
                     "-pix_fmt", "yuv420p", "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2",
                     "-movflags", "+faststart", str(tmp)], capture_output=True, timeout=600)
            except subprocess.TimeoutExpired:
                tmp.unlink(missing_ok=True)
                raise VidexError("the preview took too long to make (over 10 min)") from None
            if done.returncode != 0:
                tmp.unlink(missing_ok=True)
                raise VidexError("the preview could not be made: "
                                 + done.stderr.decode(errors="replace").strip()[-200:])
            tmp.replace(out)                # atomic: other workers see all of it or none
        return out

    def original_file(row: dict) -> Path | None:
        """The catalogued file, when it is still a regular file of the catalogued size (not a
        symlink put in its place); None otherwise."""
        import stat as stat_mod
        path = Path(row["path"])
        try:
            info = path.lstat()
        except OSError:
            return None
        if not stat_mod.S_ISREG(info.st_mode) or info.st_size != row["size_bytes"]:
            return None
        return path

    @endpoint()
    async def camera_page(request, user):
        def work():
            with catalog_for(user) as cat:
                cam = cat.cameras.require(request.path_params["camera_id"])
                return {"camera": cam, "clips": cat.clips.by_camera(cam["id"])[-200:],
                        "zone": cat.display_zone()}
        return page(request, "camera.html", await in_page_thread(work))

    # ------------------------------------------------------------ analyst
    @endpoint("analyst")
    async def study_page(request, user):
        """The video-impact study on the catalog: choose the exposure, see the headline and
        the estimates, download the report."""
        if request.method == "GET":
            return page(request, "study.html", {"result": None, "exposure": "probative",
                                                "covariates": "category", "run_id": None})
        form = await form_checked(request)
        exposure = str(form.get("exposure") or "probative")
        if exposure not in ("probative", "obtained", "coverage", "nearby"):
            raise VidexError(f"unknown exposure {exposure!r}")
        covariates = [c.strip() for c in text(form, "covariates").split(",")
                      if c.strip()]

        def work():
            from videx.study.dataset import write_dataset
            from videx.study.report import write_report
            from videx.study.run import run_study
            from videx.study.spec import build_spec
            folder = Path(tempfile.mkdtemp(dir=cache, prefix="study-"))
            with catalog_for(user) as cat:
                write_dataset(cat, folder / "cases.csv", exposure)
            spec = build_spec({"cases": str(folder / "cases.csv"), "outcome": "cleared=yes",
                               "exposure": "video=yes", "covariates": tuple(covariates),
                               "exposure_label": {"probative": "a probative clip",
                                                  "obtained": "footage obtained",
                                                  "coverage": "a clip covering the moment",
                                                  "nearby": "a camera nearby"}[exposure]})
            result = run_study(spec)
            write_report(result, folder / "out")
            return result, folder.name
        result, run_id = await run_in_threadpool(work)
        return page(request, "study.html", {"result": result, "exposure": exposure,
                                            "covariates": ", ".join(covariates),
                                            "run_id": run_id})

    @endpoint("analyst")
    async def study_report(request, user):
        run_id = request.path_params["run_id"]
        report = cache / run_id / "out" / "report.html"
        if not run_id.startswith("study-") or "/" in run_id or not report.is_file():
            return not_found(request, "no such study run (they last until the server stops)")
        return secure(FileResponse(report, media_type="text/html"))

    # ------------------------------------------------------------ admin
    @endpoint("admin")
    async def imports_page(request, user):
        """Upload a camera registry or an incident list (CSV or GeoJSON), as the CLI imports
        it: nothing is written when a row is bad unless "keep the good rows" is ticked."""
        if request.method == "GET":
            return page(request, "imports.html", {"report": None})
        form = await form_checked(request)
        kind = text(form, "kind")
        upload = form.get("file")
        if kind not in ("cameras", "incidents") or upload is None or not getattr(
                upload, "filename", ""):
            raise VidexError("choose what to import and a file")
        suffix = Path(upload.filename).suffix.lower()
        if suffix not in (".csv", ".geojson", ".json", ".txt"):
            raise VidexError("upload a CSV or GeoJSON file")
        data = await upload.read()
        skip_bad = text(form, "skip_bad") == "yes"

        def work():
            from videx import cameras, incidents
            folder = Path(tempfile.mkdtemp(dir=cache, prefix="import-"))
            path = folder / f"upload{suffix}"
            path.write_bytes(data)
            try:
                with catalog_for(user) as cat:
                    if kind == "cameras":
                        rep = cameras.import_cameras(cat, path, skip_bad=skip_bad)
                    else:
                        rep = incidents.import_incidents(cat, path, skip_bad=skip_bad)
                return {"summary": rep.summary().replace(str(path), upload.filename),
                        "errors": [str(e).replace(str(path), upload.filename)
                                   for e in rep.errors[:50]]}
            finally:
                shutil.rmtree(folder, ignore_errors=True)
        return page(request, "imports.html", {"report": await run_in_threadpool(work)})

    @endpoint("admin")
    async def audit_page(request, user):
        from videx import audit

        def work():
            with catalog_for(user) as cat:
                return {"entries": cat.auditlog.entries(100), "check": audit.verify(cat)}
        return page(request, "audit.html", await run_in_threadpool(work))

    @endpoint("admin")
    async def users_page(request, user):
        message = None
        if request.method == "POST":
            form = await form_checked(request)

            def add():
                with catalog_for(user) as cat:
                    users_mod.add_user(cat, text(form, "name"),
                                       text(form, "role"),
                                       text(form, "password"))
            await run_in_threadpool(add)
            message = f"user {form.get('name')} added"

        def work():
            with catalog_for(user) as cat:
                return users_mod.list_users(cat)
        return page(request, "users.html", {"users": await run_in_threadpool(work),
                                            "roles": users_mod.ROLES, "message": message})

    async def not_found_handler(request, exc):
        if request.session.get("user"):
            return not_found(request, "There is no such page.")
        return RedirectResponse("/login", 303)

    async def static(request):
        name = request.path_params["name"]
        if name not in ("videx.css", "player.js"):
            return PlainTextResponse("not found", 404)
        media = "text/css" if name.endswith(".css") else "text/javascript"
        return secure(FileResponse(TEMPLATES / name, media_type=media))

    routes = [
        Route("/", home),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/static/{name}", static),
        Route("/incidents", incidents_page),
        # case numbers may hold "/" (24/0123): the actions first, then the page
        Route("/incidents/{incident_id:path}/outcome", record_outcome, methods=["POST"]),
        Route("/incidents/{incident_id:path}/review", record_review, methods=["POST"]),
        Route("/incidents/{incident_id:path}/report", report_download),
        Route("/incidents/{incident_id:path}/package", package_download),
        Route("/incidents/{incident_id:path}", incident_page),
        Route("/clips/{clip_id}", clip_page),
        Route("/clips/{clip_id}/media", clip_media),
        Route("/cameras/{camera_id:path}", camera_page),
        Route("/study", study_page, methods=["GET", "POST"]),
        Route("/study/{run_id}/report", study_report),
        Route("/imports", imports_page, methods=["GET", "POST"]),
        Route("/audit", audit_page),
        Route("/users", users_page, methods=["GET", "POST"]),
    ]
    middleware = [Middleware(SessionMiddleware, secret_key=secret, session_cookie="videx",
                             same_site="strict", https_only=https_cookies, max_age=12 * 3600)]
    app = Starlette(routes=routes, middleware=middleware,
                    exception_handlers={404: not_found_handler})
    app.state.cache = cache
    app.state.pool = pool
    return app


def _app_from_env():
    """The application for ``uvicorn --factory`` worker processes (settings from ``serve``)."""
    import os
    return create_app(os.environ["VIDEX_SERVE_DB"], os.environ.get("VIDEX_SERVE_TILES") or None,
                      os.environ["VIDEX_SERVER_SECRET"],
                      os.environ.get("VIDEX_SERVE_HTTPS") == "1",
                      os.environ["VIDEX_SERVE_CACHE"])


def serve(location: str, host: str = "127.0.0.1", port: int = 8000,
          tiles_url: str | None = None, https_cookies: bool = False, workers: int = 1) -> None:
    """Run the web interface until interrupted (uvicorn; ``workers`` processes share one
    secret and one preview cache)."""
    import os

    import uvicorn

    from videx.catalog import open_catalog
    with open_catalog(location) as cat:          # fail now, in one line, on a bad catalog
        if not users_mod.list_users(cat):
            raise VidexError("no users yet: add one with videx users add NAME --role admin "
                             "--password-stdin")
    os.environ.setdefault("VIDEX_SERVER_SECRET", secrets.token_urlsafe(32))
    os.environ.update({"VIDEX_SERVE_DB": location, "VIDEX_SERVE_TILES": tiles_url or "",
                       "VIDEX_SERVE_HTTPS": "1" if https_cookies else "0",
                       "VIDEX_SERVE_CACHE": tempfile.mkdtemp(prefix="videx-serve-")})
    if workers > 1 and hasattr(socket, "SO_REUSEPORT"):
        _serve_reuseport(host, port, workers)
        return
    uvicorn.run("videx.web:_app_from_env", factory=True, host=host, port=port,
                workers=workers, log_level="warning")


def _listening_socket(host: str, port: int, share: bool = True) -> socket.socket:
    """A TCP socket bound to the address, listening when ``share`` (with SO_REUSEPORT:
    the workers' sockets share the address); without ``share`` only bound, to find out
    whether anything else listens there."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto given: connections accepted on a socket made with proto 0 inherit it, and asyncio
    # then leaves Nagle's algorithm on, so each keep-alive response waited ~40 ms for the
    # browser's delayed ACK (uvicorn's own --workers sockets have this bug: Kludex/uvicorn#3149)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if share:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise VidexError(f"cannot listen on {host}:{port}: {err.strerror}") from err
    if share:
        sock.listen(2048)
    return sock


def _worker(sock: socket.socket) -> None:
    """One server process on its own socket (see ``_serve_reuseport``)."""
    import uvicorn
    config = uvicorn.Config("videx.web:_app_from_env", factory=True, log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])


def _serve_reuseport(host: str, port: int, workers: int) -> None:
    """``workers`` processes, each accepting on its own SO_REUSEPORT socket, so the kernel
    spreads connections over them evenly by address. (With uvicorn's one shared socket,
    whichever process wakes first takes each new connection: a browser's keep-alive
    connections piled up on one process, measured at 84% of the work on one of two workers,
    while the other core idled.) A worker that dies is started again; SIGTERM or Ctrl-C
    stops them all."""
    import multiprocessing
    import signal
    # another server on the port (even another videx serve, whose sockets would share it
    # with ours) is refused, as a plain bind would be
    _listening_socket(host, port, share=False).close()
    sockets = [_listening_socket(host, port) for _ in range(workers)]
    spawn = multiprocessing.get_context("spawn")
    procs = [spawn.Process(target=_worker, args=(sock,), daemon=True) for sock in sockets]
    stopping = threading.Event()

    def stop(signum, frame):
        stopping.set()
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        for proc in procs:
            proc.start()
        while not stopping.wait(0.5):
            for i, proc in enumerate(procs):
                if not proc.is_alive():                # crashed: start another on its socket
                    procs[i] = spawn.Process(target=_worker, args=(sockets[i],), daemon=True)
                    procs[i].start()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        for proc in procs:
            proc.terminate()                           # uvicorn finishes open requests
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
        for sock in sockets:
            sock.close()
