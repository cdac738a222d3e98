"""Reading clips: what a clip is (``probe``), its frame times (``timeline``), and the one
helper that runs ffmpeg's tools.

``probe`` and ``timeline`` read in-process with PyAV (``videx.probe_av``) and fall back to
ffprobe, recording why, for what PyAV cannot open; both readers give the same ``ProbeInfo``.
``run_tool`` runs any ffmpeg/ffprobe command line with a timeout and turns failures into
``ProbeError`` carrying the tool's own last stderr line; ``probe`` builds the same command line
as ``ffmpeg.probe`` (via ffmpeg-python's argument conversion) and checks container
completeness; ``keyframe_times`` lists keyframes from packets without decoding. Files are only
ever opened for reading.
"""

from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from videx.errors import ProbeError, ToolMissing

PROBE_TIMEOUT_S = 30.0
_ISO_BMFF = {".mp4", ".m4v", ".mov", ".3gp"}


VFR_SPREAD = 0.2   # frame spacing varying by more than this share of its median: variable


@dataclass(frozen=True)
class ProbeInfo:
    """What a clip is (sizes in bytes and pixels, times in seconds).

    ``width``/``height`` are the coded picture; ``display_width``/``display_height`` the
    picture as it is meant to be seen (square pixels, turned by ``rotation`` degrees, so a
    phone's portrait clip is taller than wide). ``vfr``, ``frames`` and
    ``keyframe_interval_s`` come from the packets (no decoding). ``probed_with`` names the
    reader (``pyav ...`` in-process, or ``ffprobe`` with the reason the in-process reader
    could not answer); ``streams`` counts the file's streams of every kind."""

    container: str
    codec: str
    width: int
    height: int
    fps: float | None
    duration_s: float
    size_bytes: int
    creation_time: str | None
    rotation: int = 0
    display_width: int = 0
    display_height: int = 0
    vfr: bool = False
    frames: int | None = None
    keyframe_interval_s: float | None = None
    probed_with: str = "ffprobe"
    streams: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Timeline:
    """Presentation times (s from the first frame) of a clip's frames and keyframes."""

    frames: list[float]
    keyframes: list[float]

    @property
    def vfr(self) -> bool:
        gaps = sorted(b - a for a, b in zip(self.frames, self.frames[1:]) if b > a)
        if len(gaps) < 2:
            return False
        median = gaps[len(gaps) // 2]
        return median > 0 and (gaps[-1] - gaps[0]) > VFR_SPREAD * median

    @classmethod
    def from_times(cls, times: list[float], keys: list[float]) -> Timeline:
        """From packet times and keyframe times as stored (seconds), counted from the first
        frame and sorted into presentation order."""
        if not times:
            return cls([], [])
        first = min(times)
        return cls(sorted(round(t - first, 6) for t in times),
                   sorted(round(t - first, 6) for t in keys))

    @property
    def keyframe_interval_s(self) -> float | None:
        gaps = sorted(b - a for a, b in zip(self.keyframes, self.keyframes[1:]))
        return round(gaps[len(gaps) // 2], 3) if gaps else None


def require_tools(*names: str) -> None:
    """Raise ToolMissing unless every program in ``names`` is on PATH."""
    for name in names or ("ffprobe",):
        if shutil.which(name) is None:
            raise ToolMissing(f"{name} not found: install ffmpeg (Debian/Ubuntu: "
                              "apt-get install ffmpeg)")


def run_tool(args: list[str], what: str, timeout: float = PROBE_TIMEOUT_S) -> bytes:
    """Run an ffmpeg/ffprobe command line with a timeout; return stdout, or raise ProbeError
    with ``what`` and the tool's own last stderr line."""
    try:
        done = subprocess.run(args, capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except FileNotFoundError as err:
        raise ToolMissing(f"{args[0]} not found: install ffmpeg (Debian/Ubuntu: apt-get "
                          "install ffmpeg)") from err
    except subprocess.TimeoutExpired as err:
        raise ProbeError(f"{what}: {args[0]} did not finish within {timeout:g} s") from err
    if done.returncode != 0:
        raise ProbeError(f"{what}: {_last_line(done.stderr)}")
    return done.stdout


def probe_command(path: str | Path) -> list[str]:
    """The ffprobe command line ffmpeg-python's ``probe`` builds, quieted to errors, for the
    first video stream (not cover art), with its packets' times and flags (no decoding)."""
    from ffmpeg._utils import convert_kwargs_to_cmd_line_args
    return (["ffprobe", "-show_format", "-show_streams", "-of", "json"]
            + convert_kwargs_to_cmd_line_args({"v": "error", "select_streams": "V:0",
                                               "show_entries": "packet=pts_time,flags"})
            + [str(path)])


def _last_line(stderr: bytes) -> str:
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    if not lines:
        return "ffprobe failed without a message"
    line = lines[-1]
    return line.split(": ", 1)[1] if line.startswith("/") and ": " in line else line


def _fps(stream: dict) -> float | None:
    for key in ("avg_frame_rate", "r_frame_rate"):
        num, _, den = str(stream.get(key, "0/0")).partition("/")
        try:
            if float(den or 1) > 0 and float(num) > 0:
                return round(float(num) / float(den or 1), 3)
        except ValueError:
            continue
    return None


def probe(path: str | Path, timeout: float = PROBE_TIMEOUT_S, data: bytes | None = None,
          reader: str = "auto") -> ProbeInfo:
    """Probe a clip; raise ProbeError when it is not a readable, complete video.

    ``reader``: ``auto`` reads it in-process with PyAV (``videx.probe_av``) and asks ffprobe
    when PyAV cannot (the reason goes into ``probed_with``); ``ffprobe`` or ``pyav`` force
    one. ``data``: the file's bytes when the caller already read them (one pass: ingest
    hashes the same bytes).
    """
    path = Path(path)
    size = len(data) if data is not None else path.stat().st_size
    if size == 0:
        raise ProbeError("empty file (0 bytes)")
    iso = path.suffix.lower() in _ISO_BMFF
    why = None
    if reader in ("auto", "pyav"):
        from videx import probe_av
        try:
            info = probe_av.read_facts(path if data is None else io.BytesIO(data), size)
            if iso:
                check_iso_bmff(path, size, data)
            return info
        except probe_av.InProcessUnavailable as err:
            if reader == "pyav":
                raise ProbeError(f"not readable as video: {err}") from err
            why = str(err)
    out = run_tool(probe_command(path), "not readable as video", timeout)
    info = json.loads(out.decode("utf-8", "replace") or "{}")
    if iso and info.get("streams"):
        check_iso_bmff(path, size, data)
    found = facts(info, size)
    if why:
        found = replace(found, probed_with=f"ffprobe (in-process reader: {why})")
    return found


def round_fps(rate) -> float | None:
    """A frame rate (Fraction or number) rounded to 3 decimals, None when unknown or 0."""
    try:
        value = float(rate) if rate is not None else 0.0
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return round(value, 3) if value > 0 else None


def facts(info: dict, size: int) -> ProbeInfo:
    """ProbeInfo from ffprobe's JSON (format, the first video stream, its packets)."""
    video = [s for s in info.get("streams", []) if s.get("codec_type") == "video"
             and not (s.get("disposition") or {}).get("attached_pic")]
    if not video:
        raise ProbeError("no video stream (not a video file)")
    fmt, stream = info.get("format", {}), video[0]
    # the picture's own duration; the container's (which may count a longer audio track, and
    # which FFmpeg versions compute differently) only when the stream does not say
    duration = _float(stream.get("duration")) or _float(fmt.get("duration"))
    if not duration or duration <= 0:
        raise ProbeError("no duration: the file is incomplete or not a video")
    tags = {k.lower(): v for k, v in (fmt.get("tags") or {}).items()}
    return assemble(
        container=fmt.get("format_name", ""), codec=stream.get("codec_name", ""),
        width=int(stream.get("width") or 0), height=int(stream.get("height") or 0),
        sar=stream.get("sample_aspect_ratio"), rotation=_rotation(stream), fps=_fps(stream),
        duration_s=duration, size_bytes=size, creation_time=tags.get("creation_time"),
        line=timeline_from_packets(info.get("packets") or []),
        streams=int(fmt["nb_streams"]) if str(fmt.get("nb_streams", "")).isdigit() else None)


def assemble(*, container: str, codec: str, width: int, height: int, sar: str | None,
             rotation: int, fps: float | None, duration_s: float, size_bytes: int,
             creation_time: str | None, line: Timeline, streams: int | None,
             probed_with: str = "ffprobe") -> ProbeInfo:
    """A ProbeInfo from what either reader found (sizes in pixels, ``sar`` as ``N:D``,
    seconds): the display size from the aspect ratio and rotation, the frame count, frame-rate
    variability and keyframe spacing from the packet timeline."""
    dw, dh = display_size(width, height, sar, rotation)
    return ProbeInfo(container=container, codec=codec, width=width, height=height, fps=fps,
                     duration_s=round(duration_s, 3), size_bytes=size_bytes,
                     creation_time=creation_time, rotation=rotation, display_width=dw,
                     display_height=dh, vfr=line.vfr, frames=len(line.frames) or None,
                     keyframe_interval_s=line.keyframe_interval_s, probed_with=probed_with,
                     streams=streams)


def rotate_tag(tags: dict | None) -> int:
    """Degrees from the old ``rotate`` metadata tag (0 when absent)."""
    tag = (tags or {}).get("rotate")
    return int(round(float(tag))) % 360 if tag not in (None, "") else 0


def _rotation(stream: dict) -> int:
    """Degrees (0, 90, 180, 270) the display matrix or the old ``rotate`` tag turns a picture."""
    for side in stream.get("side_data_list") or []:
        if "rotation" in side:
            return int(round(float(side["rotation"]))) % 360
    return rotate_tag(stream.get("tags"))


def display_size(width: int, height: int, sar: str | None, rotation: int) -> tuple[int, int]:
    """Upright size in square pixels: the sample aspect ratio applied, then the rotation."""
    num, _, den = str(sar or "1:1").partition(":")
    try:
        ratio = float(num) / float(den) if float(num) > 0 and float(den) > 0 else 1.0
    except ValueError:
        ratio = 1.0
    w = int(round(width * ratio / 2) * 2) if ratio != 1.0 else width
    return (height, w) if rotation in (90, 270) else (w, height)


def timeline_from_packets(packets: list[dict]) -> Timeline:
    """Frame and keyframe times from ffprobe packet entries, from the first frame on."""
    times, keys = [], []
    for p in packets:
        t = _float(p.get("pts_time"))
        if t is None:
            continue
        times.append(t)
        if "K" in str(p.get("flags", "")):
            keys.append(t)
    return Timeline.from_times(times, keys)


def timeline(path: str | Path, timeout: float = 120.0) -> Timeline:
    """The frame and keyframe times of a clip's first video stream, read from its packets
    (in-process with PyAV; ffprobe when PyAV cannot read them)."""
    from videx import probe_av
    try:
        return probe_av.timeline(path)
    except probe_av.InProcessUnavailable:
        pass
    out = run_tool(["ffprobe", "-v", "error", "-select_streams", "V:0", "-show_entries",
                    "packet=pts_time,flags", "-of", "json", str(path)],
                   f"reading the frame times of {Path(path).name}", timeout)
    return timeline_from_packets(json.loads(out.decode("utf-8", "replace") or "{}")
                                 .get("packets") or [])


def _float(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def check_iso_bmff(path: Path, size: int, data: bytes | None = None) -> None:
    """Walk an MP4/MOV's top-level boxes; raise ProbeError when one runs past the end of file.

    A truncated MP4 whose index (moov) comes first still probes with its full duration, so
    ffprobe alone does not notice the missing media data; this check does, reading only box
    headers.
    """
    pos = 0
    with (io.BytesIO(data) if data is not None else open(path, "rb")) as fh:
        while pos < size:
            fh.seek(pos)
            header = fh.read(16)
            if len(header) < 8:
                raise ProbeError(f"truncated: {size - pos} stray bytes at the end of the file")
            box_size, box_type = struct.unpack(">I4s", header[:8])
            if box_size == 1:
                if len(header) < 16:
                    raise ProbeError("truncated inside a box header")
                box_size = struct.unpack(">Q", header[8:16])[0]
            elif box_size == 0:
                box_size = size - pos
            if box_size < 8:
                raise ProbeError(f"corrupt: box {box_type!r} at byte {pos} has size {box_size}")
            if pos + box_size > size:
                name = box_type.decode("latin-1")
                raise ProbeError(f"truncated: box '{name}' at byte {pos} needs {box_size} bytes "
                                 f"but the file ends after {size - pos}")
            pos += box_size


def keyframe_times(path: str | Path, timeout: float = 120.0) -> list[float]:
    """Presentation times (seconds from the first frame) of the keyframes (no decoding)."""
    return timeline(path, timeout).keyframes
