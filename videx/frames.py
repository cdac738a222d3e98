"""Single frames and the per-incident contact sheet.

Frames are taken with input seeking (``-ss`` before ``-i``: ffmpeg jumps to the nearest
keyframe and decodes only from there) and always with a timeout. They come out upright: ffmpeg
applies a phone's display matrix, and sizes follow the clip's display size (so a portrait clip
is taller than wide). Contact-sheet tiles of different shapes are letterboxed to one tile size.

Where in a clip (``videx frame --at``):

- an offset into the clip: ``+0:01:05``, ``+1:05``, ``65s``, ``65`` or ``4.5``;
- a clock time as the camera showed it: ``21:15:30`` (read in the camera's zone on the clip's
  date; the camera's clock offset is then applied, and the true time is shown);
- an instant in true time: ``2023-05-01T21:14:00-04:00``.

Two numbers without a sign (``1:05``) could be either; they are refused with both readings.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:   # OpenCV, numpy and ffmpeg load when a frame is first read
    import numpy as np

from videx.errors import ProbeError, TimestampError, VidexError
from videx.probe import probe, require_tools, run_tool
from videx.timeutil import format_local, hms, parse_instant

FFMPEG_TIMEOUT_S = 60.0
TILE_WIDTH = 320
TILE_HEIGHT = 240


@dataclass(frozen=True)
class ClipTime:
    """Where in a clip: ``offset_s`` from its first frame, and how ``--at`` was read."""

    offset_s: float
    reading: str


def parse_clip_time(text: str, clip: dict, camera_zone=None, zone=None) -> ClipTime:
    """Read ``--at`` for a clip (see the module docstring). ``camera_zone`` is the zone of the
    camera's clock, ``zone`` the zone of local instants (both ZoneInfo or None)."""
    raw = str(text).strip()
    if m := re.fullmatch(r"\+?(\d+(?:\.\d+)?)s?", raw):
        offset, reading = float(m.group(1)), "offset into the clip"
    elif re.fullmatch(r"\+\d+(:\d{1,2}){1,2}(\.\d+)?", raw):
        parts = [float(p) for p in raw[1:].split(":")]
        offset = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
        reading = "offset into the clip"
    elif re.fullmatch(r"\d{1,2}:\d{2}", raw):
        raise TimestampError(f"{raw!r} is ambiguous: write +0:{raw} for an offset into the "
                             f"clip, or {raw.zfill(5)}:00 for the camera's clock time")
    elif re.fullmatch(r"\d{1,2}:\d{2}:\d{2}(\.\d+)?", raw):
        offset, reading = _clock_time(raw, clip, camera_zone)
    else:
        offset = parse_instant(raw, zone).timestamp() - clip["start_ts"]
        reading = "instant in true time"
    if not 0 <= offset < clip["duration_s"]:
        raise TimestampError(f"{raw!r} ({reading}) is {offset:.1f} s into clip {clip['id']}, "
                             f"which lasts {clip['duration_s']:.1f} s")
    return ClipTime(offset, reading)


def _clock_time(raw: str, clip: dict, camera_zone) -> tuple[float, str]:
    """Offset of a camera-clock time of day on the clip's date (or the next/previous day for a
    clip that crosses midnight), from the clip's raw (camera-clock) start."""
    from datetime import datetime, time, timedelta

    from videx.timeutil import from_ts, localize
    if camera_zone is None:
        raise TimestampError(f"clock time {raw!r} needs the camera's zone: set the camera's tz "
                             "or the catalog's zone")
    clock = time.fromisoformat(raw.zfill(8) if raw.index(":") == 1 else raw)
    day = from_ts(clip["start_raw_ts"]).astimezone(camera_zone).date()
    best = None
    for d in (day, day + timedelta(days=1), day - timedelta(days=1)):
        shown = localize(datetime.combine(d, clock), camera_zone).timestamp()
        offset = shown - clip["start_raw_ts"]
        if best is None or (0 <= offset < clip["duration_s"]):
            best = offset
            if 0 <= offset < clip["duration_s"]:
                break
    return best, (f"camera clock {raw} ({camera_zone.key}), corrected by "
                  f"{clip['clock_offset_s']:+g} s")


def frame_image(path: str, offset_s: float, width: int = TILE_WIDTH,
                source_size: tuple[int, int] | None = None) -> np.ndarray:
    """The frame ``offset_s`` seconds into a video, as a BGR array ``width`` pixels wide.

    ``source_size`` (width, height as the catalog stores them) saves probing the file."""
    import ffmpeg
    import numpy as np
    require_tools("ffmpeg")
    if source_size and all(source_size):
        w, h = source_size
    else:
        info = probe(path)
        w, h = info.display_width, info.display_height
    height = max(2, int(round(h * width / w / 2)) * 2)
    stream = (ffmpeg.input(path, ss=f"{offset_s:.3f}")
              .output("pipe:", vframes=1, format="rawvideo", pix_fmt="bgr24",
                      vf=f"scale={width}:{height}")
              .global_args("-nostdin", "-loglevel", "error"))
    data = run_tool(stream.compile(), f"frame at {offset_s:.2f} s of {Path(path).name}",
                    FFMPEG_TIMEOUT_S)
    if len(data) < width * height * 3:
        raise ProbeError(f"no frame at {offset_s:.2f} s of {Path(path).name}")
    return np.frombuffer(data[: width * height * 3], np.uint8).reshape(height, width, 3).copy()


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def check_image_name(out: str | Path) -> None:
    """Refuse an output name that is not .jpg, .jpeg or .png (OptionError)."""
    if Path(out).suffix.lower() not in IMAGE_SUFFIXES:
        from videx.errors import OptionError
        raise OptionError(f"{str(out)!r}: give a file name ending in .jpg, .jpeg or .png",
                          "out")


def save_frame(cat, clip_id: int, at: str, out: str | Path) -> dict:
    """Write the frame of a clip at ``at`` (offset or instant) to ``out`` (JPEG or PNG)."""
    import cv2
    check_image_name(out)
    clip = cat.clips.require(clip_id)
    camera = cat.cameras.require(clip["camera_id"])
    at_ = parse_clip_time(at, clip, cat.input_zone_or_none(camera.get("tz")),
                          cat.input_zone_or_none())
    size = (clip["display_width"] or clip["width"], clip["display_height"] or clip["height"])
    image = frame_image(clip["path"], at_.offset_s, width=size[0] or TILE_WIDTH,
                        source_size=size)
    out = Path(out)
    if not cv2.imwrite(str(out), image):
        raise VidexError(f"cannot write {out} (use a .jpg or .png name in an existing folder)")
    return {"clip_id": clip_id, "offset_s": round(at_.offset_s, 3), "out": str(out),
            "reading": at_.reading, "width": image.shape[1], "height": image.shape[0],
            "time_local": format_local(clip["start_ts"] + at_.offset_s, cat.display_zone())}


@dataclass(frozen=True)
class Tile:
    """One contact-sheet tile: which clip, where in it, and its label."""

    camera_id: str
    clip_id: int
    offset_s: float
    label: str


def contact_sheet(result, zone, out: str | Path | None = None,
                  columns: int = 3) -> tuple[np.ndarray | None, list[Tile]]:
    """Frames at the incident moment (clock-corrected) from every clip of a canvass result
    that contains it, labelled with camera, local time (in ``zone``) and offset; written to
    ``out`` when given."""
    import cv2
    if out is not None:
        check_image_name(out)
    tiles, images = [], []
    for cam, clip in result.clips(containing_moment=True):
        if clip.offset_s is None:       # a whole-day incident has no moment to show
            continue
        label = (f"{cam.camera_id}  clip {clip.clip_id}  +{hms(clip.offset_s)}  "
                 f"{format_local(result.moment_ts, zone)}")
        image = frame_image(clip.path, clip.offset_s, width=TILE_WIDTH,
                            source_size=(clip.width, clip.height))
        images.append(_labelled(letterbox(image, TILE_WIDTH, TILE_HEIGHT), label))
        tiles.append(Tile(cam.camera_id, clip.clip_id, clip.offset_s, label))
    if not images:
        return None, tiles
    sheet = _grid(images, columns)
    if out is not None and not cv2.imwrite(str(out), sheet):
        raise VidexError(f"cannot write {out} (use a .jpg or .png name in an existing folder)")
    return sheet, tiles


def letterbox(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` scaled to fit ``width`` x ``height`` without distortion, centred on a dark
    background (a portrait phone frame gets bars left and right)."""
    import cv2
    import numpy as np
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    nw, nh = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    box = np.full((height, width, 3), 16, np.uint8)
    y, x = (height - nh) // 2, (width - nw) // 2
    box[y:y + nh, x:x + nw] = resized
    return box


def _labelled(image: np.ndarray, label: str) -> np.ndarray:
    import cv2
    import numpy as np
    bar = np.full((22, image.shape[1], 3), 24, np.uint8)
    cv2.putText(bar, label, (4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.36, (255, 255, 255), 1,
                cv2.LINE_AA)
    return np.vstack([image, bar])


def _grid(images: list[np.ndarray], columns: int) -> np.ndarray:
    import numpy as np
    h = max(i.shape[0] for i in images)
    w = max(i.shape[1] for i in images)
    rows = math.ceil(len(images) / columns)
    cols = min(columns, len(images))
    sheet = np.full((rows * (h + 6) + 6, cols * (w + 6) + 6, 3), 255, np.uint8)
    for n, img in enumerate(images):
        r, c = divmod(n, cols)
        y, x = 6 + r * (h + 6), 6 + c * (w + 6)
        sheet[y:y + img.shape[0], x:x + img.shape[1]] = img
    return sheet
