"""Requests to private camera owners: records with a code, a window in the owner's own clock,
a deadline, an upload link, and a status history.

The API the command line and the web share (every function takes an open ``Catalog``):

- ``create(cat, incident_id, camera_ids=[...] | all_open=True, ...) -> CreateResult``: one
  request per camera, in one audited write; ``all_open`` takes every registered camera of
  the canvass with no footage catalogued for the window and whose deadline has not passed,
  most urgent first, leaving out cameras that already have an open request.
- ``get(cat, code) -> Request`` (NotFound otherwise), ``list_requests(cat, incident_id=None,
  statuses=None, now=None) -> list[Request]``, ``due(cat, within_s=None) -> list[Request]``
  (open requests across all cases by hours left), ``files(cat, request)`` (what its link
  received), ``history(cat, request)`` (its status entries).
- ``find_by_token(cat, token) -> Request | None``: the request of an upload link, only when
  the token is right, unexpired and not withdrawn (None for all three: the page says the
  same thing for each).
- ``upload_url(cat, request) -> str`` (LinkKeyError / OptionError when the link secret or
  the public address is missing), ``upload_urls(cat, requests) -> (urls, note)`` for
  listings that show the link where they can.
- ``mark(cat, code, status, note)`` (sent by hand, declined, no-footage), ``withdraw(cat,
  code, note)`` (the link stops working at once), ``send(cat, codes)`` and
  ``remind(cat, after_s)`` (by e-mail, ``videx.mail``; each sent message is recorded).

A ``Request`` is a frozen record with everything a letter or a page shows: the window in UTC
(``window_start_ts``/``window_end_ts``, POSIX seconds), in local time (``local_window()``) and
as the owner's camera shows it (``camera_window()``: the instants plus the camera's clock
offset, read in the camera's zone: "your camera's clock shows 22:31-23:16"), the deadline and
``hours_left(now)``, the link's expiry, who made it, and its status: the latest of its
outcome entries (``videx.history``), shown as ``overwritten`` while open after the deadline.

Codes are 8 characters of the Open Location Code alphabet (``23456789CFGHJMPQRVWX``: no 0/O,
1/I/L, no vowels, so nothing misread and no words), printed ``XXXX-XXXX``; read back in any
case, with or without the hyphen or spaces.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from videx import audit, display, links
from videx.canvass import AFTER_S, BEFORE_S, RADIUS_M
from videx.errors import NotFound, OptionError, VidexError
from videx.history import OPEN, RECEIVED, SHOWN
from videx.timeutil import format_local, from_ts, get_zone, iso_utc

ALPHABET = "23456789CFGHJMPQRVWX"
CODE_LENGTH = 8
LINK_DAYS_NO_DEADLINE = 30       # a link's life when the camera's retention is unknown
MARKABLE = ("sent", "declined", "no-footage")
_EMAIL = re.compile(r"[^@\s<>,;:()\[\]\"']+@[^@\s<>,;:()\[\]\"']+\.[A-Za-z]{2,}")


# ------------------------------------------------------------------ codes and wording
def new_code() -> str:
    """A random request code, ``XXXX-XXXX`` (about 35 bits; uniqueness is checked)."""
    chars = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return f"{chars[:4]}-{chars[4:]}"


def normalize_code(text: str) -> str:
    """A code as typed (any case, spaces, hyphens) in its printed form; OptionError when it
    cannot be one."""
    raw = re.sub(r"[\s-]", "", str(text or "")).upper()
    if len(raw) != CODE_LENGTH or any(c not in ALPHABET for c in raw):
        raise OptionError(f"{text!r} is not a request code (8 letters and digits such as "
                          "7QX2-MC9R; see videx requests list)", "code")
    return f"{raw[:4]}-{raw[4:]}"


def deadline_words(hours_left: float | None) -> str:
    """How long until the footage is probably overwritten, in the display model's words
    ("7 d 22 h left", "overdue 3 h", "retention unknown: ask now")."""
    state = "unknown" if hours_left is None else "open" if hours_left > 0 else "lost"
    return display.deadline_words(hours_left, state)


def email_in(contact: str | None) -> str | None:
    """The first e-mail address in a free-text owner contact, or None."""
    m = _EMAIL.search(contact or "")
    return m.group(0) if m else None


# ------------------------------------------------------------------ the record
@dataclass(frozen=True)
class Request:
    """One request for one camera's footage of one incident (see module docstring). Times are
    POSIX seconds UTC; ``clock_offset_s`` is the camera's clock minus true time, seconds."""

    id: int
    code: str
    incident_id: str
    camera_id: str
    camera_name: str | None
    camera_address: str | None
    owner_name: str | None
    owner_contact: str | None
    owner_email: str | None
    window_start_ts: float
    window_end_ts: float
    clock_offset_s: float
    camera_tz: str | None
    display_tz: str | None
    deadline_ts: float | None
    expires_ts: float
    created_at: str
    created_by: str
    acting_as: str | None
    detective: str | None
    detective_contact: str | None
    status: str | None
    status_at: str | None
    status_note: str | None
    token_nonce: str = field(repr=False, default="")
    link_key_id: str = field(repr=False, default="")

    @classmethod
    def from_row(cls, row: dict) -> Request:
        return cls(row["id"], row["code"], row["incident_id"], row["camera_id"],
                   row["camera_name"], row["camera_address"], row["owner_name"],
                   row["owner_contact"], row["owner_email"], row["window_start_ts"],
                   row["window_end_ts"], float(row["clock_offset_s"] or 0.0), row["camera_tz"],
                   row["display_tz"], row["deadline_ts"], row["expires_ts"], row["created_at"],
                   row["created_by"], row["acting_as"], row["detective"],
                   row["detective_contact"], row.get("status"), row.get("status_at"),
                   row.get("status_note"), row["token_nonce"], row["link_key_id"])

    # -------------------------------------------------------- status and time left
    def hours_left(self, now_ts: float | None = None) -> float | None:
        """Hours until the deadline (negative once passed), None when retention is unknown."""
        if self.deadline_ts is None:
            return None
        return round((self.deadline_ts - _now(now_ts)) / 3600.0, 1)

    def is_open(self) -> bool:
        """Still waiting for the owner (drafted, sent, reminded or requested)."""
        return self.status in OPEN

    def shown_status(self, now_ts: float | None = None) -> str:
        """The status as shown: ``overwritten`` for an open request past its deadline."""
        if self.is_open() and self.deadline_ts is not None and self.deadline_ts <= _now(now_ts):
            return "overwritten"
        return self.status or "drafted"

    def link_usable(self, now_ts: float | None = None) -> bool:
        """Whether the upload link works now: not expired and the request not withdrawn."""
        return self.status != "withdrawn" and _now(now_ts) < self.expires_ts

    # -------------------------------------------------------- the window, three ways
    @property
    def zone(self) -> ZoneInfo:
        """The zone local times are shown in (the catalog's when the request was made)."""
        return get_zone(self.display_tz) if self.display_tz else ZoneInfo("UTC")

    @property
    def camera_zone(self) -> ZoneInfo:
        """The zone the camera's clock shows (the camera's own, else the catalog's)."""
        return get_zone(self.camera_tz) if self.camera_tz else self.zone

    def camera_window(self) -> tuple[datetime, datetime]:
        """The window as the owner's camera shows it: wall-clock times (naive datetimes) of
        the true window plus the camera's clock offset, in the camera's zone."""
        return tuple(from_ts(t + self.clock_offset_s).astimezone(self.camera_zone)
                     .replace(tzinfo=None) for t in (self.window_start_ts, self.window_end_ts))

    def camera_window_text(self) -> str:
        """"2023-05-01 14:00 to 14:45" as the camera shows it (no zone: it is the camera's
        clock, right or wrong)."""
        a, b = self.camera_window()
        return _span(a, b)

    def local_window_text(self) -> str:
        """The true window in local time with the zone: "2023-05-01 14:00 to 14:45 EDT"."""
        a, b = (from_ts(t).astimezone(self.zone) for t in (self.window_start_ts,
                                                            self.window_end_ts))
        return f"{_span(a.replace(tzinfo=None), b.replace(tzinfo=None))} {b:%Z}"

    def to_dict(self, now_ts: float | None = None, upload_url: str | None = None) -> dict:
        now_ts = _now(now_ts)
        hours = self.hours_left(now_ts)
        return {
            "code": self.code, "incident_id": self.incident_id, "camera_id": self.camera_id,
            "camera_name": self.camera_name, "camera_address": self.camera_address,
            "owner_name": self.owner_name, "owner_contact": self.owner_contact,
            "owner_email": self.owner_email,
            "status": self.shown_status(now_ts), "status_recorded": self.status,
            "status_at": self.status_at,
            "window": {"start": iso_utc(self.window_start_ts), "end": iso_utc(self.window_end_ts),
                       "local": self.local_window_text(),
                       "camera_clock": self.camera_window_text(),
                       "clock_offset_s": self.clock_offset_s},
            "deadline": iso_utc(self.deadline_ts),
            "deadline_local": format_local(self.deadline_ts, self.zone) or None,
            "hours_left": hours, "deadline_words": deadline_words(hours),
            "link_expires": iso_utc(self.expires_ts), "link_usable": self.link_usable(now_ts),
            "upload_url": upload_url, "detective": self.detective,
            "detective_contact": self.detective_contact, "created_at": self.created_at,
            "created_by": self.created_by, "acting_as": self.acting_as}


def _now(now_ts: float | None) -> float:
    return time.time() if now_ts is None else now_ts


def _span(a: datetime, b: datetime) -> str:
    """"2023-05-01 14:00 to 14:45" (seconds shown when either has them; the end's date when
    it differs)."""
    fmt = "%H:%M:%S" if a.second or b.second else "%H:%M"
    end = f"{b:%Y-%m-%d} {b.strftime(fmt)}" if b.date() != a.date() else b.strftime(fmt)
    return f"{a:%Y-%m-%d} {a.strftime(fmt)} to {end}"


# ------------------------------------------------------------------ reading
def get(cat, code: str) -> Request:
    """The request with ``code`` (as typed), or NotFound."""
    code = normalize_code(code)
    row = cat.requests.by_code(code)
    if row is None:
        raise NotFound(f"no request {code} in the catalog (see videx requests list)")
    return Request.from_row(row)


def list_requests(cat, incident_id: str | None = None, statuses=None,
                  now: float | None = None) -> list[Request]:
    """Requests (of one incident), oldest first, kept when their shown status is one of
    ``statuses`` (any when None)."""
    if incident_id is not None:
        cat.incidents.require(incident_id)
    for s in statuses or ():
        if s not in SHOWN:
            raise OptionError(f"unknown status {s!r} (one of {', '.join(SHOWN)})", "status")
    now_ts = _now(now)
    out = [Request.from_row(r) for r in cat.requests.list(incident_id)]
    return [r for r in out if not statuses or r.shown_status(now_ts) in statuses]


def due(cat, within_s: float | None = None, now: float | None = None) -> list[Request]:
    """Open requests across all cases, fewest hours left first (overdue ones first of all:
    the owner may still have the footage). With ``within_s``, only those due within that many
    seconds (unknown deadlines left out); without, those with unknown deadlines come last."""
    now_ts = _now(now)
    out = [r for r in list_requests(cat, now=now_ts) if r.is_open()]
    if within_s is not None:
        out = [r for r in out if r.deadline_ts is not None
               and r.deadline_ts - now_ts <= within_s]
    return sorted(out, key=lambda r: (r.deadline_ts is None, r.deadline_ts or 0.0, r.code))


def find_by_token(cat, token: str, now: float | None = None) -> Request | None:
    """The request an upload link's token opens: only when the token is right, the link has
    not expired and the request was not withdrawn; None for each of these (say the same
    thing for all)."""
    if not links.well_formed(token):
        return None
    row = cat.requests.by_token_hash(links.token_hash(token))
    if row is None:
        return None
    req = Request.from_row(row)
    return req if req.link_usable(now) else None


def files(cat, request: Request) -> list[dict]:
    """What a request's link (or a detective, in person) handed in, oldest first."""
    return cat.requests.files(request.id)


def history(cat, request: Request) -> list[dict]:
    """A request's status entries, oldest first."""
    return cat.requests.status_entries(request.id)


# ------------------------------------------------------------------ links
def token_of(key: links.LinkKey, request: Request) -> str:
    """The upload token of ``request`` (needs the link secret it was made with)."""
    if key.key_id != request.link_key_id:
        raise links.LinkKeyError(f"request {request.code}'s link was made with key "
                                 f"{request.link_key_id}, not {key.key_id} ({key.path}): set "
                                 f"{links.KEY_ENV} to that key file")
    return links.derive_token(key, request.code, request.token_nonce)


def public_url(cat) -> str:
    """The catalog's public address, or OptionError saying how to set it."""
    url = cat.setting(links.URL_SETTING)
    if not url:
        raise OptionError("no public address for upload links: set it with videx init "
                          "--public-url https://...", "public_url")
    return url


def upload_url(cat, request: Request, key: links.LinkKey | None = None) -> str:
    """``PUBLIC_URL/u/TOKEN`` of a request (LinkKeyError / OptionError when it cannot be
    made: no link secret, or no public address)."""
    return links.upload_url(public_url(cat), token_of(key or links.catalog_key(cat), request))


def upload_urls(cat, requests: list[Request], now: float | None = None
                ) -> tuple[dict[str, str | None], str | None]:
    """({code: upload link or None}, why links are missing or None): for listings, which
    show the links they can and say once why not. A link that no longer works (withdrawn,
    expired) is None: nobody should send it on."""
    usable = [r for r in requests if r.link_usable(now)]
    out: dict[str, str | None] = {r.code: None for r in requests}
    if not usable:
        return out, None
    try:
        base, key = public_url(cat), links.catalog_key(cat)
    except (links.LinkKeyError, OptionError) as err:
        return out, f"upload links not shown: {err}"
    note = None
    for r in usable:
        try:
            out[r.code] = links.upload_url(base, token_of(key, r))
        except links.LinkKeyError as err:
            out[r.code], note = None, f"upload links not shown: {err}"
    return out, note


# ------------------------------------------------------------------ creating
@dataclass(frozen=True)
class CreateResult:
    """Requests made (most urgent first), cameras left out with the reason, and warnings."""

    incident_id: str
    created: tuple[Request, ...]
    skipped: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()
    explicit: bool = True          # cameras were named (a skipped one is a partial failure)

    def summary(self) -> str:
        text = f"{self.incident_id}: {len(self.created)} request(s) made"
        if self.skipped:
            text += f", {len(self.skipped)} camera(s) left out"
        return text


def create(cat, incident_id: str, camera_ids: list[str] | None = None, all_open: bool = False,
           radius_m: float = RADIUS_M, before_s: float = BEFORE_S, after_s: float = AFTER_S,
           detective: str | None = None, detective_contact: str | None = None,
           link_days: float | None = None, now: float | None = None) -> CreateResult:
    """Make one request per camera for an incident (see module docstring), in one audited
    write. Window sides in seconds, radius in metres; ``link_days``: how long the link works
    after the deadline (default: the ``link_days_after_deadline`` setting)."""
    from videx import canvass, settings
    if bool(camera_ids) == bool(all_open):
        raise OptionError("name the cameras, or ask for every open one (not both)", "camera")
    canvass.check_window(radius_m, before_s, after_s)
    key = links.catalog_key(cat)
    inc = canvass.Incident.from_row(cat.incidents.require(incident_id))
    now_ts = _now(now)
    t0, t1 = canvass.window(inc, before_s, after_s)
    days = float(link_days if link_days is not None
                 else settings.get(cat, "link_days_after_deadline"))
    if not 0 < days <= 366:
        raise OptionError("a link must work for more than 0 and at most 366 days after the "
                          "deadline", "link_days")
    skipped: list[tuple[str, str]] = []
    notes: list[str] = []
    open_for = {r.camera_id: r for r in list_requests(cat, incident_id) if r.is_open()}
    if all_open:
        result = canvass.canvass_incident(cat, inc, radius_m, before_s, after_s,
                                          now=from_ts(now_ts), record=False)
        chosen = []
        for hit in result.request_list():
            if hit.integration != "registered":
                continue
            if hit.camera_id in open_for:
                skipped.append((hit.camera_id, f"already requested "
                                               f"({open_for[hit.camera_id].code})"))
                continue
            chosen.append(cat.cameras.require(hit.camera_id))
    else:
        chosen = []
        for cid in dict.fromkeys(camera_ids):
            cam = cat.cameras.require(cid)
            if cid in open_for:
                skipped.append((cid, f"has an open request ({open_for[cid].code}) for this "
                                     "incident: withdraw it first to make a new one"))
                continue
            chosen.append(cam)

    def deadline_of(cam: dict) -> float | None:
        days_kept = cam.get("retention_days")
        return None if days_kept is None else inc.occurred_ts + float(days_kept) * 86400.0

    chosen.sort(key=lambda c: (deadline_of(c) is None, deadline_of(c) or 0.0, c["id"]))
    for cam in chosen:
        d = deadline_of(cam)
        if d is not None and d <= now_ts and not all_open:
            notes.append(f"{cam['id']}: the deadline passed "
                         f"{deadline_words((d - now_ts) / 3600).removeprefix('overdue ')} ago "
                         "(footage probably overwritten); requested anyway")
    if not chosen:
        return CreateResult(incident_id, (), tuple(skipped), tuple(notes), not all_open)
    zone_name = cat.zone_name
    created_at = iso_utc(now_ts)
    rows = []
    with cat.write("requests create", {"cameras": [c["id"] for c in chosen],
                                       "all_open": all_open, "radius_m": radius_m,
                                       "before_s": before_s, "after_s": after_s},
                   case_no=incident_id) as tx:
        for cam in chosen:
            code = new_code()
            while cat.requests.code_taken(code):
                code = new_code()
            nonce = links.new_nonce()
            deadline = deadline_of(cam)
            expires = (max(deadline, now_ts) + days * 86400.0 if deadline is not None
                       else now_ts + LINK_DAYS_NO_DEADLINE * 86400.0)
            row = {"code": code, "incident_id": incident_id, "camera_id": cam["id"],
                   "camera_name": cam["name"], "camera_address": cam["address"],
                   "owner_name": cam["owner_name"], "owner_contact": cam["owner_contact"],
                   "owner_email": email_in(cam["owner_contact"]),
                   "window_start": iso_utc(t0), "window_start_ts": t0,
                   "window_end": iso_utc(t1), "window_end_ts": t1,
                   "clock_offset_s": float(cam["clock_offset_s"] or 0.0),
                   "camera_tz": cam.get("tz") or zone_name, "display_tz": zone_name,
                   "deadline": iso_utc(deadline), "deadline_ts": deadline,
                   "expires_at": iso_utc(expires), "expires_ts": expires,
                   "token_sha256": links.token_hash(links.derive_token(key, code, nonce)),
                   "token_nonce": nonce, "link_key_id": key.key_id,
                   "detective": detective or cat.actor or audit.os_user(),
                   "detective_contact": detective_contact, "created_at": created_at,
                   "created_by": audit.os_user(), "acting_as": cat.actor}
            row["id"] = cat.requests.insert(row)
            _add_status(cat, row, "drafted", f"request {code} made")
            rows.append(row)
        tx.args["codes"] = [r["code"] for r in rows]
    made = tuple(get(cat, r["code"]) for r in rows)
    return CreateResult(incident_id, made, tuple(skipped), tuple(notes), not all_open)


def _add_status(cat, req: dict | Request, status: str, note: str | None) -> None:
    """Append a status entry for a request (inside the open write transaction)."""
    get_ = req.get if isinstance(req, dict) else lambda k: getattr(req, k)
    cat.history.add_outcome({
        "incident_id": get_("incident_id"), "camera_id": get_("camera_id"), "status": status,
        "note": note, "recorded_at": iso_utc(time.time()), "recorded_by": audit.os_user(),
        "acting_as": cat.actor, "request_id": get_("id")})


# ------------------------------------------------------------------ status changes
def mark(cat, code: str, status: str, note: str | None = None) -> Request:
    """Record what happened by hand: ``sent`` (delivered by hand or post), ``declined`` or
    ``no-footage``."""
    if status not in MARKABLE:
        raise OptionError(f"a request can be marked {', '.join(MARKABLE)} (uploads are "
                          "recorded when files arrive; withdraw with videx requests withdraw)",
                          "status")
    req = get(cat, code)
    with cat.write("requests mark", {"code": req.code, "status": status, "note": note},
                   case_no=req.incident_id):
        _check_not_withdrawn(cat, req)
        _add_status(cat, req, status, note)
    return get(cat, req.code)


def withdraw(cat, code: str, note: str | None = None) -> Request:
    """Withdraw a request: its upload link stops working at once, for good."""
    req = get(cat, code)
    with cat.write("requests withdraw", {"code": req.code, "note": note},
                   case_no=req.incident_id):
        _check_not_withdrawn(cat, req)
        _add_status(cat, req, "withdrawn", note)
    return get(cat, req.code)


def _check_not_withdrawn(cat, req: Request) -> None:
    if cat.requests.latest_status(req.id) == "withdrawn":
        raise VidexError(f"request {req.code} was withdrawn; make a new request instead")


# ------------------------------------------------------------------ e-mail
@dataclass(frozen=True)
class SendReport:
    """Messages sent (request codes) and those that were not, with the reason."""

    kind: str                                    # "letter" or "reminder"
    sent: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()
    would_send: tuple[str, ...] = ()             # a dry run's list

    def summary(self) -> str:
        if self.would_send:
            return f"{len(self.would_send)} {self.kind}(s) would be sent (dry run)"
        return f"{len(self.sent)} {self.kind}(s) sent, {len(self.failed)} not sent"


def send(cat, codes: list[str], again: bool = False, now: float | None = None) -> SendReport:
    """E-mail the letter of each request to its owner through the configured SMTP server and
    record each one sent (status ``sent``, audited with the recipient and the server, never a
    password). MailError before anything is sent when no server is configured; requests that
    cannot be sent (no e-mail address, closed, already sent without ``again``) are reported,
    the others sent."""
    from videx import letters, mail
    config = mail.config(cat)                 # MailError when there is none: nothing changes
    reqs = [get(cat, c) for c in dict.fromkeys(codes)]
    now_ts = _now(now)
    failed, ready = [], []
    for r in reqs:
        why = _cannot_send(r, now_ts, again)
        if why:
            failed.append((r.code, why))
        else:
            ready.append(r)
    key = links.catalog_key(cat) if ready else None
    messages = [(r, letters.letter_email(cat, r, upload_url(cat, r, key), now_ts))
                for r in ready]
    return _deliver(cat, config, messages, "letter", "sent", failed)


def _cannot_send(r: Request, now_ts: float, again: bool, reminder: bool = False) -> str | None:
    if not r.is_open():
        return f"the request is {r.shown_status(now_ts)}: nothing to send"
    if not r.link_usable(now_ts):
        return "its upload link has expired: make a new request"
    if not r.owner_email:
        return ("the owner's contact has no e-mail address: print the letter (videx requests "
                "letter), deliver it, then record it with videx requests mark CODE sent")
    if not reminder and r.status != "drafted" and not again:
        return f"already {r.status} ({r.status_at}): send a reminder, or pass --again"
    return None


def remind(cat, after_s: float = 86400.0, dry_run: bool = False,
           now: float | None = None) -> SendReport:
    """E-mail a reminder for every request sent (or reminded) at least ``after_s`` seconds
    ago with nothing received, whose deadline has not passed and whose link still works;
    record each (status ``reminded``). ``dry_run`` lists them and sends nothing."""
    from videx import letters, mail
    now_ts = _now(now)
    candidates = []
    for r in list_requests(cat, now=now_ts):
        if r.status not in ("sent", "reminded", "requested"):
            continue
        if r.shown_status(now_ts) == "overwritten" or not r.link_usable(now_ts):
            continue
        if _age_s(r.status_at, now_ts) < after_s:
            continue
        candidates.append(r)
    if dry_run:
        return SendReport("reminder", would_send=tuple(r.code for r in candidates))
    if not candidates:
        return SendReport("reminder")
    config = mail.config(cat)               # MailError when there is none: nothing changes
    failed, ready = [], []
    for r in candidates:
        why = _cannot_send(r, now_ts, True, reminder=True)
        (failed.append((r.code, why)) if why else ready.append(r))
    key = links.catalog_key(cat) if ready else None
    messages = [(r, letters.reminder_email(cat, r, upload_url(cat, r, key), now_ts))
                for r in ready]
    return _deliver(cat, config, messages, "reminder", "reminded", failed)


def _age_s(stamp: str | None, now_ts: float) -> float:
    if not stamp:
        return float("inf")
    from videx.timeutil import parse_instant
    return now_ts - parse_instant(stamp).timestamp()


def _deliver(cat, config, messages, kind: str, status: str, failed: list) -> SendReport:
    """Send ``messages`` ((request, EmailMessage)) on one connection; record each sent."""
    from videx import mail
    sent = []
    if messages:
        for (req, msg), error in zip(messages, mail.send_all(config, [m for _, m in messages])):
            if error:
                failed.append((req.code, error))
                continue
            with cat.write(f"requests {'send' if kind == 'letter' else 'remind'}",
                           {"code": req.code, "to": req.owner_email,
                            "smtp": config.describe(), "message_id": msg["Message-ID"]},
                           case_no=req.incident_id):
                _add_status(cat, req, status, f"{kind} e-mailed to {req.owner_email}")
            sent.append(req.code)
    return SendReport(kind, tuple(sent), tuple(failed))


STATUS_ORDER = {s: i for i, s in enumerate(SHOWN)}
__all__ = ["Request", "CreateResult", "SendReport", "create", "get", "list_requests", "due",
           "find_by_token", "files", "history", "upload_url", "upload_urls", "mark", "withdraw",
           "send", "remind", "deadline_words", "normalize_code", "RECEIVED"]
