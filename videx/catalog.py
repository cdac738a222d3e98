"""The catalog: the one object that owns the connection, the transactions and the SQL.

Open it with ``open_catalog`` (an existing catalog) or ``open_catalog(path, create=True)``
(``videx init``). Workflow modules read through its stores and change it only inside
``Catalog.write``, which

- starts ``BEGIN IMMEDIATE`` (writers queue on the database's write lock),
- lets store methods record which rows they wrote (``touch``),
- and, before committing, appends one audit entry with the content hash of each of those rows,
  so no change is ever committed without its entry.

Slow work (probing, hashing, decoding) happens outside ``write``; the block itself should only
write.

Stores (one module each in ``videx.store``): ``cameras``, ``incidents``, ``clips`` (and
rejects), ``history`` (outcomes and reviews), ``bookmarks``, ``requests`` (requests to
camera owners and the files their links received), ``scans``, ``sessions`` (the web
server's sign-ins), ``users``, ``auditlog``. The tables whose rows are hashed into the
audit log are listed in ``videx.store.protected``.

Zones: ``input_zone`` is the zone local input is read in (an explicit one, else the catalog's,
else an error: videx never guesses); ``display_zone`` is the zone instants are shown in (the
catalog's, else UTC, labelled).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

from videx import audit
from videx.errors import AuditKeyError, CatalogError, TimestampError
from videx.store import protected, schema
from videx.store.auditlog import AuditLog
from videx.store.backend import Backend, SQLiteBackend
from videx.store.cameras import CameraStore
from videx.store.clips import ClipStore
from videx.store.history import OUTCOMES_SQL, REVIEWS_SQL, HistoryStore
from videx.store.incidents import IncidentStore
from videx.store.scans import ScanStore
from videx.timeutil import get_zone, iso_utc, now_utc

DEFAULT_DB = "videx.db"
ZONE_SETTING = "default_tz"      # the catalog's zone (IANA name), set by videx init --tz


def resolve_path(path: str | os.PathLike | None) -> str:
    """The catalog location: the argument, else ``$VIDEX_DB``, else ``./videx.db``."""
    return str(path or os.environ.get("VIDEX_DB") or DEFAULT_DB)


class WriteTx:
    """One open write transaction: its audit command, arguments and the rows it touched;
    ``cancelled``: nothing happened after all (commit without an entry); ``acting_as``: the
    entry's acting_as when not the catalog's own actor. (A plain class: a dataclass costs a
    millisecond of every command's start-up to make.)"""

    __slots__ = ("command", "args", "case_no", "touched", "cancelled", "acting_as")

    def __init__(self, command: str, args: dict, case_no: str | None,
                 touched: dict | None = None, cancelled: bool = False,
                 acting_as: str | None = None):
        self.command, self.args, self.case_no = command, args, case_no
        self.touched: dict[tuple[str, str], None] = {} if touched is None else touched
        self.cancelled, self.acting_as = cancelled, acting_as

    def touch(self, table: str, key) -> None:
        self.touched[(table, str(key))] = None


class CaseRecord(NamedTuple):
    """An incident's record as its page shows it: entries oldest first; ``requests`` are
    request rows with their latest status (``videx.requests.Request.from_row``)."""

    outcomes: list[dict]
    reviews: list[dict]
    bookmarks: list[dict]
    requests: list[dict]
    zone: ZoneInfo


def display_zone_of(name: str | None) -> ZoneInfo:
    """The zone to show instants in for a catalog zone setting: that zone, else UTC."""
    return get_zone(name) if name else ZoneInfo("UTC")


class Catalog:
    """An open catalog (see module docstring). ``actor`` is a name stated with ``--as``."""

    def __init__(self, backend: Backend, actor: str | None = None,
                 newer: tuple[str, ...] = ()):
        self.db = backend
        self.actor = actor
        self.newer = newer
        self._tx: WriteTx | None = None
        self._key: audit.AuditKey | None | bool = False   # False: not loaded yet
        self.cameras = CameraStore(self)
        self.incidents = IncidentStore(self)
        self.clips = ClipStore(self)
        self.history = HistoryStore(self)
        self.scans = ScanStore(self)
        self.auditlog = AuditLog(self)

    # stores most commands never touch, made (and their modules imported) when first used
    @functools.cached_property
    def bookmarks(self):
        from videx.store.bookmarks import BookmarkStore
        return BookmarkStore(self)

    @functools.cached_property
    def sessions(self):
        from videx.store.sessions import SessionStore
        return SessionStore(self)

    @functools.cached_property
    def requests(self):
        from videx.store.requests import RequestStore
        return RequestStore(self)

    @functools.cached_property
    def users(self):
        from videx.store.users import UserStore
        return UserStore(self)

    # ------------------------------------------------------------ description
    @property
    def location(self) -> str:
        return self.db.location

    @property
    def readonly(self) -> bool:
        return self.db.readonly

    def migrations(self) -> list[str]:
        return list(schema.inspect(self.db).applied)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ settings
    def setting(self, key: str, default=None):
        row = self.db.scalar("SELECT value FROM settings WHERE key = ?", [key])
        return json.loads(row) if row is not None else default

    def set_setting(self, key: str, value) -> None:
        """Set a setting inside the open write transaction; its row is recorded in the
        transaction's audit entry like any protected row (so every setting, including ones
        added later, is protected by being written here)."""
        self.require_tx()
        if key in protected.get("settings").skip:
            raise CatalogError(f"internal: {key} is the audit chain's own bookkeeping")
        self.db.execute("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) "
                        "DO UPDATE SET value = excluded.value", [key, json.dumps(value)])
        self.touch("settings", key)

    def delete_setting(self, key: str) -> None:
        """Remove a setting (it reads as its default again), inside ``write``; the audit
        entry records the row as deleted."""
        self.require_tx()
        if key in protected.get("settings").skip:
            raise CatalogError(f"internal: {key} is the audit chain's own bookkeeping")
        self.db.execute("DELETE FROM settings WHERE key = ?", [key])
        self.touch("settings", key)

    @property
    def bounds(self) -> tuple[float, float, float, float] | None:
        """(south, west, north, east) of the city, or None when not set."""
        value = self.setting("bounds")
        return tuple(value) if value else None

    @property
    def zone_name(self) -> str | None:
        """The catalog's zone (IANA name) set with ``videx init --tz``, or None."""
        return self.setting(ZONE_SETTING)

    def input_zone(self, explicit: str | ZoneInfo | None = None) -> ZoneInfo:
        """The zone to read local input in: ``explicit``, else the catalog's; never a guess."""
        if explicit:
            return explicit if isinstance(explicit, ZoneInfo) else get_zone(explicit)
        if self.zone_name:
            return get_zone(self.zone_name)
        raise TimestampError("a local time needs a zone, and the catalog has none: give a "
                             "time with an offset, name a zone, or set the catalog's zone "
                             "with videx init --tz")

    def input_zone_or_none(self, explicit: str | None = None) -> ZoneInfo | None:
        """Like ``input_zone`` but None (local times then refused where they are read)."""
        try:
            return self.input_zone(explicit)
        except TimestampError:
            return None

    def display_zone(self) -> ZoneInfo:
        """The zone instants are shown in: the catalog's, else UTC (always labelled)."""
        return display_zone_of(self.zone_name)

    def case_history(self, incident_id: str) -> tuple[list[dict], list[dict], ZoneInfo]:
        """(outcomes, reviews, display zone) for an incident: entries oldest first."""
        record = self.case_record(incident_id)
        return record.outcomes, record.reviews, record.zone

    def case_record(self, incident_id: str) -> CaseRecord:
        """What an incident page shows of the case record (outcomes, reviews, bookmarks,
        requests with their status, the display zone): five reads in one round trip on
        PostgreSQL."""
        from videx.store.bookmarks import BOOKMARKS_SQL
        from videx.store.requests import REQUESTS_OF_INCIDENT_SQL
        outcomes, reviews, bookmarks, requests, tz = self.db.dicts_batch(
            [(OUTCOMES_SQL, [incident_id]), (REVIEWS_SQL, [incident_id]),
             (BOOKMARKS_SQL, [incident_id]), (REQUESTS_OF_INCIDENT_SQL, [incident_id]),
             ("SELECT value FROM settings WHERE key = ?", [ZONE_SETTING])])
        return CaseRecord(outcomes, reviews, bookmarks, requests,
                          display_zone_of(json.loads(tz[0]["value"]) if tz else None))

    # ------------------------------------------------------------ transactions
    def require_tx(self) -> WriteTx:
        if self._tx is None:
            raise CatalogError("internal: a catalog change outside Catalog.write()")
        return self._tx

    def touch(self, table: str, key) -> None:
        """Record that the open write transaction wrote row ``key`` of ``table``."""
        self.require_tx().touch(table, key)

    def check_writable(self) -> None:
        if self.readonly:
            raise CatalogError(f"catalog {self.location} is read-only: it can be searched "
                               "and canvassed, not changed")
        if self.newer:
            raise CatalogError(f"catalog {self.location} was written by a newer videx "
                               f"(migration {', '.join(self.newer)}): upgrade videx before "
                               "changing it")

    @property
    def audit_key(self) -> audit.AuditKey | None:
        if self._key is False:
            self._key = audit.load_key()
        return self._key

    @contextmanager
    def write(self, command: str, args: dict | None = None,
              case_no: str | None = None) -> Iterator[WriteTx]:
        """A write transaction that commits with its audit entry, or rolls back whole."""
        self.check_writable()
        if self._tx is not None:
            raise CatalogError("internal: nested Catalog.write()")
        with self._transaction(WriteTx(command, dict(args or {}), case_no)) as tx:
            yield tx

    @contextmanager
    def _transaction(self, tx: WriteTx) -> Iterator[WriteTx]:
        self.db.begin_write()
        self._tx = tx
        try:
            yield tx
            if tx.cancelled and not tx.touched:
                self.db.commit()
            else:
                self._append_audit([tx])        # and commit
        except BaseException:
            self.db.rollback()
            raise
        finally:
            self._tx = None

    def record(self, command: str, args: dict | None = None,
               case_no: str | None = None) -> str | None:
        """An audit entry for an action that changes no row (canvass, report, extract).

        Returns None when written, else the reason it could not be (a read-only or newer
        catalog, a keyed chain without its key); the action itself still counts, so this never
        raises for those."""
        return self.record_many([(None, command, args or {}, case_no)])

    def record_many(self, actions: Sequence[tuple[str | None, str, dict, str | None]]
                    ) -> str | None:
        """Audit entries for several actions that change no row, given as (acting as,
        command, arguments, case number), chained in order in one transaction: one lock, one
        commit (one WAL flush on PostgreSQL) for all. A web server's page views under load
        (``videx.web.AuditBatcher``). Returns None when written, else the reason, as
        ``record``; nothing is written then."""
        try:
            self.check_writable()
            if self._tx is not None:
                raise CatalogError("internal: record_many() inside Catalog.write()")
            txs = [WriteTx(command, dict(args or {}), case_no, acting_as=actor)
                   for actor, command, args, case_no in actions]
            if not txs:
                return None
            self.db.begin_write()
            self._tx = txs[0]
            try:
                self._append_audit(txs)
            except BaseException:
                self.db.rollback()
                raise
            finally:
                self._tx = None
        except (CatalogError, AuditKeyError) as err:
            return str(err)
        return None

    @contextmanager
    def reading(self) -> Iterator[Catalog]:
        """A read transaction: every query inside sees one consistent state."""
        if self._tx is not None or self.db.in_transaction:
            yield self
            return
        self.db.begin_read()
        try:
            yield self
        finally:
            self.db.commit()

    def _append_audit(self, txs: Sequence[WriteTx]) -> None:
        """Seal each of ``txs``' entries onto the chain, in order, and commit.

        The hashes of the rows these transactions wrote are taken first (no other writer can
        change them before the commit); then the head is locked and read, and the entries, the
        new head and the commit follow. On PostgreSQL the lock and the head read go as one
        round trip and the entries, head and commit as another, so the lock is held for about
        two round trips (``Backend.pipeline``).

        Entries are of format 3 (``videx.audit``): each commits to its seal and to how many
        entries of the chain are sealed with the key; the head records both (with an HMAC
        over them when keyed)."""
        rows_of = []
        for tx in txs:
            rows = []
            for table, row_key in tx.touched:
                row = self.row_for_hash(table, row_key)
                rows.append((table, row_key, audit.DELETED if row is None
                             else audit.row_hash(table, row)))
            rows_of.append(rows)
        with self.db.pipeline():
            self.db.lock_audit_head()
            answer = self.auditlog.head_and_key()          # read after the lock: the true head
        head, last_alg, head_value, key_setting = answer()
        key = self._chain_key(key_setting, audit.key_id_of(last_alg))
        recorded = audit.parse_head(head_value)
        if head is None:
            sealed = 0
        elif recorded is not None and recorded.hash == head and recorded.sealed is not None:
            sealed = recorded.sealed
        else:                                   # the first entry of format 3 (once)
            sealed = self.auditlog.count_sealed()
        user, at = audit.os_user(), iso_utc(now_utc())
        entries = []
        for tx, rows in zip(txs, rows_of):
            if key is not None:
                sealed += 1
            entry = {"v": audit.FORMAT, "prev_hash": head or audit.GENESIS, "at": at,
                     "user": user, "acting_as": tx.acting_as or self.actor,
                     "command": tx.command,
                     "args": json.dumps(tx.args, sort_keys=True, default=str),
                     "case_no": tx.case_no, "rows_digest": audit.rows_digest(rows),
                     "sealed": sealed}
            entry["alg"], entry["hash"] = audit.seal(entry, key)
            entries.append((entry, rows))
            head = entry["hash"]
        with self.db.pipeline():
            for entry, rows in entries:
                self.auditlog.insert(entry, rows)
            self.auditlog.write_head(audit.new_head(head, sealed, key).value())
            self.db.commit()

    def _chain_key(self, key_id: str | None, last_key_id: str | None = None
                   ) -> audit.AuditKey | None:
        """The key to seal entries with, for the catalog's ``audit_key_id`` setting and the
        key that sealed the newest entry (a chain keyed once stays keyed with that key)."""
        if key_id and last_key_id and key_id != last_key_id:
            raise AuditKeyError(f"the catalog's audit key setting ({key_id}) is not the key "
                                f"of its chain ({last_key_id}): run videx audit verify")
        key_id = key_id or last_key_id
        if key_id is None:
            return None
        key = self.audit_key
        if key is None:
            raise AuditKeyError(f"this catalog's audit chain is keyed (key {key_id}): set "
                                f"{audit.KEY_ENV} to the key file before changing it")
        if key.key_id != key_id:
            raise AuditKeyError(f"the audit key given ({key.key_id}) is not this catalog's "
                                f"({key_id})")
        return key

    # ------------------------------------------------------------ row content for hashing
    def row_for_hash(self, table: str, key: str) -> dict | None:
        """A protected table's row as stored (every column), or None when it does not
        exist."""
        spec = protected.get(table)
        value = int(key) if spec.integer_key else key
        return self.db.one(f'SELECT * FROM "{table}" WHERE "{spec.key}" = ?', [value])

    def iter_rows_for_hash(self, table: str, chunk: int = 5000) -> Iterator[list[dict]]:
        """Every protected row of a table, in key order, ``chunk`` rows at a time."""
        spec = protected.get(table)
        col = f'"{spec.key}"'
        skip = (f" AND {col} NOT IN ({', '.join('?' * len(spec.skip))})" if spec.skip
                else "")
        last = None
        while True:
            if last is None:
                batch = self.db.dicts(f'SELECT * FROM "{table}" WHERE 1 = 1{skip} ORDER BY '
                                      f"{col} LIMIT ?", [*spec.skip, chunk])
            else:
                batch = self.db.dicts(f'SELECT * FROM "{table}" WHERE {col} > ?{skip} ORDER '
                                      f"BY {col} LIMIT ?", [last, *spec.skip, chunk])
            if not batch:
                return
            yield batch
            last = batch[-1][spec.key]

    def protected_keys(self, table: str) -> list:
        """The keys of a table's protected rows."""
        spec = protected.get(table)
        skip = (f' WHERE "{spec.key}" NOT IN ({", ".join("?" * len(spec.skip))})'
                if spec.skip else "")
        return [r[0] for r in self.db.rows(f'SELECT "{spec.key}" FROM "{table}"{skip}',
                                           list(spec.skip))]

    def hashed_row_count(self) -> int:
        """How many rows ``audit verify --deep`` checks."""
        total = 0
        for spec in protected.TABLES:
            skip = (f' WHERE "{spec.key}" NOT IN ({", ".join("?" * len(spec.skip))})'
                    if spec.skip else "")
            total += int(self.db.scalar(f'SELECT count(*) FROM "{spec.table}"{skip}',
                                        list(spec.skip)))
        return total

    def baseline(self, tx: WriteTx, tables: Sequence[str] | None = None) -> int:
        """Touch every protected row (of ``tables``, default all): the first audited state of
        an old catalog, or of tables a migration starts protecting."""
        n = 0
        for table in tables if tables is not None else protected.names():
            for key in self.protected_keys(table):
                tx.touch(table, key)
                n += 1
        return n


def open_catalog(path: str | os.PathLike | None = None, *, create: bool = False,
                 actor: str | None = None) -> Catalog:
    """Open the catalog at ``path`` (or ``$VIDEX_DB``, or ``./videx.db``).

    Only ``create=True`` (``videx init``) makes a new one; otherwise a missing, empty or
    foreign file is refused with one line. Pending migrations are applied when the file is
    writable; a catalog with migrations this videx does not know opens for reading only.
    """
    location = resolve_path(path)
    if "://" in location:
        from videx.store.postgres import open_backend  # optional backend
        return _open(open_backend(location, create=create), location, create, actor)
    target = Path(location)
    exists = target.exists()
    if not exists or target.stat().st_size == 0:
        if not create:
            what = "no catalog" if not exists else "an empty file, not a catalog,"
            raise CatalogError(f"{what} at {target}: run videx init to create one (or check "
                               "--db / VIDEX_DB)")
        if not target.parent.is_dir():
            raise CatalogError(f"folder {target.parent} for the catalog does not exist")
    else:
        if target.is_dir():
            raise CatalogError(f"{target} is a folder, not a catalog file")
    writable = (os.access(target, os.W_OK) if exists else True) and os.access(
        target.parent if str(target.parent) else ".", os.W_OK)
    if create and not writable:
        raise CatalogError(f"cannot create or change {target}: no write permission")
    try:
        backend = SQLiteBackend(target, readonly=not writable)
    except CatalogError:
        raise
    except Exception as err:  # sqlite3.Error: a damaged file
        raise CatalogError(f"cannot open catalog {target}: {err}") from err
    return _open(backend, location, create, actor)


def _open(backend: Backend, location: str, create: bool, actor: str | None) -> Catalog:
    import sqlite3
    try:
        state = schema.inspect(backend)
    except sqlite3.DatabaseError as err:
        backend.close()
        raise CatalogError(f"{location} is not a videx catalog ({err})") from err
    if not state.is_videx and (backend.tables() - {"sqlite_sequence"}) and not create:
        backend.close()
        raise CatalogError(f"{location} is a database but not a videx catalog (no videx "
                           "tables): check --db / VIDEX_DB")
    if not state.is_videx and not create:
        backend.close()
        raise CatalogError(f"no catalog at {location}: run videx init to create one")
    if not state.is_videx and backend.tables() - {"sqlite_sequence"}:
        backend.close()
        raise CatalogError(f"{location} already holds other tables: videx init needs a new "
                           "file or an existing videx catalog")
    cat = Catalog(backend, actor, newer=state.unknown)
    if state.pending and not state.unknown:
        if backend.readonly:
            backend.close()
            raise CatalogError(f"catalog {location} needs upgrading to this videx "
                               f"({', '.join(state.pending)}) but is read-only")
        _migrate(cat, state)
    return cat


def _migrate(cat: Catalog, state: schema.SchemaState) -> None:
    """Apply pending migrations in one write transaction with a "migrate" audit entry.

    Rows of hashed tables that a migration reshapes are re-recorded in that entry, but only
    those that matched their audited state before: tampered rows stay flagged. A catalog from
    before row hashing (videx 0.1) gets every row recorded as its baseline."""
    rehash, rebuilds, protects = schema.pending_needs(state.pending)
    if rebuilds:
        cat.db.set_foreign_keys(False)
    try:
        with cat._transaction(WriteTx("migrate", {}, None)) as tx:
            cat.db.lock_audit_head()          # PostgreSQL: one migrating process at a time
            current = schema.inspect(cat.db)
            if not current.pending:   # another process migrated meanwhile
                tx.cancelled = True
                return
            baseline = "audit_rows" not in cat.db.tables()
            have = cat.db.tables()        # (a table a pending migration makes has no rows yet)
            clean = {} if baseline else {t: _clean_keys(cat, t) for t in rehash if t in have}
            tx.args["applied"] = schema.apply_pending(cat.db, iso_utc(now_utc()))
            if rebuilds:
                problems = cat.db.foreign_key_problems()
                if problems:
                    raise CatalogError(f"migration would break {problems} reference(s); "
                                       "nothing was changed")
            if baseline and state.is_videx:
                tx.args["baseline_rows"] = cat.baseline(tx)
            elif protects and state.is_videx:
                tx.args["baseline_rows"] = cat.baseline(tx, sorted(protects))
            for table, keys in clean.items():
                for key in keys:
                    tx.touch(table, key)
            if clean:
                tx.args["rerecorded_rows"] = sum(len(k) for k in clean.values())
    finally:
        if rebuilds:
            cat.db.set_foreign_keys(True)


def _clean_keys(cat: Catalog, table: str) -> list[str]:
    """Keys of ``table`` whose rows match the hash their last audit entry recorded."""
    keys = []
    col = protected.get(table).key
    for batch in cat.iter_rows_for_hash(table):
        ids = [str(r[col]) for r in batch]
        audited = cat.auditlog.latest_hashes(table, ids)
        keys += [k for k, row in zip(ids, batch)
                 if audited.get(k) == audit.row_hash(table, row)]
    return keys


__all__ = ["Catalog", "WriteTx", "open_catalog", "resolve_path"]
