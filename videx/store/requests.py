"""Requests to camera owners and the files their upload links received (SQL only; the
workflow is ``videx.requests`` and ``videx.intake``).

A request's status is not a column: it is its latest entry in ``outcomes`` (``request_id``),
so the canvass, which shows each camera's latest outcome, shows it too. Rows of ``requests``
and ``request_files`` are written once and never updated.
"""

from __future__ import annotations

REQUEST_COLUMNS = (
    "code", "incident_id", "camera_id", "camera_name", "camera_address", "owner_name",
    "owner_contact", "owner_email", "window_start", "window_start_ts", "window_end",
    "window_end_ts", "clock_offset_s", "camera_tz", "display_tz", "deadline", "deadline_ts",
    "expires_at", "expires_ts", "token_sha256", "token_nonce", "link_key_id", "detective",
    "detective_contact", "created_at", "created_by", "acting_as")
FILE_COLUMNS = (
    "request_id", "received_at", "received_ts", "result", "clip_id", "sha256", "size_bytes",
    "file_name", "stated_name", "client_addr", "user_agent", "start_typed", "channel", "reason")

# every request with its latest status entry (status, when, note): one statement
_WITH_STATUS = """
    SELECT r.*, o.status AS status, o.recorded_at AS status_at, o.note AS status_note
    FROM requests r
    LEFT JOIN outcomes o ON o.id = (SELECT max(id) FROM outcomes WHERE request_id = r.id)"""


REQUESTS_OF_INCIDENT_SQL = _WITH_STATUS + " WHERE r.incident_id = ? ORDER BY r.id"


class RequestStore:
    """Reads and writes ``requests`` and ``request_files``."""

    def __init__(self, cat):
        self.cat = cat
        self.db = cat.db

    # ------------------------------------------------------------ writes
    def insert(self, row: dict) -> int:
        """A new request (inside the open write transaction); returns its id."""
        request_id = self.db.insert_id(
            f"INSERT INTO requests ({', '.join(REQUEST_COLUMNS)}) VALUES "
            f"({', '.join('?' * len(REQUEST_COLUMNS))})", [row[c] for c in REQUEST_COLUMNS])
        self.cat.touch("requests", request_id)
        return request_id

    def add_file(self, row: dict) -> int:
        """Record a file a request received (catalogued, duplicate or refused)."""
        file_id = self.db.insert_id(
            f"INSERT INTO request_files ({', '.join(FILE_COLUMNS)}) VALUES "
            f"({', '.join('?' * len(FILE_COLUMNS))})", [row.get(c) for c in FILE_COLUMNS])
        self.cat.touch("request_files", file_id)
        return file_id

    # ------------------------------------------------------------ reads
    def code_taken(self, code: str) -> bool:
        return self.db.scalar("SELECT 1 FROM requests WHERE code = ?", [code]) is not None

    def by_code(self, code: str) -> dict | None:
        """One request with its latest status, or None."""
        return self.db.one(_WITH_STATUS + " WHERE r.code = ?", [code])

    def by_id(self, request_id: int) -> dict | None:
        return self.db.one(_WITH_STATUS + " WHERE r.id = ?", [request_id])

    def by_token_hash(self, token_sha256: str) -> dict | None:
        """The request whose upload token hashes to ``token_sha256``, with its status."""
        return self.db.one(_WITH_STATUS + " WHERE r.token_sha256 = ?", [token_sha256])

    def list(self, incident_id: str | None = None, camera_id: str | None = None) -> list[dict]:
        """Requests (of one incident, or one camera of it) with their latest status, oldest
        first."""
        sql, params = _WITH_STATUS + " WHERE 1 = 1", []
        if incident_id is not None:
            sql += " AND r.incident_id = ?"
            params.append(incident_id)
        if camera_id is not None:
            sql += " AND r.camera_id = ?"
            params.append(camera_id)
        return self.db.dicts(sql + " ORDER BY r.id", params)

    def status_entries(self, request_id: int) -> list[dict]:
        """A request's status history (its outcome entries), oldest first."""
        return self.db.dicts("SELECT * FROM outcomes WHERE request_id = ? ORDER BY id",
                             [request_id])

    def latest_status(self, request_id: int) -> str | None:
        return self.db.scalar("SELECT status FROM outcomes WHERE request_id = ? ORDER BY id "
                              "DESC LIMIT 1", [request_id])

    def files(self, request_id: int) -> list[dict]:
        """Every file a request received, oldest first."""
        return self.db.dicts("SELECT * FROM request_files WHERE request_id = ? ORDER BY id",
                             [request_id])

    def clip_of_path(self, path: str) -> int | None:
        """The clip catalogued from ``path`` (an evidence-store file), or None."""
        return self.db.scalar("SELECT id FROM clips WHERE path = ?", [path])
