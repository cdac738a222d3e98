"""Real Chromium (Debian's chromium and chromium-driver, through Selenium) against the real
server (uvicorn on loopback), on a 390x844 phone screen and a 1366x900 desktop: a
detective's session from sign-in to sign-out, every page without sideways scrolling and
without serious accessibility violations (axe-core, from npm, run in the page), the player
with the moment marked, the synchronized view, a bookmark, the map over a basemap served by
videx, and the old cookie refused after signing out.

Waits are on conditions (``wait_for``), never on fixed sleeps. Set VIDEX_SCREENSHOTS=FOLDER
to keep screenshots of the main pages (docs/img is made so)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import DEMO_ID
from videx import catalog, users

ROOT = Path(__file__).resolve().parent.parent
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
DRIVER = shutil.which("chromedriver")
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
REASON = None
if not (DRIVER and BROWSER):
    REASON = "Chromium and ChromeDriver are needed (Debian: chromium chromium-driver)"
else:
    try:
        import selenium  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        REASON = "selenium and uvicorn are needed (pip install -e '.[test]')"
PHONE, DESKTOP = (390, 844), (1366, 900)
PASSWORD = "detective-pass-1"
NOW_ID = "HPD-NOW-0001"


@pytest.fixture(autouse=True)
def needs_browser():
    """Skip without Chromium/ChromeDriver, or fail when VIDEX_REQUIRE_BROWSER says they must
    be there (CI as root, where set-up installs them)."""
    if REASON:
        if os.environ.get("VIDEX_REQUIRE_BROWSER"):
            pytest.fail(f"VIDEX_REQUIRE_BROWSER is set but {REASON}")
        pytest.skip(REASON)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def start_server(app):
    import uvicorn
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                        log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    wait_for(lambda: srv.started, 60, "the server to start")
    return srv, thread, f"http://127.0.0.1:{port}"


@pytest.fixture
def server(ingested, tmp_path, run, monkeypatch):
    """The demo catalog, plus a shooting two hours ago at the same corner (cameras to request
    before their deadlines), served with a small PMTiles basemap; upload links work."""
    from test_web_field import make_pmtiles, png_tile

    from videx.basemap import world_px
    from videx.web import create_app
    when = (datetime.now(timezone.utc) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (tmp_path / "now.csv").write_text("id,occurred_at,lat,lon,address,neighborhood\n"
                                      f"{NOW_ID},{when},41.7602,-72.6856,Park St at Broad St,"
                                      "Frog Hollow\n")
    assert run("incidents", "import", tmp_path / "now.csv").exit_code == 0
    monkeypatch.setenv("VIDEX_LINK_KEY", str(tmp_path / "link.key"))
    assert run("init", "--link-key", "--public-url", "https://videx.example.org").exit_code == 0
    with catalog.open_catalog(tmp_path / "videx.db") as cat:
        users.add_user(cat, "det", "detective", PASSWORD)
        users.add_user(cat, "boss", "admin", "admin-pass-1234")
    tiles = {}
    for z in range(14, 19):
        cx, cy = (int(v // 256) for v in world_px(41.7602, -72.6856, z))
        for dx in (-2, -1, 0, 1, 2):
            for dy in (-2, -1, 0, 1, 2):
                tiles[(z, cx + dx, cy + dy)] = png_tile((226, 232, 240), 2)
    make_pmtiles(tmp_path / "city.pmtiles", tiles)
    app = create_app(str(tmp_path / "videx.db"), secret="browser-test",
                     cache_dir=tmp_path / "cache", basemap=str(tmp_path / "city.pmtiles"))
    srv, thread, url = start_server(app)
    yield url
    srv.should_exit = True
    thread.join(timeout=10)


def make_browser(tmp_path, size):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={size[0]},{size[1]}", "--hide-scrollbars",
                "--autoplay-policy=no-user-gesture-required", "--mute-audio",
                "--disable-background-networking", "--disable-component-update",
                "--no-first-run", "--disable-sync"):
        options.add_argument(arg)
    if size == PHONE:
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": {
            "width": size[0], "height": size[1], "pixelRatio": 2, "touch": True}})
    downloads = tmp_path / f"downloads-{size[0]}"
    downloads.mkdir()
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(120)
    driver.set_script_timeout(120)
    driver.downloads = downloads
    return driver


@pytest.fixture(params=[PHONE, DESKTOP], ids=["phone", "desktop"])
def browser(request, tmp_path):
    driver = make_browser(tmp_path, request.param)
    driver.size = request.param
    yield driver
    driver.quit()


def shot(driver, name: str, at=None) -> None:
    """Keep a screenshot of the viewport (``at``: an element scrolled to the top first)."""
    folder = os.environ.get("VIDEX_SCREENSHOTS")
    if folder:
        import base64
        if at is not None:
            driver.execute_script("arguments[0].scrollIntoView({block: 'start'})", at)
        Path(folder).mkdir(parents=True, exist_ok=True)
        kind = "phone" if driver.size == PHONE else "desktop"
        png = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
        (Path(folder) / f"{name}-{kind}.png").write_bytes(base64.b64decode(png["data"]))


def loaded(d):
    wait_for(lambda: d.execute_script("return document.readyState") == "complete",
             what="the page to load")


def fits(d, page: str) -> None:
    """The page lays out no wider than the screen (no sideways scrolling)."""
    loaded(d)
    width, view = d.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= view, f"{page}: {width} px wide on a {view} px screen"


def accessible(d, page: str) -> None:
    """axe-core finds no serious or critical violation on the page."""
    if not AXE.exists():
        if os.environ.get("VIDEX_REQUIRE_BROWSER"):
            pytest.fail(f"VIDEX_REQUIRE_BROWSER is set but {AXE} is missing (npm ci)")
        return
    loaded(d)
    d.execute_script(AXE.read_text(encoding="utf-8"))
    result = d.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(function (r) {"
        "  done(r.violations.map(function (v) { return {id: v.id, impact: v.impact,"
        "    nodes: v.nodes.slice(0, 3).map(function (n) { return n.html; })}; })); });")
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    assert not bad, f"{page}: {json.dumps(bad, indent=1)}"


def check(d, page: str) -> None:
    fits(d, page)
    accessible(d, page)


def sign_in(d, server, name="det", password=PASSWORD):
    from selenium.webdriver.common.by import By
    d.get(f"{server}/login")
    d.find_element(By.ID, "name").send_keys(name)
    d.find_element(By.ID, "password").send_keys(password)
    d.find_element(By.ID, "signin").click()
    wait_for(lambda: "/login" not in d.current_url, what="sign-in")


def click(d, element) -> None:
    d.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.click()


def test_a_detectives_session_on_phone_and_desktop(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    d = browser
    d.get(f"{server}/incidents/{NOW_ID}")
    assert "/login" in d.current_url                     # anonymous: sent to sign in
    check(d, "sign-in")
    shot(d, "login")
    d.find_element(By.ID, "name").send_keys("det")
    d.find_element(By.ID, "password").send_keys(PASSWORD)
    d.find_element(By.ID, "signin").click()
    wait_for(lambda: NOW_ID in d.title, what="the incident page after sign-in")

    # search by address
    d.get(f"{server}/incidents")
    d.find_element(By.ID, "q").send_keys("park st at broad")
    click(d, d.find_element(By.ID, "search"))
    wait_for(lambda: "q=park" in d.current_url, what="search results")
    results = d.find_element(By.ID, "results").text
    assert DEMO_ID in results and NOW_ID in results
    check(d, "search")
    shot(d, "incidents")

    # the shooting two hours ago: what to request leads the page, most urgent first
    click(d, d.find_element(By.LINK_TEXT, NOW_ID))
    wait_for(lambda: d.find_elements(By.ID, "request-now"), what="the urgent requests")
    check(d, "incident (urgent)")
    urgent = d.find_elements(By.CSS_SELECTOR, "#urgent tbody tr")
    assert len(urgent) >= 3
    assert re.search(r"\d+ d \d+ h left|retention unknown: ask now", urgent[0].text)
    top = d.execute_script("return document.getElementById('request-now')"
                           ".getBoundingClientRect().top + window.scrollY")
    map_top = d.execute_script("return document.getElementById('map-title')"
                               ".getBoundingClientRect().top + window.scrollY")
    assert top < map_top
    shot(d, "incident-now")

    # request every open private camera at once: each gets a request code and a status
    click(d, d.find_element(By.ID, "request-all"))
    wait_for(lambda: not d.find_elements(By.ID, "request-all"), what="the requests")
    codes = re.findall(r"[0-9A-Z]{4}-[0-9A-Z]{4}", d.find_element(By.ID, "urgent").text)
    assert codes
    check(d, "incident (requested)")
    d.get(f"{server}/requests")
    listed = d.find_element(By.ID, "requests-table").text
    assert all(c in listed for c in codes)
    check(d, "my requests")
    click(d, d.find_element(By.LINK_TEXT, codes[0]))
    wait_for(lambda: d.find_elements(By.ID, "upload-link"), what="the request page")
    assert "Your camera" not in d.title
    check(d, "a request")
    shot(d, "request")

    # the map over the basemap: Leaflet, tiles from videx, a camera's card on a tap
    d.get(f"{server}/incidents/{DEMO_ID}")
    wait_for(lambda: d.execute_script(
        "return document.querySelectorAll('#leaflet .leaflet-tile-loaded').length > 0"),
        what="basemap tiles")
    check(d, "incident")
    tile_urls = d.execute_script("return Array.from(document.querySelectorAll("
                                 "'#leaflet img.leaflet-tile')).map(function (i) { return i.src; })")
    assert tile_urls and all(u.startswith(f"{server}/basemap/") for u in tile_urls)
    markers = d.find_elements(By.CSS_SELECTOR, "#leaflet path.leaflet-interactive")
    assert len(markers) >= 10
    filled = d.execute_script(
        "return Array.from(document.querySelectorAll('#leaflet path')).filter("
        "function (p) { return p.getAttribute('fill') && p.getAttribute('fill') !== 'none'"
        " && p.getAttribute('fill-opacity') === '0.25'; }).length")
    assert filled >= 3                                # the in-view wedges
    labels = [e for e in d.find_elements(By.CSS_SELECTOR, ".leaflet-tooltip.camlabel")
              if e.value_of_css_property("visibility") == "visible"]
    boxes = [e.rect for e in labels]
    for i, a in enumerate(boxes):                     # visible labels never overlap
        for b in boxes[i + 1:]:
            assert (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                    or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])
    shot(d, "incident")

    # play a clip from the moment: the player starts there, the marker shows it
    link = next(a for a in d.find_elements(By.CSS_SELECTOR, "#clips a.play")
                if float(re.search(r"t=([\d.]+)", a.get_attribute("href")).group(1)) > 1)
    want = float(re.search(r"t=([\d.]+)", link.get_attribute("href")).group(1))
    click(d, link)
    wait_for(lambda: d.execute_script(
        "var v = document.getElementById('player'); return v && v.readyState >= 1;"),
        what="the clip's metadata")
    now = wait_for(lambda: d.execute_script(
        "var v = document.getElementById('player');"
        "return Math.abs(v.currentTime - arguments[0]) < 0.5 ? v.currentTime + 1e-9 : 0;",
        want), what="the player at the moment")
    assert abs(now - want) < 0.5
    marker = wait_for(lambda: d.find_elements(By.CSS_SELECTOR, "#track .mark.moment"),
                      what="the moment's marker")[0]
    assert marker.is_displayed()
    track = d.find_element(By.ID, "track").rect
    duration = d.execute_script("return document.getElementById('player').duration")
    assert abs((marker.rect["x"] + marker.rect["width"] / 2 - track["x"]) / track["width"]
               - want / duration) < 0.03
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d E[DS]T",
                    d.find_element(By.ID, "true-time").text)
    before = d.execute_script("return document.getElementById('player').currentTime")
    click(d, d.find_element(By.CSS_SELECTOR, "#controls button[data-step='1']"))
    wait_for(lambda: abs(d.execute_script("return document.getElementById('player')"
                                          ".currentTime") - before - 1) < 0.1,
             what="one second forward")
    check(d, "clip")
    shot(d, "clip", at=d.find_element(By.TAG_NAME, "h1"))

    # a bookmark where the clip is paused
    note = d.find_element(By.ID, "bookmark-note")
    note.send_keys("white sedan at the corner")
    click(d, d.find_element(By.ID, "bookmark-save"))
    wait_for(lambda: "white sedan at the corner" in (
        d.find_elements(By.ID, "bookmark-list") or [None])[0].text
        if d.find_elements(By.ID, "bookmark-list") else False, what="the bookmark")
    assert d.find_elements(By.CSS_SELECTOR, "#track .mark.bookmark")

    # the synchronized view: every clip at the moment, one control
    d.get(f"{server}/incidents/{DEMO_ID}/sync")
    videos = d.find_elements(By.CSS_SELECTOR, "#syncgrid video")
    assert len(videos) >= 3
    wait_for(lambda: d.execute_script(
        "return Array.from(document.querySelectorAll('#syncgrid video'))"
        ".every(function (v) { return v.readyState >= 2; })"), what="the clips to load")
    check(d, "synchronized view")
    shot(d, "sync")
    click(d, d.find_element(By.ID, "sync-play"))
    rel = "return Array.from(document.querySelectorAll('#syncgrid figure')).map(function (f)" \
          " { return f.querySelector('video').currentTime - parseFloat(f.dataset.offset); })"
    wait_for(lambda: min(d.execute_script(rel)) > 0.5, what="every clip playing on")
    click(d, d.find_element(By.ID, "sync-play"))       # pause all
    wait_for(lambda: d.execute_script(
        "return Array.from(document.querySelectorAll('#syncgrid video'))"
        ".every(function (v) { return v.paused; })"), what="all paused")
    values = d.execute_script(rel)
    assert max(values) - min(values) < 0.5, values     # together
    click(d, d.find_element(By.ID, "sync-moment"))
    wait_for(lambda: max(abs(x) for x in d.execute_script(rel)) < 0.1, what="back at the moment")

    # a detective cannot reach admin pages
    d.get(f"{server}/audit")
    assert "Not allowed" in d.page_source

    # sign out: the old cookie is refused afterwards
    d.get(f"{server}/incidents")
    old = d.get_cookie("videx")
    click(d, d.find_element(By.ID, "signout"))
    wait_for(lambda: "/login" in d.current_url, what="the sign-in page")
    d.delete_all_cookies()
    d.add_cookie({"name": "videx", "value": old["value"], "path": "/"})
    d.get(f"{server}/incidents/{DEMO_ID}")
    assert "/login" in d.current_url


def test_admin_pages_in_chromium(server, browser):
    from selenium.webdriver.common.by import By
    d = browser
    sign_in(d, server, "boss", "admin-pass-1234")
    d.get(f"{server}/incidents/{DEMO_ID}")
    loaded(d)
    for page in ("/audit", "/users", "/imports", "/study"):
        d.get(server + page)
        check(d, page)
    d.get(f"{server}/audit?case={DEMO_ID}")
    assert d.find_element(By.ID, "audit-check").text.startswith("audit log intact")
    assert "web:boss" in d.page_source                   # the canvass above, by the user
    shot(d, "audit")


class CuttingProxy:
    """A TCP relay between the browser and the server that drops every connection once,
    after ``cut_after`` bytes went up, and refuses connections for ``down_s`` seconds: a
    phone losing its signal in the middle of an upload."""

    def __init__(self, target_port: int, cut_after: int, down_s: float = 2.0):
        self.target, self.cut_after, self.down_s = target_port, cut_after, down_s
        self.up_bytes, self.cut_at, self.down_until = 0, None, 0.0
        self.lock = threading.Lock()
        self.conns: list[socket.socket] = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if time.monotonic() < self.down_until:
                client.close()
                continue
            server = socket.create_connection(("127.0.0.1", self.target))
            with self.lock:
                self.conns += [client, server]
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False),
                             daemon=True).start()

    def _pump(self, src, dst, up):
        try:
            while data := src.recv(256 * 1024):
                dst.sendall(data)
                if up:
                    with self.lock:
                        self.up_bytes += len(data)
                        cut = self.cut_at is None and self.up_bytes >= self.cut_after
                        if cut:
                            self.cut_at = self.up_bytes
                            self.down_until = time.monotonic() + self.down_s
                    if cut:
                        self._drop_all()
                        return
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib_suppress():
                    s.close()

    def _drop_all(self):
        with self.lock:
            conns, self.conns = self.conns, []
        for s in conns:
            with contextlib_suppress():
                s.shutdown(socket.SHUT_RDWR)
            with contextlib_suppress():
                s.close()

    def close(self):
        self.listener.close()
        self._drop_all()


def contextlib_suppress():
    import contextlib
    return contextlib.suppress(OSError)


def vm_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(field)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_an_owner_uploads_a_large_video_through_a_dropped_connection(city, run, tmp_path,
                                                                     monkeypatch):
    """A real Chromium on a phone screen sends a ~250 MB video through the owner's link;
    the connection drops halfway and comes back: the upload continues from where it stopped
    (not from the start), the file is catalogued with its SHA-256, and the server's memory
    stays flat."""
    import hashlib
    import signal
    import subprocess
    import sys

    from selenium.webdriver.common.by import By
    monkeypatch.setenv("VIDEX_LINK_KEY", str(tmp_path / "link.key"))
    assert run("init", "--link-key", "--public-url", "https://videx.example.org",
               "--evidence-store", tmp_path / "store").exit_code == 0
    assert run("requests", "create", DEMO_ID, "--camera", "RING-002").exit_code == 0
    assert run("users", "add", "det", "--role", "detective", "--password-stdin",
               input=PASSWORD).exit_code == 0
    (made,) = json.loads(run("requests", "list", "--format", "json").stdout)
    path = made["upload_url"].removeprefix("https://videx.example.org")
    video = tmp_path / "IMG_0042.avi"
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=1280x720:rate=25,noise=alls=60:allf=t", "-t", "12",
                    "-c:v", "mjpeg", "-q:v", "1", "-pix_fmt", "yuvj420p", str(video)],
                   check=True, timeout=600)
    size = video.stat().st_size
    assert size > 150 * 2**20
    digest = hashlib.sha256(video.read_bytes()).hexdigest()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "videx", "serve", "--port", str(port),
                               "--workers", "1"], env={**os.environ,
                                                       "VIDEX_SERVER_SECRET": "t"},
                              stderr=subprocess.DEVNULL)
    proxy = CuttingProxy(port, cut_after=size // 2)
    d = make_browser(tmp_path, PHONE)
    d.size = PHONE
    try:
        import urllib.request

        def up():
            assert server.poll() is None, "the server exited"
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{port}{path}",
                                              timeout=5).status == 200
            except OSError:
                return False
        wait_for(up, 60, "the server")
        before = vm_kb(server.pid, "VmRSS")
        d.get(f"http://127.0.0.1:{proxy.port}{path}")
        check(d, "the owner's upload page")
        shot(d, "upload")
        d.find_element(By.ID, "file").send_keys(str(video))
        d.find_element(By.ID, "start").send_keys("14:30:00")
        d.find_element(By.ID, "sender").send_keys("Pat Owner")
        click(d, d.find_element(By.ID, "send"))
        wait_for(lambda: d.find_elements(By.ID, "upload-done"), 600, "the upload to finish")
        text = d.find_element(By.ID, "upload-list").text
        shot(d, "upload-done", at=d.find_element(By.ID, "upload-list"))
        assert "Received and kept as evidence" in text and digest in text, text
        assert proxy.cut_at is not None                     # the connection did drop
        assert proxy.up_bytes < size * 1.25                 # resumed, not sent again whole
        peak = vm_kb(server.pid, "VmHWM")
        assert peak - before < 60 * 1024, (before, peak)    # memory flat (kB)
    finally:
        d.quit()
        proxy.close()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    with catalog.open_catalog(os.environ["VIDEX_DB"]) as cat:
        (clip,) = cat.clips.list()
        from videx import audit
        assert clip["sha256"] == digest and clip["camera_id"] == "RING-002"
        assert audit.verify(cat, deep=True).ok
