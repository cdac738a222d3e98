import json
import os
from pathlib import Path

import pytest

from conftest import FIXTURES
from videx import ingest
from videx.hashing import sha256_file


def clips(run, *args):
    return json.loads(run("clips", "list", "--format", "json", *args).stdout)


def test_fixture_clips_are_catalogued_with_true_times(ingested, run, truth):
    rows = {Path(r["path"]).relative_to(ingested).as_posix(): r for r in clips(run)}
    expected = [c for c in truth["clips"] if c["time_source"] != "none"]
    assert set(rows) == {c["path"] for c in expected}
    for c in expected:
        row = rows[c["path"]]
        assert row["camera_id"] == c["camera_id"]
        assert row["start"] == c["true_start"], c["path"]          # corrected = true time
        assert row["start_raw"] == c["camera_clock_start"], c["path"]  # as the camera said
        assert row["clock_offset_s"] == c["clock_offset_s"]
        assert row["time_source"] == c["time_source"]
        assert row["duration_s"] == pytest.approx(c["duration_s"], abs=0.15)
        assert row["codec"] == c.get("codec", "h264"), c["path"]
        assert [row["width"], row["height"]] == c.get("coded_size", [160, 120])
        assert [row["display_width"], row["display_height"]] == c.get("display_size",
                                                                      [160, 120])
        assert row["rotation"] == c.get("rotation", 0)
        assert bool(row["vfr"]) == c.get("vfr", False), c["path"]
        if not c.get("vfr"):
            assert row["fps"] == 10
        if "keyframe_interval_s" in c:
            assert row["keyframe_interval_s"] == pytest.approx(c["keyframe_interval_s"])
        assert row["frames"] >= c.get("frames", c["duration_s"] * 10)
        assert row["sha256"] == sha256_file(ingested / c["path"])


def test_rejects_are_listed_with_reasons(ingested, run):
    rejects = {Path(r["path"]).name: r["reason"] for r in
               json.loads(run("rejects", "list", "--format", "json").stdout)}
    assert rejects["corrupt.mp4"].startswith("not readable as video: Invalid data found")
    assert rejects["truncated.mp4"].startswith("truncated: box 'mdat' at byte")
    assert rejects["notes.txt"].startswith("not readable as video")
    assert rejects["untimed.mp4"].startswith("no start time")


def test_ingest_output_and_exit_code(city, run, clips_copy):
    r = run("ingest", clips_copy, "--camera-from-folder")
    assert r.exit_code == 3
    assert r.stdout.strip().splitlines()[-1] == (
        "15 added, 0 already catalogued, 0 duplicate(s) skipped, 0 conflict(s), 4 rejected")
    assert f"Error: {clips_copy / 'RING-001' / 'corrupt.mp4'}: not readable as video" in r.stderr
    # a second run is a no-op for catalogued files
    r = run("ingest", clips_copy, "--camera-from-folder")
    assert "0 added, 15 already catalogued" in r.stdout
    assert len(clips(run)) == 15


def test_originals_are_not_modified(city, run, clips_copy):
    before = {p: (sha256_file(p), p.stat().st_mtime_ns) for p in clips_copy.rglob("*.mp4")}
    run("ingest", clips_copy, "--camera-from-folder")
    after = {p: (sha256_file(p), p.stat().st_mtime_ns) for p in clips_copy.rglob("*.mp4")}
    assert before == after


def test_changed_file_is_a_conflict_not_a_replacement(ingested, run):
    target = ingested / "CITY-001" / "20230501_142956.mp4"
    old = [c for c in clips(run) if c["path"] == str(target)][0]
    with open(target, "r+b") as fh:
        fh.seek(2000)
        byte = fh.read(1)
        fh.seek(2000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    r = run("ingest", target, "--camera", "CITY-001")
    assert r.exit_code == 3
    assert "1 conflict(s)" in r.stdout
    assert f"Error: {target}: conflict: file changed since it was catalogued as clip " \
           f"{old['id']}" in r.stderr
    assert [c for c in clips(run) if c["path"] == str(target)][0]["sha256"] == old["sha256"]


def test_same_content_elsewhere_is_a_duplicate(ingested, run, tmp_path):
    copy = tmp_path / "copy" / "20230501_142956.mp4"
    copy.parent.mkdir()
    copy.write_bytes((ingested / "CITY-001" / "20230501_142956.mp4").read_bytes())
    r = run("ingest", copy, "--camera", "CITY-001")
    assert r.exit_code == 0
    assert "1 duplicate(s) skipped" in r.stdout
    assert len(clips(run)) == 15


def test_interrupted_ingest_resumes_with_one_row_per_file(city, clips_copy, open_db):
    cat = open_db()
    seen = []

    def stop_after_five(n):
        seen.append(n)
        if len(seen) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest.ingest(cat, [clips_copy], camera_from_folder=True, jobs=2,
                      progress=stop_after_five)
    partial = cat.clips.count()
    assert 0 < partial < 15
    report = ingest.ingest(cat, [clips_copy], camera_from_folder=True, jobs=2)
    assert len(report.added) == 15 - partial
    paths = [r["path"] for r in cat.clips.list()]
    assert len(paths) == len(set(paths)) == 15
    assert len(cat.clips.rejects()) == 4


def test_start_sources_in_order(city, run, tmp_path):
    src = FIXTURES / "clips" / "BIZ-001" / "untimed.mp4"
    clip = tmp_path / "u.mp4"
    clip.write_bytes(src.read_bytes())
    r = run("ingest", clip, "--camera", "BIZ-001")
    assert r.exit_code == 3 and "no start time" in r.stderr
    # manual start, read in the catalog zone, then the camera's offset (-42 s) applied
    r = run("ingest", clip, "--camera", "BIZ-001", "--start", "2023-05-01 14:00:00")
    assert r.exit_code == 0, r.output
    row = clips(run, "--camera", "BIZ-001")[0]
    assert (row["start_raw"], row["start"], row["time_source"]) == (
        "2023-05-01T18:00:00Z", "2023-05-01T18:00:42Z", "manual")
    assert json.loads(run("rejects", "list", "--format", "json").stdout) == []


def test_mtime_only_when_asked_and_low_confidence(city, run, tmp_path):
    clip = tmp_path / "u.mp4"
    clip.write_bytes((FIXTURES / "clips" / "BIZ-001" / "untimed.mp4").read_bytes())
    os.utime(clip, (1_683_000_000, 1_683_000_000))
    r = run("ingest", clip, "--camera", "PRIV-001", "--allow-mtime")
    assert r.exit_code == 0, r.output
    row = clips(run)[0]
    assert row["time_source"] == "mtime" and row["time_confidence"] == "low"
    assert row["end_ts"] == pytest.approx(1_683_000_000, abs=0.01)


def test_user_name_pattern(city, run, tmp_path):
    clip = tmp_path / "cam7 on 01.05.2023 at 14h30m00.mp4"
    clip.write_bytes((FIXTURES / "clips" / "BIZ-001" / "untimed.mp4").read_bytes())
    pattern = r"(?P<d>\d\d)\.(?P<m>\d\d)\.(?P<Y>\d{4}) at (?P<H>\d\d)h(?P<M>\d\d)m(?P<S>\d\d)"
    r = run("ingest", clip, "--camera", "CITY-001", "--name-pattern", pattern)
    assert r.exit_code == 0, r.output
    row = clips(run)[0]
    assert row["start"] == "2023-05-01T18:30:00Z"
    assert row["time_detail"] == "file name (name-pattern, local America/New_York)"
    r = run("ingest", clip, "--camera", "CITY-001", "--name-pattern", r"(?P<Y>\d{4})")
    assert r.exit_code == 2
    assert ("Invalid value for --name-pattern: the pattern needs named groups Y, m, d, H, M, S "
            "(missing H, M, S, d, m)") in r.stderr


def test_file_name_in_dst_gap_is_rejected(city, run, tmp_path):
    clip = tmp_path / "20230312_023000.mp4"
    clip.write_bytes((FIXTURES / "clips" / "BIZ-001" / "untimed.mp4").read_bytes())
    r = run("ingest", clip, "--camera", "CITY-001")
    assert r.exit_code == 3
    assert "local time 2023-03-12 02:30:00 does not exist in America/New_York" in r.stderr


def test_empty_file_and_unknown_folder_camera(city, run, tmp_path):
    folder = tmp_path / "NOT-A-CAMERA"
    folder.mkdir()
    (folder / "20230501_142956.mp4").write_bytes(
        (FIXTURES / "clips" / "CITY-001" / "20230501_142956.mp4").read_bytes())
    (folder / "empty.mp4").write_bytes(b"")
    r = run("ingest", folder, "--camera-from-folder")
    assert r.exit_code == 3
    assert "empty.mp4: empty file (0 bytes)" in r.stderr
    assert "no camera 'NOT-A-CAMERA' in the catalog" in r.stderr


def test_camera_option_is_required_once(city, run, clips_copy):
    r = run("ingest", clips_copy)
    assert r.exit_code == 2
    assert "Error: give exactly one of --camera ID or --camera-from-folder" in r.stderr
    r = run("ingest", clips_copy, "--camera", "NOPE")
    assert r.stderr.strip() == "Error: no camera 'NOPE' in the catalog (see videx cameras list)"


def test_a_file_named_twice_is_ingested_once(city, run, clips_copy):
    folder = clips_copy / "CITY-001"
    r = run("ingest", folder, folder / "20230501_142956.mp4", "--camera", "CITY-001")
    assert r.exit_code == 0, r.output
    assert "2 added" in r.stdout
    assert len(clips(run)) == 2


def test_each_committed_batch_has_its_audit_entry(city, clips_copy, open_db):
    cat = open_db()
    report = ingest.ingest(cat, [clips_copy], camera_from_folder=True, jobs=2)
    entries = [e for e in cat.auditlog.entries() if e["command"] == "ingest"]
    audited = [c for e in entries for c in json.loads(e["args"])["added"]]
    assert sorted(audited) == sorted(report.added)
    rows = {k for e in entries for t, k, _ in cat.auditlog.rows_of(e["id"]) if t == "clips"}
    assert rows == {str(c) for c in report.added}


def test_a_file_still_being_written_is_refused(city, open_db, tmp_path, monkeypatch):
    src = (FIXTURES / "clips" / "CITY-001" / "20230501_142956.mp4").read_bytes()
    growing = tmp_path / "20230501_142956.mp4"
    growing.write_bytes(src)
    real_probe = ingest.probe

    def copy_goes_on_while_we_read(path, *args, **kwargs):
        info = real_probe(path, *args, **kwargs)
        with open(path, "ab") as fh:       # the copying program writes more meanwhile
            fh.write(b"\0" * 1000)
        return info

    monkeypatch.setattr(ingest, "probe", copy_goes_on_while_we_read)
    cat = open_db()
    report = ingest.ingest(cat, [growing], camera_id="CITY-001")
    assert report.added == []
    assert report.rejected[0][1] == (f"still being written (size {len(src)} -> "
                                     f"{len(src) + 1000} bytes while it was read); retry when "
                                     "the copy has finished")
    assert cat.clips.count() == 0 and len(cat.clips.rejects()) == 1
    monkeypatch.undo()
    growing.write_bytes(src)                    # the copy finished
    assert len(ingest.ingest(cat, [growing], camera_id="CITY-001").added) == 1
    assert cat.clips.rejects() == []


def test_a_symlink_loop_is_refused_alone(city, run, clips_copy):
    folder = clips_copy / "CITY-001"
    (folder / "loop.mp4").symlink_to(folder / "loop.mp4")
    (folder / "dangling.mp4").symlink_to(folder / "nowhere.mp4")
    r = run("ingest", folder, "--camera", "CITY-001")
    assert r.exit_code == 3, r.output
    assert f"Error: {folder / 'loop.mp4'}: path symlink loop" in r.stderr
    assert f"Error: {folder / 'dangling.mp4'}: path cannot be resolved" in r.stderr
    assert "2 added" in r.stdout
    assert "Traceback" not in r.output


def test_a_clip_start_without_a_time_of_day_is_refused_not_midnight(city, run, tmp_path):
    clip = tmp_path / "u.mp4"
    clip.write_bytes((FIXTURES / "clips" / "BIZ-001" / "untimed.mp4").read_bytes())
    (tmp_path / "u.json").write_text('{"start": "2023-05-01"}')
    r = run("ingest", clip, "--camera", "BIZ-001")
    assert r.exit_code == 3
    assert ("'2023-05-01' is a date without a time of day: give the time (a date alone is "
            "never read as midnight)") in r.stderr
    (tmp_path / "u.json").unlink()
    r = run("ingest", clip, "--camera", "BIZ-001", "--start", "20230501")   # a bad option:
    assert r.exit_code == 2 and "Invalid value for --start" in r.stderr      # a usage error
    assert "is a date without a time of day" in r.stderr
    assert clips(run) == []


def _untimed(tmp_path, name):
    clip = tmp_path / name
    clip.write_bytes((FIXTURES / "clips" / "BIZ-001" / "untimed.mp4").read_bytes())
    return clip


def test_name_pattern_sees_the_whole_file_name(city, run, tmp_path):
    clip = _untimed(tmp_path, "export 01-05-2023 14.30.00.mp4")
    pattern = (r"(?P<d>\d\d)-(?P<m>\d\d)-(?P<Y>\d{4}) (?P<H>\d\d)\.(?P<M>\d\d)\.(?P<S>\d\d)"
               r"\.mp4$")
    r = run("ingest", clip, "--camera", "CITY-001", "--name-pattern", pattern)
    assert r.exit_code == 0, r.output
    assert clips(run)[0]["start"] == "2023-05-01T18:30:00Z"


def test_nvr_names_keep_their_milliseconds(city, run, tmp_path):
    clip = _untimed(tmp_path, "10.0.0.7_03_20230501143012045.mp4")
    assert run("ingest", clip, "--camera", "CITY-001").exit_code == 0
    row = clips(run)[0]
    assert row["start"] == "2023-05-01T18:30:12.045Z"
    assert row["time_detail"] == "file name (nvr-ip-channel, local America/New_York)"


def test_suspect_start_times_are_refused_or_kept_at_low_confidence(city, run, tmp_path):
    future = _untimed(tmp_path, "20990501_143000.mp4")
    r = run("ingest", future, "--camera", "CITY-001")
    assert r.exit_code == 3
    assert "start 2099-05-01 18:30:00Z from filename is in the future" in r.stderr
    old = _untimed(tmp_path, "19990501_143000.mp4")
    r = run("ingest", old, "--camera", "CITY-001", "--allow-suspect-times")
    assert r.exit_code == 0, r.output
    row = clips(run)[0]
    assert row["time_confidence"] == "low" and row["time_detail"].endswith(
        "suspect: before 2000")


def test_mtime_is_the_copying_computers_clock_unless_said_otherwise(city, run, tmp_path):
    # BIZ-001's clock runs 42 s slow (clock_offset_s -42): that is no reason to move an mtime
    clip = _untimed(tmp_path, "a.mp4")
    os.utime(clip, (1_683_000_000, 1_683_000_000))
    assert run("ingest", clip, "--camera", "BIZ-001", "--allow-mtime").exit_code == 0
    row = clips(run)[0]
    assert row["end_ts"] == pytest.approx(1_683_000_000, abs=0.01)
    assert row["clock_offset_s"] == 0
    assert "copying computer's clock, camera offset not applied" in row["time_detail"]
    straight = tmp_path / "b.mp4"                               # another file, no time in it
    straight.write_bytes((FIXTURES / "clips" / "CITY-001" / "20230501_142956.mp4").read_bytes())
    os.utime(straight, (1_683_000_000, 1_683_000_000))
    r = run("ingest", straight, "--camera", "BIZ-001", "--allow-mtime", "--mtime-from-camera")
    assert r.exit_code == 0, r.output
    row = [c for c in clips(run) if c["path"].endswith("b.mp4")][0]
    assert row["clock_offset_s"] == -42
    assert row["end_ts"] == pytest.approx(1_683_000_000 + 42, abs=0.01)
    assert "the camera's clock (file straight from the camera)" in row["time_detail"]


def test_a_vendor_time_source_is_one_function_and_one_registration(city, open_db, tmp_path):
    from datetime import datetime, timezone

    from videx import timesources

    @timesources.time_source("acme-xml", stage="sidecar")
    def acme(path, ctx):
        meta = path.with_suffix(".acme")
        if not meta.is_file():
            return None
        stamp = meta.read_text().split("<start>")[1].split("</start>")[0]
        return timesources.Found(datetime.fromisoformat(stamp).astimezone(timezone.utc),
                                 f"ACME export {meta.name}")

    try:
        clip = _untimed(tmp_path, "CH1.mp4")
        clip.with_suffix(".acme").write_text("<x><start>2023-05-01T14:30:01-04:00</start></x>")
        report = ingest.ingest(open_db(), [clip], camera_id="CITY-001")
        assert report.rejected == []
        row = open_db().clips.require(report.added[0])
        assert (row["time_source"], row["start"]) == ("acme-xml", "2023-05-01T18:30:01Z")
        assert "acme-xml" in timesources.registered()
    finally:
        timesources._SOURCES[:] = [s for s in timesources._SOURCES if s.name != "acme-xml"]


def test_an_installed_plugin_registers_its_time_source_in_a_fresh_process(tmp_path):
    """A distribution that declares a ``videx.timesources`` entry point (as ``pip install``
    writes it) is found and imported: the same list importlib.metadata gives, first
    distribution on the path winning."""
    import subprocess
    import sys
    site = tmp_path / "site"
    (site / "acme_videx").mkdir(parents=True)
    (site / "acme_videx" / "__init__.py").write_text(
        "from videx import timesources\n"
        "@timesources.time_source('acme-json', stage='sidecar')\n"
        "def acme(path, ctx):\n    return None\n")
    for folder, target in (("acme_videx-1.0.dist-info", "acme_videx"),
                           ("other-2.0.dist-info", None)):
        (site / folder).mkdir()
        (site / folder / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {folder.split('-')[0]}\nVersion: 1\n")
        if target:
            (site / folder / "entry_points.txt").write_text(
                f"[console_scripts]\nx = y:z\n\n[videx.timesources]\nacme = {target}\n")
    shadow = tmp_path / "shadow"                      # a later copy of the same distribution
    (shadow / "acme_videx-0.9.dist-info").mkdir(parents=True)
    (shadow / "acme_videx-0.9.dist-info" / "entry_points.txt").write_text(
        "[videx.timesources]\nold = acme_old_module\n")
    code = ("import json, sys\nfrom importlib.metadata import entry_points\n"
            "from videx import timesources\n"
            "print(json.dumps([timesources.declared_plugins(),"
            " [e.value for e in entry_points(group='videx.timesources')],"
            " timesources.registered()]))\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(shadow), str(FIXTURES.parent)])}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    mine, theirs, registered = json.loads(out)
    assert mine == theirs == ["acme_videx"]
    assert "acme-json" in registered


def test_clip_ids_follow_the_files_order_whatever_thread_finishes_first(city, open_db,
                                                                        clips_copy):
    """Four threads probe at once, and a large file ahead of small ones finishes last; the
    ids still follow the sorted file order (the same catalog from the same files, every
    time)."""
    report = ingest.ingest(open_db(), [clips_copy], camera_from_folder=True, jobs=4)
    assert len(report.added) >= 10
    rows = open_db().db.rows("SELECT id, path FROM clips ORDER BY id")
    paths = [r[1] for r in rows]
    walked = [str(p.resolve()) for p in ingest.iter_files([clips_copy])]
    assert paths == [p for p in walked if p in set(paths)]
