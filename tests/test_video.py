"""Activity scan, frames, contact sheet, evidence packages and the incident report, on the real
fixture clips with real ffmpeg, OpenCV and (for the report) headless Chromium."""

import csv
import json
import os
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import DEMO_ID, write
from videx.activity import MOTION_SCORE, scan_file
from videx.hashing import sha256_file

CLIPS = Path(__file__).resolve().parent.parent / "fixtures" / "clips"


def truth_clips(truth):
    return [c for c in truth["clips"]]


def test_full_scan_finds_motion_inside_known_spans_only(truth):
    for c in truth_clips(truth):
        r = scan_file(str(CLIPS / c["path"]))
        assert r.frames >= c.get("frames", c["duration_s"] * 10), c["path"]
        freeze = c.get("freeze_s") or (0, 0)
        for sec, score in enumerate(r.scores):
            inside = any(a <= sec and sec + 1 <= b for a, b in c["motion_spans_s"])
            far = all(sec + 1 <= a - 0.5 or sec >= b + 0.5 for a, b in c["motion_spans_s"])
            far = far or (freeze[0] <= sec and sec + 1 <= freeze[1])
            if inside:
                assert score >= MOTION_SCORE - 0.1, (c["path"], sec, r.scores)
            elif far:
                assert score < 0.05, (c["path"], sec, r.scores)


def test_static_clip_is_quiet_and_not_frozen(truth):
    static = [c for c in truth["clips"] if c["static"]][0]
    r = scan_file(str(CLIPS / static["path"]))
    assert r.peak < 0.05
    assert r.flags == []   # sensor noise: a live static scene is not a frozen feed


def test_frozen_feed_is_flagged(truth):
    frozen = [c for c in truth["clips"] if c["frozen_after_s"]][0]
    r = scan_file(str(CLIPS / frozen["path"]))
    assert r.flags == [{"kind": "frozen", "start_s": frozen["frozen_after_s"],
                        "end_s": float(frozen["duration_s"])}]
    fast = scan_file(str(CLIPS / frozen["path"]), fast=True)
    assert [f["kind"] for f in fast.flags] == ["frozen"]


def test_fast_scan_sees_motion_from_keyframes(truth):
    for c in truth_clips(truth):
        if c.get("keyframe_interval_s", 2) > 2 or c.get("codec") == "mjpeg":
            continue        # see test_fast_scan_is_honest_about_long_gops
        r = scan_file(str(CLIPS / c["path"]), fast=True)
        if c.get("freeze_s"):   # the phone's stall leaves 3.6 s without a keyframe: said why
            assert r.mode == "full" and r.note.startswith(
                "fast scan not meaningful: no keyframe for 3.6 s (from 3 s to 6.6 s)")
            continue
        assert r.mode == "fast" and r.frames < c["duration_s"] * 10 / 3
        if c["motion_spans_s"]:
            assert r.peak >= 1.0, c["path"]
        else:
            assert r.peak < 0.5, c["path"]


def test_dark_and_black_feeds_are_flagged(tmp_path):
    path = tmp_path / "night.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                    "color=c=black:s=160x120:r=10:d=2", "-f", "lavfi", "-i",
                    "color=c=0x1e1e1e:s=160x120:r=10:d=3", "-filter_complex",
                    "[0][1]concat=n=2:v=1,noise=alls=4:allf=t", "-c:v", "libx264", "-crf", "20",
                    str(path)], check=True)
    kinds = {f["kind"]: (f["start_s"], f["end_s"]) for f in scan_file(str(path)).flags}
    assert kinds["black"] == (0.0, 2.0)
    assert kinds["dark"] == (2.0, 5.0)


def test_scan_is_stored_resumable_and_reaches_the_canvass(ingested, run):
    r = run("scan", "--incident", DEMO_ID)
    assert r.exit_code == 0, r.output
    assert "15 scanned (2 with dead-feed flags), 0 already scanned, 0 failed" in r.output
    assert "0 scanned" in run("scan", "--incident", DEMO_ID).output       # resumable
    assert "15 scanned" in run("scan", "--incident", DEMO_ID, "--force").output
    doc = json.loads(run("canvass", DEMO_ID, "--format", "json", "--sort", "activity").stdout)
    assert all(k["activity_near_moment"] is not None and k["activity_peak"] is not None
               and k["activity_mode"] == "full"
               for c in doc["cameras"] for k in c["clips"] if k["contains_moment"])

    def rank(c):     # in view with footage at the moment, then footage, then the rest
        return 2 if c["status"] != "footage" else 0 if c["in_view"] else 1
    ranks = [rank(c) for c in doc["cameras"]]
    assert ranks == sorted(ranks) and ranks[0] == 0
    top = [max(k["activity_near_moment"] or -1 for k in c["clips"])
           for c in doc["cameras"] if rank(c) == 0]
    assert top == sorted(top, reverse=True)
    table = run("canvass", DEMO_ID, "--sort", "activity").stdout
    assert f"{top[0]:.1f}% full" in table.splitlines()[4]      # the figure is shown
    assert run("scan").exit_code == 2
    r = run("scan", "--incident", DEMO_ID, "--mask-top", "0.95", "--force")
    assert r.exit_code == 2
    assert ("Invalid value for --mask-top: the masked top band must be between 0 and 0.9 of "
            "the frame height") in r.output


def test_frame_at_offset_and_at_true_time(ingested, run, tmp_path):
    clips = json.loads(run("clips", "list", "--camera", "RING-002", "--format", "json").stdout)
    clip = clips[0]["id"]
    out = tmp_path / "f.png"
    r = run("frame", clip, "--at", "+0:00:03", "--out", out)
    assert r.exit_code == 0, r.output
    assert cv2.imread(str(out)).shape == (120, 160, 3)
    # the incident moment in true time is 3 s into RING-002's clip (its clock runs 90 s fast)
    r = run("frame", clip, "--at", "2023-05-01T14:30:00-04:00", "--out", out)
    assert f"clip {clip} at 3 s (instant in true time" in r.output
    # the same moment as RING-002's own clock showed it: 14:31:30 EDT
    r = run("frame", clip, "--at", "14:31:30", "--out", out)
    assert r.exit_code == 0, r.output
    assert f"clip {clip} at 3 s (camera clock 14:31:30 (America/New_York), corrected by +90 s;"\
        " true time 2023-05-01 14:30:00 EDT)" in r.output
    r = run("frame", clip, "--at", "99", "--out", out)
    assert r.exit_code == 1 and "99.0 s into clip" in r.stderr
    r = run("frame", clip, "--at", "1:05", "--out", out)
    assert r.exit_code == 1
    assert ("'1:05' is ambiguous: write +0:1:05 for an offset into the clip, or 01:05:00 for "
            "the camera's clock time") in r.stderr


def test_contact_sheet_labels_every_covering_clip(ingested, run, tmp_path):
    out = tmp_path / "sheet.jpg"
    r = run("contact-sheet", DEMO_ID, "--out", out)
    assert r.exit_code == 0
    assert "8 frame(s)" in r.output
    assert "RING-002" in r.output and "+0:00:03" in r.output
    assert cv2.imread(str(out)).shape[0] > 2 * 120


@pytest.fixture
def package(ingested, run, tmp_path):
    cams = json.loads(run("canvass", DEMO_ID, "--format", "json").stdout)["cameras"]
    run("review", DEMO_ID, cams[0]["clips"][0]["clip_id"], "--probative")
    out = tmp_path / "pkg"
    r = run("extract", DEMO_ID, "--out", out)
    assert r.exit_code == 0, r.output
    return out


def test_package_verifies_with_plain_sha256sum(package, ingested):
    before = {p: sha256_file(p) for p in ingested.rglob("*") if p.is_file()}
    done = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=package, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(": OK") == 17  # 15 originals + 2 manifests
    assert {p: sha256_file(p) for p in ingested.rglob("*") if p.is_file()} == before
    for f in (package / "originals").iterdir():
        assert not (f.stat().st_mode & 0o222)


def test_package_holds_the_native_originals_byte_for_byte(package, open_db, run):
    rows = json.loads((package / "manifest.json").read_text())["files"]
    assert {r["role"] for r in rows} == {"original"}
    catalog = {c["id"]: c for c in open_db().clips.list()}
    for r in rows:
        copy = package / r["file"]
        original = catalog[r["clip_id"]]
        assert copy.read_bytes() == open(original["path"], "rb").read()
        assert r["sha256"] == original["sha256"] == sha256_file(copy)
        assert copy.suffix.lower() == Path(original["path"]).suffix.lower()   # .avi stays
    assert run("verify", "--catalog").exit_code == 0            # the catalog agrees


def test_manifest_records_the_incident_times_and_hashes(package, truth):
    doc = json.loads((package / "manifest.json").read_text())
    inc = doc["incident"]
    assert (inc["case_no"], inc["occurred_at"], inc["time_precision"]) == (
        DEMO_ID, "2023-05-01T18:30:00Z", "exact")
    assert inc["occurred_local"] == "2023-05-01 14:30:00 EDT"
    assert inc["radius_m"] == 250 and inc["canvass"]["before_s"] == 1800
    assert inc["window"] == {"start": "2023-05-01T17:59:00Z", "end": "2023-05-01T18:46:00Z"}
    assert inc["extracted_by"]["os_user"] and inc["videx_version"]
    rows = doc["files"]
    ring2 = [r for r in rows if r["camera_id"] == "RING-002"][0]
    assert ring2["raw_start"] == "2023-05-01T18:31:27Z"
    assert ring2["corrected_start"] == "2023-05-01T18:29:57Z"
    assert ring2["clock_offset_s"] == 90
    assert ring2["time_source"] == "filename"
    assert ring2["source_sha256"] == sha256_file(ring2["source_path"])
    assert {r["probative"] for r in rows} >= {"yes", "not reviewed"}
    with open(package / "manifest.csv") as fh:
        assert len(list(csv.DictReader(fh))) == 15


def test_verify_names_altered_missing_and_unexpected(package, run):
    assert run("verify", package).exit_code == 0
    victim = sorted((package / "originals").iterdir())[0]
    os.chmod(victim, 0o644)
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    r = run("verify", package)
    assert r.exit_code == 4
    assert f"ALTERED originals/{victim.name}" in r.stdout
    victim.unlink()
    r = run("verify", package)
    assert r.exit_code == 5 and f"MISSING originals/{victim.name}" in r.stdout
    shutil.copy(package / "manifest.json", package / "originals" / victim.name)  # name only
    (package / "notes.txt").write_text("added later")
    r = run("verify", package)
    assert "UNEXPECTED notes.txt" in r.stdout


def test_excerpts_are_labelled_derived_and_keep_their_container(ingested, run, tmp_path):
    out = tmp_path / "ex"
    r = run("extract", DEMO_ID, "--out", out, "--excerpts", "--before", "1m", "--after", "1m")
    assert r.exit_code == 0, r.output
    rows = json.loads((out / "manifest.json").read_text())["files"]
    derived = [x for x in rows if x["role"] == "derived"]
    originals = {x["clip_id"]: x for x in rows if x["role"] == "original"}
    assert derived and len(derived) == len(originals)
    for d in derived:
        assert d["source_sha256"] == originals[d["clip_id"]]["sha256"]
        assert d["ffmpeg_command"].startswith("ffmpeg ") and "-c copy" in d["ffmpeg_command"]
        assert Path(d["file"]).suffix == Path(d["source_path"]).suffix.lower()
    avi = next(d for d in derived if d["source_path"].endswith(".avi"))
    info = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name:format=format_name",
         "-of", "json", str(out / avi["file"])], capture_output=True, text=True).stdout)
    assert info["format"]["format_name"] == "avi"                 # MJPEG stays in an AVI
    assert info["streams"][0]["codec_name"] == "mjpeg"
    ring2 = next(d for d in derived if d["camera_id"] == "RING-002")
    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format_tags=creation_time", "-of", "json",
         str(out / ring2["file"])], capture_output=True, text=True).stdout)
    assert probe["format"]["tags"]["creation_time"].startswith("2023-05-01T18:29:57")
    assert run("verify", out).exit_code == 0


def test_keyframe_aligned_and_exact_cuts(ingested, run, tmp_path):
    # window from 1 s before the moment: CITY-001's clip (moment at 4 s) starts at 3 s
    r = run("extract", DEMO_ID, "--out", tmp_path / "copy", "--excerpts", "--before", "1s",
            "--after", "2s", "--radius", "70m")
    assert r.exit_code == 0, r.output
    copy = {m["camera_id"]: m for m in json.loads(
        (tmp_path / "copy" / "manifest.json").read_text())["files"] if m["role"] == "derived"}
    # stream copy starts at the keyframe before 2 s (the window also widens by the 60 s
    # uncertainty, so here the whole clip is inside): it records what it got
    assert copy["CITY-001"]["cut"] == "stream copy, from keyframe"
    assert copy["CITY-001"]["extract_start_offset_s"] <= 3.0
    r = run("extract", DEMO_ID, "--out", tmp_path / "exact", "--reencode", "--before", "1s",
            "--after", "2s", "--radius", "70m")
    assert r.exit_code == 0, r.output
    exact = {m["camera_id"]: m for m in json.loads(
        (tmp_path / "exact" / "manifest.json").read_text())["files"] if m["role"] == "derived"}
    assert exact["CITY-001"]["cut"] == "re-encoded, exact"


def test_stream_copy_records_the_keyframe_it_got(ingested, run, tmp_path, open_db):
    from videx import evidence
    from videx.canvass import canvass
    f = write(tmp_path / "k.csv", "id,occurred_at,lat,lon\nK1,2023-05-01T18:30:00Z,41.7602,"
              "-72.6856\n")
    assert run("incidents", "import", f).exit_code == 0
    cat = open_db()
    result = canvass(cat, "K1", before_s=1.0, after_s=2.0, radius_m=70, record=False)
    pkg = evidence.extract(cat, result, tmp_path / "k", excerpts=True)
    city = [r for r in pkg.rows if r["camera_id"] == "CITY-001" and r["role"] == "derived"][0]
    # window starts 3 s into the clip; keyframes are every 1.9 s: 0, 1.9, 3.8 ...
    assert city["extract_start_offset_s"] == pytest.approx(1.9)
    assert city["extract_start"] == "2023-05-01T18:29:57.900Z"
    exact = evidence.extract(cat, result, tmp_path / "e", reencode=True, excerpts=True)
    city = [r for r in exact.rows if r["camera_id"] == "CITY-001" and r["role"] == "derived"][0]
    assert city["extract_start_offset_s"] == pytest.approx(3.0)
    dur = float(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                                "-of", "csv=p=0", str(tmp_path / "e" / city["file"])],
                               capture_output=True, text=True).stdout)
    assert dur == pytest.approx(3.0, abs=0.15)


def test_hostile_ids_stay_inside_the_package_and_csv_is_safe(city, run, tmp_path):
    cams = write(tmp_path / "evil.csv", "id,name,source,integration,lat,lon\n"
                 "../../evil,=HYPERLINK(\"http://x\"),city,connected,41.7603,-72.6857\n")
    assert run("cameras", "import", cams).exit_code == 0
    clip = tmp_path / "20230501_142956.mp4"
    shutil.copy(CLIPS / "CITY-001" / "20230501_142956.mp4", clip)
    assert run("ingest", clip, "--camera", "../../evil").exit_code == 0
    out = tmp_path / "deep" / "pkg"
    assert run("extract", DEMO_ID, "--out", out).exit_code == 0
    files = [p for p in (tmp_path / "deep").rglob("*.mp4")]
    assert files and all(out in p.parents for p in files)
    assert not [p for p in tmp_path.rglob("*evil*.mp4") if out not in p.parents]
    assert any(p.name.startswith("evil_clip") for p in files)  # "../../" became "evil"
    text = (out / "manifest.csv").read_text()
    assert "'=HYPERLINK" in text


def test_verify_catalog_finds_changed_and_vanished_originals(ingested, run):
    assert run("verify", "--catalog").exit_code == 0
    target = ingested / "RING-001" / "FrontDoor_2023-05-01T18-29-58Z.mp4"
    data = bytearray(target.read_bytes())
    data[-10] ^= 1
    target.write_bytes(bytes(data))
    r = run("verify", "--catalog")
    assert r.exit_code == 4 and f"ALTERED {target}" in r.stdout
    target.unlink()
    r = run("verify", "--catalog")
    assert r.exit_code == 5 and f"MISSING {target}" in r.stdout


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    if os.environ.get("VIDEX_NO_BROWSER"):
        pytest.skip("VIDEX_NO_BROWSER is set")
    pytest.fail("headless Chromium not found: scripts/test installs it (apt-get install "
                "chromium); set VIDEX_NO_BROWSER=1 to skip this check")


def test_incident_report_is_self_contained_and_renders(ingested, run, tmp_path):
    run("scan", "--incident", DEMO_ID)
    run("outcome", DEMO_ID, "PRIV-001", "--status", "requested", "--note", "letter")
    out = tmp_path / "report.html"
    r = run("report", DEMO_ID, "--out", out)
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert "<svg" in text and "data:image/jpeg;base64," in text
    assert "HPD-23-004120" in text and "letter" in text and "view wedge" not in text
    import re
    assert not re.search(r"(src|href)=['\"](https?:)?//", text)   # nothing from the network
    png = tmp_path / "report.png"
    done = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                           "--disable-quic", "--no-first-run", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={tmp_path / 'chrome'}", "--hide-scrollbars",
                           "--window-size=1100,1600", f"--screenshot={png}", out.as_uri()],
                          capture_output=True, timeout=120)
    assert png.exists(), done.stderr.decode()[-500:]
    image = cv2.imread(str(png))
    assert image.shape[:2] == (1600, 1100)
    assert float(image.std()) > 20           # not a blank page
    assert (np.abs(image.astype(int) - [255, 255, 255]).sum(axis=2) > 60).mean() > 0.05


def _resum(package, name, digest):
    sums = package / "SHA256SUMS"
    os.chmod(sums, 0o644)
    lines = [ln for ln in sums.read_text().splitlines() if not ln.endswith(f"  {name}")]
    sums.write_text("\n".join(lines + [f"{digest}  {name}"]) + "\n")


def test_verify_checks_sha256sums_against_the_manifest(package, run):
    victim = sorted((package / "originals").iterdir())[0]
    os.chmod(victim, 0o644)
    victim.write_bytes(victim.read_bytes() + b"tampered")
    # the forger updates SHA256SUMS too, so sha256sum -c alone would pass ...
    _resum(package, f"originals/{victim.name}", sha256_file(victim))
    ok = subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=package)
    assert ok.returncode == 0
    r = run("verify", package)                     # ... but it disagrees with manifest.json
    assert r.exit_code == 4
    assert (f"DISAGREES originals/{victim.name}: SHA256SUMS and manifest.json give different "
            "hashes"
            in r.stdout)


def test_verify_reads_only_regular_files_inside_the_package(package, run, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("not evidence")
    _resum(package, "../outside.txt", sha256_file(outside))
    _resum(package, str(outside), sha256_file(outside))
    link = package / "originals" / "link.mp4"
    link.symlink_to(outside)
    _resum(package, "originals/link.mp4", sha256_file(outside))
    r = run("verify", package)
    assert r.exit_code == 4
    assert "DISAGREES ../outside.txt: path leaves the package in SHA256SUMS" in r.stdout
    assert f"DISAGREES {outside}: absolute path in SHA256SUMS" in r.stdout
    assert ("UNEXPECTED originals/link.mp4 (a symlink, not a regular file; listed in SHA256SUMS)"
            in r.stdout)
    assert "DISAGREES originals/link.mp4: in SHA256SUMS but not in manifest.json" in r.stdout


def test_report_uses_one_canvass_for_everything(ingested, run, tmp_path):
    """--radius reaches the contact sheet too (it used to canvass again at 250 m)."""
    out = tmp_path / "r.html"
    assert run("report", DEMO_ID, "--out", out, "--radius", "50m").exit_code == 0
    text = out.read_text()
    near = json.loads(run("canvass", DEMO_ID, "--radius", "50m", "--format", "json").stdout)
    inside = {c["camera_id"] for c in near["cameras"]}
    far = {c["camera_id"] for c in json.loads(run("canvass", DEMO_ID, "--format",
                                                  "json").stdout)["cameras"]} - inside
    assert inside and far
    for cam in far:
        assert f">{cam}<" not in text, cam            # not on the map, tables or sheet
    sheet = tmp_path / "s.jpg"
    r = run("contact-sheet", DEMO_ID, "--out", sheet, "--radius", "50m")
    shown = {line.split()[0] for line in r.stdout.splitlines()[:-1]}
    assert shown <= inside


# ------------------------------------------------------------------ video as detectives get it
def by_path(truth, key):
    return next(c for c in truth["clips"] if key in c)


def test_vfr_freeze_is_found_where_it_is(truth):
    """Seconds come from presentation times: the phone's 2 s stall lands at 4-6 s, and the
    motion after it is not shifted into the freeze."""
    c = by_path(truth, "freeze_s")
    r = scan_file(str(CLIPS / c["path"]))
    frozen = [f for f in r.flags if f["kind"] == "frozen"]
    assert len(frozen) == 1
    assert frozen[0]["start_s"] == pytest.approx(c["freeze_s"][0], abs=0.5)
    assert frozen[0]["end_s"] == pytest.approx(c["freeze_s"][1], abs=0.5)
    a, b = c["motion_spans_s"][1]                       # after the stall
    assert all(r.scores[s] >= MOTION_SCORE for s in range(int(a) + 1, int(b)))
    assert r.frozen[4] and r.frozen[5] and not r.frozen[7]


def test_fast_scan_is_honest_about_long_gops(truth):
    c = by_path(truth, "keyframe_interval_s")
    r = scan_file(str(CLIPS / c["path"]), fast=True)
    assert r.mode == "full" and r.keyframe_interval_s == pytest.approx(10.0)
    assert r.note.startswith("fast scan not meaningful: keyframes every 10 s")
    for a, b in c["motion_spans_s"]:                    # the motion a keyframe pass misses
        assert max(r.scores[int(a):int(b)]) >= MOTION_SCORE


def moving_box_clip(path, *x264_args):
    """A 6 s, 10 fps, 160x120 clip of a white box crossing a grey street (the box moves in
    every second), encoded with the given keyframe options."""
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                    "color=c=0x606060:s=160x120:r=10:d=6", "-f", "lavfi", "-i",
                    "color=c=white:s=30x30:r=10:d=6", "-filter_complex",
                    "[0][1]overlay=x='10+t*20':y=50,noise=alls=3:allf=t", "-c:v", "libx264",
                    *x264_args, "-pix_fmt", "yuv420p", str(path)], check=True)
    keys = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
                           "packet=pts_time,flags", "-of", "csv=p=0", str(path)],
                          check=True, capture_output=True, text=True).stdout.split()
    return [float(k.split(",")[0]) for k in keys if "K" in k.split(",")[1]]


def test_fast_scan_of_a_clip_with_a_single_keyframe_decodes_every_frame(tmp_path):
    # one keyframe in the whole clip (-g larger than the 60 frames): a keyframe pass would
    # see one picture and report a busy street as still
    path = tmp_path / "phone.mp4"
    assert moving_box_clip(path, "-g", "1000", "-x264-params", "scenecut=0") == [0.0]
    r = scan_file(str(path), fast=True)
    assert r.mode == "full" and r.frames == 60
    assert r.active_seconds() == [0, 1, 2, 3, 4, 5]
    assert r.note == ("fast scan not meaningful: a single keyframe in the whole 6 s clip, so "
                      "there are no two pictures to compare; every frame was decoded instead")
    assert r.summary().startswith("clip None: full scan of 60 frames, 6 active second(s)")
    assert r.summary().endswith(f"({r.note})")


def test_fast_scan_refuses_a_clip_with_a_long_stretch_without_keyframes(tmp_path):
    # keyframes at 0 and 1 s only: their median interval (1 s) looks fine, but the last 5 s
    # have none, and the box moves through all of them
    path = tmp_path / "dvr.mp4"
    keys = moving_box_clip(path, "-g", "1000", "-x264-params", "scenecut=0",
                           "-force_key_frames", "0,1")
    assert keys == [0.0, 1.0]
    r = scan_file(str(path), fast=True)
    assert r.mode == "full" and r.active_seconds() == [0, 1, 2, 3, 4, 5]
    assert r.note == ("fast scan not meaningful: no keyframe for 5 s (from 1 s to 6 s), longer "
                      "than the 2.5 s a keyframe pass can judge; every frame was decoded "
                      "instead")


def test_a_full_scan_replaces_a_fast_one_without_force(ingested, run):
    city1 = json.loads(run("clips", "list", "--camera", "CITY-001", "--format",
                           "json").stdout)[0]["id"]
    assert "1 scanned" in run("scan", city1, "--fast").output
    assert "0 scanned (0 with dead-feed flags), 1 already scanned" in run("scan", city1, "--fast").output
    r = run("scan", city1, "--format", "json")
    assert [x["mode"] for x in json.loads(r.stdout)["scanned"]] == ["full"]
    assert "0 scanned (0 with dead-feed flags), 1 already scanned" in run("scan", city1, "--fast").output


def test_rotated_phone_frames_are_upright(ingested, run, tmp_path, truth):
    c = by_path(truth, "rotation")
    clip = next(x for x in json.loads(run("clips", "list", "--camera", "PRIV-003", "--format",
                                          "json").stdout) if x["path"].endswith("IMG_0413.MOV"))
    out = tmp_path / "up.png"
    r = run("frame", clip["id"], "--at", "+2", "--out", out)
    assert r.exit_code == 0, r.output
    image = cv2.imread(str(out))
    assert [image.shape[1], image.shape[0]] == c["display_size"]        # 96 x 160, upright
    bright = np.argwhere(image.min(axis=2) > 200)                        # the burned-in clock
    assert bright[:, 0].max() < 20 and bright[:, 1].min() < 12           # top left, level
    sheet = tmp_path / "sheet.png"
    assert run("contact-sheet", DEMO_ID, "--out", sheet).exit_code == 0
    tiles = cv2.imread(str(sheet))
    assert tiles.shape[1] == 3 * (320 + 6) + 6                          # one tile size


def test_report_map_has_a_basemap_from_a_tile_server_and_stays_offline(ingested, run,
                                                                        tmp_path):
    import http.server
    import re
    import threading

    asked = []

    class Tiles(http.server.BaseHTTPRequestHandler):
        def do_GET(self):           # a grey tile with a street across it, per request
            asked.append(self.path)
            img = np.full((256, 256, 3), 235, np.uint8)
            cv2.line(img, (0, 128), (255, 128), (180, 180, 180), 12)
            body = cv2.imencode(".png", img)[1].tobytes()
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{{z}}/{{x}}/{{y}}.png"
        out = tmp_path / "tiles.html"
        r = run("report", DEMO_ID, "--out", out, "--tiles", url)
        assert r.exit_code == 0, r.output
    finally:
        server.shutdown()
    text = out.read_text()
    assert asked and all(re.fullmatch(r"/\d+/\d+/\d+\.png", p) for p in asked)
    assert text.count("<image ") == len(asked)
    assert "data:image/png;base64," in text
    assert "127.0.0.1" not in text                       # embedded: opens offline
    r = run("report", DEMO_ID, "--out", tmp_path / "t.html", "--tiles",
            "http://127.0.0.1:9/{z}/{x}/{y}.png")        # nothing listens there
    assert r.exit_code == 0 and "basemap tile(s) could not be fetched" in r.stderr


def test_report_labels_do_not_overlap_and_the_timeline_has_a_time_axis(ingested, run,
                                                                      tmp_path):
    import re

    from videx.incident_report import LABEL_HEIGHT, LABEL_PX_PER_CHAR
    out = tmp_path / "r.html"
    assert run("report", DEMO_ID, "--out", out).exit_code == 0
    text = out.read_text()
    boxes = [(float(x), float(y) - LABEL_HEIGHT + 2, float(x) + LABEL_PX_PER_CHAR * len(t),
              float(y) + 2) for x, y, t in re.findall(
        r"<text x='([\d.-]+)' y='([\d.-]+)' font-size='11' paint-order='stroke'[^>]*>"
        r"([^<]+)</text>", text)]
    assert len(boxes) == 16
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert min(a[2], b[2]) <= max(a[0], b[0]) or min(a[3], b[3]) <= max(a[1], b[1])
    ticks = re.findall(r"class='tick'>(\d\d:\d\d)</text>", text)
    assert ticks[:3] == ["14:00", "14:05", "14:10"] and ticks[-1] == "14:45"
