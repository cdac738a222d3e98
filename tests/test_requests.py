"""Requests to camera owners: records, codes, upload links, the letter, and e-mail through a
real SMTP server (aiosmtpd, in-process, with STARTTLS and a password)."""

from __future__ import annotations

import email
import json
import re
import socket
import ssl
import subprocess
from datetime import datetime, timedelta
from email import policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from conftest import DEMO_ID, edit
from videx import links, requests
from videx.history import OPEN

NY = ZoneInfo("America/New_York")
PUBLIC = "https://videx.example.org"
PASSWORD = "s3cret-PASS-9876"
CODE_RE = re.compile(r"^[23456789CFGHJMPQRVWX]{4}-[23456789CFGHJMPQRVWX]{4}$")


def recent_moment() -> datetime:
    """22:45:00 local, three days ago: every fixture camera's deadline is still ahead."""
    day = (datetime.now(NY) - timedelta(days=3)).date()
    return datetime(day.year, day.month, day.day, 22, 45, tzinfo=NY)


@pytest.fixture
def requesting(city, run, tmp_path, monkeypatch):
    """The city catalog, ready for requests: a recent shooting NOW-1 at the demo corner, a
    public address, a link secret (in this test's folder), an evidence store, and the
    department's name and e-mail."""
    monkeypatch.setenv("VIDEX_LINK_KEY", str(tmp_path / "link.key"))
    moment = recent_moment()
    (tmp_path / "recent.csv").write_text(
        "id,occurred_at,lat,lon,address,category\n"
        f"NOW-1,{moment.isoformat()},41.7602,-72.6856,Park St at Broad St,non-fatal\n")
    assert run("incidents", "import", tmp_path / "recent.csv").exit_code == 0
    r = run("init", "--public-url", PUBLIC + "/", "--link-key", "--evidence-store",
            tmp_path / "store")
    assert r.exit_code == 0, r.output
    assert run("settings", "set", "department_name", "Hartford Police Department").exit_code == 0
    assert run("settings", "set", "department_email", "videorequests@hpd.example.org"
               ).exit_code == 0
    return moment


def created(run, *args):
    r = run("requests", "create", *args, "--format", "json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def audit_entries(run):
    return json.loads(run("audit", "list", "--format", "json", "--limit", "0").stdout)


# ---------------------------------------------------------------- records
def test_all_open_requests_every_open_registered_camera_most_urgent_first(requesting, run):
    made = created(run, "NOW-1", "--all-open")
    # the canvass's registered cameras within 250 m, by deadline (retention 7, 30, 30, 60 d);
    # the connected ones (city poles, Ring, BIZ) are pulled from their systems, not asked for
    assert [m["camera_id"] for m in made] == ["PRIV-002", "PRIV-001", "PRIV-106", "PRIV-003"]
    assert [m["hours_left"] for m in made] == sorted(m["hours_left"] for m in made)
    assert all(CODE_RE.match(m["code"]) and m["status"] == "drafted" for m in made)
    assert len({m["code"] for m in made}) == 4
    for m in made:
        assert m["upload_url"].startswith(PUBLIC + "/u/")
        assert links.well_formed(m["upload_url"].rsplit("/", 1)[1])
    # asked again: nothing new, each camera named with its open request, exit 0
    r = run("requests", "create", "NOW-1", "--all-open")
    assert r.exit_code == 0
    for m in made:
        assert f"Left out: camera {m['camera_id']}: already requested ({m['code']})" in r.stderr
    assert "NOW-1: 0 request(s) made, 4 camera(s) left out" in r.stderr
    entry = audit_entries(run)[-1]          # the second asked for nothing: no entry
    assert entry["command"] == "requests create" and entry["case_no"] == "NOW-1"
    assert json.loads(entry["args"])["codes"] == [m["code"] for m in made]


def test_a_request_shows_the_window_three_ways(requesting, run):
    """RING-002's clock runs 90 s fast: the owner is asked for what their clock shows."""
    (made,) = created(run, "NOW-1", "--camera", "RING-002", "--contact", "860-555-0199")
    start = requesting - timedelta(minutes=30)
    end = requesting + timedelta(minutes=15)
    utc = ZoneInfo("UTC")
    assert made["window"]["start"] == f"{start.astimezone(utc):%Y-%m-%dT%H:%M:%SZ}"
    assert made["window"]["end"] == f"{end.astimezone(utc):%Y-%m-%dT%H:%M:%SZ}"
    assert made["window"]["local"] == f"{start:%Y-%m-%d} 22:15 to 23:00 {end:%Z}"
    assert made["window"]["camera_clock"] == f"{start:%Y-%m-%d} 22:16:30 to 23:01:30"
    assert made["window"]["clock_offset_s"] == 90.0
    deadline = requesting + timedelta(days=60)        # RING-002 keeps 60 days
    assert made["deadline"] == f"{deadline.astimezone(utc):%Y-%m-%dT%H:%M:%SZ}"
    assert made["link_expires"] == f"{(deadline + timedelta(days=7)).astimezone(utc):%Y-%m-%dT%H:%M:%SZ}"
    assert made["owner_email"] == "ring-002@example.org"
    assert made["detective_contact"] == "860-555-0199"
    shown = run("requests", "show", made["code"])
    assert shown.exit_code == 0
    assert f"camera's clock shows  {start:%Y-%m-%d} 22:16:30 to 23:01:30" in shown.stdout
    assert made["upload_url"] in shown.stdout


def test_codes_are_read_back_however_typed(requesting, run):
    (made,) = created(run, "NOW-1", "--camera", "PRIV-001")
    code = made["code"]
    for typed in (code.lower(), code.replace("-", ""), f" {code[:4]} {code[5:]} "):
        assert json.loads(run("requests", "show", typed, "--format", "json").stdout)[
            "code"] == code
    r = run("requests", "show", "0OIL-1234")
    assert r.exit_code == 2
    assert "'0OIL-1234' is not a request code" in r.stderr
    r = run("requests", "show", "2222-2222")
    assert r.exit_code == 1
    assert r.stderr.strip() == ("Error: no request 2222-2222 in the catalog (see videx requests "
                                "list)")


def test_the_catalog_keeps_only_the_tokens_hash(requesting, run, open_db):
    (made,) = created(run, "NOW-1", "--camera", "PRIV-001")
    token = made["upload_url"].rsplit("/", 1)[1]
    cat = open_db()
    row = cat.db.one("SELECT * FROM requests WHERE code = ?", [made["code"]])
    assert row["token_sha256"] == links.token_hash(token)
    dump = json.dumps([cat.db.dicts(f"SELECT * FROM {t}") for t in
                       ("requests", "settings", "audit", "audit_rows", "outcomes")], default=str)
    assert token not in dump
    assert len(token) == 43              # 256 bits, URL-safe base64


def test_an_upload_link_opens_only_its_request_until_expiry_or_withdrawal(requesting, run,
                                                                        open_db):
    a, b = created(run, "NOW-1", "--camera", "PRIV-001", "--camera", "PRIV-002")
    token = a["upload_url"].rsplit("/", 1)[1]
    cat = open_db()
    assert requests.find_by_token(cat, token).code == a["code"]
    wrong = token[:-1] + ("A" if token[-1] != "A" else "B")
    expires = datetime.fromisoformat(a["link_expires"].replace("Z", "+00:00")).timestamp()
    assert requests.find_by_token(cat, wrong) is None
    assert requests.find_by_token(cat, token, now=expires - 1).code == a["code"]
    assert requests.find_by_token(cat, token, now=expires) is None          # expired
    for junk in ("", "x" * 43 + "'", "../" * 15, token + "=", "\x00" * 43):
        assert requests.find_by_token(cat, junk) is None
    r = run("requests", "withdraw", a["code"], "--note", "found on the city camera")
    assert r.exit_code == 0 and "its upload link no longer works" in r.stdout
    assert requests.find_by_token(cat, token) is None                       # revoked
    assert requests.find_by_token(cat, b["upload_url"].rsplit("/", 1)[1]).code == b["code"]
    again = run("requests", "withdraw", a["code"])
    assert again.exit_code == 1
    assert f"request {a['code']} was withdrawn" in again.stderr
    # a dead link is not handed out again: not listed, no letter
    listed = {r["code"]: r for r in json.loads(run("requests", "list", "--format",
                                                   "json").stdout)}
    assert listed[a["code"]]["upload_url"] is None and listed[a["code"]]["link_usable"] is False
    assert listed[b["code"]]["upload_url"] == b["upload_url"]
    r = run("requests", "letter", a["code"], "--out", "dead.html")
    assert r.exit_code == 1 and "its upload link no longer works" in r.stderr
    assert not Path("dead.html").exists()


def test_the_canvass_shows_the_request_status_and_outcome_feeds_it(requesting, run):
    (made,) = created(run, "NOW-1", "--camera", "PRIV-002")
    cams = {c["camera_id"]: c for c in json.loads(
        run("canvass", "NOW-1", "--format", "json").stdout)["cameras"]}
    assert cams["PRIV-002"]["outcome"] == "drafted"
    assert cams["PRIV-001"]["outcome"] is None
    # the old vocabulary still works, and an outcome for a camera with an open request is
    # that request's status
    assert run("outcome", "NOW-1", "PRIV-002", "--status", "declined", "--note",
               "owner refused").exit_code == 0
    shown = json.loads(run("requests", "show", made["code"], "--format", "json").stdout)
    assert shown["status"] == "declined"
    assert [h["status"] for h in shown["history"]] == ["drafted", "declined"]
    assert json.loads(audit_entries(run)[-1]["args"])["request"] == made["code"]
    assert run("outcome", "NOW-1", "PRIV-001", "--status", "requested").exit_code == 0
    listed = json.loads(run("requests", "list", "--format", "json").stdout)
    assert [r["code"] for r in listed] == [made["code"]]       # no request made by outcome
    cams = {c["camera_id"]: c for c in json.loads(
        run("canvass", "NOW-1", "--format", "json").stdout)["cameras"]}
    assert cams["PRIV-002"]["outcome"] == "declined" and cams["PRIV-001"]["outcome"] == \
        "requested"
    assert run("audit", "verify", "--deep").exit_code == 0


def test_a_camera_with_an_open_request_is_not_asked_twice(requesting, run):
    (made,) = created(run, "NOW-1", "--camera", "PRIV-001")
    n = len(audit_entries(run))
    r = run("requests", "create", "NOW-1", "--camera", "PRIV-001")
    assert r.exit_code == 1
    assert (f"Error: camera PRIV-001: has an open request ({made['code']}) for this incident: "
            "withdraw it first to make a new one") in r.stderr
    assert len(audit_entries(run)) == n
    run("requests", "withdraw", made["code"])
    assert run("requests", "create", "NOW-1", "--camera", "PRIV-001").exit_code == 0


def test_old_incident_request_is_shown_overwritten_and_listed_by_status(requesting, run):
    """HPD-23-004120 (2023): PRIV-001's 30 days have passed. Requested anyway (retention is
    an estimate), with a warning; shown as overwritten, which is computed, not stored."""
    r = run("requests", "create", DEMO_ID, "--camera", "PRIV-001")
    assert r.exit_code == 0
    assert re.search(r"Warning: PRIV-001: the deadline passed \d+ d \d+ h ago \(footage "
                     r"probably overwritten\); requested anyway", r.stderr)
    old = json.loads(run("requests", "list", "--incident", DEMO_ID, "--format",
                         "json").stdout)[0]
    assert old["status"] == "overwritten" and old["status_recorded"] == "drafted"
    assert old["deadline_words"].startswith("overdue ")
    assert old["link_usable"] is True            # the owner may still have it: a week to try
    (fresh,) = created(run, "NOW-1", "--camera", "PRIV-002")
    listed = run("requests", "list", "--status", "overwritten", "--format", "csv")
    lines = listed.stdout.splitlines()
    assert lines[0].startswith("code,incident_id,camera_id") and len(lines) == 2
    assert lines[1].startswith(old["code"] + "," + DEMO_ID)
    assert "upload_url" in lines[0] and PUBLIC + "/u/" in lines[1]
    # due: open requests across cases, the overdue one first, then by hours left
    due = json.loads(run("requests", "due", "--format", "json").stdout)
    assert [d["code"] for d in due] == [old["code"], fresh["code"]]
    within = json.loads(run("requests", "due", "--within", "48h", "--format", "json").stdout)
    assert [d["code"] for d in within] == [old["code"]]      # PRIV-002: days left


def test_without_the_link_secret_nothing_is_made(requesting, run, tmp_path, monkeypatch):
    n = len(audit_entries(run))
    monkeypatch.setenv("VIDEX_LINK_KEY", str(tmp_path / "elsewhere.key"))
    r = run("requests", "create", "NOW-1", "--camera", "PRIV-001")
    assert r.exit_code == 1
    assert r.stderr.strip() == (f"Error: no upload-link secret at {tmp_path / 'elsewhere.key'}: "
                                "run videx init --link-key to create it (or set VIDEX_LINK_KEY "
                                "to the key file the links were made with)")
    assert len(audit_entries(run)) == n
    # a key file that is not this catalog's is named as such
    links.create_key(tmp_path / "elsewhere.key")
    r = run("requests", "create", "NOW-1", "--camera", "PRIV-001")
    assert r.exit_code == 1
    assert "is not this catalog's" in r.stderr and "set VIDEX_LINK_KEY to the right file" in \
        r.stderr
    assert len(audit_entries(run)) == n
    # ... and init will not switch the catalog to it (links made before would break)
    r = run("init", "--link-key")
    assert r.exit_code == 2 and "a key is never replaced" in r.stderr


def test_listings_without_the_secret_show_no_link_and_say_why(requesting, run, tmp_path,
                                                              monkeypatch):
    created(run, "NOW-1", "--camera", "PRIV-001")
    monkeypatch.setenv("VIDEX_LINK_KEY", str(tmp_path / "missing.key"))
    r = run("requests", "list", "--format", "json")
    assert r.exit_code == 0
    assert json.loads(r.stdout)[0]["upload_url"] is None
    assert r.stderr.strip().startswith("Warning: upload links not shown: no upload-link secret")
    r = run("requests", "letter", json.loads(r.stdout)[0]["code"], "--out", "l.html")
    assert r.exit_code == 1 and "no upload-link secret" in r.stderr
    assert not Path("l.html").exists()


# ---------------------------------------------------------------- the letter
def hostile_camera(run, tmp_path):
    (tmp_path / "evil.csv").write_text(
        "id,name,source,integration,lat,lon,owner_name,owner_contact,retention_days,tz\n"
        'EVIL-1,"<img src=x onerror=alert(1)>",private,registered,41.7603,-72.6857,'
        '"<script>alert(\'x\')</script> & Sons","Bob <bob@example.org>",30,'
        "America/New_York\n")
    assert run("cameras", "import", tmp_path / "evil.csv").exit_code == 0


def test_the_letter_escapes_what_owners_and_cameras_are_called(requesting, run, tmp_path):
    hostile_camera(run, tmp_path)
    (made,) = created(run, "NOW-1", "--camera", "EVIL-1")
    assert made["owner_email"] == "bob@example.org"
    r = run("requests", "letter", made["code"], "--out", "l.html", "--out", "l.eml")
    assert r.exit_code == 0, r.output
    page = Path("l.html").read_text()
    assert "<script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; Sons" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    msg = email.message_from_bytes(Path("l.eml").read_bytes(), policy=policy.default)
    assert msg["To"].addresses[0].addr_spec == "bob@example.org"
    assert msg["To"].addresses[0].display_name == "<script>alert('x')</script> & Sons"
    html_part = msg.get_body(("html",)).get_content()
    assert "<script>" not in html_part
    # a letter is never written over a file, and nothing is written when one cannot be
    r = run("requests", "letter", made["code"], "--out", "new.html", "--out", "l.eml")
    assert r.exit_code == 2 and "l.eml exists: a letter is never written over a file" in r.stderr
    assert not Path("new.html").exists()
    r = run("requests", "letter", made["code"], "--out", "l.pdf")
    assert r.exit_code == 2 and "give a file name ending in one of these" in r.stderr


def chromium():
    import os
    import shutil
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        if os.environ.get("VIDEX_NO_BROWSER"):
            pytest.skip("VIDEX_NO_BROWSER is set")
        pytest.fail("headless Chromium not found (apt-get install chromium)")
    return found


def print_pdf(html: Path, tmp_path: Path) -> bytes:
    pdf = html.with_suffix(".pdf")
    done = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                           "--no-first-run", "--disable-background-networking",
                           f"--user-data-dir={tmp_path / 'chrome'}", "--no-pdf-header-footer",
                           f"--print-to-pdf={pdf}", html.as_uri()], capture_output=True,
                          timeout=120)
    assert pdf.exists(), done.stderr.decode()[-500:]
    return pdf.read_bytes()


@pytest.mark.server           # Chromium prints it
def test_the_letter_prints_on_one_page_and_its_qr_code_is_the_link(requesting, run, tmp_path):
    import cv2
    run("settings", "set", "department_address", "50 Jennings Road\nHartford, CT 06120")
    run("settings", "set", "department_phone", "860-555-0100")
    run("settings", "set", "letter_reason", "Officers are investigating a shooting on Park "
        "Street on the night shown below, and your camera faces the street.")
    (made,) = created(run, "NOW-1", "--camera", "RING-002", "--detective", "Det. R. Diaz",
                      "--contact", "r.diaz@hpd.example.org, 860-555-0142")
    assert run("requests", "letter", made["code"], "--out", "letter.html").exit_code == 0
    page = Path("letter.html").read_text()
    assert "Officers are investigating a shooting on Park Street" in page
    assert "Hartford Police Department" in page and "50 Jennings Road" in page
    assert made["window"]["camera_clock"] in page and "runs 1 min 30 s fast" in page
    assert "http" not in page.replace(made["upload_url"], "").replace(
        "http://www.w3.org/2000/svg", "")                    # nothing from the network
    for size in ("A4", "letter"):
        sized = tmp_path / f"letter-{size}.html"
        sized.write_text(page.replace("@page { size: auto;", f"@page {{ size: {size};"))
        pdf = print_pdf(sized, tmp_path)
        assert len(re.findall(rb"/Type\s*/Page(?!s)", pdf)) == 1, size
    png = tmp_path / "letter.png"
    # the screenshot waits for the page to settle (a loaded machine renders slowly), at twice
    # the pixels (at 1x a module is 3.5 blurred pixels, too few for a reliable reading)
    subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                    f"--user-data-dir={tmp_path / 'chrome'}", "--window-size=820,1160",
                    "--force-device-scale-factor=2", "--virtual-time-budget=10000",
                    "--run-all-compositor-stages-before-draw",
                    "--disable-background-networking", "--no-first-run",
                    f"--screenshot={png}", Path("letter.html").resolve().as_uri()],
                   capture_output=True, timeout=120)
    assert qr_text(cv2.imread(str(png))) == made["upload_url"]


def qr_text(image) -> str:
    """What a QR code in ``image`` says, read by OpenCV's two readers: the classic one could
    not read 4 of 200 valid codes of random upload links (the ArUco-based one read all 200),
    so either may answer; a code that is missing or wrong still fails."""
    import cv2
    return (cv2.QRCodeDetectorAruco().detectAndDecode(image)[0]
            or cv2.QRCodeDetector().detectAndDecode(image)[0])


# ---------------------------------------------------------------- e-mail
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"

    def messages(self):
        return [email.message_from_bytes(e.original_content, policy=policy.default)
                for e in self.envelopes]


def start_smtp(tmp_path, tls: bool = True):
    """A real SMTP server on loopback: STARTTLS required (a self-signed certificate made
    with openssl) and a password, or plain without either."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword
    inbox = Inbox()
    kwargs = {}
    cert = None
    if tls:
        cert, key = tmp_path / "smtp-cert.pem", tmp_path / "smtp-key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       check=True, capture_output=True)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(cert), str(key))

        def authenticate(server, session, envelope, mechanism, data):
            ok = (isinstance(data, LoginPassword) and data.login == b"videx"
                  and data.password == PASSWORD.encode())
            return AuthResult(success=ok, handled=False)   # handled=False: it answers 535
        kwargs = {"tls_context": ctx, "require_starttls": True, "authenticator": authenticate,
                  "auth_require_tls": True}
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return controller, inbox, port, cert


@pytest.fixture
def smtp(tmp_path, monkeypatch):
    controller, inbox, port, cert = start_smtp(tmp_path)
    monkeypatch.setenv("VIDEX_SMTP_CAFILE", str(cert))
    monkeypatch.setenv("VIDEX_SMTP_PASSWORD", PASSWORD)
    yield inbox, port
    controller.stop()


def clock_line(msg) -> str:
    text = msg.get_body(("plain",)).get_content()
    return re.search(r"Your camera's clock shows: (.+)", text).group(1).strip()


def test_the_letter_and_the_reminder_arrive_by_smtp(requesting, run, smtp, tmp_path, open_db):
    import cv2
    import numpy as np
    inbox, port = smtp
    r = run("init", "--smtp", f"smtp://videx@127.0.0.1:{port}")
    assert r.exit_code == 0 and PASSWORD not in r.output
    made = {m["camera_id"]: m for m in created(run, "NOW-1", "--camera", "RING-002",
                                                "--camera", "PRIV-001")}
    ring, priv = made["RING-002"], made["PRIV-001"]
    r = run("requests", "send", ring["code"], priv["code"])
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == [f"{ring['code']}: letter sent", f"{priv['code']}: letter sent"]
    letters = {m["X-Videx-Request"]: m for m in inbox.messages()}
    msg = letters[ring["code"]]
    assert [e.rcpt_tos for e in inbox.envelopes] == [["ring-002@example.org"],
                                                     ["priv-001@example.org"]]
    assert msg["From"].addresses[0].addr_spec == "videorequests@hpd.example.org"
    # the window as the owner's camera shows it (90 s fast), read from the received message
    day = (requesting - timedelta(minutes=30)).date()
    assert clock_line(msg) == f"{day:%Y-%m-%d} 22:16:30 to 23:01:30"
    assert clock_line(letters[priv["code"]]) == f"{day:%Y-%m-%d} 22:15 to 23:00"
    assert ring["upload_url"] in msg.get_body(("plain",)).get_content()
    png = next(p for p in msg.walk() if p.get_content_type() == "image/png").get_content()
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert qr_text(image) == ring["upload_url"]
    shown = json.loads(run("requests", "show", ring["code"], "--format", "json").stdout)
    assert [h["status"] for h in shown["history"]] == ["drafted", "sent"]
    # sending again needs --again; a reminder is what goes next
    r = run("requests", "send", ring["code"])
    assert r.exit_code == 1 and "already sent" in r.stderr
    assert len(inbox.envelopes) == 2
    r = run("requests", "remind", "--after", "1h")
    assert r.exit_code == 0 and "0 reminder(s) sent" in r.stderr        # too soon
    r = run("requests", "remind", "--after", "0s", "--dry-run")
    assert sorted(r.stdout.splitlines()) == sorted(
        [f"{ring['code']}: would send a reminder", f"{priv['code']}: would send a reminder"])
    assert len(inbox.envelopes) == 2
    r = run("requests", "remind", "--after", "0s")
    assert r.exit_code == 0, r.output
    reminders = [m for m in inbox.messages() if m["Subject"].startswith("Reminder:")]
    assert len(reminders) == 2
    ring_reminder = next(m for m in reminders if m["X-Videx-Request"] == ring["code"])
    assert clock_line(ring_reminder) == f"{day:%Y-%m-%d} 22:16:30 to 23:01:30"
    shown = json.loads(run("requests", "show", ring["code"], "--format", "json").stdout)
    assert [h["status"] for h in shown["history"]] == ["drafted", "sent", "reminded"]
    # the password is nowhere: not in any output, setting, audit entry or row
    cat = open_db()
    stored = json.dumps([cat.db.dicts(f"SELECT * FROM {t}") for t in
                         ("settings", "audit", "requests", "outcomes")], default=str)
    assert PASSWORD not in stored
    assert cat.setting("smtp_url") == f"smtp://videx@127.0.0.1:{port}"
    sends = [json.loads(e["args"]) for e in audit_entries(run)
             if e["command"] in ("requests send", "requests remind")]
    assert len(sends) == 4
    assert sends[0]["smtp"] == f"127.0.0.1:{port} (starttls, user videx)"
    assert run("audit", "verify", "--deep").exit_code == 0


def test_a_wrong_password_is_said_without_the_password(requesting, run, smtp, monkeypatch):
    inbox, port = smtp
    monkeypatch.setenv("VIDEX_SMTP_URL", f"smtp://videx@127.0.0.1:{port}")
    monkeypatch.setenv("VIDEX_SMTP_PASSWORD", "not-the-password-123")
    (made,) = created(run, "NOW-1", "--camera", "PRIV-001")
    r = run("requests", "send", made["code"])
    assert r.exit_code == 1
    assert "refused the sign-in of videx (check $VIDEX_SMTP_PASSWORD)" in r.stderr
    assert "not-the-password-123" not in r.output
    assert not inbox.envelopes
    shown = json.loads(run("requests", "show", made["code"], "--format", "json").stdout)
    assert [h["status"] for h in shown["history"]] == ["drafted"]


def test_without_smtp_nothing_is_sent_or_changed(requesting, run):
    (made,) = created(run, "NOW-1", "--camera", "PRIV-001")
    n = len(audit_entries(run))
    r = run("requests", "send", made["code"])
    assert r.exit_code == 1
    assert r.stderr.strip() == ("Error: no SMTP server configured: set one with videx init "
                                "--smtp URL or $VIDEX_SMTP_URL; nothing was sent")
    assert len(audit_entries(run)) == n
    r = run("requests", "remind", "--after", "0s")
    assert r.exit_code == 0 and "0 reminder(s) sent" in r.stderr   # nothing was sent: none due


def test_a_server_without_starttls_gets_no_letter(requesting, run, tmp_path, monkeypatch):
    controller, inbox, port, _ = start_smtp(tmp_path, tls=False)
    try:
        monkeypatch.setenv("VIDEX_SMTP_URL", f"smtp://127.0.0.1:{port}")
        (made,) = created(run, "NOW-1", "--camera", "PRIV-001")
        r = run("requests", "send", made["code"])
        assert r.exit_code == 1
        assert f"SMTP server 127.0.0.1:{port} (starttls) does not offer STARTTLS" in r.stderr
        assert not inbox.envelopes
        # a relay on loopback without encryption, when asked for explicitly
        monkeypatch.setenv("VIDEX_SMTP_URL", f"smtp://127.0.0.1:{port}?tls=none")
        assert run("requests", "send", made["code"]).exit_code == 0
        assert len(inbox.envelopes) == 1
    finally:
        controller.stop()


def test_init_refuses_an_smtp_url_with_a_password(requesting, run, open_db):
    r = run("init", "--smtp", "smtp://videx:hunter2-secret@mail.example.org:587")
    assert r.exit_code == 2
    assert "the SMTP URL holds a password" in r.stderr and "hunter2" not in r.output
    assert open_db().setting("smtp_url") is None
    r = run("init", "--smtp", "smtp://videx@mail.example.org?tls=none")
    assert r.exit_code == 2 and "a password is never sent unencrypted" in r.stderr


def test_a_request_without_an_email_address_is_reported_the_others_sent(
        requesting, run, smtp, tmp_path):
    inbox, port = smtp
    run("init", "--smtp", f"smtp://videx@127.0.0.1:{port}")
    (tmp_path / "phone.csv").write_text(
        "id,source,integration,lat,lon,owner_name,owner_contact,retention_days\n"
        "PHONE-1,private,registered,41.7603,-72.6857,Ann,860-555-0111,30\n")
    run("cameras", "import", tmp_path / "phone.csv")
    phone, priv = created(run, "NOW-1", "--camera", "PHONE-1", "--camera", "PRIV-001")
    r = run("requests", "send", phone["code"], priv["code"])
    assert r.exit_code == 3
    assert f"Error: {phone['code']}: the owner's contact has no e-mail address" in r.stderr
    assert r.stdout.strip() == f"{priv['code']}: letter sent"
    assert len(inbox.envelopes) == 1
    r = run("requests", "mark", phone["code"], "sent", "--note", "handed over at the door")
    assert r.exit_code == 0 and r.stdout.strip() == f"{phone['code']}: sent"


# ---------------------------------------------------------------- schema
@pytest.mark.sqlite_only
def test_an_upgrade_keeps_outcomes_and_their_audited_state(tmp_path):
    """m011 rebuilds outcomes (a wider status list, a request column): entries are kept,
    re-recorded when they matched their audited state, the new statuses accepted."""
    from videx import audit, catalog
    from videx.store import schema
    from videx.store.backend import SQLiteBackend
    path = tmp_path / "m8.db"
    db = SQLiteBackend(path)
    db.begin_write()
    schema.apply_pending(db, "2026-01-01T00:00:00Z", stop_before="m011_requests")
    db.commit()
    cat = catalog.Catalog(db)
    with cat.write("setup") as tx:
        db.execute("INSERT INTO cameras (id, source, integration, lat, lon, updated_at) VALUES "
                   "('C1', 'private', 'registered', 41.76, -72.68, 'x')")
        db.execute("INSERT INTO incidents (id, occurred_at, occurred_ts, time_source, lat, lon, "
                   "updated_at) VALUES ('I1', '2023-05-01T18:30:00Z', 1682965800, 'x', 41.76, "
                   "-72.68, 'x')")
        tx.touch("cameras", "C1")
        tx.touch("incidents", "I1")
        for i, status in ((1, "requested"), (2, "obtained")):
            db.execute("INSERT INTO outcomes (id, incident_id, camera_id, status, note, "
                       "recorded_at, recorded_by) VALUES (?, 'I1', 'C1', ?, 'n', 'x', 'u')",
                       [i, status])
            tx.touch("outcomes", i)
    cat.close()
    edit(path, "UPDATE outcomes SET note = 'edited' WHERE id = 2")   # by hand, before
    up = catalog.open_catalog(path)
    assert up.migrations() == schema.KNOWN
    assert [(o["status"], o["request_id"]) for o in up.history.outcomes("I1")] == [
        ("requested", None), ("obtained", None)]
    check = audit.verify(up, deep=True)
    assert [(p.table, p.key, p.problem) for p in check.row_problems] == [
        ("outcomes", "2", "changed")]
    assert {"requests", "request_files"} <= up.db.tables()
    assert {"idx_outcomes_incident", "idx_outcomes_request", "idx_requests_incident",
            "idx_request_files_request"} <= up.db.indexes()
    from videx import history
    history.record_outcome(up, "I1", "C1", "declined")
    up.close()


def test_statuses_are_one_vocabulary():
    from videx import history
    assert set(history.OUTCOMES) <= set(history.STATUSES)
    assert set(history.REQUEST_STATUSES) <= set(history.STATUSES)
    assert set(OPEN) == {"drafted", "sent", "reminded", "requested"}
    from videx.store.schema import OUTCOME_STATUSES
    assert set(OUTCOME_STATUSES) == set(history.STATUSES)


def test_deadline_words_are_the_display_models():
    assert requests.deadline_words(190.4) == "7 d 22 h left"
    assert requests.deadline_words(5.5) == "5 h 30 min left"
    assert requests.deadline_words(0.5) == "30 min left"
    assert requests.deadline_words(-3.2) == "overdue 3 h 12 min"
    assert requests.deadline_words(None) == "retention unknown: ask now"


def test_settings_are_checked(requesting, run):
    r = run("settings", "set", "department_email", "not an address")
    assert r.exit_code == 2 and "'not an address' is not an e-mail address" in r.stderr
    r = run("settings", "set", "upload_max_mb", "0.5")
    assert r.exit_code == 2 and "must be a number of at least 1" in r.stderr
    r = run("settings", "set", "public_url", "x")
    assert r.exit_code == 2 and "(set it with videx init)" in r.stderr
    r = run("init", "--public-url", "ftp://x")
    assert r.exit_code == 2 and "must start with https://" in r.stderr
    assert run("settings", "set", "letter_closing", "Best,").exit_code == 0
    shown = {s["key"]: s for s in json.loads(run("settings", "show", "--format",
                                                 "json").stdout)}
    assert shown["letter_closing"]["value"] == "Best," and not shown["letter_closing"]["default"]
    assert shown["public_url"]["value"] == PUBLIC
    assert run("settings", "unset", "letter_closing").exit_code == 0
    assert json.loads(run("settings", "show", "--format", "json").stdout)[5]["default"] is True


def test_requests_and_their_history_survive_a_copy_between_backends(requesting, run,
                                                                    tmp_path):
    """db copy carries requests, their files and statuses (requests before the outcomes that
    refer to them) and the copy verifies deep."""
    import os
    made = created(run, "NOW-1", "--all-open")
    run("requests", "withdraw", made[0]["code"])
    source = os.environ["VIDEX_DB"]
    r = run("db", "copy", source, tmp_path / "copy.db")
    assert r.exit_code == 0, r.output
    r = run("requests", "list", "--db", tmp_path / "copy.db", "--format", "json")
    copied = json.loads(r.stdout)
    assert [c["code"] for c in copied] == [m["code"] for m in made]
    assert copied[0]["status"] == "withdrawn"
    assert run("audit", "verify", "--deep", "--db", tmp_path / "copy.db").exit_code == 0
