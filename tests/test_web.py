"""videx serve through its real HTTP stack (Starlette's test client): sign-in, roles, CSRF,
rate limits, the incident page, clips by id only, downloads, and the audit trail."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest

from conftest import DEMO_ID, hold_write_lock
from videx import catalog, users

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from videx.web import LoginLimiter, create_app  # noqa: E402

PASSWORDS = {"det": "detective-pass-1", "ana": "analyst-pass-12", "boss": "admin-pass-1234"}
ROLES = {"det": "detective", "ana": "analyst", "boss": "admin"}


@pytest.fixture
def site(ingested, tmp_path):
    with catalog.open_catalog(tmp_path / "videx.db") as cat:
        for name, password in PASSWORDS.items():
            users.add_user(cat, name, ROLES[name], password)
    app = create_app(str(tmp_path / "videx.db"), secret="test-secret",
                     cache_dir=tmp_path / "cache")
    return app


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def sign_in(client, name, password=None, follow=False):
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"csrf": token, "name": name,
                                       "password": password or PASSWORDS[name], "next": ""},
                       follow_redirects=follow)


def test_anonymous_requests_go_to_login(site):
    client = TestClient(site)
    for path in ("/incidents", f"/incidents/{DEMO_ID}", "/clips/1", "/clips/1/media",
                 "/cameras/CITY-001", "/audit", "/no/such/page"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), path
    assert client.get("/login").status_code == 200


def test_sign_in_sets_a_signed_httponly_strict_cookie(site):
    client = TestClient(site)
    r = sign_in(client, "det")
    assert r.status_code == 303 and r.headers["location"] == "/incidents"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert client.get("/incidents").status_code == 200
    # a forged cookie is not a session
    forged = TestClient(site, cookies={"videx": "eyJ1c2VyIjogImJvc3MifQ==.forged.sig"})
    assert forged.get("/audit", follow_redirects=False).status_code == 303


def test_wrong_passwords_are_refused_and_then_rate_limited(site):
    client = TestClient(site)
    for _ in range(5):
        assert sign_in(client, "det", "wrong-password").status_code == 401
    r = sign_in(client, "det")                   # even the right password, for a while
    assert r.status_code == 429 and "Too many" in r.text
    assert sign_in(TestClient(site), "boss").status_code == 303   # another name still can


def test_login_limiter_counts_per_name_and_address():
    limiter = LoginLimiter(limit=2, window_s=60)
    limiter.failed("1.2.3.4", "det")
    assert not limiter.blocked("1.2.3.4", "det")
    limiter.failed("1.2.3.4", "DET")
    assert limiter.blocked("1.2.3.4", "det") and not limiter.blocked("5.6.7.8", "det")
    limiter.succeeded("1.2.3.4", "det")
    assert not limiter.blocked("1.2.3.4", "det")


def test_incident_page_shows_the_canvass_and_records_the_view(site, tmp_path):
    client = TestClient(site)
    sign_in(client, "det")
    r = client.get("/incidents?q=004120")
    assert r.status_code == 200 and DEMO_ID in r.text
    page = client.get(f"/incidents/{DEMO_ID}").text
    assert "<svg" in page and "aria-label='map'" in page and "<path d='M" in page  # wedges
    assert "CITY-001" in page and "not in this clip" in page
    assert "unknown: ask now" in page or "probably overwritten" in page   # retention
    assert 'id="report"' in page and 'id="package"' in page
    with catalog.open_catalog(tmp_path / "videx.db") as cat:
        entry = cat.auditlog.entries(1)[0]
    assert entry["command"] == "canvass" and entry["acting_as"] == "web:det"
    assert entry["case_no"] == DEMO_ID


def test_forms_need_the_csrf_token_and_keep_history(site, tmp_path):
    client = TestClient(site)
    sign_in(client, "det")
    page = client.get(f"/incidents/{DEMO_ID}").text
    token = csrf_of(page)
    data = {"camera_id": "PRIV-001", "status": "requested", "note": "letter"}
    assert client.post(f"/incidents/{DEMO_ID}/outcome", data=data).status_code == 403
    assert client.post(f"/incidents/{DEMO_ID}/outcome",
                       data={**data, "csrf": "stale"}).status_code == 403
    r = client.post(f"/incidents/{DEMO_ID}/outcome", data={**data, "csrf": token},
                    follow_redirects=False)
    assert r.status_code == 303
    client.post(f"/incidents/{DEMO_ID}/outcome",
                data={**data, "status": "obtained", "note": "", "csrf": token})
    clip = re.search(r'href="/clips/(\d+)\?t=', page).group(1)
    client.post(f"/incidents/{DEMO_ID}/review",
                data={"clip_id": clip, "probative": "yes", "note": "figure", "csrf": token})
    with catalog.open_catalog(tmp_path / "videx.db") as cat:
        outcomes = cat.history.outcomes(DEMO_ID)
        reviews = cat.history.reviews(DEMO_ID)
    assert [o["status"] for o in outcomes] == ["requested", "obtained"]
    assert outcomes[0]["note"] == "letter" and outcomes[0]["acting_as"] == "web:det"
    assert reviews[-1]["probative"] == 1 and reviews[-1]["acting_as"] == "web:det"
    page = client.get(f"/incidents/{DEMO_ID}").text
    table = page[page.index('id="history-table"'):]
    assert "PRIV-001: requested" in table and "PRIV-001: obtained" in table   # both kept
    # signing out needs the token too
    assert client.post("/logout").status_code == 403
    assert client.post("/logout", data={"csrf": token}, follow_redirects=False).status_code == 303
    assert client.get("/incidents", follow_redirects=False).status_code == 303


def test_clips_are_served_by_catalogued_id_only_with_range_requests(site, tmp_path):
    client = TestClient(site)
    sign_in(client, "det")
    page = client.get(f"/incidents/{DEMO_ID}").text
    with catalog.open_catalog(tmp_path / "videx.db") as cat:
        clip_id, t, row = next(
            (c, t, row) for c, t in re.findall(r'href="/clips/(\d+)\?t=([\d.]+)', page)
            if (row := cat.clips.require(int(c)))["codec"] == "h264"
            and row["container"].startswith("mov,mp4"))
    original = open(row["path"], "rb").read()
    r = client.get(f"/clips/{clip_id}/media", headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == original[100:200]
    assert r.headers["content-range"] == f"bytes 100-199/{len(original)}"
    assert client.get(f"/clips/{clip_id}/media").content == original
    viewer = client.get(f"/clips/{clip_id}?t={t}&incident={DEMO_ID}").text
    assert f"#t={float(t):.3f}" in viewer and 'id="player"' in viewer
    for bad in ("/clips/999999/media", "/clips/abc/media", "/clips/..%2F..%2Fetc%2Fpasswd",
                "/clips/1/media/../../../etc/passwd"):
        assert client.get(bad).status_code == 404, bad
    with catalog.open_catalog(tmp_path / "videx.db") as cat:
        commands = [e["command"] for e in cat.auditlog.entries(10)]
    assert "view clip" in commands and "play clip" in commands


def test_other_codecs_get_a_labelled_h264_preview(site, tmp_path):
    client = TestClient(site)
    sign_in(client, "det")
    with catalog.open_catalog(tmp_path / "videx.db") as cat:
        mjpeg = next(c for c in cat.clips.list() if c["codec"] == "mjpeg")
    assert "H.264 preview" in client.get(f"/clips/{mjpeg['id']}").text
    r = client.get(f"/clips/{mjpeg['id']}/media")
    assert r.status_code == 200 and r.content[4:8] == b"ftyp"
    from videx.probe import probe
    preview = next((tmp_path / "cache").glob("preview-*.mp4"))
    assert probe(preview).codec == "h264"


def test_downloads_are_the_report_and_a_verifiable_package(site, tmp_path):
    client = TestClient(site)
    sign_in(client, "det")
    r = client.get(f"/incidents/{DEMO_ID}/report")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    assert DEMO_ID in r.text and "<svg" in r.text
    r = client.get(f"/incidents/{DEMO_ID}/package")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    folder = tmp_path / "unzipped"
    zipfile.ZipFile(io.BytesIO(r.content)).extractall(folder)
    from videx.evidence import verify_package
    result = verify_package(next(folder.iterdir()))
    assert result.exit_code == 0, result.problems()
    manifest = json.loads(next(folder.rglob("manifest.json")).read_text())
    assert manifest["incident"]["case_no"] == DEMO_ID
    assert manifest["incident"]["extracted_by"]["acting_as"] == "web:det"   # who, in the file


def test_roles_keep_detectives_out_of_admin_pages(site):
    det, boss = TestClient(site), TestClient(site)
    sign_in(det, "det")
    sign_in(boss, "boss")
    assert det.get("/audit").status_code == 403 and det.get("/users").status_code == 403
    audit_page = boss.get("/audit")
    assert audit_page.status_code == 200 and "audit log intact" in audit_page.text
    token = csrf_of(boss.get("/users").text)
    r = boss.post("/users", data={"csrf": token, "name": "new1", "role": "detective",
                                  "password": "new-password-1"})
    assert r.status_code == 200 and "new1" in r.text
    assert sign_in(TestClient(site), "new1", "new-password-1").status_code == 303


def test_html_in_records_is_escaped(site, tmp_path, run):
    with catalog.open_catalog(tmp_path / "videx.db") as cat:
        with cat.write("test"):
            cat.db.execute("UPDATE cameras SET name = ? WHERE id = ?",
                           ["<script>alert(1)</script>", "CITY-001"])
            cat.touch("cameras", "CITY-001")
    client = TestClient(site)
    sign_in(client, "det")
    for path in (f"/incidents/{DEMO_ID}", "/cameras/CITY-001"):
        text = client.get(path).text
        assert "<script>alert(1)</script>" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    r = client.get(f"/incidents/{DEMO_ID}")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"


def test_users_cli_reads_the_password_from_stdin_only(city, run, tmp_path):
    r = run("users", "add", "jdoe", "--role", "detective", "--password-stdin",
            input="a-long-password\n")
    assert r.exit_code == 0, r.output
    r = run("users", "add", "short", "--role", "detective", "--password-stdin", input="x\n")
    assert r.exit_code == 1 and "at least 10" in r.output
    listed = json.loads(run("users", "list", "--format", "json").output)
    assert listed == [{"name": "jdoe", "role": "detective", "created_at": listed[0]["created_at"],
                       "disabled": 0, "password_changed_at": listed[0]["created_at"]}]
    with catalog.open_catalog(tmp_path / "videx.db") as cat:
        stored = cat.db.scalar("SELECT password_hash FROM users WHERE name = 'jdoe'")
        entry = cat.auditlog.entries(1)[0]
    assert stored.startswith("$argon2id$") and "a-long-password" not in stored
    assert "a-long-password" not in entry["args"] and entry["command"] == "users add"


def test_the_web_interface_on_a_postgresql_catalog(ingested, pg_cluster, tmp_path, run):
    url = pg_cluster.database()
    assert run("db", "copy", tmp_path / "videx.db", url).exit_code == 0
    with catalog.open_catalog(url) as cat:
        users.add_user(cat, "det", "detective", PASSWORDS["det"])
    client = TestClient(create_app(url, secret="pg", cache_dir=tmp_path / "cache"))
    assert sign_in(client, "det").status_code == 303
    page = client.get(f"/incidents/{DEMO_ID}").text
    assert "<svg" in page and "CITY-001" in page
    token = csrf_of(page)
    r = client.post(f"/incidents/{DEMO_ID}/outcome", follow_redirects=False,
                    data={"csrf": token, "camera_id": "PRIV-001", "status": "requested"})
    assert r.status_code == 303
    with catalog.open_catalog(url) as cat:
        assert cat.history.outcomes(DEMO_ID)[-1]["acting_as"] == "web:det"
        from videx import audit
        assert audit.verify(cat, deep=True).ok


def test_analysts_run_the_study_and_detectives_cannot(site):
    det, ana = TestClient(site), TestClient(site)
    sign_in(det, "det")
    sign_in(ana, "ana")
    assert det.get("/study").status_code == 403
    token = csrf_of(ana.get("/study").text)
    r = ana.post("/study", data={"csrf": token, "exposure": "coverage", "covariates": ""})
    assert r.status_code == 200, r.text[-500:]
    headline = re.search(r'id="study-headline">([^<]+)<', r.text).group(1)
    assert "clearance" in headline or "risk ratio" in headline.lower()
    run_id = re.search(r'href="/study/(study-[^/]+)/report"', r.text).group(1)
    report = ana.get(f"/study/{run_id}/report")
    assert report.status_code == 200 and "data:image/png;base64" in report.text
    assert ana.get("/study/..%2F..%2Fetc/report").status_code == 404


def test_admins_import_a_registry_upload_with_row_errors_named(site, tmp_path):
    boss = TestClient(site)
    sign_in(boss, "boss")
    token = csrf_of(boss.get("/imports").text)
    good = "id,source,integration,lat,lon\nWEB-1,city,connected,41.76,-72.68\n"
    bad = good + "WEB-2,city,connected,99,-72.68\n"
    r = boss.post("/imports", data={"csrf": token, "kind": "cameras"},
                  files={"file": ("registry.csv", bad.encode(), "text/csv")})
    assert r.status_code == 200 and "nothing imported" in r.text and "registry.csv" in r.text
    assert "row 3" in r.text
    r = boss.post("/imports", data={"csrf": token, "kind": "cameras", "skip_bad": "yes"},
                  files={"file": ("registry.csv", bad.encode(), "text/csv")})
    assert "1 added" in r.text
    with catalog.open_catalog(tmp_path / "videx.db") as cat:
        assert cat.cameras.get("WEB-1") is not None and cat.cameras.get("WEB-2") is None
        assert cat.auditlog.entries(1)[0]["acting_as"] == "web:boss"
    det = TestClient(site)
    sign_in(det, "det")
    assert det.get("/imports").status_code == 403


def test_case_numbers_with_slashes_have_working_pages(site, run, tmp_path):
    path = tmp_path / "slash.csv"
    path.write_text("id,occurred_at,lat,lon,address\n"
                    "24/0123,2023-05-01T18:30:00Z,41.7602,-72.6856,Park St\n", encoding="utf-8")
    assert run("incidents", "import", path).exit_code == 0
    client = TestClient(site)
    sign_in(client, "det")
    listing = client.get("/incidents?q=24/0").text
    assert 'href="/incidents/24%2F0123"' in listing
    page = client.get("/incidents/24%2F0123")
    assert page.status_code == 200 and "Park St" in page.text
    r = client.post("/incidents/24%2F0123/outcome", follow_redirects=False,
                    data={"csrf": csrf_of(page.text), "camera_id": "PRIV-001",
                          "status": "requested"})
    assert r.status_code == 303 and r.headers["location"] == "/incidents/24%2F0123#history"
    with catalog.open_catalog(tmp_path / "videx.db") as cat:
        assert cat.history.outcomes("24/0123")[-1]["status"] == "requested"


def test_a_replaced_clip_file_is_not_served(site, tmp_path):
    client = TestClient(site)
    sign_in(client, "det")
    with catalog.open_catalog(tmp_path / "videx.db") as cat:
        clips = cat.clips.list()
    mp4 = next(c for c in clips if c["codec"] == "h264")
    mjpeg = next(c for c in clips if c["codec"] == "mjpeg")
    with open(mp4["path"], "ab") as fh:          # someone appended to the original
        fh.write(b"\0" * 10)
    assert client.get(f"/clips/{mp4['id']}/media").status_code == 404
    data = bytearray(open(mjpeg["path"], "rb").read())
    data[-100] ^= 0xFF                            # same size, other bytes
    open(mjpeg["path"], "wb").write(bytes(data))
    r = client.get(f"/clips/{mjpeg['id']}/media")
    assert r.status_code == 400 and "no longer matches its catalogued SHA-256" in r.text


def _listeners(port: int) -> int:
    """How many sockets listen on ``port`` (IPv4, from /proc/net/tcp)."""
    rows = open("/proc/net/tcp").read().splitlines()[1:]
    return sum(1 for r in rows if r.split()[1].endswith(f":{port:04X}") and r.split()[3] == "0A")


@pytest.mark.skipif(not __import__("os").path.exists("/proc/net/tcp"), reason="Linux only")
def test_serve_gives_each_worker_its_own_socket_and_stops_cleanly(site, tmp_path):
    """videx serve --workers 2: two listening sockets on the port (SO_REUSEPORT, so the kernel
    spreads connections over the workers instead of one worker taking most), pages on many
    connections, a second server on the same port refused in one line, SIGTERM stops all."""
    import http.client
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    env = {**os.environ, "VIDEX_SERVER_SECRET": "test", "VIDEX_DB": str(tmp_path / "videx.db")}
    argv = [sys.executable, "-m", "videx", "serve", "--port", str(port), "--workers", "2"]
    server = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while _listeners(port) < 2 and time.time() < deadline:
            time.sleep(0.2)
        assert _listeners(port) == 2
        for _ in range(12):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            for _ in range(2):
                conn.request("GET", "/login")
                response = conn.getresponse()
                assert response.status == 200 and b"csrf" in response.read()
            conn.close()
        second = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert "cannot listen on 127.0.0.1" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0, server.stderr.read()
    assert _listeners(port) == 0


def test_worker_sockets_give_connections_tcp_nodelay():
    """asyncio turns Nagle's algorithm off only on connections whose listening socket was
    made with proto IPPROTO_TCP; with proto 0 (as uvicorn's own --workers sockets) every
    keep-alive response waited ~40 ms for the client's delayed ACK."""
    import asyncio
    import socket

    from videx.web import _listening_socket
    sock = _listening_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    seen = []

    class Report(asyncio.Protocol):
        def connection_made(self, transport):
            seen.append(transport.get_extra_info("socket").getsockopt(
                socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def main():
        server = await asyncio.get_running_loop().create_server(Report, sock=sock)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await reader.read()
        writer.close()
        server.close()
    asyncio.run(main())
    assert seen and seen[0] != 0


@pytest.mark.sqlite_only     # holds the SQLite file's write lock from another process
def test_page_views_waiting_for_the_audit_lock_are_written_together(ingested, tmp_path,
                                                                    monkeypatch):
    """Views that arrive while the audit entries before them are being written go into the
    next transaction together; each caller returns only once its own entry is stored."""
    import threading

    from videx import audit
    from videx.web import AuditBatcher, CatalogPool
    location = str(tmp_path / "videx.db")
    with catalog.open_catalog(location) as cat:
        before = cat.auditlog.count()
    holder = hold_write_lock(location, 1.0)
    batches = []
    record_many = catalog.Catalog.record_many

    def counted(self, actions):
        batches.append(len(actions))
        return record_many(self, actions)
    monkeypatch.setattr(catalog.Catalog, "record_many", counted)
    batcher = AuditBatcher(CatalogPool(location))
    notes = [None] * 12

    def view(k):
        notes[k] = batcher.record(f"web:user{k}", "canvass", {"k": k}, DEMO_ID) or "stored"
    threads = [threading.Thread(target=view, args=(k,)) for k in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    holder.wait()
    assert notes == ["stored"] * 12            # every caller returned after its commit
    with catalog.open_catalog(location) as cat:
        entries = cat.auditlog.entries(12)
        assert cat.auditlog.count() == before + 12
        assert audit.verify(cat, deep=True).ok
    assert sorted(e["acting_as"] for e in entries) == sorted(f"web:user{k}" for k in range(12))
    assert sum(batches) == 12 and len(batches) <= 3    # two or three transactions, not 12
    first = 0
    for size in batches:                  # the entries of one batch: one transaction, one time
        assert len({e["at"] for e in entries[first:first + size]}) == 1
        first += size


@pytest.mark.sqlite_only     # holds the SQLite file's write lock from another process
def test_pages_waiting_for_their_audit_entry_do_not_hold_up_other_pages(site, tmp_path):
    """While another process holds the catalog's write lock, incident pages wait for their
    audit entries (nothing is shown before it is on record), but they wait outside the page
    threads: a search in the same worker is answered meanwhile."""
    import http.client
    import os
    import signal
    import socket
    import subprocess
    import sys
    import threading
    import time
    from urllib.parse import urlencode
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    location = str(tmp_path / "videx.db")
    env = {**os.environ, "VIDEX_SERVER_SECRET": "test", "VIDEX_DB": location}
    server = subprocess.Popen([sys.executable, "-m", "videx", "serve", "--port", str(port),
                               "--workers", "1"], env=env, stderr=subprocess.PIPE, text=True)

    def request(path, cookie="", form=None):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Cookie": cookie}
        if form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request("POST" if form is not None else "GET", path,
                     urlencode(form) if form is not None else None, headers)
        response = conn.getresponse()
        body = response.read().decode()
        conn.close()
        return response.status, body, (response.getheader("set-cookie") or "").split(";")[0]
    try:
        deadline = time.time() + 60
        while _listeners(port) < 1 and time.time() < deadline:
            time.sleep(0.2)
        _, page, cookie = request("/login")
        status, _, cookie = request("/login", cookie, {"csrf": csrf_of(page), "name": "det",
                                                       "password": PASSWORDS["det"],
                                                       "next": ""})
        assert status == 303
        holder = hold_write_lock(location, 4)
        statuses = []
        views = [threading.Thread(target=lambda: statuses.append(
            request(f"/incidents/{DEMO_ID}", cookie)[0])) for _ in range(6)]
        for t in views:                      # more waiting pages than page threads
            t.start()
        time.sleep(0.5)
        status, body, _ = request("/incidents?q=" + DEMO_ID[-6:], cookie)
        assert status == 200 and DEMO_ID in body
        assert holder.poll() is None         # answered while the lock was still held
        assert statuses == []                # the incident pages are still waiting
        for t in views:
            t.join(60)
        holder.wait()
        assert statuses == [200] * 6
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    with catalog.open_catalog(location) as cat:
        views = [e for e in cat.auditlog.entries(20) if e["command"] == "canvass"]
    assert len(views) >= 6 and all(e["acting_as"] == "web:det" for e in views)
