"""Incident rows."""

from __future__ import annotations

from videx.errors import NotFound
from videx.store.records import upsert


class IncidentStore:
    """Reads and writes ``incidents``."""

    def __init__(self, cat):
        self.cat = cat
        self.db = cat.db

    def get(self, incident_id: str) -> dict | None:
        return self.db.one("SELECT * FROM incidents WHERE id = ?", [incident_id])

    def require(self, incident_id: str) -> dict:
        """One incident as a dict, or NotFound."""
        row = self.get(incident_id)
        if row is None:
            raise NotFound(f"no incident {incident_id!r} in the catalog (see videx incidents "
                           "list)")
        return row

    def list(self, start_ts: float | None = None, end_ts: float | None = None,
             category: str | None = None, neighborhood: str | None = None) -> list[dict]:
        """Incidents in time order, optionally within [start_ts, end_ts) (POSIX s, UTC), of a
        category and of a neighborhood (ignoring case)."""
        sql, params = _where(start_ts, end_ts, neighborhood)
        if category:
            sql += " AND category = ?"
            params.append(category)
        return self.db.dicts(sql + " ORDER BY occurred_ts, id", params)

    def search(self, text: str | None = None, start_ts: float | None = None,
               end_ts: float | None = None, neighborhood: str | None = None,
               limit: int = 200) -> list[dict]:
        """Incidents whose case number, address or neighborhood contains ``text`` (ignoring
        case), within [start_ts, end_ts) (POSIX s, UTC) and whose neighborhood contains
        ``neighborhood`` (ignoring case), newest first, at most ``limit``."""
        sql, params = _where(start_ts, end_ts, None)
        if text:
            sql += (" AND (lower(id) LIKE ? ESCAPE '\\' OR lower(coalesce(address, '')) LIKE ? "
                    "ESCAPE '\\' OR lower(coalesce(neighborhood, '')) LIKE ? ESCAPE '\\')")
            params += [_contains(text)] * 3
        if neighborhood:
            sql += " AND lower(coalesce(neighborhood, '')) LIKE ? ESCAPE '\\'"
            params.append(_contains(neighborhood))
        return self.db.dicts(sql + " ORDER BY occurred_ts DESC, id LIMIT ?", params + [limit])

    def places(self, text: str, limit: int = 20) -> list[dict]:
        """Catalogued places (incident and camera addresses) containing ``text``, ignoring
        case: (address, lat, lon, what) for the "cameras near a place" search."""
        like = _contains(text)
        return self.db.dicts(
            "SELECT address, lat, lon, what FROM (SELECT address, lat, lon, 'incident' AS what "
            "FROM incidents WHERE lower(address) LIKE ? ESCAPE '\\' UNION SELECT address, lat, "
            "lon, 'camera' AS what FROM cameras WHERE lower(address) LIKE ? ESCAPE '\\') p "
            "ORDER BY address, what LIMIT ?", [like, like, limit])

    def upsert(self, record: dict, now: str) -> tuple[str, dict | None]:
        return upsert(self.cat, "incidents", record, now)


def _where(start_ts: float | None, end_ts: float | None,
           neighborhood: str | None) -> tuple[str, list]:
    """The incidents query with the time-span and neighborhood filters given."""
    sql, params = "SELECT * FROM incidents WHERE 1 = 1", []
    if start_ts is not None:
        sql += " AND occurred_ts >= ?"
        params.append(start_ts)
    if end_ts is not None:
        sql += " AND occurred_ts < ?"
        params.append(end_ts)
    if neighborhood:
        sql += " AND lower(neighborhood) = lower(?)"
        params.append(neighborhood)
    return sql, params


def _contains(text: str) -> str:
    """A LIKE pattern for "contains ``text``" (ignoring case; % and _ taken literally)."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
