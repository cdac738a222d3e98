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

    def head_and_key(self):
        """Ask for (the newest entry's hash or None for an empty log, the ``audit_key_id``
        setting or None), what sealing the next entry needs, in one statement; returns a
        function that gives the answer (so that a pipeline can send the question with the
        lock before it and wait once)."""
        import json
        cur = self.db.execute(
            "SELECT a.hash, s.value FROM (SELECT 1 AS one) o "
            "LEFT JOIN (SELECT hash FROM audit ORDER BY id DESC LIMIT 1) a ON 1 = 1 "
            "LEFT JOIN settings s ON s.key = 'audit_key_id'")

        def answer() -> tuple[str | None, str | None]:
            row = cur.fetchone()
            return row[0], (json.loads(row[1]) if row[1] is not None else None)
        return answer

    def insert(self, entry: dict, rows: list[tuple[str, str, str]]) -> None:
        """Append an entry and its row hashes (inside the caller's write transaction); an
        entry without rows does not wait for its new id (one statement, no result read)."""
        self.cat.require_tx()
        sql = ("INSERT INTO audit (v, at, \"user\", acting_as, command, args, case_no, "
               "rows_digest, alg, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        values = [entry["v"], entry["at"], entry["user"], entry["acting_as"], entry["command"],
                  entry["args"], entry["case_no"], entry["rows_digest"], entry["alg"],
                  entry["prev_hash"], entry["hash"]]
        if not rows:
            self.db.execute(sql, values)
            return
        entry_id = self.db.insert_id(sql, values)
        self.db.executemany("INSERT INTO audit_rows (entry_id, tbl, row_key, row_hash) "
                            "VALUES (?, ?, ?, ?)", [(entry_id, t, k, h) for t, k, h in rows])

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

    def recent(self, limit: int = 100, case_no: str | None = None, who: str | None = None,
               before_id: int | None = None) -> list[dict]:
        """Entries newest first, at most ``limit``: of one case (exactly), by one person (the
        OS account or the stated name contains ``who``, ignoring case), before an entry id."""
        sql, params = f"SELECT {ENTRY_COLUMNS} FROM audit WHERE 1 = 1", []
        if case_no:
            sql += " AND case_no = ?"
            params.append(case_no)
        if who:
            like = "%" + who.lower().replace("\\", "\\\\").replace("%", "\\%").replace(
                "_", "\\_") + "%"
            sql += (" AND (lower(\"user\") LIKE ? ESCAPE '\\' OR lower(coalesce(acting_as, ''))"
                    " LIKE ? ESCAPE '\\')")
            params += [like, like]
        if before_id:
            sql += " AND id < ?"
            params.append(before_id)
        return self.db.dicts(sql + " ORDER BY id DESC LIMIT ?", params + [limit])

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
