"""The few MP4/MOV (ISO base media) boxes videx reads itself: each track's display matrix,
sample count, composition offsets and edit count, from the movie box (``moov``).

FFmpeg reads the same boxes when it opens a file, but PyAV does not hand them all back: the
rotation is only on a decoded frame (decoding one costs more than everything else a probe
does), and the packet list's presentation times only come from demuxing every packet in
Python. With these boxes ``videx.probe_av`` takes the rotation from the matrix as FFmpeg does
and the frame times from the index FFmpeg already built (decode times) plus the composition
offsets, and falls back to decoding and demuxing whenever the boxes do not say enough.

Only box headers and the movie box are read; ``mdat`` is skipped by seeking.
"""

from __future__ import annotations

import math
import struct
from typing import NamedTuple

CONTAINER_BOXES = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts"}
MOOV_LIMIT = 64 << 20        # bytes: a movie box larger than this is not read here
IDENTITY = (0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


class Track(NamedTuple):
    """One ``trak``: its id, handler (``vide``, ``soun``...), the tkhd matrix (9 integers:
    16.16 fixed point, the third column 2.30), the movie matrix in force when FFmpeg read it
    (the mvhd before it), the sample count (``stsz``), the ``ctts`` box's entries as raw bytes
    (None when absent; ``composition_runs`` reads them) and the number of edit-list entries."""
    track_id: int
    handler: str | None
    matrix: tuple[int, ...]
    movie_matrix: tuple[int, ...]
    samples: int | None
    ctts: bytes | None
    edits: int

    def composition_runs(self) -> list[tuple[int, int]] | None:
        """(sample count, offset in the track's time base) runs of the ``ctts`` box, or None
        when it has none; unpacked only when asked (a crafted box may hold millions)."""
        if self.ctts is None:
            return None
        return list(struct.iter_unpack(">Ii", self.ctts))


class Movie(NamedTuple):
    """The movie box: the mvhd matrix, the tracks, and whether the file is fragmented (its
    samples are described in ``moof`` boxes this reader does not read)."""
    matrix: tuple[int, ...]
    tracks: list[Track]
    fragmented: bool

    def track(self, index: int, track_id: int) -> Track | None:
        """The ``index``-th trak (FFmpeg makes one stream per trak, in order) when its id is
        ``track_id``, else None."""
        if 0 <= index < len(self.tracks) and self.tracks[index].track_id == track_id:
            return self.tracks[index]
        return None

    @staticmethod
    def rotation(track: Track) -> int | None:
        """Degrees (0-359) the picture is turned for display, as ffprobe reports it
        (``av_display_rotation_get`` of the track matrix times the movie matrix, truncated to
        whole degrees), or None when the matrix has no rotation FFmpeg could state."""
        matrix = display_matrix(track.matrix, track.movie_matrix)
        if matrix == IDENTITY:
            return 0
        a, b = matrix[0] / 65536.0, matrix[1] / 65536.0
        c, d = matrix[3] / 65536.0, matrix[4] / 65536.0
        scale_x, scale_y = math.hypot(a, c), math.hypot(b, d)
        if scale_x == 0.0 or scale_y == 0.0:
            return None
        degrees = -math.degrees(math.atan2(b / scale_y, a / scale_x))
        return int(degrees) % 360


def display_matrix(track: tuple[int, ...], movie: tuple[int, ...]) -> tuple[int, ...]:
    """The track matrix applied after the movie matrix, in fixed point, exactly as FFmpeg's
    mov demuxer computes it (``mov_read_tkhd``)."""
    shifts = (16, 16, 30)
    out = []
    for i in range(3):
        for j in range(3):
            out.append(sum((track[i * 3 + e] * movie[e * 3 + j]) >> shifts[e]
                           for e in range(3)))
    return tuple(out)


def read_movie(fh, size: int) -> Movie | None:
    """The movie box of an MP4/MOV open in ``fh`` (seekable, ``size`` bytes), or None when
    there is none this reader can use (no moov, a damaged box, a moov over MOOV_LIMIT)."""
    pos, moov, fragmented = 0, None, False
    while pos + 8 <= size:
        fh.seek(pos)
        header = fh.read(16)
        if len(header) < 8:
            return None
        box_size, kind = struct.unpack(">I4s", header[:8])
        skip = 8
        if box_size == 1:
            if len(header) < 16:
                return None
            box_size, skip = struct.unpack(">Q", header[8:16])[0], 16
        elif box_size == 0:
            box_size = size - pos
        if box_size < skip or pos + box_size > size:
            return None
        if kind == b"moov" and moov is None:
            if box_size > MOOV_LIMIT:
                return None
            fh.seek(pos + skip)
            moov = fh.read(box_size - skip)
        elif kind == b"moof":
            fragmented = True
            break                        # a fragmented file: its moov came first
        pos += box_size
    if moov is None:
        return None
    try:
        return _movie(moov, fragmented)
    except (struct.error, ValueError, IndexError):
        return None


MAX_DEPTH = 10                   # FFmpeg's mov reader stops nesting there too
ONCE_PER_TRACK = {b"tkhd", b"stsz", b"ctts", b"elst", b"mdhd"}


def _children(data: bytes, start: int, end: int):
    """(type, payload start, payload end) of the boxes in ``data[start:end]``."""
    pos = start
    while pos + 8 <= end:
        box_size, kind = struct.unpack_from(">I4s", data, pos)
        skip = 8
        if box_size == 1:
            box_size, skip = struct.unpack_from(">Q", data, pos + 8)[0], 16
        elif box_size == 0:
            box_size = end - pos
        if box_size < skip or pos + box_size > end:
            raise ValueError(f"box {kind!r} runs past its parent")
        yield kind, pos + skip, pos + box_size
        pos += box_size


def _movie(moov: bytes, fragmented: bool) -> Movie:
    matrix, tracks = IDENTITY, []
    for kind, start, end in _children(moov, 0, len(moov)):
        if kind == b"mvhd":
            version = moov[start]
            at = start + 4 + (28 if version == 1 else 16) + 4 + 2 + 10   # rate, volume, gap
            matrix = struct.unpack_from(">9i", moov, at)
        elif kind == b"trak":
            tracks.append(_track(moov, start, end, matrix))
        elif kind == b"mvex":
            fragmented = True
    return Movie(matrix, tracks, fragmented)


def _track(data: bytes, start: int, end: int, movie_matrix: tuple[int, ...]) -> Track:
    found = {"track_id": None, "handler": None, "matrix": IDENTITY,
             "movie_matrix": movie_matrix, "samples": None, "ctts": None, "edits": 0}
    _collect(data, start, end, found, set(), 1)
    if found["track_id"] is None:
        raise ValueError("trak without tkhd")
    return Track(**found)


def _collect(data: bytes, start: int, end: int, found: dict, seen: set, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError("boxes nested too deep")
    for kind, s, e in _children(data, start, end):
        if kind in ONCE_PER_TRACK:
            if kind in seen:                 # which one FFmpeg believes is not ours to guess
                raise ValueError(f"two {kind!r} boxes in one track")
            seen.add(kind)
        if kind in CONTAINER_BOXES:
            _collect(data, s, e, found, seen, depth + 1)
        elif kind == b"tkhd":
            version = data[s]
            at = s + 4 + (16 if version == 1 else 8)          # after the two times
            found["track_id"] = struct.unpack_from(">I", data, at)[0]
            at = s + 4 + (32 if version == 1 else 20) + 8 + 2 + 2 + 2 + 2
            found["matrix"] = struct.unpack_from(">9i", data, at)
        elif kind == b"hdlr" and found["handler"] is None:   # mdia's, not minf's ('alis')
            found["handler"] = data[s + 8:s + 12].decode("latin-1")
        elif kind == b"stsz":
            found["samples"] = struct.unpack_from(">I", data, s + 8)[0]   # after sample_size
        elif kind == b"ctts":
            (count,) = struct.unpack_from(">I", data, s + 4)
            if s + 8 + 8 * count > e:
                raise ValueError("ctts runs past its box")
            found["ctts"] = data[s + 8:s + 8 + 8 * count]
        elif kind == b"elst":
            (found["edits"],) = struct.unpack_from(">I", data, s + 4)
