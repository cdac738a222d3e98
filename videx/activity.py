"""Activity scan: per-second motion scores and dead-feed flags for each clip.

Frames are decoded by ffmpeg (through ffmpeg-python), turned upright (a phone's display matrix
is applied), scaled to ``SCAN_WIDTH`` pixels wide and converted to grey *inside ffmpeg*, and
piped raw to Python, where OpenCV blurs and differences consecutive frames. Every frame is
placed at its **presentation time** (read from the packets), not at frame number / nominal
rate, so variable-frame-rate phone video lands on the right seconds. Two modes:

- ``full``: every frame. The score of a second is the mean, over its frames, of the share of
  pixels (in percent) whose blurred grey level changed by more than ``DIFF_LEVEL`` since the
  previous frame.
- ``fast``: keyframes only (ffmpeg ``-skip_frame nokey``). The score of each second is the
  change between the keyframes around it. Coarse, and only meaningful when keyframes come
  often: with keyframes further apart than ``FAST_MAX_KEYFRAME_S`` (a DVR export with one every
  10 s), a single keyframe in the whole clip (short phone and DVR exports), or any stretch of
  the clip longer than that without a keyframe, a fast request decodes every frame instead and
  says why in the result's ``note`` (``fast_scan_refusal``).
  Fast scores compare pictures up to 2 s apart, so they run higher than full-mode scores for
  the same motion: every result and canvass figure carries its mode.

A band at the top of the frame (``mask_top``, default 10% of the height) is ignored: cameras
burn their clock in there, and a ticking clock is not activity. Dead-feed flags, as segments in
seconds from the clip start: ``frozen`` (consecutive frames identical, since a live sensor
always has noise, or one frame held for a long time, as a phone does when it stalls),
``black`` (mean grey below 16), ``blank`` (a uniform picture), ``dark`` (mean grey below 40).
"""

from __future__ import annotations

import math
import os
import subprocess
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field

from videx.errors import OptionError, ProbeError, VidexError
from videx.probe import Timeline, probe, require_tools, timeline
from videx.timeutil import iso_utc, now_utc

SCAN_WIDTH = 160
DIFF_LEVEL = 15           # grey levels (0-255) a blurred pixel must change to count as motion
FROZEN_MAD = 0.05         # mean absolute difference below which two frames are identical
BLACK_LUMA, DARK_LUMA, BLANK_STD = 16.0, 40.0, 2.0
MIN_SEGMENT_S = 1.0       # flags shorter than this are not reported
HOLD_FACTOR = 3.0         # a frame shown this many times longer than usual is a freeze
DEFAULT_MASK_TOP = 0.10
MOTION_SCORE = 0.5        # score (percent of pixels) from which a second counts as active
FAST_MAX_KEYFRAME_S = 2.5  # keyframes further apart than this make a fast scan meaningless


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
    keyframe_interval_s: float | None = None
    note: str | None = None

    @property
    def peak(self) -> float:
        return max(self.scores, default=0.0)

    def active_seconds(self, level: float = MOTION_SCORE) -> list[int]:
        return [i for i, s in enumerate(self.scores) if s >= level]

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        flags = ", ".join(f"{f['kind']} {f['start_s']:g}-{f['end_s']:g} s"
                          for f in self.flags) or "none"
        text = (f"clip {self.clip_id}: {self.mode} scan of {self.frames} frames, "
                f"{len(self.active_seconds())} active second(s), peak {self.peak:.1f}%, "
                f"flags: {flags}")
        return text + (f" ({self.note})" if self.note else "")


def frame_stream(path: str, width: int, height: int, fast: bool):
    """Start ffmpeg decoding ``path`` upright to raw grey frames of ``width`` x ``height``,
    one output frame per decoded frame (no duplicates or drops)."""
    import ffmpeg
    inp = ffmpeg.input(path, skip_frame="nokey") if fast else ffmpeg.input(path)
    # fast_bilinear: the default bicubic downscale of every full-HD frame costs more than a
    # third of the decode time; the blur that follows makes the cheaper filter's aliasing moot
    out = inp.video.filter("scale", width, height, flags="fast_bilinear").filter(
        "format", "gray").output("pipe:", format="rawvideo", pix_fmt="gray",
                                 fps_mode="passthrough")
    return out.global_args("-nostdin", "-loglevel", "error").run_async(pipe_stdout=True,
                                                                       pipe_stderr=True)


def _segments(flags_by_second: list[bool], kind: str) -> list[dict]:
    out, start = [], None
    for i, on in enumerate(flags_by_second + [False]):
        if on and start is None:
            start = i
        elif not on and start is not None:
            if i - start >= MIN_SEGMENT_S:
                out.append({"kind": kind, "start_s": float(start), "end_s": float(i)})
            start = None
    return out


def _usual_spacing(times: list[float]) -> float:
    gaps = sorted(b - a for a, b in zip(times, times[1:]) if b > a)
    return gaps[len(gaps) // 2] if gaps else 1.0


def holds(times: list[float], duration_s: float) -> list[tuple[float, float]]:
    """Spans where one frame stays on screen far longer than the clip's usual frame spacing
    (a stalled phone encoder): (from the held frame, to the next frame), seconds."""
    gaps = sorted(b - a for a, b in zip(times, times[1:]) if b > a)
    if not gaps:
        return []
    usual = gaps[len(gaps) // 2]
    ends = times[1:] + [duration_s]
    return [(round(a, 3), round(b, 3)) for a, b in zip(times, ends)
            if b - a >= max(MIN_SEGMENT_S, HOLD_FACTOR * usual)]


def _merge(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1] + 1e-6:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def fast_scan_refusal(line: Timeline, duration_s: float) -> str | None:
    """Why a keyframe-only pass cannot judge this clip, or None when it can.

    A fast scan measures change between consecutive keyframes, so it needs at least two of
    them, and no stretch of the clip (from its start to the first keyframe, between two
    keyframes, or from the last keyframe to its end, ``duration_s`` seconds) longer than
    ``FAST_MAX_KEYFRAME_S`` without one: motion inside such a stretch is never seen."""
    keys = sorted(line.keyframes)
    if len(keys) < 2:
        return (f"{'a single keyframe' if keys else 'no keyframe'} in the whole "
                f"{duration_s:g} s clip, so there are no two pictures to compare")
    if (line.keyframe_interval_s or 0) > FAST_MAX_KEYFRAME_S:
        return f"keyframes every {line.keyframe_interval_s:g} s"
    edges = [0.0, *keys, max(duration_s, keys[-1])]
    longest, start, end = max((b - a, a, b) for a, b in zip(edges, edges[1:]))
    if longest > FAST_MAX_KEYFRAME_S:
        return (f"no keyframe for {longest:g} s (from {start:g} s to {end:g} s), longer than "
                f"the {FAST_MAX_KEYFRAME_S:g} s a keyframe pass can judge")
    return None


def scan_file(path: str, fast: bool = False, mask_top: float = DEFAULT_MASK_TOP,
              clip_id: int | None = None, meta: dict | None = None,
              frame_times: Timeline | None = None) -> ScanResult:
    """Scan one video file (see module docstring); memory does not grow with clip length.

    ``meta`` (``display_width``, ``display_height``, ``duration_s``, as the catalog stores
    them from ingest) saves probing the file again; ``frame_times`` likewise."""
    import cv2
    import numpy as np
    if meta and meta.get("display_width") and meta.get("display_height"):
        w0, h0, duration = meta["display_width"], meta["display_height"], meta["duration_s"]
    else:
        info = probe(path)
        w0, h0, duration = info.display_width, info.display_height, info.duration_s
    line = frame_times or timeline(path)
    note = None
    if fast:
        why = fast_scan_refusal(line, duration)
        if why:
            fast = False
            note = f"fast scan not meaningful: {why}; every frame was decoded instead"
    times = line.keyframes if fast else line.frames
    width = SCAN_WIDTH
    height = max(2, int(round(h0 * width / w0 / 2)) * 2)
    top = int(round(height * mask_top))
    seconds = max(1, math.ceil(duration))
    acc = {k: np.zeros(seconds) for k in ("change", "luma", "std", "frames", "diffs")}
    mads: list[list[float]] = [[] for _ in range(seconds)]
    seen_times: list[float] = []
    prev = None
    n = 0
    proc = frame_stream(path, width, height, fast)
    _widen_pipe(proc.stdout)
    size = width * height
    try:
        while len(buf := proc.stdout.read(size)) == size:
            grey = np.frombuffer(buf, np.uint8).reshape(height, width)[top:]
            t = times[n] if n < len(times) else (seen_times[-1] + 1.0 / 10 if seen_times
                                                 else 0.0)
            seen_times.append(t)
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
    if len(times) != n:
        note = ((note + "; ") if note else "") + (
            f"frame times estimated: {n} frames decoded for {len(times)} packets")
    seen = acc["frames"] > 0
    luma = np.where(seen, acc["luma"] / np.maximum(acc["frames"], 1), np.nan)
    std = np.where(seen, acc["std"] / np.maximum(acc["frames"], 1), np.nan)
    scores = acc["change"] / np.maximum(acc["diffs"], 1)
    spacing = _usual_spacing(seen_times)
    frozen = [len(m) * spacing >= 0.5 and float(np.median(m)) < FROZEN_MAD for m in mads]
    identical = [(f["start_s"], f["end_s"]) for f in _segments(frozen, "frozen")]
    held = [] if fast else holds(seen_times, duration)
    for a, b in held:     # seconds mostly covered by a held frame are frozen too
        for sec in range(int(a), min(math.ceil(b), seconds)):
            if min(b, sec + 1) - max(a, sec) >= 0.5:
                frozen[sec] = True
    flags = ([{"kind": "frozen", "start_s": a, "end_s": b} for a, b in _merge(identical + held)]
             + _segments([bool(v < BLACK_LUMA) for v in luma], "black")
             + _segments([bool(s < BLANK_STD and v >= BLACK_LUMA) for s, v in zip(std, luma)],
                         "blank")
             + _segments([bool(BLACK_LUMA <= v < DARK_LUMA) for v in luma], "dark"))
    return ScanResult(clip_id, "fast" if fast else "full", n, duration, width, height, mask_top,
                      [round(float(x), 3) for x in scores],
                      [None if math.isnan(v) else round(float(v), 1) for v in luma], frozen,
                      flags, line.keyframe_interval_s, note)


def _widen_pipe(pipe, size: int = 1 << 20) -> None:
    """Let ffmpeg run up to ``size`` bytes ahead of us (Linux; a no-op elsewhere)."""
    try:
        import fcntl
        fcntl.fcntl(pipe.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except (ImportError, OSError):
        pass


def _add(acc, mads, sec, grey, change, mad) -> None:
    """Accumulate one frame's (or keyframe interval's) measures into second ``sec``."""
    import cv2
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
                            "flags": result.flags, "note": result.note}):
        cat.scans.store(result.clip_id, result.mode, result.frames, result.width,
                        result.height, result.mask_top, result.peak, result.flags,
                        result.scores, result.luma, result.frozen, iso_utc(now_utc()),
                        result.note)


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
    # a full scan is never redone without force; a fast one is replaced by a full request
    done = {cid for cid, mode in cat.scans.scanned().items()
            if mode == "full" or fast} if not force else set()
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
