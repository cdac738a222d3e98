#!/usr/bin/env python3
"""videx benchmarks. Each prints its figures against a baseline measured in the same run.

    scripts/bench.py canvass [--cameras 10000 --clips 10000000 --queries 300 --rounds 3]
    scripts/bench.py canvass-all [--large]
    scripts/bench.py ingest  [--files 150 --memory-files 100000]
    scripts/bench.py scan    [--hour-seconds 3600]
    scripts/bench.py extract [--small 150 --large 8]
    scripts/bench.py startup [--runs 15]
    scripts/bench.py study   [--cases 100000]
    scripts/bench.py serve   [--cameras 10000 --clips 10000000 --users 20 --pg --pg-keep DIR]
    scripts/bench.py intake  [--size-mb 1024 --runs 3]
    scripts/bench.py upload  [--size-mb 1024 --runs 3]
    scripts/bench.py verify  [--cameras 10000 --clips 10000000 --package-mb 1000]

Synthetic data goes to bench-data/ (reused between runs; delete it to rebuild).
Figures for docs/performance.md; nothing here is a pass/fail test.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from videx import catalog  # noqa: E402
from videx.canvass import adhoc_incident, canvass_incident  # noqa: E402
from videx.timeutil import from_ts  # noqa: E402

DATA = ROOT / "bench-data"
SOUTH, WEST, NORTH, EAST = 41.72, -72.72, 41.81, -72.64
T_START = 1_546_300_800.0  # 2019-01-01T00:00:00Z
T_SPAN = 5 * 365 * 86400.0


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


# ------------------------------------------------------------------ canvass
def build_canvass_catalog(path: Path, n_cameras: int, n_clips: int, seed: int = 7):
    rng = random.Random(seed)
    db = catalog.open_catalog(path, create=True)
    conn = db.db.conn   # synthetic bulk data goes straight into SQLite (no audit entries)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA journal_mode = OFF")
    cams = []
    for i in range(n_cameras):
        cams.append((f"B{i:05d}", "city" if i % 3 else "private",
                     "connected" if i % 5 else "registered", rng.uniform(SOUTH, NORTH),
                     rng.uniform(WEST, EAST), rng.uniform(0, 360), 90.0, 150.0, 30.0,
                     600.0, "2026-01-01T00:00:00Z"))
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO cameras (id, source, integration, lat, lon, heading_deg, "
                     "fov_deg, range_m, retention_days, max_clip_s, updated_at) VALUES "
                     "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", cams)
    conn.execute("COMMIT")
    # Build the clip table without its indexes, then index once (much faster than keeping
    # the indexes up to date row by row).
    conn.execute("DROP INDEX idx_clips_camera_start")
    conn.execute("DROP INDEX idx_clips_sha256")
    per_cam = n_clips // n_cameras

    def rows():
        n = 0
        for cam in cams:
            starts = sorted(rng.uniform(T_START, T_START + T_SPAN) for _ in range(per_cam))
            for s in starts:
                n += 1
                d = rng.uniform(30.0, 600.0)
                yield (cam[0], f"/evidence/{cam[0]}/{n}.mp4", f"{n:016x}", 1_000_000, d,
                       "x", s, "x", s, "x", s + d, "filename", "high", "x")
                if n % 1_000_000 == 0:
                    print(f"  {n:,} clips", file=sys.stderr, flush=True)

    conn.execute("BEGIN")
    conn.executemany("INSERT INTO clips (camera_id, path, sha256, size_bytes, duration_s, "
                     "start_raw, start_raw_ts, start, start_ts, \"end\", end_ts, time_source, "
                     "time_confidence, ingested_at) VALUES "
                     "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows())
    conn.execute("COMMIT")
    print("  indexing", file=sys.stderr, flush=True)
    conn.execute("CREATE INDEX idx_clips_camera_start ON clips (camera_id, start_ts)")
    conn.execute("CREATE INDEX idx_clips_sha256 ON clips (sha256)")
    conn.execute("ANALYZE")
    db.close()


SCAN_QUERY = """
    SELECT id, path, sha256, start_ts, end_ts FROM clips NOT INDEXED
    WHERE camera_id IN ({}) AND start_ts < ? AND end_ts > ?"""


PLAIN_QUERY = """
    SELECT c.id, c.lat, c.lon, k.id, k.path, k.start_ts, k.end_ts
    FROM cameras c LEFT JOIN clips k
      ON k.camera_id = c.id AND k.start_ts < ? AND k.end_ts > ?
    WHERE c.lat BETWEEN ? AND ? AND c.lon BETWEEN ? AND ?"""


def bench_canvass(args):
    DATA.mkdir(exist_ok=True)
    path = DATA / f"canvass-{args.cameras}x{args.clips}.db"
    if not path.exists():
        print(f"building {path.name} ({args.cameras:,} cameras, {args.clips:,} clips)...",
              file=sys.stderr)
        t = time.perf_counter()
        build_canvass_catalog(path.with_suffix(".tmp"), args.cameras, args.clips)
        path.with_suffix(".tmp").rename(path)
        print(f"  built in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    db = catalog.open_catalog(path)
    rng = random.Random(11)
    incidents = []
    for i in range(args.queries):
        t = rng.uniform(T_START + 3600, T_START + T_SPAN - 3600)
        incidents.append(adhoc_incident(f"Q{i}", rng.uniform(SOUTH + 0.005, NORTH - 0.005),
                                        rng.uniform(WEST + 0.005, EAST - 0.005), from_ts(t)))
    def plain_query(inc):
        t0, t1 = inc.occurred_ts - 1800, inc.occurred_ts + 900
        dlat = 250 / 111_320
        dlon = dlat / math.cos(math.radians(inc.lat))
        return db.db.rows(PLAIN_QUERY, [t1, t0, inc.lat - dlat, inc.lat + dlat,
                                        inc.lon - dlon, inc.lon + dlon])
    for inc in incidents:        # warm SQLite's and the OS's caches for both
        canvass_incident(db, inc, record=False)
        plain_query(inc)
    # The canvass and the baseline, the plain overlap query a hand-written tool would run
    # (cameras in the radius's bounding box joined to their clips overlapping the window, on
    # the same index; rows as tuples; no exact distance, view wedge, coverage, gaps or
    # deadline), timed alternately incident by incident so that load on the machine falls
    # on both alike.
    lat_ms, plain_ms, cams, clips = [], [], 0, 0

    def time_canvass(inc):
        nonlocal cams, clips
        t = time.perf_counter()
        res = canvass_incident(db, inc, record=False)
        lat_ms.append((time.perf_counter() - t) * 1000)
        cams += len(res.cameras)
        clips += sum(len(c.clips) for c in res.cameras)

    def time_plain(inc):
        t = time.perf_counter()
        plain_query(inc)
        plain_ms.append((time.perf_counter() - t) * 1000)
    for r in range(args.rounds):
        for k, inc in enumerate(incidents):     # which goes first alternates
            first, second = (time_canvass, time_plain) if (k + r) % 2 else \
                (time_plain, time_canvass)
            first(inc)
            second(inc)
    # Baseline: the same question answered by scanning the clip table (no index).
    scan_ms = []
    for inc in incidents[: args.scan_queries]:
        ids = [c.camera_id for c in canvass_incident(db, inc, record=False).cameras]
        t0, t1 = inc.occurred_ts - 1800, inc.occurred_ts + 900
        t = time.perf_counter()
        db.db.rows(SCAN_QUERY.format(",".join("?" * len(ids))), ids + [t1, t0])
        scan_ms.append((time.perf_counter() - t) * 1000)
    med, p95, scan_med = statistics.median(lat_ms), pct(lat_ms, 95), statistics.median(scan_ms)
    plain_med = statistics.median(plain_ms)
    result = {"benchmark": "canvass", "cameras": args.cameras, "clips": args.clips,
              "queries": len(lat_ms), "mean_cameras_per_canvass": round(cams / len(lat_ms), 1),
              "mean_clips_per_canvass": round(clips / len(lat_ms), 2),
              "median_ms": round(med, 3), "p95_ms": round(p95, 3),
              "scan_median_ms": round(scan_med, 1), "scan_queries": len(scan_ms),
              "speedup_vs_scan": round(scan_med / med, 1),
              "plain_overlap_median_ms": round(plain_med, 3),
              "ratio_to_plain_overlap": round(med / plain_med, 2)}
    print(json.dumps(result, indent=2))
    print(f"canvass: median {med:.3f} ms vs the plain overlap query {plain_med:.3f} ms "
          f"({med / plain_med:.2f}x its time)")
    print(f"canvass: median {med:.2f} ms, p95 {p95:.2f} ms over {len(lat_ms)} incidents; "
          f"full scan median {scan_med:.0f} ms -> {scan_med / med:.0f}x faster")


# ------------------------------------------------------------------ canvass-all
def add_incidents(path: Path, n: int, seed: int = 13) -> None:
    """``n`` synthetic incidents over five years and the city (through the catalog layer)."""
    cat = catalog.open_catalog(path)
    if cat.db.scalar("SELECT count(*) FROM incidents") >= n:
        cat.close()
        return
    rng = random.Random(seed)
    with cat.write("bench incidents"):
        for i in range(n):
            t = rng.uniform(T_START + 3600, T_START + T_SPAN - 3600)
            cat.incidents.upsert({
                "id": f"I{i:06d}", "occurred_at": from_ts(t).isoformat(), "occurred_ts": t,
                "time_source": "bench", "lat": rng.uniform(SOUTH + 0.005, NORTH - 0.005),
                "lon": rng.uniform(WEST + 0.005, EAST - 0.005),
                "neighborhood": f"N{i % 20}"}, "x")
    cat.close()


def time_batch(path: Path, n_incidents: int) -> dict:
    """Seconds for the batch canvass of every incident and for a per-incident loop over the
    same incidents with the library call (the baseline), in one process."""
    from videx.canvass import canvass_incident, canvass_many, select_incidents
    cat = catalog.open_catalog(path)
    incidents, _ = select_incidents(cat)
    incidents = incidents[:n_incidents]
    t = time.perf_counter()
    pairs = sum(len(r.cameras) for r in canvass_many(cat, incidents))
    batch = time.perf_counter() - t
    t = time.perf_counter()
    loop_pairs = sum(len(canvass_incident(cat, inc, record=False).cameras) for inc in incidents)
    loop = time.perf_counter() - t
    assert loop_pairs == pairs
    cat.close()
    return {"incidents": len(incidents), "incident_camera_pairs": pairs,
            "batch_s": round(batch, 2), "per_incident_loop_s": round(loop, 2),
            "speedup": round(loop / batch, 2)}


def bench_canvass_all(args):
    DATA.mkdir(exist_ok=True)
    small = DATA / "canvass-all-600.db"
    if not small.exists():
        build_canvass_catalog(small, 600, 0)
    add_incidents(small, 1500)
    results = [{"catalog": "600 cameras, registry only", **time_batch(small, 1500)}]
    cli = [sys.executable, "-m", "videx", "--", "canvass", "--all", "--summary", "--format",
           "csv"]
    cli = [c for c in cli if c != "--"]
    t = time.perf_counter()
    subprocess.run(cli, env={**os.environ, "VIDEX_DB": str(small)}, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results[0]["whole_cli_s"] = round(time.perf_counter() - t, 2)
    if args.large:
        big = DATA / f"canvass-{args.cameras}x{args.clips}.db"
        if not big.exists():
            raise SystemExit(f"{big} missing: run scripts/bench.py canvass first (it builds it)")
        add_incidents(big, args.incidents)
        results.append({"catalog": f"{args.cameras:,} cameras, {args.clips:,} clips",
                        **time_batch(big, args.incidents)})
    print(json.dumps({"benchmark": "canvass-all", "runs": results}, indent=2))
    for r in results:
        print(f"canvass --all, {r['incidents']:,} incidents x {r['catalog']}: batch "
              f"{r['batch_s']} s vs per-incident loop {r['per_incident_loop_s']} s "
              f"({r['speedup']}x)" + (f"; whole CLI {r['whole_cli_s']} s"
                                      if "whole_cli_s" in r else ""))


# ------------------------------------------------------------------ start-up
STARTUP_COMMANDS = [
    ("videx --version", ["--version"]),
    ("videx canvass ID", ["canvass", "I000001"]),
    ("videx clips list", ["clips", "list", "--camera", "B00001"]),
    ("videx incidents list", ["incidents", "list", "--from", "2023-01-01", "--to",
                              "2023-01-02"]),
    ("videx audit verify", ["audit", "verify"]),
    # the heavy families, up to their first answer (an id or file that is not there): the
    # start-up each pays before doing its work
    ("videx scan CLIP", ["scan", "999999999"]),
    ("videx frame CLIP", ["frame", "999999999", "--at", "0"]),
    ("videx extract ID", ["extract", "NO-SUCH-INCIDENT", "--out", str(DATA / "no-pkg")]),
    ("videx report ID", ["report", "NO-SUCH-INCIDENT", "--out", str(DATA / "no-report.html")]),
    ("videx ingest PATH", ["ingest", str(DATA / "no-such-folder"), "--camera", "B00001"]),
    ("videx cameras import FILE", ["cameras", "import", str(DATA / "no-such.csv")]),
    ("videx study run (spec)", ["study", "run", "--cases", str(DATA / "no-such.csv")]),
]


def wall(argv: list[str], env: dict, runs: int) -> float:
    """Median wall time (s) of a command over ``runs`` runs (after one warm-up)."""
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_startup(args):
    """Each command as a whole process against ``python -c "import click"`` (the least a
    Click program can start in), the two alternating, medians of ``--runs``: the ratio is
    what videx adds to Click's own start-up."""
    DATA.mkdir(exist_ok=True)
    db = DATA / "canvass-all-600.db"
    if not db.exists():
        build_canvass_catalog(db, 600, 0)
    add_incidents(db, 1500)
    env = {**os.environ, "VIDEX_DB": str(db)}
    videx = str(Path(sys.executable).parent / "videx")
    click_argv = [sys.executable, "-c", "import click"]
    # byte-compiled, as an installed videx is (scripts/setup.sh does the same): a stale .pyc
    # under PYTHONDONTWRITEBYTECODE would be compiled again at every start
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "videx")],
                   check=True, stdout=subprocess.DEVNULL)
    rows = []
    for label, argv in STARTUP_COMMANDS:
        base, mine, base_cpu, mine_cpu = alternating_cpu(click_argv, [videx, *argv], env,
                                                         args.runs)
        rows.append({"command": label, "median_s": round(mine, 4),
                     "import_click_s": round(base, 4), "ratio": round(mine / base, 2),
                     "cpu_s": round(mine_cpu, 4), "import_click_cpu_s": round(base_cpu, 4),
                     "cpu_ratio": round(mine_cpu / base_cpu, 2)})
    print(json.dumps({"benchmark": "startup", "commands": rows}, indent=2))
    for r in rows:
        print(f"{r['command']}: {r['median_s'] * 1000:.0f} ms wall vs python -c 'import click' "
              f"{r['import_click_s'] * 1000:.0f} ms -> {r['ratio']}x (CPU {r['cpu_s'] * 1000:.0f}"
              f" vs {r['import_click_cpu_s'] * 1000:.0f} ms -> {r['cpu_ratio']}x)")


def alternating(first: list[str], second: list[str], env: dict, runs: int
                ) -> tuple[float, float]:
    """Median wall times (s) of two commands run in turn ``runs`` times each (after a
    warm-up of each), so both see the same machine."""
    a, b, _, _ = alternating_cpu(first, second, env, runs)
    return a, b


def alternating_cpu(first: list[str], second: list[str], env: dict, runs: int
                    ) -> tuple[float, float, float, float]:
    """``alternating``, also with the median CPU time (user + system, s) of each command's
    process: on a shared or virtual machine wall times wander, CPU time much less."""
    for argv in (first, second):
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall: tuple[list, list] = ([], [])
    cpu: tuple[list, list] = ([], [])
    for _ in range(runs):
        for k, argv in enumerate((first, second)):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wall[k].append(time.perf_counter() - t)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[k].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return (statistics.median(wall[0]), statistics.median(wall[1]),
            statistics.median(cpu[0]), statistics.median(cpu[1]))


# ------------------------------------------------------------------ ingest
def make_clip_files(folder: Path, n: int) -> list[Path]:
    """``n`` distinct valid clips: copies of one fixture clip with one mdat byte changed and a
    file name carrying a distinct time."""
    src = ROOT / "fixtures" / "clips" / "CITY-001" / "20230501_142956.mp4"
    data = bytearray(src.read_bytes())
    mdat = data.find(b"mdat") + 64
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = folder / f"{20230501 + (i // 86400) % 28:08d}_{(i % 86400) // 3600:02d}" \
                     f"{(i % 3600) // 60:02d}{i % 60:02d}_{i}.mp4"
        if not p.exists():
            data[mdat:mdat + 4] = i.to_bytes(4, "big")
            p.write_bytes(data)
        paths.append(p)
    return paths


def ingest_child(db_path, folder, jobs):
    """Run one ingest in a fresh process; print JSON with seconds and peak RSS (MB) of this
    process and of its children (ffprobe fallbacks, if any)."""
    from videx import ingest
    db = catalog.open_catalog(db_path, create=True)
    with db.write("bench camera"):
        db.cameras.upsert({"id": "BENCH", "source": "city", "integration": "connected",
                           "lat": 41.76, "lon": -72.68, "tz": "America/New_York"}, "x")
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    report = ingest.ingest(db, [folder], camera_id="BENCH", jobs=jobs)
    secs = time.perf_counter() - t
    readers = db.db.rows("SELECT probed_with, count(*) FROM clips GROUP BY 1")
    print(json.dumps({"seconds": secs, "added": len(report.added),
                      "rejected": len(report.rejected), "rss_start_mb": rss0,
                      "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "children_rss_peak_mb":
                          resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                      "readers": {r[0]: r[1] for r in readers}}))


def run_child(folder, jobs):
    db_path = DATA / "ingest-bench.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db_path) + suffix).unlink(missing_ok=True)
    out = subprocess.run([sys.executable, __file__, "_ingest_child", str(db_path), str(folder),
                          str(jobs)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def whole_process_ingest(folder: Path, jobs: int) -> tuple[float, float]:
    """Wall seconds of the whole ``videx ingest`` command (start-up included) on a fresh
    catalog, and the peak RSS (MB) of that process and its children (the largest of them)."""
    db_path = DATA / "ingest-whole.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db_path) + suffix).unlink(missing_ok=True)
    db = catalog.open_catalog(db_path, create=True)
    with db.write("bench camera"):
        db.cameras.upsert({"id": "BENCH", "source": "city", "integration": "connected",
                           "lat": 41.76, "lon": -72.68, "tz": "America/New_York"}, "x")
    db.close()
    videx = str(Path(sys.executable).parent / "videx")
    env = {**os.environ, "VIDEX_DB": str(db_path)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    t = time.perf_counter()
    subprocess.run([videx, "ingest", str(folder), "--camera", "BENCH", "--jobs", str(jobs)],
                   env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    secs = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return secs, max(after, before)


BARE_INGEST = r"""
import hashlib, sys
from pathlib import Path
import av
for p in sorted(Path(sys.argv[1]).glob("*.mp4")):
    with av.open(str(p)) as container:        # open: read the header and the index
        container.streams.video[0]
    hashlib.sha256(p.read_bytes()).hexdigest()
"""


def bare_ingest_process(folder: Path) -> float:
    """Wall seconds of a whole process that opens each clip with PyAV and hashes it: the
    least an ingest that identifies and fingerprints every file can do."""
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", BARE_INGEST, str(folder)], check=True)
    return time.perf_counter() - t


def against_bare(folder: Path, jobs: int, runs: int = 5) -> tuple[float, float, float]:
    """Median wall seconds of the bare PyAV-open + SHA-256 process and of the whole
    ``videx ingest`` process on ``folder``, alternating (the same machine for both), and the
    peak RSS (MB) of the ingest processes."""
    pairs = [(bare_ingest_process(folder), whole_process_ingest(folder, jobs))
             for _ in range(runs)]
    return (statistics.median(p[0] for p in pairs), statistics.median(p[1][0] for p in pairs),
            max(p[1][1] for p in pairs))


def bench_ingest(args):
    import hashlib
    import io

    import ffmpeg

    from videx import probe_av
    DATA.mkdir(exist_ok=True)
    folder = DATA / f"ingest-{args.files}"
    paths = make_clip_files(folder, args.files)
    jobs = args.jobs or os.cpu_count()
    ffmpeg.probe(str(paths[0]))  # warm
    t = time.perf_counter()
    for p in paths:              # what ingest did before: one ffprobe process per file + hash
        ffmpeg.probe(str(p))
        hashlib.sha256(p.read_bytes()).hexdigest()
    ffprobe_loop = time.perf_counter() - t
    t = time.perf_counter()
    for p in paths:              # the in-process limit: read once, hash, probe from memory
        data = p.read_bytes()
        hashlib.sha256(data).hexdigest()
        probe_av.read_facts(io.BytesIO(data), len(data))
    inproc_loop = time.perf_counter() - t
    bare, whole, whole_rss = against_bare(folder, jobs)
    res = run_child(folder, jobs)
    assert res["added"] == args.files, res
    result = {"benchmark": "ingest", "files": args.files, "cores": os.cpu_count(), "jobs": jobs,
              "ffprobe_sha256_loop_s": round(ffprobe_loop, 3),
              "in_process_probe_hash_loop_s": round(inproc_loop, 3),
              "whole_process_ingest_s": round(whole, 3),
              "bare_pyav_open_hash_process_s": round(bare, 3),
              "whole_vs_bare_process": round(whole / bare, 2),
              "ingest_library_s": round(res["seconds"], 3),
              "whole_vs_ffprobe_loop": round(ffprobe_loop / whole, 2),
              "whole_vs_in_process_loop": round(whole / inproc_loop, 2),
              "readers": res["readers"],
              "rss_peak_mb": round(res["rss_peak_mb"], 1),
              "children_rss_peak_mb": round(res["children_rss_peak_mb"], 1),
              "whole_process_rss_peak_mb": round(whole_rss, 1)}
    if args.real_files:
        real = DATA / f"ingest-real-{args.real_files}"
        make_large_clips(real, args.real_files, args.real_seconds, real_shaped=True)
        real_bare, real_whole, _ = against_bare(real, jobs)
        result.update({"real_shaped_files": args.real_files,
                       "real_shaped_clip_mb": round((real / "20230501_000000_big.mp4").stat()
                                                    .st_size / 1e6, 1),
                       "real_shaped_whole_s": round(real_whole, 3),
                       "real_shaped_bare_s": round(real_bare, 3),
                       "real_shaped_whole_vs_bare": round(real_whole / real_bare, 2)})
    if args.memory_files:
        mem_folder = DATA / f"ingest-{args.memory_files}"
        make_clip_files(mem_folder, args.memory_files)
        big = run_child(mem_folder, jobs)
        result.update({"memory_files": args.memory_files,
                       "memory_files_per_s": round(args.memory_files / big["seconds"], 1),
                       "memory_rss_start_mb": round(big["rss_start_mb"], 1),
                       "memory_rss_peak_mb": round(big["rss_peak_mb"], 1),
                       "memory_children_rss_peak_mb": round(big["children_rss_peak_mb"], 1)})
    print(json.dumps(result, indent=2))
    print(f"ingest of {args.files} clips: whole `videx ingest` process {whole:.3f} s vs "
          f"sequential ffprobe + SHA-256 loop {ffprobe_loop:.3f} s -> "
          f"{result['whole_vs_ffprobe_loop']}x faster; vs in-process probe + hash loop "
          f"{inproc_loop:.3f} s -> {result['whole_vs_in_process_loop']}x its time "
          f"({jobs} jobs, {os.cpu_count()} cores); peak RSS {result['rss_peak_mb']} MB + "
          f"children {result['children_rss_peak_mb']} MB")
    print(f"ingest of {args.files} clips as whole processes: `videx ingest` {whole:.3f} s vs a "
          f"bare PyAV-open + SHA-256 loop {bare:.3f} s -> {result['whole_vs_bare_process']}x")
    if args.real_files:
        print(f"ingest of {args.real_files} real-shaped clips (1080p30, 8 Mbit/s, 2 s GOP, "
              f"{args.real_seconds} s, {result['real_shaped_clip_mb']} MB each) as whole "
              f"processes: `videx ingest` {result['real_shaped_whole_s']:.3f} s vs the bare "
              f"loop {result['real_shaped_bare_s']:.3f} s -> "
              f"{result['real_shaped_whole_vs_bare']}x")
    if args.memory_files:
        print(f"ingest of {args.memory_files} clips: {result['memory_files_per_s']} files/s, "
              f"peak RSS {result['memory_rss_peak_mb']} MB (start "
              f"{result['memory_rss_start_mb']} MB) + children "
              f"{result['memory_children_rss_peak_mb']} MB")


# ------------------------------------------------------------------ extract
def make_large_clips(folder: Path, n: int, seconds: int, real_shaped: bool = False
                     ) -> list[Path]:
    """``n`` distinct large clips (1080p, high bit rate): one encode, copies with one media
    byte changed, named a minute apart. ``real_shaped``: as a city camera or phone records
    them instead: 1080p30 at 8 Mbit/s with a 2 s GOP and B-frames, a moving noisy picture,
    the movie box at the end (as a camera writes it while recording)."""
    folder.mkdir(parents=True, exist_ok=True)
    base = folder.parent / f"{folder.name}-base.mp4"
    if not base.exists():
        if real_shaped:
            picture = [f"testsrc2=size=1920x1080:rate=30:duration={seconds},"
                       "noise=alls=12:allf=t+u"]
            codec = ["-b:v", "8M", "-maxrate", "8M", "-bufsize", "16M", "-g", "60",
                     "-bf", "2"]
        else:
            picture = [f"testsrc2=size=1920x1080:rate=30:duration={seconds}"]
            codec = ["-b:v", "50M", "-g", "60", "-movflags", "+faststart"]
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", *picture,
                        "-c:v", "libx264", "-preset", "ultrafast", *codec,
                        "-pix_fmt", "yuv420p", str(base)], check=True)
    data = bytearray(base.read_bytes())
    paths = []
    for i in range(n):
        p = folder / f"20230501_0000{i:02d}_big.mp4"
        if not p.exists():
            data[-1000] = i
            p.write_bytes(data)
        paths.append(p)
    return paths


def extract_catalog(db_path: Path, folder: Path) -> None:
    """A catalog with one camera whose clips are the files in ``folder``, and an incident a
    minute into them (so every clip is in its canvass window)."""
    from videx import ingest
    for suffix in ("", "-wal", "-shm"):
        Path(str(db_path) + suffix).unlink(missing_ok=True)
    cat = catalog.open_catalog(db_path, create=True)
    with cat.write("bench setup"):
        cat.set_setting("default_tz", "UTC")
        cat.cameras.upsert({"id": "BENCH", "source": "city", "integration": "connected",
                            "lat": 41.76, "lon": -72.68}, "x")
        cat.incidents.upsert({"id": "X1", "occurred_at": "2023-05-01T00:01:00Z",
                              "occurred_ts": 1682899260.0, "time_source": "bench",
                              "lat": 41.76, "lon": -72.68}, "x")
    report = ingest.ingest(cat, [folder], camera_id="BENCH")
    assert not report.rejected, report.rejected[:2]
    cat.close()


def baseline_copy(paths: list[Path], dest: Path) -> float:
    """Seconds to hash each original, copy it and hash the copy, in Python, one by one."""
    import hashlib
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    t = time.perf_counter()
    for p in paths:
        for path in (p, None):
            if path is None:
                target = dest / p.name
                shutil.copyfile(p, target)
                path = target
            h = hashlib.sha256()
            with open(path, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
    return time.perf_counter() - t


def time_extract(db_path: Path, dest: Path) -> tuple[float, int]:
    from videx import evidence
    from videx.canvass import canvass
    shutil.rmtree(dest, ignore_errors=True)
    cat = catalog.open_catalog(db_path)
    result = canvass(cat, "X1", before_s=3600, after_s=3600, radius_m=50, record=False)
    t = time.perf_counter()
    pkg = evidence.extract(cat, result, dest)
    secs = time.perf_counter() - t
    cat.close()
    for f in dest.rglob("*"):
        os.chmod(f, 0o755 if f.is_dir() else 0o644)
    return secs, len(pkg.rows)


def bench_extract(args):
    DATA.mkdir(exist_ok=True)
    runs = []
    sets = [("150 small clips", make_clip_files(DATA / "extract-small", args.small))]
    if args.large:
        sets.append((f"{args.large} large clips", make_large_clips(
            DATA / "extract-large", args.large, args.large_seconds)))
    for label, paths in sets:
        folder = paths[0].parent
        db_path = DATA / f"extract-{folder.name}.db"
        if not db_path.exists():
            extract_catalog(db_path, folder)
        size = sum(p.stat().st_size for p in paths)
        for p in paths:                       # both sides read from the page cache
            p.read_bytes()
        base = min(baseline_copy(paths, DATA / "extract-baseline") for _ in range(2))
        ours, n = min(time_extract(db_path, DATA / "extract-package") for _ in range(2))
        shutil.rmtree(DATA / "extract-baseline", ignore_errors=True)
        shutil.rmtree(DATA / "extract-package", ignore_errors=True)
        runs.append({"files": label, "clips_packaged": n, "bytes": size,
                     "baseline_hash_copy_hash_s": round(base, 3),
                     "extract_s": round(ours, 3), "ratio": round(ours / base, 2)})
    print(json.dumps({"benchmark": "extract", "runs": runs}, indent=2))
    for r in runs:
        print(f"extract, {r['files']} ({r['bytes'] / 1e6:.0f} MB): {r['extract_s']} s vs "
              f"hash + copy + hash {r['baseline_hash_copy_hash_s']} s -> {r['ratio']}x")


# ------------------------------------------------------------------ intake
def intake_setup(folder: Path, size_mb: int) -> tuple[Path, Path, str]:
    """(catalog, a real clip of about ``size_mb`` MB named as a DVR exports it, the code of a
    request to take it in for)."""
    from videx import requests, settings
    folder.mkdir(parents=True, exist_ok=True)
    clip = folder / f"ch01_20230501142900-{size_mb}mb.mp4"
    if not clip.exists():       # 1080p at a high bit rate: about 4.5 MB a second
        seconds = max(2, round(size_mb / 4.5))
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                        f"testsrc2=size=1920x1080:rate=30:duration={seconds}", "-c:v",
                        "libx264", "-preset", "ultrafast", "-b:v", "50M", "-g", "60",
                        "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(clip)],
                       check=True)
    db_path = folder / "intake.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db_path) + suffix).unlink(missing_ok=True)
    shutil.rmtree(folder / "intake-evidence", ignore_errors=True)
    os.environ["VIDEX_LINK_KEY"] = str(folder / "link.key")
    cat = catalog.open_catalog(db_path, create=True)
    settings.configure(cat, zone="America/New_York", link_key=True)
    with cat.write("bench setup"):
        cat.cameras.upsert({"id": "BENCH", "source": "private", "integration": "registered",
                            "lat": 41.76, "lon": -72.68, "retention_days": 30}, "x")
        cat.incidents.upsert({"id": "X1", "occurred_at": "2023-05-01T18:30:00Z",
                              "occurred_ts": 1682965800.0, "time_source": "bench",
                              "lat": 41.76, "lon": -72.68}, "x")
    code = requests.create(cat, "X1", ["BENCH"]).created[0].code
    cat.close()
    return db_path, clip, code


def intake_child(db_path: str, code: str, staged: str) -> None:
    """Accept one staged file in a fresh process; print seconds and peak RSS (MB)."""
    import av  # noqa: F401  (a server has PyAV loaded already: time the accept, not the import)

    from videx import ingest, intake, probe, probe_av, requests, timesources  # noqa: F401
    timesources.registered()              # plugins found once per process, as in a server
    cat = catalog.open_catalog(db_path)
    req = requests.get(cat, code)
    t = time.perf_counter()
    result = intake.accept(cat, req, staged, intake.UploadMeta(file_name=Path(staged).name))
    secs = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"accept_s": secs, "peak_rss_mb": rss, "result": result.receipt.result}))


def bench_intake(args):
    """``intake.accept`` of a large real clip (hash of the file kept, probe, fsync, link into
    the store, the clip and its audit entry) against ``sha256sum`` of the same file (one read
    and hash: the least a hashed intake can do), both from the page cache; and
    ``intake.stage_file`` (copy while hashing) against ``cp``. Peak RSS of the accepting
    process shows memory stays flat whatever the file's size."""
    from videx import intake
    folder = DATA / "intake"
    db_path, clip, code = intake_setup(folder, args.size_mb)
    size = clip.stat().st_size
    cat = catalog.open_catalog(db_path)
    staging = intake.staging_dir(cat)
    runs = []
    for i in range(args.runs):
        t = time.perf_counter()
        staged = intake.stage_file(cat, clip)
        stage_s = time.perf_counter() - t
        with open(staged.path, "r+b") as fh:       # distinct bytes each run: no duplicate
            fh.seek(size - 1000)
            fh.write(bytes([i % 256]))
        t = time.perf_counter()
        shutil.copyfile(clip, staging / "baseline-copy")
        cp_s = time.perf_counter() - t
        t = time.perf_counter()
        subprocess.run(["sha256sum", str(staging / "baseline-copy")], check=True,
                       stdout=subprocess.DEVNULL)
        hash_s = time.perf_counter() - t
        t = time.perf_counter()
        from videx.hashing import sha256_file
        sha256_file(staging / "baseline-copy")
        hashlib_s = time.perf_counter() - t
        (staging / "baseline-copy").unlink()
        done = subprocess.run([sys.executable, str(Path(__file__)), "_intake_child",
                               str(db_path), code, str(staged.path)], check=True,
                              capture_output=True, text=True)
        child = json.loads(done.stdout.strip().splitlines()[-1])
        runs.append({"stage_s": round(stage_s, 3), "cp_s": round(cp_s, 3),
                     "accept_s": round(child["accept_s"], 3),
                     "sha256sum_s": round(hash_s, 3), "hashlib_s": round(hashlib_s, 3),
                     "peak_rss_mb": round(child["peak_rss_mb"], 1),
                     "result": child["result"]})
    cat.close()
    best = {k: min(r[k] for r in runs) for k in ("stage_s", "cp_s", "accept_s", "sha256sum_s",
                                                  "hashlib_s")}
    print(json.dumps({"benchmark": "intake", "bytes": size, "runs": runs, "best": best},
                     indent=2))
    print(f"intake of {size / 1e6:.0f} MB: accept {best['accept_s']} s vs sha256sum "
          f"{best['sha256sum_s']} s -> {best['accept_s'] / best['sha256sum_s']:.2f}x (vs one "
          f"hashlib pass {best['hashlib_s']} s -> {best['accept_s'] / best['hashlib_s']:.2f}x); "
          f"stage (copy + hash) {best['stage_s']} s vs cp {best['cp_s']} s -> "
          f"{best['stage_s'] / best['cp_s']:.2f}x; peak RSS of accept "
          f"{max(r['peak_rss_mb'] for r in runs)} MB")


# ------------------------------------------------------------------ upload (the owner's link)
SINK_CHILD = r"""
import os, sys
import uvicorn

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    with open(sys.argv[2], "wb") as fh:
        while True:
            message = await receive()
            fh.write(message.get("body", b""))
            if not message.get("more_body"):
                break
        fh.flush()
        os.fsync(fh.fileno())
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def bench_upload(args):
    """A large real clip sent to an owner's upload link with ``curl -F`` (streamed, hashed,
    fsynced, then taken in: probed, stored write-once, catalogued with its audit entry)
    against the same ``curl -F`` to a plain file sink on the same server stack (uvicorn: the
    body written to a file and fsynced, nothing parsed, hashed or catalogued), alternating,
    in the same run; and the peak RSS of the videx server process."""
    import statistics as st
    folder = DATA / "upload"
    sink_port, port = 8791, 8792
    sink = subprocess.Popen([sys.executable, "-c", SINK_CHILD, str(sink_port),
                             str(folder / "sink.bin")])
    rows = []
    try:
        for _ in range(args.runs):
            db_path, clip, code = intake_setup(folder, args.size_mb)   # a fresh catalog
            from videx import requests, users
            with catalog.open_catalog(db_path) as cat:
                with cat.write("bench url"):
                    cat.set_setting("public_url", f"http://127.0.0.1:{port}")
                users.add_user(cat, "bench", "admin", "bench-password")
                link = requests.upload_url(cat, requests.get(cat, code))
            env = {**os.environ, "VIDEX_DB": str(db_path), "VIDEX_SERVER_SECRET": "b"}
            server = subprocess.Popen([sys.executable, "-m", "videx", "serve", "--port",
                                       str(port), "--workers", "1"], env=env)
            try:
                wait_http(f"http://127.0.0.1:{port}/login", server)
                wait_http(f"http://127.0.0.1:{sink_port}/", sink)
                t = time.perf_counter()
                subprocess.run(["curl", "-s", "-o", "/dev/null", "-F", f"file=@{clip}",
                                f"http://127.0.0.1:{sink_port}/"], check=True)
                sink_s = time.perf_counter() - t
                t = time.perf_counter()
                done = subprocess.run(["curl", "-s", "-H", "Accept: application/json", "-F",
                                       f"file=@{clip}", link], check=True,
                                      capture_output=True, text=True)
                videx_s = time.perf_counter() - t
                result = json.loads(done.stdout)["files"][0]["result"]
                peak = proc_kb(server.pid, "VmHWM") / 1024
            finally:
                server.terminate()
                server.wait(timeout=60)
            rows.append({"sink_s": round(sink_s, 3), "videx_s": round(videx_s, 3),
                         "ratio": round(videx_s / sink_s, 2), "result": result,
                         "server_peak_rss_mb": round(peak, 1)})
            print(json.dumps(rows[-1]), file=sys.stderr)
    finally:
        sink.terminate()
        sink.wait(timeout=30)
        (folder / "sink.bin").unlink(missing_ok=True)
    size = clip.stat().st_size
    out = {"benchmark": "upload", "bytes": size, "runs": rows,
           "median_ratio": round(st.median(r["ratio"] for r in rows), 2),
           "peak_rss_mb": max(r["server_peak_rss_mb"] for r in rows)}
    print(json.dumps(out, indent=2))
    print(f"upload of {size / 2**20:.0f} MB with curl -F: the owner's link (received, hashed, "
          f"checked, stored, catalogued) {st.median(r['videx_s'] for r in rows):.2f} s vs a "
          f"plain file sink {st.median(r['sink_s'] for r in rows):.2f} s -> median "
          f"{out['median_ratio']}x; server peak RSS {out['peak_rss_mb']} MB")


def wait_http(url: str, proc, timeout_s: float = 60.0) -> None:
    import urllib.error
    import urllib.request
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited ({proc.returncode})")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def proc_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


# ------------------------------------------------------------------ verify
BARE_SCAN = r"""
import hashlib, json, sqlite3, sys
# the limit: read every protected row once and recompute its content hash, nothing else
conn = sqlite3.connect(sys.argv[1])
n = 0
for table, key, skip in json.loads(sys.argv[2]):
    where = f" WHERE {key} NOT IN ({','.join('?' * len(skip))})" if skip else ""
    cur = conn.execute(f'SELECT * FROM "{table}"{where}', skip)
    names = [d[0] for d in cur.description]
    for row in cur:
        hashlib.sha256(json.dumps([table, dict(zip(names, row))], sort_keys=True,
                                  separators=(",", ":"), ensure_ascii=False,
                                  default=str).encode("utf-8")).hexdigest()
        n += 1
print(n)
"""


def baseline_bulk(path: Path) -> int:
    """Record every protected row of a catalog built by SQL (no audit entries) in one
    format 3 entry, streamed (the library's baseline holds every row in memory at once;
    fine for a real upgrade, not for 10M synthetic clips): the rows' hashes go to
    audit_rows with the entry's id, the entry's digest is streamed from them in order."""
    from videx import audit
    from videx.store import protected
    cat = catalog.open_catalog(path)
    conn = cat.db.conn
    if conn.execute("SELECT count(*) FROM audit_rows WHERE tbl = 'clips'").fetchone()[0]:
        cat.close()
        return 0
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("PRAGMA defer_foreign_keys = ON")     # the rows go in before their entry
    last = conn.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    entry_id = last[0] + 1
    n = 0
    for spec in protected.TABLES:
        where = (f' WHERE "{spec.key}" NOT IN ({",".join("?" * len(spec.skip))})'
                 if spec.skip else "")
        cur = conn.execute(f'SELECT * FROM "{spec.table}"{where}', list(spec.skip))
        hasher = audit.RowHasher(spec.table, [d[0] for d in cur.description])
        key_at = [d[0] for d in cur.description].index(spec.key)
        while True:
            rows = cur.fetchmany(20000)
            if not rows:
                break
            conn.executemany("INSERT INTO audit_rows (entry_id, tbl, row_key, row_hash) "
                             "VALUES (?, ?, ?, ?)",
                             [(entry_id, spec.table, str(r[key_at]), hasher(r)) for r in rows])
            n += len(rows)
    digest = audit.streamed_rows_digest(conn.execute(
        "SELECT tbl, row_key, row_hash FROM audit_rows WHERE entry_id = ? ORDER BY tbl, "
        "row_key, row_hash", [entry_id]))
    head = audit.parse_head(cat.auditlog.recorded_head())
    sealed = head.sealed or 0 if head else 0
    entry = {"v": audit.FORMAT, "prev_hash": last[1], "at": "2026-01-01T00:00:00Z",
             "user": audit.os_user(), "acting_as": None, "command": "bench baseline",
             "args": json.dumps({"rows": n}), "case_no": None, "rows_digest": digest,
             "sealed": sealed}
    entry["alg"], entry["hash"] = audit.seal(entry, None)
    conn.execute('INSERT INTO audit (id, v, at, "user", acting_as, command, args, case_no, '
                 "rows_digest, alg, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 [entry_id, entry["v"], entry["at"], entry["user"], None, entry["command"],
                  entry["args"], None, digest, entry["alg"], entry["prev_hash"],
                  entry["hash"]])
    conn.execute("UPDATE settings SET value = ? WHERE key = 'audit_head'",
                 [json.dumps(audit.new_head(entry["hash"], sealed, None).value())])
    conn.execute("COMMIT")
    cat.close()
    return n


def timed(argv: list[str], env: dict | None = None, cwd=None) -> tuple[float, int]:
    t = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    return time.perf_counter() - t, done.returncode


def bench_verify(args):
    from videx import audit_check
    from videx.store import protected
    DATA.mkdir(exist_ok=True)
    source = DATA / f"canvass-{args.cameras}x{args.clips}.db"
    if not source.exists():
        print(f"building {source.name}...", file=sys.stderr)
        build_canvass_catalog(source.with_suffix(".tmp"), args.cameras, args.clips)
        source.with_suffix(".tmp").rename(source)
    path = DATA / f"verify-{args.cameras}x{args.clips}.db"
    if not path.exists():
        print(f"copying and auditing {path.name} (once)...", file=sys.stderr)
        shutil.copy(source, path.with_suffix(".tmp"))
        t = time.perf_counter()
        n = baseline_bulk(path.with_suffix(".tmp"))
        print(f"  {n:,} rows recorded in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        path.with_suffix(".tmp").rename(path)
    with catalog.open_catalog(path) as cat:
        rows = cat.hashed_row_count()
        t = time.perf_counter()
        with cat.reading():
            walk = audit_check._walk(cat, None, False)
        chain_s = time.perf_counter() - t
        t = time.perf_counter()
        problems: list = []
        with cat.reading():
            audit_check._deep(cat, problems, None)
        deep_s = time.perf_counter() - t
        assert walk.problem is None and not problems, (walk.problem, problems[:3])
    env = {**os.environ, "VIDEX_DB": str(path)}
    env.pop("VIDEX_AUDIT_KEY", None)
    spec = json.dumps([[p.table, p.key, list(p.skip)] for p in protected.TABLES])
    ours, bare = [], []
    for _ in range(args.rounds):
        s, code = timed([sys.executable, "-m", "videx", "audit", "verify", "--deep"], env)
        assert code == 0, "audit verify --deep failed on the bench catalog"
        ours.append(s)
        bare.append(timed([sys.executable, "-c", BARE_SCAN, str(path), spec])[0])
    result = {"benchmark": "verify", "rows": rows, "audit_verify_deep_s": round(min(ours), 2),
              "bare_scan_s": round(min(bare), 2), "ratio": round(min(ours) / min(bare), 2),
              "in_process_chain_s": round(chain_s, 2), "in_process_deep_s": round(deep_s, 2)}
    if args.package_mb:
        result.update(bench_verify_package(args.package_mb, args.rounds))
    print(json.dumps(result, indent=2))
    print(f"audit verify --deep, {rows:,} protected rows: {result['audit_verify_deep_s']} s vs "
          f"a bare scan recomputing their hashes {result['bare_scan_s']} s -> "
          f"{result['ratio']}x (in process: chain {result['in_process_chain_s']} s, rows "
          f"{result['in_process_deep_s']} s)")
    if args.package_mb:
        print(f"videx verify PACKAGE --public-key, {result['package_mb']} MB in "
              f"{result['package_files']} files: {result['videx_verify_s']} s vs sha256sum -c "
              f"{result['sha256sum_s']} s -> {result['package_ratio']}x")


def bench_verify_package(megabytes: int, rounds: int) -> dict:
    """A signed package of about ``megabytes`` MB (20 s 1080p clips of ~125 MB), checked by
    videx verify --public-key and by sha256sum -c, both from the page cache."""
    clips = max(1, round(megabytes / 125))
    folder = DATA / f"verify-package-{clips}"
    paths = make_large_clips(folder, clips, 20)
    db_path = DATA / f"verify-package-{clips}.db"
    pkg = DATA / f"verify-package-{clips}-pkg"
    keys_dir = DATA / "verify-keys"
    if not pkg.exists():
        if not db_path.exists():
            extract_catalog(db_path, folder)
        from videx import evidence, keys
        from videx.canvass import canvass
        shutil.rmtree(keys_dir, ignore_errors=True)
        keys_dir.mkdir()
        cat = catalog.open_catalog(db_path)
        if keys.catalog_key(cat) is None:
            keys.create_key(cat, keys_dir / "dept.pem")
        os.environ[keys.KEY_ENV] = str(keys_dir / "dept.pem")
        keys.export_public_key(keys_dir / "dept.pub", keys.catalog_key(cat))
        result = canvass(cat, "X1", before_s=3600, after_s=3600, radius_m=50, record=False)
        evidence.extract(cat, result, pkg)
        cat.close()
    size = sum(p.stat().st_size for p in pkg.rglob("*") if p.is_file())
    files = sum(1 for p in pkg.rglob("*") if p.is_file())
    for p in pkg.rglob("*"):                 # both read from the page cache
        if p.is_file():
            p.read_bytes()
    ours, base = [], []
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEX_")}
    for _ in range(rounds):
        s, code = timed([sys.executable, "-m", "videx", "verify", str(pkg), "--public-key",
                         str(keys_dir / "dept.pub")], env)
        assert code == 0, "videx verify failed on the bench package"
        ours.append(s)
        s, code = timed(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=pkg)
        assert code == 0
        base.append(s)
    del paths
    return {"package_mb": round(size / 1e6), "package_files": files,
            "videx_verify_s": round(min(ours), 3), "sha256sum_s": round(min(base), 3),
            "package_ratio": round(min(ours) / min(base), 2)}


# ------------------------------------------------------------------ scan
def make_video(path: Path, size: str, seconds: int, fps: int):
    """A testsrc2 clip (moving pattern) encoded with libx264, 2 s GOP."""
    if path.exists():
        return
    tmp = path.with_suffix(".tmp.mp4")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size={size}:rate={fps}:duration={seconds}", "-c:v", "libx264",
                    "-preset", "ultrafast", "-g", str(2 * fps), "-pix_fmt", "yuv420p", str(tmp)],
                   check=True)
    tmp.rename(path)


def make_real_video(path: Path, seconds: int) -> None:
    """A real-shaped camera clip: 1080p30, 8 Mbit/s, 2 s GOP with B-frames, a moving picture
    with sensor noise (so the bit rate is spent as a camera spends it)."""
    if path.exists():
        return
    tmp = path.with_suffix(".tmp.mp4")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size=1920x1080:rate=30:duration={seconds},"
                    "noise=alls=12:allf=t+u", "-c:v", "libx264", "-preset", "ultrafast",
                    "-b:v", "8M", "-maxrate", "8M", "-bufsize", "16M", "-g", "60", "-bf", "2",
                    "-pix_fmt", "yuv420p", str(tmp)], check=True)
    tmp.rename(path)


def decode_only_seconds(path: Path, keyframes_only: bool = False) -> float:
    """Wall seconds of ffmpeg decoding the whole file to nothing (``keyframes_only``: only
    its keyframes, ``-skip_frame nokey``: the least a keyframe scan can do)."""
    skip = ["-skip_frame", "nokey"] if keyframes_only else []
    t = time.perf_counter()
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", *skip, "-i", str(path), "-f", "null",
                    "-"], check=True)
    return time.perf_counter() - t


def scan_child(path, fast):
    """Scan one file in a fresh process, as ``videx scan`` does for a catalogued clip (its
    size, frame rate and duration come from the catalog); print seconds and peak RSS (MB)."""
    from videx.activity import scan_file
    from videx.probe import probe
    info = probe(path)
    meta = {"width": info.width, "height": info.height, "fps": info.fps,
            "duration_s": info.duration_s}
    t = time.perf_counter()
    r = scan_file(path, fast=fast == "fast", meta=meta)
    print(json.dumps({"seconds": time.perf_counter() - t, "frames": r.frames,
                      "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "children_rss_peak_mb":
                          resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))


def run_scan_child(path: Path, mode: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "_scan_child", str(path), mode],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_scan(args):
    DATA.mkdir(exist_ok=True)
    results = []
    for label, size in (("720p", "1280x720"), ("1080p", "1920x1080"),
                        ("1080p real-shaped (8 Mbit/s, noise, B-frames)", None)):
        if size is None:
            clip = DATA / "scan-1080p-real-60s.mp4"
            make_real_video(clip, 60)
        else:
            clip = DATA / f"scan-{label}-60s.mp4"
            make_video(clip, size, 60, 30)
        base = min(decode_only_seconds(clip) for _ in range(3))
        keys = min(decode_only_seconds(clip, keyframes_only=True) for _ in range(3))
        full = min(run_scan_child(clip, "full")["seconds"] for _ in range(3))
        fast = min(run_scan_child(clip, "fast")["seconds"] for _ in range(3))
        results.append({"clip": f"{label}, 60 s, 30 fps", "decode_only_s": round(base, 2),
                        "full_scan_s": round(full, 2),
                        "full_vs_decode_throughput": round(base / full, 2),
                        "full_x_realtime": round(60 / full, 1),
                        "keyframe_decode_s": round(keys, 3),
                        "fast_scan_s": round(fast, 3),
                        "fast_vs_keyframe_decode": round(fast / keys, 2),
                        "fast_x_realtime": round(60 / fast, 1)})
    hour = DATA / "scan-360p-1h.mp4"
    make_video(hour, "640x360", args.hour_seconds, 10)
    mem_full = run_scan_child(hour, "full")
    mem_fast = run_scan_child(hour, "fast")
    out = {"benchmark": "scan", "clips": results,
           "long_clip": f"640x360, {args.hour_seconds} s, 10 fps",
           "long_full_s": round(mem_full["seconds"], 1),
           "long_full_rss_peak_mb": round(mem_full["rss_peak_mb"], 1),
           "long_full_ffmpeg_rss_peak_mb": round(mem_full["children_rss_peak_mb"], 1),
           "long_fast_s": round(mem_fast["seconds"], 1),
           "long_fast_rss_peak_mb": round(mem_fast["rss_peak_mb"], 1),
           "long_fast_ffmpeg_rss_peak_mb": round(mem_fast["children_rss_peak_mb"], 1),
           "long_fast_x_realtime": round(args.hour_seconds / mem_fast["seconds"], 1)}
    print(json.dumps(out, indent=2))
    for r in results:
        print(f"scan {r['clip']}: full {r['full_vs_decode_throughput']}x of decode-only "
              f"throughput; fast {r['fast_x_realtime']}x real time, "
              f"{r['fast_vs_keyframe_decode']}x the time of decoding its keyframes alone")
    print(f"scan one-hour clip: peak RSS full {out['long_full_rss_peak_mb']} MB + ffmpeg "
          f"{out['long_full_ffmpeg_rss_peak_mb']} MB, fast {out['long_fast_rss_peak_mb']} MB "
          f"+ ffmpeg {out['long_fast_ffmpeg_rss_peak_mb']} MB")


# ------------------------------------------------------------------ serve (web load)
SERVER_CHILD = r"""
import os, sys
from videx.web import serve
os.environ["VIDEX_SERVER_SECRET"] = "bench"
serve(sys.argv[1], "127.0.0.1", int(sys.argv[2]), workers=int(sys.argv[3]))
"""


WORKERS = 2


def start_server(location: str, port: int) -> subprocess.Popen:
    import httpx
    proc = subprocess.Popen([sys.executable, "-c", SERVER_CHILD, location, str(port),
                             str(WORKERS)])
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:    # e.g. the port is taken: never time another server
            raise RuntimeError(f"the server exited ({proc.returncode}) before it answered")
        try:
            httpx.get(f"http://127.0.0.1:{port}/login", timeout=1)
            time.sleep(2)              # let every worker finish starting
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited ({proc.returncode}) after starting")
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start")


class LeanClient:
    """A signed-in browser stand-in on one keep-alive connection (the standard library's
    http.client): about a fifth of httpx's CPU per request, which matters when the simulated
    users share the server's two cores. Keeps the session cookie; ``get``/``post`` return
    (status, body text)."""

    def __init__(self, base: str):
        import http.client
        from urllib.parse import urlsplit
        parts = urlsplit(base)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        self.cookie = ""

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str]:
        from urllib.parse import urlencode
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        text = response.read().decode()
        cookie = response.getheader("set-cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        return response.status, text

    def get(self, path: str) -> tuple[int, str]:
        import http.client
        try:
            return self.request("GET", path)
        except (http.client.RemoteDisconnected, ConnectionError):
            self.conn.close()                  # the server closed an idle connection
            return self.request("GET", path)

    def post(self, path: str, form: dict) -> tuple[int, str]:
        return self.request("POST", path, form)

    def close(self) -> None:
        self.conn.close()


def web_client(base: str, name: str, password: str) -> LeanClient:
    import re
    client = LeanClient(base)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login")[1]).group(1)
    status, _ = client.post("/login", {"csrf": token, "name": name, "password": password})
    assert status in (200, 303), status
    return client


def ensure_user(location: str, name: str, role: str, password: str) -> None:
    from videx import users
    with catalog.open_catalog(location) as cat:
        if not any(u["name"] == name for u in users.list_users(cat)):
            users.add_user(cat, name, role, password)


def page_load(bases: list[str], ids: list[str], users_n: int, per_user: int, seed: int = 3):
    """``users_n`` signed-in clients each fetching ``per_user`` incident pages at once, spread
    over the server instances at ``bases``; with several instances each client signs in on
    one and works on the next (a session is the catalog's, not the instance's); (latencies in
    s, failures)."""
    from concurrent.futures import ThreadPoolExecutor
    clients = []
    for k in range(users_n):
        signed = web_client(bases[k % len(bases)], "bench", "bench-password")
        if len(bases) > 1:
            other = LeanClient(bases[(k + 1) % len(bases)])
            other.cookie = signed.cookie
            signed.close()
            signed = other
        clients.append(signed)

    def one(k, pages=per_user, rng_seed=seed):
        rng = random.Random(rng_seed + k)
        out, bad = [], 0
        for _ in range(pages):
            t = time.perf_counter()
            status, _ = clients[k].get(f"/incidents/{rng.choice(ids)}")
            out.append(time.perf_counter() - t)
            bad += status != 200
        return out, bad
    with ThreadPoolExecutor(users_n) as pool:
        # warm-up, not timed: two pages per user, so that each worker has opened its pooled
        # catalog connections (a server runs for hours; the first requests pay for that)
        list(pool.map(lambda k: one(k, 2, seed + 1000), range(users_n)))
        results = list(pool.map(one, range(users_n)))
    for c in clients:
        c.close()
    return [x for r in results for x in r[0]], sum(r[1] for r in results)


def bench_serve(args):
    from videx.canvass import canvass
    DATA.mkdir(exist_ok=True)
    path = DATA / f"canvass-{args.cameras}x{args.clips}.db"
    if not path.exists():
        build_canvass_catalog(path.with_suffix(".tmp"), args.cameras, args.clips)
        path.with_suffix(".tmp").rename(path)
    add_incidents(path, 2000)
    locations = [("sqlite", str(path))]
    cluster = None
    runs = []
    try:
        if args.pg:
            from videx import audit
            from videx.pgcluster import TempCluster
            from videx.store.transfer import copy_catalog
            cluster = TempCluster(keep=args.pg_keep, durable=args.pg_durable)
            name = f"bench_{args.cameras}x{args.clips}"
            if cluster.keep and cluster.database_exists(name):
                url = cluster.url(name)          # copied by an earlier run: reuse it
            else:
                import psycopg
                with catalog.open_catalog(path) as cat:   # rows built by SQL: audit them
                    if not audit.verify(cat, deep=True).ok:   # once (db copy checks this)
                        with cat.write("bench baseline") as tx:
                            cat.baseline(tx)
                with psycopg.connect(cluster.url(), autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}_part"')
                t = time.perf_counter()
                copy_catalog(str(path), cluster.create_database(f"{name}_part"))
                print(f"copied to PostgreSQL in {time.perf_counter() - t:.0f} s",
                      file=sys.stderr)
                with psycopg.connect(cluster.url(), autocommit=True) as conn:
                    conn.execute(f'ALTER DATABASE "{name}_part" RENAME TO "{name}"')
                url = cluster.url(name)
            locations.append(("postgresql", url))
        for backend, location in locations:
            ensure_user(location, "bench", "admin", "bench-password")
            with catalog.open_catalog(location) as cat:
                ids = [r[0] for r in cat.db.rows("SELECT id FROM incidents ORDER BY id")][:2000]
                lib = []
                for i in ids[:200]:            # the CLI's canvass, in this process
                    t = time.perf_counter()
                    canvass(cat, i, record=False)
                    lib.append(time.perf_counter() - t)
            instances = args.instances if backend == "postgresql" else 1
            ports = [8700 + 10 * len(runs) + k for k in range(instances)]
            procs = []
            try:
                for port in ports:
                    procs.append(start_server(location, port))
                bases = [f"http://127.0.0.1:{port}" for port in ports]
                base = bases[0]
                lat, bad = page_load(bases, ids, args.users, args.requests)
                run = {"backend": backend, "users": args.users, "workers": WORKERS,
                       "instances": instances, "requests": len(lat), "failed": bad,
                       "page_p50_ms": round(statistics.median(lat) * 1000, 1),
                       "page_p95_ms": round(pct(lat, 95) * 1000, 1),
                       "canvass_library_median_ms": round(statistics.median(lib) * 1000, 2)}
                if backend == "postgresql":
                    run["pg_durable"] = args.pg_durable       # fsync, synchronous commits
                if backend == "postgresql" and args.write_seconds:
                    run.update(write_load(base, location, ids, args.write_seconds))
                runs.append(run)
            finally:
                for proc in procs:
                    proc.terminate()
                for proc in procs:
                    try:
                        proc.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        proc.kill()
    finally:
        if cluster:
            cluster.stop()
    print(json.dumps({"benchmark": "serve", "cameras": args.cameras, "clips": args.clips,
                      "runs": runs}, indent=2))
    for r in runs:
        durable = {True: " (fsync, synchronous commits)", False: " (no fsync)"}.get(
            r.get("pg_durable"), "")
        print(f"serve on {r['backend']}{durable}, {r['instances']} instance(s) of "
              f"{r['workers']} workers: incident page p50 {r['page_p50_ms']} ms, p95 "
              f"{r['page_p95_ms']} ms with {r['users']} concurrent users ({r['failed']} failed);"
              f" the library canvass alone {r['canvass_library_median_ms']} ms")
        if "writes_ok" in r:
            print(f"  {r['writers']} writers + {r['readers']} readers for {r['seconds']} s: "
                  f"{r['writes_ok']} writes, {r['reads_ok']} reads, {r['failed_requests']} "
                  f"failed; outcomes stored {r['outcomes_stored']}; audit chain "
                  f"{'intact' if r['audit_ok'] else 'BROKEN'}")


def write_load(base: str, location: str, ids: list[str], seconds: float,
               writers: int = 4, readers: int = 20) -> dict:
    """Writers record outcomes and readers load incident pages for ``seconds``; then every
    write must be stored and the audit chain must verify."""
    import re
    from concurrent.futures import ThreadPoolExecutor

    from videx import audit
    with catalog.open_catalog(location) as cat:
        before = cat.db.scalar("SELECT count(*) FROM outcomes")
        cam = cat.db.scalar("SELECT id FROM cameras ORDER BY id LIMIT 1")
    stop = time.time() + seconds

    def writer(k):
        client = web_client(base, "bench", "bench-password")
        token = re.search(r'name="csrf" value="([^"]+)"',
                          client.get(f"/incidents/{ids[k]}")[1]).group(1)
        ok = bad = 0
        while time.time() < stop:
            status, _ = client.post(f"/incidents/{ids[k]}/outcome",
                                    {"csrf": token, "camera_id": cam, "status": "requested",
                                     "note": f"load {k}"})
            if status in (200, 303):
                ok += 1
            else:
                bad += 1
        return ("w", ok, bad)

    def reader(k):
        client = web_client(base, "bench", "bench-password")
        rng = random.Random(k)
        ok = bad = 0
        while time.time() < stop:
            status, _ = client.get(f"/incidents/{rng.choice(ids)}")
            ok += status == 200
            bad += status != 200
        return ("r", ok, bad)
    with ThreadPoolExecutor(writers + readers) as pool:
        futs = [pool.submit(writer, k) for k in range(writers)] + \
               [pool.submit(reader, k) for k in range(readers)]
        results = [f.result() for f in futs]
    writes = sum(r[1] for r in results if r[0] == "w")
    with catalog.open_catalog(location) as cat:
        stored = cat.db.scalar("SELECT count(*) FROM outcomes") - before
        check = audit.verify(cat)
    return {"writers": writers, "readers": readers, "seconds": seconds, "writes_ok": writes,
            "reads_ok": sum(r[1] for r in results if r[0] == "r"),
            "failed_requests": sum(r[2] for r in results), "outcomes_stored": stored,
            "audit_ok": check.ok}


# ------------------------------------------------------------------ study
def make_cases(path: Path, n: int, seed: int = 5, clusters: int = 40):
    """A synthetic case table with a confounded exposure (true within-stratum RR 1.6)."""
    import numpy as np
    import pandas as pd
    rng = np.random.default_rng(seed)
    cat = rng.choice(["fatal", "non-fatal", "shots-fired"], n, p=[0.17, 0.62, 0.21])
    share = np.select([cat == "fatal", cat == "non-fatal"], [0.8, 0.35], 0.15)
    base = np.select([cat == "fatal", cat == "non-fatal"], [0.35, 0.20], 0.08)
    video = rng.random(n) < share
    cleared = rng.random(n) < base * np.where(video, 1.6, 1.0)
    occurred = pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 5 * 365, n), "D")
    cleared_at = occurred + pd.to_timedelta(rng.integers(1, 400, n), "D")
    pd.DataFrame({
        "case_id": [f"B{i}" for i in range(n)], "occurred_at": occurred.strftime("%Y-%m-%d"),
        "category": cat, "neighborhood": rng.choice([f"N{i}" for i in range(clusters)], n),
        "victims": rng.integers(0, 4, n), "shotspotter": rng.choice(["yes", "no"], n),
        "video": np.where(video, "yes", "no"), "cleared": np.where(cleared, "yes", "no"),
        "cleared_at": np.where(cleared, cleared_at.strftime("%Y-%m-%d"), ""),
    }).to_csv(path, index=False)


def bare_fits(path: Path, covariates: list[str], survival: bool) -> float:
    """Seconds for the statsmodels fits alone, on arrays prepared outside the clock: the
    crude Poisson and linear-probability fits (cluster-robust), the adjusted Poisson,
    log-binomial and logistic GLMs, the propensity model and weighted means, the
    Mantel-Haenszel tables, and (when asked) two Cox models (model-based covariance)."""
    import numpy as np
    import pandas as pd
    from statsmodels.discrete.discrete_model import Logit
    from statsmodels.duration.hazard_regression import PHReg
    from statsmodels.genmod import families
    from statsmodels.genmod.generalized_linear_model import GLM
    from statsmodels.stats.contingency_tables import StratifiedTable
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    y = (df["cleared"] == "yes").to_numpy(float)
    x = (df["video"] == "yes").to_numpy(float)
    parts = [pd.get_dummies(df[c], prefix=c, drop_first=True, dtype=float)
             if c != "victims" else df[[c]].astype(float) for c in covariates]
    Xc = pd.concat(parts, axis=1).to_numpy(float)
    X = np.column_stack([np.ones_like(x), x, Xc])
    Z = np.column_stack([np.ones_like(x), Xc])
    groups = pd.factorize(df["neighborhood"])[0]
    strata = [df["category"] == c for c in sorted(df["category"].unique())]
    if survival:
        occ = pd.to_datetime(df["occurred_at"])
        end = pd.to_datetime(df["cleared_at"].where(df["cleared_at"] != ""), errors="coerce")
        days = ((end.fillna(pd.Timestamp("2024-12-31")) - occ).dt.days).to_numpy(float)
    from statsmodels.regression.linear_model import OLS
    t = time.perf_counter()
    ones = np.column_stack([np.ones_like(x), x])          # crude RR / RD, cluster-adjusted
    GLM(y, ones, family=families.Poisson()).fit(cov_type="cluster", cov_kwds={"groups": groups})
    OLS(y, ones).fit(cov_type="cluster", cov_kwds={"groups": groups})
    pois = GLM(y, X, family=families.Poisson()).fit(cov_type="cluster",
                                                    cov_kwds={"groups": groups})
    GLM(y, X, family=families.Binomial(link=families.links.Log())).fit(
        start_params=pois.params, maxiter=200, cov_type="cluster", cov_kwds={"groups": groups})
    model = GLM(y, X, family=families.Binomial())
    model.fit()
    model.fit(cov_type="cluster", cov_kwds={"groups": groups})
    ps = Logit(x, Z).fit(disp=False).predict()
    (x * y / ps).sum() / (x / ps).sum(), ((1 - x) * y / (1 - ps)).sum()
    StratifiedTable([np.array([[((x == 1) & (y == 1) & m).sum(), ((x == 1) & (y == 0) & m).sum()],
                               [((x == 0) & (y == 1) & m).sum(), ((x == 0) & (y == 0) & m).sum()]],
                              float) for m in strata]).test_equal_odds()
    if survival:
        # model-based: PHReg's cluster-robust covariance loops in Python (minutes at 100k)
        PHReg(days, x[:, None], status=y, ties="efron").fit()
        PHReg(days, np.column_stack([x, Xc]), status=y, ties="efron").fit()
        for m in strata:      # the subgroups by category: each level's crude RR and the
            m = m.to_numpy()  # interaction model, cluster-robust as the study fits them
            GLM(y[m], ones[m], family=families.Poisson()).fit(
                cov_type="cluster", cov_kwds={"groups": groups[m]})
        levels = np.column_stack([m.to_numpy(float) for m in strata[1:]])
        GLM(y, np.column_stack([ones, levels, levels * x[:, None]]),
            family=families.Poisson()).fit(cov_type="cluster", cov_kwds={"groups": groups})
    return time.perf_counter() - t


def bench_study(args):
    from videx.study import build_spec
    from videx.study.report import write_report
    from videx.study.run import run_study
    DATA.mkdir(exist_ok=True)
    cases = [("52,000 rows, 2 covariates, 50 clusters, MH, IPW", 52_000, 50,
              ("category", "shotspotter"), False),
             (f"{args.cases:,} rows, 3 covariates, 40 clusters, MH, IPW, subgroups, survival",
              args.cases, 40, ("category", "victims", "shotspotter"), True)]
    runs = []
    for label, n, clusters, covs, surv in cases:
        path = DATA / f"cases-{n}-{clusters}.csv"
        if not path.exists():
            make_cases(path, n, clusters=clusters)
        spec = {"cases": str(path), "covariates": covs, "cluster": "neighborhood",
                "stratify": ("category",)}
        if surv:
            spec.update({"subgroups": ("category",), "occurred": "occurred_at",
                         "cleared_at": "cleared_at", "censor_date": "2024-12-31"})
        bare = min(bare_fits(path, list(covs), surv) for _ in range(2))
        t = time.perf_counter()
        result = run_study(build_spec(spec))
        cold = time.perf_counter() - t                 # the first run pays the imports
        t = time.perf_counter()
        result = run_study(build_spec(spec))
        whole = time.perf_counter() - t
        t = time.perf_counter()
        write_report(result, DATA / "study-out")
        report = time.perf_counter() - t
        runs.append({"case": label, "bare_fits_s": round(bare, 2),
                     "run_study_s": round(whole, 2), "ratio": round(whole / bare, 2),
                     "first_run_s": round(cold, 2),
                     "write_report_s": round(report, 2), "adjusted_rr": round(result.adjusted.rr, 3),
                     "ipw_rr": round(result.ipw.rr, 3)})
    print(json.dumps({"benchmark": "study", "runs": runs}, indent=2))
    for r in runs:
        print(f"study, {r['case']}: run_study {r['run_study_s']} s (first run in the process "
              f"{r['first_run_s']} s) vs the same statsmodels fits bare {r['bare_fits_s']} s "
              f"({r['ratio']}x); report {r['write_report_s']} s")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "_scan_child":
        scan_child(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_intake_child":
        intake_child(sys.argv[2], sys.argv[3], sys.argv[4])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_ingest_child":
        ingest_child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description="videx benchmarks")
    sub = parser.add_subparsers(dest="which", required=True)
    c = sub.add_parser("canvass")
    c.add_argument("--cameras", type=int, default=10_000)
    c.add_argument("--clips", type=int, default=10_000_000)
    c.add_argument("--queries", type=int, default=300)
    c.add_argument("--scan-queries", type=int, default=5)
    c.add_argument("--rounds", type=int, default=3,
                   help="Passes over the incidents (each timed, canvass and plain query alternately).")
    i = sub.add_parser("ingest")
    i.add_argument("--files", type=int, default=150)
    i.add_argument("--jobs", type=int)
    i.add_argument("--memory-files", type=int, default=0)
    i.add_argument("--real-files", type=int, default=24,
                   help="Real-shaped clips (1080p30, 8 Mbit/s) also timed (0: skip).")
    i.add_argument("--real-seconds", type=int, default=20)
    sc = sub.add_parser("scan")
    sc.add_argument("--hour-seconds", type=int, default=3600)
    ca = sub.add_parser("canvass-all")
    ca.add_argument("--large", action="store_true",
                    help="Also 10,000 incidents on the canvass benchmark's 10M-clip catalog.")
    ca.add_argument("--cameras", type=int, default=10_000)
    ca.add_argument("--clips", type=int, default=10_000_000)
    ca.add_argument("--incidents", type=int, default=10_000)
    ex = sub.add_parser("extract")
    ex.add_argument("--small", type=int, default=150)
    ex.add_argument("--large", type=int, default=8, help="Large clips (0: none).")
    ex.add_argument("--large-seconds", type=int, default=20)
    su = sub.add_parser("startup")
    su.add_argument("--runs", type=int, default=15)
    sv = sub.add_parser("serve")
    sv.add_argument("--cameras", type=int, default=10_000)
    sv.add_argument("--clips", type=int, default=10_000_000)
    sv.add_argument("--users", type=int, default=20)
    sv.add_argument("--instances", type=int, default=1,
                    help="PostgreSQL: server instances on the one catalog (users spread over "
                         "them, each signed in on one instance and working on the next)")
    sv.add_argument("--requests", type=int, default=25, help="Pages per user.")
    sv.add_argument("--pg", action="store_true", help="Also on PostgreSQL (a copy).")
    sv.add_argument("--pg-keep", metavar="DIR",
                    help="Keep the PostgreSQL cluster (and the copied catalog) in DIR and "
                         "reuse it on later runs (the 10M-clip copy takes ~40 min).")
    sv.add_argument("--pg-durable", action="store_true",
                    help="PostgreSQL flushes the WAL at every commit (its defaults: fsync and "
                         "synchronous_commit on, as a department server runs); default off, "
                         "as in the tests.")
    sv.add_argument("--write-seconds", type=float, default=60.0,
                    help="PostgreSQL: 4 writers + 20 readers for this long (0: skip).")
    it = sub.add_parser("intake")
    it.add_argument("--size-mb", type=int, default=1024, help="Size of the clip taken in.")
    it.add_argument("--runs", type=int, default=3)
    up = sub.add_parser("upload")
    up.add_argument("--size-mb", type=int, default=1024, help="Size of the clip sent.")
    up.add_argument("--runs", type=int, default=3)
    st = sub.add_parser("study")
    st.add_argument("--cases", type=int, default=100_000)
    ve = sub.add_parser("verify")
    ve.add_argument("--cameras", type=int, default=10_000)
    ve.add_argument("--clips", type=int, default=10_000_000)
    ve.add_argument("--rounds", type=int, default=3, help="Timed runs of each (best kept).")
    ve.add_argument("--package-mb", type=int, default=1000,
                    help="Size of the signed package to check (0: skip).")
    args = parser.parse_args()
    if shutil.which("ffprobe") is None:
        raise SystemExit("ffprobe not found: install ffmpeg")
    {"canvass": bench_canvass, "canvass-all": bench_canvass_all, "startup": bench_startup,
     "extract": bench_extract,
     "ingest": bench_ingest, "scan": bench_scan, "study": bench_study,
     "serve": bench_serve, "intake": bench_intake, "upload": bench_upload,
     "verify": bench_verify}[args.which](args)


if __name__ == "__main__":
    main()
