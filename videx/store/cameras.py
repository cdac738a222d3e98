"""The camera registry's rows."""

from __future__ import annotations

from typing import NamedTuple

from videx import geo
from videx.errors import NotFound
from videx.store.records import upsert
from videx.timeutil import iso_utc


class CanvassCamera(NamedTuple):
    """What a canvass reads of a camera (no owner notes, no timestamps of the row itself;
    each column read costs, ~0.5 us a canvass), and the camera's latest outcome for the
    incident canvassed (None when not asked). Degrees, metres, days; UTC ISO text."""

    id: str
    name: str | None
    source: str
    integration: str
    kind: str | None
    lat: float
    lon: float
    heading_deg: float | None
    fov_deg: float | None
    range_m: float | None
    address: str | None
    owner_name: str | None
    owner_contact: str | None
    retention_days: float | None
    active_from: str | None
    active_to: str | None
    max_clip_s: float          # the camera's longest clip, seconds: bounds its clip query
    outcome: str | None = None


CANVASS_COLUMNS = ", ".join(CanvassCamera._fields[:-1])


class CameraStore:
    """Reads and writes ``cameras``."""

    def __init__(self, cat):
        self.cat = cat
        self.db = cat.db

    def get(self, camera_id: str) -> dict | None:
        return self.db.one("SELECT * FROM cameras WHERE id = ?", [camera_id])

    def require(self, camera_id: str) -> dict:
        """One camera as a dict, or NotFound."""
        row = self.get(camera_id)
        if row is None:
            raise NotFound(f"no camera {camera_id!r} in the catalog (see videx cameras list)")
        return row

    def near(self, lat: float, lon: float, radius_m: float, source: str | None = None,
             columns: str = "*") -> list[dict]:
        """Cameras within ``radius_m`` metres of a point, nearest first, with ``distance_m``.

        The (lat, lon) index narrows to a bounding box; exact great-circle distance decides."""
        s, w, n, e = geo.bbox(lat, lon, radius_m)
        sql = f"SELECT {columns} FROM cameras WHERE lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?"
        params: list = [s, n, w, e]
        if source:
            sql += " AND source = ?"
            params.append(source)
        out = []
        for cam in self.db.dicts(sql, params):
            d = geo.haversine_m(lat, lon, cam["lat"], cam["lon"])
            if d <= radius_m:
                cam["distance_m"] = round(d, 1)
                out.append(cam)
        out.sort(key=lambda c: (c["distance_m"], c["id"]))
        return out

    def all_for_canvass(self) -> list[CanvassCamera]:
        """Every camera with the columns a canvass needs, by id."""
        return [CanvassCamera._make(row + (None,)) for row in
                self.db.rows(f"SELECT {CANVASS_COLUMNS} FROM cameras ORDER BY id")]

    def all(self, source: str | None = None, integration: str | None = None) -> list[dict]:
        """Every camera (optionally of one source / integration), by id."""
        sql, params = "SELECT * FROM cameras WHERE 1 = 1", []
        if source:
            sql += " AND source = ?"
            params.append(source)
        if integration:
            sql += " AND integration = ?"
            params.append(integration)
        return self.db.dicts(sql + " ORDER BY id", params)

    def clip_count(self, camera_id: str) -> int:
        return int(self.db.scalar("SELECT count(*) FROM clips WHERE camera_id = ?",
                                  [camera_id]))

    def upsert(self, record: dict, now: str) -> tuple[str, dict | None]:
        return upsert(self.cat, "cameras", record, now)

    def raw_span(self, camera_id: str) -> tuple[float, float] | None:
        """(earliest clip start, latest clip end) of a camera as its clock showed them
        (POSIX s), or None without clips."""
        lo, hi = self.db.rows("SELECT min(start_raw_ts), max(start_raw_ts + duration_s) FROM "
                              "clips WHERE camera_id = ?", [camera_id])[0]
        return None if lo is None else (lo, hi)

    def recorrect_clips(self, camera_id: str, offset_s: float) -> int:
        """Apply a new clock offset (camera clock minus true time, seconds) to a camera's
        clips; times are formatted by ``iso_utc`` like every other stored instant."""
        rows = self.db.rows("SELECT id, start_raw_ts, duration_s FROM clips WHERE camera_id = ?",
                            [camera_id])
        self.db.executemany(
            'UPDATE clips SET clock_offset_s = ?, start_ts = ?, start = ?, end_ts = ?, '
            '"end" = ? WHERE id = ?',
            [(offset_s, raw - offset_s, iso_utc(raw - offset_s), raw - offset_s + dur,
              iso_utc(raw - offset_s + dur), clip_id) for clip_id, raw, dur in rows])
        for clip_id, _, _ in rows:
            self.cat.touch("clips", clip_id)
        return len(rows)

    def extend_max_clip(self, camera_id: str, duration_s: float) -> None:
        """Keep ``max_clip_s`` (the longest clip, which bounds the canvass query) current."""
        cur = self.db.execute("UPDATE cameras SET max_clip_s = ? WHERE id = ? AND "
                              "max_clip_s < ?", [duration_s, camera_id, duration_s])
        if cur.rowcount:
            self.cat.touch("cameras", camera_id)
