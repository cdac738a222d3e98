"""Imports that never silently rewrite the case record, on a real-shaped call list of 3,000
shootings: a re-import with the day and month swapped, with another zone, or the camera list
under other ids changes nothing without --update (or --allow-duplicates) and says what it
would change; errors come grouped with hints; --dry-run writes nothing."""

from __future__ import annotations

import csv
import json
import random

import pytest

from conftest import FIXTURES, write
from videx import catalog, incidents

N = 3000
MAP = ["--map", "id=Case Number", "--map", "occurred_at=Date Occurred", "--map",
       "lat=Latitude", "--map", "lon=Longitude"]
US = ["--date-format", "%m/%d/%Y %H:%M"]


def call_list(path, n=N, seed=7, decimal_comma=False, swap=()):
    """A records-unit export: case numbers, US dates with a time, a point in the city; hours
    3-23 so that no local time is a DST gap or repeat either way round."""
    rng = random.Random(seed)
    delimiter = ";" if decimal_comma else ","
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter=delimiter)
        w.writerow(["Case Number", "Date Occurred", "Latitude", "Longitude", "Address",
                    "Category"])
        for i in range(n):
            lat, lon = rng.uniform(41.73, 41.80), rng.uniform(-72.71, -72.65)
            if i in swap:
                lat, lon = lon, lat
            cells = [f"{lat:.6f}", f"{lon:.6f}"]
            if decimal_comma:
                cells = [c.replace(".", ",") for c in cells]
            w.writerow([f"C21{i:05d}", f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/2021 "
                        f"{rng.randint(3, 23):02d}:{rng.randint(0, 59):02d}", *cells,
                        f"{rng.randint(1, 999)} Main St",
                        rng.choice(["fatal", "non-fatal", "shots-fired"])])
    return path


@pytest.fixture
def calls(city, run, tmp_path):
    f = call_list(tmp_path / "calls.csv")
    r = run("incidents", "import", f, *MAP, *US, "--tz", "America/New_York")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip().endswith(f"{N} added, 0 changed, 0 unchanged, 0 refused")
    return f


def snapshot(open_db) -> tuple:
    with open_db() as cat:
        return (cat.db.rows("SELECT * FROM incidents ORDER BY id"),
                int(cat.db.scalar("SELECT count(*) FROM cameras")))


def days_months(f):
    with open(f, newline="") as fh:
        dates = [r["Date Occurred"][:5] for r in csv.DictReader(fh)]
    month, day = zip(*[(int(d[:2]), int(d[3:5])) for d in dates])
    bad = sum(1 for d in day if d > 12)
    same = sum(1 for m, d in zip(month, day) if m == d)
    return bad, same, len(dates) - bad - same


def test_day_and_month_swapped_with_skip_bad_changes_nothing(calls, run, open_db):
    before = snapshot(open_db)
    bad, same, would = days_months(calls)
    r = run("incidents", "import", calls, *MAP, "--date-format", "%d/%m/%Y %H:%M",
            "--skip-bad")
    assert r.exit_code == 3
    out = r.stdout.splitlines()
    assert out[0] == (f"{would} existing incident(s) would change (refused: pass --update to "
                      f"change them; --dry-run to review): occurred_at ({would})")
    assert len([line for line in out if line.startswith("  C21")]) == 3   # three examples
    assert " occurred_at 2021-" in out[1] and " -> 2021-" in out[1]
    assert f"{calls}: 0 added, 0 changed, {same} unchanged, {bad + would} refused" in out
    errors = r.stderr.splitlines()
    assert len(errors) <= 3, errors                          # grouped, not 3,000 lines
    assert f"{bad} rows (" in errors[0]
    assert snapshot(open_db) == before                       # not one incident re-dated
    assert run("audit", "verify", "--deep").exit_code == 0


def test_another_zone_is_named_and_changes_only_with_update(calls, run, open_db):
    before = snapshot(open_db)
    args = ["incidents", "import", calls, *MAP, *US, "--tz", "America/Chicago"]
    r = run(*args)
    assert r.exit_code == 1
    assert r.stderr.splitlines()[0] == (
        f"Warning: --tz America/Chicago differs from the catalog's zone America/New_York: "
        f"local times in {calls} are read in America/Chicago")
    assert r.stdout.splitlines()[0].startswith(f"{N} existing incident(s) would change")
    example = r.stdout.splitlines()[1]             # an hour later, the same day
    hm = example.split(" occurred_at ")[1]
    was, now = hm.split(" -> ")
    assert int(now[:2]) == int(was[11:13]) + 1 and now[5:] == was[16:]
    assert f"{calls}: nothing imported (0 added, 0 changed, 0 unchanged, {N} refused)" in \
        r.stdout
    assert snapshot(open_db) == before
    r = run(*args, "--dry-run", "--update")        # the review: what --update would do
    assert r.exit_code == 0 and r.stdout.splitlines()[0].startswith(
        f"{N} existing incident(s) would change: occurred_at ({N})")
    assert f"{calls}: dry run, nothing written: 0 added, {N} changed, 0 unchanged, 0 refused" \
        in r.stdout
    assert snapshot(open_db) == before
    r = run(*args, "--update")
    assert r.exit_code == 0
    assert r.stdout.splitlines()[0] == f"{N} existing incident(s) changed: occurred_at ({N})"
    after = snapshot(open_db)[0]
    shift = {a[0]: b[2] - a[2] for a, b in zip(before[0], after)}      # occurred_ts
    assert {v for k, v in shift.items() if k.startswith("C21")} == {3600.0}
    assert {v for k, v in shift.items() if not k.startswith("C21")} == {0.0}
    with open_db() as cat:
        entry = cat.auditlog.entries(1)[0]
    assert json.loads(entry["args"])["changed_fields"] == {"occurred_at": N}
    assert run("audit", "verify", "--deep").exit_code == 0


def test_the_camera_list_under_other_ids_is_refused_as_duplicates(city, run, open_db,
                                                                   tmp_path):
    rows = list(csv.DictReader((FIXTURES / "cameras.csv").read_text().splitlines()))
    for row in rows:
        row["id"] = "NEW-" + row["id"]
    f = tmp_path / "renamed.csv"
    with open(f, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    before = snapshot(open_db)
    r = run("cameras", "import", f)
    assert r.exit_code == 1
    assert f"{len(rows)} x id: likely a duplicate of camera" in r.stdout
    assert "e.g. row 2: likely a duplicate of camera 'CITY-101' (0 m away, same source and " \
           "kind): pass --allow-duplicates if it is another camera" in r.stderr
    r = run("cameras", "import", f, "--skip-bad")
    assert r.exit_code == 3 and f"0 added, 0 changed, 0 unchanged, {len(rows)} refused" in \
        r.stdout
    assert snapshot(open_db) == before
    r = run("cameras", "import", f, "--allow-duplicates")
    assert r.exit_code == 0 and f"{len(rows)} added" in r.stdout


def test_a_wrong_date_format_is_one_line_and_every_row_goes_to_errors_out(city, run,
                                                                          tmp_path):
    f = call_list(tmp_path / "calls.csv")
    out = tmp_path / "refused.csv"
    r = run("incidents", "import", f, *MAP, "--date-format", "%m/%d/%Y", "--errors-out", out)
    assert r.exit_code == 1
    errors = [line for line in r.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1
    assert errors[0].startswith(f"Error: {f}, column Date Occurred (occurred_at): {N} rows "
                                f"(2, 3, 4, 5, 6 and {N - 5} more), e.g. row 2: '")
    assert errors[0].endswith("that --date-format '%m/%d/%Y' leaves out: give both, e.g. "
                              "--date-format '%m/%d/%Y %H:%M'")
    with open(out, newline="") as fh:
        refused = list(csv.DictReader(fh))
    assert len(refused) == N and refused[0]["row"] == "2"
    assert refused[-1]["column"] == "Date Occurred (occurred_at)"


def test_hints_for_decimal_commas_swapped_points_and_the_wrong_kind_of_file(city, run,
                                                                            tmp_path):
    f = call_list(tmp_path / "eu.csv", n=40, decimal_comma=True)
    r = run("incidents", "import", f, *MAP, *US)
    assert r.exit_code == 1
    assert "Hint: 40 number(s) such as '" in r.stderr and "decimal comma" in r.stderr
    f = call_list(tmp_path / "swapped.csv", n=40, swap=range(5, 40))
    r = run("incidents", "import", f, *MAP, *US)
    assert "35 rows (7, 8, 9, 10, 11 and 30 more)" in r.stderr
    assert "it is inside the city: lat and lon look swapped" in r.stderr
    r = run("incidents", "import", FIXTURES / "cameras.csv")
    assert r.exit_code == 1 and "import it with videx cameras import" in r.stderr
    r = run("cameras", "import", FIXTURES / "incidents.csv")
    assert r.exit_code == 1 and "import it with videx incidents import" in r.stderr
    f = write(tmp_path / "four.csv", "id,occurred_at,lat,lon\nA1,05/01/2023 14:30,41.76,"
              "-72.68\n")
    r = run("incidents", "import", f)
    assert ("'05/01/2023 14:30' is ambiguous (month/day or day/month?): give its format, e.g. "
            "--date-format '%m/%d/%Y %H:%M'") in r.stderr             # no "which century"
    f = write(tmp_path / "huge.csv", "id,occurred_at,lat,lon\nA1,2023-05-01T14:30-04:00,"
              + "4" * 100_000 + ",-72.68\n")
    r = run("incidents", "import", f)
    assert r.exit_code == 1 and len(r.stderr) < 700 and "characters ...]" in r.stderr


def test_the_library_keeps_the_web_pages_calls_and_defaults_to_no_update(calls, tmp_path,
                                                                         open_db):
    """The admin import page calls import_incidents(cat, path, skip_bad=...): the same call
    now refuses to change existing incidents."""
    rows = list(csv.DictReader(calls.read_text().splitlines()))
    rows[0]["Category"] = "fatal" if rows[0]["Category"] != "fatal" else "non-fatal"
    f = tmp_path / "web.csv"
    with open(f, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows[:5])
    with catalog.open_catalog(catalog.resolve_path(None)) as cat:
        from videx.records import ReadOptions
        options = ReadOptions(maps=tuple(MAP[1::2]), date_format=US[1])
        report = incidents.import_incidents(cat, f, None, None, True, options)
        assert not report.changed and [c.id for c in report.unapplied] == [rows[0][
            "Case Number"]]
        assert report.unapplied[0].fields == (("category", rows[0]["Category"] == "fatal"
                                               and "non-fatal" or "fatal",
                                               rows[0]["Category"]),)
