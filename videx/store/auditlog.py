"""Audit entries and the row hashes recorded with them (SQL only; the chain logic is in
``videx.audit``)."""

from __future__ import annotations

import json
from collections.abc import Iterator

ENTRY_COLUMNS = ("id, v, at, \"user\", acting_as, command, args, case_no, rows_digest, alg, "
                 "prev_hash, hash")
AUDITED = "videx_audited_hash"     # the column a deep scan adds to each row


class AuditLog:
    """Reads and appends ``audit`` and ``audit_rows``."""

    def __init__(self, cat):
        self.cat = cat
        self.db = cat.db

    def last(self) -> dict | None:
        """The newest entry (id, hash), or None for an empty log."""
        return self.db.one("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")

    def head_and_key(self):
        """Ask for what sealing the next entry needs, in one statement: (the newest entry's
        hash and seal, or None for an empty log; the ``audit_head`` setting's value; the
        ``audit_key_id`` setting or None). Returns a function that gives the answer (so that
        a pipeline can send the question with the lock before it and wait once)."""
        cur = self.db.execute(
            "SELECT a.hash, a.alg, h.value, s.value FROM (SELECT 1 AS one) o "
            "LEFT JOIN (SELECT hash, alg FROM audit ORDER BY id DESC LIMIT 1) a ON 1 = 1 "
            "LEFT JOIN settings h ON h.key = 'audit_head' "
            "LEFT JOIN settings s ON s.key = 'audit_key_id'")

        def answer() -> tuple[str | None, str | None, object, str | None]:
            row = cur.fetchone()
            return (row[0], row[1], _json(row[2]), _json(row[3]))
        return answer

    def count_sealed(self) -> int:
        """How many entries are sealed with a key (once, for a catalog whose head predates
        format 3 entries)."""
        return int(self.db.scalar("SELECT count(*) FROM audit WHERE alg LIKE 'hmac-sha256:%'"))

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

    def write_head(self, value: dict) -> None:
        """Record the chain's head (inside the write transaction that appended to it)."""
        self.db.execute("INSERT INTO settings (key, value) VALUES ('audit_head', ?) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        [json.dumps(value)])

    def recorded_head(self):
        """The ``audit_head`` setting's value (a hash, or an object since format 3), or
        None."""
        return _json(self.db.scalar("SELECT value FROM settings WHERE key = 'audit_head'"))

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

    def entries_with_rows(self, chunk: int = 5000) -> Iterator[tuple[dict, Iterator]]:
        """Every entry in id order with an iterator over its row hash triples (table, key,
        hash) in the digest's order, read a range of entries at a time (one query for the
        entries, one streamed query for their rows). Consume each entry's rows before asking
        for the next entry."""
        last = 0
        collate = self.db.collate_binary
        while True:
            batch = self.db.dicts(f"SELECT {ENTRY_COLUMNS} FROM audit WHERE id > ? "
                                  "ORDER BY id LIMIT ?", [last, chunk])
            if not batch:
                return
            rows = _Rows(row for _, part in self.db.stream(
                "SELECT entry_id, tbl, row_key, row_hash FROM audit_rows WHERE entry_id "
                f"BETWEEN ? AND ? ORDER BY entry_id, tbl{collate}, row_key{collate}, "
                f"row_hash{collate}", [batch[0]["id"], batch[-1]["id"]]) for row in part)
            for entry in batch:
                yield entry, rows.take(entry["id"])
            rows.close()
            last = batch[-1]["id"]

    def stray_rows(self, last_id: int) -> str | None:
        """Row hashes recorded under entry ids outside 1..``last_id`` (no such entry), as
        text, or None."""
        lo, hi = self.db.rows("SELECT min(entry_id), max(entry_id) FROM audit_rows")[0]
        if lo is None or (lo >= 1 and hi <= last_id):
            return None
        return f"entry ids {lo}..{hi}, the log has 1..{last_id}"

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

    def find(self, command: str, text: str) -> list[dict]:
        """Entries of ``command`` whose arguments contain ``text`` (e.g. a digest), oldest
        first."""
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return self.db.dicts(f"SELECT {ENTRY_COLUMNS} FROM audit WHERE command = ? AND args "
                             "LIKE ? ESCAPE '\\' ORDER BY id", [command, f"%{escaped}%"])

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

    def rows_with_audited(self, spec, size: int = 5000) -> Iterator[tuple[list[str], list]]:
        """Every protected row of ``spec``'s table in key order, as (column names, batch of
        value tuples), each tuple ending with the hash its newest audit entry recorded (None
        when none did): one streamed statement, an index lookup a row."""
        key = f't."{spec.key}"'
        key_text = f"CAST({key} AS TEXT)" if spec.integer_key else key
        where, params = _skip(spec, key)
        sql = (f"SELECT t.*, (SELECT a.row_hash FROM audit_rows a WHERE a.tbl = ? AND "
               f"a.row_key = {key_text} ORDER BY a.entry_id DESC LIMIT 1) AS {AUDITED} "
               f'FROM "{spec.table}" t{where} ORDER BY {key}')
        yield from self.db.stream(sql, [spec.table, *params], size)

    def audited_but_missing(self, spec, deleted: str) -> list[str]:
        """Keys the log last recorded as present in ``spec``'s table that are no longer
        there."""
        cast = "CAST(l.row_key AS INTEGER)" if spec.integer_key else "l.row_key"
        where, params = _skip(spec, "l.row_key")
        return [r[0] for r in self.db.rows(
            f"SELECT l.row_key FROM (SELECT a.row_key, a.row_hash FROM audit_rows a JOIN "
            f"(SELECT row_key, max(entry_id) AS m FROM audit_rows WHERE tbl = ? GROUP BY "
            f"row_key) x ON a.row_key = x.row_key AND a.entry_id = x.m WHERE a.tbl = ?) l"
            f"{where}{' AND' if where else ' WHERE'} l.row_hash <> ? AND NOT EXISTS "
            f'(SELECT 1 FROM "{spec.table}" t WHERE t."{spec.key}" = {cast}) '
            "ORDER BY l.row_key", [spec.table, spec.table, *params, deleted])]


def _skip(spec, column: str) -> tuple[str, list]:
    """A WHERE clause leaving out a protected table's unprotected rows."""
    if not spec.skip:
        return "", []
    return f" WHERE {column} NOT IN ({', '.join('?' * len(spec.skip))})", list(spec.skip)


def _json(value):
    return json.loads(value) if value is not None else None


class _Rows:
    """A stream of (entry id, table, key, hash) rows in entry order, handed out one entry's
    rows at a time."""

    def __init__(self, rows):
        self.rows = iter(rows)
        self.next = next(self.rows, None)

    def take(self, entry_id: int) -> Iterator[tuple[str, str, str]]:
        while self.next is not None and self.next[0] < entry_id:
            self.next = next(self.rows, None)      # rows of an entry that is not there
        while self.next is not None and self.next[0] == entry_id:
            row = self.next
            self.next = next(self.rows, None)
            yield row[1], row[2], row[3]

    def close(self) -> None:
        close = getattr(self.rows, "close", None)
        if close:
            close()
