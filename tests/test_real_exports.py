"""Real exports as analysts receive them: fixtures/real/ and hand-made shapes (issue 7)."""

import csv
import json
import math

import pytest

from conftest import BOUNDS, DEMO_ID, FIXTURES, write
from videx import canvass

REAL = FIXTURES / "real"
HOMICIDES = ["--encoding", "cp1252", "--map", "id={Year}-{Case No.}", "--map",
             "occurred_at=Date", "--time-column", "Time", "--map", "lat=Latitude", "--map",
             "lon=Longitude", "--map", "cleared=Case Closed", "--default", "cleared=no",
             "--date-format", "%m/%d/%y"]


def listed(run, *args):
    return {r["id"]: r for r in json.loads(run("incidents", "list", "--format", "json",
                                               *args).stdout)}


@pytest.fixture
def zoned(run):
    assert run("init", "--tz", "America/New_York", "--bounds", BOUNDS).exit_code == 0


# ------------------------------------------------------------------ camera lists
def test_open_data_camera_list_with_map_set_and_wkt(zoned, run):
    f = REAL / "opendata-cameras.csv"
    r = run("cameras", "import", f)
    assert r.exit_code == 1
    assert ("missing columns source, lat, lon (found: ID, CameraName, Latitude, Longitude, "
            "Neighborhood, District, Zip, the_geom;") in r.stderr
    args = ["--map", "id=ID", "--map", "name=cameraname", "--map", "point= the_geom ",
            "--set", "source=city"]
    r = run("cameras", "import", f, *args)
    assert r.exit_code == 1           # the 0,0 row stops the whole file ...
    assert (f"Error: {f}, row 18, column the_geom (point): 0,0 is a placeholder for a row "
            "that was not geocoded, not a place") in r.stderr
    r = run("cameras", "import", f, *args, "--skip-bad")
    assert r.exit_code == 3           # ... unless the good rows are wanted
    assert "30 added" in r.stdout and "1 x the_geom (point):" in r.stdout
    cam = json.loads(run("cameras", "show", "1099", "--format", "json").stdout)
    assert (cam["source"], cam["integration"], cam["name"]) == ("city", "connected",
                                                                "PARK ST & BROAD ST")
    assert (cam["lat"], cam["lon"]) == (41.7604, -72.6857)        # from the WKT point
    assert cam["extra.District"] == "D3" and cam["extra.Zip"] == "06106"   # kept, shown


def test_a_bad_map_lists_the_columns(zoned, run):
    r = run("cameras", "import", REAL / "opendata-cameras.csv", "--map", "id=CamID")
    assert r.exit_code == 2
    assert "no column 'CamID'" in r.output and "(columns: ID, CameraName, Latitude" in r.output
    r = run("cameras", "import", REAL / "opendata-cameras.csv", "--map", "colour=ID")
    assert r.exit_code == 2 and "unknown field 'colour'" in r.output


# ------------------------------------------------------------------ case lists
def test_newspaper_list_saved_by_excel(zoned, run):
    f = REAL / "homicides-cp1252.csv"
    r = run("incidents", "import", f)
    assert r.exit_code == 1
    assert r.stderr.strip() == (f"Error: {f}, row 4: byte 0xe9 is not UTF-8: the file was "
                                "probably saved by Excel or another Windows program; give its "
                                "encoding, e.g. --encoding cp1252")
    r = run("incidents", "import", f, *HOMICIDES[:-2])      # no --date-format
    assert r.exit_code == 1
    assert (f"Error: {f}, column Date (occurred_at): 24 rows (2, 3, 4, 5, 6 and 19 more), e.g. "
            "row 2: '04/29/20' is ambiguous (month/day or day/month? which century?): give its "
            "format, e.g. --date-format %m/%d/%y" in r.stderr.splitlines())     # one line
    r = run("incidents", "import", f, *HOMICIDES, "--skip-bad", "--format", "json")
    assert r.exit_code == 3
    report = json.loads(r.stdout)
    refused = {(e["row"], e["reason"].split(" (")[0]) for e in report["refused"]}
    assert refused == {
        (4, "-1,-1 is a placeholder for a row that was not geocoded, not a place"),
        (7, "no id"), (10, "no coordinates"),
        (13, "'XXX' is a placeholder, not a case number"),
        (21, "'???' is a placeholder, not a case number")}
    assert sum(report["refused_by_reason"].values()) == 5
    rows = listed(run)
    assert len(rows) == 22
    assert "2020-001" in rows and "2021-001" in rows              # numbers restart each year
    exact = rows["2023-007"]
    assert (exact["occurred_at"], exact["time_precision"]) == ("2023-05-01T18:30:00Z", "exact")
    day = rows["2023-008"]
    assert day["time_precision"] == "day"
    assert day["occurred_local"] == "2023-05-01 (time unknown)"   # never midnight
    assert day["occurred_at"] == "2023-05-01T04:00:00Z"            # the local day's start
    shown = json.loads(run("incidents", "show", "2020-006", "--format", "json").stdout)
    assert shown["extra.Age"] == "26, pic" and shown["extra.Victim"] == "Tyrell Rodríguez"
    assert shown["cleared"] == 0                                   # blank meant no (--default)


def test_semicolon_export_with_compact_and_iso_dates(zoned, run):
    r = run("incidents", "import", REAL / "rms-semicolon.csv", "--map", "id=INCIDENT_NO",
            "--map", "occurred_at=OCC_DATE", "--map", "lat=Y_COORD", "--map", "lon=X_COORD")
    assert r.exit_code == 0, r.output
    rows = listed(run)
    assert len(rows) == 15
    assert {r["time_precision"] for r in rows.values()} == {"day"}
    with open(REAL / "rms-semicolon.csv", encoding="utf-8") as fh:
        raw = {r["INCIDENT_NO"]: r for r in csv.DictReader(fh, delimiter=";")}
    for case, row in rows.items():
        date = raw[case]["OCC_DATE"].replace("-", "")
        assert row["occurred_local"] == f"{date[:4]}-{date[4:6]}-{date[6:]} (time unknown)"
        assert row["extra"]["WEAPON"] == raw[case]["WEAPON"]


@pytest.mark.parametrize("cell, expected", [
    ("2023-05-01T14:30:00-04:00", ("2023-05-01T18:30:00Z", "exact")),
    ("2023-05-01 14:30", ("2023-05-01T18:30:00Z", "exact")),
    ("2023-05-01", ("2023-05-01T04:00:00Z", "day")),
    ("20230501", ("2023-05-01T04:00:00Z", "day")),
    ("2023-01-15", ("2023-01-15T05:00:00Z", "day")),        # EST: the day starts at 05:00Z
])
def test_every_unambiguous_date_form(zoned, run, tmp_path, cell, expected):
    f = write(tmp_path / "i.csv", f"id,occurred_at,lat,lon\nA1,{cell},41.76,-72.68\n")
    assert run("incidents", "import", f).exit_code == 0
    row = listed(run)["A1"]
    assert (row["occurred_at"], row["time_precision"]) == expected


def test_templates_with_row_numbers(zoned, run, tmp_path):
    f = write(tmp_path / "i.csv", "Case,When,Y,X\n,2023-05-01,41.76,-72.68\n"
              ",2023-05-02,41.77,-72.69\n")
    r = run("incidents", "import", f, "--map", "id=BAL-{row}", "--map", "occurred_at=When",
            "--map", "lat=Y", "--map", "lon=X")
    assert r.exit_code == 0, r.output
    assert set(listed(run)) == {"BAL-2", "BAL-3"}


def test_control_characters_and_header_only_files(zoned, run, tmp_path):
    f = write(tmp_path / "i.csv", "id,occurred_at,lat,lon\nA1,2023-05-01,41.76,-72.68\n"
              "A2,2023-05-01,41.7\x00,-72.68\n")
    r = run("incidents", "import", f)
    assert r.exit_code == 1
    assert (f"Error: {f}, row 3, column lat: control character 0x00 in the cell (a damaged "
            "export or binary data)") in r.stderr
    empty = write(tmp_path / "h.csv", "id,occurred_at,lat,lon\n")
    r = run("incidents", "import", empty)
    assert r.exit_code == 1
    assert r.stderr.strip() == (f"Error: {empty}: no data rows (only a header: id, "
                                "occurred_at, lat, lon)")


def test_swapped_and_placeholder_coordinates_of_incidents(run, tmp_path):
    run("init", "--tz", "America/New_York")          # no bounds: the swap hint does the work
    rows = "".join(f"A{i},2023-05-01,41.7{i},-72.6{i}\n" for i in range(1, 5))
    f = write(tmp_path / "i.csv", "id,occurred_at,lat,lon\n" + rows
              + "B1,2023-05-01,-72.68,41.76\nB2,2023-05-01,0,0\n")
    r = run("incidents", "import", f)
    assert r.exit_code == 1
    assert f"Error: {f}, row 6, column lat: -72.68,41.76 is " in r.stderr
    assert "are lat and lon swapped?" in r.stderr
    assert (f"Error: {f}, row 7, column lat: 0,0 is a placeholder for a row that was not "
            "geocoded") in r.stderr


# ------------------------------------------------------------------ day precision in canvass
def test_a_day_precision_incident_is_canvassed_over_the_whole_day(ingested, run, tmp_path):
    f = write(tmp_path / "d.csv", "id,occurred_at,lat,lon\nDAY-1,2023-05-01,41.7602,"
              "-72.6856\n")
    assert run("incidents", "import", f).exit_code == 0
    doc = json.loads(run("canvass", "DAY-1", "--format", "json").stdout)
    assert doc["incident"]["time_precision"] == "day"
    assert doc["incident"]["occurred_local"] == "2023-05-01 (time unknown)"
    # the whole local day (EDT: 04:00Z to 04:00Z next day) widened by 30 min / 15 min
    assert doc["window"] == {"start": "2023-05-01T03:30:00Z", "end": "2023-05-02T04:15:00Z"}
    exact = json.loads(run("canvass", DEMO_ID, "--format", "json").stdout)
    day_clips = {k["clip_id"] for c in doc["cameras"] for k in c["clips"]}
    exact_clips = {k["clip_id"] for c in exact["cameras"] for k in c["clips"]}
    assert exact_clips <= day_clips                       # every clip of that afternoon
    assert all(k["offset_s"] is None and k["contains_moment"] for c in doc["cameras"]
               for k in c["clips"])                       # no moment, but inside the day
    table = run("canvass", "DAY-1").stdout
    assert table.startswith("Incident DAY-1 at 2023-05-01 (time unknown)")
    out = tmp_path / "r.html"
    assert run("report", "DAY-1", "--out", out).exit_code == 0
    assert "2023-05-01 (time unknown)" in out.read_text()


# ------------------------------------------------------------------ batch canvass
def test_batch_canvass_equals_the_canvass_of_each_incident(ingested, open_db):
    cat = open_db()
    incidents, unknown = canvass.select_incidents(cat)
    assert len(incidents) == 419 and unknown == []
    for batch in canvass.canvass_many(cat, incidents, radius_m=300, before_s=3600,
                                      after_s=600, now=None):
        single = canvass.canvass_incident(cat, batch.incident, radius_m=300, before_s=3600,
                                          after_s=600, record=False)
        a, b = batch.to_dict(), single.to_dict()
        a.pop("generated_at"), b.pop("generated_at")
        for cam in a["cameras"] + b["cameras"]:
            cam.pop("hours_left")          # computed against "now", a moment apart
        assert a == b, batch.incident.id


def test_batch_canvass_from_the_cli(ingested, run, tmp_path):
    before = len(json.loads(run("audit", "list", "--format", "json", "--limit", "0").stdout))
    r = run("canvass", "--all", "--summary", "--format", "csv")
    assert r.exit_code == 0
    rows = list(csv.DictReader(r.stdout.splitlines()))
    assert len(rows) == 419 and list(rows[0])[:2] == ["incident_id", "occurred_at"]
    demo = next(x for x in rows if x["incident_id"] == DEMO_ID)
    assert demo["cameras_within"] == "16" and demo["with_footage"] == "7"
    log = json.loads(run("audit", "list", "--format", "json", "--limit", "0").stdout)
    assert len(log) == before + 1 and log[-1]["command"] == "canvass batch"   # one entry
    assert json.loads(log[-1]["args"])["incidents"] == 419
    ids = write(tmp_path / "ids.txt", f"{DEMO_ID}\nNOPE\n")
    r = run("canvass", "--incidents", ids, "--format", "csv")
    assert r.exit_code == 3 and "Error: no incident 'NOPE' in the catalog" in r.stderr
    full = list(csv.DictReader(r.stdout.splitlines()))
    assert {x["incident_id"] for x in full} == {DEMO_ID} and len(full) == 16
    r = run("canvass", "--all", "--from", "2030-01-01", "--format", "csv")
    assert r.exit_code == 0
    assert r.stdout.startswith("incident_id,occurred_at,occurred_local")   # header, no rows
    assert len(r.stdout.splitlines()) == 1
    r = run("canvass", "--neighborhood", "frog hollow", "--summary", "--format", "json")
    assert {x["neighborhood"] for x in json.loads(r.stdout)} == {"Frog Hollow"}


# ------------------------------------------------------------------ nearby exposure
def haversine(lat1, lon1, lat2, lon2):
    """Independent great-circle distance (mean Earth radius 6,371,008.8 m)."""
    r = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * r * math.asin(math.sqrt(a))


def test_nearby_exposure_matches_an_independent_distance(city, run, tmp_path):
    out = tmp_path / "cases.csv"
    r = run("study", "dataset", "--exposure", "nearby", "--radius", "100m", "--source", "city",
            "--out", out)
    assert r.exit_code == 0, r.output
    with open(FIXTURES / "cameras.csv", encoding="utf-8") as fh:
        cams = [c for c in csv.DictReader(fh) if c["source"] == "city"]
    with open(FIXTURES / "incidents.csv", encoding="utf-8") as fh:
        places = {i["id"]: (float(i["lat"]), float(i["lon"])) for i in csv.DictReader(fh)}
    with open(out, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 419
    exposed = 0
    for row in rows:
        lat, lon = places[row["case_id"]]
        d = sorted(haversine(lat, lon, float(c["lat"]), float(c["lon"])) for c in cams)
        assert float(row["nearest_camera_m"]) == pytest.approx(d[0], abs=0.06)
        assert int(row["cameras_within"]) == sum(1 for x in d if x <= 100)
        assert row["video"] == ("yes" if d[0] <= 100 else "no")
        exposed += row["video"] == "yes"
    assert 0 < exposed < 419


def test_carry_columns_into_the_case_table(zoned, run, tmp_path):
    run("incidents", "import", REAL / "homicides-cp1252.csv", *HOMICIDES, "--skip-bad")
    out = tmp_path / "cases.csv"
    r = run("study", "dataset", "--exposure", "nearby", "--radius", "50m", "--carry",
            "Camera at intersection", "--carry", "Age", "--out", out)
    assert r.exit_code == 0, r.output
    with open(out, encoding="utf-8") as fh:
        rows = {x["case_id"]: x for x in csv.DictReader(fh)}
    assert rows["2020-006"]["Age"] == "26, pic"
    assert rows["2023-007"]["Camera at intersection"] == "Y"
    assert rows["2023-008"]["time_precision"] == "day"
    r = run("study", "dataset", "--carry", "Nope", "--out", out)
    assert r.exit_code == 2 and "no incident has an imported column Nope" in r.output
