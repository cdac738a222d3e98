"""Browser previews of clips browsers cannot play (H.265, MJPEG, ...): an H.264 MP4 made once
per original with ffmpeg, labelled a preview wherever it is shown (evidence packages carry the
original).

``PreviewCache(folder).get(path, sha256)`` checks the original against its catalogued SHA-256
first, then makes or reuses ``preview-SHA256.mp4``; one ffmpeg per original at a time, at most
two at once per process, written under a temporary name and renamed (other processes see all
of it or none).
"""

from __future__ import annotations

import secrets
import stat
import threading
from pathlib import Path

from videx.errors import VidexError

PLAYABLE = {("h264", "mov,mp4,m4a,3gp,3g2,mj2")}   # (codec, container) browsers play as is
TIMEOUT_S = 600


def playable(row: dict) -> bool:
    """Whether a browser plays the catalogued clip as it is (H.264 in MP4/MOV)."""
    return (row.get("codec"), row.get("container")) in PLAYABLE


def original_file(row: dict) -> Path | None:
    """The catalogued file, when it is still a regular file of the catalogued size (not a
    symlink put in its place); None otherwise."""
    path = Path(row["path"])
    try:
        info = path.lstat()
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_size != row["size_bytes"]:
        return None
    return path


class PreviewCache:
    """H.264 previews in ``folder``, made on first request."""

    def __init__(self, folder: str | Path, slots: int = 2):
        self.folder = Path(folder)
        self.locks: dict[str, threading.Lock] = {}
        self.guard = threading.Lock()
        self.slots = threading.BoundedSemaphore(slots)

    def get(self, path: Path, sha256: str) -> Path:
        """The preview of the original at ``path`` (which must still hash to ``sha256``)."""
        out = self.folder / f"preview-{sha256}.mp4"
        with self.guard:
            lock = self.locks.setdefault(sha256, threading.Lock())
        with lock, self.slots:
            if out.exists():
                return out
            from videx.hashing import sha256_file
            if sha256_file(path) != sha256:
                raise VidexError("the clip's file no longer matches its catalogued SHA-256: "
                                 "run videx verify --catalog")
            tmp = self.folder / f".preview-{sha256}-{secrets.token_hex(4)}.mp4"
            try:
                _transcode(path, tmp)
                tmp.replace(out)
            finally:
                tmp.unlink(missing_ok=True)
        return out


def _transcode(src: Path, out: Path) -> None:
    """H.264/yuv420p MP4 of the first video stream, even dimensions, fast start."""
    import subprocess
    try:
        done = subprocess.run(
            ["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(src), "-map", "0:v:0",
             "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
             "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", "-movflags", "+faststart", str(out)],
            capture_output=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise VidexError(f"the preview took too long to make (over {TIMEOUT_S // 60} min)") \
            from None
    if done.returncode != 0:
        raise VidexError("the preview could not be made: "
                         + done.stderr.decode(errors="replace").strip()[-200:])
