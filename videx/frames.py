"""Single frames and the per-incident contact sheet.

Frames are taken with input seeking (``-ss`` before ``-i``: ffmpeg jumps to the nearest
keyframe and decodes only from there) and always with a timeout.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import ffmpeg
import numpy as np

from videx.errors import ProbeError, TimestampError, VidexError
from videx.probe import probe, require_tools, run_tool
from videx.timeutil import format_local, hms, parse_instant

FFMPEG_TIMEOUT_S = 60.0
TILE_WIDTH = 320


def parse_clip_time(text: str, clip: dict, tz: str | None = None) -> float:
    """Seconds into a clip from ``12.5``, ``0:00:04``, ``4s`` or an instant (ISO, true time)."""
    raw = str(text).strip()
    if re.fullmatch(r"\d+(\.\d+)?s?", raw):
        offset = float(raw.rstrip("s"))
    elif re.fullmatch(r"\d+:\d{1,2}(:\d{1,2}(\.\d+)?)?", raw):
        parts = [float(p) for p in raw.split(":")]
        offset = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    else:
        offset = parse_instant(raw, tz).timestamp() - clip["start_ts"]
    if not 0 <= offset < clip["duration_s"]:
        raise TimestampError(f"{raw!r} is {offset:.1f} s into clip {clip['id']}, which lasts "
                             f"{clip['duration_s']:.1f} s")
    return offset


def frame_image(path: str, offset_s: float, width: int = TILE_WIDTH,
                source_size: tuple[int, int] | None = None) -> np.ndarray:
    """The frame ``offset_s`` seconds into a video, as a BGR array ``width`` pixels wide.

    ``source_size`` (width, height as the catalog stores them) saves probing the file."""
    require_tools("ffmpeg")
    if source_size and all(source_size):
        w, h = source_size
    else:
        info = probe(path)
        w, h = info.width, info.height
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


def save_frame(cat, clip_id: int, at: str, out: str | Path) -> dict:
    """Write the frame of a clip at ``at`` (offset or instant) to ``out`` (JPEG or PNG)."""
    clip = cat.clips.require(clip_id)
    offset = parse_clip_time(at, clip, cat.input_zone_or_none())
    image = frame_image(clip["path"], offset, width=clip["width"] or TILE_WIDTH,
                        source_size=(clip["width"], clip["height"]))
    out = Path(out)
    if not cv2.imwrite(str(out), image):
        raise VidexError(f"cannot write {out} (use a .jpg or .png name in an existing folder)")
    return {"clip_id": clip_id, "offset_s": round(offset, 3), "out": str(out),
            "time_local": format_local(clip["start_ts"] + offset, cat.display_zone())}


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
    tiles, images = [], []
    for cam, clip in result.clips(containing_moment=True):
        if clip.offset_s is None:       # a whole-day incident has no moment to show
            continue
        label = (f"{cam.camera_id}  clip {clip.clip_id}  +{hms(clip.offset_s)}  "
                 f"{format_local(result.moment_ts, zone)}")
        images.append(_labelled(frame_image(clip.path, clip.offset_s,
                                            source_size=(clip.width, clip.height)), label))
        tiles.append(Tile(cam.camera_id, clip.clip_id, clip.offset_s, label))
    if not images:
        return None, tiles
    sheet = _grid(images, columns)
    if out is not None and not cv2.imwrite(str(out), sheet):
        raise VidexError(f"cannot write {out} (use a .jpg or .png name in an existing folder)")
    return sheet, tiles


def _labelled(image: np.ndarray, label: str) -> np.ndarray:
    bar = np.full((22, image.shape[1], 3), 24, np.uint8)
    cv2.putText(bar, label, (4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.36, (255, 255, 255), 1,
                cv2.LINE_AA)
    return np.vstack([image, bar])


def _grid(images: list[np.ndarray], columns: int) -> np.ndarray:
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
