"""Getting the footage through the web: "Request now" on the incident page, "My requests",
a request's page and letter, and the owner's public upload link, through a real ``videx
serve`` process and curl, the tus protocol, and an attacker's attempts."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import DEMO_ID, FIXTURES
from videx import audit, catalog, requests, users

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from videx.web import create_app  # noqa: E402

RING2 = FIXTURES / "clips" / "RING-002" / "FrontDoor_2023-05-01T18-31-27Z.mp4"
PASSWORD = "detective-pass-1"


def sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def sign_in(client):
    token = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"csrf": token, "name": "det", "password": PASSWORD,
                                    "next": ""}, follow_redirects=False)
    assert r.status_code == 303


@pytest.fixture
def linked(city, run, tmp_path, monkeypatch):
    """The city catalog (no clips) with a link secret, an evidence store, a public address,
    a detective, and a request for the demo shooting's RING-002 (its clock runs 90 s fast);
    returns (catalog location, the request's code, its upload path /u/TOKEN)."""
    monkeypatch.setenv("VIDEX_LINK_KEY", str(tmp_path / "link.key"))
    r = run("init", "--link-key", "--public-url", "https://videx.example.org",
            "--evidence-store", tmp_path / "store")
    assert r.exit_code == 0, r.output
    assert run("requests", "create", DEMO_ID, "--camera", "RING-002").exit_code == 0
    listed = json.loads(run("requests", "list", "--format", "json").stdout)
    (made,) = listed
    location = os.environ["VIDEX_DB"]
    with catalog.open_catalog(location) as cat:
        users.add_user(cat, "det", "detective", PASSWORD)
    path = made["upload_url"].removeprefix("https://videx.example.org")
    assert path.startswith("/u/")
    return location, made["code"], path


@pytest.fixture
def site(linked, tmp_path):
    return create_app(linked[0], secret="s", cache_dir=tmp_path / "cache")


def status_of(location, code):
    with catalog.open_catalog(location) as cat:
        return requests.get(cat, code).shown_status()


# ------------------------------------------------------------ a real server, curl
def test_a_real_server_takes_curl_on_the_link(linked, run, tmp_path):
    location, code, path = linked
    port = free_port()
    env = {**os.environ, "VIDEX_SERVER_SECRET": "t"}
    server = subprocess.Popen([sys.executable, "-m", "videx", "serve", "--port", str(port),
                               "--workers", "1"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        link = f"http://127.0.0.1:{port}{path}"
        deadline = time.monotonic() + 60
        while subprocess.run(["curl", "-s", "-o", "/dev/null", link]).returncode != 0:
            assert time.monotonic() < deadline and server.poll() is None, "no server"
            time.sleep(0.2)
        page = subprocess.run(["curl", "-s", link], capture_output=True, text=True).stdout
        assert "Your camera's clock shows" in page and "2023-05-01 14:" in page
        done = subprocess.run(["curl", "-s", "-S", "-F", f"file=@{RING2}", "-F",
                               "name=Pat Owner", "-H", "Accept: application/json", link],
                              capture_output=True, text=True, timeout=120)
        receipt = json.loads(done.stdout)
        (got,) = receipt["files"]
        assert got["result"] == "catalogued" and got["sha256"] == sha(RING2)
        assert got["size_bytes"] == RING2.stat().st_size
        # the time as the sender reads it: local, with the zone (the same instant as UTC)
        from datetime import datetime
        from zoneinfo import ZoneInfo
        utc = datetime.fromisoformat(got["received_at"].replace("Z", "+00:00"))
        assert got["received_local"] == utc.astimezone(ZoneInfo("America/New_York")) \
            .strftime("%Y-%m-%d %H:%M:%S %Z")
        html = subprocess.run(["curl", "-s", "-F", f"file=@{RING2}", link],
                              capture_output=True, text=True, timeout=120).stdout
        assert sha(RING2) in html and "We already had this exact file" in html
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    cams = {c["camera_id"]: c for c in json.loads(
        run("canvass", DEMO_ID, "--format", "json").stdout)["cameras"]}
    (clip,) = cams["RING-002"]["clips"]
    assert clip["sha256"] == sha(RING2) and clip["contains_moment"] is True
    assert clip["start"] == "2023-05-01T18:29:57Z"        # 18:31:27 on a clock 90 s fast
    assert cams["RING-002"]["outcome"] == "uploaded"
    assert status_of(location, code) == "uploaded"
    assert run("audit", "verify", "--deep").exit_code == 0


# ------------------------------------------------------------ the detective's side
def test_request_now_my_requests_and_the_request_page(linked, site, run, tmp_path):
    location = linked[0]
    when = (datetime.now(timezone.utc) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (tmp_path / "now.csv").write_text("id,occurred_at,lat,lon,address\n"
                                      f"NOW-1,{when},41.7602,-72.6856,Park St\n")
    assert run("incidents", "import", tmp_path / "now.csv").exit_code == 0
    client = TestClient(site)
    sign_in(client)
    page = client.get("/incidents/NOW-1").text
    assert 'id="request-all"' in page
    urgent = page[page.index('id="urgent"'):page.index("</table>", page.index('id="urgent"'))]
    order = re.findall(r'<a href="/cameras/([^"]+)">', urgent)
    r = client.post("/incidents/NOW-1/requests", data={"csrf": csrf_of(page)},
                    follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/incidents/NOW-1").text
    codes = re.findall(r'<a href="/requests/([0-9A-Z]{4}-[0-9A-Z]{4})">', page)
    assert codes and 'id="request-all"' not in page          # every open camera asked
    with catalog.open_catalog(location) as cat:
        made = requests.list_requests(cat, "NOW-1")
    assert {r.camera_id for r in made} <= set(order) and all(r.acting_as == "web:det"
                                                             for r in made)
    mine = client.get("/requests").text
    listed = re.findall(r'<a href="/requests/([0-9A-Z-]{9})">', mine)
    assert set(listed) == {r.code for r in made}
    hours = [float("inf") if r.hours_left() is None else r.hours_left()
             for r in sorted(made, key=lambda r: listed.index(r.code))]
    assert hours == sorted(hours)                              # most urgent first
    ring = max(made, key=lambda r: abs(r.clock_offset_s))     # a camera whose clock is off
    detail = client.get(f"/requests/{ring.code}").text
    assert ring.camera_window_text() in detail and "<svg" in detail   # owner's clock, QR
    assert ring.local_window_text() in detail
    letter = client.get(f"/requests/{ring.code}/letter")
    assert letter.status_code == 200 and ring.camera_window_text() in letter.text
    r = client.post(f"/requests/{ring.code}/status", follow_redirects=False,
                    data={"csrf": csrf_of(detail), "action": "declined", "note": "at door"})
    assert r.status_code == 303 and status_of(location, ring.code) == "declined"
    assert "owner declined" in client.get("/incidents/NOW-1").text


# ------------------------------------------------------------ the public link, attacked
def test_wrong_expired_and_withdrawn_links_get_the_same_page(linked, site, run):
    location, code, path = linked
    client = TestClient(site)
    good = client.get(path)
    assert good.status_code == 200 and "Send video from your camera" in good.text
    assert good.headers["referrer-policy"] == "no-referrer"
    assert "HPD-23-004120" not in good.text                    # no case details
    pages = [client.get(p) for p in (path[:-1] + ("A" if path[-1] != "A" else "B"),
                                     "/u/x", "/u/" + "A" * 43, "/u/%2e%2e")]
    traversal = client.get("/u/..%2F..%2Fetc%2Fpasswd", follow_redirects=False)
    assert traversal.status_code in (303, 404) and "root:" not in traversal.text
    assert run("requests", "withdraw", code).exit_code == 0
    pages.append(client.get(path))                             # the same link, withdrawn
    posted = client.post(path, files={"file": ("a.mp4", RING2.read_bytes(), "video/mp4")})
    pages.append(posted)
    assert {p.status_code for p in pages} == {404}
    assert len({p.text for p in pages}) == 1                   # nothing tells them apart
    with catalog.open_catalog(location) as cat:
        assert cat.clips.count() == 0
    token = path.removeprefix("/u/")
    with catalog.open_catalog(location) as cat:   # expired: the same lookup the pages make
        req = requests.get(cat, code)
        assert requests.find_by_token(cat, token, now=req.expires_ts + 1) is None


def test_refusals_in_words_and_hostile_names(linked, site, run):
    location, code, path = linked
    client = TestClient(site)
    assert run("settings", "set", "upload_max_mb", "1").exit_code == 0
    names = ["../../etc/passwd.mp4", "a\u202eevil\u0000.mp4", "x" * 500 + ".mp4"]
    r = client.post(path, headers={"Accept": "application/json"}, data={
        "name": "<script>alert(1)</script>", "start": "14:31:27"}, files=[
        ("file", ("notes.mp4", b"this is a text file, not a video\n" * 10, "video/mp4")),
        ("file", (names[0], RING2.read_bytes(), "video/mp4")),
        ("file", (names[1], b"\0" * 2_000_000, "video/mp4"))])
    assert r.status_code == 200, re.sub(r"<[^>]+>", " ", r.text)[-600:]
    files = r.json()["files"]
    assert [f["result"] for f in files] == ["refused", "catalogued", "refused"]
    assert files[0]["message"].startswith("Not accepted: this file is not a video")
    assert files[2]["message"].startswith("Not accepted: the file is 1.9 MB and this link "
                                          "takes files up to 1.0 MB")
    assert files[1]["file_name"] == names[0]                   # kept as text only
    assert "<U+202E>" in files[2]["file_name"] and "\u202e" not in files[2]["file_name"]
    page = client.post(path, data={"name": "<b>bold</b>"},
                       files={"file": (names[2], b"junk", "video/mp4")}).text
    assert "&lt;b&gt;" not in page or "<b>bold</b>" not in page
    assert "<b>bold</b>" not in page
    with catalog.open_catalog(location) as cat:
        (clip,) = cat.clips.list()
        stored = Path(clip["path"])
        assert stored.name == f"{clip['sha256']}.mp4" and ".." not in clip["path"]
        rows = requests.files(cat, requests.get(cat, code))
        assert audit.verify(cat, deep=True).ok
    assert [r["result"] for r in rows] == ["refused", "catalogued", "refused", "refused"]
    assert all(r["stated_name"] in ("<script>alert(1)</script>", "<b>bold</b>") for r in rows)
    detail_client = TestClient(site)
    sign_in(detail_client)
    detail = detail_client.get(f"/requests/{code}").text
    assert "<script>alert(1)</script>" not in detail and "&lt;script&gt;" in detail
    big = client.post(path, headers={"Accept": "application/json",
                                     "Content-Length": str(5 * 2**20)},
                      content=b"x" * (5 * 2**20))
    assert big.status_code == 200 and big.json()["files"][0]["result"] == "refused"
    assert "this link takes files up to 1.0 MB" in big.json()["files"][0]["message"]


def test_two_uploads_to_one_request_at_once(linked, site):
    """Two owners' phones (or two tabs) sending at once: the same file twice is kept once
    (the other a duplicate); another file beside them is kept too."""
    location, code, path = linked
    other = FIXTURES / "clips" / "CITY-001" / "20230501_142956.mp4"
    results = []

    def send(source):
        results.append(TestClient(site).post(
            path, headers={"Accept": "application/json"},
            files={"file": (source.name, source.read_bytes(), "video/mp4")}).json())
    threads = [threading.Thread(target=send, args=(p,)) for p in (RING2, RING2, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    got = sorted(f["result"] for r in results for f in r["files"])
    assert got == ["catalogued", "catalogued", "duplicate"]
    with catalog.open_catalog(location) as cat:
        assert audit.verify(cat, deep=True).ok
        assert sorted(c["sha256"] for c in cat.clips.list()) == sorted([sha(RING2),
                                                                        sha(other)])


# ------------------------------------------------------------ tus, resumable
def test_a_resumable_upload_continues_where_it_stopped(linked, site):
    location, code, path = linked
    client = TestClient(site)
    data = RING2.read_bytes()
    tus = {"Tus-Resumable": "1.0.0"}
    options = client.options(f"{path}/tus")
    assert options.headers["tus-version"] == "1.0.0" and "creation" in \
        options.headers["tus-extension"]
    meta = "filename RnJvbnREb29yXzIwMjMtMDUtMDFUMTgtMzEtMjdaLm1wNA==,sender UGF0"
    r = client.post(f"{path}/tus", headers={**tus, "Upload-Length": str(len(data)),
                                            "Upload-Metadata": meta})
    assert r.status_code == 201
    url = r.headers["location"]
    half = len(data) // 2
    patch = {**tus, "Content-Type": "application/offset+octet-stream"}
    r = client.patch(url, headers={**patch, "Upload-Offset": "0"}, content=data[:half])
    assert r.status_code == 204 and r.headers["upload-offset"] == str(half)
    # the connection dropped: the client asks where to go on
    assert client.head(url, headers=tus).headers["upload-offset"] == str(half)
    wrong = client.patch(url, headers={**patch, "Upload-Offset": "0"}, content=data[:10])
    assert wrong.status_code == 409
    assert client.get(url).json() == {"done": False, "receipt": None}
    r = client.patch(url, headers={**patch, "Upload-Offset": str(half)}, content=data[half:])
    assert r.status_code == 204 and r.headers["upload-offset"] == str(len(data))
    receipt = client.get(url).json()["receipt"]
    assert receipt["result"] == "catalogued" and receipt["sha256"] == sha(RING2)
    assert receipt["file_name"] == RING2.name
    assert status_of(location, code) == "uploaded"
    # another link's upload, or a made-up one, is not there
    assert client.head(url.replace(path, "/u/" + "B" * 43), headers=tus).status_code == 404
    assert client.head(f"{path}/tus/{'x' * 22}", headers=tus).status_code == 404
    too_big = client.post(f"{path}/tus", headers={**tus, "Upload-Length": str(2**60)})
    assert too_big.status_code == 413 and "this link takes files up to" in too_big.text
    with catalog.open_catalog(location) as cat:
        assert audit.verify(cat, deep=True).ok
        results = [f["result"] for f in requests.files(cat, requests.get(cat, code))]
    assert results == ["catalogued", "refused"]


def test_a_killed_server_mid_upload_catalogues_nothing(linked, tmp_path):
    """kill -9 of the server while a large file streams in: no clip, no half file in the
    store, the record intact; the link works again after a restart."""
    location, code, path = linked
    big = tmp_path / "big.mp4"
    with open(big, "wb") as fh:
        fh.write(RING2.read_bytes())
        fh.write(os.urandom(40 * 2**20))
    port = free_port()
    env = {**os.environ, "VIDEX_SERVER_SECRET": "t"}
    argv = [sys.executable, "-m", "videx", "serve", "--port", str(port), "--workers", "1"]
    server = subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL)
    link = f"http://127.0.0.1:{port}{path}"
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(["curl", "-s", "-o", "/dev/null", link]).returncode != 0:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        curl = subprocess.Popen(["curl", "-s", "--limit-rate", "4M", "-F", f"file=@{big}",
                                 link], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        store = tmp_path / "store" / ".staging"
        deadline = time.monotonic() + 60
        while not any(p.stat().st_size > 2**20 for p in store.glob("upload-*.part")):
            assert time.monotonic() < deadline, "the upload did not start"
            time.sleep(0.1)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
        curl.wait(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    with catalog.open_catalog(location) as cat:
        assert cat.clips.count() == 0 and audit.verify(cat, deep=True).ok
        assert requests.get(cat, code).shown_status() != "uploaded"
    kept = [p for p in (tmp_path / "store").rglob("*") if p.is_file() and ".staging" not in
            p.parts]
    assert kept == []
    server = subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(["curl", "-s", "-o", "/dev/null", link]).returncode != 0:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        out = subprocess.run(["curl", "-s", "-F", f"file=@{RING2}", "-H",
                              "Accept: application/json", link], capture_output=True,
                             text=True, timeout=120).stdout
        assert json.loads(out)["files"][0]["result"] == "catalogued"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
