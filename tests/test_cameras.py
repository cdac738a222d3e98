import csv
import json

import pytest

from conftest import BOUNDS, FIXTURES, write

HEADER = "id,name,source,integration,kind,lat,lon,heading_deg,fov_deg,range_m,retention_days\n"
GOOD = "C1,One,city,connected,fixed,41.76,-72.68,90,60,150,30\n"


def count(run):
    return len(json.loads(run("cameras", "list", "--format", "json").stdout))


def test_import_then_reimport_reports_changes(run, tmp_path):
    run("init", "--bounds", BOUNDS)
    f = write(tmp_path / "c.csv", HEADER + GOOD + "C2,Two,private,registered,doorbell,"
              "41.77,-72.67,,,,14\n")
    r = run("cameras", "import", f)
    assert r.exit_code == 0
    assert "2 added, 0 changed, 0 unchanged" in r.output
    write(f, HEADER + GOOD.replace("One", "Uno") + "C2,Two,private,registered,doorbell,"
          "41.77,-72.67,,,,14\n")
    r = run("cameras", "import", f)                  # a change is never a side effect ...
    assert r.exit_code == 1
    assert r.stdout.splitlines() == [
        "1 existing camera(s) would change (refused: pass --update to change them; --dry-run "
        "to review): name (1)",
        "  C1 name One -> Uno",
        f"{f}: nothing imported (0 added, 0 changed, 1 unchanged, 1 refused): pass --update "
        "to change the 1 existing camera(s) named above, or pass --skip-bad to import the "
        "other rows"]
    assert json.loads(run("cameras", "show", "C1", "--format", "json").stdout)["name"] == "One"
    r = run("cameras", "import", f, "--update")      # ... it takes --update
    assert r.exit_code == 0
    assert r.stdout.splitlines() == ["1 existing camera(s) changed: name (1)",
                                     "  C1 name One -> Uno",
                                     f"{f}: 0 added, 1 changed, 1 unchanged, 0 refused"]


def bad(run, tmp_path, row, header=HEADER, bounds=True):
    run("init", *(["--bounds", BOUNDS] if bounds else []))
    f = write(tmp_path / "bad.csv", header + GOOD + row)
    return run("cameras", "import", f), f


def test_lat_outside_city_bounds(run, tmp_path):
    r, f = bad(run, tmp_path, "C9,Nine,city,connected,fixed,40.71,-74.00,0,90,100,30\n")
    assert r.exit_code == 1
    assert (f"Error: {f}, row 3, column lat: 40.71,-74.0 is outside the city bounds "
            "41.72,-72.72,41.81,-72.64") in r.stderr
    assert "nothing imported" in r.output
    assert count(run) == 0  # the good row was not imported either


def test_swapped_lat_lon_without_bounds_gets_a_hint(run, tmp_path):
    rows = ("C3,Three,city,connected,fixed,41.761,-72.681,0,90,100,30\n"
            "C4,Four,city,connected,fixed,-72.69,41.77,0,90,100,30\n")
    r, f = bad(run, tmp_path, rows, bounds=False)
    assert r.exit_code == 1
    assert f"Error: {f}, row 4, column lat: -72.69,41.77 is " in r.stderr
    assert "are lat and lon swapped?" in r.stderr


def test_fov_out_of_range(run, tmp_path):
    r, f = bad(run, tmp_path, "C9,Nine,city,connected,fixed,41.76,-72.68,0,400,100,30\n")
    assert (f"Error: {f}, row 3, column fov_deg: 400 is outside the allowed range 0..360"
            in r.stderr)


def test_negative_retention(run, tmp_path):
    r, f = bad(run, tmp_path, "C9,Nine,city,connected,fixed,41.76,-72.68,0,90,100,-3\n")
    assert (f"Error: {f}, row 3, column retention_days: -3 is outside the allowed range 0..36500"
            in r.stderr)


def test_duplicate_ids(run, tmp_path):
    r, f = bad(run, tmp_path, GOOD)
    assert f"Error: {f}, row 3, column id: duplicate id 'C1' (first on row 2)" in r.stderr


def test_unknown_source(run, tmp_path):
    r, f = bad(run, tmp_path, "C9,Nine,police,connected,fixed,41.76,-72.68,0,90,100,30\n")
    assert (f"Error: {f}, row 3, column source: unknown source 'police' (expected one of: "
            "city, private)") in r.stderr


def test_missing_column(run, tmp_path):
    r, f = bad(run, tmp_path, "", header="id,name,source,integration,lat\n")
    assert r.exit_code == 1
    assert (f"Error: {f}: missing column lon (found: id, name, source, integration, lat; map "
            "one with FIELD=COLUMN or set a value for the whole file)") in r.stderr
    assert "Traceback" not in r.output


def test_skip_bad_keeps_good_rows(run, tmp_path):
    r, f = bad(run, tmp_path, "C9,Nine,city,connected,fixed,41.76,-72.68,0,90,100,-3\n"
               "C10,Ten,city,connected,fixed,41.762,-72.682,0,90,100,30\n")
    assert r.exit_code == 1
    r = run("cameras", "import", f, "--skip-bad")
    assert r.exit_code == 3
    assert "2 added, 0 changed, 0 unchanged, 1 refused" in r.output
    assert f"Error: {f}, row 3, column retention_days" in r.stderr
    assert count(run) == 2


def test_fixture_registry_and_listing_formats(city, run):
    cams = json.loads(run("cameras", "list", "--format", "json").stdout)
    assert len(cams) == 153
    assert {c["source"] for c in cams} == {"city", "private"}
    near = json.loads(run("cameras", "list", "--near", "41.7602,-72.6856", "--radius", "100m",
                          "--format", "json").stdout)
    assert [c["id"] for c in near][:2] == ["RING-001", "RING-002"]
    assert all(c["distance_m"] <= 100 for c in near)
    assert near == sorted(near, key=lambda c: c["distance_m"])
    gj = json.loads(run("cameras", "list", "--source", "private", "--format", "geojson").stdout)
    assert gj["type"] == "FeatureCollection"
    assert all(f["geometry"]["type"] == "Point" for f in gj["features"])
    assert all(f["properties"]["source"] == "private" for f in gj["features"])
    rows = list(csv.DictReader(run("cameras", "list", "--format", "csv").stdout.splitlines()))
    assert len(rows) == 153 and "owner_contact" in rows[0]
    shown = run("cameras", "show", "CITY-001")
    assert "heading_deg" in shown.output and "clips" in shown.output


def test_unknown_camera_is_one_error_line(city, run):
    r = run("cameras", "show", "NOPE")
    assert r.exit_code == 1
    assert r.stderr.strip() == ("Error: no camera 'NOPE' in the catalog (see videx cameras "
                                "list)")


def test_geojson_registry_rows_are_features(run, tmp_path):
    run("init", "--bounds", BOUNDS)
    doc = json.loads((FIXTURES / "cameras-registered.geojson").read_text())
    doc["features"][2]["geometry"] = {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}
    f = write(tmp_path / "bad.geojson", json.dumps(doc))
    r = run("cameras", "import", f)
    assert f"Error: {f}, row 3, column geometry: geometry is 'LineString', expected Point" \
        in r.stderr


def test_changed_clock_offset_recorrects_clips(ingested, run, tmp_path):
    before = json.loads(run("clips", "list", "--camera", "RING-002", "--format", "json").stdout)
    rows = list(csv.DictReader((FIXTURES / "cameras.csv").read_text().splitlines()))
    for r in rows:
        if r["id"] == "RING-002":
            r["clock_offset_s"] = "30"
    f = tmp_path / "cams.csv"
    with open(f, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    assert "1 changed" in run("cameras", "import", f, "--update").output
    after = json.loads(run("clips", "list", "--camera", "RING-002", "--format", "json").stdout)
    assert after[0]["start_raw_ts"] == before[0]["start_raw_ts"]
    assert after[0]["start_ts"] == before[0]["start_ts"] + 60  # offset 90 s -> 30 s
    assert after[0]["clock_offset_s"] == 30
    # stored text in the same form as every other instant
    assert after[0]["start"] == "2023-05-01T18:30:57Z"
    assert after[0]["end"] == "2023-05-01T18:31:05Z"


@pytest.mark.parametrize("feature, column, message", [
    ('"a string"', None, "feature is str, not an object"),
    ('{"type": "Feature", "geometry": "POINT (1 2)", "properties": {}}', "geometry",
     "geometry is missing or not an object"),
    ('{"type": "Feature", "geometry": {"type": "Point", "coordinates": ["x", 1]}}', "geometry",
     "Point coordinates must be [lon, lat] numbers"),
    ('{"type": "Feature", "geometry": {"type": "Point", "coordinates": [-72.68, 41.76]}, '
     '"properties": [1, 2]}', "properties", "properties must be an object"),
    ('{"type": "Feature", "geometry": {"type": "Point", "coordinates": [-72.68, 41.76]}, '
     '"properties": {"id": ["C1"], "source": "city"}}', "id", "property 'id' is a list"),
    ('{"type": "Feature", "geometry": {"type": "LineString", "coordinates": []}}', "geometry",
     "geometry is 'LineString', expected Point"),
])
def test_malformed_geojson_is_one_line_with_the_feature_number(run, tmp_path, feature, column,
                                                               message):
    run("init")
    good = ('{"type": "Feature", "geometry": {"type": "Point", "coordinates": [-72.68, 41.76]},'
            ' "properties": {"id": "C0", "source": "city"}}')
    f = write(tmp_path / "c.geojson",
              '{"type": "FeatureCollection", "features": [' + good + ", " + feature + "]}")
    r = run("cameras", "import", f)
    assert r.exit_code == 1
    where = f"{f}, row 2" + (f", column {column}" if column else "")
    assert f"Error: {where}: {message}" in r.stderr, r.stderr
    assert "Traceback" not in r.output
