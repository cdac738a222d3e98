"""The camera owner's upload link, ``/u/TOKEN``: public, no account, no cookie. The token in
the link is the credential (``requests.find_by_token``: wrong, expired and withdrawn links
all get the same "not found" page).

Two ways in, both streamed to disk (memory stays flat for a 2 GB phone video), hashed as
they arrive, then handed to ``videx.intake.accept`` (checked, moved into the evidence store
write-once, probed, catalogued as a clip of the request's camera, the chain of custody
audited):

- a plain multipart form, so the page works without JavaScript and
  ``curl -F file=@clip.mp4 -F name="J. Doe" LINK`` uploads (``Accept: application/json``
  gets the receipt as JSON);
- with JavaScript, resumable uploads by the tus protocol (core 1.0.0 with the ``creation``
  extension; the client is tus-js-client, served by videx): an upload's bytes are kept as
  they arrive, so a dropped connection continues from where it stopped. An upload's state is
  two files in the staging folder (``tus-ID.part`` and ``tus-ID.json``), so any worker of any
  instance can take the next request; a lock on the state file lets one request at a time
  write to an upload.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import functools
import hashlib
import json
import os
import re
import secrets
import time
from pathlib import Path
from urllib.parse import quote

from starlette.requests import ClientDisconnect

from videx import intake
from videx.errors import IntakeError, NotFound, VidexError

TUS_VERSION = "1.0.0"
BATCH_BYTES = 1024 * 1024           # bytes handed to the writing thread at a time
QUEUED_BATCHES = 8                  # batches waiting for it at most (memory stays flat)
FIELD_LIMIT = 2000                  # bytes of a text field (name, start)
UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")


def _raw(fn):
    """A public endpoint: no sign-in; ``fn(web, request)``."""
    fn.raw_route = True
    return fn


def _link(fn):
    """A public endpoint of an upload link: ``fn(web, request, token, req, facts)`` runs only
    for a good link; a wrong, expired or withdrawn one gets the not-found page."""
    @functools.wraps(fn)
    async def route(web, request):
        token = request.path_params["token"]
        req, facts = await web.run_page(_request_for, web, token)
        if req is None:
            return _not_found(web, request)
        return await fn(web, request, token, req, facts)
    return _raw(route)


# ------------------------------------------------------------ the page
def _request_for(web, token: str):
    """The request of a link (None for a wrong, expired or withdrawn one), and the facts its
    page shows."""
    from videx import requests, settings
    with web.catalog_for(None) as cat:
        req = requests.find_by_token(cat, token)
        if req is None:
            return None, None
        facts = {"department": settings.get(cat, "department_name"),
                 "phone": settings.get(cat, "department_phone"),
                 "limit_bytes": intake.max_upload_bytes(cat)}
    return req, facts


def _not_found(web, request):
    from starlette.responses import HTMLResponse
    page = web.env.get_template("upload_missing.html").render()
    return _public(web, HTMLResponse(page, status_code=404))


def _public(web, response):
    """Headers of the public pages: as every page, and no referrer (the link is secret)."""
    web.secure(response)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _page(web, request, token, req, facts, receipts=None, error=None, status=200):
    from starlette.responses import HTMLResponse

    from videx import display
    now = time.time()
    hours = req.hours_left(now)
    ctx = {"req": req, "token": token, "facts": facts, "receipts": receipts, "error": error,
           "deadline": display.deadline_words(hours, "unknown" if hours is None else
                                              "open" if hours > 0 else "lost"),
           "limit": display.size_words(facts["limit_bytes"]),
           "offset": display.clock_offset_words(req.clock_offset_s)}
    return _public(web, HTMLResponse(web.env.get_template("upload.html").render(**ctx),
                                     status_code=status))


@_link
async def upload_page(web, request, token, req, facts):
    return _page(web, request, token, req, facts)


# ------------------------------------------------------------ the plain form (no JavaScript)
class _FormWriter:
    """Multipart callbacks: each file part streamed into its own staging file (hashed as
    written, stopped at the size limit), text fields kept (at most ``FIELD_LIMIT`` bytes)."""

    def __init__(self, cat_staging: Path, limit: int):
        self.staging, self.limit = cat_staging, limit
        self.files: list[dict] = []
        self.fields: dict[str, str] = {}
        self._headers: dict[str, str] = {}
        self._field, self._value = b"", b""
        self._part: dict | None = None

    def callbacks(self) -> dict:
        return {"on_part_begin": self.begin, "on_part_data": self.data,
                "on_part_end": self.end, "on_header_field": self.header_field,
                "on_header_value": self.header_value, "on_header_end": self.header_end,
                "on_headers_finished": self.headers_done}

    def begin(self):
        self._headers, self._part = {}, None

    def header_field(self, data, start, end):
        self._field += data[start:end]

    def header_value(self, data, start, end):
        self._value += data[start:end]

    def header_end(self):
        self._headers[self._field.decode("latin-1").lower()] = bytes(self._value)
        self._field, self._value = b"", b""

    def headers_done(self):
        from python_multipart.multipart import parse_options_header
        try:           # raw bytes: a file name in UTF-8 is not latin-1 text
            _, options = parse_options_header(self._headers.get("content-disposition", b""))
        except ValueError:
            options = {b"name": b"file", b"filename": b"(a name that could not be read)"}
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in options:
            path = self.staging / f"upload-{secrets.token_hex(12)}.part"
            self._part = {"kind": "file", "field": name, "path": path,
                          "file_name": options[b"filename"].decode("utf-8", "replace"),
                          "fh": open(path, "xb"), "sha": hashlib.sha256(), "size": 0}
        else:
            self._part = {"kind": "field", "field": name, "value": bytearray()}

    def data(self, data, start, end):
        part = self._part
        if part is None:
            return
        if part["kind"] == "field":
            room = FIELD_LIMIT - len(part["value"])
            if room > 0:
                part["value"] += data[start:min(end, start + room)]
            return
        chunk = data[start:end]
        part["size"] += len(chunk)
        if part["size"] <= self.limit:
            part["fh"].write(chunk)
            part["sha"].update(chunk)

    def end(self):
        part, self._part = self._part, None
        if part is None:
            return
        if part["kind"] == "field":
            self.fields[part["field"]] = bytes(part["value"]).decode("utf-8", "replace")
            return
        fh = part.pop("fh")
        fh.flush()
        os.fsync(fh.fileno())
        fh.close()
        if part["size"] > self.limit:        # an empty stand-in: accept refuses it by count
            part["path"].write_bytes(b"")
        part["sha"] = part["sha"].hexdigest()
        self.files.append(part)

    def discard(self):
        """Remove every staging file of a request that did not complete."""
        for part in self.files + ([self._part] if self._part else []):
            if part.get("kind") == "file":
                with contextlib.suppress(Exception):
                    if "fh" in part:
                        part["fh"].close()
                part["path"].unlink(missing_ok=True)


async def _stream_form(web, request, staging: Path, limit: int) -> _FormWriter:
    """Parse a multipart body as it arrives. One worker thread parses, hashes and writes
    while the event loop goes on receiving (a few batches of ``BATCH_BYTES`` queued between
    them: memory stays flat, receiving and writing overlap)."""
    import asyncio
    import queue

    from python_multipart.multipart import MultipartParser, parse_options_header
    _, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if not boundary:
        raise ValueError("not a multipart form")
    writer = _FormWriter(staging, limit)
    parser = MultipartParser(boundary, writer.callbacks())
    batches: queue.Queue = queue.Queue(maxsize=QUEUED_BATCHES)
    failed: list[BaseException] = []

    def consume():
        """Parse every batch until the end (None); after an error keep taking batches, so
        the receiving side never waits on a full queue."""
        while (data := batches.get()) is not None:
            if not failed:
                try:
                    parser.write(data)
                except BaseException as err:  # noqa: BLE001 - raised in the handler
                    failed.append(err)
        if not failed:
            parser.finalize()

    async def put(item) -> None:
        try:
            batches.put_nowait(item)
        except queue.Full:
            await web.run_slow(batches.put, item)

    consumer = asyncio.ensure_future(web.run_slow(consume))
    pending: list[bytes] = []
    size = 0
    try:
        try:
            async for chunk in request.stream():
                pending.append(chunk)
                size += len(chunk)
                if size >= BATCH_BYTES:
                    await put(b"".join(pending))
                    pending, size = [], 0
            if pending:
                await put(b"".join(pending))
        finally:
            await put(None)
            await consumer
        if failed:
            raise failed[0]
    except BaseException:
        writer.discard()
        raise
    return writer


def _accept_all(web, request, token, writer: _FormWriter) -> tuple[list, object]:
    """Accept each received file of a form (in order), then e-mail the receipt."""
    from videx import requests
    results = []
    with web.catalog_for(None) as cat:
        req = requests.find_by_token(cat, token)
        for part in writer.files:
            if req is None:                  # withdrawn while the file arrived
                part["path"].unlink(missing_ok=True)
                continue
            results.append(intake.accept(cat, req, part["path"], _meta(
                web, request, part["file_name"], writer.fields, part["size"], part["sha"]),
                hashed_as_written=True))
        if req is not None and results:
            intake.send_receipt(cat, req, intake.receipt_of(results))
    return results, req


def _meta(web, request, file_name, fields, size, sha256=None):
    return intake.UploadMeta(file_name=file_name, stated_name=fields.get("name") or None,
                             client_addr=web.proxies.client(request),
                             user_agent=request.headers.get("user-agent"),
                             start=(fields.get("start") or "").strip() or None,
                             bytes_received=size, sha256=sha256)


@_link
async def upload_form(web, request, token, req, facts):
    """The form's POST (and ``curl -F``): every file received, accepted, and the receipt."""
    from starlette.responses import JSONResponse
    wants_json = "application/json" in request.headers.get("accept", "")
    limit = facts["limit_bytes"]
    try:
        declared = int(request.headers.get("content-length") or 0)
    except ValueError:
        declared = 0
    try:
        if declared > limit + 1024 * 1024:    # more than the limit: refused before reading
            results = await web.run_slow(_refuse_oversize, web, request, token, declared)
        else:
            staging = await web.run_page(_staging, web)
            writer = await _stream_form(web, request, staging, limit)
            if not writer.files:
                return _page(web, request, token, req, facts, error="Choose a video file "
                             "to send, then press Send.", status=400)
            results, _ = await web.run_slow(_accept_all, web, request, token, writer)
    except IntakeError as err:
        message = f"The server could not receive your file: {err}"
        if wants_json:
            return _public(web, JSONResponse({"error": message}, status_code=503))
        return _page(web, request, token, req, facts, error=message, status=503)
    except ValueError:
        return _page(web, request, token, req, facts, error="Send the file with the form on "
                     "this page.", status=400)
    except ClientDisconnect:              # the sender went away: nothing was catalogued
        from starlette.responses import Response
        return Response(status_code=400)
    receipt = intake.receipt_of(results)
    if wants_json:
        return _public(web, JSONResponse(receipt.to_dict(req.zone), status_code=200))
    return _page(web, request, token, req, facts, receipts=receipt.files)


def _staging(web) -> Path:
    with web.catalog_for(None) as cat:
        return intake.staging_dir(cat)


def _refuse_oversize(web, request, token, declared: int) -> list:
    """A body larger than the limit: recorded as refused (oversize) without reading it."""
    from videx import requests
    with web.catalog_for(None) as cat:
        req = requests.find_by_token(cat, token)
        if req is None:
            return []
        path = intake.new_staging_path(cat)
        path.write_bytes(b"")
        return [intake.accept(cat, req, path, _meta(web, request, None, {}, declared))]


# ------------------------------------------------------------ resumable uploads (tus)
def _tus_headers(response, limit: int | None = None):
    response.headers["Tus-Resumable"] = TUS_VERSION
    if limit is not None:
        response.headers["Tus-Version"] = TUS_VERSION
        response.headers["Tus-Extension"] = "creation"
        response.headers["Tus-Max-Size"] = str(limit)
    return response


def _tus_error(web, status: int, message: str):
    from starlette.responses import PlainTextResponse
    return _tus_headers(_public(web, PlainTextResponse(message, status_code=status)))


def _state_paths(staging: Path, upload_id: str) -> tuple[Path, Path]:
    """An upload's state (JSON, replaced whole when it changes) and data files; its lock
    file is the state's name with ``.lock``."""
    if not UPLOAD_ID.match(upload_id):
        raise NotFound("no such upload")
    return staging / f"tus-{upload_id}.json", staging / f"tus-{upload_id}.part"


def _read_state(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        raise NotFound("no such upload") from None


def _write_state(path: Path, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    tmp.replace(path)


def _metadata(header: str) -> dict[str, str]:
    """tus ``Upload-Metadata``: comma-separated ``key base64value`` pairs."""
    out = {}
    for item in header.split(","):
        bits = item.strip().split(" ", 1)
        if not bits[0]:
            continue
        try:
            value = base64.b64decode(bits[1], validate=True).decode("utf-8", "replace") \
                if len(bits) > 1 else ""
        except (ValueError, UnicodeError):
            value = ""
        out[bits[0]] = value[:FIELD_LIMIT]
    return out


@_link
async def tus_options(web, request, token, req, facts):
    from starlette.responses import Response
    return _tus_headers(_public(web, Response(status_code=204)), facts["limit_bytes"])


@_link
async def tus_create(web, request, token, req, facts):
    """Creation: a new upload of ``Upload-Length`` bytes; its URL in ``Location``."""
    from starlette.responses import Response
    try:
        length = int(request.headers.get("upload-length", ""))
    except ValueError:
        return _tus_error(web, 400, "Upload-Length is needed")
    meta = _metadata(request.headers.get("upload-metadata", ""))
    if length < 0:
        return _tus_error(web, 400, "Upload-Length must not be negative")
    if length > facts["limit_bytes"]:
        await web.run_slow(_refuse_oversize, web, request, token, length)
        from videx import display
        return _tus_error(web, 413, f"Not accepted: the file is {display.size_words(length)}"
                          f" and this link takes files up to "
                          f"{display.size_words(facts['limit_bytes'])}.")

    def create():
        with web.catalog_for(None) as cat:
            staging = intake.staging_dir(cat)
            intake.clean_staging(cat)            # uploads abandoned a day ago
        upload_id = secrets.token_urlsafe(16)
        state_path, part = _state_paths(staging, upload_id)
        part.touch(exist_ok=False)
        state_path.with_suffix(".lock").touch()
        _write_state(state_path, {"request_id": req.id, "length": length,
                                  "file_name": meta.get("filename") or meta.get("name"),
                                  "fields": {"name": meta.get("sender", ""),
                                             "start": meta.get("start", "")},
                                  "created_ts": time.time(), "result": None})
        return upload_id
    upload_id = await web.run_slow(create)
    response = Response(status_code=201)
    response.headers["Location"] = f"/u/{quote(token, safe='')}/tus/{upload_id}"
    return _tus_headers(_public(web, response))


def _upload_state(web, token: str, upload_id: str):
    """(the request, the upload's state path, its data path) when the link is good and
    the upload belongs to its request; else NotFound."""
    from videx import requests
    with web.catalog_for(None) as cat:
        req = requests.find_by_token(cat, token)
        staging = intake.staging_dir(cat)
    if req is None:
        raise NotFound("no such link")
    state_path, part = _state_paths(staging, upload_id)
    state = _read_state(state_path)
    if state.get("request_id") != req.id:
        raise NotFound("no such upload")
    return req, state_path, part, state


@_raw
async def tus_head(web, request):
    from starlette.responses import Response
    try:
        _, _, part, state = await web.run_page(
            _upload_state, web, request.path_params["token"], request.path_params["upload"])
    except NotFound:
        return _tus_error(web, 404, "not found")
    response = Response(status_code=200)
    response.headers["Upload-Offset"] = str(part.stat().st_size if part.exists()
                                            else state["length"])
    response.headers["Upload-Length"] = str(state["length"])
    return _tus_headers(_public(web, response))


@_raw
async def tus_patch(web, request):
    """Bytes of an upload, appended at ``Upload-Offset``; the last ones accept the file."""
    from starlette.responses import Response
    token, upload_id = request.path_params["token"], request.path_params["upload"]
    if request.headers.get("content-type") != "application/offset+octet-stream":
        return _tus_error(web, 415, "Content-Type must be application/offset+octet-stream")
    try:
        offset = int(request.headers.get("upload-offset", ""))
        req, state_path, part, state = await web.run_page(_upload_state, web, token,
                                                          upload_id)
    except ValueError:
        return _tus_error(web, 400, "Upload-Offset is needed")
    except NotFound:
        return _tus_error(web, 404, "not found")
    lock = open(state_path.with_suffix(".lock"), "ab")    # never replaced: one lock
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return _tus_error(web, 423, "this upload is being written by another request")
        state = _read_state(state_path)
        if state.get("result") is not None or not part.exists():
            return _tus_error(web, 409, "this upload is complete")
        size = part.stat().st_size
        if offset != size:
            return _tus_error(web, 409, f"Upload-Offset {offset} is not the upload's {size}")
        try:
            written = await _append(web, request, part, state["length"] - size)
        except ClientDisconnect:        # what arrived is kept: the client resumes from it
            return Response(status_code=400)
        if written is None:
            return _tus_error(web, 413, "more bytes than Upload-Length")
        size += written
        if size == state["length"]:
            result = await web.run_slow(_finish, web, request, token, req, state, state_path,
                                        part)
            if result is None:
                return _tus_error(web, 404, "not found")
        response = Response(status_code=204)
        response.headers["Upload-Offset"] = str(size)
        return _tus_headers(_public(web, response))
    finally:
        lock.close()


async def _append(web, request, part: Path, room: int) -> int | None:
    """Append the body to ``part`` as it arrives (whatever arrives is kept, so a cut
    connection resumes from it); the bytes written, None when more than ``room`` came."""
    fh = open(part, "ab")
    written, pending, size = 0, [], 0

    def flush(data: bytes):
        fh.write(data)
        fh.flush()
    try:
        try:
            async for chunk in request.stream():
                if written + size + len(chunk) > room:
                    return None
                pending.append(chunk)
                size += len(chunk)
                if size >= BATCH_BYTES:
                    await web.run_slow(flush, b"".join(pending))
                    written, pending, size = written + size, [], 0
        finally:                                  # keep what came before a dropped connection
            if pending:
                await web.run_slow(flush, b"".join(pending))
                written += size
        return written
    finally:
        fh.close()


def _finish(web, request, token, req, state: dict, state_path: Path, part: Path):
    """All bytes of a tus upload are here: fsync, move to a staging name, accept, and keep
    the receipt in the upload's state (the page reads it)."""
    from videx import requests
    with open(part, "rb+") as fh:
        os.fsync(fh.fileno())
    with web.catalog_for(None) as cat:
        current = requests.find_by_token(cat, token)
        if current is None:
            return None
        staged = intake.new_staging_path(cat)
        os.replace(part, staged)
        result = intake.accept(cat, current, staged, _meta(
            web, request, state.get("file_name"), state.get("fields") or {},
            state["length"]))
        intake.send_receipt(cat, current, intake.receipt_of([result]))
    try:                                 # the file is kept whatever the zone setting says
        zone = current.zone
    except VidexError:
        zone = None
    state["result"] = result.receipt.to_dict(zone)
    _write_state(state_path, state)
    return result


@_raw
async def tus_receipt(web, request):
    """GET on an upload: its receipt once accepted (JSON), for the page's list."""
    from starlette.responses import JSONResponse
    try:
        _, _, _, state = await web.run_page(
            _upload_state, web, request.path_params["token"], request.path_params["upload"])
    except NotFound:
        return _tus_error(web, 404, "not found")
    return _public(web, JSONResponse({"done": state.get("result") is not None,
                                      "receipt": state.get("result")}))


ROUTES = [
    ("/u/{token}", upload_page, None, ["GET"]),
    ("/u/{token}", upload_form, None, ["POST"]),
    ("/u/{token}/tus", tus_options, None, ["OPTIONS"]),
    ("/u/{token}/tus", tus_create, None, ["POST"]),
    ("/u/{token}/tus/{upload}", tus_head, None, ["HEAD"]),
    ("/u/{token}/tus/{upload}", tus_patch, None, ["PATCH"]),
    ("/u/{token}/tus/{upload}", tus_receipt, None, ["GET"]),
]
