#!/usr/bin/env python3
"""Concurrency and crash soak tests for the catalog (real processes, a real catalog).

    scripts/stress.py concurrent --db PATH|URL [--seconds 60]   # 4 writers, 4 verifiers, 4 readers
    scripts/stress.py kills --db PATH [--kills 50]              # kill -9 during ingest

``concurrent`` runs 12 worker processes for the given time on a SQLite file or a PostgreSQL
catalog: writers (ingest of new files, outcomes, reviews, camera re-imports), verifiers
(``audit verify``, one of them ``--deep``, again and again while the others write: any
failure is a false alarm) and readers (canvass, which writes an audit entry each time).
Every command's exit code is recorded; at the end every write must be in the catalog and
``audit verify --deep`` must pass. ``kills`` starts ``videx ingest`` over a folder again and
again and kills it with SIGKILL at a random moment; after each kill the database must pass
SQLite's integrity check and every catalogued clip must be covered by an audit entry.

The catalog must already hold the fixture city (see tests/test_integrity.py, which runs both).
Exit status 0 when every check passed; the summary is printed as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from multiprocessing import Process, Queue
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_CLIP = ROOT / "fixtures" / "clips" / "CITY-001" / "20230501_142956.mp4"
INCIDENT = "HPD-23-004120"


def unique_clip(folder: Path, n: int, prefix: str = "") -> Path:
    """A valid fixture clip with one media byte changed (a new SHA-256), named in the compact
    pattern so its start time is read from the name."""
    data = bytearray(FIXTURE_CLIP.read_bytes())   # moov first, media data at the end
    pos = len(data) - 200 - (n % 150)
    data[pos] ^= 0x01 + (n // 150) % 250
    day, hour, minute = 1 + n // 1440 % 28, n // 60 % 24, n % 60
    path = folder / f"{prefix}202305{day:02d}_{hour:02d}{minute:02d}00.mp4"
    path.write_bytes(bytes(data))
    return path


def cli(args: list[str], env: dict) -> int:
    """Run one videx command in a new process; its exit code."""
    return subprocess.run([sys.executable, "-m", "videx", *args], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode


# ------------------------------------------------------------------ workers
def worker(kind: str, index: int, db: str, work: str, until: float, out: Queue) -> None:
    env = {**os.environ, "VIDEX_DB": db}
    done, failed, wrote = 0, [], []
    rng = random.Random(index)
    folder = Path(work) / f"{kind}-{index}"
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    while time.time() < until:
        n += 1
        if kind == "ingest":
            clip = unique_clip(folder, n + 1000 * index, prefix=f"w{index}_")
            args, mark = ["ingest", str(clip), "--camera", "CITY-001"], str(clip.resolve())
        elif kind == "outcome":
            mark = f"outcome {index}-{n}"
            args = ["outcome", INCIDENT, "PRIV-001", "--status", "requested", "--note", mark]
        elif kind == "review":
            mark = f"review {index}-{n}"
            args = ["review", INCIDENT, "1", "--probative", "--note", mark]
        elif kind == "cameras":
            mark = f"rev {index}-{n}"
            csv = folder / "cam.csv"
            csv.write_text("id,name,source,integration,lat,lon,clock_offset_s\n"
                           f"STRESS-1,{mark},city,connected,41.7605,-72.6858,{n % 5}\n")
            args = ["cameras", "import", str(csv), "--update"]
        elif kind == "verify":
            mark, args = None, ["audit", "verify"] + (["--deep"] if index % 2 else [])
        else:
            mark, args = None, ["canvass", INCIDENT, "--format", "json"]
        code = cli(args, env)
        done += 1
        if code != 0:
            failed.append({"args": args, "code": code})
        elif mark:
            wrote.append(mark)
        time.sleep(rng.uniform(0, 0.05))
    out.put({"kind": kind, "index": index, "done": done, "failed": failed, "wrote": wrote})


def concurrent(db: str, seconds: float, work: str) -> dict:
    """4 writers + 4 verifiers + 4 readers for ``seconds``; returns the checks."""
    kinds = ["ingest", "outcome", "review", "cameras"] + ["verify"] * 4 + ["canvass"] * 4
    q: Queue = Queue()
    start = time.time()
    until = start + seconds
    before = _count(db, "SELECT count(*) FROM audit WHERE command = 'canvass'")
    procs = [Process(target=worker, args=(k, i, db, work, until, q)) for i, k in
             enumerate(kinds)]
    for p in procs:
        p.start()
    results = [q.get() for _ in procs]
    for p in procs:
        p.join()
    conn = _connect(db)
    by_kind: dict[str, list] = {}
    for r in results:
        by_kind.setdefault(r["kind"], []).append(r)
    lost = []
    paths = {r[0] for r in conn.execute("SELECT path FROM clips")}
    lost += [m for r in by_kind["ingest"] for m in r["wrote"] if m not in paths]
    notes = {r[0] for r in conn.execute("SELECT note FROM outcomes")}
    lost += [m for r in by_kind["outcome"] for m in r["wrote"] if m not in notes]
    notes = {r[0] for r in conn.execute("SELECT note FROM reviews")}
    lost += [m for r in by_kind["review"] for m in r["wrote"] if m not in notes]
    last_rev = by_kind["cameras"][0]["wrote"][-1] if by_kind["cameras"][0]["wrote"] else None
    name = conn.execute("SELECT name FROM cameras WHERE id = 'STRESS-1'").fetchone()
    if last_rev and (name is None or name[0] != last_rev):
        lost.append(f"camera name {name} != {last_rev}")
    canvasses = sum(r["done"] - len(r["failed"]) for r in by_kind["canvass"])
    logged = _count(db, "SELECT count(*) FROM audit WHERE command = 'canvass'") - before
    conn.close()
    env = {**os.environ, "VIDEX_DB": db}
    return {
        "seconds": round(time.time() - start, 1),
        "commands": sum(r["done"] for r in results),
        "by_kind": {k: sum(r["done"] for r in v) for k, v in by_kind.items()},
        "failed": [f for r in results for f in r["failed"]],
        "false_alarms": [f for r in by_kind["verify"] for f in r["failed"]],
        "lost_writes": lost,
        "canvass_entries": {"run": canvasses, "logged": logged},
        "audit_verify": cli(["audit", "verify"], env),
        "audit_verify_deep": cli(["audit", "verify", "--deep"], env),
    }


class _connect:
    """A plain connection to the catalog (a SQLite file or a postgresql:// URL), outside
    videx, for the checks."""

    def __init__(self, db: str):
        self.pg = "://" in db
        if self.pg:
            import psycopg
            self.conn = psycopg.connect(db, autocommit=True)
        else:
            self.conn = sqlite3.connect(db)

    def execute(self, sql: str, params=()):
        return self.conn.execute(sql.replace("?", "%s") if self.pg else sql, params)

    def close(self) -> None:
        self.conn.close()


def _count(db: str, sql: str) -> int:
    conn = _connect(db)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


# ------------------------------------------------------------------ kill -9
def kills(db: str, work: str, times: int, files: int, seed: int = 1) -> dict:
    """SIGKILL an ingest ``times`` times at random moments; check after each; rerun at the
    end."""
    rng = random.Random(seed)
    folder = Path(work) / "CITY-001"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for n in range(files):
        unique_clip(folder, n)
    env = {**os.environ, "VIDEX_DB": db}
    args = [sys.executable, "-m", "videx", "ingest", str(folder), "--camera", "CITY-001"]
    problems, counts = [], []
    for i in range(times):
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.4, 3.0))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        problems += [f"kill {i + 1}: {p}" for p in _after_crash(db)]
        counts.append(_count(db, "SELECT count(*) FROM clips WHERE camera_id = 'CITY-001'"))
    final = subprocess.run(args, env=env, capture_output=True, text=True)
    problems += [f"final: {p}" for p in _after_crash(db)]
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT count(*), count(DISTINCT path) FROM clips WHERE path LIKE ?",
                        [str(folder.resolve()) + "/%"]).fetchone()
    conn.close()
    if rows != (files, files):
        problems.append(f"after the rerun {rows[0]} rows for {rows[1]} paths, expected {files}")
    return {"kills": times, "files": files, "catalogued_after_each_kill": counts,
            "final_exit": final.returncode, "problems": problems,
            "audit_verify_deep": cli(["audit", "verify", "--deep"], env)}


def _after_crash(db: str) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        out = []
        ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if ok != "ok":
            out.append(f"integrity_check: {ok}")
        orphans = conn.execute(
            "SELECT count(*) FROM clips c WHERE NOT EXISTS (SELECT 1 FROM audit_rows a WHERE "
            "a.tbl = 'clips' AND a.row_key = CAST(c.id AS TEXT))").fetchone()[0]
        if orphans:
            out.append(f"{orphans} catalogued clip(s) without an audit entry")
        return out
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="which", required=True)
    c = sub.add_parser("concurrent")
    c.add_argument("--db", required=True)
    c.add_argument("--seconds", type=float, default=60.0)
    c.add_argument("--work", default="stress-work")
    k = sub.add_parser("kills")
    k.add_argument("--db", required=True)
    k.add_argument("--kills", type=int, default=50)
    k.add_argument("--files", type=int, default=120)
    k.add_argument("--work", default="stress-work")
    args = parser.parse_args()
    if args.which == "concurrent":
        result = concurrent(args.db, args.seconds, args.work)
        ok = (not result["failed"] and not result["lost_writes"] and not result["false_alarms"]
              and result["audit_verify"] == result["audit_verify_deep"] == 0)
    else:
        result = kills(args.db, args.work, args.kills, args.files)
        ok = not result["problems"] and result["audit_verify_deep"] == 0
    print(json.dumps(result, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
