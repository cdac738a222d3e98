"""Ingest clips into the catalog: probe, hash, resolve the start time, apply the clock offset.

The start time comes from the registered time sources (``videx.timesources``), in this order,
the first that applies winning; its name is stored with the clip:

1. ``manual``: ``--start`` given on the command line (only for a single file);
2. ``sidecar``: ``NAME.json`` (or ``NAME.mp4.json``) beside the clip with a ``start`` key, and
   any vendor sidecar a plugin registers;
3. ``filename``: a user ``--name-pattern`` regex (searched in the whole file name, extension
   included), then the presets (doorbell, NVR IP/channel with milliseconds, DVR channel,
   compact, spaced);
4. ``metadata``: the container's ``creation_time`` tag (UTC by the MP4 specification);
5. ``mtime``: the file's modification time, only with ``allow_mtime``, taken as the end of the
   recording and marked low confidence.

Times without an offset are camera-clock local times read in the ingest ``tz``, else the
camera's ``tz``, else the catalog's zone; with none of these the file is rejected rather than
guessed. Camera-clock times are corrected by the camera's ``clock_offset_s`` (camera clock
minus true time); both raw and corrected times are stored. A modification time is the copying
computer's clock, so the offset is applied to it only with ``mtime_from_camera``. A start
before 2000 or in the future is refused unless ``allow_suspect_times`` (then low confidence).

Files are opened read-only. Probing and hashing run in a thread pool outside any transaction:
a clip up to ``ONE_PASS_MAX_BYTES`` is read once, its bytes hashed and probed from memory
in-process (PyAV, which releases the GIL while FFmpeg works, as hashlib does); larger ones are
hashed while read and then probed; ffprobe answers what PyAV cannot open, and the clip records
which reader probed it (``probed_with``). Finished files are written in the order given
(directories walked sorted), so clip ids do not depend on which thread finished first (a file
waits for those before it: at most ``jobs * 4`` are in hand at once), from the calling thread
in short transactions (up to ``BATCH`` files, at least one a second while files finish), each
with its own audit entry, so an interrupted (even killed) run keeps what it committed, never a
clip without its audit entry, and a rerun does the rest. A file whose size or modification time
changed while it was probed and hashed is refused as still being written.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from videx import limits, timesources
from videx.errors import OptionError, ProbeError, TimestampError, VidexError
from videx.hashing import sha256_file
from videx.probe import ProbeInfo, probe, require_tools
from videx.timesources import StartTime
from videx.timeutil import get_zone, iso_utc, now_utc

SKIP_SUFFIXES = {".json"}
BATCH = 50              # files per transaction at most ...
BATCH_SECONDS = 1.0     # ... and at least one commit a second while files finish


@dataclass
class IngestReport:
    """The outcome of one ingest run, file by file."""

    added: list[int] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, int]] = field(default_factory=list)
    conflicts: list[tuple[str, str]] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not (self.rejected or self.conflicts or self.interrupted)

    def summary(self) -> str:
        text = (f"{len(self.added)} added, {len(self.unchanged)} already catalogued, "
                f"{len(self.duplicates)} duplicate(s) skipped, {len(self.conflicts)} "
                f"conflict(s), {len(self.rejected)} rejected")
        return text + (" (interrupted: rerun to finish)" if self.interrupted else "")

    def to_dict(self) -> dict:
        return {"added": self.added, "unchanged": self.unchanged,
                "duplicates": [{"path": p, "clip_id": c} for p, c in self.duplicates],
                "conflicts": [{"path": p, "reason": r} for p, r in self.conflicts],
                "rejected": [{"path": p, "reason": r} for p, r in self.rejected],
                "interrupted": self.interrupted}


def compile_pattern(pattern: str) -> re.Pattern:
    """Compile a user file-name regex; it must have named groups Y, m, d, H, M, S."""
    try:
        rx = re.compile(pattern)
    except re.error as err:
        raise OptionError(f"not a regular expression: {err}", "name_pattern") from err
    missing = {"Y", "m", "d", "H", "M", "S"} - set(rx.groupindex)
    if missing:
        raise OptionError(f"the pattern needs named groups Y, m, d, H, M, S (missing "
                          f"{', '.join(sorted(missing))})", "name_pattern")
    return rx


def resolve_start(path: Path, info: ProbeInfo, *, manual: str | None = None, zone=None,
                  user_pattern: re.Pattern | None = None, allow_mtime: bool = False,
                  mtime_from_camera: bool = False,
                  allow_suspect: bool = False) -> StartTime:
    """Find a clip's raw (camera-clock) start through the registered time sources (see
    ``videx.timesources``), or raise TimestampError."""
    return timesources.resolve(path, timesources.Context(
        zone, info.duration_s, info.creation_time, user_pattern, manual, allow_mtime,
        mtime_from_camera, allow_suspect))


def iter_files(paths: Iterable[str | os.PathLike]) -> Iterator[Path]:
    """Clip candidates under ``paths`` (recursive, sorted), skipping hidden files and sidecars."""
    for given in paths:
        p = Path(given)
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith(".") and Path(name).suffix.lower() not in SKIP_SUFFIXES:
                        yield Path(root) / name
        else:
            yield p


@dataclass(frozen=True)
class Examined:
    """What the worker found out about one file (outside any transaction)."""

    path: Path
    known: tuple[int, str] | None
    digest: str | None = None
    info: ProbeInfo | None = None
    error: Exception | None = None


ONE_PASS_MAX_BYTES = 64 << 20   # clips up to this size are read once into memory


def _examine(path: Path, known, timeout: float) -> Examined:
    """Worker: probe (unless catalogued) and hash; refuse a file that changes meanwhile."""
    try:
        before = path.stat()
        if known is None and 0 < before.st_size <= ONE_PASS_MAX_BYTES:
            with open(path, "rb") as fh:         # one read: hash and probe the same bytes
                data = fh.read()
            digest = hashlib.sha256(data).hexdigest()
            info = probe(path, timeout, data=data)
            read = len(data)
            del data
        else:
            info = probe(path, timeout) if known is None else None
            digest = sha256_file(path)
            read = before.st_size
        after = path.stat()
        if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or \
                read != after.st_size:
            raise VidexError(f"still being written (size {before.st_size} -> {after.st_size} "
                             "bytes while it was read); retry when the copy has finished")
        return Examined(path, known, digest, info)
    except (OSError, VidexError) as err:
        return Examined(path, known, error=err)


def _clip_record(path: Path, digest: str, info: ProbeInfo, start: StartTime,
                 camera: dict) -> dict:
    offset = float(camera["clock_offset_s"] or 0.0) if start.camera_clock else 0.0
    raw_ts = start.raw.timestamp()
    start_ts = raw_ts - offset
    end_ts = start_ts + info.duration_s
    problem = (limits.instant_problem(start_ts, "the corrected start")
               or limits.instant_problem(end_ts, "the corrected end"))
    if problem:
        raise TimestampError(f"{problem} (start {start.source} {iso_utc(raw_ts)}, camera "
                             f"clock offset {offset:g} s): check the camera's clock_offset_s "
                             "or give --start")
    return {"camera_id": camera["id"], "path": str(path), "sha256": digest,
            "size_bytes": info.size_bytes, "container": info.container, "codec": info.codec,
            "width": info.width, "height": info.height, "fps": info.fps,
            "duration_s": info.duration_s, "start_raw": iso_utc(start.raw),
            "start_raw_ts": raw_ts, "clock_offset_s": offset, "start": iso_utc(start_ts),
            "start_ts": start_ts, "end": iso_utc(end_ts), "end_ts": end_ts,
            "time_source": start.source, "time_detail": start.detail,
            "time_confidence": start.confidence, "ingested_at": iso_utc(now_utc()),
            "rotation": info.rotation, "display_width": info.display_width or info.width,
            "display_height": info.display_height or info.height, "vfr": int(info.vfr),
            "frames": info.frames, "keyframe_interval_s": info.keyframe_interval_s,
            "probed_with": info.probed_with, "streams": info.streams}


def _resolve_files(paths: list[str], report: IngestReport) -> list[Path]:
    """Candidate files, each once; a path that cannot be resolved is refused alone."""
    files: dict[Path, None] = {}
    for candidate in iter_files(paths):
        try:
            files[candidate.resolve(strict=True)] = None
        except (OSError, RuntimeError) as err:   # a symlink loop, a dangling link
            loop = isinstance(err, RuntimeError) or getattr(err, "errno", None) == errno.ELOOP
            why = ("symlink loop" if loop
                   else "cannot be resolved (dangling link or vanished file)")
            report.rejected.append((str(candidate), f"path {why}"))
    return list(files)


def ingest(cat, paths: Iterable[str | os.PathLike], *, camera_id: str | None = None,
           camera_from_folder: bool = False, start: str | None = None, tz: str | None = None,
           name_pattern: str | None = None, allow_mtime: bool = False,
           mtime_from_camera: bool = False, allow_suspect_times: bool = False,
           jobs: int | None = None, probe_timeout: float = 30.0,
           progress: Callable[[int], None] | None = None) -> IngestReport:
    """Catalog the clips under ``paths`` for one camera (or the camera named by each folder).

    Returns an IngestReport; raises before touching anything when options are inconsistent.
    """
    require_tools("ffprobe")
    paths = [str(p) for p in paths]
    if bool(camera_id) == bool(camera_from_folder):
        raise OptionError("give exactly one of a camera id, or camera ids from folder names",
                          "camera")
    cat.check_writable()
    report = IngestReport()
    files = _resolve_files(paths, report)
    if start and len(files) != 1:
        raise OptionError(f"a manual start applies to a single file, but {len(files)} were "
                          "given", "start")
    cams: dict[str, dict] = {}
    if camera_id:
        cams[camera_id] = cat.cameras.require(camera_id)
    if tz:
        get_zone(tz)
    pattern = compile_pattern(name_pattern) if name_pattern else None
    jobs = max(1, jobs or (os.cpu_count() or 1))
    run_args = {"paths": paths, "camera": camera_id, "camera_from_folder": camera_from_folder,
                "start": start, "tz": tz, "name_pattern": name_pattern,
                "allow_mtime": allow_mtime, "mtime_from_camera": mtime_from_camera,
                "allow_suspect_times": allow_suspect_times}

    def zone_for(camera: dict):
        name = tz or camera.get("tz") or cat.zone_name
        return get_zone(name) if name else None

    def camera_for(path: Path) -> dict:
        cid = camera_id or path.parent.name
        if cid not in cams:
            cams[cid] = cat.cameras.require(cid)
        return cams[cid]

    def store(batch: list[Examined]) -> None:
        """Write finished files in one short transaction with its audit entry."""
        if not batch:
            return
        added, rejected = [], []
        with cat.write("ingest", dict(run_args)) as tx:
            for item in batch:
                outcome = _decide(item)
                if outcome is None:
                    continue
                kind, value = outcome
                if kind == "reject":
                    cat.clips.reject(str(item.path), value, iso_utc(now_utc()))
                    rejected.append((str(item.path), value))
                elif kind == "clip":
                    dup = cat.clips.with_hash(value["sha256"])
                    if dup:
                        report.duplicates.append((str(item.path), dup))
                    else:
                        added.append(cat.clips.insert(value))
            tx.args.update({"files": len(batch), "added": added, "rejected": len(rejected)})
        report.added.extend(added)
        report.rejected.extend(rejected)

    def _decide(item: Examined):
        spath = str(item.path)
        if item.error is not None:
            return "reject", _reason(item.error)
        if item.known:
            if item.known[1] == item.digest:
                report.unchanged.append(spath)
            else:
                report.conflicts.append((spath, (
                    f"conflict: file changed since it was catalogued as clip {item.known[0]} "
                    f"(SHA-256 was {item.known[1][:12]}..., now {item.digest[:12]}...); the "
                    "catalog keeps the original record")))
            return None
        try:
            camera = camera_for(item.path)
            when = resolve_start(item.path, item.info, manual=start, zone=zone_for(camera),
                                 user_pattern=pattern, allow_mtime=allow_mtime,
                                 mtime_from_camera=mtime_from_camera,
                                 allow_suspect=allow_suspect_times)
            return "clip", _clip_record(item.path, item.digest, item.info, when, camera)
        except VidexError as err:
            return "reject", _reason(err)

    if report.rejected:   # paths refused before probing are recorded too
        early = list(report.rejected)
        report.rejected.clear()
        store([Examined(Path(p), None, error=VidexError(r)) for p, r in early])
    # files are stored in the order given (so clip ids do not depend on which thread finished
    # first): a finished file waits for the ones submitted before it; at most jobs * 4 files
    # are in hand at once, examined or waiting
    pending: dict[Future, int] = {}
    finished_early: dict[int, Examined] = {}
    done: list[Examined] = []
    stored_upto = 0
    flushed = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            try:
                it = iter(enumerate(files))
                while True:
                    while len(pending) + len(finished_early) < jobs * 4:
                        index, path = next(it, (None, None))
                        if path is None:
                            break
                        known = cat.clips.known(str(path))
                        pending[pool.submit(_examine, path, known, probe_timeout)] = index
                    if not pending:
                        break
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        finished_early[pending.pop(fut)] = fut.result()
                        if progress:
                            progress(1)
                    while stored_upto in finished_early:
                        done.append(finished_early.pop(stored_upto))
                        stored_upto += 1
                    if len(done) >= BATCH or time.monotonic() - flushed >= BATCH_SECONDS:
                        store(done)
                        done, flushed = [], time.monotonic()
            except KeyboardInterrupt:
                pool.shutdown(wait=False, cancel_futures=True)   # queued files are not begun
                raise
    except KeyboardInterrupt:
        report.interrupted = True
        # everything examined is kept (in file order; after an interruption the ids of files
        # past a gap depend on which finished, which only an interrupted run allows)
        store(done + [finished_early[i] for i in sorted(finished_early)])
        raise
    store(done)
    return report


def _reason(err: Exception) -> str:
    if isinstance(err, (ProbeError, TimestampError, VidexError)):
        return str(err)
    if isinstance(err, PermissionError):
        return "permission denied reading the file"
    return f"cannot read file: {err}"
