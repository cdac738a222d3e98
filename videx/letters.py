"""What a camera owner reads: the letter (a printable page and an e-mail), the reminder and
the receipt for what they sent.

Every text comes from the request (``videx.requests.Request``) and the department's settings
(``videx.settings``: name, address, phone, e-mail, the sentence about the case, the closing
line); nothing about the case beyond its number and what the department chose to say. Every
value is escaped where it lands (HTML text, e-mail headers): an owner name such as
``<script>`` prints as those characters.

- ``letter_html(cat, request, url)``: one printable page (A4 or Letter; the print stylesheet
  keeps it to one sheet) with the upload link and its QR code as inline SVG (``segno``, made
  here, no network);
- ``letter_email(cat, request, url)`` / ``reminder_email(...)``: ``EmailMessage`` with a
  plain-text part, an HTML part and the QR code as an inline PNG;
- ``receipt_email(cat, request, receipt)``: the list of files received, with size, SHA-256
  and time received;
- ``write_letter(cat, code, outs)``: ``videx requests letter`` (``.html``/``.htm`` and
  ``.eml`` by suffix).
"""

from __future__ import annotations

import html
import io
import re
import time
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from videx import settings
from videx.errors import OptionError, VidexError
from videx.timeutil import format_local, from_ts

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
LETTER_SUFFIXES = {".html": "html", ".htm": "html", ".eml": "eml"}


def one_line(text: str | None) -> str:
    """Text safe for one line (an e-mail header, a plain-text line): control and direction
    characters become spaces."""
    return _CONTROL.sub(" ", text or "").strip()


def _e(text) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def qr_svg(url: str) -> str:
    """The QR code of ``url`` as an inline ``<svg>`` element (error correction M, the quiet
    zone of four modules the standard asks for: some readers fail with less)."""
    import segno
    return segno.make(url, error="m", micro=False).svg_inline(
        scale=4, border=4, omitsize=True, title="upload link", svgclass="qr")


def qr_png(url: str) -> bytes:
    """The QR code of ``url`` as PNG bytes (for e-mail, where SVG is not shown)."""
    import segno
    buf = io.BytesIO()
    segno.make(url, error="m", micro=False).save(buf, kind="png", scale=6, border=4)
    return buf.getvalue()


def facts(cat, req, url: str, now_ts: float | None = None) -> dict:
    """The letter's content as plain text, once, for every rendering."""
    from videx.display import clock_offset_words
    from videx.requests import deadline_words
    now_ts = time.time() if now_ts is None else now_ts
    dept = {k: settings.get(cat, f"department_{k}") for k in ("name", "address", "phone",
                                                                "email")}
    hours = req.hours_left(now_ts)
    if req.deadline_ts is None:
        deadline = ("Please send it as soon as you can: many cameras record over their video "
                    "within days.")
    elif hours is not None and hours < 0:
        deadline = ("Please send it as soon as you can: your camera may already have recorded "
                    "over it, but it may still be there.")
    else:
        deadline = (f"Please send it before {format_local(req.deadline_ts, req.zone)} "
                    f"({deadline_words(hours)}). After that your camera will probably "
                    "record over it.")
    contact = req.detective_contact or " · ".join(x for x in (dept["phone"], dept["email"])
                                                  if x)
    return {
        "code": req.code, "case": req.incident_id, "date": f"{from_ts(now_ts).astimezone(req.zone):%Y-%m-%d}",
        "owner": req.owner_name or "Camera owner", "camera": req.camera_name or req.camera_id,
        "address": req.camera_address or "", "camera_window": req.camera_window_text(),
        "local_window": req.local_window_text(), "offset": clock_offset_words(req.clock_offset_s),
        "deadline": deadline, "hours_left": hours,
        "expires": format_local(req.expires_ts, req.zone), "url": url,
        "reason": settings.get(cat, "letter_reason"),
        "closing": settings.get(cat, "letter_closing"), "detective": req.detective or "",
        "contact": contact, "dept": dept}


def _text_body(f: dict, reminder: bool = False) -> str:
    lines = [f"Dear {one_line(f['owner'])},", ""]
    if reminder:
        lines += [f"A reminder of our request {f['code']}: we have not received the video "
                  "yet, and it may soon be recorded over.", ""]
    lines += [one_line(f["reason"]) + f" (case {one_line(f['case'])}, request {f['code']}).",
              "Please keep the video your camera recorded at the times below and send it to "
              "us.", "",
              "WHAT TO KEEP",
              f"  Camera: {one_line(f['camera'])}" + (f", {one_line(f['address'])}"
                                                      if f["address"] else ""),
              f"  Your camera's clock shows: {f['camera_window']}",
              f"  (Local time: {f['local_window']}"
              + (f"; your camera's clock {f['offset']})" if f["offset"] else ")"), "",
              f["deadline"], "",
              "HOW TO SEND IT",
              "  Open this link on a phone or computer, choose the video file(s) and press "
              "Send (no account needed):",
              f"  {f['url']}",
              f"  The link works until {f['expires']} and is for this request only.", "",
              f"Questions: {one_line(f['detective'])}"
              + (f", {one_line(f['contact'])}" if f["contact"] else "")
              + f". Please quote request {f['code']}.", "",
              one_line(f["closing"]), one_line(f["detective"]), one_line(f["dept"]["name"])]
    lines += [one_line(x) for x in (f["dept"]["address"] or "").splitlines() if x.strip()]
    return "\n".join(lines).rstrip() + "\n"


STYLE = """
@page { size: auto; margin: 14mm 16mm; }
* { box-sizing: border-box; }
body { font: 10.5pt/1.38 "DejaVu Sans", Arial, sans-serif; color: #000; margin: 0 auto;
       max-width: 178mm; padding: 8mm 0; }
header { display: flex; justify-content: space-between; align-items: flex-start;
         border-bottom: 2px solid #000; padding-bottom: 3mm; margin-bottom: 4mm; }
header .dept { font-weight: bold; font-size: 13pt; }
header .addr, .meta { font-size: 9pt; white-space: pre-line; }
.meta { text-align: right; }
h1 { font-size: 15pt; margin: 3mm 0 2mm; }
.box { border: 1.5px solid #000; border-radius: 2mm; padding: 3mm 4mm; margin: 3mm 0; }
.box h2 { font-size: 11pt; margin: 0 0 1.5mm; text-transform: uppercase; letter-spacing: .03em; }
.clock { font-size: 14pt; font-weight: bold; margin: 1mm 0; }
.send { display: flex; gap: 4mm; align-items: center; }
.send svg { width: 38mm; height: 38mm; flex: none; }
.url { font-family: "DejaVu Sans Mono", monospace; font-size: 9pt; word-break: break-all; }
.deadline { font-weight: bold; }
footer { margin-top: 4mm; font-size: 9.5pt; }
p { margin: 1.5mm 0; }
@media print { body { padding: 0; } }
"""


def _html(f: dict, qr: str, reminder: bool = False) -> str:
    """The letter as an HTML page; ``qr`` is the QR code's markup (inline SVG, or an <img>)."""
    d = f["dept"]
    dept_lines = "\n".join(_e(x) for x in (d["address"] or "").splitlines() if x.strip())
    dept_contact = " · ".join(_e(x) for x in (d["phone"], d["email"]) if x)
    title = ("Reminder: please keep the video from your camera" if reminder
             else "Please keep the video from your camera")
    offset = (f"<p>Your camera's clock {_e(f['offset'])}; the times above are as your camera "
              "shows them.</p>" if f["offset"] else "")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)} · request {_e(f['code'])}</title>
<style>{STYLE}</style></head>
<body>
<header><div><div class="dept">{_e(d['name'])}</div><div class="addr">{dept_lines}
{dept_contact}</div></div>
<div class="meta">Request <strong>{_e(f['code'])}</strong>
Case {_e(f['case'])}
{_e(f['date'])}</div></header>
<p>To: <strong>{_e(f['owner'])}</strong>{(', ' + _e(f['address'])) if f['address'] else ''}</p>
<h1>{_e(title)}</h1>
<p>{_e(f['reason'])} Please keep the video your camera recorded at the times below and send
it to us.</p>
<section class="box"><h2>What to keep</h2>
<p>Camera: <strong>{_e(f['camera'])}</strong>{(', ' + _e(f['address'])) if f['address'] else ''}</p>
<p>Your camera's clock shows:</p>
<p class="clock">{_e(f['camera_window'])}</p>
<p>Local time: {_e(f['local_window'])}</p>{offset}
<p class="deadline">{_e(f['deadline'])}</p></section>
<section class="box"><h2>How to send it</h2><div class="send">{qr}<div>
<p>Scan the code with your phone's camera, or open this link on a phone or computer, choose
the video file(s) and press Send. No account is needed.</p>
<p class="url">{_e(f['url'])}</p>
<p>The link works until {_e(f['expires'])} and is for this request only: please do not share
it. If you cannot use it, contact us and we will collect the video.</p></div></div></section>
<footer><p>Questions: <strong>{_e(f['detective'])}</strong>{(', ' + _e(f['contact'])) if f['contact'] else ''}.
Please quote request <strong>{_e(f['code'])}</strong>.</p>
<p>{_e(f['closing'])}</p><p>{_e(f['detective'])}<br>{_e(d['name'])}</p></footer>
</body></html>
"""


def letter_html(cat, req, url: str, now_ts: float | None = None) -> str:
    """The printable letter (one page, QR code inline)."""
    return _html(facts(cat, req, url, now_ts), qr_svg(url))


def _address(name: str | None, email: str) -> Address:
    user, _, domain = email.partition("@")
    return Address(display_name=one_line(name)[:120], username=user, domain=domain)


def _message(cat, req, subject: str, to_name: str | None, to_email: str | None) -> EmailMessage:
    dept_email = settings.get(cat, "department_email")
    if not dept_email:
        raise VidexError("the department has no e-mail address to send from: set it with "
                         "videx settings set department_email ADDRESS")
    msg = EmailMessage()
    msg["Subject"] = one_line(subject)
    msg["From"] = _address(settings.get(cat, "department_name"), dept_email)
    if to_email:
        msg["To"] = _address(to_name, to_email)
    from videx.requests import email_in
    reply = email_in(req.detective_contact)
    if reply:
        msg["Reply-To"] = _address(req.detective, reply)
    msg["Date"] = format_datetime(from_ts(time.time()))
    msg["Message-ID"] = make_msgid("videx", domain=dept_email.partition("@")[2])
    msg["X-Videx-Request"] = req.code
    return msg


def _with_qr(msg: EmailMessage, f: dict, reminder: bool) -> EmailMessage:
    msg.set_content(_text_body(f, reminder))
    cid = make_msgid("qr")
    msg.add_alternative(_html(f, f'<img src="cid:{cid[1:-1]}" width="136" height="136" '
                               'alt="QR code of the upload link">', reminder), subtype="html")
    msg.get_payload()[1].add_related(qr_png(f["url"]), "image", "png", cid=cid,
                                     filename="upload-link-qr.png")
    return msg


def letter_email(cat, req, url: str, now_ts: float | None = None) -> EmailMessage:
    """The letter as an e-mail to the owner (text, HTML and the QR code inline)."""
    f = facts(cat, req, url, now_ts)
    msg = _message(cat, req, f"Please keep your camera's video: request {req.code}",
                   req.owner_name, req.owner_email)
    return _with_qr(msg, f, reminder=False)


def reminder_email(cat, req, url: str, now_ts: float | None = None) -> EmailMessage:
    """A reminder of a request, to the owner."""
    f = facts(cat, req, url, now_ts)
    msg = _message(cat, req, f"Reminder: please keep your camera's video: request {req.code}",
                   req.owner_name, req.owner_email)
    return _with_qr(msg, f, reminder=True)


def receipt_text(req, receipt) -> str:
    """The receipt as plain text: each file, its size, SHA-256, time received and result."""
    lines = [f"Receipt for request {req.code}", ""]
    for item in receipt.files:
        lines += [f"File: {one_line(item.file_name) or '(no name)'}",
                  f"  Received: {format_local(item.received_ts, req.zone)}",
                  f"  Size: {item.size_bytes} bytes",
                  f"  SHA-256: {item.sha256 or '-'}",
                  f"  Result: {item.message}", ""]
    lines.append("The SHA-256 is a fingerprint of the file: any change to the file changes it.")
    return "\n".join(lines) + "\n"


def receipt_email(cat, req, receipt) -> EmailMessage:
    """The receipt, by e-mail to the owner's address on the request."""
    msg = _message(cat, req, f"We received your video: request {req.code}", req.owner_name,
                   req.owner_email)
    msg.set_content(receipt_text(req, receipt))
    return msg


def write_letter(cat, code: str, outs: list[str], now_ts: float | None = None) -> list[str]:
    """Write a request's letter to each of ``outs`` (``.html``/``.htm``: the printable page;
    ``.eml``: the e-mail); refuses an existing file. Returns the paths written."""
    from videx import requests
    kinds = []
    for out in outs:
        kind = LETTER_SUFFIXES.get(Path(out).suffix.lower())
        if kind is None:
            raise OptionError(f"{out}: the letter is written as .html (to print) or .eml (an "
                              "e-mail); give a file name ending in one of these", "out")
        if Path(out).exists():
            raise OptionError(f"{out} exists: a letter is never written over a file", "out")
        kinds.append(kind)
    req = requests.get(cat, code)
    if not req.link_usable():
        raise VidexError(f"request {req.code} is {req.shown_status()} and its upload link "
                         "no longer works: no letter for it (make a new request)")
    url = requests.upload_url(cat, req)
    contents = [letter_html(cat, req, url, now_ts).encode("utf-8") if kind == "html"
                else bytes(letter_email(cat, req, url, now_ts)) for kind in kinds]
    written = []
    for out, data in zip(outs, contents):          # everything made first: all or nothing
        with open(out, "xb") as fh:
            fh.write(data)
        written.append(out)
    return written
