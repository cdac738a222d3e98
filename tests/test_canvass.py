import csv
import json
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import DEMO_ID
from videx import canvass
from videx.timeutil import parse_instant


def demo(run, *args):
    r = run("canvass", DEMO_ID, "--format", "json", *args)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_json_shape(ingested, run):
    doc = demo(run)
    assert set(doc) >= {"incident", "window", "cameras"}
    assert doc["incident"]["id"] == DEMO_ID
    # 30 min before, 15 after, widened by the incident's 60 s uncertainty, in UTC
    assert doc["window"] == {"start": "2023-05-01T17:59:00Z", "end": "2023-05-01T18:46:00Z"}
    for cam in doc["cameras"]:
        assert {"camera_id", "source", "integration", "distance_m", "in_view", "status",
                "retention_deadline", "clips"} <= set(cam)
        assert cam["status"] in ("footage", "gap-at-moment", "not-catalogued")
        assert cam["distance_m"] <= 250
        for clip in cam["clips"]:
            assert {"clip_id", "path", "sha256", "start", "end", "offset_s"} <= set(clip)


def test_offsets_match_ground_truth(ingested, run, truth):
    moment = parse_instant(truth["moment_utc"]).timestamp()
    doc = demo(run)
    by_path = {Path(k["path"]).relative_to(ingested).as_posix(): k
               for c in doc["cameras"] for k in c["clips"]}
    for c in truth["clips"]:
        if c["time_source"] == "none" or c["camera_id"] == "CITY-004":
            continue
        got = by_path[c["path"]]
        true_start = parse_instant(c["true_start"]).timestamp()
        assert got["offset_s"] == pytest.approx(moment - true_start, abs=0.01), c["path"]
        assert got["contains_moment"] == c["contains_moment"], c["path"]
    # RING-002's clock runs 90 s fast: its file name says 18:31:27Z, yet the moment is 3 s in
    ring2 = [c for c in doc["cameras"] if c["camera_id"] == "RING-002"][0]
    assert ring2["clips"][0]["offset_s"] == pytest.approx(3.0)
    assert ring2["clips"][0]["clock_offset_s"] == 90


def test_status_view_and_order(ingested, run):
    cams = {c["camera_id"]: c for c in demo(run)["cameras"]}
    assert cams["CITY-001"]["status"] == "footage"
    assert cams["CITY-003"]["status"] == "gap-at-moment"   # clip starts 5 s after
    assert cams["CITY-003"]["in_view"] is False            # faces away
    assert cams["CITY-004"]["status"] == "gap-at-moment"   # 7 minutes before, still in window
    assert cams["PRIV-001"]["status"] == "not-catalogued"
    assert cams["PRIV-001"]["in_view"] is None             # no geometry
    order = list(cams)
    ranks = [{True: 0, None: 1, False: 2}[cams[c]["in_view"]] for c in order]
    assert ranks == sorted(ranks)
    gaps = cams["CITY-001"]["gaps"]
    covered = cams["CITY-001"]["covered_s"]
    assert covered == pytest.approx(16.0, abs=0.3)  # two clips, 10 s + 6 s
    assert sum(g["duration_s"] for g in gaps) == pytest.approx(2820 - covered, abs=0.5)


def test_retention_deadlines(ingested, open_db):
    cat = open_db()
    moment = datetime(2023, 5, 1, 18, 30, tzinfo=timezone.utc)
    result = canvass.canvass(cat, DEMO_ID, now=moment + timedelta(days=3), record=False)
    cams = {c.camera_id: c for c in result.cameras}
    # PRIV-002 keeps 7 days, PRIV-001 30 days: both still open three days later
    assert cams["PRIV-002"].retention_deadline == "2023-05-08T18:30:00Z"
    assert cams["PRIV-002"].hours_left == pytest.approx(96.0)
    assert cams["PRIV-002"].deadline_state == "open"
    assert cams["PRIV-002"].action == "ask owner"
    assert cams["CITY-001"].retention_deadline is None  # footage already catalogued
    later = canvass.canvass(cat, DEMO_ID, now=moment + timedelta(days=10), record=False)
    cams = {c.camera_id: c for c in later.cameras}
    assert cams["PRIV-002"].deadline_state == "lost"
    assert cams["PRIV-001"].deadline_state == "open"
    assert "PRIV-002" not in [c.camera_id for c in later.request_list()]


def test_the_result_is_typed_with_numbers_and_view_geometry(ingested, open_db, truth):
    result = canvass.canvass(open_db(), DEMO_ID, record=False)
    moment = parse_instant(truth["moment_utc"]).timestamp()
    assert result.moment_ts == moment
    city1 = next(c for c in result.cameras if c.camera_id == "CITY-001")
    assert city1.view is not None and city1.view.fov_deg > 0
    clip = next(k for k in city1.clips if k.contains_moment)
    assert clip.start_ts <= moment < clip.end_ts
    assert clip.offset_s == pytest.approx(moment - clip.start_ts)
    assert (clip.width, clip.height, clip.fps) == (160, 120, 10)
    assert [k for _, k in result.clips(containing_moment=True)]  # the shared helper


def test_table_csv_and_geojson(ingested, run):
    table = run("canvass", DEMO_ID).stdout
    assert "Incident HPD-23-004120 at 2023-05-01 14:30:00 EDT" in table
    assert "footage at the moment" in table and "nothing catalogued" in table and "gap at the moment" in table
    rows = list(csv.DictReader(run("canvass", DEMO_ID, "--format", "csv").stdout.splitlines()))
    assert {"camera_id", "clip_id", "offset_s", "offset_hms", "sha256"} <= set(rows[0])
    assert any(r["offset_hms"] == "0:00:04" and r["camera_id"] == "CITY-001" for r in rows)
    for r in rows:
        assert r["incident_id"] == DEMO_ID and r["name"]            # who, for whom
        assert r["in_view"] in ("yes", "no", "")                     # never True/False
        assert (r["offset_s"] != "") == (r["contains_moment"] == "yes")


def ring_area(ring):
    """Signed area (shoelace, lon/lat units): positive for a counterclockwise ring."""
    return sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(ring, ring[1:])) / 2


def test_geojson_keeps_kinds_and_draws_view_wedges(ingested, run):
    gj = json.loads(run("canvass", DEMO_ID, "--format", "geojson").stdout)
    feats = gj["features"]
    assert feats[0]["properties"]["feature"] == "incident"
    cams = [f for f in feats if f["properties"]["feature"] == "camera"]
    wedges = {f["properties"]["camera_id"]: f for f in feats
              if f["properties"]["feature"] == "view"}
    assert {c["properties"]["kind"] for c in cams} >= {"doorbell", "fixed", "ptz", "dvr"}
    with_view = [c for c in cams if c["properties"]["view"]]
    assert with_view and set(wedges) == {c["properties"]["camera_id"] for c in with_view}
    for c in with_view:
        w = wedges[c["properties"]["camera_id"]]
        assert w["geometry"]["type"] == "Polygon"
        ring = w["geometry"]["coordinates"][0]
        assert ring[0] == ring[-1] == c["geometry"]["coordinates"]   # closed, at the camera
        assert len(ring) >= 4 and ring_area(ring) > 0                 # RFC 7946: ccw exterior
        assert all(-180 <= x <= 180 and -90 <= y <= 90 for x, y in ring)
    # the wedge of a camera that sees the incident contains it (CITY-001 faces it)
    from matplotlib.path import Path as MplPath
    inc = feats[0]["geometry"]["coordinates"]
    assert MplPath(wedges["CITY-001"]["geometry"]["coordinates"][0]).contains_point(inc)
    assert not MplPath(wedges["CITY-003"]["geometry"]["coordinates"][0]).contains_point(inc)


def test_csv_has_its_header_even_with_no_camera(ingested, run):
    r = run("canvass", "--at", "41.79,-72.70", "--time", "2023-05-01T14:30:00-04:00",
            "--case", "EMPTY", "--radius", "10m", "--format", "csv")
    assert r.exit_code == 0
    assert r.stdout.strip() == ",".join(canvass.CSV_COLUMNS)


def test_registered_cameras_without_retention_are_on_the_request_list(ingested, run,
                                                                         tmp_path):
    f = tmp_path / "c.csv"
    f.write_text("id,source,integration,lat,lon\nNEW-REG,private,registered,41.7603,-72.6857\n")
    assert run("cameras", "import", f).exit_code == 0
    doc = json.loads(run("canvass", DEMO_ID, "--format", "json").stdout)
    reg = next(c for c in doc["cameras"] if c["camera_id"] == "NEW-REG")
    assert (reg["deadline_state"], reg["action"]) == ("unknown", "ask owner")
    assert "retention unknown: ask now" in run("canvass", DEMO_ID).stdout
    out = tmp_path / "r.html"
    assert run("report", DEMO_ID, "--out", out).exit_code == 0
    text = out.read_text()
    request = text.split("Request before it is overwritten")[1].split("<h2>")[0]
    assert "NEW-REG" in request and "retention unknown: ask now" in request


def test_adhoc_canvass_and_bad_options(ingested, run):
    r = run("canvass", "--at", "41.7602,-72.6856", "--time", "2023-05-01T14:30:00-04:00",
            "--case", "ADHOC-1", "--radius", "50m", "--format", "json")
    doc = json.loads(r.stdout)
    assert doc["incident"]["id"] == "ADHOC-1"
    assert {c["camera_id"] for c in doc["cameras"]} == {"RING-001", "RING-002"}
    r = run("canvass", DEMO_ID, "--radius", "far")
    assert r.exit_code == 2 and "Invalid value for --radius" in r.output
    r = run("canvass", DEMO_ID, "--radius", "0m")      # refused by the library: still exit 2
    assert r.exit_code == 2
    assert ("Invalid value for --radius: radius must be more than 0 m and at most 20 km (got 0 m)"
            in r.output)
    r = run("canvass", "--at", "41.76,-72.68")
    assert r.exit_code == 2 and "give an INCIDENT_ID, or all of --at, --time and --case" \
        in r.output
    r = run("canvass", "NOPE")
    assert r.exit_code == 1
    assert r.stderr.strip() == ("Error: no incident 'NOPE' in the catalog (see videx "
                                "incidents list)")


def test_outcomes_and_reviews_keep_every_entry(ingested, run):
    r = run("outcome", DEMO_ID, "PRIV-001", "--status", "requested", "--note", "emailed")
    assert r.exit_code == 0
    cams = {c["camera_id"]: c for c in demo(run)["cameras"]}
    assert cams["PRIV-001"]["outcome"] == "requested"
    assert run("outcome", DEMO_ID, "PRIV-001", "--status", "obtained", "--note",
               "owner brought a USB stick").exit_code == 0
    cams = {c["camera_id"]: c for c in demo(run)["cameras"]}
    assert cams["PRIV-001"]["outcome"] == "obtained"            # the latest is current
    clip_id = cams["CITY-001"]["clips"][0]["clip_id"]
    assert run("review", DEMO_ID, clip_id, "--probative", "--note", "shooter").exit_code == 0
    assert run("review", DEMO_ID, clip_id, "--not-probative", "--note",
               "second look: a neighbour").exit_code == 0
    shown = json.loads(run("incidents", "show", DEMO_ID, "--format", "json").stdout)
    assert [(o["status"], o["note"]) for o in shown["outcomes"]] == [
        ("requested", "emailed"), ("obtained", "owner brought a USB stick")]
    assert [(v["clip_id"], v["probative"], v["note"]) for v in shown["reviews"]] == [
        (clip_id, 1, "shooter"), (clip_id, 0, "second look: a neighbour")]
    table = run("incidents", "show", DEMO_ID).stdout
    assert "outcomes:" in table and "owner brought a USB stick" in table
    assert "{'" not in table                                    # no Python dict text
    assert run("review", DEMO_ID, 9999, "--probative").exit_code == 1
    assert run("outcome", DEMO_ID, "PRIV-001", "--status", "lost").exit_code == 2
    assert run("review", DEMO_ID, clip_id).exit_code == 2


def test_inactive_cameras_are_left_out(ingested, run, tmp_path):
    f = tmp_path / "c.csv"
    f.write_text("id,source,integration,lat,lon,active_from\n"
                 "NEW-1,city,connected,41.7603,-72.6857,2024-01-01T00:00:00Z\n")
    assert run("cameras", "import", f).exit_code == 0
    assert "NEW-1" not in {c["camera_id"] for c in demo(run)["cameras"]}


def test_the_quickstart_sequence_loses_no_note(ingested, run):
    """Run section 4 of docs/quickstart.md as written: every entry and note is kept."""
    import shlex
    from pathlib import Path
    text = (Path(__file__).resolve().parent.parent / "docs" / "quickstart.md").read_text()
    section = text.split("## 4. Record what happened")[1].split("## 5.")[0]
    commands = [shlex.split(line)[1:] for line in section.splitlines()
                if line.startswith("videx ") and " show " not in line]
    assert len(commands) >= 4
    for args in commands:
        assert run(*args).exit_code == 0, args
    shown = json.loads(run("incidents", "show", DEMO_ID, "--format", "json").stdout)
    notes = [o["note"] for o in shown["outcomes"]] + [r["note"] for r in shown["reviews"]]
    written = [a[a.index("--note") + 1] for a in commands if "--note" in a]
    assert all(n in notes for n in written)
    assert [o["status"] for o in shown["outcomes"] if o["camera_id"] == "PRIV-001"] == [
        "requested", "obtained"]
    assert any(o["acting_as"] == "Det. R. Diaz" for o in shown["outcomes"])


@pytest.mark.parametrize("lat", [0.2, 41.77, 64.1])
def test_the_radius_is_decided_by_great_circle_distance(db, lat):
    """The canvass statement narrows cameras by a flat-earth circle in SQL; cameras 5 cm
    inside and 5 cm outside the radius, at every bearing, show that only the great-circle
    distance decides, at the equator and far north, alone and in a batch."""
    from videx import geo
    lon, radius = -72.6, 250.0
    with db.write("test") as tx:
        for b in range(0, 360, 15):
            for name, reach in (("in", radius - 0.05), ("out", radius + 0.05)):
                clat, clon = geo.destination(lat, lon, b, reach)
                assert abs(geo.haversine_m(lat, lon, clat, clon) - reach) < 0.01
                db.db.execute("INSERT INTO cameras (id, source, integration, lat, lon, "
                              "heading_deg, fov_deg, updated_at) VALUES (?, 'city', "
                              "'connected', ?, ?, ?, 60, 'x')",
                              [f"{name}{b:03d}", clat, clon, (b + 180) % 360])
                tx.touch("cameras", f"{name}{b:03d}")
    inc = canvass.adhoc_incident("R1", lat, lon, datetime(2024, 5, 1, tzinfo=timezone.utc))
    one = canvass.canvass_incident(db, inc, radius_m=radius, record=False)
    assert sorted(c.camera_id for c in one.cameras) == [f"in{b:03d}" for b in range(0, 360, 15)]
    assert all(c.in_view is True and 249.9 <= c.distance_m <= 250.0 for c in one.cameras)
    batch = next(canvass.canvass_many(db, [inc], radius_m=radius))
    assert [c.camera_id for c in batch.cameras] == [c.camera_id for c in one.cameras]


# ------------------------------------------------------------------ real-shaped registries
def open_data_city(tmp_path, run, incidents=2000, cameras=1500):
    """A registry as city open-data portals publish it (an id and a place, nothing else:
    no name, kind, owner, view, range or retention), two cameras of known retention beside
    the first incident (a day old), and ``incidents`` shootings."""
    import random
    rng = random.Random(7)
    cams = [(f"C{i:04d}", round(41.72 + rng.random() * 0.09, 6),
             round(-72.72 + rng.random() * 0.08, 6)) for i in range(cameras)]
    cam_csv = tmp_path / "opendata.csv"
    cam_csv.write_text("id,lat,lon\n" + "".join(f"{i},{a:.6f},{o:.6f}\n" for i, a, o in cams))
    recent = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=1)
    incs = [("I0000", recent, 41.7600, -72.6800)] + [
        (f"I{i:04d}", datetime(2023, 1 + i % 12, 1 + i % 28, i % 24, 15, tzinfo=timezone.utc),
         round(41.72 + rng.random() * 0.09, 6), round(-72.72 + rng.random() * 0.08, 6))
        for i in range(1, incidents)]
    inc_csv = tmp_path / "shootings.csv"
    inc_csv.write_text("id,occurred_at,lat,lon\n" + "".join(
        f"{i},{t:%Y-%m-%dT%H:%M:%SZ},{a:.6f},{o:.6f}\n" for i, t, a, o in incs))
    kept = tmp_path / "kept.csv"        # 7 and 30 days of retention, ~20 m from I0000
    kept.write_text("id,lat,lon,retention_days\nK7,41.7602,-72.6800,7\n"
                    "K30,41.7600,-72.6802,30\n")
    assert run("init", "--tz", "America/New_York", "--bounds", "41.72,-72.72,41.81,-72.64"
               ).exit_code == 0
    for f in (cam_csv, kept):
        r = run("cameras", "import", f, "--set", "source=city")
        assert r.exit_code == 0, r.output
    r = run("incidents", "import", inc_csv)
    assert r.exit_code == 0, r.output
    cams += [("K7", 41.7602, -72.6800), ("K30", 41.7600, -72.6802)]
    return cams, incs, recent


def within_m(cams, incs, radius_m=250.0):
    """{incident id: sorted (distance in m, camera id) of the cameras within radius_m},
    haversine on the mean Earth radius, computed here independently of videx.geo."""
    import numpy as np
    r = 6_371_008.8
    clat, clon = (np.radians([c[k] for c in cams]) for k in (1, 2))
    out = {}
    for i, _, lat, lon in incs:
        p = math.radians(lat)
        a = (np.sin((clat - p) / 2) ** 2
             + np.cos(p) * np.cos(clat) * np.sin((clon - math.radians(lon)) / 2) ** 2)
        d = 2 * r * np.arcsin(np.sqrt(a))
        out[i] = sorted((float(d[k]), cams[k][0]) for k in np.flatnonzero(d <= radius_m))
    return out


@pytest.mark.heavy
def test_batch_canvass_of_an_open_data_registry_in_every_format(db, run, tmp_path):
    # issue 18: "canvass --all --summary" died on min() over unknown retentions as soon as an
    # incident had two cameras without one, which is every open-data camera list
    cams, incs, recent = open_data_city(tmp_path, run)
    near = within_m(cams, incs)
    assert sum(len(v) >= 2 for v in near.values()) > 1000     # the case that crashed
    r = run("canvass", "--all", "--summary", "--format", "csv")
    assert r.exit_code == 0, r.output
    assert "2000 incident(s) canvassed" in r.stderr
    rows = {x["incident_id"]: x for x in csv.DictReader(r.stdout.splitlines())}
    assert len(rows) == 2000
    for i, dist in near.items():
        row = rows[i]
        assert int(row["cameras_within"]) == len(dist), i
        assert row["nearest_camera_m"] == ("" if not dist else row["nearest_camera_m"])
        if dist:
            assert float(row["nearest_camera_m"]) == pytest.approx(dist[0][0], abs=0.2), i
        assert (row["in_view"], row["with_footage"], row["not_catalogued"]) == (
            "0", "0", str(len(dist)))
        if i != "I0000":     # no known retention: all to request now, no deadline to give
            unknown = sum(1 for _, cam in dist if cam.startswith("C"))   # K7, K30: lost
            assert row["to_request"] == row["retention_unknown"] == str(unknown), i
            assert row["first_deadline"] == "" and row["least_hours_left"] == ""
    first = rows["I0000"]
    assert int(first["to_request"]) == len(near["I0000"]) >= 3
    assert int(first["retention_unknown"]) == len(near["I0000"]) - 2      # all but K7, K30
    assert first["first_deadline"] == f"{recent + timedelta(days=7):%Y-%m-%dT%H:%M:%SZ}"
    assert float(first["least_hours_left"]) == pytest.approx(6 * 24, abs=0.2)

    doc = json.loads(run("canvass", "--all", "--summary", "--format", "json").stdout)
    assert {d["incident_id"]: d["first_deadline"] for d in doc} == {
        i: (x["first_deadline"] or None) for i, x in rows.items()}
    assert all(d["least_hours_left"] is None for d in doc if d["incident_id"] != "I0000")
    geo = json.loads(run("canvass", "--all", "--summary", "--format", "geojson").stdout)
    assert len(geo["features"]) == 2000
    assert geo["features"][0]["geometry"]["coordinates"] == [
        float(rows[geo["features"][0]["properties"]["incident_id"]]["lon"]),
        float(rows[geo["features"][0]["properties"]["incident_id"]]["lat"])]
    table = run("canvass", "--all", "--summary")
    assert table.exit_code == 0 and len(table.stdout.splitlines()) == 2002   # header, rule

    # one row per incident and camera; an incident with none in reach still has its row
    expected = sum(max(1, len(d)) for d in near.values())
    r = run("canvass", "--all", "--format", "csv")
    assert r.exit_code == 0, r.output
    full = list(csv.DictReader(r.stdout.splitlines()))
    assert len(full) == expected
    states = {(x["camera_id"], x["deadline_state"]) for x in full if x["incident_id"] == "I0000"}
    assert {("K7", "open"), ("K30", "open")} <= states
    assert {x["deadline_state"] for x in full if x["camera_id"].startswith("C")} == {"unknown"}
    assert {x["deadline_state"] for x in full if x["incident_id"] != "I0000"
            and x["camera_id"].startswith("K")} == {"lost"}      # 2023: retention passed
    assert all(x["name"] == "" and x["retention_deadline"] == "" for x in full
               if x["camera_id"].startswith("C"))
    for fmt, key in (("json", None), ("geojson", "features")):
        got = json.loads(run("canvass", "--all", "--format", fmt).stdout)
        assert len(got[key] if key else got) == expected
    table = run("canvass", "--all")
    assert table.exit_code == 0 and len(table.stdout.splitlines()) == expected + 2

    # one incident, every format, and its HTML report
    doc = json.loads(run("canvass", "I0000", "--format", "json").stdout)
    assert len(doc["cameras"]) == len(near["I0000"])
    unknown = [c for c in doc["cameras"] if c["camera_id"].startswith("C")]
    assert all(c["retention_days"] is None and c["view"] is None and c["name"] is None
               and c["deadline_state"] == "unknown" for c in unknown)
    geo = json.loads(run("canvass", "I0000", "--format", "geojson").stdout)
    assert [f["properties"]["feature"] for f in geo["features"]].count("camera") == len(
        near["I0000"])
    assert not [f for f in geo["features"] if f["properties"]["feature"] == "view"]
    assert len(list(csv.DictReader(run("canvass", "I0000", "--format", "csv").stdout
                                   .splitlines()))) == len(near["I0000"])
    text = run("canvass", "I0000").stdout
    assert text.count("retention unknown: ask now") == len(near["I0000"]) - 2
    out = tmp_path / "I0000.html"
    r = run("report", "I0000", "--out", out)
    assert r.exit_code == 0, r.output
    html = out.read_text()
    assert all(c["camera_id"] in html for c in doc["cameras"])
    requests = html[html.index("Request before it is overwritten"):html.index("<h2>Lost")]
    assert requests.count("retention unknown: ask now") == len(near["I0000"]) - 2
