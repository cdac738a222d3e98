import json

from conftest import BOUNDS, DEMO_ID, write

HEADER = "id,occurred_at,lat,lon,category,cleared\n"


def incidents(run):
    return json.loads(run("incidents", "list", "--format", "json").stdout)


def test_fixture_shootings(city, run):
    rows = incidents(run)
    assert len(rows) == 419
    years = {r["occurred_local"][:4] for r in rows}
    assert years == {"2019", "2020", "2021", "2022", "2023"}
    demo = json.loads(run("incidents", "show", DEMO_ID, "--format", "json").stdout)
    assert demo["occurred_at"] == "2023-05-01T18:30:00Z"
    assert demo["occurred_local"] == "2023-05-01 14:30:00 EDT"
    assert demo["time_source"] == "local time in America/New_York"


def test_local_times_need_a_zone(run, tmp_path):
    run("init")
    f = write(tmp_path / "i.csv", HEADER + "A1,2023-05-01 14:30,41.76,-72.68,fatal,no\n")
    r = run("incidents", "import", f)
    assert r.exit_code == 1
    assert (f"Error: {f}, row 2, column occurred_at: time '2023-05-01 14:30' has no zone or "
            "offset") in r.stderr
    r = run("incidents", "import", f, "--tz", "America/New_York")
    assert r.exit_code == 0
    assert incidents(run)[0]["occurred_at"] == "2023-05-01T18:30:00Z"


def test_dst_edges_name_the_row(run, tmp_path):
    run("init")
    f = write(tmp_path / "i.csv", HEADER
              + "A1,2023-03-12 02:30,41.76,-72.68,fatal,no\n"
              + "A2,2023-11-05 01:30,41.76,-72.68,fatal,no\n"
              + "A3,2023-11-05T01:30:00-04:00,41.76,-72.68,fatal,no\n")
    r = run("incidents", "import", f, "--tz", "America/New_York")
    assert r.exit_code == 1
    assert (f"Error: {f}, row 2, column occurred_at: local time 2023-03-12 02:30:00 does not "
            "exist in America/New_York") in r.stderr
    assert (f"Error: {f}, row 3, column occurred_at: local time 2023-11-05 01:30:00 is "
            "ambiguous in America/New_York") in r.stderr
    r = run("incidents", "import", f, "--tz", "America/New_York", "--skip-bad")
    assert r.exit_code == 3
    only = incidents(run)
    assert [i["id"] for i in only] == ["A3"]
    assert only[0]["occurred_at"] == "2023-11-05T05:30:00Z"
    assert only[0]["time_source"] == "offset in input"


def test_bad_cells(run, tmp_path):
    run("init", "--bounds", BOUNDS)
    f = write(tmp_path / "i.csv", HEADER
              + "A1,2023-05-01T14:30-04:00,41.76,-72.68,fatl,no\n"
              + "A2,2023-05-01T14:30-04:00,41.76,-72.68,fatal,maybe\n"
              + "A3,yesterday,41.76,-72.68,fatal,no\n"
              + "A4,2023-05-01T14:30-04:00,42.36,-71.06,fatal,no\n")
    r = run("incidents", "import", f)
    err = r.stderr
    assert ("row 2, column category: unknown category 'fatl' (expected one of: fatal, "
            "non-fatal, shots-fired)") in err
    assert "row 3, column cleared: 'maybe' is not yes/no" in err
    assert "row 4, column occurred_at: cannot read time 'yesterday'" in err
    assert "row 5, column lat: 42.36,-71.06 is outside the city bounds" in err
    assert incidents(run) == []


def test_map_columns_from_another_records_system(run, tmp_path):
    run("init")
    f = write(tmp_path / "rms.csv", "CaseNo,OccDate,Y,X,Type\n"
              "23-000001,2023-06-01T22:10:00-04:00,41.77,-72.69,Non Fatal\n")
    r = run("incidents", "import", f, "--map", "id=CaseNo", "--map", "occurred_at=OccDate",
            "--map", "lat=Y", "--map", "lon=X", "--map", "category=Type")
    assert r.exit_code == 0, r.output
    row = incidents(run)[0]
    assert (row["id"], row["category"], row["lat"]) == ("23-000001", "non-fatal", 41.77)
    r = run("incidents", "import", f, "--map", "id=Case")
    assert r.exit_code == 2
    assert (f"Invalid value for --map: id=Case: no column 'Case' in {f} (columns: CaseNo, "
            "OccDate, Y, X, Type)") in r.stderr
    r = run("incidents", "import", f, "--map", "nonsense")
    assert r.exit_code == 2
    assert "Invalid value for --map" in r.output


def test_list_filters_and_formats(city, run):
    fatal = json.loads(run("incidents", "list", "--category", "fatal", "--from",
                           "2023-01-01T00:00-05:00", "--format", "json").stdout)
    assert fatal and all(r["category"] == "fatal" and r["occurred_at"] >= "2023-01-01T05"
                         for r in fatal)
    gj = json.loads(run("incidents", "list", "--format", "geojson").stdout)
    assert len(gj["features"]) == 419
    r = run("incidents", "list", "--from", "soon")
    assert r.exit_code == 2 and "Invalid value for --from" in r.output


def test_system_errors_are_one_line_too(city, run, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    r = run("study", "dataset", "--out", locked / "sub" / "cases.csv")
    assert r.exit_code == 1
    assert r.stderr.startswith("Error: FileNotFoundError")
    assert "Traceback" not in r.output
    (tmp_path / "junk.db").write_text("this is not sqlite")
    r = run("incidents", "list", "--db", tmp_path / "junk.db")
    assert r.exit_code == 1
    assert r.stderr.startswith(f"Error: {tmp_path / 'junk.db'} is not a videx catalog")
