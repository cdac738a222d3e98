"""The web interface as a detective works from it in the field, through the real HTTP stack
(Starlette's test client): sessions that really end, the client's address behind a proxy,
user management, the audit page, search by address and dates, cameras near a place, the
player's moment, bookmarks, the synchronized view, a basemap served by videx itself, and
the display model's words."""

from __future__ import annotations

import io
import json
import re
import time
import zipfile

import pytest

from conftest import DEMO_ID
from videx import catalog, display, users

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from videx.web import create_app  # noqa: E402

PASSWORDS = {"det": "detective-pass-1", "boss": "admin-pass-1234"}
ROLES = {"det": "detective", "boss": "admin"}


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def sign_in(client, name, password=None, headers=None):
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"csrf": token, "name": name,
                                       "password": password or PASSWORDS[name], "next": ""},
                       headers=headers or {}, follow_redirects=False)


@pytest.fixture
def location(ingested, tmp_path):
    with catalog.open_catalog(tmp_path / "videx.db") as cat:
        for name, password in PASSWORDS.items():
            users.add_user(cat, name, ROLES[name], password)
    return str(tmp_path / "videx.db")


@pytest.fixture
def site(location, tmp_path):
    return create_app(location, secret="test-secret", cache_dir=tmp_path / "cache")


def entries(location, n=20):
    with catalog.open_catalog(location) as cat:
        return cat.auditlog.entries(n)


# ------------------------------------------------------------ sessions
def test_signing_out_ends_the_session_the_old_cookie_is_refused(site, location):
    client = TestClient(site)
    assert sign_in(client, "det").status_code == 303
    stolen = dict(client.cookies)                       # a copy of the signed-in cookie
    page = client.get(f"/incidents/{DEMO_ID}")
    assert page.status_code == 200
    assert client.post("/logout", data={"csrf": csrf_of(page.text)},
                       follow_redirects=False).status_code == 303
    replay = TestClient(site, cookies=stolen)
    r = replay.get(f"/incidents/{DEMO_ID}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    r = replay.post(f"/incidents/{DEMO_ID}/outcome", follow_redirects=False,
                    data={"csrf": csrf_of(page.text), "camera_id": "PRIV-001",
                          "status": "declined"})
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    with catalog.open_catalog(location) as cat:
        assert cat.history.outcomes(DEMO_ID) == []          # nothing recorded by the replay
        assert cat.sessions.counts() == {}
    commands = [e["command"] for e in entries(location)]
    assert "sign in" in commands and "sign out" in commands


def test_a_session_works_on_every_instance_and_ends_on_all(location, tmp_path):
    """Two servers on one catalog (how a department adds capacity): one sign-in works on
    both, and signing out on one ends it on the other."""
    a = create_app(location, secret="shared", cache_dir=tmp_path / "a")
    b = create_app(location, secret="shared", cache_dir=tmp_path / "b")
    on_a = TestClient(a)
    assert sign_in(on_a, "det").status_code == 303
    on_b = TestClient(b, cookies=dict(on_a.cookies))
    page = on_b.get(f"/incidents/{DEMO_ID}")
    assert page.status_code == 200 and DEMO_ID in page.text
    assert on_b.post("/logout", data={"csrf": csrf_of(page.text)},
                     follow_redirects=False).status_code == 303
    assert on_a.get("/incidents", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("change", ["disable", "role", "password"])
def test_disabling_a_user_or_a_new_role_or_password_ends_their_sessions(site, location, change):
    det, boss = TestClient(site), TestClient(site)
    sign_in(det, "det")
    sign_in(boss, "boss")
    assert det.get("/incidents").status_code == 200
    token = csrf_of(boss.get("/users").text)
    form = {"csrf": token, "name": "det", "action": change, "role": "analyst",
            "password": "a-new-password-9"}
    r = boss.post("/users", data=form)
    assert r.status_code == 200 and "det" in r.text
    assert det.get("/incidents", follow_redirects=False).status_code == 303   # ended
    with catalog.open_catalog(location) as cat:
        row = cat.db.one("SELECT role, disabled FROM users WHERE name = 'det'")
        last = cat.auditlog.entries(1)[0]
    assert last["acting_as"] == "web:boss" and "a-new-password-9" not in last["args"]
    fresh = TestClient(site)
    if change == "disable":
        assert row["disabled"] == 1 and last["command"] == "users disable"
        assert sign_in(fresh, "det").status_code == 401
    elif change == "role":
        assert row["role"] == "analyst" and last["command"] == "users set-role"
        assert sign_in(fresh, "det").status_code == 303
        assert fresh.get("/study").status_code == 200          # the new role's pages
    else:
        assert last["command"] == "users reset-password"
        assert sign_in(fresh, "det").status_code == 401          # the old password
        assert sign_in(fresh, "det", "a-new-password-9").status_code == 303


def test_an_admin_cannot_disable_themselves(site):
    boss = TestClient(site)
    sign_in(boss, "boss")
    r = boss.post("/users", data={"csrf": csrf_of(boss.get("/users").text), "name": "boss",
                                  "action": "disable"})
    assert r.status_code == 400 and "cannot disable yourself" in r.text


def test_an_idle_session_expires(location, tmp_path):
    site = create_app(location, secret="s", cache_dir=tmp_path / "c", idle_timeout_s=1)
    client = TestClient(site)
    sign_in(client, "det")
    assert client.get("/incidents").status_code == 200
    deadline = time.monotonic() + 30
    while client.get("/incidents", follow_redirects=False).status_code == 200:
        assert time.monotonic() < deadline, "the session did not expire"
        time.sleep(0.5)          # every request re-signs the cookie: wait without requests
        time.sleep(1.0)


def test_a_session_ends_after_its_maximum_age(location, tmp_path):
    site = create_app(location, secret="s", cache_dir=tmp_path / "c", session_max_s=0.5)
    client = TestClient(site)
    sign_in(client, "det")
    deadline = time.monotonic() + 30
    while client.get("/incidents", follow_redirects=False).status_code == 200:
        assert time.monotonic() < deadline
        time.sleep(0.2)


# ------------------------------------------------------------ the client's address
def test_x_forwarded_for_is_ignored_without_a_trusted_proxy(site, location):
    client = TestClient(site)
    for k in range(5):                 # a different forged address each time
        r = sign_in(client, "det", "wrong-password", {"X-Forwarded-For": f"10.9.9.{k}"})
        assert r.status_code == 401
    assert sign_in(client, "det", headers={"X-Forwarded-For": "10.9.9.99"}).status_code == 429
    addresses = {json.loads(e["args"])["address"] for e in entries(location)
                 if e["command"] == "sign in refused"}
    assert addresses == {"testclient"}                 # the real peer, never the header


def test_behind_a_trusted_proxy_each_client_is_limited_on_its_own(location, tmp_path):
    """21 wrong sign-ins under random names from one client behind the proxy stop that
    client only: another client signs in, and the audit log has each real address."""
    site = create_app(location, secret="s", cache_dir=tmp_path / "c",
                      trusted_proxies=("127.0.0.1",))
    proxy = ("127.0.0.1", 40000)           # every request arrives from the proxy
    attacker, colleague = TestClient(site, client=proxy), TestClient(site, client=proxy)
    for k in range(21):
        r = sign_in(attacker, f"nobody{k}", "wrong-password-1",
                    {"X-Forwarded-For": "203.0.113.7, 192.0.2.1"})
        assert r.status_code in (401, 429)
    assert sign_in(attacker, "det", headers={"X-Forwarded-For": "192.0.2.1"}).status_code == 429
    assert sign_in(colleague, "det",
                   headers={"X-Forwarded-For": "198.51.100.23"}).status_code == 303
    got = [json.loads(e["args"])["address"] for e in entries(location, 40)
           if e["command"] in ("sign in", "sign in refused")]
    assert "198.51.100.23" in got and "192.0.2.1" in got and "203.0.113.7" not in got


def test_a_trusted_proxy_rule_takes_the_nearest_untrusted_hop():
    from types import SimpleNamespace

    from videx.web.sessions import ProxyRule
    rule = ProxyRule(("10.0.0.0/8", "127.0.0.1"))

    def request(peer, header):
        return SimpleNamespace(client=SimpleNamespace(host=peer),
                               headers={"x-forwarded-for": header} if header else {})
    assert rule.client(request("127.0.0.1", "198.51.100.4, 10.1.2.3")) == "198.51.100.4"
    assert rule.client(request("192.0.2.9", "198.51.100.4")) == "192.0.2.9"   # not trusted
    assert rule.client(request("127.0.0.1", "not-an-address")) == "127.0.0.1"
    assert rule.client(request("127.0.0.1", "")) == "127.0.0.1"


def test_serve_refuses_a_bad_trusted_proxy_and_basemap_in_one_line(location, run):
    r = run("serve", "--db", location, "--trusted-proxy", "proxy.example")
    assert r.exit_code == 2 and "--trusted-proxy" in r.output and "Traceback" not in r.output
    r = run("serve", "--db", location, "--basemap", "/no/such/map.pmtiles")
    assert r.exit_code == 2 and "no such PMTiles file" in r.output


# ------------------------------------------------------------ the audit page
def test_the_audit_page_is_newest_first_in_local_time_and_filters(site, location):
    det, boss = TestClient(site), TestClient(site)
    sign_in(det, "det")
    det.get(f"/incidents/{DEMO_ID}")
    sign_in(boss, "boss")
    page = boss.get("/audit").text
    ids = [int(i) for i in re.findall(r'<td data-label="#">(\d+)</td>', page)]
    assert ids == sorted(ids, reverse=True) and len(ids) > 3
    assert "EDT" in page or "EST" in page                      # the catalog's zone
    assert "radius m 250" in page.replace("_", " ")            # readable details, not JSON
    by_case = boss.get(f"/audit?case={DEMO_ID}").text
    rows = re.findall(r'<td data-label="Case">(.*?)</td>', by_case)
    assert rows and all(DEMO_ID in r for r in rows)
    by_person = boss.get("/audit?who=web:det").text
    who = re.findall(r'<td data-label="Who">(.*?)<br>', by_person)
    assert who and set(who) == {"web:det"}


# ------------------------------------------------------------ search
def test_search_by_address_neighborhood_and_local_dates(site):
    client = TestClient(site)
    sign_in(client, "det")
    by_address = client.get("/incidents?q=park st").text
    assert DEMO_ID in by_address
    assert DEMO_ID in client.get("/incidents?neighborhood=frog").text      # substring
    day = client.get("/incidents?from=2023-05-01&to=2023-05-01").text        # that local day
    assert DEMO_ID in day
    assert DEMO_ID not in client.get("/incidents?from=2023-05-02&to=2023-05-31").text
    bad = client.get("/incidents?q=park&from=May 1st")
    assert bad.status_code == 400
    assert "type a date like 2023-05-01" in bad.text and 'value="park"' in bad.text
    assert "--" not in re.search(r'id="search-error">([^<]*)<', bad.text).group(1)   # words


def test_cameras_near_a_place_at_a_time(site, location):
    client = TestClient(site)
    sign_in(client, "det")
    r = client.get("/near", params={"place": "Park St at Broad", "time": "2023-05-01 14:30"})
    assert r.status_code == 200 and "Cameras near Park St at Broad" in r.text
    assert "CITY-001" in r.text and "at 0:00:04" in r.text          # the clip and the moment
    last = entries(location, 1)[0]
    assert last["command"] == "canvass" and json.loads(last["args"])["place"] == \
        "Park St at Broad"
    r = client.get("/near", params={"place": "41.7602,-72.6856", "time": "2023-05-01 14:30"})
    assert r.status_code == 200 and "CITY-001" in r.text
    r = client.get("/near", params={"place": "Nowhere Lane", "time": "2023-05-01 14:30"})
    assert r.status_code == 400 and "No catalogued incident or camera" in r.text
    assert 'value="Nowhere Lane"' in r.text                             # the form is kept
    r = client.get("/near", params={"place": "Park St", "time": "yesterday-ish"})
    assert r.status_code == 400 and "type a date and time like" in r.text


# ------------------------------------------------------------ the player and bookmarks
def test_the_player_says_where_the_moment_is_and_links_the_next_camera(site):
    client = TestClient(site)
    sign_in(client, "det")
    page = client.get(f"/incidents/{DEMO_ID}").text
    inside = re.search(r'href="/clips/(\d+)\?t=([\d.]+)&amp;incident=[^"]+">clip \d+</a></td>'
                       r'\s*<td data-label="Camera">[^<]+</td>\s*<td data-label="Start">[^<]+'
                       r'</td>\s*<td data-label="Length">[^<]+</td>\s*<td data-label="The '
                       r'moment">at ', page)
    clip_id, t = inside.group(1), inside.group(2)
    viewer = client.get(f"/clips/{clip_id}?t={t}&incident={DEMO_ID}").text
    player = json.loads(re.search(r'data-player="([^"]+)"', viewer).group(1)
                        .replace("&#34;", '"').replace("&quot;", '"'))
    assert abs(player["moment_offset_s"] - float(t)) < 0.01
    assert player["zone"] == "America/New_York" and player["fps"] > 0
    assert "(red mark)" in viewer and 'id="next-camera"' in viewer
    outside = re.search(r'href="/clips/(\d+)\?t=0.000&amp;incident=', page).group(1)
    text = client.get(f"/clips/{outside}?incident={DEMO_ID}").text
    assert re.search(r"is not in this clip: it (starts|ends) \d+ (s|min) (after|before)", text)
    assert "From 0:00:00 (the moment" not in text


def test_a_bookmark_is_audited_and_shows_everywhere(site, location, tmp_path):
    client = TestClient(site)
    sign_in(client, "det")
    page = client.get(f"/incidents/{DEMO_ID}").text
    clip_id = re.search(r'href="/clips/(\d+)\?t=([\d.]+)&amp;incident=[^"]+">clip', page).group(1)
    viewer = client.get(f"/clips/{clip_id}?incident={DEMO_ID}").text
    r = client.post(f"/incidents/{DEMO_ID}/bookmark", follow_redirects=False,
                    data={"csrf": csrf_of(viewer), "clip_id": clip_id, "offset_s": "2.5",
                          "note": "<b>white sedan</b> enters"})
    assert r.status_code == 303 and f"/clips/{clip_id}?t=2.500" in r.headers["location"]
    viewer = client.get(f"/clips/{clip_id}?incident={DEMO_ID}").text
    assert "&lt;b&gt;white sedan&lt;/b&gt; enters" in viewer and "0:00:02" in viewer
    assert "<b>white sedan</b>" not in viewer
    assert "white sedan" in client.get(f"/incidents/{DEMO_ID}").text
    assert "white sedan" in client.get(f"/incidents/{DEMO_ID}/report").text
    package = zipfile.ZipFile(io.BytesIO(client.get(f"/incidents/{DEMO_ID}/package").content))
    manifest = json.loads(package.read(next(n for n in package.namelist()
                                            if n.endswith("manifest.json"))))
    assert manifest["incident"]["bookmarks"][0]["note"] == "<b>white sedan</b> enters"
    assert manifest["incident"]["bookmarks"][0]["offset_s"] == 2.5
    with catalog.open_catalog(location) as cat:
        entry = next(e for e in cat.auditlog.entries(10) if e["command"] == "bookmark")
        from videx import audit
        assert audit.verify(cat, deep=True).ok
    assert entry["acting_as"] == "web:det" and entry["case_no"] == DEMO_ID
    bad = client.post(f"/incidents/{DEMO_ID}/bookmark",
                      data={"csrf": csrf_of(viewer), "clip_id": clip_id, "offset_s": "9999",
                            "note": "beyond the end"})
    assert bad.status_code == 400 and "is not inside clip" in bad.text


def test_bookmarks_from_the_command_line(ingested, run, open_db):
    with open_db() as cat:
        clip = cat.clips.list()[0]
    r = run("bookmark", DEMO_ID, clip["id"], "--at", "+0:00:03", "--note", "muzzle flash")
    assert r.exit_code == 0, r.output
    assert "0:00:03" in r.output
    r = run("bookmark", DEMO_ID, clip["id"], "--at", "3 minutes", "--note", "x")
    assert r.exit_code == 2 and "--at" in r.output
    with open_db() as cat:
        marks = cat.bookmarks.for_incident(DEMO_ID)
    assert [(m["clip_id"], m["offset_s"], m["note"]) for m in marks] == \
        [(clip["id"], 3.0, "muzzle flash")]


def test_the_synchronized_view_holds_every_clip_at_the_moment(site):
    client = TestClient(site)
    sign_in(client, "det")
    page = client.get(f"/incidents/{DEMO_ID}").text
    at_moment = set(re.findall(r'href="/clips/(\d+)\?t=(?!0\.000)[\d.]+&amp;incident=', page))
    sync = client.get(f"/incidents/{DEMO_ID}/sync").text
    in_grid = set(re.findall(r'src="/clips/(\d+)/media\?incident=', sync))
    assert in_grid == at_moment and len(in_grid) >= 3
    offsets = [float(x) for x in re.findall(r'data-offset="([\d.]+)"', sync)]
    assert all(o > 0 for o in offsets)


# ------------------------------------------------------------ the map and its basemap
def png_tile(colour: tuple[int, int, int], streets: int = 0) -> bytes:
    """A 256-pixel PNG tile of one colour, with ``streets`` white lines across it."""
    import cv2
    import numpy as np
    img = np.zeros((256, 256, 3), np.uint8)
    img[:] = colour
    for k in range(1, streets + 1):
        at = k * 256 // (streets + 1)
        cv2.line(img, (0, at), (255, at), (255, 255, 255), 6)
        cv2.line(img, (at, 0), (at, 255), (255, 255, 255), 6)
    return cv2.imencode(".png", img)[1].tobytes()


def make_pmtiles(path, tiles: dict[tuple[int, int, int], bytes], tile_type: str = "PNG"):
    """A small raster PMTiles file (the way a department's basemap comes)."""
    from pmtiles.tile import Compression, TileType, zxy_to_tileid
    from pmtiles.writer import Writer
    with open(path, "wb") as fh:
        writer = Writer(fh)
        for (z, x, y), data in sorted(tiles.items(), key=lambda t: zxy_to_tileid(*t[0])):
            writer.write_tile(zxy_to_tileid(z, x, y), data)
        zooms = [z for z, _, _ in tiles]
        writer.finalize({"tile_type": getattr(TileType, tile_type),
                         "tile_compression": Compression.NONE, "min_zoom": min(zooms),
                         "max_zoom": max(zooms), "min_lon_e7": -730000000,
                         "min_lat_e7": 410000000, "max_lon_e7": -720000000,
                         "max_lat_e7": 420000000, "center_zoom": max(zooms),
                         "center_lon_e7": -726856000, "center_lat_e7": 417602000}, {})


def test_a_pmtiles_basemap_is_served_by_videx_itself(location, tmp_path):
    from videx.basemap import world_px
    z = 16
    x, y = (int(v // 256) for v in world_px(41.7602, -72.6856, z))
    tile = png_tile((200, 220, 240))
    make_pmtiles(tmp_path / "city.pmtiles", {(z, x, y): tile, (z, x + 1, y): png_tile((0, 0, 0))})
    site = create_app(location, secret="s", cache_dir=tmp_path / "c",
                      basemap=str(tmp_path / "city.pmtiles"))
    client = TestClient(site)
    assert client.get(f"/basemap/{z}/{x}/{y}", follow_redirects=False).status_code == 303
    sign_in(client, "det")
    r = client.get(f"/basemap/{z}/{x}/{y}")
    assert r.status_code == 200 and r.content == tile and r.headers["content-type"] == \
        "image/png"
    assert client.get(f"/basemap/{z}/{x + 5}/{y}").status_code == 404     # not in the file
    assert client.get("/basemap/40/1/1").status_code == 404
    page = client.get(f"/incidents/{DEMO_ID}")
    assert 'data-basemap="/basemap/{z}/{x}/{y}"' in page.text
    assert "/static/vendor/leaflet/leaflet.js" in page.text
    csp = page.headers["content-security-policy"]
    assert "img-src 'self' data: blob:" in csp and "https:" not in csp and "http:" not in csp


def test_a_vector_pmtiles_file_is_refused_in_one_line(tmp_path):
    from videx.basemap import open_tiles
    from videx.errors import InputError
    make_pmtiles(tmp_path / "vector.pmtiles", {(0, 0, 0): b"\x1a\x00"}, "MVT")
    with pytest.raises(InputError, match="holds MVT tiles: videx serves raster PMTiles"):
        open_tiles(tmp_path / "vector.pmtiles")
    (tmp_path / "junk.pmtiles").write_bytes(b"not a pmtiles file at all")
    with pytest.raises(InputError, match="not a readable PMTiles file"):
        open_tiles(tmp_path / "junk.pmtiles")


def test_a_tile_folder_basemap_and_the_report_embeds_its_tiles(location, tmp_path, run):
    from videx.basemap import FolderTiles, View, tiles
    folder = tmp_path / "tiles"
    view = View(41.7602, -72.6856, 250)
    z = max(0, min(19, int(-(-view.zoom // 1))))
    from videx.basemap import world_px
    cx, cy = (int(v // 256) for v in world_px(41.7602, -72.6856, z))
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            path = folder / str(z) / str(cx + dx) / f"{cy + dy}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(png_tile((180, 190, 200)))
    placed, note = tiles(view, FolderTiles(folder))
    assert placed and note is None
    r = run("report", DEMO_ID, "--out", tmp_path / "r.html", "--tiles", str(folder))
    assert r.exit_code == 0, r.output
    assert "data:image/png;base64," in (tmp_path / "r.html").read_text()


# ------------------------------------------------------------ static files and vendored libraries
def test_vendored_libraries_are_the_recorded_versions(site):
    import hashlib
    from pathlib import Path

    import videx.web
    static = Path(videx.web.__file__).parent / "static"
    record = json.loads((static / "vendor" / "VENDOR.json").read_text())
    pinned = json.loads((Path(__file__).resolve().parent.parent / "package.json").read_text())
    assert record["leaflet"]["version"] == pinned["dependencies"]["leaflet"]
    assert record["tus-js-client"]["version"] == pinned["dependencies"]["tus-js-client"]
    for package in record.values():
        for name, digest in package["files"].items():
            assert hashlib.sha256((static / "vendor" / name).read_bytes()).hexdigest() == \
                digest, name
    client = TestClient(site)
    r = client.get("/static/vendor/leaflet/leaflet.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert client.get("/static/map.js").status_code == 200
    for bad in ("/static/../app.py", "/static/..%2Fapp.py", "/static/%2e%2e/app.py",
                "/static/vendor/VENDOR.json/x", "/static/nope.js", "/static/.hidden.js"):
        r = client.get(bad, follow_redirects=False)
        assert r.status_code in (303, 404) and "route_table" not in r.text, bad


# ------------------------------------------------------------ one display model
def test_the_display_model_words():
    assert display.deadline_words(189.9, "open") == "7 d 22 h left"
    assert display.deadline_words(-3, "lost") == "overdue 3 h"
    assert display.deadline_words(0.5, "open") == "30 min left"
    assert display.deadline_words(None, "unknown") == "retention unknown: ask now"
    assert display.deadline_words(717.9, "open") == "29 d 22 h left"
    assert display.coverage_words(0, 2820) == "none of 47 min"
    assert display.coverage_words(20, 2820) == "20 s of 47 min"
    assert display.coverage_words(1260, 2820) == "21 min of 47 min"
    assert display.urgency(10, "open") == "day" and display.urgency(50, "open") == "days"
    assert display.urgency(100, "open") == "later" and display.urgency(-1, "lost") == "overdue"
    assert display.urgency(None, "unknown") == "unknown"
    assert display.moment_words(100, 110, 104.2) == "at 0:00:04"
    assert display.moment_words(100, 110, 100 - 240) == \
        "not in this clip: it starts 4 min after"
    assert display.moment_words(100, 110, 110 + 30) == "not in this clip: it ends 30 s before"
    assert display.outcome_words("no-footage") == "owner has no footage"
    assert display.COVERAGE_WORDS["not-catalogued"] == "nothing catalogued"


def test_cli_web_and_report_say_deadlines_in_the_same_words(ingested, run, site, tmp_path):
    """A shooting two hours ago: the CLI table, the web page and the report all say the time
    left the display model's way ("29 d 22 h left" for 30-day retention)."""
    from datetime import datetime, timedelta, timezone
    when = (datetime.now(timezone.utc) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (tmp_path / "now.csv").write_text("id,occurred_at,lat,lon,address\n"
                                      f"NOW-1,{when},41.7602,-72.6856,Park St\n")
    assert run("incidents", "import", tmp_path / "now.csv").exit_code == 0
    table = run("canvass", "NOW-1").output
    client = TestClient(site)
    sign_in(client, "det")
    page = client.get("/incidents/NOW-1").text
    run("report", "NOW-1", "--out", tmp_path / "now.html")
    report = (tmp_path / "now.html").read_text()
    wording = re.compile(r"\d+ d \d+ h left|retention unknown: ask now")
    found = set(wording.findall(table))
    assert found and found == set(wording.findall(page)) and found <= set(
        wording.findall(report))
    assert 'id="request-now"' in page and "Request now" in page
    assert page.index('id="request-now"') < page.index('id="map"')        # urgent first


def test_two_instances_on_one_postgresql_catalog_share_sessions(ingested, pg_cluster, run,
                                                                tmp_path):
    """How a department adds capacity: two servers on one PostgreSQL catalog; a sign-in on
    one works on the other, signing out on the other ends it on both, and the record of
    both is one intact chain."""
    url = pg_cluster.database()
    assert run("db", "copy", tmp_path / "videx.db", url).exit_code == 0
    with catalog.open_catalog(url) as cat:
        users.add_user(cat, "det", "detective", PASSWORDS["det"])
    a = TestClient(create_app(url, secret="shared", cache_dir=tmp_path / "a"))
    b = TestClient(create_app(url, secret="shared", cache_dir=tmp_path / "b"))
    assert sign_in(a, "det").status_code == 303
    b.cookies.update(dict(a.cookies))
    page = b.get(f"/incidents/{DEMO_ID}")
    assert page.status_code == 200 and "CITY-001" in page.text
    r = b.post(f"/incidents/{DEMO_ID}/bookmark", follow_redirects=False,
               data={"csrf": csrf_of(page.text), "clip_id": re.search(
                   r'href="/clips/(\d+)\?t=', page.text).group(1), "offset_s": "1",
                   "note": "seen on instance b"})
    assert r.status_code == 303
    assert b.post("/logout", data={"csrf": csrf_of(page.text)},
                  follow_redirects=False).status_code == 303
    assert a.get("/incidents", follow_redirects=False).status_code == 303
    with catalog.open_catalog(url) as cat:
        from videx import audit
        assert audit.verify(cat, deep=True).ok
        assert cat.bookmarks.for_incident(DEMO_ID)[0]["acting_as"] == "web:det"


def test_the_web_speaks_in_words_not_commands(site):
    """Messages from the library name commands and options; the web says them in words."""
    det, boss = TestClient(site), TestClient(site)
    sign_in(det, "det")
    sign_in(boss, "boss")
    missing = det.get("/incidents/NO-SUCH-CASE")
    assert missing.status_code == 404 and "no incident &#39;NO-SUCH-CASE&#39;" in missing.text
    token = csrf_of(boss.get("/imports").text)
    bad = "id,source,integration,lat,lon\nW-1,city,connected,99,-72.68\n"
    imported = boss.post("/imports", data={"csrf": token, "kind": "cameras"},
                         files={"file": ("registry.csv", bad.encode(), "text/csv")})
    assert "keep the good rows" in imported.text
    for page in (missing.text, imported.text, det.get("/requests/ABCD-EFGH").text):
        body = page[page.index("<main"):]
        assert not re.search(r"\bvidex [a-z]+ [a-z]+|--[a-z]", body), body[:400]


def test_a_role_written_into_the_catalog_with_sql_grants_nothing(site, location):
    """Promoting oneself to admin with sqlite3 (write access to the catalog file): the web's
    session check compares the user's row with its audit record, and refuses it."""
    from conftest import edit
    client = TestClient(site)
    sign_in(client, "det")
    assert client.get("/audit").status_code == 403
    edit(location, "UPDATE users SET role = 'admin' WHERE name = 'det'")
    r = client.get("/audit", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert sign_in(TestClient(site), "det").status_code == 401
