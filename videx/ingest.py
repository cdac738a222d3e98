"""Ingest clips into the catalog: probe, hash, resolve the start time, apply the clock offset.

Start time, in this order (the first that applies wins; the source is stored with the clip):

1. ``manual``: ``--start`` given on the command line (only for a single file);
2. ``sidecar``: ``NAME.json`` (or ``NAME.mp4.json``) beside the clip with a ``start`` key;
3. ``filename``: a user ``--name-pattern`` regex, then the built-in presets below;
4. ``metadata``: the container's ``creation_time`` tag (UTC by the MP4 specification);
5. ``mtime``: the file's modification time, only with ``allow_mtime``, taken as the end of the
   recording and marked low confidence.

Times from 1-3 that carry no offset are camera-clock local times read in the ingest ``tz``, else
the camera's ``tz``, else the zone set with ``videx init --tz``; with none of these the file is
rejected rather than guessed. All of them are camera-clock times: the camera's
``clock_offset_s`` (camera clock minus true time) is subtracted to give the corrected start;
both raw and corrected times are stored.

Files are opened read-only. Probing and hashing run in a thread pool (ffprobe is a separate
process, and hashlib releases the GIL), while the catalog is written from the calling thread in
small transactions, so an interrupted run keeps what it finished and a rerun does the rest.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlite_utils import Database

from videx import audit, catalog
from videx.cameras import get_camera
from videx.errors import NotFound, ProbeError, TimestampError, VidexError
from videx.probe import ProbeInfo, probe, require_tools, sha256_file
from videx.timeutil import UTC, get_zone, iso_utc, localize, now_utc, parse_instant

_DATE = r"(?P<Y>\d{4})-?(?P<m>\d{2})-?(?P<d>\d{2})"
FILENAME_PRESETS: dict[str, str] = {
    # Doorbell / cloud downloads: ISO-like date and time, ``Z`` when the name is in UTC,
    # e.g. ``FrontDoor_2023-05-01T18-30-12Z.mp4``.
    "doorbell": r"(?P<Y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})T(?P<H>\d{2})[-_:.](?P<M>\d{2})"
                r"[-_:.](?P<S>\d{2})(?:\.\d+)?(?P<Z>Z)?",
    # DVR channel exports: ``ch01_20230501143012.mp4``.
    "dvr-channel": r"ch(?P<ch>\d{1,3})_(?P<Y>\d{4})(?P<m>\d{2})(?P<d>\d{2})(?P<H>\d{2})"
                   r"(?P<M>\d{2})(?P<S>\d{2})",
    # VMS exports: ``20230501_143012.mp4`` or ``cam7-20230501-143012.mp4``.
    "compact": r"(?<!\d)(?P<Y>\d{4})(?P<m>\d{2})(?P<d>\d{2})[_-](?P<H>\d{2})(?P<M>\d{2})"
               r"(?P<S>\d{2})(?!\d)",
    # Spaced exports: ``2023-05-01 14-30-12.mp4``.
    "spaced": r"(?P<Y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2}) (?P<H>\d{2})[-.](?P<M>\d{2})[-.]"
              r"(?P<S>\d{2})",
}
SKIP_SUFFIXES = {".json"}
BATCH = 50


@dataclass(frozen=True)
class StartTime:
    """A clip's start as the camera reported it (UTC), and where that came from."""

    raw: datetime
    source: str
    detail: str
    confidence: str = "high"


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
        raise TimestampError(f"bad --name-pattern: {err}") from err
    missing = {"Y", "m", "d", "H", "M", "S"} - set(rx.groupindex)
    if missing:
        raise TimestampError(f"--name-pattern needs named groups Y, m, d, H, M, S (missing "
                             f"{', '.join(sorted(missing))})")
    return rx


def start_from_name(name: str, zone, user_pattern: re.Pattern | None = None):
    """(UTC datetime, detail) from a file name, or None when no pattern matches.

    Raises TimestampError when a name matches but its time is invalid, ambiguous (DST) or has no
    zone to be read in.
    """
    candidates = ([("name-pattern", user_pattern)] if user_pattern else []) + [
        (label, re.compile(rx)) for label, rx in FILENAME_PRESETS.items()]
    for label, rx in candidates:
        m = rx.search(name)
        if not m:
            continue
        g = m.groupdict()
        try:
            naive = datetime(int(g["Y"]), int(g["m"]), int(g["d"]), int(g["H"]), int(g["M"]),
                             int(g["S"]))
        except ValueError as err:
            raise TimestampError(f"file name {name!r} matches {label} but {err}") from err
        if g.get("Z"):
            return naive.replace(tzinfo=UTC), f"file name ({label}, UTC)"
        if zone is None:
            raise TimestampError(f"file-name time in {name!r} has no zone: set the camera's tz, "
                                 "pass --tz, or run videx init --tz")
        return localize(naive, zone).astimezone(UTC), f"file name ({label}, local {zone.key})"
    return None


def sidecar_for(path: Path) -> Path | None:
    """The sidecar JSON of a clip (``NAME.json`` or ``NAME.mp4.json``), if present."""
    for candidate in (path.with_suffix(".json"), path.with_name(path.name + ".json")):
        if candidate.is_file():
            return candidate
    return None


def read_sidecar(path: Path) -> dict:
    """Parse a sidecar file; raise TimestampError naming it when unreadable."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise TimestampError(f"sidecar {path.name} is not valid JSON: {err}") from err
    if not isinstance(doc, dict) or "start" not in doc:
        raise TimestampError(f"sidecar {path.name} has no \"start\" key")
    return doc


def resolve_start(path: Path, info: ProbeInfo, *, manual: str | None = None, zone=None,
                  user_pattern: re.Pattern | None = None,
                  allow_mtime: bool = False) -> StartTime:
    """Find a clip's raw (camera-clock) start in the documented order, or raise TimestampError."""
    if manual:
        return StartTime(parse_instant(manual, zone), "manual", f"--start {manual}")
    side = sidecar_for(path)
    if side:
        doc = read_sidecar(side)
        side_zone = get_zone(doc["tz"]) if doc.get("tz") else zone
        try:
            when = parse_instant(str(doc["start"]), side_zone)
        except TimestampError as err:
            raise TimestampError(f"sidecar {side.name}: {err}") from err
        return StartTime(when, "sidecar", f"sidecar {side.name}")
    named = start_from_name(path.stem, zone, user_pattern)
    if named:
        return StartTime(named[0], "filename", named[1])
    if info.creation_time:
        when = parse_instant(info.creation_time, "UTC")
        if when.year >= 2000 and when <= now_utc() + timedelta(days=1):
            return StartTime(when, "metadata", f"creation_time tag {info.creation_time}")
    if allow_mtime:
        end = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        return StartTime(end - timedelta(seconds=info.duration_s), "mtime",
                         "file modification time taken as end of recording", "low")
    raise TimestampError("no start time: no --start, sidecar, recognised file name or "
                         "creation_time (pass --allow-mtime to use the modification time, "
                         "low confidence)")


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


def _examine(path: Path, probe_needed: bool, timeout: float):
    """Worker: (sha256, ProbeInfo | None) or the exception raised."""
    try:
        info = probe(path, timeout) if probe_needed else None
        return sha256_file(path), info
    except (OSError, VidexError) as err:
        return err


def _reject(db: Database, report: IngestReport, path: str, reason: str) -> None:
    report.rejected.append((path, reason))
    db.execute("INSERT INTO rejects (path, reason, rejected_at) VALUES (?, ?, ?) ON CONFLICT "
               "(path) DO UPDATE SET reason = excluded.reason, rejected_at = excluded.rejected_at",
               [path, reason, iso_utc(now_utc())])


def _camera_for(db: Database, path: Path, camera_id: str | None, cache: dict) -> dict:
    cid = camera_id or path.parent.name
    if cid not in cache:
        cache[cid] = get_camera(db, cid)
    return cache[cid]


def _store(db: Database, report: IngestReport, path: Path, digest: str, info: ProbeInfo,
           start: StartTime, camera: dict) -> None:
    offset = float(camera["clock_offset_s"] or 0.0)
    raw_ts = start.raw.timestamp()
    start_ts = raw_ts - offset
    end_ts = start_ts + info.duration_s
    dup = db.execute("SELECT id FROM clips WHERE sha256 = ?", [digest]).fetchone()
    if dup:
        report.duplicates.append((str(path), dup[0]))
        return
    cur = db.execute(
        "INSERT INTO clips (camera_id, path, sha256, size_bytes, container, codec, width, "
        "height, fps, duration_s, start_raw, start_raw_ts, clock_offset_s, start, start_ts, "
        "\"end\", end_ts, time_source, time_detail, time_confidence, ingested_at) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [camera["id"], str(path), digest, info.size_bytes, info.container, info.codec,
         info.width, info.height, info.fps, info.duration_s, iso_utc(start.raw), raw_ts,
         offset, iso_utc(start_ts), start_ts, iso_utc(end_ts), end_ts, start.source,
         start.detail, start.confidence, iso_utc(now_utc())])
    db.execute("UPDATE cameras SET max_clip_s = max(max_clip_s, ?) WHERE id = ?",
               [info.duration_s, camera["id"]])
    db.execute("DELETE FROM rejects WHERE path = ?", [str(path)])
    report.added.append(cur.lastrowid)


def ingest(db: Database, paths: Iterable[str | os.PathLike], *, camera_id: str | None = None,
           camera_from_folder: bool = False, start: str | None = None, tz: str | None = None,
           name_pattern: str | None = None, allow_mtime: bool = False, jobs: int | None = None,
           probe_timeout: float = 30.0,
           progress: Callable[[int], None] | None = None) -> IngestReport:
    """Catalog the clips under ``paths`` for one camera (or the camera named by each folder).

    Returns an IngestReport; raises before touching anything when options are inconsistent.
    """
    require_tools("ffprobe")
    paths = [str(p) for p in paths]
    if bool(camera_id) == bool(camera_from_folder):
        raise VidexError("give exactly one of --camera ID or --camera-from-folder")
    files = list(dict.fromkeys(p.resolve() for p in iter_files(paths)))  # once each
    if start and len(files) != 1:
        raise VidexError(f"--start applies to a single file, but {len(files)} were given")
    cams: dict[str, dict] = {}
    if camera_id:
        _camera_for(db, Path("."), camera_id, cams)
    zone_name = tz or catalog.get_setting(db, "default_tz")
    pattern = compile_pattern(name_pattern) if name_pattern else None
    jobs = max(1, jobs or (os.cpu_count() or 1))
    report = IngestReport()

    def zone_for(camera: dict):
        name = tz or camera.get("tz") or zone_name
        return get_zone(name) if name else None

    def handle(path: Path, known: tuple | None, outcome) -> None:
        spath = str(path)
        if isinstance(outcome, Exception):
            _reject(db, report, spath, _reason(outcome))
            return
        digest, info = outcome
        if known:
            if known[1] == digest:
                report.unchanged.append(spath)
            else:
                reason = (f"conflict: file changed since it was catalogued as clip {known[0]} "
                          f"(SHA-256 was {known[1][:12]}..., now {digest[:12]}...); the catalog "
                          "keeps the original record")
                report.conflicts.append((spath, reason))
            return
        try:
            camera = _camera_for(db, path, camera_id, cams)
            when = resolve_start(path, info, manual=start, zone=zone_for(camera),
                                 user_pattern=pattern, allow_mtime=allow_mtime)
        except VidexError as err:
            _reject(db, report, spath, _reason(err))
            return
        _store(db, report, path, digest, info, when, camera)

    pending: dict[Future, tuple[Path, tuple | None]] = {}
    done_count = 0
    db.execute("BEGIN")
    try:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            it = iter(files)
            while True:
                while len(pending) < jobs * 4:
                    path = next(it, None)
                    if path is None:
                        break
                    known = db.execute("SELECT id, sha256 FROM clips WHERE path = ?",
                                       [str(path)]).fetchone()
                    pending[pool.submit(_examine, path, known is None, probe_timeout)] = (
                        path, known)
                if not pending:
                    break
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    path, known = pending.pop(fut)
                    handle(path, known, fut.result())
                    done_count += 1
                    if progress:
                        progress(1)
                    if done_count % BATCH == 0:
                        db.conn.commit()
                        db.execute("BEGIN")
    except KeyboardInterrupt:
        report.interrupted = True
        for fut in pending:
            fut.cancel()
        raise
    finally:
        if db.conn.in_transaction:
            db.conn.commit()
        audit.append(db, "ingest", {
            "paths": paths,
            "camera": camera_id, "camera_from_folder": camera_from_folder, "start": start,
            "tz": tz, "name_pattern": name_pattern, "allow_mtime": allow_mtime,
            "added": len(report.added), "rejected": len(report.rejected),
            "conflicts": len(report.conflicts), "interrupted": report.interrupted})
    return report


def _reason(err: Exception) -> str:
    if isinstance(err, (ProbeError, TimestampError, VidexError)):
        return str(err)
    if isinstance(err, PermissionError):
        return "permission denied reading the file"
    return f"cannot read file: {err}"


def list_clips(db: Database, camera_id: str | None = None, start_ts: float | None = None,
               end_ts: float | None = None) -> list[dict]:
    """Clips (optionally of one camera) overlapping [start_ts, end_ts) (POSIX seconds, UTC),
    in start order."""
    sql, params = "SELECT * FROM clips WHERE 1", []
    if camera_id:
        sql += " AND camera_id = ?"
        params.append(camera_id)
    if start_ts is not None:
        sql += " AND end_ts > ?"
        params.append(start_ts)
    if end_ts is not None:
        sql += " AND start_ts < ?"
        params.append(end_ts)
    return list(db.query(sql + " ORDER BY start_ts, id", params))


def get_clip(db: Database, clip_id: int) -> dict:
    """One clip as a dict, or NotFound."""
    row = next(db.query("SELECT * FROM clips WHERE id = ?", [clip_id]), None)
    if row is None:
        raise NotFound(f"no clip {clip_id} in the catalog (see videx clips list)")
    return row


def list_rejects(db: Database) -> list[dict]:
    """Files refused by ingest, newest first, with the reason."""
    return list(db.query("SELECT path, reason, rejected_at FROM rejects "
                         "ORDER BY rejected_at DESC, path"))
