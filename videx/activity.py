"""Activity scan: per-second motion scores and dead-feed flags for each clip.

Frames are decoded by ffmpeg (through ffmpeg-python), scaled to ``SCAN_WIDTH`` pixels wide and
converted to grey *inside ffmpeg*, and piped raw to Python, where OpenCV blurs and differences
consecutive frames. Two modes:

- ``full``: every frame. The score of a second is the mean, over its frames, of the share of
  pixels (in percent) whose blurred grey level changed by more than ``DIFF_LEVEL`` since the
  previous frame.
- ``fast``: keyframes only (ffmpeg ``-skip_frame nokey``; OpenCV cannot skip decoding). The
  score of each second is the change between the keyframes around it. Coarse, but hundreds of
  times faster than real time.

A band at the top of the frame (``mask_top``, default 10% of the height) is ignored: cameras
burn their clock in there, and a ticking clock is not activity. Dead-feed flags, as segments in
seconds from the clip start: ``frozen`` (consecutive frames identical: a live sensor always
has noise), ``black`` (mean grey below 16), ``blank`` (a uniform picture), ``dark`` (mean grey
below 40).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field

import cv2
import ffmpeg
import numpy as np
from sqlite_utils import Database

from videx import audit
from videx.errors import ProbeError, VidexError
from videx.probe import require_tools, run_tool
from videx.timeutil import iso_utc, now_utc

SCAN_WIDTH = 160
DIFF_LEVEL = 15           # grey levels (0-255) a blurred pixel must change to count as motion
FROZEN_MAD = 0.05         # mean absolute difference below which two frames are identical
BLACK_LUMA, DARK_LUMA, BLANK_STD = 16.0, 40.0, 2.0
MIN_SEGMENT_S = 1.0       # flags shorter than this are not reported
DEFAULT_MASK_TOP = 0.10
MOTION_SCORE = 0.5        # score (percent of pixels) from which a second counts as active


@dataclass(frozen=True)
class ScanResult:
    """Per-second activity of one clip and its dead-feed flags (seconds from clip start)."""

    clip_id: int | None
    mode: str
    frames: int
    duration_s: float
    width: int
    height: int
    mask_top: float
    scores: list[float]
    luma: list[float]
    frozen: list[bool]
    flags: list[dict] = field(default_factory=list)

    @property
    def peak(self) -> float:
        return max(self.scores, default=0.0)

    def active_seconds(self, level: float = MOTION_SCORE) -> list[int]:
        return [i for i, s in enumerate(self.scores) if s >= level]

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        flags = ", ".join(f"{f['kind']} {f['start_s']:.0f}-{f['end_s']:.0f} s"
                          for f in self.flags) or "none"
        return (f"clip {self.clip_id}: {self.mode} scan of {self.frames} frames, "
                f"{len(self.active_seconds())} active second(s), peak {self.peak:.1f}%, "
                f"flags: {flags}")


def _ffprobe_json(path: str, entries: str, timeout: float = 30.0) -> dict:
    return json.loads(run_tool(["ffprobe", "-v", "error", "-select_streams", "v:0",
                                "-show_entries", entries, "-of", "json", path],
                               f"probing {path}", timeout))


def video_size(path: str) -> tuple[int, int, float]:
    """(width, height, duration_s) of the first video stream."""
    info = _ffprobe_json(path, "stream=width,height:format=duration")
    s = info["streams"][0]
    return int(s["width"]), int(s["height"]), float(info["format"].get("duration") or 0)


def keyframe_times(path: str, timeout: float = 120.0) -> list[float]:
    """Presentation times (s) of the video keyframes, read from packets (no decoding)."""
    out = run_tool(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                    "packet=pts_time,flags", "-of", "csv=p=0", path],
                   f"reading keyframes of {path}", timeout)
    times = []
    for line in out.decode().splitlines():
        pts, _, flags = line.partition(",")
        if "K" in flags and pts not in ("", "N/A"):
            times.append(float(pts))
    return sorted(times)


def frame_stream(path: str, width: int, height: int, fast: bool):
    """Start ffmpeg decoding ``path`` to raw grey frames of ``width`` x ``height``."""
    inp = ffmpeg.input(path, skip_frame="nokey") if fast else ffmpeg.input(path)
    # fast_bilinear: the default bicubic downscale of every full-HD frame costs more than a
    # third of the decode time; the blur that follows makes the cheaper filter's aliasing moot
    out = inp.video.filter("scale", width, height, flags="fast_bilinear").filter(
        "format", "gray").output(
        "pipe:", format="rawvideo", pix_fmt="gray", **({"fps_mode": "passthrough"} if fast
                                                      else {}))
    return out.global_args("-nostdin", "-loglevel", "error").run_async(pipe_stdout=True,
                                                                       pipe_stderr=True)


def _segments(flags_by_second: list[bool], kind: str, step: float = 1.0) -> list[dict]:
    out, start = [], None
    for i, on in enumerate(flags_by_second + [False]):
        if on and start is None:
            start = i
        elif not on and start is not None:
            if (i - start) * step >= MIN_SEGMENT_S:
                out.append({"kind": kind, "start_s": start * step, "end_s": i * step})
            start = None
    return out


def scan_file(path: str, fast: bool = False, mask_top: float = DEFAULT_MASK_TOP,
              clip_id: int | None = None, meta: dict | None = None) -> ScanResult:
    """Scan one video file (see module docstring); memory does not grow with clip length.

    ``meta`` (``width``, ``height``, ``fps``, ``duration_s``, as the catalog stores them from
    ingest) saves probing the file again.
    """
    if meta and meta.get("width") and meta.get("height") and meta.get("fps"):
        w0, h0, duration, fps = meta["width"], meta["height"], meta["duration_s"], meta["fps"]
    else:
        w0, h0, duration = video_size(path)
        fps = None if fast else _fps_of(path)
    width = SCAN_WIDTH
    height = max(2, int(round(h0 * width / w0 / 2)) * 2)
    top = int(round(height * mask_top))
    seconds = max(1, math.ceil(duration))
    acc = {k: np.zeros(seconds) for k in ("change", "luma", "std", "frames", "diffs")}
    mads: list[list[float]] = [[] for _ in range(seconds)]
    times = keyframe_times(path) if fast else None
    step = None if fast else 1.0 / fps
    prev = None
    n = 0
    proc = frame_stream(path, width, height, fast)
    _widen_pipe(proc.stdout)
    size = width * height
    try:
        while len(buf := proc.stdout.read(size)) == size:
            grey = np.frombuffer(buf, np.uint8).reshape(height, width)[top:]
            t = (times[min(n, len(times) - 1)] if times else 0.0) if fast else n * step
            blurred = cv2.GaussianBlur(grey, (5, 5), 0)
            change = mad = None
            if prev is not None:
                moved = cv2.threshold(cv2.absdiff(blurred, prev[1]), DIFF_LEVEL, 1,
                                      cv2.THRESH_BINARY)[1]
                change = cv2.countNonZero(moved) * 100.0 / blurred.size
                mad = cv2.mean(cv2.absdiff(grey, prev[0]))[0]
            # full: the frame's own second; fast: every second from the previous keyframe on
            first = int(prev[2]) if fast and prev is not None else int(t)
            for sec in range(min(first, seconds - 1), min(max(first + 1, int(t)), seconds)):
                if fast or sec == int(t):
                    _add(acc, mads, sec, grey if not fast or prev is None else prev[0],
                         change, mad)
            prev = (grey, blurred, t)
            n += 1
        if fast and prev is not None:  # the last keyframe stands for itself only
            _add(acc, mads, min(int(prev[2]), seconds - 1), prev[0], None, None)
    finally:
        proc.stdout.close()
        err = proc.stderr.read().decode("utf-8", "replace").strip()
        proc.stderr.close()
        code = proc.wait()
    if n == 0:
        raise ProbeError(f"no frame decoded: {err.splitlines()[-1] if err else 'empty stream'}")
    if code != 0:
        raise ProbeError(f"ffmpeg failed: {err.splitlines()[-1] if err else code}")
    seen = acc["frames"] > 0
    luma = np.where(seen, acc["luma"] / np.maximum(acc["frames"], 1), np.nan)
    std = np.where(seen, acc["std"] / np.maximum(acc["frames"], 1), np.nan)
    scores = acc["change"] / np.maximum(acc["diffs"], 1)
    frozen = [bool(m) and float(np.median(m)) < FROZEN_MAD for m in mads]
    flags = (_segments(frozen, "frozen")
             + _segments([bool(v < BLACK_LUMA) for v in luma], "black")
             + _segments([bool(s < BLANK_STD and v >= BLACK_LUMA) for s, v in zip(std, luma)],
                         "blank")
             + _segments([bool(BLACK_LUMA <= v < DARK_LUMA) for v in luma], "dark"))
    return ScanResult(clip_id, "fast" if fast else "full", n, duration, width, height, mask_top,
                      [round(float(x), 3) for x in scores],
                      [None if math.isnan(v) else round(float(v), 1) for v in luma], frozen,
                      flags)


def _widen_pipe(pipe, size: int = 1 << 20) -> None:
    """Let ffmpeg run up to ``size`` bytes ahead of us (Linux; a no-op elsewhere)."""
    try:
        import fcntl
        fcntl.fcntl(pipe.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except (ImportError, OSError):
        pass


def _add(acc, mads, sec, grey, change, mad) -> None:
    """Accumulate one frame's (or keyframe interval's) measures into second ``sec``."""
    mean, std = cv2.meanStdDev(grey)
    acc["luma"][sec] += float(mean[0, 0])
    acc["std"][sec] += float(std[0, 0])
    acc["frames"][sec] += 1
    if change is not None:
        acc["change"][sec] += change
        acc["diffs"][sec] += 1
        mads[sec].append(mad)


def _fps_of(path: str) -> float:
    stream = _ffprobe_json(path, "stream=avg_frame_rate,r_frame_rate")["streams"][0]
    for key in ("avg_frame_rate", "r_frame_rate"):
        num, _, den = stream.get(key, "0/0").partition("/")
        if float(den or 0) > 0 and float(num) > 0:
            return float(num) / float(den)
    raise ProbeError("no frame rate")


# ------------------------------------------------------------------ catalog side
def store(db: Database, result: ScanResult) -> None:
    """Replace a clip's stored scan with ``result`` in one transaction."""
    with db.atomic():
        db.execute("DELETE FROM activity WHERE clip_id = ?", [result.clip_id])
        db.conn.executemany(
            "INSERT INTO activity (clip_id, second, score, luma, frozen) VALUES (?, ?, ?, ?, ?)",
            [(result.clip_id, i, s, result.luma[i], int(result.frozen[i]))
             for i, s in enumerate(result.scores)])
        db.execute("INSERT INTO scans (clip_id, mode, scanned_at, frames, width, height, "
                   "mask_top, peak, flags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT "
                   "(clip_id) DO UPDATE SET mode = excluded.mode, scanned_at = "
                   "excluded.scanned_at, frames = excluded.frames, width = excluded.width, "
                   "height = excluded.height, mask_top = excluded.mask_top, peak = "
                   "excluded.peak, flags = excluded.flags",
                   [result.clip_id, result.mode, iso_utc(now_utc()), result.frames,
                    result.width, result.height, result.mask_top, result.peak,
                    json.dumps(result.flags)])


def select_clips(db: Database, clip_ids: Iterable[int] = (), camera_id: str | None = None,
                 incident_id: str | None = None) -> list[dict]:
    """Clips to scan: given ids, a camera's clips, or the clips in an incident's window."""
    if incident_id:
        from videx.canvass import canvass
        res = canvass(db, incident_id, record=False)
        ids = [k["clip_id"] for c in res.cameras for k in c["clips"]]
    else:
        ids = list(clip_ids)
    sql = "SELECT id, path, camera_id, width, height, fps, duration_s FROM clips WHERE 1"
    params: list = []
    if ids or incident_id:
        sql += f" AND id IN ({','.join('?' * len(ids)) or 'NULL'})"
        params += ids
    if camera_id:
        sql += " AND camera_id = ?"
        params.append(camera_id)
    return list(db.query(sql + " ORDER BY id", params))


@dataclass
class ScanReport:
    """What a scan run did."""

    scanned: list[ScanResult] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> str:
        flagged = sum(1 for r in self.scanned if r.flags)
        return (f"{len(self.scanned)} scanned ({flagged} with dead-feed flags), "
                f"{len(self.skipped)} already scanned, {len(self.failed)} failed")


def scan(db: Database, clips: list[dict], fast: bool = False, force: bool = False,
         mask_top: float = DEFAULT_MASK_TOP, jobs: int | None = None,
         progress: Callable[[int], None] | None = None) -> ScanReport:
    """Scan clips in parallel, storing each clip's result as it finishes (resumable)."""
    require_tools("ffmpeg", "ffprobe")
    if not 0 <= mask_top < 0.9:
        raise VidexError("--mask-top must be between 0 and 0.9 (share of the frame height)")
    report = ScanReport()
    done = {r[0] for r in db.execute("SELECT clip_id FROM scans")} if not force else set()
    todo = [c for c in clips if c["id"] not in done]
    report.skipped = [c["id"] for c in clips if c["id"] in done]
    if progress and report.skipped:
        progress(len(report.skipped))
    with ThreadPoolExecutor(max_workers=max(1, jobs or os.cpu_count() or 1)) as pool:
        futures = {pool.submit(scan_file, c["path"], fast, mask_top, c["id"], c): c
                   for c in todo}
        for fut in as_completed(futures):
            clip = futures[fut]
            try:
                result = fut.result()
                store(db, result)
                report.scanned.append(result)
            except (VidexError, OSError, subprocess.SubprocessError) as err:
                report.failed.append((clip["id"], str(err)))
            if progress:
                progress(1)
    report.scanned.sort(key=lambda r: r.clip_id)
    audit.append(db, "scan", {"clips": [c["id"] for c in clips], "fast": fast, "force": force,
                              "mask_top": mask_top, "scanned": len(report.scanned),
                              "failed": len(report.failed)})
    return report


def activity_near(db: Database, clip_id: int, second: float, window_s: float = 10.0):
    """(peak score within ``window_s`` of ``second``, overall peak) or (None, None) unscanned."""
    row = db.execute("SELECT peak FROM scans WHERE clip_id = ?", [clip_id]).fetchone()
    if row is None:
        return None, None
    near = db.execute("SELECT max(score) FROM activity WHERE clip_id = ? AND second BETWEEN ? "
                      "AND ?", [clip_id, int(math.floor(second - window_s)),
                                int(math.ceil(second + window_s))]).fetchone()[0]
    return near, row[0]


def sparkline(db: Database, clip_id: int) -> list[float]:
    """Per-second scores of a scanned clip (empty when not scanned)."""
    return [r[0] for r in db.execute("SELECT score FROM activity WHERE clip_id = ? "
                                     "ORDER BY second", [clip_id])]
