"""Database connections: the one place that knows which SQL engine holds the catalog.

Every SQL statement in videx is written once, with ``?`` placeholders and the few dialect
tokens below, and runs on either backend:

- ``SQLiteBackend``: one file, WAL mode, foreign keys on, a busy timeout, ``BEGIN IMMEDIATE``
  for writes (so concurrent writers queue on the write lock instead of failing late). Writers
  in one process queue on a lock of their own (woken the moment it is free); only the one at
  the head of that queue polls the file's write lock, every few milliseconds (SQLite's own
  busy handler sleeps up to 100 ms between tries: half-second stalls under load).
- a PostgreSQL backend plugs in through the same interface (see ``videx.store.postgres`` when
  installed).

Dialect tokens used in DDL (``Backend.ddl``): ``{real}`` double-precision float, ``{id_pk}``
an auto-numbered integer primary key, ``{without_rowid}`` SQLite's clustered-table hint.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from videx.errors import CatalogError

BUSY_TIMEOUT_MS = 30_000
WRITE_POLL_S = (0.0002, 0.0005, 0.001, 0.002, 0.003)   # then the last, until the timeout
SQLITE_MAGIC = b"SQLite format 3\x00"


class Backend:
    """The interface the catalog layer uses; one subclass per SQL engine."""

    dialect = "abstract"
    readonly = False
    location = ""
    collate_binary = ""     # appended to a text column in ORDER BY: code point order

    def stream(self, sql: str, params: Sequence = (), size: int = 5000):
        """Yield (column names, a batch of up to ``size`` row tuples) of one query, without
        holding its whole result (a server-side cursor on PostgreSQL, which needs a
        transaction: use it inside ``Catalog.reading``)."""
        cur = self.execute(sql, params)
        names = [d[0] for d in cur.description]
        while True:
            rows = cur.fetchmany(size)
            if not rows:
                return
            yield names, rows

    # -- statements
    def execute(self, sql: str, params: Sequence = ()):
        raise NotImplementedError

    def executemany(self, sql: str, rows: Iterable[Sequence]) -> None:
        raise NotImplementedError

    def rows(self, sql: str, params: Sequence = ()) -> list[tuple]:
        """All result rows as tuples."""
        return list(self.execute(sql, params).fetchall())

    def dicts(self, sql: str, params: Sequence = ()) -> list[dict]:
        """All result rows as dicts keyed by column name."""
        cur = self.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    def dicts_batch(self, queries: Sequence[tuple[str, Sequence]]) -> list[list[dict]]:
        """Several reads, each one's rows as dicts: one round trip on PostgreSQL (pipeline
        mode), one after another on SQLite. Each is its own statement (no shared snapshot
        unless inside a transaction)."""
        return [self.dicts(sql, params) for sql, params in queries]

    def one(self, sql: str, params: Sequence = ()) -> dict | None:
        """The first result row as a dict, or None."""
        cur = self.execute(sql, params)
        row = cur.fetchone()
        return None if row is None else dict(zip([d[0] for d in cur.description], row))

    def scalar(self, sql: str, params: Sequence = ()):
        """The first column of the first row, or None."""
        row = self.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def insert_id(self, sql: str, params: Sequence = ()) -> int:
        """Run an INSERT ... RETURNING id and return the new id."""
        return int(self.execute(sql + " RETURNING id", params).fetchone()[0])

    # -- transactions
    def begin_write(self) -> None:
        raise NotImplementedError

    def begin_read(self) -> None:
        raise NotImplementedError

    def lock_audit_head(self) -> None:
        """Inside a write transaction: make concurrent audit appends queue behind this one."""

    def analyze(self) -> None:
        """Refresh the query planner's statistics (after a bulk load)."""

    def pipeline(self):
        """A block whose statements may be sent without waiting for each one's answer (on
        PostgreSQL: queued until a result is read or the block ends, so a lock, a read and
        a commit cost one round trip); a plain block elsewhere."""
        return contextlib.nullcontext()

    def commit(self) -> None:
        raise NotImplementedError

    def rollback(self) -> None:
        raise NotImplementedError

    @property
    def in_transaction(self) -> bool:
        raise NotImplementedError

    # -- schema
    def ddl(self, text: str) -> str:
        raise NotImplementedError

    def set_foreign_keys(self, on: bool) -> None:
        """Switch foreign-key enforcement (outside transactions; for table rebuilds)."""

    def foreign_key_problems(self) -> int:
        """How many rows reference a missing row (checked after a table rebuild)."""
        return 0

    def tables(self) -> set[str]:
        raise NotImplementedError

    def indexes(self) -> set[str]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SQLiteBackend(Backend):
    """A catalog in one SQLite file (autocommit mode; transactions are explicit)."""

    dialect = "sqlite"
    DDL = {"real": "REAL", "id_pk": "INTEGER PRIMARY KEY", "without_rowid": "WITHOUT ROWID"}

    def __init__(self, path: str | os.PathLike, readonly: bool = False):
        self.path = Path(path)
        self.location = str(self.path)
        self.readonly = readonly
        self._gate = None if readonly else _write_gate(self.path)
        self._gate_held = False
        self.conn = self._connect()
        self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if self.path.exists() and self.path.stat().st_size:
            check_sqlite_file(self.conn, self.path)
        self.conn.execute("PRAGMA foreign_keys = ON")
        if not readonly:
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")

    def _connect(self) -> sqlite3.Connection:
        if not self.readonly:
            return sqlite3.connect(str(self.path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000,
                                   check_same_thread=False)
        uri = self.path.resolve().as_uri()
        try:
            conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError:
            # A WAL catalog in a folder we cannot write to has no -shm file to share: read it
            # as an immutable snapshot (nobody can be writing to a file no one may write).
            return sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None,
                                   check_same_thread=False)

    def execute(self, sql: str, params: Sequence = ()):
        return self.conn.execute(sql, params)

    def rows(self, sql: str, params: Sequence = ()) -> list[tuple]:
        return self.conn.execute(sql, params).fetchall()      # already a new list

    def executemany(self, sql: str, rows: Iterable[Sequence]) -> None:
        self.conn.executemany(sql, rows)

    def begin_write(self) -> None:
        """``BEGIN IMMEDIATE``: wait for the write lock (this process's writers first queue on
        the in-process gate), or raise "database is locked" after ``BUSY_TIMEOUT_MS``."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        if self._gate is not None and not self._gate_held:
            if not self._gate.acquire(timeout=BUSY_TIMEOUT_MS / 1000):
                raise sqlite3.OperationalError("database is locked")
            self._gate_held = True
        try:
            self._begin_immediate(deadline)
        except BaseException:
            self._release_gate()
            raise

    def _begin_immediate(self, deadline: float) -> None:
        self.conn.execute("PRAGMA busy_timeout = 0")       # we wait, not SQLite's handler
        try:
            for n in itertools.count():
                try:
                    self.conn.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as err:
                    if not _is_busy(err) or time.monotonic() > deadline:
                        raise
                time.sleep(WRITE_POLL_S[min(n, len(WRITE_POLL_S) - 1)])
        finally:
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")   # for reads

    def _release_gate(self) -> None:
        if self._gate_held:
            self._gate_held = False
            self._gate.release()

    def begin_read(self) -> None:
        self.conn.execute("BEGIN")

    def commit(self) -> None:
        try:
            if self.conn.in_transaction:
                self.conn.execute("COMMIT")
        finally:              # even when COMMIT fails: the next writer only polls sooner
            self._release_gate()

    def rollback(self) -> None:
        try:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
        finally:
            self._release_gate()

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    def ddl(self, text: str) -> str:
        return text.format(**self.DDL)

    def set_foreign_keys(self, on: bool) -> None:
        self.conn.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")

    def foreign_key_problems(self) -> int:
        return len(self.conn.execute("PRAGMA foreign_key_check").fetchall())

    def tables(self) -> set[str]:
        return {r[0] for r in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}

    def indexes(self) -> set[str]:
        return {r[0] for r in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index'")}

    def close(self) -> None:
        try:
            self.conn.close()
        finally:
            self._release_gate()


_GATES: dict[str, threading.Lock] = {}
_GATES_LOCK = threading.Lock()


def _write_gate(path: Path) -> threading.Lock:
    """The in-process queue for writers to the SQLite file at ``path`` (one per file)."""
    key = os.path.realpath(path)
    with _GATES_LOCK:
        return _GATES.setdefault(key, threading.Lock())


def _is_busy(err: sqlite3.OperationalError) -> bool:
    text = str(err)
    return "locked" in text or "busy" in text


def check_sqlite_file(conn: sqlite3.Connection, path: Path) -> None:
    """Raise CatalogError unless the file ``conn`` opened is a SQLite database.

    Asked through SQLite itself, never by reading the file with ``open()``: closing any other
    descriptor of a database file releases every POSIX lock this process holds on it, so a
    thread that peeked at the header while another thread had the catalog open would let a
    second process write under it (seen as "database disk image is malformed" under load)."""
    try:
        conn.execute("PRAGMA schema_version").fetchone()
    except sqlite3.DatabaseError as err:
        if "not a database" in str(err) or "malformed" in str(err):
            raise CatalogError(f"{path} is not a videx catalog (not a SQLite file): check "
                               "--db / VIDEX_DB, or run videx init with a new path") from err
        raise
