"""Audit entries and the row hashes recorded with them (SQL only; the chain logic is in
``videx.audit``)."""

from __future__ import annotations

from collections.abc import Iterator

ENTRY_COLUMNS = ("id, v, at, \"user\", acting_as, command, args, case_no, rows_digest, alg, "
                 "prev_hash, hash")


class AuditLog:
    """Reads and appends ``audit`` and ``audit_rows``."""

    def __init__(self, cat):
        self.cat = cat
        self.db = cat.db

    def last(self) -> dict | None:
        """The newest entry (id, hash), or None for an empty log."""
        return self.db.one("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")

    def insert(self, entry: dict, rows: list[tuple[str, str, str]]) -> int:
        """Append an entry and its row hashes (inside the caller's write transaction)."""
        self.cat.require_tx()
        entry_id = self.db.insert_id(
            "INSERT INTO audit (v, at, \"user\", acting_as, command, args, case_no, rows_digest, "
            "alg, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [entry["v"], entry["at"], entry["user"], entry["acting_as"], entry["command"],
             entry["args"], entry["case_no"], entry["rows_digest"], entry["alg"],
             entry["prev_hash"], entry["hash"]])
        self.db.executemany("INSERT INTO audit_rows (entry_id, tbl, row_key, row_hash) "
                            "VALUES (?, ?, ?, ?)", [(entry_id, t, k, h) for t, k, h in rows])
        return entry_id

    def recorded_head(self) -> str | None:
        import json
        value = self.db.scalar("SELECT value FROM settings WHERE key = 'audit_head'")
        return json.loads(value) if value is not None else None

    def iter_entries(self, chunk: int = 5000) -> Iterator[dict]:
        """Every entry in id order, read ``chunk`` at a time."""
        last = 0
        while True:
            batch = self.db.dicts(f"SELECT {ENTRY_COLUMNS} FROM audit WHERE id > ? "
                                  "ORDER BY id LIMIT ?", [last, chunk])
            if not batch:
                return
            yield from batch
            last = batch[-1]["id"]

    def entry(self, entry_id: int) -> dict | None:
        return self.db.one(f"SELECT {ENTRY_COLUMNS} FROM audit WHERE id = ?", [entry_id])

    def count(self) -> int:
        return int(self.db.scalar("SELECT count(*) FROM audit"))

    def rows_of(self, entry_id: int) -> list[tuple[str, str, str]]:
        return [tuple(r) for r in self.db.rows(
            "SELECT tbl, row_key, row_hash FROM audit_rows WHERE entry_id = ?", [entry_id])]

    def entries(self, limit: int | None = None) -> list[dict]:
        """Entries, newest last (the last ``limit`` when given)."""
        if limit:
            rows = self.db.dicts(f"SELECT {ENTRY_COLUMNS} FROM audit ORDER BY id DESC "
                                 "LIMIT ?", [limit])
            return rows[::-1]
        return self.db.dicts(f"SELECT {ENTRY_COLUMNS} FROM audit ORDER BY id")

    def latest_hashes(self, table: str, keys: list[str]) -> dict[str, str]:
        """{row key: the hash recorded by the newest entry that wrote it} for ``keys``."""
        out: dict[str, str] = {}
        for i in range(0, len(keys), 500):
            part = keys[i:i + 500]
            marks = ",".join("?" * len(part))
            for key, digest in self.db.rows(
                    f"SELECT a.row_key, a.row_hash FROM audit_rows a JOIN (SELECT row_key, "
                    f"max(entry_id) AS m FROM audit_rows WHERE tbl = ? AND row_key IN ({marks})"
                    f" GROUP BY row_key) l ON a.row_key = l.row_key AND a.entry_id = l.m "
                    f"WHERE a.tbl = ?", [table, *part, table]):
                out[key] = digest
        return out

    def audited_but_missing(self, table: str, key_column: str, integer_key: bool,
                            deleted: str) -> list[str]:
        """Keys the log last recorded as present in ``table`` that are no longer there."""
        cast = "CAST(l.row_key AS INTEGER)" if integer_key else "l.row_key"
        return [r[0] for r in self.db.rows(
            f"SELECT l.row_key FROM (SELECT a.row_key, a.row_hash FROM audit_rows a JOIN "
            f"(SELECT row_key, max(entry_id) AS m FROM audit_rows WHERE tbl = ? GROUP BY "
            f"row_key) x ON a.row_key = x.row_key AND a.entry_id = x.m WHERE a.tbl = ?) l "
            f"WHERE l.row_hash <> ? AND NOT EXISTS (SELECT 1 FROM {table} t WHERE "
            f"t.{key_column} = {cast}) ORDER BY l.row_key", [table, table, deleted])]
