"""Bookmarks: times in clips marked for a case, append-only (``bookmarks``)."""

from __future__ import annotations

BOOKMARKS_SQL = "SELECT * FROM bookmarks WHERE incident_id = ? ORDER BY clip_id, offset_s, id"


class BookmarkStore:
    """Reads and appends ``bookmarks`` (row-hashed like reviews)."""

    def __init__(self, cat):
        self.cat = cat
        self.db = cat.db

    def add(self, row: dict) -> int:
        entry_id = self.db.insert_id(
            "INSERT INTO bookmarks (incident_id, clip_id, offset_s, note, created_at, "
            "created_by, acting_as) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [row["incident_id"], row["clip_id"], row["offset_s"], row["note"],
             row["created_at"], row["created_by"], row["acting_as"]])
        self.cat.touch("bookmarks", entry_id)
        return entry_id

    def for_incident(self, incident_id: str) -> list[dict]:
        """Every bookmark of a case, by clip and time in the clip."""
        return self.db.dicts(BOOKMARKS_SQL, [incident_id])

    def for_clip(self, clip_id: int, incident_id: str | None = None) -> list[dict]:
        """The bookmarks in one clip (of one case, when given), by time in the clip."""
        if incident_id is None:
            return self.db.dicts("SELECT * FROM bookmarks WHERE clip_id = ? ORDER BY "
                                 "offset_s, id", [clip_id])
        return self.db.dicts("SELECT * FROM bookmarks WHERE clip_id = ? AND incident_id = ? "
                             "ORDER BY offset_s, id", [clip_id, incident_id])
