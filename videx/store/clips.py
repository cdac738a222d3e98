"""Clip rows, the canvass's interval query, and the files ingest refused."""

from __future__ import annotations

import functools

from videx import geo
from videx.errors import NotFound
from videx.store.cameras import CanvassCamera

# The canvass question for one camera, bounded on both sides so the (camera_id, start_ts)
# index answers it: clips starting before the window ends, and no earlier than the window start
# minus the camera's longest clip, that end after the window starts.
WINDOW_QUERY = """
    SELECT id, path, sha256, start_ts, end_ts, duration_s, clock_offset_s, time_source,
           time_confidence, codec, display_width, display_height, fps
    FROM clips
    WHERE camera_id = ? AND start_ts < ? AND start_ts >= ? AND end_ts > ?
    ORDER BY start_ts"""

# A whole canvass in one statement (consistent without a transaction): the cameras in a
# bounding box (the (lat, lon) index) and within a flat-earth circle a little wider than the
# radius (arithmetic only: no trigonometry in SQL), each with its clips overlapping the window
# (the same bounded index range as WINDOW_QUERY, per camera), whether each clip was scanned,
# and the camera's latest outcome for the incident. One row per clip, or one row with NULL
# clip columns for a camera without; in no particular order (``canvass_rows`` groups them:
# no sort in SQL).
CANVASS_QUERY = """
    SELECT {camera_columns},
           (SELECT o.status FROM outcomes o WHERE o.incident_id = ? AND o.camera_id = c.id
            ORDER BY o.id DESC LIMIT 1) AS outcome,
           k.id, k.path, k.sha256, k.start_ts, k.end_ts, k.duration_s, k.clock_offset_s,
           k.time_source, k.time_confidence, k.codec, k.display_width, k.display_height, k.fps,
           sc.peak, sc.mode
    FROM cameras c
    LEFT JOIN clips k ON k.camera_id = c.id AND k.start_ts < ? AND k.start_ts >= ? - c.max_clip_s
                     AND k.end_ts > ?
    LEFT JOIN scans sc ON sc.clip_id = k.id
    WHERE c.lat BETWEEN ? AND ? AND c.lon BETWEEN ? AND ?
      AND ((c.lat - ?) * ?) * ((c.lat - ?) * ?) + ((c.lon - ?) * ?) * ((c.lon - ?) * ?) <= ?"""

CLIP_INSERT_COLUMNS = (
    "camera_id", "path", "sha256", "size_bytes", "container", "codec", "width", "height", "fps",
    "duration_s", "start_raw", "start_raw_ts", "clock_offset_s", "start", "start_ts", "end",
    "end_ts", "time_source", "time_detail", "time_confidence", "ingested_at", "rotation",
    "display_width", "display_height", "vfr", "frames", "keyframe_interval_s", "probed_with",
    "streams")


@functools.lru_cache(maxsize=1)
def _canvass_sql() -> tuple[int, str]:
    """(how many leading columns are the camera's: ``CanvassCamera``'s fields, the
    statement)."""
    names = CanvassCamera._fields[:-1]
    return (len(names) + 1,
            CANVASS_QUERY.format(camera_columns=", ".join(f"c.{n}" for n in names)))


class ClipStore:
    """Reads and writes ``clips`` and ``rejects``."""

    def __init__(self, cat):
        self.cat = cat
        self.db = cat.db

    # ------------------------------------------------------------ reads
    def window(self, camera_id: str, t0: float, t1: float, max_clip_s: float) -> list[tuple]:
        """Clips of one camera overlapping [t0, t1) (POSIX seconds, UTC), in start order, as
        tuples in ``WINDOW_QUERY``'s column order."""
        return self.db.rows(WINDOW_QUERY, [camera_id, t1, t0 - (max_clip_s or 0.0), t0])

    def canvass_rows(self, incident_id: str | None, lat: float, lon: float, radius_m: float,
                     t0: float, t1: float) -> list[tuple[CanvassCamera, list]]:
        """The cameras near (``lat``, ``lon``) with their latest outcome for the incident
        and their clips overlapping [t0, t1) as (``WINDOW_QUERY`` tuple, scan peak, scan
        mode) in start order, in one statement; cameras in no particular order
        (the canvass orders its result). "Near": within a flat-earth circle a little wider
        than ``radius_m`` metres, so every camera within the radius is there and the caller's
        great-circle check decides (``geo.flat_reach_m``)."""
        width, sql = _canvass_sql()
        ky, kx = geo.flat_scale(lat)          # metres per degree: the box is geo.bbox's
        dlat, dlon = radius_m / ky, radius_m / kx
        reach = geo.flat_reach_m(radius_m)
        out: list[tuple[CanvassCamera, list]] = []
        by_camera: dict[str, tuple[CanvassCamera, list]] = {}
        new = tuple.__new__       # CanvassCamera._make without its length check (the slice
        several = False           # is the statement's camera columns: always the right length)
        for row in self.db.rows(sql, [incident_id, t1, t0, t0, lat - dlat, lat + dlat,
                                      lon - dlon, lon + dlon, lat, ky, lat, ky, lon, kx, lon,
                                      kx, reach * reach]):
            if row[width] is None:    # no clip in the window: the camera's only row
                out.append((new(CanvassCamera, row[:width]), []))
                continue
            entry = by_camera.get(row[0])
            if entry is None:
                entry = by_camera[row[0]] = (new(CanvassCamera, row[:width]), [])
            else:
                several = True
            entry[1].append((row[width:width + 13], row[width + 13], row[width + 14]))
        if by_camera:
            out += by_camera.values()
            if several:
                for _, clips in by_camera.values():
                    clips.sort(key=lambda c: c[0][3])                    # by start_ts
        return out

    def get(self, clip_id: int) -> dict | None:
        return self.db.one("SELECT * FROM clips WHERE id = ?", [clip_id])

    def require(self, clip_id: int) -> dict:
        """One clip as a dict, or NotFound."""
        row = self.get(clip_id)
        if row is None:
            raise NotFound(f"no clip {clip_id} in the catalog (see videx clips list)")
        return row

    def many(self, clip_ids: list[int]) -> list[dict]:
        """The clips with these ids, in id order (unknown ids are left out)."""
        out: list[dict] = []
        for i in range(0, len(clip_ids), 500):
            part = list(clip_ids[i:i + 500])
            out += self.db.dicts(f"SELECT * FROM clips WHERE id IN ({','.join('?' * len(part))})",
                                 part)
        return sorted(out, key=lambda r: r["id"])

    def by_camera(self, camera_id: str) -> list[dict]:
        return self.db.dicts("SELECT * FROM clips WHERE camera_id = ? ORDER BY id", [camera_id])

    def list(self, camera_id: str | None = None, start_ts: float | None = None,
             end_ts: float | None = None) -> list[dict]:
        """Clips (optionally of one camera) overlapping [start_ts, end_ts), in start order."""
        sql, params = "SELECT * FROM clips WHERE 1 = 1", []
        if camera_id:
            sql += " AND camera_id = ?"
            params.append(camera_id)
        if start_ts is not None:
            sql += " AND end_ts > ?"
            params.append(start_ts)
        if end_ts is not None:
            sql += " AND start_ts < ?"
            params.append(end_ts)
        return self.db.dicts(sql + " ORDER BY start_ts, id", params)

    def known(self, path: str) -> tuple[int, str] | None:
        """(clip id, sha256) of the clip catalogued from ``path``, or None."""
        row = self.db.execute("SELECT id, sha256 FROM clips WHERE path = ?", [path]).fetchone()
        return (row[0], row[1]) if row else None

    def with_hash(self, sha256: str) -> int | None:
        return self.db.scalar("SELECT id FROM clips WHERE sha256 = ? LIMIT 1", [sha256])

    def count(self) -> int:
        return int(self.db.scalar("SELECT count(*) FROM clips"))

    def hashes(self) -> list[tuple[int, str, str]]:
        """(id, path, sha256) of every clip, by id."""
        return [tuple(r) for r in self.db.rows("SELECT id, path, sha256 FROM clips ORDER BY id")]

    def first_ingested(self, clip_ids: list[int]) -> str | None:
        marks = ",".join("?" * len(clip_ids))
        return self.db.scalar(f"SELECT min(ingested_at) FROM clips WHERE id IN ({marks})",
                              list(clip_ids))

    # ------------------------------------------------------------ writes
    def insert(self, record: dict) -> int:
        """Catalogue one clip (inside the open write transaction); returns its id."""
        cols = ", ".join(f'"{c}"' if c == "end" else c for c in CLIP_INSERT_COLUMNS)
        clip_id = self.db.insert_id(
            f"INSERT INTO clips ({cols}) VALUES ({', '.join('?' * len(CLIP_INSERT_COLUMNS))})",
            [record[c] for c in CLIP_INSERT_COLUMNS])
        self.cat.touch("clips", clip_id)
        self.cat.cameras.extend_max_clip(record["camera_id"], record["duration_s"])
        self.clear_reject(record["path"])
        return clip_id

    def reject(self, path: str, reason: str, at: str) -> None:
        """Record a refused file (the latest reason wins)."""
        self.cat.require_tx()
        self.db.execute("INSERT INTO rejects (path, reason, rejected_at) VALUES (?, ?, ?) "
                        "ON CONFLICT (path) DO UPDATE SET reason = excluded.reason, "
                        "rejected_at = excluded.rejected_at", [path, reason, at])

    def clear_reject(self, path: str) -> None:
        self.db.execute("DELETE FROM rejects WHERE path = ?", [path])

    def rejects(self) -> list[dict]:
        """Files refused by ingest, newest first, with the reason."""
        return self.db.dicts("SELECT path, reason, rejected_at FROM rejects "
                             "ORDER BY rejected_at DESC, path")
