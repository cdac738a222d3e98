"""Probing clips in-process with PyAV: the facts ffprobe gives, without starting a process.

Starting ffprobe costs about 55 ms per file (it loads some 200 shared libraries) and the probe
itself a few; PyAV (``av``) binds the same FFmpeg libraries, so reading a small clip's header
in-process takes under a millisecond. ``read_facts`` returns the same ``ProbeInfo`` as
``videx.probe.facts`` does from ffprobe's JSON: container, codec, coded and display size,
rotation, fps, duration, creation time, and the packet timeline (frame count, variable frame
rate, keyframe interval).

For an MP4/MOV the rotation comes from the track's display matrix and the timeline from the
index FFmpeg read at open plus the composition offsets (``videx.isobmff``): no packet is
demuxed and no frame decoded. Whenever those boxes do not say enough (fragmented, edited or
damaged files, other containers) every packet is walked and the first frame decoded for its
rotation. ``videx.probe.probe`` uses this reader first and falls back to ffprobe, recording
why, for anything it cannot read.

``source`` may be a path or a file object holding the clip's bytes (ingest reads a small clip
once, hashes those bytes and probes them from memory: one pass over the file).
"""

from __future__ import annotations

import io
import os
from fractions import Fraction
from pathlib import Path

from videx.errors import ProbeError

DECODE_PACKETS = 64      # packets fed to the decoder to get the first frame (B-frame delay)


class InProcessUnavailable(Exception):
    """The in-process reader cannot answer for this file; the message says why (the caller
    falls back to ffprobe and records it)."""


def version() -> str | None:
    """``pyav X (FFmpeg Y)``, or None when PyAV is not installed."""
    try:
        import av
    except ImportError:
        return None
    ffmpeg = getattr(av, "ffmpeg_version_info", "") or ""
    return f"pyav {av.__version__}" + (f" (FFmpeg {ffmpeg})" if ffmpeg else "")


def read_facts(source: str | Path | io.BufferedIOBase, size: int):
    """``ProbeInfo`` for a clip (``size`` in bytes). Raises ProbeError for a file that is
    readable but not a usable video (no video stream, no duration), and InProcessUnavailable
    when PyAV is missing or cannot open or read it (the caller then asks ffprobe)."""
    try:
        return _read_facts(source, size)
    except (ProbeError, InProcessUnavailable):
        raise
    except Exception as err:  # noqa: BLE001 - anything else in PyAV: let ffprobe answer
        raise InProcessUnavailable(f"PyAV failed: {type(err).__name__}: {err}") from err


def _read_facts(source, size: int):
    from videx.probe import Timeline, assemble, rotate_tag, round_fps
    with _open(source) as container:
        video = _video_streams(container)
        if not video:
            raise ProbeError("no video stream (not a video file)")
        stream = video[0]
        duration = _seconds(stream.duration, stream.time_base) or _seconds(
            container.duration, Fraction(1, 1_000_000))     # as videx.probe.facts
        if not duration or duration <= 0:
            raise ProbeError("no duration: the file is incomplete or not a video")
        ctx = stream.codec_context
        ctx.thread_count = 1             # one frame decoded: threads would only add latency
        times, keys, rotation = _from_boxes(source, size, container, stream)
        if times is None:                # not told by the boxes: walk the packets
            times, keys, decoded = _walk(container, stream, decode_first=rotation is None)
            rotation = decoded if rotation is None else rotation
        if rotation is None:             # no frame decoded: the old "rotate" tag, if any
            rotation = rotate_tag(stream.metadata)
        tags = {k.lower(): v for k, v in (container.metadata or {}).items()}
        sar = stream.sample_aspect_ratio or ctx.sample_aspect_ratio   # the container's first
        return assemble(
            container=container.format.name,
            codec=getattr(ctx.codec, "canonical_name", None) or ctx.name,
            width=int(ctx.width or 0), height=int(ctx.height or 0),
            sar=f"{sar.numerator}:{sar.denominator}" if sar else None, rotation=rotation,
            fps=round_fps(stream.average_rate) or round_fps(stream.base_rate),
            duration_s=duration, size_bytes=size, creation_time=tags.get("creation_time"),
            line=Timeline.from_times(times, keys), streams=len(container.streams),
            probed_with=version() or "pyav")


# codecs FFmpeg's mov demuxer runs a parser over: their packets' keyframe flags (and, when
# fully parsed, their packets) are the parser's, not the sample table's; H.264 is read by
# videx.avc as that parser reads it, the others are walked
PARSED_BY_FFMPEG = {"av1", "vp8", "vp9", "mpeg1video", "vc1"}


def _from_boxes(source, size: int, container, stream):
    """(frame times or None, keyframe times or None, rotation or None) of an MP4/MOV from its
    movie box and the index FFmpeg built from it, without demuxing or decoding (seconds, as
    stored). The times are None unless the index is the whole, plain sample table (one
    entry per sample, no discarded samples, at most one edit, not fragmented, every sample
    inside the file): then a packet's presentation time is its decode time plus its
    composition offset, as FFmpeg's mov demuxer computes it, and its keyframe flag is the
    sample table's (H.264: its parser's, from ``videx.avc``)."""
    if not container.format.name.startswith("mov"):
        return None, None, None
    from videx import isobmff
    if isinstance(source, (str, Path)):
        with open(source, "rb") as fh:
            return _shortcut(fh, size, stream, isobmff.read_movie(fh, size))
    at = source.tell()               # FFmpeg reads this file object too: leave it where it was
    try:
        return _shortcut(source, size, stream, isobmff.read_movie(source, size))
    finally:
        source.seek(at)


def _shortcut(fh, size: int, stream, movie):
    track = movie.track(stream.index, stream.id) if movie else None
    if track is None:
        return None, None, None
    rotation = movie.rotation(track)
    entries = getattr(stream, "index_entries", None)          # PyAV 17 and later
    codec = stream.codec_context.name
    if (entries is None or movie.fragmented or track.edits > 1 or not track.samples
            or len(entries) != track.samples or track.samples > size
            or codec in PARSED_BY_FFMPEG):
        return None, None, rotation
    if track.ctts is None:
        offsets = [0] * track.samples
    else:
        # checked before anything is expanded: a crafted ctts may claim billions of samples
        if len(track.ctts) // 8 > track.samples:
            return None, None, rotation
        runs = track.composition_runs()
        if sum(count for count, _ in runs) != track.samples:
            return None, None, rotation
        offsets = [offset for count, offset in runs for _ in range(count)]
    base = float(stream.time_base)
    stamps, flags, spans = [], [], []
    for entry, offset in zip(entries, offsets):
        end = entry.pos + entry.size
        if entry.is_discard or end > size:    # damage or edits: the walk says what is there
            return None, None, rotation
        stamps.append((entry.timestamp + offset) * base)
        flags.append(entry.is_keyframe)
        spans.append((entry.pos, end))
    if codec == "h264":
        flags = _h264_keyframes(fh, stream, spans)
        if flags is None:
            return None, None, rotation
    return stamps, [t for t, key in zip(stamps, flags) if key], rotation


def _h264_keyframes(fh, stream, spans: list[tuple[int, int]]) -> list[bool] | None:
    """The keyframe flags FFmpeg's H.264 parser gives these samples ((start, end) byte
    offsets), or None when videx.avc cannot tell. Only each sample's first bytes are read
    (and its parameter sets and SEI, when it starts with them): a few bytes a frame, not the
    file, whether it is in memory or on disk."""
    from videx import avc
    if isinstance(fh, io.BytesIO):
        data = fh.getvalue()             # the bytes ingest read (shared, not copied)

        def read(offset: int, n: int) -> bytes:
            return data[offset:offset + n]
    else:
        fd = fh.fileno()

        def read(offset: int, n: int) -> bytes:
            return os.pread(fd, n, offset)
    try:
        return avc.keyframes(stream.codec_context.extradata, read, spans)
    except (avc.Unsure, OSError):
        return None


def _walk(container, stream, decode_first: bool):
    """(frame times, keyframe times, rotation of the first decoded frame or None): one pass
    over the stream's packets (seconds, as stored); with ``decode_first`` the first packets
    are also decoded until a frame comes out."""
    import av
    times, keys = [], []
    rotation = None
    fed = 0
    base = float(stream.time_base) if stream.time_base else None
    try:
        for packet in container.demux(stream):
            pts = packet.pts
            if pts is None:              # the flush packet at the end
                continue
            # one float multiplication, not Fraction arithmetic per packet (a third of the
            # walk's time); a packet with a time base of its own is read with it
            t = pts * base if base is not None else float(pts * packet.time_base)
            times.append(t)
            if packet.is_keyframe:
                keys.append(t)
            if decode_first and rotation is None and fed < DECODE_PACKETS:
                fed += 1
                try:
                    frames = packet.decode()
                except av.FFmpegError:
                    frames = []
                if frames:
                    rotation = int(round(frames[0].rotation or 0)) % 360
    except av.FFmpegError as err:
        if not times:
            raise InProcessUnavailable(f"PyAV cannot read its packets: {_reason(err)}") from err
        # damaged after some packets: what was read stands, as in ffprobe's listing
    if decode_first and rotation is None and times:
        try:
            for frame in stream.codec_context.decode(None):   # drain the decoder's delay
                rotation = int(round(frame.rotation or 0)) % 360
                break
        except av.FFmpegError:
            pass
    return times, keys, rotation


def _open(source):
    try:
        import av
    except ImportError as err:
        raise InProcessUnavailable("PyAV (av) is not installed") from err
    try:
        return av.open(str(source) if isinstance(source, (str, Path)) else source, mode="r")
    except (av.FFmpegError, OSError, ValueError) as err:
        raise InProcessUnavailable(f"PyAV cannot open it: {_reason(err)}") from err


def _video_streams(container):
    import av
    return [s for s in container.streams.video
            if not s.disposition & av.stream.Disposition.attached_pic]


def timeline(source: str | Path):
    """The frame and keyframe times of a clip's first video stream (seconds from the first
    frame), from its packets; InProcessUnavailable when PyAV cannot read them."""
    with _open(source) as container:
        video = _video_streams(container)
        if not video:
            raise InProcessUnavailable("no video stream")
        times, keys, _ = _walk(container, video[0], decode_first=False)
    from videx.probe import Timeline
    return Timeline.from_times(times, keys)


def _seconds(value, base) -> float | None:
    if value is None or base is None:
        return None
    return float(value * base)


def _reason(err: Exception) -> str:
    text = getattr(err, "strerror", None) or str(err)
    return str(text).split(": '", 1)[0].strip() or type(err).__name__
