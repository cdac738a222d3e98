"""Sane ranges at the door: every absurd value below is refused with one line and the
README's exit code (2 for a bad option, 1 for a refused file), and the catalog is unchanged
(the same rows in every table, no new audit entry, and ``audit verify --deep`` passes).
Each of these once gave a traceback, an Inf stored, or an instant nobody could show."""

from __future__ import annotations

import json

import pytest

from conftest import DEMO_ID, FIXTURES, write

TABLES = ("cameras", "incidents", "clips", "outcomes", "reviews", "users", "settings",
          "rejects", "scans", "audit", "audit_rows")
CAM_HEADER = "id,name,source,integration,kind,lat,lon,heading_deg,fov_deg,range_m,clock_offset_s\n"
CAM = "NEW-1,New,city,connected,fixed,41.7603,-72.6857,90,60,{range},{offset}\n"
INC_HEADER = "id,occurred_at,time_uncertainty_s,lat,lon,victims\n"
INC = "{id},{when},{unc},41.7603,-72.6857,{victims}\n"


def state(open_db) -> dict:
    with open_db() as cat:
        return {t: int(cat.db.scalar(f"SELECT count(*) FROM {t}")) for t in TABLES}


def cameras_file(tmp_path, range_m="150", offset="0"):
    return write(tmp_path / "cams.csv", CAM_HEADER + CAM.format(range=range_m, offset=offset))


def incidents_file(tmp_path, id_="NEW-I1", when="2023-05-01T14:30:00-04:00", unc="0",
                   victims="1"):
    return write(tmp_path / "incs.csv", INC_HEADER + INC.format(id=id_, when=when, unc=unc,
                                                                 victims=victims))


def geojson(tmp_path, props, geometry=None):
    doc = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": props,
        "geometry": geometry or {"type": "Point", "coordinates": [-72.6857, 41.7603]}}]}
    return write(tmp_path / "cams.geojson", json.dumps(doc))


# (test id, command builder, exit code, text the one error line holds)
CASES = [
    ("clock offset 1e12", lambda p: ["cameras", "import", cameras_file(p, offset="1e12")], 1,
     "clock_offset_s: 1e12 is outside the allowed range"),
    ("range 1e400 (Inf)", lambda p: ["cameras", "import", cameras_file(p, range_m="1e400")], 1,
     "range_m: 1e400 is not a finite number"),
    ("range nan", lambda p: ["cameras", "import", cameras_file(p, range_m="nan")], 1,
     "range_m: 'nan' is not a number"),
    ("range 0", lambda p: ["cameras", "import", cameras_file(p, range_m="0")], 1,
     "range_m: 0 is outside the allowed range above 0 and <= 2000"),
    ("range 2.5 km", lambda p: ["cameras", "import", cameras_file(p, range_m="2500")], 1,
     "range_m: 2500 is outside the allowed range above 0 and <= 2000"),
    ("uncertainty 1e300", lambda p: ["incidents", "import", incidents_file(p, unc="1e300")],
     1, "time_uncertainty_s: 1e300 is outside the allowed range 0..3.16224e+07"),
    ("incident in year 1", lambda p: ["incidents", "import",
                                      incidents_file(p, when="0001-01-01T00:00:00Z")], 1,
     "'0001-01-01T00:00:00Z' is before 1970: check the date and its format (pass "
     "--allow-odd-dates for an old case)"),
    ("incident 9999-12-31", lambda p: ["incidents", "import",
                                       incidents_file(p, when="9999-12-31")], 1,
     "cannot read date '9999-12-31': date value out of range"),
    ("incident in 2999", lambda p: ["incidents", "import",
                                    incidents_file(p, when="2999-01-01T00:00:00Z")], 1,
     "is more than a day in the future"),
    ("victims 1e23", lambda p: ["incidents", "import", incidents_file(p, victims="1e23")], 1,
     "victims: 1e23 is beyond the 64-bit integer range"),
    ("a 100,000-character id", lambda p: ["incidents", "import",
                                          incidents_file(p, id_="A1" * 50_000)], 1,
     "the id has 100000 characters (at most 200)"),
    ("a right-to-left override in an id",
     lambda p: ["incidents", "import", incidents_file(p, id_="HC-2021\u202e1202")], 1,
     "the id holds the invisible bidirectional control U+202E"),
    ("a control character in a GeoJSON id",
     lambda p: ["cameras", "import", geojson(p, {"id": "CAM\u0007", "source": "city"})], 1,
     "control character 0x07"),
    ("deeply nested GeoJSON",
     lambda p: ["cameras", "import", write(p / "deep.geojson", "[" * 100_000 + "]" * 100_000)],
     1, "JSON nested too deeply"),
    ("--before 99999999999999h", lambda p: ["canvass", DEMO_ID, "--before", "99999999999999h"],
     2, "Invalid value for --before"),
    ("--before 32d", lambda p: ["canvass", DEMO_ID, "--before", "32d"], 2,
     "the window before the moment must be from 0 to 31 days"),
    ("--radius 1000km", lambda p: ["canvass", DEMO_ID, "--radius", "1000km"], 2,
     "radius must be more than 0 m and at most 20 km"),
    ("ad hoc --time in year 1", lambda p: ["canvass", "--at", "41.7603,-72.6857", "--time",
                                           "0001-01-01T00:00:00Z", "--case", "X"], 2,
     "Invalid value for --time"),
    ("ad hoc --uncertainty 400d", lambda p: ["canvass", "--at", "41.7603,-72.6857", "--time",
                                             "2023-05-01T14:30:00-04:00", "--case", "X",
                                             "--uncertainty", "400d"], 2,
     "the time uncertainty must be from 0 to a year"),
    ("ingest --start notadate", lambda p: ["ingest", FIXTURES / "clips" / "CITY-001" /
                                           "20230501_142956.mp4", "--camera", "CITY-001",
                                           "--start", "notadate"], 2,
     "Invalid value for --start: cannot read time 'notadate'"),
    ("frame --out f.gif", lambda p: ["frame", "1", "--at", "+0:00:01", "--out", p / "f.gif"], 2,
     "Invalid value for --out: "),
    ("contact-sheet --out f.gif", lambda p: ["contact-sheet", DEMO_ID, "--out", p / "f.gif"],
     2, "give a file name ending in .jpg, .jpeg or .png"),
    ("a study spec with cases = 5",
     lambda p: ["study", "run", "--spec", write(p / "s.toml", "cases = 5\n"), "--out",
                p / "study-out"], 1,
     "cases = 5: the case table's file name, in quotes"),
]


@pytest.mark.parametrize("name, command, code, text", CASES, ids=[c[0] for c in CASES])
def test_an_absurd_value_is_one_line_with_the_readme_exit_code_and_changes_nothing(
        ingested, run, open_db, tmp_path, name, command, code, text):
    before = state(open_db)
    r = run(*command(tmp_path))
    errors = [line for line in r.stderr.splitlines() if line.startswith("Error:")]
    assert r.exit_code == code, r.output
    assert len(errors) == 1 and text in errors[0], r.stderr
    assert "Traceback" not in r.output
    assert not (tmp_path / "f.gif").exists() and not (tmp_path / "study-out").exists()
    assert state(open_db) == before
    assert run("audit", "verify", "--deep").exit_code == 0


def test_a_clock_offset_that_would_put_clips_outside_1970_2100_is_refused(ingested, run,
                                                                          open_db, tmp_path):
    """A DVR whose clock reset to 2000 is decades off and stays correctable; an offset that
    would move the camera's clips past 2100 is refused, and nothing changes."""
    header = "id,source,integration,lat,lon,clock_offset_s\n"
    reset = write(tmp_path / "reset.csv", header +
                  "RING-002,private,connected,41.76031,-72.68551,-736000000\n")
    before = state(open_db)
    r = run("cameras", "import", reset, "--update")      # 23 years: a reset clock, fine
    assert r.exit_code == 0, r.output
    far = write(tmp_path / "far.csv", header +
                "RING-002,private,connected,41.76031,-72.68551,-4000000000\n")
    before = state(open_db)
    r = run("cameras", "import", far, "--update")
    assert r.exit_code == 1
    errors = [line for line in r.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "clock_offset_s: -4e+09 s: a corrected clip time would be " \
        "in the year 2150, outside 1970-2100" in errors[0], r.stderr
    assert state(open_db) == before
    assert run("audit", "verify", "--deep").exit_code == 0


def test_odd_dates_are_kept_only_when_asked(city, run, tmp_path):
    f = incidents_file(tmp_path, id_="COLD-1965", when="1965-06-01T12:00:00-04:00")
    assert run("incidents", "import", f).exit_code == 1
    r = run("incidents", "import", f, "--allow-odd-dates")
    assert r.exit_code == 0, r.output
    shown = json.loads(run("incidents", "show", "COLD-1965", "--format", "json").stdout)
    assert shown["occurred_local"] == "1965-06-01 12:00:00 EDT"


def test_an_absurd_value_stored_by_an_older_videx_is_one_line_not_a_traceback(city, run,
                                                                               tmp_path):
    """Catalogs imported before these checks may hold such values (audited, so no tampering):
    a canvass of that incident says which and how to fix it."""
    from conftest import edit
    edit(tmp_path / "videx.db", "UPDATE incidents SET time_uncertainty_s = 1e300 WHERE id = ?",
         params=(DEMO_ID,))
    for command in (["canvass", DEMO_ID], ["canvass", "--all", "--summary"],
                    ["report", DEMO_ID, "--out", tmp_path / "r.html"]):
        r = run(*command)
        assert r.exit_code == 1 and "Traceback" not in r.output
        assert r.stderr.strip() == (
            f"Error: incident {DEMO_ID}: its window's start would be in the year -3.17e+292, "
            "outside 1900-2100 (time 2023-05-01T18:30:00Z, uncertainty 1e+300 s): correct it "
            "and re-import it with --update")
