"""Real Chromium (Debian's chromium and chromium-driver, through Selenium) against the real
server (uvicorn on loopback): a detective's session from sign-in to sign-out.

Set VIDEX_SCREENSHOTS=FOLDER to keep screenshots of the main pages (docs/img is made so)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from conftest import DEMO_ID
from videx import catalog, users

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


@pytest.fixture(autouse=True)
def needs_browser():
    """Skip without Chromium/ChromeDriver, or fail when VIDEX_REQUIRE_BROWSER says they must
    be there (CI as root, where set-up installs them)."""
    if REASON:
        if os.environ.get("VIDEX_REQUIRE_BROWSER"):
            pytest.fail(f"VIDEX_REQUIRE_BROWSER is set but {REASON}")
        pytest.skip(REASON)

PASSWORD = "detective-pass-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(ingested, tmp_path):
    import uvicorn

    from videx.web import create_app
    with catalog.open_catalog(tmp_path / "videx.db") as cat:
        users.add_user(cat, "det", "detective", PASSWORD)
        users.add_user(cat, "boss", "admin", "admin-pass-1234")
    port = free_port()
    app = create_app(str(tmp_path / "videx.db"), secret="browser-test",
                     cache_dir=tmp_path / "cache")
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                        log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    assert srv.started, "the server did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1000", "--autoplay-policy=no-user-gesture-required",
                "--mute-audio"):
        options.add_argument(arg)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(60)
    driver.downloads = downloads
    yield driver
    driver.quit()


def shot(driver, name: str) -> None:
    folder = os.environ.get("VIDEX_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"{name}.png"))


def wait_for(predicate, timeout: float = 20.0, what: str = "condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_detectives_session_in_chromium(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    d = browser
    d.get(f"{server}/incidents/{DEMO_ID}")
    assert "/login" in d.current_url                     # anonymous: sent to sign in
    shot(d, "login")
    d.find_element(By.ID, "name").send_keys("det")
    d.find_element(By.ID, "password").send_keys(PASSWORD)
    d.find_element(By.ID, "signin").click()
    wait_for(lambda: DEMO_ID in d.title, what="the incident page after sign-in")

    # find the incident from the search page too
    d.get(f"{server}/incidents")
    d.find_element(By.ID, "q").send_keys("004120")
    d.find_element(By.ID, "search").click()
    wait_for(lambda: "q=004120" in d.current_url, what="search results")
    shot(d, "incidents")
    d.find_element(By.LINK_TEXT, DEMO_ID).click()
    wait_for(lambda: d.find_elements(By.CSS_SELECTOR, "#map svg"), what="the map")
    rows = d.find_elements(By.CSS_SELECTOR, "#cameras tbody tr")
    assert len(rows) >= 5
    wedges = d.find_elements(By.CSS_SELECTOR, "#map svg path")
    assert len(wedges) >= 3                              # view wedges and the incident star
    shot(d, "incident")

    # play a clip from the moment
    links = [a for a in d.find_elements(By.CSS_SELECTOR, "#clips a.play")
             if float(re.search(r"t=([\d.]+)", a.get_attribute("href")).group(1)) > 1]
    assert links, "no clip contains the moment"
    want = float(re.search(r"t=([\d.]+)", links[0].get_attribute("href")).group(1))
    links[0].click()
    wait_for(lambda: d.execute_script(
        "var v = document.getElementById('player'); return v && v.readyState >= 1;"),
        what="the clip's metadata")
    now = wait_for(lambda: d.execute_script(
        "var v = document.getElementById('player');"
        "return Math.abs(v.currentTime - arguments[0]) < 0.5 ? v.currentTime + 1e-9 : 0;",
        want), what="the player at the moment")
    assert abs(now - want) < 0.5
    assert d.execute_script("return document.getElementById('player').error") is None
    shot(d, "clip")

    # record an outcome; it shows in the history
    d.get(f"{server}/incidents/{DEMO_ID}")
    d.find_element(By.ID, "outcome-note").send_keys("letter sent from the browser")
    d.find_element(By.ID, "outcome-save").click()
    wait_for(lambda: "letter sent from the browser" in
             d.find_element(By.ID, "history-table").text, what="the outcome in the history")

    # a POST without the form's token is refused
    status = d.execute_script(
        "var x = new XMLHttpRequest(); x.open('POST', arguments[0], false);"
        "x.setRequestHeader('Content-Type', 'application/x-www-form-urlencoded');"
        "x.send('camera_id=PRIV-001&status=declined'); return x.status;",
        f"/incidents/{DEMO_ID}/outcome")
    assert status == 403

    # download the incident report
    d.find_element(By.ID, "report").click()
    report = wait_for(lambda: [p for p in d.downloads.glob("report-*.html")],
                      what="the downloaded report")
    assert DEMO_ID in report[0].read_text(encoding="utf-8")

    # a detective cannot reach admin pages
    d.get(f"{server}/audit")
    assert "Not allowed" in d.page_source

    # sign out
    d.get(f"{server}/incidents")
    d.find_element(By.ID, "signout").click()
    wait_for(lambda: "/login" in d.current_url, what="the sign-in page")
    d.get(f"{server}/incidents")
    assert "/login" in d.current_url


def test_admin_audit_page_in_chromium(server, browser):
    from selenium.webdriver.common.by import By
    d = browser
    d.get(f"{server}/login")
    d.find_element(By.ID, "name").send_keys("boss")
    d.find_element(By.ID, "password").send_keys("admin-pass-1234")
    d.find_element(By.ID, "signin").click()
    wait_for(lambda: "/incidents" in d.current_url, what="sign-in")
    d.get(f"{server}/incidents/{DEMO_ID}")
    d.get(f"{server}/audit")
    check = d.find_element(By.ID, "audit-check").text
    assert check.startswith("audit log intact")
    assert "web:boss" in d.page_source                   # the canvass above, by the user
    shot(d, "audit")
