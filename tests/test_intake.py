"""Evidence-grade intake of what owners send: real clips (the fixtures, and a larger one made
by ffmpeg), the real probe, a real evidence store, real concurrent and killed processes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import DEMO_ID, FIXTURES, ON_PG
from videx import catalog, intake, requests, timesources
from videx.timeutil import iso_utc

RING2 = FIXTURES / "clips" / "RING-002" / "FrontDoor_2023-05-01T18-31-27Z.mp4"
UNTIMED = FIXTURES / "clips" / "BIZ-001" / "untimed.mp4"
EXPORT = FIXTURES / "clips" / "BIZ-001" / "export.mp4"


def sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def store(city, run, tmp_path, monkeypatch):
    """The city catalog (no clips) with a link secret, an evidence store, and requests for
    the demo shooting's RING-002 (clock 90 s fast) and BIZ-001 (42 s slow); returns the
    store folder."""
    monkeypatch.setenv("VIDEX_LINK_KEY", str(tmp_path / "link.key"))
    r = run("init", "--link-key", "--public-url", "https://videx.example.org",
            "--evidence-store", tmp_path / "store")
    assert r.exit_code == 0, r.output
    r = run("requests", "create", DEMO_ID, "--camera", "RING-002", "--camera", "BIZ-001")
    assert r.exit_code == 0, r.output
    return tmp_path / "store"


@pytest.fixture
def cat(store, open_db):
    return open_db()


def req_for(cat, camera_id):
    return next(r for r in requests.list_requests(cat, DEMO_ID) if r.camera_id == camera_id)


def upload(cat, req, source, **meta) -> intake.IntakeResult:
    """Stream a file into staging as the web does, then accept it."""
    staged = intake.stage_file(cat, source)
    meta.setdefault("file_name", Path(source).name)
    meta.setdefault("bytes_received", staged.size_bytes)
    meta.setdefault("sha256", staged.sha256)
    return intake.accept(cat, req, staged.path, intake.UploadMeta(**meta))


def store_files(store: Path) -> dict[str, tuple]:
    """Every file in the store (not staging): {name: (inode, mtime_ns, mode, sha256)}."""
    out = {}
    for p in store.rglob("*"):
        if p.is_file() and intake.STAGING not in p.parts:
            st = p.stat()
            out[str(p.relative_to(store))] = (st.st_ino, st.st_mtime_ns,
                                              stat.S_IMODE(st.st_mode), sha(p))
    return out


def last_entry(cat) -> dict:
    entry = cat.auditlog.entries(limit=1)[0]
    return {**entry, "args": json.loads(entry["args"])}


def staging_empty(cat) -> bool:
    return not any(intake.staging_dir(cat).iterdir())


def test_an_upload_becomes_a_clip_with_the_offset_applied_and_its_chain_of_custody(
        cat, store, run):
    req = req_for(cat, "RING-002")
    result = upload(cat, req, RING2, stated_name="Pat Owner", client_addr="203.0.113.9",
                    user_agent="Mozilla/5.0 (iPhone)")
    digest = sha(RING2)
    assert result.catalogued and result.receipt.sha256 == digest
    assert result.receipt.size_bytes == RING2.stat().st_size
    assert result.receipt.message == "Received and kept as evidence. Thank you."
    clip = cat.clips.require(result.clip_id)
    # the name says 18:31:27 on the camera's clock, which runs 90 s fast (truth.json)
    assert clip["camera_id"] == "RING-002"
    assert clip["start_raw"] == "2023-05-01T18:31:27Z" and clip["start"] == "2023-05-01T18:29:57Z"
    assert clip["clock_offset_s"] == 90.0
    assert clip["time_source"] == "owner-upload" and clip["time_confidence"] == "high"
    assert clip["time_detail"].startswith("owner upload: sender's file name "
                                          "'FrontDoor_2023-05-01T18-31-27Z.mp4', file name "
                                          "(doorbell, UTC)")
    kept = Path(clip["path"])
    assert kept == store / digest[:2] / f"{digest}.mp4"
    assert sha(kept) == digest == clip["sha256"]
    assert stat.S_IMODE(kept.stat().st_mode) == 0o444
    assert staging_empty(cat)
    # the request is uploaded, the file row links clip, request and case
    assert requests.get(cat, req.code).status == "uploaded"
    (row,) = requests.files(cat, req)
    assert (row["result"], row["clip_id"], row["sha256"], row["stated_name"],
            row["client_addr"], row["user_agent"], row["channel"]) == (
        "catalogued", result.clip_id, digest, "Pat Owner", "203.0.113.9",
        "Mozilla/5.0 (iPhone)", "link")
    entry = last_entry(cat)
    assert entry["command"] == "request upload" and entry["case_no"] == DEMO_ID
    args = entry["args"]
    assert {k: args[k] for k in ("code", "stated_name", "client_addr", "user_agent", "bytes",
                                 "sha256", "file_name", "result", "clip", "channel")} == {
        "code": req.code, "stated_name": "Pat Owner", "client_addr": "203.0.113.9",
        "user_agent": "Mozilla/5.0 (iPhone)", "bytes": RING2.stat().st_size, "sha256": digest,
        "file_name": RING2.name, "result": "catalogued", "clip": result.clip_id,
        "channel": "link"}
    assert args["received_at"] == row["received_at"]
    # the clip is in the canvass at once, covering the moment
    cams = {c["camera_id"]: c for c in json.loads(
        run("canvass", DEMO_ID, "--format", "json").stdout)["cameras"]}
    assert [k["clip_id"] for k in cams["RING-002"]["clips"]] == [result.clip_id]
    assert cams["RING-002"]["clips"][0]["contains_moment"] is True
    assert cams["RING-002"]["outcome"] == "uploaded"
    assert run("audit", "verify", "--deep").exit_code == 0
    # footage received through a link is footage obtained, for the study
    r = run("study", "dataset", "--exposure", "obtained", "--out", "cases.csv")
    assert r.exit_code == 0, r.output
    import csv
    with open("cases.csv", newline="") as fh:
        exposed = [row["case_id"] for row in csv.DictReader(fh) if row["video"] == "yes"]
    assert exposed == [DEMO_ID]


def test_the_typed_start_and_the_creation_time_both_get_the_offset(cat):
    req = req_for(cat, "BIZ-001")          # BIZ-001's clock runs 42 s slow
    no_start = upload(cat, req, UNTIMED, file_name="video.mp4")
    assert no_start.receipt.result == "refused"
    assert no_start.receipt.message == (
        "Not accepted: we could not tell when this video starts. Please type the time your "
        "camera shows at the start of the video, and send it again.")
    typo = upload(cat, req, UNTIMED, file_name="video.mp4", start="half past two")
    assert typo.receipt.message.startswith("Not accepted: we could not read the start time "
                                           "you typed ('half past two').")
    # truth.json: the camera showed 14:29:18 EDT (18:29:18Z) when the truth was 18:30:00Z
    typed = upload(cat, req, UNTIMED, file_name="video.mp4", start="2:29:18 pm")
    clip = cat.clips.require(typed.clip_id)
    assert clip["start"] == "2023-05-01T18:30:00Z" and clip["time_confidence"] == "low"
    assert clip["time_detail"] == ("owner upload: start typed by the sender '2:29:18 pm' (the "
                                   "camera's clock, America/New_York)")
    created = upload(cat, req, EXPORT, file_name="export.mp4")
    clip = cat.clips.require(created.clip_id)
    assert clip["start"] == "2023-05-01T18:29:54Z"             # 18:29:12Z on its clock, +42 s
    assert clip["time_detail"].startswith("owner upload: container creation_time")
    assert [r["result"] for r in requests.files(cat, req)] == [
        "refused", "refused", "catalogued", "catalogued"]


def test_a_typed_time_of_day_lands_on_the_requested_day():
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo
    ny = ZoneInfo("America/New_York")
    near = datetime(2023, 5, 2, 3, 50, tzinfo=timezone.utc)          # 23:50 EDT, May 1
    assert timesources.typed_start("23:59", ny, near) == datetime(2023, 5, 2, 3, 59,
                                                                   tzinfo=timezone.utc)
    assert timesources.typed_start("00:10", ny, near) == datetime(2023, 5, 2, 4, 10,
                                                                   tzinfo=timezone.utc)
    assert timesources.typed_start("12:05 AM", ny, near) == datetime(2023, 5, 2, 4, 5,
                                                                      tzinfo=timezone.utc)
    assert timesources.typed_start("2023-05-01 22:31:05", ny, near) == datetime(
        2023, 5, 2, 2, 31, 5, tzinfo=timezone.utc)
    for bad in ("25:00", "13:00 pm", "noon", "2023-05-01"):
        with pytest.raises(timesources.TimestampError):
            timesources.typed_start(bad, ny, near)


def test_what_is_not_a_clip_is_refused_in_words_and_recorded(cat, store, tmp_path):
    req = req_for(cat, "RING-002")
    text = tmp_path / "clip.mp4"
    text.write_text("this is not a video, whatever its name says\n")
    half = tmp_path / "half.mp4"
    half.write_bytes(RING2.read_bytes()[: RING2.stat().st_size // 2])
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    before = cat.clips.count()
    cases = [
        (upload(cat, req, text), "Not accepted: this file is not a video. Please send the video "
                                 "file your camera or its app saved."),
        (upload(cat, req, FIXTURES / "clips" / "RING-001" / "corrupt.mp4"),
         "Not accepted: this file is not a video. Please send the video file your camera or "
         "its app saved."),
        (upload(cat, req, half), "Not accepted: this video file is damaged or incomplete. "
                                 "Please save it again from your camera and send the new file."),
        (upload(cat, req, empty), "Not accepted: the file is empty."),
        (upload(cat, req, RING2, bytes_received=RING2.stat().st_size + 10),
         "Not accepted: the file did not arrive completely. Please send it again."),
        (upload(cat, req, RING2, sha256="0" * 64),
         "Not accepted: the file changed while it was being received. Please send it again."),
    ]
    staged = intake.stage_file(cat, RING2)
    oversize = intake.accept(cat, req, staged.path, intake.UploadMeta(file_name="big.mp4"),
                             max_bytes=50_000)
    cases.append((oversize, f"Not accepted: the file is {RING2.stat().st_size / 1024:.1f} KB "
                            "and this link takes files up to 48.8 KB. Please send a shorter "
                            "part of the video, or contact us."))
    for result, message in cases:
        assert result.receipt.result == "refused" and result.clip_id is None
        assert result.receipt.message == message
    assert cat.clips.count() == before
    assert store_files(store) == {}                 # nothing kept
    assert staging_empty(cat)
    rows = requests.files(cat, req)
    assert [r["result"] for r in rows] == ["refused"] * 7
    assert rows[0]["reason"].startswith("not a video: not readable as video")
    assert rows[2]["reason"].startswith("damaged: ")
    assert rows[6]["reason"] == f"over the size limit ({RING2.stat().st_size} > 50000 bytes)"
    assert requests.get(cat, req.code).status == "drafted"
    refusals = [json.loads(e["args"]) for e in cat.auditlog.entries()
                if e["command"] == "request upload"]
    assert [a["result"] for a in refusals] == ["refused"] * 7


def test_a_file_already_catalogued_is_a_duplicate_not_a_second_copy(cat, store, run,
                                                                    clips_copy):
    req = req_for(cat, "RING-002")
    first = upload(cat, req, RING2)
    before = store_files(store)
    again = upload(cat, req, RING2, file_name="same-again.mp4")
    assert again.receipt.result == "duplicate" and again.duplicate_of == first.clip_id
    assert again.receipt.message == ("Received. We already had this exact file, so it was not "
                                     "stored again.")
    assert store_files(store) == before              # the original untouched, no second copy
    # a file catalogued by ingest (elsewhere) is a duplicate too, and no copy is left
    assert run("ingest", clips_copy / "CITY-001", "--camera", "CITY-001").exit_code == 0
    ingested = clips_copy / "CITY-001" / "20230501_142956.mp4"
    dup = upload(cat, req, ingested)
    assert dup.receipt.result == "duplicate" and dup.duplicate_of == cat.clips.with_hash(
        sha(ingested))
    assert store_files(store) == before
    assert [r["result"] for r in requests.files(cat, req)] == [
        "catalogued", "duplicate", "duplicate"]


def test_hostile_names_are_kept_as_text_and_never_reach_a_path(cat, store, tmp_path):
    req = req_for(cat, "RING-002")
    sources = sorted((FIXTURES / "clips").glob("CITY-00*/*.mp4"))[:4]
    names = ["../../../../etc/cron.d/videx.mp4", "a\x00b.mp4", "x" * 500 + ".mp4",
             "evidence\u202egpj.mp4"]
    results = [upload(cat, req, src, file_name=name,
                      stated_name="<script>alert(1)</script>\u202e",
                      user_agent="curl/8\r\nX-Forged: 1", start="14:30")
               for src, name in zip(sources, names)]
    assert all(r.catalogued for r in results)
    kept = [Path(cat.clips.require(r.clip_id)["path"]) for r in results]
    for path, src in zip(kept, sources):
        assert path.parent.parent == store and path.name == f"{sha(src)}.mp4"
    rows = requests.files(cat, req)
    assert [r["file_name"] for r in rows] == [
        "../../../../etc/cron.d/videx.mp4", "a<U+0000>b.mp4", "x" * 254 + "…",
        "evidence<U+202E>gpj.mp4"]
    assert rows[0]["stated_name"] == "<script>alert(1)</script><U+202E>"
    assert rows[0]["user_agent"] == "curl/8<U+000D><U+000A>X-Forged: 1"
    assert not Path("/etc/cron.d/videx.mp4").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".mp4")) == []
    assert {p.relative_to(store).parts[0] for p in store.rglob("*") if p.is_file()} <= {
        sha(s)[:2] for s in sources}


def test_a_withdrawn_request_takes_nothing(cat, run):
    req = req_for(cat, "RING-002")
    run("requests", "withdraw", req.code)
    result = upload(cat, req, RING2)          # a page opened before the withdrawal
    assert result.receipt.result == "refused"
    assert result.receipt.message == "Not accepted: this request is no longer open."
    assert cat.clips.count() == 0 and staging_empty(cat)
    assert store_files(intake.evidence_store(cat)) == {}


def test_two_uploads_to_one_request_at_once(cat, store):
    """Two processes' worth of connections (one catalog each), released together: the same
    file twice gives one clip and one duplicate; two files give two clips and one
    'uploaded' status entry."""
    location = catalog.resolve_path(None)
    req = req_for(cat, "RING-002")

    def race(sources):
        cats = [catalog.open_catalog(location) for _ in sources]
        staged = [intake.stage_file(c, s) for c, s in zip(cats, sources)]
        gate = threading.Barrier(len(sources))
        out = [None] * len(sources)

        def one(i):
            gate.wait()
            out[i] = intake.accept(cats[i], req, staged[i].path, intake.UploadMeta(
                file_name=Path(sources[i]).name, sha256=staged[i].sha256, start="14:30"))
        threads = [threading.Thread(target=one, args=(i,)) for i in range(len(sources))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for c in cats:
            c.close()
        return out
    same = race([RING2, RING2])
    assert sorted(r.receipt.result for r in same) == ["catalogued", "duplicate"]
    assert cat.clips.count() == 1 and len(store_files(store)) == 1
    other = sorted((FIXTURES / "clips").glob("CITY-00*/*.mp4"))[:2]
    both = race(other)
    assert [r.receipt.result for r in both] == ["catalogued", "catalogued"]
    assert cat.clips.count() == 3 and len(store_files(store)) == 3
    statuses = [h["status"] for h in requests.history(cat, req)]
    assert statuses == ["drafted", "uploaded"]
    assert staging_empty(cat)


KILLED = r"""
import os, sys
from videx import catalog, intake, requests
cat = catalog.open_catalog(None)
req = requests.get(cat, sys.argv[1])
staged = intake.stage_file(cat, sys.argv[2])
print("go", flush=True)
intake.accept(cat, req, staged.path, intake.UploadMeta(file_name=os.path.basename(sys.argv[2])))
print("done", flush=True)
"""


@pytest.fixture(scope="module")
def big_clip(tmp_path_factory):
    """A real 30 MB clip (8 s of 1280x720 Motion JPEG in AVI), named as a DVR exports it."""
    path = tmp_path_factory.mktemp("big") / "ch01_20230501142900.avi"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=1280x720:rate=25", "-t", "8", "-c:v", "mjpeg", "-q:v", "2",
                    "-threads", "1", "-y", str(path)], check=True, timeout=300)
    return path


@pytest.mark.slow
def test_a_process_killed_mid_accept_leaves_no_half_catalogued_file(cat, store, big_clip, run):
    """kill -9 at staggered moments of an accept; after each, every catalogued clip is a
    complete, read-only file whose bytes hash to its record, and the record verifies; the
    next accept finishes the job (adopting a complete file left in the store)."""
    req = req_for(cat, "RING-002")
    digest = sha(big_clip)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    outcomes = []
    for delay in (0.0, 0.01, 0.02, 0.04, 0.08, 0.15, 0.3):
        proc = subprocess.Popen([sys.executable, "-c", KILLED, req.code, str(big_clip)],
                                stdout=subprocess.PIPE, text=True, env=env)
        assert proc.stdout.readline().strip() == "go"
        time.sleep(delay)
        proc.kill()
        proc.wait()
        outcomes.append(cat.clips.with_hash(digest) is not None)
        for clip in cat.clips.list():
            path = Path(clip["path"])
            assert path.is_file() and sha(path) == clip["sha256"]
            assert stat.S_IMODE(path.stat().st_mode) == 0o444
        for name, (_, _, mode, content) in store_files(store).items():
            assert Path(name).stem == content and mode == 0o444     # complete files only
        assert len([c for c in cat.clips.list() if c["sha256"] == digest]) <= 1
        assert run("audit", "verify", "--deep").exit_code == 0
    result = upload(cat, req, big_clip)
    assert result.receipt.result in ("catalogued", "duplicate")
    assert len([c for c in cat.clips.list() if c["sha256"] == digest]) == 1
    assert intake.clean_staging(cat, older_than_s=0) >= 0 and staging_empty(cat)
    assert run("audit", "verify", "--deep").exit_code == 0
    print("catalogued before each kill:", outcomes)


@pytest.fixture
def full_disk(tmp_path):
    """A 2 MB tmpfs (root only): a disk that fills."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_says_so_and_catalogs_nothing(cat, run, full_disk, big_clip):
    assert run("init", "--evidence-store", full_disk / "store").exit_code == 0
    req = req_for(cat, "RING-002")
    n = len(cat.auditlog.entries())
    r = run("requests", "receive", req.code, big_clip, "--name", "Pat Owner")
    assert r.exit_code == 1
    assert r.stderr.strip() == ("Error: the server's disk is full: the file could not be "
                                "received and nothing was catalogued; please try again later")
    assert cat.clips.count() == 0 and len(cat.auditlog.entries()) == n
    assert staging_empty(cat)
    # once there is room, the same file goes in
    r = run("requests", "receive", req.code, RING2)
    assert r.exit_code == 0, r.output


def test_receive_on_the_command_line_and_the_receipt(cat, run, tmp_path, store):
    req = req_for(cat, "RING-002")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    r = run("requests", "receive", req.code, RING2, text, "--name", "Pat Owner", "--format",
            "json")
    assert r.exit_code == 3
    out = json.loads(r.stdout)
    assert [o["result"] for o in out] == ["catalogued", "refused"]
    assert out[0]["sha256"] == sha(RING2)
    assert r.stderr.strip().endswith(f"request {req.code}: 1 of 2 file(s) received")
    rows = requests.files(cat, req)
    assert rows[0]["channel"] == "in person" and rows[0]["stated_name"] == "Pat Owner"
    assert rows[0]["file_name"] == RING2.name
    from videx import letters
    results = [intake.IntakeResult(req.code, intake.FileReceipt(
        r_["file_name"], r_["size_bytes"], r_["sha256"], r_["received_ts"], r_["result"],
        "m")) for r_ in rows]
    text_receipt = letters.receipt_text(req, intake.receipt_of(results))
    assert sha(RING2) in text_receipt and f"Size: {RING2.stat().st_size} bytes" in text_receipt
    r = run("requests", "receive", "2222-2222", RING2)
    assert r.exit_code == 1 and "no request 2222-2222" in r.stderr


@pytest.mark.skipif(ON_PG, reason="the default store is beside a SQLite file")
def test_a_sqlite_catalog_has_a_default_store_beside_it(city, open_db, tmp_path):
    cat = open_db()
    assert intake.evidence_store(cat) == (tmp_path / "videx-evidence").resolve()
    assert intake.staging_dir(cat) == (tmp_path / "videx-evidence" / ".staging").resolve()


def test_the_text_a_sender_gives_is_cleaned():
    assert intake.clean_text("a\u202eb\x00c\u200bd") == "a<U+202E>b<U+0000>c<U+200B>d"
    assert intake.clean_text("é日本") == "é日本"
    assert intake.clean_text(None) is None
    assert len(intake.clean_text("y" * 1000, 255)) == 255


def test_receipt_times(cat):
    req = req_for(cat, "RING-002")
    before = time.time()
    result = upload(cat, req, RING2)
    assert before <= result.receipt.received_ts <= time.time()
    assert result.to_dict()["received_at"] == iso_utc(result.receipt.received_ts)
    assert shutil.which("ffprobe")


def test_the_receipt_is_e_mailed_where_smtp_is_configured(cat, run, tmp_path, monkeypatch):
    import email
    from email import policy

    from test_requests import start_smtp
    req = req_for(cat, "RING-002")
    r = run("requests", "receive", req.code, RING2, "--email-receipt")
    assert r.exit_code == 0 and "Warning: no SMTP server configured" in r.stderr
    controller, inbox, port, _ = start_smtp(tmp_path, tls=False)
    try:
        monkeypatch.setenv("VIDEX_SMTP_URL", f"smtp://127.0.0.1:{port}?tls=none")
        run("settings", "set", "department_email", "videorequests@hpd.example.org")
        r = run("requests", "receive", req.code, EXPORT, "--email-receipt")
        assert r.exit_code == 0, r.output
        (envelope,) = inbox.envelopes
        assert envelope.rcpt_tos == ["ring-002@example.org"]
        msg = email.message_from_bytes(envelope.original_content, policy=policy.default)
        body = msg.get_body(("plain",)).get_content()
        assert f"SHA-256: {sha(EXPORT)}" in body and f"Size: {EXPORT.stat().st_size} bytes" \
            in body and "Result: Received and kept as evidence." in body
        assert last_entry(cat)["command"] == "request receipt"
    finally:
        controller.stop()


def test_a_complete_file_left_in_the_store_is_adopted_a_different_one_never_replaced(
        cat, store):
    """What a process killed between the move into the store and the commit leaves (a
    complete file under its hash's name) is adopted by the next accept of the same bytes,
    after hashing it again; a different file under that name is never replaced."""
    req = req_for(cat, "RING-002")
    digest = sha(RING2)
    left = store / digest[:2] / f"{digest}.mp4"
    left.parent.mkdir(parents=True)
    shutil.copyfile(RING2, left)
    os.chmod(left, 0o444)
    inode = left.stat().st_ino
    result = upload(cat, req, RING2)
    assert result.catalogued and result.stored_path == str(left)
    assert left.stat().st_ino == inode and sha(left) == digest
    other = FIXTURES / "clips" / "CITY-001" / "20230501_142956.mp4"
    impostor = store / sha(other)[:2] / f"{sha(other)}.mp4"
    impostor.parent.mkdir(parents=True, exist_ok=True)
    impostor.write_bytes(b"not what the name says")
    with pytest.raises(intake.IntakeError, match="the evidence store holds a different file"):
        upload(cat, req, other, start="14:30")
    assert impostor.read_bytes() == b"not what the name says"
    assert cat.clips.count() == 1 and staging_empty(cat)
