"""What every page of a server process shares: pooled catalog connections and the batched
audit entries of page views.

``CatalogPool`` lends ``Catalog`` objects over reused connections; ``AuditBatcher`` writes the
audit entries of actions that change no row (page views, plays) in batches, one transaction for
whatever arrived while the last batch was being written.
"""

from __future__ import annotations

import contextlib
import threading

from videx.errors import CatalogError, VidexError


class CatalogPool:
    """Open connections to one catalog, reused across requests (a PostgreSQL connection costs
    milliseconds to open; a SQLite one less, but still more than a query).

    ``catalog(actor)`` lends a ``Catalog`` acting as ``actor`` over a pooled connection; the
    first connection is opened with ``open_catalog`` (so a catalog that needs migrating is
    migrated, once). A connection that saw an error is closed, not reused."""

    def __init__(self, location: str, keep: int = 16):
        import queue
        self.location, self.keep = location, keep
        self.free: queue.LifoQueue = queue.LifoQueue()
        self.newer: tuple[str, ...] = ()

    def _backend(self):
        import queue

        from videx.catalog import open_catalog
        while True:
            try:
                backend = self.free.get_nowait()
            except queue.Empty:
                cat = open_catalog(self.location)
                self.newer = cat.newer
                return cat.db
            if not getattr(getattr(backend, "conn", None), "closed", False):
                return backend          # (a server restart closes PostgreSQL connections)
            backend.close()

    @contextlib.contextmanager
    def catalog(self, actor: str | None):
        from videx.catalog import Catalog
        backend = self._backend()
        try:
            yield Catalog(backend, actor, newer=self.newer)
        except VidexError:
            self._give_back(backend)        # an answer (not found, refused): reusable
            raise
        except BaseException:
            backend.close()                 # anything else: do not trust the connection
            raise
        self._give_back(backend)

    def _give_back(self, backend) -> None:
        try:
            backend.rollback()              # nothing left open for the next request
        except Exception:  # noqa: BLE001 - a broken connection is dropped
            backend.close()
            return
        if self.free.qsize() < self.keep:
            self.free.put(backend)
        else:
            backend.close()


# Threads per server process for pages' catalog work. A page is mostly Python holding the
# GIL: forty threads at once (Starlette's default) only queue on it, each pausing the others.
# Measured at 10M clips, 20 users, alternating: SQLite p95 60-135 ms (median 124) with 40
# threads, 64-117 (95) with 8, 62-77 (71) with 4.
PAGE_THREADS = 4


class AuditBatcher:
    """Audit entries for actions that change no row (page views, sign-ins), written by one
    thread per server process in batches: whatever arrived while the last batch was being
    written goes in the next one, in one transaction (one audit lock, one commit: one WAL
    flush on PostgreSQL). ``submit`` hands back a future that is done once the entry is
    committed (its result: None, or the reason it could not be written, as
    ``Catalog.record``); pages wait for it outside their worker threads and only then answer,
    so nothing is shown before it is on record. Under load this replaces a queue of
    single-entry transactions, each holding the audit lock through its own commit."""

    MAX_BATCH = 64

    def __init__(self, pool: CatalogPool):
        import queue
        self.pool = pool
        self.requests: queue.SimpleQueue = queue.SimpleQueue()
        self.thread: threading.Thread | None = None
        self.start_lock = threading.Lock()

    def submit(self, actor: str | None, command: str, args: dict, case_no: str | None = None):
        """Queue an entry; a ``concurrent.futures.Future`` of its outcome."""
        from concurrent.futures import Future
        done: Future = Future()
        self._start()
        self.requests.put(((actor, command, args, case_no), done))
        return done

    def record(self, actor: str | None, command: str, args: dict,
               case_no: str | None = None) -> str | None:
        """``submit`` and wait (from a thread that may block)."""
        return self.submit(actor, command, args, case_no).result()

    def _start(self) -> None:
        if self.thread is None:
            with self.start_lock:             # started lazily: after the worker forked
                if self.thread is None:
                    self.thread = threading.Thread(target=self._run, name="videx-audit",
                                                   daemon=True)
                    self.thread.start()

    def _run(self) -> None:
        import queue
        while True:
            batch = [self.requests.get()]
            while len(batch) < self.MAX_BATCH:
                try:
                    batch.append(self.requests.get_nowait())
                except queue.Empty:
                    break
            try:
                with self.pool.catalog(None) as cat:
                    note = cat.record_many([action for action, _ in batch])
            except BaseException as err:  # noqa: BLE001 - every waiting request is told
                for _, done in batch:         # (each its own error: they raise in parallel)
                    done.set_exception(CatalogError(
                        f"the audit entry could not be written: {err}"))
                continue
            for _, done in batch:
                done.set_result(note)


