"""Clip rows, the canvass's interval query, and the files ingest refused."""

from __future__ import annotations

from videx.errors import NotFound

# The canvass question for one camera, bounded on both sides so the (camera_id, start_ts)
# index answers it: clips starting before the window ends, and no earlier than the window start
# minus the camera's longest clip, that end after the window starts.
WINDOW_QUERY = """
    SELECT id, path, sha256, start_ts, end_ts, duration_s, clock_offset_s, time_source,
           time_confidence, codec, display_width, display_height, fps
    FROM clips
    WHERE camera_id = ? AND start_ts < ? AND start_ts >= ? AND end_ts > ?
    ORDER BY start_ts"""

CLIP_INSERT_COLUMNS = (
    "camera_id", "path", "sha256", "size_bytes", "container", "codec", "width", "height", "fps",
    "duration_s", "start_raw", "start_raw_ts", "clock_offset_s", "start", "start_ts", "end",
    "end_ts", "time_source", "time_detail", "time_confidence", "ingested_at", "rotation",
    "display_width", "display_height", "vfr", "frames", "keyframe_interval_s")


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
