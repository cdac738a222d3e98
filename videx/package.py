"""Evidence packages as files: what a package holds, its signature, and how anyone checks it,
with or without the catalog it came from.

A package folder (written by ``videx.evidence.extract``) holds::

    originals/...        the catalogued clips, byte for byte
    excerpts/...         (optional) cuts of them, labelled derived in the manifest
    manifest.json        the incident, the canvass and one entry per file with its SHA-256
    manifest.csv         the same, for a spreadsheet
    SHA256SUMS           every file above with its SHA-256 (``sha256sum -c SHA256SUMS``)
    SIGNATURE.json       when the catalog has a signing key: an Ed25519 signature over a
                         statement that names the SHA-256 of SHA256SUMS and of
                         manifest.json, the case and the key (so every file is covered)

``verify_package`` needs no catalog: it re-hashes every listed file, checks that SHA256SUMS
and manifest.json agree, reports anything that is not a regular file (a symlink, a FIFO, a
device; never opened or followed) and any file not listed, and, given the department's public
key, checks the signature and that it covers these very SHA256SUMS and manifest.json. Given
the digests the extract's audit entry recorded (``anchor``), it checks the package is the
one the catalog made. Files are hashed in parallel threads (hashlib releases the GIL), so a
large package checks about as fast as the disk reads.

Exit codes (``Verification.exit_code``): 0 intact, 4 altered (a file, a disagreement, a bad
or missing signature, not the package the catalog recorded), 5 missing, 6 unexpected.

Standard library only (``cryptography`` is imported only to check a signature), so that
``videx verify`` starts fast.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import stat
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from videx.errors import PackageError

SUMS = "SHA256SUMS"
MANIFEST = "manifest.json"
MANIFEST_CSV = "manifest.csv"
SIGNATURE = "SIGNATURE.json"
NOT_LISTED = {SUMS, SIGNATURE}            # the package's own checks, not in SHA256SUMS
SIGNATURE_FORMAT = 1
CHUNK = 1 << 20

# Exit codes of verify
OK, ALTERED, MISSING, UNEXPECTED = 0, 4, 5, 6


# ------------------------------------------------------------------ reading files safely
class NotRegular(Exception):
    """A path that is not a regular file (its kind in ``args[0]``)."""


def kind_of(mode: int) -> str:
    return ("a symlink" if stat.S_ISLNK(mode) else "a FIFO" if stat.S_ISFIFO(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "a device" if stat.S_ISCHR(mode)
            or stat.S_ISBLK(mode) else "a folder" if stat.S_ISDIR(mode) else "not a file")


def open_regular(path: Path) -> int:
    """A read-only descriptor of a regular file, never following a symlink and never
    blocking on a FIFO; NotRegular otherwise, FileNotFoundError when absent."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        if err.errno in (40, 20):       # ELOOP (a symlink), ENOTDIR
            raise NotRegular("a symlink" if err.errno == 40 else "not a file") from err
        raise
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise NotRegular(kind_of(mode))
    return fd


def sha256_fd(fd: int) -> str:
    """SHA-256 of a descriptor's bytes (closes it); one reusable 1 MiB buffer."""
    digest = hashlib.sha256()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    try:
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        while True:
            n = os.readv(fd, [buf])
            if not n:
                break
            digest.update(view[:n])
    finally:
        os.close(fd)
    return digest.hexdigest()


def read_regular(path: Path) -> bytes:
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as fh:
        return fh.read()


# ------------------------------------------------------------------ signing
def statement(case_no: str | None, key_id: str, digests: dict[str, str]) -> dict:
    """What a package signature signs: the digests of SHA256SUMS and manifest.json (which
    between them cover every file), the case and the key."""
    return {"videx_package_signature": SIGNATURE_FORMAT, "alg": "ed25519", "key_id": key_id,
            "case_no": case_no, "files": {SUMS: digests[SUMS], MANIFEST: digests[MANIFEST]}}


def statement_bytes(doc: dict) -> bytes:
    body = {k: doc.get(k) for k in ("videx_package_signature", "alg", "key_id", "case_no",
                                    "files")}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")


def digests(folder: Path) -> dict[str, str]:
    """SHA-256 of the package's SHA256SUMS and manifest.json (what its audit entry records)."""
    return {name: sha256_fd(open_regular(folder / name)) for name in (SUMS, MANIFEST)}


def sign(folder: Path, key, case_no: str | None) -> dict:
    """Write SIGNATURE.json (read-only) signing the package in ``folder`` with ``key`` (a
    ``videx.keys.SigningKey``); returns the statement."""
    doc = statement(case_no, key.public.key_id, digests(folder))
    doc["signature"] = base64.b64encode(key.sign(statement_bytes(doc))).decode()
    path = folder / SIGNATURE
    with open(path, "x", encoding="utf-8") as fh:
        fh.write(json.dumps(doc, indent=2) + "\n")
    os.chmod(path, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    return doc


# ------------------------------------------------------------------ verification
@dataclass(frozen=True)
class Verification:
    """Outcome of re-hashing a package or the catalog's originals."""

    checked: int
    altered: list[str]
    missing: list[str]
    unexpected: list[str]
    disagreements: list[str] = field(default_factory=list)
    audit_note: str | None = None
    signature: list[str] = field(default_factory=list)     # signature / anchor problems
    notes: list[str] = field(default_factory=list)
    signed_by: str | None = None                           # key id, when checked

    @property
    def exit_code(self) -> int:
        return ALTERED if self.altered or self.disagreements or self.signature else \
            MISSING if self.missing else UNEXPECTED if self.unexpected else OK

    def summary(self) -> str:
        if self.exit_code == OK:
            text = f"{self.checked} file(s) verified, all intact"
            if self.signed_by:
                text += f"; signed with key {self.signed_by}"
            return text
        parts = [f"{len(self.altered)} altered", f"{len(self.missing)} missing",
                 f"{len(self.unexpected)} unexpected"]
        if self.disagreements:
            parts.append(f"{len(self.disagreements)} disagreement(s) between "
                         f"{SUMS} and {MANIFEST}")
        if self.signature:
            parts.append(f"{len(self.signature)} signature or record problem(s)")
        return f"{self.checked} file(s) checked: " + ", ".join(parts)

    def problems(self) -> list[str]:
        return ([f"ALTERED {p}" for p in self.altered] + [f"MISSING {p}" for p in self.missing]
                + [f"UNEXPECTED {p}" for p in self.unexpected]
                + [f"DISAGREES {d}" for d in self.disagreements]
                + [f"SIGNATURE {s}" for s in self.signature])

    def to_dict(self) -> dict:
        return {"checked": self.checked, "altered": self.altered, "missing": self.missing,
                "unexpected": self.unexpected, "disagreements": self.disagreements,
                "signature": self.signature, "signed_by": self.signed_by,
                "notes": self.notes, "exit_code": self.exit_code}


def _safe_member(name: str) -> str | None:
    """Why a name listed in a package may not be read (absolute, ``..``), or None."""
    p = PurePosixPath(name)
    if p.is_absolute() or name.startswith(("\\", "/")) or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    if ".." in p.parts or "\\" in name:
        return "path leaves the package"
    return None


def _read_sums(folder: Path) -> tuple[dict[str, str], bytes]:
    """({name: sha256}, the file's bytes) of a package's SHA256SUMS."""
    try:
        data = read_regular(folder / SUMS)
    except (FileNotFoundError, NotADirectoryError) as err:
        raise PackageError(f"{folder} has no {SUMS}: not a videx evidence package") from err
    except NotRegular as err:
        raise PackageError(f"{folder}/{SUMS} is {err.args[0]}, not a file: not a videx "
                           "evidence package") from err
    listed = {}
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise PackageError(f"{folder}/{SUMS} is not text") from err
    for n, line in enumerate(lines, start=1):
        m = re.fullmatch(r"([0-9a-f]{64}) [ *](.+)", line.strip())
        if not m:
            raise PackageError(f"{folder}/{SUMS}, line {n}: not a sha256sum line")
        listed[m.group(2)] = m.group(1)
    return listed, data


def _manifest_hashes(data: bytes | None) -> dict[str, str] | None:
    try:
        doc = json.loads(data)
        return {str(f["file"]): str(f["sha256"]) for f in doc["files"]}
    except (ValueError, KeyError, TypeError):
        return None


def _walk(folder: Path) -> tuple[set[str], dict[str, str]]:
    """(regular files, {other entry: its kind}) under ``folder``, relative, without following
    any symlink."""
    regular, other = set(), {}
    for root, dirs, files in os.walk(folder, followlinks=False):
        base = Path(root)
        for name in files + dirs:
            path = base / name
            mode = os.lstat(path).st_mode
            rel = path.relative_to(folder).as_posix()
            if stat.S_ISREG(mode):
                regular.add(rel)
            elif not stat.S_ISDIR(mode):
                other[rel] = kind_of(mode)
    return regular, other


def _hash_all(folder: Path, names: list[str], jobs: int | None) -> dict[str, str | Exception]:
    """{name: SHA-256, or the exception (FileNotFoundError, NotRegular, OSError)}, hashed in
    parallel threads, largest files first."""
    sizes = {}
    for name in names:
        try:
            sizes[name] = os.lstat(folder / name).st_size
        except OSError:
            sizes[name] = 0
    order = sorted(names, key=lambda n: -sizes[n])

    def one(name: str):
        try:
            return sha256_fd(open_regular(folder / name))
        except (OSError, NotRegular) as err:
            return err
    workers = max(1, min(len(order), jobs or os.cpu_count() or 1))
    if workers == 1:
        return {name: one(name) for name in order}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(zip(order, pool.map(one, order)))


def verify_package(folder: str | Path, public_key=None, anchor: dict | None = None,
                   jobs: int | None = None) -> Verification:
    """Check a package (see module docstring). ``public_key`` (a ``videx.keys.PublicKey``):
    the signature must be valid with it and cover these files. ``anchor``: the digests
    (``{"SHA256SUMS": ..., "manifest.json": ..., "entry": id}``) the extract's audit entry
    recorded."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PackageError(f"{folder} is not a folder: give the package's folder (unzip a "
                           "downloaded package first)")
    listed, sums_data = _read_sums(folder)
    regular, others = _walk(folder)
    altered, missing, unexpected, disagreements, signature, notes = [], [], [], [], [], []
    names = []
    for name in sorted(listed):
        why = _safe_member(name)
        parents = [p.as_posix() for p in PurePosixPath(name).parents][:-1]
        via = next((p for p in parents if p in others), None)
        if why:
            disagreements.append(f"{name}: {why} in {SUMS}")
        elif name in others:
            unexpected.append(f"{name} ({others[name]}, not a regular file; listed in {SUMS})")
        elif via:
            unexpected.append(f"{name} (under {via}, {others[via]}; listed in {SUMS})")
        else:
            names.append(name)
    hashes = _hash_all(folder, names, jobs)
    for name in names:
        got = hashes[name]
        if isinstance(got, NotRegular):
            unexpected.append(f"{name} ({got.args[0]}, not a regular file; listed in {SUMS})")
        elif isinstance(got, FileNotFoundError):
            missing.append(name)
        elif isinstance(got, Exception):
            altered.append(f"{name} (cannot be read: {got})")
        elif got != listed[name]:
            altered.append(name)
    try:
        manifest_data = read_regular(folder / MANIFEST)
    except (OSError, NotRegular):
        manifest_data = None
    manifest = _manifest_hashes(manifest_data)
    if manifest is None:
        disagreements.append(f"{MANIFEST} is missing or unreadable")
    else:
        for name, digest in sorted(manifest.items()):
            if name not in listed:
                disagreements.append(f"{name}: in {MANIFEST} but not in {SUMS}")
            elif listed[name] != digest:
                disagreements.append(f"{name}: {SUMS} and {MANIFEST} give different hashes")
        for name in sorted(set(listed) - set(manifest) - {MANIFEST, MANIFEST_CSV}):
            disagreements.append(f"{name}: in {SUMS} but not in {MANIFEST}")
    for name in sorted(regular - set(listed) - NOT_LISTED):
        unexpected.append(name)
    for name in sorted(set(others) - set(listed)):
        unexpected.append(f"{name} ({others[name]}, not a regular file)")
    actual = {SUMS: hashlib.sha256(sums_data).hexdigest(),
              MANIFEST: hashlib.sha256(manifest_data).hexdigest() if manifest_data else None}
    signed_by = _check_signature(folder, public_key, actual, signature, notes,
                                 SIGNATURE in regular)
    if anchor is not None:
        for name in (SUMS, MANIFEST):
            if anchor.get(name) != actual[name]:
                signature.append(f"{name} is not the one the extract's audit entry "
                                 f"{anchor.get('entry')} recorded")
    return Verification(len(listed), altered, missing, unexpected, disagreements,
                        signature=signature, notes=notes, signed_by=signed_by)


def _check_signature(folder: Path, public_key, actual: dict, problems: list[str],
                     notes: list[str], present: bool) -> str | None:
    """Check SIGNATURE.json against ``public_key``; returns the key id when it holds."""
    if not present:
        if public_key is not None:
            problems.append(f"the package is not signed ({SIGNATURE} is missing): it cannot "
                            f"be shown to come from key {public_key.key_id}")
        else:
            notes.append("the package is not signed: its files agree with each other, which "
                         "anyone could arrange")
        return None
    try:
        doc = json.loads(read_regular(folder / SIGNATURE))
        sig = base64.b64decode(doc["signature"], validate=True)
        files = doc["files"]
        claimed = str(doc["key_id"])
    except (OSError, NotRegular, ValueError, KeyError, TypeError):
        problems.append(f"{SIGNATURE} is unreadable")
        return None
    if public_key is None:
        notes.append(f"signed with key {claimed}, not checked: give the department's public "
                     "key with --public-key (or check against the catalog with --catalog)")
        return None
    if claimed != public_key.key_id:
        problems.append(f"signed with key {claimed}, not with the key given "
                        f"({public_key.key_id})")
        return None
    if not public_key.verify(sig, statement_bytes(doc)):
        problems.append(f"the signature does not verify with key {public_key.key_id}: "
                        f"{SIGNATURE} was altered or forged")
        return None
    for name in (SUMS, MANIFEST):
        if files.get(name) != actual[name]:
            problems.append(f"{name} is not the one the signature covers: it was altered "
                            "after signing")
    return None if problems else public_key.key_id
