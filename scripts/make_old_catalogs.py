#!/usr/bin/env python3
"""Make the catalogs of fixtures/catalogs/ with an OLDER videx, for the upgrade tests.

    git archive 05bf443 | tar -x -C /tmp/videx-old      # videx before audit format 3
    .venv/bin/python scripts/make_old_catalogs.py /tmp/videx-old

Runs that videx's command line (``PYTHONPATH=OLD python -m videx``) to build, from the
fixtures: ``v2-plain.db`` (two cameras, five incidents, two clips, an outcome, a review, a
user, the zone and bounds, format 2 audit entries) with a format 1 checkpoint
``v2-plain.checkpoint.json``, and ``v2-keyed.db``, the same keyed with ``v2-keyed.key`` (a
test key, not a secret) and one more outcome after keying. tests/test_upgrade.py opens them
with this videx.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
OUT = FIXTURES / "catalogs"
CAMERAS = ("CITY-001", "RING-002")
INCIDENTS = ("HPD-23-004120", "HPD-19-001070", "HPD-19-001462", "HPD-20-000101",
             "HPD-21-000202")


def subset(path: Path, ids: tuple[str, ...], count: int | None = None) -> str:
    rows = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))
    keep = [r for r in rows if r["id"] in ids] or rows[:count]
    if count and len(keep) < count:
        keep += [r for r in rows if r not in keep][:count - len(keep)]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(keep)
    return buf.getvalue()


def build(old: Path, db: Path, work: Path, keyed: bool) -> None:
    env = {**os.environ, "PYTHONPATH": str(old), "VIDEX_DB": str(db)}
    env.pop("VIDEX_AUDIT_KEY", None)

    def videx(*args, input=None, ok=(0,)):
        done = subprocess.run([sys.executable, "-m", "videx", *map(str, args)], env=env,
                              input=input, capture_output=True, text=True, cwd=work)
        if done.returncode not in ok:
            raise SystemExit(f"videx {' '.join(map(str, args))}: {done.stderr}")
        return done
    (work / "cams.csv").write_text(subset(FIXTURES / "cameras.csv", CAMERAS))
    (work / "incs.csv").write_text(subset(FIXTURES / "incidents.csv", INCIDENTS, 5))
    clips = work / "clips"
    for cam, name in (("CITY-001", "20230501_142956.mp4"),
                      ("RING-002", "FrontDoor_2023-05-01T18-31-27Z.mp4")):
        (clips / cam).mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURES / "clips" / cam / name, clips / cam / name)
    videx("init", "--bounds", "41.72,-72.72,41.81,-72.64", "--tz", "America/New_York")
    videx("cameras", "import", work / "cams.csv")
    videx("incidents", "import", work / "incs.csv")
    videx("ingest", clips, "--camera-from-folder", "--jobs", "1")
    videx("outcome", "HPD-23-004120", "RING-002", "--status", "requested", "--note", "letter")
    videx("review", "HPD-23-004120", "1", "--probative", "--note", "figure at 0:04")
    videx("users", "add", "jdoe", "--role", "detective", "--password-stdin",
           input="a-long-password\n")
    videx("canvass", "HPD-23-004120")
    if keyed:
        key = OUT / "v2-keyed.key"
        key.unlink(missing_ok=True)
        videx("audit", "key", "--out", key)
        env["VIDEX_AUDIT_KEY"] = str(key)
        videx("outcome", "HPD-23-004120", "RING-002", "--status", "obtained")
    else:
        cp = OUT / "v2-plain.checkpoint.json"
        cp.unlink(missing_ok=True)
        videx("audit", "checkpoint", "--out", cp)
        videx("outcome", "HPD-23-004120", "CITY-001", "--status", "no-footage")
    videx("audit", "verify", "--deep")
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()


def main() -> None:
    if len(sys.argv) != 2 or not (Path(sys.argv[1]) / "videx" / "catalog.py").is_file():
        raise SystemExit(__doc__)
    old = Path(sys.argv[1]).resolve()
    OUT.mkdir(exist_ok=True)
    for keyed, name in ((False, "v2-plain.db"), (True, "v2-keyed.db")):
        (OUT / name).unlink(missing_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            build(old, OUT / name, Path(tmp), keyed)
        print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()
