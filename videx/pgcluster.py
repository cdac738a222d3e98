"""A throwaway PostgreSQL cluster for tests, demos and benchmarks (not for evidence).

``TempCluster`` runs ``initdb`` and ``pg_ctl`` from the system's PostgreSQL (Debian's
``postgresql`` package: ``/usr/lib/postgresql/N/bin``) in a temporary folder, listening only
on a Unix socket there, with ``fsync`` and synchronous commits off (``durable=True`` keeps
PostgreSQL's defaults, as a department server runs). PostgreSQL refuses to run as root, so under root
the server runs as ``nobody`` (``setpriv``). ``database()`` makes a fresh, empty database and
returns its ``postgresql://`` URL.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path


def find_bin(name: str) -> str | None:
    """A PostgreSQL server program on PATH or in Debian's versioned folder (newest first)."""
    found = shutil.which(name)
    if found:
        return found
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True,
                         key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit()
                         else 0):
        if os.access(os.path.join(folder, name), os.X_OK):
            return os.path.join(folder, name)
    return None


def available() -> str | None:
    """None when a temporary cluster can be started here, else why not."""
    if not (find_bin("initdb") and find_bin("pg_ctl")):
        return ("PostgreSQL server programs (initdb, pg_ctl) not found: install Debian's "
                "postgresql package")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install 'videx[server]')"
    if os.geteuid() == 0 and not shutil.which("setpriv"):
        return "running as root without setpriv to start PostgreSQL as another user"
    return None


class TempCluster:
    """A PostgreSQL cluster in a temporary folder; ``stop()`` removes everything."""

    def __init__(self, port: int = 55432, keep: str | os.PathLike | None = None,
                 durable: bool = False):
        """``keep``: a folder that holds the cluster across runs (made on first use, started
        again later, left in place by ``stop()``); default a fresh temporary folder.
        ``durable``: flush the WAL at every commit (PostgreSQL's defaults) instead of never."""
        self.keep = keep is not None
        self.durable = durable
        if keep is not None:
            self.root = Path(keep).resolve()
            self.root.mkdir(parents=True, exist_ok=True)
        else:
            self.root = Path(tempfile.mkdtemp(prefix="videx-pg-"))
        self.data = self.root / "data"
        self.port = port
        self._count = 0
        self._as = []
        if os.geteuid() == 0:
            os.chmod(self.root, 0o755)
            os.chown(self.root, 65534, 65534)
            self._as = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        if not (self.data / "PG_VERSION").exists():
            self._run([find_bin("initdb"), "-D", str(self.data), "-U", "videx",
                       "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
        if self.keep and subprocess.run(self._as + [find_bin("pg_ctl"), "-D", str(self.data),
                                                    "status"], capture_output=True,
                                        cwd=str(self.root)).returncode == 0:
            if self._running_durable() == durable:
                return                         # a kept cluster left running: use it
            self._run([find_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])
        flags = "" if durable else \
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
        self._run([find_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"),
                   "-w", "-t", "60", "-o",
                   f"-k {self.root} -c listen_addresses='' -p {port} {flags}"
                   "-c max_connections=60", "start"])

    def _running_durable(self) -> bool:
        import psycopg
        with psycopg.connect(self.url(), autocommit=True) as conn:
            return [conn.execute(f"SHOW {name}").fetchone()[0]
                    for name in ("fsync", "synchronous_commit")] == ["on", "on"]

    def _run(self, argv: list[str]) -> None:
        done = subprocess.run(self._as + argv, capture_output=True, text=True,
                              cwd=str(self.root), env={**os.environ, "LC_ALL": "C.UTF-8"})
        if done.returncode != 0:
            raise RuntimeError(f"{Path(argv[0]).name} failed: "
                               f"{(done.stderr or done.stdout).strip()[-500:]}")

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://videx@/{dbname}?host={self.root}&port={self.port}"

    def database(self, prefix: str = "t") -> str:
        """A new empty database; its URL."""
        self._count += 1
        return self.create_database(f"{prefix}{os.getpid()}_{self._count}")

    def database_exists(self, name: str) -> bool:
        import psycopg
        with psycopg.connect(self.url(), autocommit=True) as conn:
            return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                (name,)).fetchone() is not None

    def create_database(self, name: str) -> str:
        """Database ``name`` made empty; its URL."""
        import psycopg
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run([find_bin("pg_ctl"), "-D", str(self.data),
                       "-m", "fast" if self.keep else "immediate", "-w", "stop"])
        finally:
            if not self.keep:
                shutil.rmtree(self.root, ignore_errors=True)
