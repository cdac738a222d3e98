"""Evidence packages: trimmed copies of the clips around an incident, a manifest, and a
``SHA256SUMS`` file that the standard ``sha256sum -c`` verifies without videx or a vendor's
player.

Stream copy (the default) cannot start between keyframes, so each extract starts at the
keyframe at or before the window start; the manifest records the start it actually got.
``reencode`` cuts exactly at the window (H.264, CRF 18). The corrected start of each extract is
written as its ``creation_time``. Originals are only read; extracts are made read-only.
"""

from __future__ import annotations

import csv
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import ffmpeg

from videx import __version__, audit
from videx.errors import VidexError
from videx.hashing import sha256_file
from videx.output import safe_cell
from videx.probe import keyframe_times, require_tools, run_tool
from videx.timeutil import from_ts, iso_utc, now_utc

SUMS = "SHA256SUMS"
MANIFEST_FIELDS = [
    "file", "sha256", "case_no", "camera_id", "camera_name", "source", "integration", "lat",
    "lon", "address", "clip_id", "source_path", "source_sha256", "raw_start", "clock_offset_s",
    "corrected_start", "time_source", "time_confidence", "extract_start", "extract_end",
    "extract_start_offset_s", "cut", "probative", "operator", "videx_version", "created_at"]
EXTRACT_TIMEOUT_S = 300.0

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


def keyframe_at_or_before(path: str, offset_s: float) -> float:
    """Time (s) of the last keyframe at or before ``offset_s`` (0 when none)."""
    keys = [k for k in keyframe_times(path) if k <= offset_s + 1e-6]
    return keys[-1] if keys else 0.0


def cut(src: str, dest: Path, start_s: float, duration_s: float, creation_time: str,
        reencode: bool) -> None:
    """Write ``duration_s`` seconds of ``src`` from ``start_s`` to ``dest`` with ffmpeg."""
    out_args = {"t": f"{duration_s:.3f}", "map": "0", "map_metadata": "-1",
                "metadata": f"creation_time={creation_time}", "movflags": "+faststart"}
    if reencode:
        out_args.update({"c:v": "libx264", "crf": 18, "preset": "veryfast", "c:a": "aac"})
    else:
        out_args.update({"c": "copy", "avoid_negative_ts": "make_zero"})
    args = (ffmpeg.input(src, ss=f"{start_s:.3f}").output(str(dest), **out_args)
            .overwrite_output().global_args("-nostdin", "-loglevel", "error").compile())
    run_tool(args, f"extract of {Path(src).name}", EXTRACT_TIMEOUT_S)


@dataclass
class Package:
    """An evidence package written to ``out``."""

    out: Path
    rows: list[dict] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    audit_note: str | None = None

    def summary(self) -> str:
        text = f"{len(self.rows)} clip(s) extracted to {self.out}"
        if self.failed:
            text += f", {len(self.failed)} failed"
        return text + f"; check with: cd {self.out} && sha256sum -c {SUMS}"


def extract(cat, result, out: str | Path, probative_only: bool = False,
            reencode: bool = False) -> Package:
    """Extract every clip of a canvass result into ``out`` (see module docstring)."""
    require_tools("ffmpeg", "ffprobe")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise VidexError(f"{out} is not empty: choose a new folder for the package")
    incident_id = result.incident.id
    probative = {k: v["probative"] for k, v in cat.history.current_reviews(incident_id).items()}
    out.mkdir(parents=True, exist_ok=True)
    clips_dir = out / "clips"
    clips_dir.mkdir(exist_ok=True)
    pkg = Package(out)
    operator = audit.os_user()
    for cam, clip in result.clips():
        if probative_only and probative.get(clip.clip_id) != 1:
            continue
        try:
            pkg.rows.append(_extract_one(cat, out, clips_dir, result, cam, clip,
                                         probative.get(clip.clip_id), reencode, operator))
        except (VidexError, OSError) as err:
            pkg.failed.append((clip.clip_id, str(err)))
    write_manifest(out, pkg.rows)
    pkg.audit_note = cat.record(
        "extract", {"out": str(out), "probative_only": probative_only, "reencode": reencode,
                    **result.parameters(), "clips": [r["clip_id"] for r in pkg.rows],
                    "failed": len(pkg.failed)}, case_no=incident_id)
    return pkg


def _extract_one(cat, out, clips_dir, result, cam, clip, probative, reencode, operator):
    row = cat.clips.require(clip.clip_id)
    src = row["path"]
    if sha256_file(src) != row["sha256"]:
        raise VidexError(f"clip {row['id']}: original changed since it was catalogued "
                         "(run videx verify --catalog)")
    want_start = max(0.0, result.window_start_ts - row["start_ts"])
    want_end = min(row["duration_s"], result.window_end_ts - row["start_ts"])
    start = want_start if reencode else keyframe_at_or_before(src, want_start)
    corrected_start = row["start_ts"] + start
    name = (f"{safe_name(cam.camera_id)}_clip{row['id']}_"
            f"{iso_utc(corrected_start).replace(':', '').replace('-', '')}.mp4")
    dest = _inside(out, clips_dir / name)
    created = from_ts(corrected_start).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    cut(src, dest, start, want_end - start, created, reencode)
    os.chmod(dest, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    return {
        "file": dest.relative_to(out).as_posix(), "sha256": sha256_file(dest),
        "case_no": result.incident.id, "camera_id": cam.camera_id,
        "camera_name": cam.name, "source": cam.source,
        "integration": cam.integration, "lat": cam.lat, "lon": cam.lon,
        "address": cam.address, "clip_id": row["id"], "source_path": src,
        "source_sha256": row["sha256"], "raw_start": row["start_raw"],
        "clock_offset_s": row["clock_offset_s"], "corrected_start": row["start"],
        "time_source": row["time_source"], "time_confidence": row["time_confidence"],
        "extract_start": iso_utc(corrected_start),
        "extract_end": iso_utc(row["start_ts"] + want_end),
        "extract_start_offset_s": round(start, 3),
        "cut": "re-encoded, exact" if reencode else "stream copy, from keyframe",
        "probative": {1: "yes", 0: "no"}.get(probative, "not reviewed"),
        "operator": operator, "videx_version": __version__, "created_at": iso_utc(now_utc()),
    }


def write_manifest(out: Path, rows: list[dict]) -> None:
    """manifest.json, manifest.csv (spreadsheet-safe) and SHA256SUMS over everything."""
    (out / "manifest.json").write_text(json.dumps({"files": rows}, indent=2) + "\n")
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
