"""The rows of ``users`` (protected: every write is recorded with the row's hash)."""

from __future__ import annotations


class UserStore:
    """Reads and writes ``users``; every write touches the row for the audit entry."""

    COLUMNS = "name, role, created_at, disabled, password_changed_at"

    def __init__(self, cat):
        self.cat = cat
        self.db = cat.db

    def get(self, name: str) -> dict | None:
        """A user (no password hash), enabled or not, or None."""
        return self.db.one(f"SELECT {self.COLUMNS} FROM users WHERE name = ?", [name])

    def with_audited_hash(self, name: str) -> dict | None:
        """A user's whole row (password hash included: for signing in only) and, as
        ``videx_audited_hash``, the hash its newest audit entry recorded (None when none
        did), in one statement."""
        return self.db.one(
            "SELECT u.*, (SELECT a.row_hash FROM audit_rows a WHERE a.tbl = 'users' AND "
            "a.row_key = u.name ORDER BY a.entry_id DESC LIMIT 1) AS videx_audited_hash "
            "FROM users u WHERE u.name = ?", [name])

    def all(self) -> list[dict]:
        """Users by name (no hashes)."""
        return self.db.dicts(f"SELECT {self.COLUMNS} FROM users ORDER BY name")

    def add(self, name: str, role: str, password_hash: str, now: str) -> None:
        self.db.execute("INSERT INTO users (name, role, password_hash, created_at, disabled, "
                        "password_changed_at) VALUES (?, ?, ?, ?, 0, ?)",
                        [name, role, password_hash, now, now])
        self.cat.touch("users", name)

    def update(self, name: str, **changes) -> bool:
        """Set columns of a user (``role``, ``disabled``, ``password_hash`` with
        ``password_changed_at``); False when there is no such user."""
        names = sorted(changes)
        cur = self.db.execute(f"UPDATE users SET {', '.join(f'{c} = ?' for c in names)} "
                              "WHERE name = ?", [changes[c] for c in names] + [name])
        if not cur.rowcount:
            return False
        self.cat.touch("users", name)
        return True
