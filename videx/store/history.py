"""Case history: canvass outcomes per camera and clip reviews, append-only.

Every entry is kept (who, when, status or finding, note); the current status of a camera or
clip for an incident is its latest entry.
"""

from __future__ import annotations

OUTCOMES_SQL = "SELECT * FROM outcomes WHERE incident_id = ? ORDER BY id"
REVIEWS_SQL = "SELECT * FROM reviews WHERE incident_id = ? ORDER BY id"


class HistoryStore:
    """Reads and appends ``outcomes`` and ``reviews``."""

    def __init__(self, cat):
        self.cat = cat
        self.db = cat.db

    def add_outcome(self, row: dict) -> int:
        entry_id = self.db.insert_id(
            "INSERT INTO outcomes (incident_id, camera_id, status, note, recorded_at, "
            "recorded_by, acting_as, request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [row["incident_id"], row["camera_id"], row["status"], row["note"],
             row["recorded_at"], row["recorded_by"], row["acting_as"], row.get("request_id")])
        self.cat.touch("outcomes", entry_id)
        return entry_id

    def add_review(self, row: dict) -> int:
        entry_id = self.db.insert_id(
            "INSERT INTO reviews (incident_id, clip_id, probative, note, reviewed_at, "
            "reviewed_by, acting_as) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [row["incident_id"], row["clip_id"], int(row["probative"]), row["note"],
             row["reviewed_at"], row["reviewed_by"], row["acting_as"]])
        self.cat.touch("reviews", entry_id)
        return entry_id

    def outcomes(self, incident_id: str) -> list[dict]:
        """Every outcome entry of an incident, oldest first."""
        return self.db.dicts(OUTCOMES_SQL, [incident_id])

    def reviews(self, incident_id: str) -> list[dict]:
        """Every review entry of an incident, oldest first."""
        return self.db.dicts(REVIEWS_SQL, [incident_id])

    def current_outcomes(self, incident_id: str) -> dict[str, dict]:
        """{camera id: its latest outcome entry} for an incident."""
        return {r["camera_id"]: r for r in self.db.dicts(
            "SELECT * FROM outcomes WHERE id IN (SELECT max(id) FROM outcomes WHERE "
            "incident_id = ? GROUP BY camera_id)", [incident_id])}

    def current_reviews(self, incident_id: str) -> dict[int, dict]:
        """{clip id: its latest review entry} for an incident."""
        return {r["clip_id"]: r for r in self.db.dicts(
            "SELECT * FROM reviews WHERE id IN (SELECT max(id) FROM reviews WHERE "
            "incident_id = ? GROUP BY clip_id)", [incident_id])}

    def current_outcome_statuses(self) -> dict[str, dict[str, str]]:
        """{incident id: {camera id: latest status}} for every incident."""
        out: dict[str, dict[str, str]] = {}
        for inc, cam, status in self.db.rows(
                "SELECT incident_id, camera_id, status FROM outcomes WHERE id IN (SELECT max(id) "
                "FROM outcomes GROUP BY incident_id, camera_id)"):
            out.setdefault(inc, {})[cam] = status
        return out

    def first_probative(self) -> dict[str, str]:
        """{incident id: when a clip was first found probative} (by current reviews)."""
        return {r[0]: r[1] for r in self.db.rows(
            "SELECT incident_id, min(reviewed_at) FROM reviews WHERE id IN (SELECT max(id) "
            "FROM reviews GROUP BY incident_id, clip_id) AND probative = 1 "
            "GROUP BY incident_id")}

    def first_obtained(self) -> dict[str, str]:
        """{incident id: when footage was first recorded as obtained} (``obtained``, or
        ``uploaded`` through a request's link: the same fact)."""
        return {r[0]: r[1] for r in self.db.rows(
            "SELECT incident_id, min(recorded_at) FROM outcomes WHERE status IN ('obtained', "
            "'uploaded') GROUP BY incident_id")}
