"""Moving a catalog between backends (SQLite <-> PostgreSQL) with every row and the audit
chain intact, verified after the copy.

``copy_catalog`` refuses a source whose audit log does not verify (copying a tampered catalog
would launder it) and a destination that already holds tables. It creates the destination's
schema with the same migration list, copies every table's rows with their ids in one
transaction (nothing half-written: a failure leaves the destination empty), then checks
that every table holds the same rows (an order-free SHA-256 digest over each table's rows, on
both sides) and that the destination's audit log verifies deep (every row matches its audited
state, the chain links as in the source), all before the copy's transaction commits: a copy
that fails a check is rolled back and leaves the destination empty. The copy itself adds no audit entry to either side,
so the chain stays byte-for-byte the source's; the source's own log gets a ``db copy`` entry
naming the destination.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from videx import audit
from videx.errors import CatalogError
from videx.store import schema
from videx.timeutil import iso_utc, now_utc

BATCH = 1000
# dependency order: a row's references are copied before it
ORDER = ("settings", "videx_migrations", "users", "web_sessions", "cameras", "incidents", "clips",
         "requests", "outcomes", "reviews", "bookmarks", "request_files", "rejects", "scans",
         "activity", "audit",
         "audit_rows")


@dataclass
class CopyReport:
    """What was copied, and the checks after."""

    source: str
    destination: str
    tables: dict[str, int] = field(default_factory=dict)
    audit_entries: int = 0
    rows_checked: int = 0
    ok: bool = False
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        rows = sum(self.tables.values())
        if not self.ok:
            return (f"copy of {self.source} to {self.destination} FAILED verification: "
                    + "; ".join(self.problems))
        return (f"copied {rows} rows in {len(self.tables)} tables from {self.source} to "
                f"{self.destination}; verified: every table identical, audit log intact "
                f"({self.audit_entries} entries), {self.rows_checked} rows match their "
                "audited state")


def _tables(db) -> list[str]:
    have = {t for t in db.tables() if not t.startswith("sqlite_")} - {schema.LEGACY_TABLE}
    extra = sorted(have - set(ORDER))
    return [t for t in ORDER if t in have] + extra


def _columns(db, table: str) -> list[str]:
    cur = db.execute(f'SELECT * FROM "{table}" LIMIT 0')
    return [d[0] for d in cur.description]


def table_digest(db, table: str, columns: list[str]) -> tuple[int, str]:
    """(row count, an order-free digest of ``columns`` of the rows): each row's SHA-256 over
    its values in canonical JSON, summed modulo 2**256, so both engines' orders and
    collations agree."""
    total, n = 0, 0
    names = ", ".join(f'"{c}"' for c in columns)
    cur = db.execute(f'SELECT {names} FROM "{table}"')
    while True:
        rows = cur.fetchmany(BATCH)
        if not rows:
            break
        for row in rows:
            text = json.dumps([_norm(v) for v in row], separators=(",", ":"),
                              ensure_ascii=False).encode()
            total = (total + int.from_bytes(hashlib.sha256(text).digest(), "big")) % (1 << 256)
            n += 1
    return n, f"{total:064x}"


def _norm(value):
    """Values as both engines give them back (an integral REAL is the same number)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return value


def copy_catalog(source: str, destination: str,
                 progress: Callable[[int], None] | None = None,
                 record: bool = True) -> CopyReport:
    """Copy the catalog at ``source`` to a new catalog at ``destination`` (paths or
    ``postgresql://`` URLs) and verify it (see module docstring). ``record=False`` leaves
    the source's log alone (test fixtures copying a template)."""
    from videx.catalog import Catalog, open_catalog, resolve_path
    src = open_catalog(source)
    try:
        check = audit.verify(src, deep=True)
        if not check.ok:
            raise CatalogError(f"the source's audit log does not verify ({check.summary()}): "
                               "not copied (run videx audit verify --deep on it)")
        if src.newer:
            raise CatalogError("the source was written by a newer videx: upgrade first")
        dst_backend = _new_backend(resolve_path(destination))
        report = CopyReport(src.location, dst_backend.location)
        if schema.inspect(src.db).pending:
            raise CatalogError("the source needs upgrading to this videx first (open it with "
                               "any videx command where it can be written)")
        with src.reading():                  # one consistent state of the source throughout
            try:
                _copy(src.db, dst_backend, report, progress)
                dst = Catalog(dst_backend)
                _verify(src, dst, report)    # inside the copy's transaction: ...
                if report.ok:
                    dst_backend.commit()
                    dst_backend.analyze()    # a new database has no planner statistics
                else:                        # ... a copy that fails its checks is not kept
                    dst_backend.rollback()
            finally:
                dst_backend.rollback()
                dst_backend.close()
        if not report.ok and "://" not in report.destination:
            _remove_sqlite(resolve_path(destination))
        if report.ok and record:
            src.record("db copy", {"to": report.destination, "rows": sum(report.tables.values()),
                                   "audit_entries": report.audit_entries})
        return report
    finally:
        src.close()


def _remove_sqlite(path: str) -> None:
    """Remove a SQLite destination left empty by a copy that failed its checks."""
    from pathlib import Path
    for suffix in ("", "-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)


def _new_backend(location: str):
    """An empty destination backend (a new SQLite file, or a PostgreSQL database with no
    tables)."""
    from pathlib import Path

    from videx.store.backend import SQLiteBackend
    if "://" in location:
        from videx.store.postgres import open_backend
        backend = open_backend(location, create=True)
    else:
        path = Path(location)
        if path.exists() and path.stat().st_size > 0:
            raise CatalogError(f"{path} already exists: db copy writes a new catalog")
        if not path.parent.is_dir():
            raise CatalogError(f"folder {path.parent} does not exist")
        backend = SQLiteBackend(path)
    if backend.tables() - {"sqlite_sequence"}:
        backend.close()
        raise CatalogError(f"{location} already holds tables: db copy writes into an empty "
                           "database only")
    return backend


def _copy(src, dst, report: CopyReport, progress) -> None:
    """Schema by the migration list, then every table's rows, in one transaction (left open:
    the caller commits once the copy has passed its checks)."""
    dst.begin_write()
    schema.apply_pending(dst, iso_utc(now_utc()))
    if dst.dialect == "sqlite":
        dst.set_foreign_keys(False)        # no-op inside a transaction; order covers it
    for table in _tables(src):
        if table not in dst.tables():
            raise CatalogError(f"the destination's schema has no table {table}")
        cols = [c for c in _columns(src, table)]
        missing = set(cols) - set(_columns(dst, table))
        if missing:
            raise CatalogError(f"the destination's {table} lacks columns {sorted(missing)}")
        dst.execute(f'DELETE FROM "{table}"')           # videx_migrations: the source's rows
        names = ", ".join(f'"{c}"' for c in cols)
        insert = f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(cols))})'
        cur = src.execute(f'SELECT {names} FROM "{table}"')
        n = 0
        while True:
            rows = cur.fetchmany(BATCH)
            if not rows:
                break
            dst.executemany(insert, rows)
            n += len(rows)
            if progress:
                progress(len(rows))
        report.tables[table] = n
        if dst.dialect == "postgresql" and "id" in cols:
            dst.reset_identity(table)


def _verify(src, dst, report: CopyReport) -> None:
    for table in report.tables:
        cols = _columns(src.db, table)
        a, b = table_digest(src.db, table, cols), table_digest(dst.db, table, cols)
        if a != b:
            report.problems.append(f"table {table}: {a[0]} rows in the source, {b[0]} in the "
                                   "copy" if a[0] != b[0] else f"table {table}: rows differ")
    check = audit.verify(dst, deep=True)
    report.audit_entries = check.entries
    report.rows_checked = check.rows_checked
    if not check.ok:
        report.problems.append(f"the copy's audit log: {check.summary()}")
    head_src, head_dst = src.auditlog.recorded_head(), dst.auditlog.recorded_head()
    if head_src != head_dst:
        report.problems.append("the copy's audit head differs from the source's")
    report.ok = not report.problems
