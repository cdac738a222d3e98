"""Evidence packages: the catalogued originals of the clips around an incident, byte for
byte, with a manifest and a ``SHA256SUMS`` file that the standard ``sha256sum -c`` verifies
without videx or a vendor's player.

Evidence practice keeps the native original as the master copy and labels anything derived.
So a package holds, in ``originals/``, a copy of every catalogued clip in the canvass window,
its SHA-256 checked against the catalog's while it is copied (one read of each file) and
equal to it; copies run in parallel. Only with ``excerpts`` does it also hold, in
``excerpts/``, a cut of each clip to the window, labelled ``derived`` in the manifest with its
source's hash, the cut points and the exact ffmpeg command. Excerpts keep the original's
container (an MJPEG AVI stays an AVI): a stream copy starts at the keyframe at or before the
window start and says so; ``reencode`` cuts exactly (H.264, CRF 18). Each excerpt carries its
corrected start as ``creation_time``. Originals are only read; everything written is made
read-only.

The manifest opens with the incident (case, time and its precision, place, radius, window,
canvass options) and who made the package, when, with which videx.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import stat
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import ffmpeg

from videx import __version__, audit
from videx.errors import VidexError
from videx.hashing import CHUNK, sha256_file
from videx.output import safe_cell
from videx.probe import keyframe_times, require_tools, run_tool
from videx.timeutil import from_ts, iso_utc, now_utc

SUMS = "SHA256SUMS"
MANIFEST_FIELDS = [
    "file", "role", "sha256", "case_no", "camera_id", "camera_name", "source", "integration",
    "lat", "lon", "address", "clip_id", "source_path", "source_sha256", "size_bytes",
    "container", "codec", "raw_start", "clock_offset_s", "corrected_start", "time_source",
    "time_confidence", "extract_start", "extract_end", "extract_start_offset_s", "cut",
    "ffmpeg_command", "probative"]
EXTRACT_TIMEOUT_S = 300.0
PARALLEL_FROM_BYTES = 64 << 20
# stream copy into these keeps the container; anything else is cut into Matroska
COPY_CONTAINERS = {".mp4", ".m4v", ".mov", ".mkv", ".avi", ".ts", ".mts", ".webm", ".3gp"}

# Exit codes of verify
OK, ALTERED, MISSING, UNEXPECTED = 0, 4, 5, 6


def safe_name(text: str, limit: int = 80) -> str:
    """A file-name part that cannot leave the output folder (no separators, no dot-dot)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("._")
    return (name or "unnamed")[:limit]


def _inside(base: Path, candidate: Path) -> Path:
    resolved = candidate.resolve()
    if base.resolve() not in resolved.parents and resolved != base.resolve():
        raise VidexError(f"refusing to write outside {base}: {candidate}")
    return candidate


def copy_verified(src: str | Path, dest: Path, expected_sha256: str) -> str:
    """Copy ``src`` to ``dest`` hashing as it goes (one read); raise and remove the copy when
    the bytes are not the catalogued ones. Returns the SHA-256."""
    digest = hashlib.sha256()
    with open(src, "rb") as fin, open(dest, "xb") as fout:
        while chunk := fin.read(CHUNK * 4):
            digest.update(chunk)
            fout.write(chunk)
    got = digest.hexdigest()
    if got != expected_sha256:
        dest.unlink()
        raise VidexError(f"original {src} changed since it was catalogued (SHA-256 "
                         f"{got[:12]}..., catalogued {expected_sha256[:12]}...): run videx "
                         "verify --catalog")
    shutil.copystat(src, dest)
    os.chmod(dest, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    return got


def keyframe_at_or_before(path: str, offset_s: float) -> float:
    """Time (s) of the last keyframe at or before ``offset_s`` (0 when none)."""
    keys = [k for k in keyframe_times(path) if k <= offset_s + 1e-6]
    return keys[-1] if keys else 0.0


def cut_command(src: str, dest: Path, start_s: float, duration_s: float, creation_time: str,
                reencode: bool) -> list[str]:
    """The ffmpeg command line that cuts ``duration_s`` seconds of ``src`` from ``start_s``."""
    out_args = {"t": f"{duration_s:.3f}", "map": "0", "map_metadata": "-1",
                "metadata": f"creation_time={creation_time}"}
    if dest.suffix.lower() in (".mp4", ".m4v", ".mov"):
        out_args["movflags"] = "+faststart"
    if reencode:
        out_args.update({"c:v": "libx264", "crf": 18, "preset": "veryfast", "c:a": "aac"})
    else:
        out_args.update({"c": "copy", "avoid_negative_ts": "make_zero"})
    return (ffmpeg.input(src, ss=f"{start_s:.3f}").output(str(dest), **out_args)
            .overwrite_output().global_args("-nostdin", "-loglevel", "error").compile())


@dataclass
class Package:
    """An evidence package written to ``out``."""

    out: Path
    rows: list[dict] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    audit_note: str | None = None

    def summary(self) -> str:
        originals = sum(1 for r in self.rows if r["role"] == "original")
        derived = len(self.rows) - originals
        text = f"{originals} original(s)" + (f" and {derived} excerpt(s)" if derived else "")
        text += f" packaged in {self.out}"
        if self.failed:
            text += f", {len(self.failed)} failed"
        return text + f"; check with: cd {self.out} && sha256sum -c {SUMS}"


def incident_block(cat, result) -> dict:
    """The manifest's opening: the incident, the canvass that chose the clips, and who made
    the package."""
    inc = result.incident
    return {"case_no": inc.id, "occurred_at": inc.occurred_at,
            "time_precision": inc.time_precision,
            "occurred_end": None if inc.exact else iso_utc(inc.until_ts),
            "occurred_local": inc.when(cat.display_zone()),
            "time_uncertainty_s": inc.time_uncertainty_s,
            "lat": inc.lat, "lon": inc.lon, "address": inc.address,
            "radius_m": result.radius_m,
            "window": {"start": iso_utc(result.window_start_ts),
                       "end": iso_utc(result.window_end_ts)},
            "canvass": result.parameters(),
            "bookmarks": [{"clip_id": b["clip_id"], "offset_s": b["offset_s"],
                           "note": b["note"], "created_at": b["created_at"],
                           "created_by": b["created_by"], "acting_as": b["acting_as"]}
                          for b in cat.bookmarks.for_incident(inc.id)],
            "extracted_by": {"os_user": audit.os_user(), "acting_as": cat.actor},
            "extracted_at": iso_utc(now_utc()), "videx_version": __version__}


def extract(cat, result, out: str | Path, probative_only: bool = False,
            reencode: bool = False, excerpts: bool = False,
            jobs: int | None = None) -> Package:
    """Package every clip of a canvass result into ``out`` (see module docstring)."""
    if reencode and not excerpts:
        from videx.errors import OptionError
        raise OptionError("re-encoding applies to excerpts: originals are copied as they are",
                          "reencode")
    if excerpts:
        require_tools("ffmpeg", "ffprobe")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise VidexError(f"{out} is not empty: choose a new folder for the package")
    incident_id = result.incident.id
    probative = {k: v["probative"] for k, v in cat.history.current_reviews(incident_id).items()}
    chosen = [(cam, clip) for cam, clip in result.clips()
              if not probative_only or probative.get(clip.clip_id) == 1]
    rows = {r["id"]: r for r in cat.clips.many([k.clip_id for _, k in chosen])}
    (out / "originals").mkdir(parents=True, exist_ok=True)
    if excerpts:
        (out / "excerpts").mkdir(exist_ok=True)
    pkg = Package(out)

    def one(item):
        cam, clip = item
        row = rows[clip.clip_id]
        made = [_original(out, result, cam, row, probative.get(clip.clip_id))]
        if excerpts:
            made.append(_excerpt(out, result, cam, row, probative.get(clip.clip_id),
                                 reencode, made[0]))
        return made

    if jobs is None:   # threads pay off for large files; small ones copy faster in turn
        total = sum(r["size_bytes"] for r in rows.values())
        jobs = (os.cpu_count() or 1) if total > PARALLEL_FROM_BYTES else 1
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for (_, clip), fut in zip(chosen, [pool.submit(one, c) for c in chosen]):
            try:
                pkg.rows.extend(fut.result())
            except (VidexError, OSError) as err:
                pkg.failed.append((clip.clip_id, str(err)))
    write_manifest(out, incident_block(cat, result), pkg.rows)
    pkg.audit_note = cat.record(
        "extract", {"out": str(out), "probative_only": probative_only, "reencode": reencode,
                    "excerpts": excerpts, **result.parameters(),
                    "clips": sorted(r["clip_id"] for r in pkg.rows if r["role"] == "original"),
                    "failed": len(pkg.failed)}, case_no=incident_id)
    return pkg


def _common(result, cam, row, probative) -> dict:
    return {"case_no": result.incident.id, "camera_id": cam.camera_id,
            "camera_name": cam.name, "source": cam.source, "integration": cam.integration,
            "lat": cam.lat, "lon": cam.lon, "address": cam.address, "clip_id": row["id"],
            "source_path": row["path"], "source_sha256": row["sha256"],
            "container": row["container"], "codec": row["codec"],
            "raw_start": row["start_raw"], "clock_offset_s": row["clock_offset_s"],
            "corrected_start": row["start"], "time_source": row["time_source"],
            "time_confidence": row["time_confidence"],
            "probative": {1: "yes", 0: "no"}.get(probative, "not reviewed")}


def _stem(cam, row) -> str:
    return (f"{safe_name(cam.camera_id)}_clip{row['id']}_"
            f"{row['start'].replace(':', '').replace('-', '')}")


def _original(out: Path, result, cam, row: dict, probative) -> dict:
    ext = safe_name(Path(row["path"]).suffix.lstrip(".")) or "bin"
    dest = _inside(out, out / "originals" / f"{_stem(cam, row)}.{ext}")
    digest = copy_verified(row["path"], dest, row["sha256"])
    return {"file": dest.relative_to(out).as_posix(), "role": "original", "sha256": digest,
            **_common(result, cam, row, probative), "size_bytes": row["size_bytes"],
            "cut": "none: byte-for-byte copy of the catalogued original"}


def _excerpt(out: Path, result, cam, row: dict, probative, reencode: bool,
             original: dict) -> dict:
    src = str(out / original["file"])     # cut from the verified copy, not the original
    want_start = max(0.0, result.window_start_ts - row["start_ts"])
    want_end = min(row["duration_s"], result.window_end_ts - row["start_ts"])
    start = want_start if reencode else keyframe_at_or_before(src, want_start)
    corrected_start = row["start_ts"] + start
    ext = Path(row["path"]).suffix.lower()
    if reencode:
        ext = ext if ext in (".mp4", ".mov", ".mkv", ".m4v") else ".mkv"
    elif ext not in COPY_CONTAINERS:
        ext = ".mkv"
    dest = _inside(out, out / "excerpts" / f"{_stem(cam, row)}_excerpt{ext}")
    created = from_ts(corrected_start).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    command = cut_command(src, dest, start, want_end - start, created, reencode)
    run_tool(command, f"excerpt of {Path(row['path']).name}", EXTRACT_TIMEOUT_S)
    os.chmod(dest, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    shown = [a.replace(str(out) + os.sep, "") for a in command]
    return {"file": dest.relative_to(out).as_posix(), "role": "derived",
            "sha256": sha256_file(dest), **_common(result, cam, row, probative),
            "size_bytes": dest.stat().st_size,
            "extract_start": iso_utc(corrected_start),
            "extract_end": iso_utc(row["start_ts"] + want_end),
            "extract_start_offset_s": round(start, 3),
            "cut": "re-encoded, exact" if reencode else "stream copy, from keyframe",
            "ffmpeg_command": " ".join(shown)}


def write_manifest(out: Path, incident: dict, rows: list[dict]) -> None:
    """manifest.json, manifest.csv (spreadsheet-safe) and SHA256SUMS over everything."""
    rows = sorted(rows, key=lambda r: (r["clip_id"], r["role"] != "original"))
    # one file per line: readable, and written by the fast (C) JSON encoder
    (out / "manifest.json").write_text(
        '{"incident": ' + json.dumps(incident) + ',\n "files": [\n  '
        + ",\n  ".join(json.dumps(r) for r in rows) + "\n]}\n")
    with open(out / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(MANIFEST_FIELDS)
        for r in rows:
            writer.writerow([safe_cell(r.get(k)) for k in MANIFEST_FIELDS])
    entries = [(r["sha256"], r["file"]) for r in rows]
    for name in ("manifest.json", "manifest.csv"):
        entries.append((sha256_file(out / name), name))
    (out / SUMS).write_text("".join(f"{h}  {f}\n" for h, f in sorted(entries, key=lambda e: e[1])))
    for name in ("manifest.json", "manifest.csv", SUMS):
        os.chmod(out / name, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)


@dataclass(frozen=True)
class Verification:
    """Outcome of re-hashing a package or the catalog's originals."""

    checked: int
    altered: list[str]
    missing: list[str]
    unexpected: list[str]
    disagreements: list[str] = field(default_factory=list)
    audit_note: str | None = None

    @property
    def exit_code(self) -> int:
        return ALTERED if self.altered or self.disagreements else MISSING if self.missing \
            else UNEXPECTED if self.unexpected else OK

    def summary(self) -> str:
        if self.exit_code == OK:
            return f"{self.checked} file(s) verified, all intact"
        parts = [f"{len(self.altered)} altered", f"{len(self.missing)} missing",
                 f"{len(self.unexpected)} unexpected"]
        if self.disagreements:
            parts.append(f"{len(self.disagreements)} disagreement(s) between "
                         f"{SUMS} and manifest.json")
        return f"{self.checked} file(s) checked: " + ", ".join(parts)

    def problems(self) -> list[str]:
        return ([f"ALTERED {p}" for p in self.altered] + [f"MISSING {p}" for p in self.missing]
                + [f"UNEXPECTED {p}" for p in self.unexpected]
                + [f"DISAGREES {d}" for d in self.disagreements])

    def to_dict(self) -> dict:
        return {"checked": self.checked, "altered": self.altered, "missing": self.missing,
                "unexpected": self.unexpected, "disagreements": self.disagreements,
                "exit_code": self.exit_code}


def _safe_member(name: str) -> str | None:
    """Why a name listed in a package may not be read (absolute, ``..``), or None."""
    p = PurePosixPath(name)
    if p.is_absolute() or name.startswith(("\\", "/")) or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    if ".." in p.parts or "\\" in name:
        return "path leaves the package"
    return None


def _read_sums(folder: Path) -> dict[str, str]:
    sums = folder / SUMS
    if not sums.is_file() or sums.is_symlink():
        raise VidexError(f"{folder} has no {SUMS}: not a videx evidence package")
    listed = {}
    for n, line in enumerate(sums.read_text(encoding="utf-8").splitlines(), start=1):
        m = re.fullmatch(r"([0-9a-f]{64}) [ *](.+)", line.strip())
        if not m:
            raise VidexError(f"{sums}, line {n}: not a sha256sum line")
        listed[m.group(2)] = m.group(1)
    return listed


def _manifest_hashes(folder: Path) -> dict[str, str] | None:
    try:
        doc = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        return {str(f["file"]): str(f["sha256"]) for f in doc["files"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def verify_package(folder: str | Path) -> Verification:
    """Re-hash every file named in ``SHA256SUMS``; list altered, missing and unexpected files,
    and every disagreement between ``SHA256SUMS`` and ``manifest.json``.

    Only regular files inside the package count: a listed name that is absolute or climbs out
    with ``..`` is refused, and a symlink is never followed (it is reported as altered when
    listed, unexpected otherwise)."""
    folder = Path(folder)
    listed = _read_sums(folder)
    altered, missing, disagreements = [], [], []
    for name, digest in sorted(listed.items()):
        why = _safe_member(name)
        if why:
            disagreements.append(f"{name}: {why} in {SUMS}")
            continue
        path = folder / name
        if path.is_symlink():
            altered.append(f"{name} (a symlink, not a file in the package)")
        elif not path.is_file():
            missing.append(name)
        elif sha256_file(path) != digest:
            altered.append(name)
    manifest = _manifest_hashes(folder)
    if manifest is None:
        disagreements.append("manifest.json is missing or unreadable")
    else:
        for name, digest in sorted(manifest.items()):
            if name not in listed:
                disagreements.append(f"{name}: in manifest.json but not in {SUMS}")
            elif listed[name] != digest:
                disagreements.append(f"{name}: {SUMS} and manifest.json give different hashes")
        for name in sorted(set(listed) - set(manifest) - {"manifest.json", "manifest.csv"}):
            disagreements.append(f"{name}: in {SUMS} but not in manifest.json")
    present = set()
    for p in folder.rglob("*"):
        if p.is_file() or p.is_symlink():
            present.add(p.relative_to(folder).as_posix())
    unexpected = sorted(present - set(listed) - {SUMS})
    return Verification(len(listed), altered, missing, unexpected, disagreements)


def verify_catalog(cat, progress=None) -> Verification:
    """Re-hash every catalogued original; changed ones are altered, vanished ones missing."""
    altered, missing, n = [], [], 0
    for _, path, digest in cat.clips.hashes():
        n += 1
        if not Path(path).is_file():
            missing.append(path)
        elif sha256_file(path) != digest:
            altered.append(path)
        if progress:
            progress(1)
    note = cat.record("verify catalog", {"checked": n, "altered": len(altered),
                                         "missing": len(missing)})
    return Verification(n, altered, missing, [], audit_note=note)


def extract_zip(cat, result, base: str | Path, **options) -> Path:
    """Package a canvass result (as ``extract``) and store it in one uncompressed zip,
    ``BASE/package-CASE.zip`` (the web's download); the package folder is removed after."""
    import shutil
    import zipfile
    base = Path(base)
    name = f"package-{safe_name(result.incident.id)}"
    extract(cat, result, base / name, **options)
    archive = base / f"{name}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for f in sorted((base / name).rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(base).as_posix())
    shutil.rmtree(base / name, ignore_errors=True)
    return archive
