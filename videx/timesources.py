"""Where a clip's start time comes from: a registry of time sources.

A vendor format is one function plus one registration::

    from videx.timesources import Found, time_source

    @time_source("acme-dvr", stage="sidecar")
    def acme_dvr(path, ctx):
        meta = path.with_suffix(".acme")
        if not meta.is_file():
            return None                          # not this vendor's clip: try the next source
        return Found(parse_acme(meta), f"ACME export {meta.name}")

The returned ``Found`` is the start **as the camera's clock showed it**, in UTC (the camera's
clock offset is applied afterwards unless ``camera_clock=False``). The source's name is stored
as the clip's ``time_source``. File-name formats register with ``filename_preset``. Packages
can also ship sources through the ``videx.timesources`` entry-point group (each entry point
names a module that registers its sources when imported).

Stages run in this order, and the first source that finds a time wins: ``manual`` (the
``--start`` option), ``sidecar`` (files beside the clip), ``filename`` (a user pattern, then the
presets), ``metadata`` (the container's creation time), ``mtime`` (only when allowed).
A time before 2000 or in the future is refused from any source ("suspect"), unless suspect
times are allowed, when it is kept with low confidence.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from videx.errors import TimestampError
from videx.timeutil import UTC, get_zone, localize, now_utc, parse_instant

STAGES = ("manual", "sidecar", "filename", "metadata", "mtime")
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Found:
    """A start time a source found: the camera-clock instant (UTC), how, and whether the
    camera's clock offset applies (False for times that did not come from the camera)."""

    raw: datetime
    detail: str
    confidence: str = "high"
    camera_clock: bool = True


@dataclass(frozen=True)
class StartTime:
    """A clip's start as the camera reported it (UTC), and where that came from."""

    raw: datetime
    source: str
    detail: str
    confidence: str = "high"
    camera_clock: bool = True


@dataclass
class Context:
    """What a source may use: the zone of local times, the probe facts, ingest options."""

    zone: ZoneInfo | None
    duration_s: float = 0.0
    creation_time: str | None = None
    user_pattern: re.Pattern | None = None
    manual: str | None = None
    allow_mtime: bool = False
    mtime_from_camera: bool = False
    allow_suspect: bool = False
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Source:
    name: str
    stage: str
    read: Callable[[Path, Context], Found | None]


_SOURCES: list[Source] = []
_PRESETS: dict[str, re.Pattern] = {}
_plugins_loaded = False


def time_source(name: str, stage: str) -> Callable:
    """Register ``fn(path, ctx) -> Found | None`` as time source ``name`` in ``stage``."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r} (one of {', '.join(STAGES)})")

    def register(fn):
        if any(s.name == name for s in _SOURCES):
            raise ValueError(f"time source {name!r} is registered already")
        _SOURCES.append(Source(name, stage, fn))
        return fn
    return register


def filename_preset(name: str, pattern: str) -> None:
    """Register a file-name format: a regex with named groups Y m d H M S, optionally ``ms``
    (milliseconds), ``f`` (a decimal fraction of a second) and ``Z`` (the name is in UTC)."""
    _PRESETS[name] = re.compile(pattern)


def presets() -> dict[str, re.Pattern]:
    _load_plugins()
    return dict(_PRESETS)


def registered() -> list[str]:
    """Names a clip's ``time_source`` may hold."""
    _load_plugins()
    return [s.name for s in _SOURCES]


PLUGIN_GROUP = "videx.timesources"


def _load_plugins() -> None:
    """Import every plugin module named by an installed distribution's ``videx.timesources``
    entry point (importing registers its sources)."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    import importlib
    for value in declared_plugins():
        module, _, attr = value.split("[", 1)[0].partition(":")     # no extras
        obj = importlib.import_module(module.strip())
        for part in filter(None, attr.strip().split(".")):
            obj = getattr(obj, part)


def declared_plugins(paths: list[str] | None = None) -> list[str]:
    """The ``module:attr`` values of ``videx.timesources`` entry points in the
    ``entry_points.txt`` of the distributions on ``paths`` (``sys.path``): what
    ``importlib.metadata.entry_points`` finds, read directly (importing importlib.metadata
    costs some 35 ms of every ingest's start-up; reading the few files costs one or two)."""
    import os
    import sys
    header = f"[{PLUGIN_GROUP}]"
    found: list[str] = []
    seen: set[str] = set()              # a distribution counts once, first on the path wins
    for base in (sys.path if paths is None else paths):
        try:
            entries = os.scandir(base or ".")
        except OSError:
            continue
        with entries:
            for entry in entries:
                if not entry.name.endswith((".dist-info", ".egg-info")):
                    continue
                name = re.sub(r"[-_.]+", "_", entry.name.rsplit(".", 1)[0].split("-", 1)[0]
                              .lower())
                if name in seen:
                    continue
                seen.add(name)
                try:
                    with open(os.path.join(entry.path, "entry_points.txt"),
                              encoding="utf-8") as fh:
                        text = fh.read()
                except OSError:
                    continue
                if header in text:
                    found += _section_values(text, header)
    return list(dict.fromkeys(found))


def _section_values(text: str, header: str) -> list[str]:
    """The values of one ``[section]`` of an entry_points.txt (``name = module:attr``)."""
    values, inside = [], False
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            inside = line == header
        elif inside and "=" in line and not line.startswith(("#", ";")):
            values.append(line.split("=", 1)[1].strip())
    return values


def resolve(path: Path, ctx: Context) -> StartTime:
    """The first time a source finds for ``path``, stage by stage; TimestampError when none
    does (or when a source finds a time it cannot read)."""
    _load_plugins()
    suspect: TimestampError | None = None
    for stage in STAGES:
        for src in (s for s in _SOURCES if s.stage == stage):
            found = src.read(path, ctx)
            if found is None:
                continue
            try:
                return _checked(StartTime(found.raw, src.name, found.detail, found.confidence,
                                          found.camera_clock), ctx)
            except TimestampError as err:   # a later source may still know better
                suspect = suspect or err
    if suspect:
        raise suspect
    raise TimestampError("no start time: no --start, sidecar, recognised file name or "
                         "creation_time (pass --allow-mtime to use the modification time, "
                         "low confidence)")


def _checked(start: StartTime, ctx: Context) -> StartTime:
    """Refuse a start before 2000 or more than a day ahead (a camera with a reset clock, a
    name misread), or keep it at low confidence when suspect times are allowed."""
    if EARLIEST <= start.raw <= now_utc() + timedelta(days=1):
        return start
    why = "before 2000" if start.raw < EARLIEST else "in the future"
    if not ctx.allow_suspect:
        raise TimestampError(f"start {start.raw:%Y-%m-%d %H:%M:%S}Z from {start.source} is "
                             f"{why}: a reset camera clock or a misread name; give --start, "
                             "or allow suspect times to keep it at low confidence")
    return replace(start, confidence="low", detail=f"{start.detail}; suspect: {why}")


# ------------------------------------------------------------------ the built-in sources
@time_source("manual", stage="manual")
def _manual(path: Path, ctx: Context) -> Found | None:
    if not ctx.manual:
        return None
    return Found(parse_instant(ctx.manual, ctx.zone), f"--start {ctx.manual}")


def sidecar_for(path: Path) -> Path | None:
    """The sidecar JSON of a clip (``NAME.json`` or ``NAME.mp4.json``), if present."""
    for candidate in (path.with_suffix(".json"), path.with_name(path.name + ".json")):
        if candidate.is_file():
            return candidate
    return None


@time_source("sidecar", stage="sidecar")
def _sidecar(path: Path, ctx: Context) -> Found | None:
    """``NAME.json`` beside the clip with ``start`` (and optionally ``tz``)."""
    side = sidecar_for(path)
    if side is None:
        return None
    try:
        doc = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise TimestampError(f"sidecar {side.name} is not valid JSON: {err}") from err
    if not isinstance(doc, dict) or "start" not in doc:
        raise TimestampError(f"sidecar {side.name} has no \"start\" key")
    zone = get_zone(doc["tz"]) if doc.get("tz") else ctx.zone
    try:
        return Found(parse_instant(str(doc["start"]), zone), f"sidecar {side.name}")
    except TimestampError as err:
        raise TimestampError(f"sidecar {side.name}: {err}") from err


def start_from_name(name: str, zone: ZoneInfo | None,
                    user_pattern: re.Pattern | None = None) -> tuple[datetime, str] | None:
    """(UTC datetime, detail) from a whole file name (extension included), or None when no
    pattern matches. TimestampError when a name matches but its time is invalid, ambiguous
    (DST) or has no zone to be read in."""
    candidates = ([("name-pattern", user_pattern)] if user_pattern else []) + list(
        presets().items())
    for label, rx in candidates:
        m = rx.search(name)
        if not m:
            continue
        g = m.groupdict()
        micro = 0
        if g.get("ms"):
            micro = int(g["ms"].ljust(3, "0")[:3]) * 1000
        elif g.get("f"):
            micro = int(round(float("0" + g["f"]) * 1e6))
        try:
            naive = datetime(int(g["Y"]), int(g["m"]), int(g["d"]), int(g["H"]), int(g["M"]),
                             int(g["S"]), min(micro, 999_999))
        except ValueError as err:
            raise TimestampError(f"file name {name!r} matches {label} but {err}") from err
        if g.get("Z"):
            return naive.replace(tzinfo=UTC), f"file name ({label}, UTC)"
        if zone is None:
            raise TimestampError(f"file-name time in {name!r} has no zone: set the camera's tz, "
                                 "pass --tz, or run videx init --tz")
        return localize(naive, zone).astimezone(UTC), f"file name ({label}, local {zone.key})"
    return None


@time_source("filename", stage="filename")
def _filename(path: Path, ctx: Context) -> Found | None:
    named = start_from_name(path.name, ctx.zone, ctx.user_pattern)
    return Found(*named) if named else None


@time_source("metadata", stage="metadata")
def _metadata(path: Path, ctx: Context) -> Found | None:
    """The container's ``creation_time`` (UTC by the MP4 specification)."""
    if not ctx.creation_time:
        return None
    return Found(parse_instant(ctx.creation_time, "UTC"),
                 f"creation_time tag {ctx.creation_time}")


@time_source("mtime", stage="mtime")
def _mtime(path: Path, ctx: Context) -> Found | None:
    """The file's modification time as the end of the recording, only when allowed. It is the
    clock of whatever computer wrote the file, so the camera's offset applies only when the
    file came straight from the camera (``mtime_from_camera``)."""
    if not ctx.allow_mtime:
        return None
    end = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    whose = ("the camera's clock (file straight from the camera)" if ctx.mtime_from_camera
             else "the copying computer's clock, camera offset not applied")
    return Found(end - timedelta(seconds=ctx.duration_s), "file modification time taken as "
                 f"end of recording; {whose}", "low", camera_clock=ctx.mtime_from_camera)


# File-name formats seen in exports (the names stay examples of real ones)
# Doorbell / cloud downloads: ``FrontDoor_2023-05-01T18-30-12Z.mp4`` (``Z``: in UTC).
filename_preset("doorbell", r"(?P<Y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})T(?P<H>\d{2})[-_:.]"
                            r"(?P<M>\d{2})[-_:.](?P<S>\d{2})(?P<f>\.\d+)?(?P<Z>Z)?")
# IP camera / NVR exports: ``192.168.1.64_01_20261120211650123.mp4`` (IP, channel, time with
# milliseconds).
filename_preset("nvr-ip-channel", r"(?P<ip>\d{1,3}(?:\.\d{1,3}){3})_(?P<ch>\d{1,3})_"
                                  r"(?P<Y>\d{4})(?P<m>\d{2})(?P<d>\d{2})(?P<H>\d{2})(?P<M>\d{2})"
                                  r"(?P<S>\d{2})(?P<ms>\d{3})?(?!\d)")
# DVR channel exports: ``ch01_20230501143012.mp4``.
filename_preset("dvr-channel", r"ch(?P<ch>\d{1,3})_(?P<Y>\d{4})(?P<m>\d{2})(?P<d>\d{2})"
                               r"(?P<H>\d{2})(?P<M>\d{2})(?P<S>\d{2})")
# VMS and phone exports: ``20230501_143012.mp4``, ``VID_20230501_143012.mp4``,
# ``cam7-20230501-143012.mp4``.
filename_preset("compact", r"(?<!\d)(?P<Y>\d{4})(?P<m>\d{2})(?P<d>\d{2})[_-](?P<H>\d{2})"
                           r"(?P<M>\d{2})(?P<S>\d{2})(?!\d)")
# Spaced exports: ``2023-05-01 14-30-12.mp4``.
filename_preset("spaced", r"(?P<Y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2}) (?P<H>\d{2})[-.]"
                          r"(?P<M>\d{2})[-.](?P<S>\d{2})")


# ------------------------------------------------------------------ owner uploads
_CLOCK = re.compile(r"^\s*(?P<H>\d{1,2})[:.](?P<M>\d{2})(?:[:.](?P<S>\d{2}))?\s*"
                    r"(?P<ampm>[AaPp]\.?[Mm]\.?)?\s*$")


def typed_start(text: str, zone: ZoneInfo | None, near: datetime) -> datetime:
    """A start time a camera owner typed as their camera shows it, as a camera-clock instant
    (UTC): a date and time (``2023-05-01 22:31:05``, ISO forms, read in ``zone`` unless they
    carry an offset), or a time of day alone (``22:31``, ``10:31:05 pm``), put on the day that
    brings it closest to ``near`` (the requested window as the camera shows it).
    TimestampError when it cannot be read."""
    raw = str(text or "").strip()
    if len(raw) > 40:
        raise TimestampError("the typed start time is too long")
    m = _CLOCK.match(raw)
    if not m:
        return parse_instant(raw, zone)
    hour, minute, second = int(m["H"]), int(m["M"]), int(m["S"] or 0)
    if m["ampm"]:
        if not 1 <= hour <= 12:
            raise TimestampError(f"{raw!r}: an hour with am/pm is 1-12")
        hour = hour % 12 + (12 if m["ampm"][0] in "Pp" else 0)
    if hour > 23 or minute > 59 or second > 59:
        raise TimestampError(f"{raw!r} is not a time of day")
    if zone is None:
        raise TimestampError(f"time {raw!r} has no zone to be read in")
    local_near = near.astimezone(zone)
    best = None
    for days in (-1, 0, 1):
        day = (local_near + timedelta(days=days)).date()
        when = localize(datetime(day.year, day.month, day.day, hour, minute, second),
                        zone).astimezone(UTC)
        if best is None or abs(when - near) < abs(best - near):
            best = when
    return best


@time_source("owner-upload", stage="manual")
def _owner_upload(path: Path, ctx: Context) -> Found | None:
    """A file a camera owner sent through an upload link (``videx.intake``): the start from a
    vendor file-name preset on the sender's file name, else the time the sender typed as
    their camera shows it, else the container's creation time. Every one is the camera's
    clock (the offset applies). Applies only when ``ctx.extra["owner_upload"]`` says so."""
    upload = ctx.extra.get("owner_upload")
    if upload is None:
        return None
    name = upload.get("file_name")
    if name:
        try:
            named = start_from_name(name, ctx.zone)
        except TimestampError:
            named = None          # a name that looks like a time but is not one: go on
        if named:
            return Found(named[0], f"owner upload: sender's file name {name!r}, {named[1]}")
    if upload.get("start"):
        when = typed_start(upload["start"], ctx.zone, upload["near"])
        zone = ctx.zone.key if ctx.zone else "UTC"
        return Found(when, f"owner upload: start typed by the sender {upload['start']!r} "
                           f"(the camera's clock, {zone})", "low")
    if ctx.creation_time:
        return Found(parse_instant(ctx.creation_time, "UTC"), "owner upload: container "
                     f"creation_time {ctx.creation_time}", "low")
    return None
