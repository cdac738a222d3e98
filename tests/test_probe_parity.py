"""In-process probing (PyAV) against ffprobe: the same facts for every clip, and ffprobe as
the recorded fallback for what PyAV cannot read."""

import dataclasses
import json
import subprocess

import pytest

from conftest import FIXTURES
from videx import probe_av
from videx.errors import ProbeError
from videx.probe import probe

CLIPS = sorted(p for p in (FIXTURES / "clips").rglob("*")
               if p.is_file() and p.suffix.lower() in {".mp4", ".mov", ".avi", ".mkv"})
DAMAGED = {"corrupt.mp4", "truncated.mp4"}


def ffprobe_json(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of",
                          "json", str(path)], capture_output=True, check=True).stdout
    return json.loads(out)


def facts(info):
    return {k: v for k, v in dataclasses.asdict(info).items() if k != "probed_with"}


def test_the_fixtures_include_every_hard_case():
    names = {p.name for p in CLIPS}
    assert {"IMG_0413.MOV", "ch03_20230501143020.avi", "VID_20230501_142957.mp4"} <= names
    assert DAMAGED <= names


@pytest.mark.parametrize("clip", [c for c in CLIPS if c.name not in DAMAGED],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_in_process_probe_gives_what_ffprobe_gives(clip):
    mine = probe(clip, reader="pyav")
    theirs = probe(clip, reader="ffprobe")
    assert mine.probed_with.startswith("pyav ") and theirs.probed_with == "ffprobe"
    assert facts(mine) == facts(theirs)
    # and against ffprobe's own JSON, field by field
    raw = ffprobe_json(clip)
    video = next(s for s in raw["streams"] if s["codec_type"] == "video")
    assert mine.container == raw["format"]["format_name"]
    assert mine.codec == video["codec_name"]
    assert (mine.width, mine.height) == (video["width"], video["height"])
    assert mine.streams == int(raw["format"]["nb_streams"])
    assert mine.duration_s == pytest.approx(float(video.get("duration")
                                                  or raw["format"]["duration"]), abs=1e-3)
    assert mine.creation_time == (raw["format"].get("tags") or {}).get("creation_time")
    rotation = next((int(s["rotation"]) % 360 for s in video.get("side_data_list", [])
                     if "rotation" in s), 0)
    assert mine.rotation == rotation


def test_the_hard_fixtures_read_as_they_should():
    rotated = probe(FIXTURES / "clips/PRIV-003/IMG_0413.MOV")
    assert rotated.rotation == 90 and rotated.display_height > rotated.display_width
    assert probe(FIXTURES / "clips/PRIV-003/VID_20230501_142957.mp4").vfr
    mjpeg = probe(FIXTURES / "clips/CITY-003/ch03_20230501143020.avi")
    assert mjpeg.codec == "mjpeg" and mjpeg.probed_with.startswith("pyav")
    nvr = probe(FIXTURES / "clips/CITY-004/192.168.1.64_01_20230501143500250.mp4")
    assert nvr.keyframe_interval_s >= 10


@pytest.mark.parametrize("degrees", [180, 270])
def test_other_rotations_and_audio_streams_agree(tmp_path, degrees):
    src = FIXTURES / "clips/CITY-001/20230501_142956.mp4"
    turned = tmp_path / f"turned{degrees}.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(src), "-f", "lavfi", "-i",
                    "sine=frequency=440:duration=2", "-map", "0:v", "-map", "1:a", "-c:v",
                    "copy", "-c:a", "aac", "-shortest", "-metadata:s:v:0",
                    f"rotate={degrees}", str(turned)], check=True)
    mine, theirs = probe(turned, reader="pyav"), probe(turned, reader="ffprobe")
    assert facts(mine) == facts(theirs)
    assert mine.rotation == (360 - degrees) % 360 or mine.rotation == degrees
    assert mine.streams == 2
    w, h = mine.width, mine.height
    assert (mine.display_width, mine.display_height) == ((h, w) if degrees == 270 else (w, h))


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_a_container_aspect_ratio_is_read_as_ffprobe_reads_it(tmp_path, suffix):
    wide = tmp_path / f"wide{suffix}"
    subprocess.run(["ffmpeg", "-v", "error", "-i",
                    str(FIXTURES / "clips/CITY-001/20230501_142956.mp4"), "-c", "copy",
                    "-aspect", "16:9", str(wide)], check=True)
    mine, theirs = probe(wide, reader="pyav"), probe(wide, reader="ffprobe")
    assert facts(mine) == facts(theirs)
    assert mine.display_width > mine.width           # square pixels: 16:9, not the coded 4:3


def test_damaged_files_are_refused_by_both_readers():
    for name, folder in (("corrupt.mp4", "RING-001"), ("truncated.mp4", "RING-002")):
        clip = FIXTURES / "clips" / folder / name
        with pytest.raises(ProbeError) as auto:
            probe(clip)
        with pytest.raises(ProbeError) as old:
            probe(clip, reader="ffprobe")
        assert str(auto.value) == str(old.value)       # the message users knew


def test_probing_from_memory_equals_probing_the_file():
    clip = FIXTURES / "clips/PRIV-003/IMG_0413.MOV"
    assert probe(clip, data=clip.read_bytes()) == probe(clip)


def test_what_pyav_cannot_read_goes_to_ffprobe_with_the_reason(monkeypatch, city, run,
                                                               clips_copy):
    def cannot(source, size):
        raise probe_av.InProcessUnavailable("PyAV cannot open it: test reason")

    monkeypatch.setattr(probe_av, "read_facts", cannot)
    info = probe(FIXTURES / "clips/CITY-001/20230501_142956.mp4")
    assert info.probed_with == "ffprobe (in-process reader: PyAV cannot open it: test reason)"
    assert info.fps and info.frames
    result = run("ingest", str(clips_copy / "CITY-001"), "--camera", "CITY-001")
    assert result.exit_code == 0, result.output
    out = json.loads(run("clips", "list", "--format", "json").output)
    assert out and all(c["probed_with"].startswith("ffprobe (in-process reader:")
                       for c in out)


def test_ingest_records_the_in_process_reader(city, run, clips_copy):
    assert run("ingest", str(clips_copy / "CITY-001"), "--camera", "CITY-001").exit_code == 0
    out = json.loads(run("clips", "list", "--format", "json").output)
    assert out and all(c["probed_with"].startswith("pyav ") for c in out)
    assert all(c["streams"] == 1 for c in out)


def _variants(tmp_path):
    """Real-shaped MP4/MOV layouts from one source clip, each as ffmpeg writes it: the movie
    box at the end and at the start, B-frames, an edit list that trims the start, negative
    composition offsets, variable frame rate, HEVC, a fragmented file, a mirrored and every
    turned picture."""
    src = FIXTURES / "clips/PRIV-003/VID_20230501_142957.mp4"       # the VFR phone clip
    x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    made = {
        "bframes.mp4": ["-i", src, *x264, "-bf", "3", "-g", "12"],
        "faststart.mp4": ["-i", src, *x264, "-bf", "2", "-movflags", "+faststart"],
        "trimmed.mp4": ["-ss", "0.37", "-i", src, "-c", "copy"],
        "negative_cts.mp4": ["-i", src, *x264, "-bf", "2", "-movflags",
                             "+negative_cts_offsets", "-use_editlist", "0"],
        "vfr_bframes.mov": ["-i", src, *x264, "-bf", "2", "-fps_mode", "passthrough"],
        "hevc.mp4": ["-i", src, "-c:v", "libx265", "-preset", "ultrafast", "-x265-params",
                     "log-level=none:bframes=4", "-tag:v", "hvc1"],
        "fragmented.mp4": ["-i", src, *x264, "-movflags", "frag_keyframe+empty_moov"],
        # H.264 keyframes as FFmpeg's parser sees them: recovery points, one reference frame
        "opengop.mp4": ["-i", src, *x264, "-g", "24", "-x264-params", "open-gop=1:bframes=3"],
        "intrarefresh.mp4": ["-i", src, *x264, "-x264-params", "intra-refresh=1:keyint=30"],
        "ref1.mp4": ["-i", src, *x264, "-x264-params", "ref=1:keyint=20:bframes=0"],
        "ref4.mp4": ["-i", src, *x264, "-x264-params", "ref=4:keyint=30"],
        # parameter sets with scaling matrices, and 4:4:4 (the SPS fields before the refs)
        "scaling_matrix.mp4": ["-i", src, *x264, "-x264-params", "cqm=jvt:keyint=30"],
        "high444.mp4": ["-i", src, "-c:v", "libx264", "-preset", "ultrafast", "-profile:v",
                        "high444", "-pix_fmt", "yuv444p", "-x264-params", "keyint=30"],
        **{f"turned{d}.mp4": ["-i", src, "-c", "copy", "-metadata:s:v:0", f"rotate={d}"]
           for d in (90, 180, 270)},
    }
    for name, args in made.items():
        out = tmp_path / name
        subprocess.run(["ffmpeg", "-v", "error", "-y", *map(str, args), "-an", str(out)],
                       check=True)
        yield out
    # sample tables and bitstreams that disagree: a sync sample moved off the IDR frame, and
    # an IDR frame rewritten as a plain slice (with four reference frames it is no longer a
    # keyframe for FFmpeg's parser; with one, an I slice still is)
    yield _sync_sample_moved(tmp_path / "ref4.mp4", tmp_path / "sync_moved.mp4")
    yield _idr_as_slice(tmp_path / "ref4.mp4", tmp_path / "idr_as_slice_ref4.mp4")
    yield _idr_as_slice(tmp_path / "ref1.mp4", tmp_path / "idr_as_slice_ref1.mp4")
    # matrices ffmpeg's muxer does not write: a mirror, a mirror turned, a 45-degree turn
    one, half = 0x10000, 0xB505                       # 1.0 and sqrt(1/2) in 16.16
    for name, abcd in {"mirrored.mp4": (-one, 0, 0, one), "mirror90.mp4": (0, one, one, 0),
                       "turned45.mp4": (half, half, -half, half)}.items():
        yield _with_matrix(src, tmp_path / name, abcd)


def _sync_sample_moved(src, out):
    """A copy whose second sync sample (stss) names sample 10 instead of its IDR frame."""
    import struct
    data = bytearray(src.read_bytes())
    at = data.index(b"stss") + 4 + 4 + 4             # version/flags, count, first entry
    assert struct.unpack_from(">I", data, at - 4)[0] >= 2
    struct.pack_into(">I", data, at + 4, 10)
    out.write_bytes(bytes(data))
    return out


def _idr_as_slice(src, out):
    """A copy whose second IDR frame's slice NAL units say "non-IDR slice" (type 1)."""
    import struct

    import av
    data = bytearray(src.read_bytes())
    with av.open(str(src)) as c:
        keys = [(e.pos, e.size) for e in c.streams.video[0].index_entries if e.is_keyframe]
    pos, size = keys[1]
    at, changed = pos, 0
    while at < pos + size:
        n = struct.unpack_from(">I", data, at)[0]
        if data[at + 4] & 0x1F == 5:
            data[at + 4] = (data[at + 4] & 0xE0) | 1
            changed += 1
        at += 4 + n
    assert changed
    out.write_bytes(bytes(data))
    return out


def _with_matrix(src, out, abcd):
    """A copy of ``src`` whose video tkhd matrix is (a, b, c, d) (16.16), the rest unchanged."""
    import struct
    data = bytearray(src.read_bytes())
    at = data.index(b"tkhd") + 4                       # the box's payload (version 0)
    assert data[at] == 0
    a, b, c, d = abcd
    struct.pack_into(">9i", data, at + 40, a, b, 0, c, d, 0, 0, 0, 0x40000000)
    out.write_bytes(bytes(data))
    return out


def test_times_and_rotation_from_the_boxes_equal_demuxing_and_decoding(tmp_path):
    """The shortcut (movie box + FFmpeg's index) gives exactly what walking every packet and
    decoding the first frame gives, or declines and the walk answers."""
    import av

    from videx.probe import Timeline
    clips = [c for c in CLIPS if c.suffix.lower() in {".mp4", ".mov"} and c.name != "corrupt.mp4"]
    told = 0
    for clip in [*clips, *_variants(tmp_path)]:
        size = clip.stat().st_size
        with av.open(str(clip)) as c:
            times, keys, rotation = probe_av._from_boxes(clip, size, c, c.streams.video[0])
        with av.open(str(clip)) as c:
            walked, walked_keys, decoded = probe_av._walk(c, c.streams.video[0], True)
        if rotation is not None:                      # else the first frame is decoded
            assert rotation == (decoded or 0), clip.name
        if times is not None:
            told += 1
            assert Timeline.from_times(times, keys) == Timeline.from_times(walked, walked_keys), \
                clip.name
            if clip.name in ("sync_moved.mp4", "idr_as_slice_ref4.mp4"):
                # the case is real: the sample table's keyframes are not the parser's
                with av.open(str(clip)) as c:
                    table = [e.is_keyframe for e in c.streams.video[0].index_entries]
                assert sum(table) != len(keys) or clip.name == "sync_moved.mp4"
                assert [t for t, k in zip(times, table) if k] != keys, clip.name
        else:
            assert clip.name in {"fragmented.mp4", "truncated.mp4", "trimmed.mp4"}, clip.name
        # and the whole probe still equals ffprobe's
        if clip.parent == tmp_path:
            assert facts(probe(clip, reader="pyav")) == facts(probe(clip, reader="ffprobe")), \
                clip.name
    assert told >= len(clips) + 17
    # the sequence parameter sets were read through to max_num_ref_frames (past the 4:4:4
    # fields and the scaling matrices), as x264 was told
    from videx import avc
    for name, refs in (("ref4.mp4", 4), ("ref1.mp4", 1), ("scaling_matrix.mp4", 1),
                       ("high444.mp4", 1)):
        with av.open(str(tmp_path / name)) as c:
            stream = avc.Stream(c.streams.video[0].codec_context.extradata)
        assert list(stream.refs.values()) == [refs], name


def test_a_crafted_sample_table_falls_back_to_walking_the_packets(tmp_path):
    """A ctts box claiming two billion samples (or more than the index has) is not believed:
    nothing that large is built, the packets are walked, and the probe equals ffprobe's."""
    import struct

    import av
    src = tmp_path / "bframes.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i",
                    str(FIXTURES / "clips/CITY-001/20230501_142956.mp4"), "-c:v", "libx264",
                    "-preset", "ultrafast", "-bf", "2", str(src)], check=True)
    data = bytearray(src.read_bytes())
    at = data.index(b"ctts") + 4 + 4 + 4           # the first entry's sample count
    real = struct.unpack_from(">I", data, at)[0]
    for count in (2**31, real + 2):
        struct.pack_into(">I", data, at, count)
        crafted = tmp_path / f"crafted{count}.mp4"
        crafted.write_bytes(bytes(data))
        with av.open(str(crafted)) as c:
            times, _, rotation = probe_av._from_boxes(crafted, len(data), c, c.streams.video[0])
        assert times is None and rotation == 0
        assert facts(probe(crafted, reader="pyav")) == facts(probe(crafted, reader="ffprobe"))


def test_the_h264_reader_answers_or_declines_on_garbage():
    """Random parameter sets and access units (fixed seed) get an answer or ``Unsure``,
    never another exception: a crafted file cannot crash a probe through videx.avc."""
    import random

    from videx import avc
    rng = random.Random(20261206)
    answered = declined = 0
    for _ in range(400):
        sps = bytes([0x67]) + rng.randbytes(rng.randint(0, 40))
        pps = bytes([0x68]) + rng.randbytes(rng.randint(0, 12))
        extradata = (bytes([1, 100, 0, 40, 0xFF, 0xE1]) + len(sps).to_bytes(2, "big") + sps
                     + bytes([1]) + len(pps).to_bytes(2, "big") + pps)
        data = b"".join(len(n).to_bytes(4, "big") + n for n in (
            bytes([rng.choice([0x06, 0x01, 0x05, 0x67, 0x68, 0x41])]) + rng.randbytes(30)
            for _ in range(rng.randint(1, 4))))
        try:
            flags = avc.keyframes(extradata, lambda at, n, data=data: data[at:at + n],
                                  [(0, len(data)), (0, len(data))])
        except avc.Unsure:
            declined += 1
        else:
            assert len(flags) == 2 and all(isinstance(f, bool) for f in flags)
            answered += 1
    assert answered and declined
