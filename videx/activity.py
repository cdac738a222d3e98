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

import math
import os
import subprocess
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field

import cv2
import ffmpeg
import numpy as np

from videx.errors import OptionError, ProbeError, VidexError
from videx.probe import keyframe_times, probe, require_tools
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
        info = probe(path)
        w0, h0, duration, fps = info.width, info.height, info.duration_s, info.fps
        if not fps and not fast:
            raise ProbeError(f"{path}: no frame rate")
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


# ------------------------------------------------------------------ catalog side
def store(cat, result: ScanResult) -> None:
    """Replace a clip's stored scan with ``result``, with its audit entry."""
    with cat.write("scan", {"clip": result.clip_id, "mode": result.mode,
                            "frames": result.frames, "mask_top": result.mask_top,
                            "flags": result.flags}):
        cat.scans.store(result.clip_id, result.mode, result.frames, result.width,
                        result.height, result.mask_top, result.peak, result.flags,
                        result.scores, result.luma, result.frozen, iso_utc(now_utc()))


def select_clips(cat, clip_ids: Iterable[int] = (), camera_id: str | None = None,
                 canvass=None) -> list[dict]:
    """Clips to scan: given ids, a camera's clips, or the clips of a canvass result."""
    if canvass is not None:
        ids = [k.clip_id for _, k in canvass.clips()]
        clips = cat.clips.many(ids)
        return [c for c in clips if not camera_id or c["camera_id"] == camera_id]
    if clip_ids:
        clips = cat.clips.many(list(clip_ids))
        return [c for c in clips if not camera_id or c["camera_id"] == camera_id]
    return cat.clips.by_camera(camera_id) if camera_id else []


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


def scan(cat, clips: list[dict], fast: bool = False, force: bool = False,
         mask_top: float = DEFAULT_MASK_TOP, jobs: int | None = None,
         progress: Callable[[int], None] | None = None) -> ScanReport:
    """Scan clips in parallel, storing each clip's result as it finishes (resumable)."""
    require_tools("ffmpeg", "ffprobe")
    if not 0 <= mask_top < 0.9:
        raise OptionError("the masked top band must be between 0 and 0.9 of the frame height",
                          "mask_top")
    cat.check_writable()
    report = ScanReport()
    done = set(cat.scans.scanned()) if not force else set()
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
                store(cat, result)
                report.scanned.append(result)
            except (VidexError, OSError, subprocess.SubprocessError) as err:
                report.failed.append((clip["id"], str(err)))
            if progress:
                progress(1)
    report.scanned.sort(key=lambda r: r.clip_id)
    return report
