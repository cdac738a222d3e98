"""Sign-in sessions of ``videx serve`` (``web_sessions``), kept in the catalog so that every
server instance on it knows them, and signing out ends a session everywhere."""

from __future__ import annotations


class SessionStore:
    """Reads and writes ``web_sessions``. Sessions are not evidence: their rows carry no
    hashes, but starting and ending one is audited (``videx.web.sessions``)."""

    def __init__(self, cat):
        self.cat = cat
        self.db = cat.db

    def start(self, id_hash: str, user_name: str, created_ts: float, client: str | None,
              user_agent: str | None) -> None:
        """A new session (inside the open write transaction)."""
        self.cat.require_tx()
        self.db.execute("INSERT INTO web_sessions (id_hash, user_name, created_ts, client, "
                        "user_agent) VALUES (?, ?, ?, ?, ?)",
                        [id_hash, user_name, created_ts, client, (user_agent or "")[:300]])

    def user(self, id_hash: str, oldest_ts: float) -> dict | None:
        """The enabled user's whole row of a session started after ``oldest_ts`` (POSIX s)
        and after the user's ``sessions_valid_from``, with the hash the user's newest audit
        entry recorded (``videx_audited_hash``); None for an ended, expired or unknown
        session. One statement: the page's only sign-in check."""
        return self.db.one(
            "SELECT u.*, (SELECT a.row_hash FROM audit_rows a WHERE a.tbl = 'users' AND "
            "a.row_key = u.name ORDER BY a.entry_id DESC LIMIT 1) AS videx_audited_hash "
            "FROM web_sessions s JOIN users u ON u.name = s.user_name "
            "WHERE s.id_hash = ? AND s.created_ts >= ? AND s.created_ts >= "
            "u.sessions_valid_from AND u.disabled = 0", [id_hash, oldest_ts])

    def end(self, id_hash: str) -> bool:
        """End one session (inside the open write transaction); whether it existed."""
        self.cat.require_tx()
        return bool(self.db.execute("DELETE FROM web_sessions WHERE id_hash = ?",
                                    [id_hash]).rowcount)

    def end_for_user(self, user_name: str) -> int:
        """End every session of a user (inside the open write transaction)."""
        self.cat.require_tx()
        return self.db.execute("DELETE FROM web_sessions WHERE user_name = ?",
                               [user_name]).rowcount

    def purge(self, before_ts: float) -> int:
        """Forget sessions started before ``before_ts`` (inside the open write transaction)."""
        self.cat.require_tx()
        return self.db.execute("DELETE FROM web_sessions WHERE created_ts < ?",
                               [before_ts]).rowcount

    def counts(self) -> dict[str, int]:
        """{user name: open sessions}."""
        return {r[0]: int(r[1]) for r in self.db.rows(
            "SELECT user_name, count(*) FROM web_sessions GROUP BY user_name")}
