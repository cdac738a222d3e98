"""Evidence-grade intake: a file an owner sent through an upload link (or handed to a
detective) becomes a catalogued clip with its chain of custody, or a recorded refusal.

The web streams an upload into a file in ``staging_dir(cat)`` (on the same filesystem as the
evidence store; ``stage_chunks`` does it for any iterable of bytes, ``stage_file`` for a file
on disk), closes it, and calls::

    result = intake.accept(cat, request, staged_path, intake.UploadMeta(
        file_name="FrontDoor.mp4", stated_name="J. Doe", client_addr="203.0.113.9",
        user_agent="...", start="22:31", bytes_received=n, sha256=hex_from_streaming))

``accept`` never raises for anything the sender did: it returns an ``IntakeResult`` whose
``receipt`` (a ``FileReceipt``: the file name as text, size, SHA-256, time received, result
and a sentence for the sender) the web shows; ``receipt_of(results)`` collects several files
into a ``Receipt`` and ``send_receipt`` e-mails it where SMTP is configured. It raises
``IntakeError`` only for the server's own trouble (no evidence store, a full disk), having
catalogued nothing.

What ``accept`` does, in order (the staged file is gone afterwards, whatever happened):

1. refuses an incomplete (``bytes_received`` differs), empty or oversize file (``max_bytes``,
   default the ``upload_max_mb`` setting), a start time it cannot read, and a file whose
   SHA-256 differs from the one computed while streaming;
2. makes the staged file read-only and hashes it (SHA-256 of the bytes on disk: the hash the
   receipt and the catalog give is that of the file kept);
3. a file whose SHA-256 is already catalogued is recorded as a duplicate and not stored again;
4. probes it (PyAV, ffprobe where PyAV cannot; MP4/MOV box structure checked): not a video,
   or damaged, is refused;
5. finds its start: a vendor file-name preset on the sender's file name, else the start the
   sender typed (the camera's clock, read in the camera's zone, a time of day put on the
   requested window's day), else the container's creation time; each recorded as time source
   ``owner-upload`` with its detail and confidence, and always corrected by the camera's
   clock offset; no start at all is refused (the sender is asked to type it);
6. moves it into the evidence store under a generated name (``<store>/ab/<sha256>.<ext>``)
   by hard link and unlink (a rename would replace an existing file; a link never does),
   mode 0444: written once, never overwritten;
7. in one write transaction with its audit entry (the chain of custody: request code,
   stated name, client address, user agent, sender's file name as text, bytes, SHA-256,
   time received, result): the clip (a clip of the request's camera), the request file row
   linking clip, request and case, and the request's ``uploaded`` status.

A process killed at any point leaves no catalogued half-file: a clip row exists only once
its complete, hashed, read-only file is in the store. What it can leave is a staged file
(``clean_staging`` removes old ones) or a complete file in the store that was not yet
catalogued, which the next accept of the same bytes adopts (after hashing it again).

Text from the sender (file name, stated name, user agent, typed start) is kept as text only:
control and bidirectional-override characters are shown as ``<U+202E>``-style marks and
lengths are capped; nothing of it is ever used in a path.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from videx.errors import IntakeError, ProbeError, TimestampError, VidexError
from videx.hashing import CHUNK, sha256_file
from videx.timeutil import iso_utc

STORE_SETTING = "evidence_store"
STAGING = ".staging"
NAME_LIMIT = 255
TEXT_LIMIT = 200
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069"
                     r"\ufeff\ufff9-\ufffb]")
# container (FFmpeg's demuxer name) -> file suffixes it may be stored with, preferred first
SUFFIXES = {"mov,mp4,m4a,3gp,3g2,mj2": (".mp4", ".mov", ".m4v", ".3gp"),
            "matroska,webm": (".mkv", ".webm"), "avi": (".avi",), "mpegts": (".ts",),
            "asf": (".asf", ".wmv"), "flv": (".flv",), "h264": (".h264",),
            "hevc": (".h265",), "mpeg": (".mpg",)}

MESSAGES = {
    "catalogued": "Received and kept as evidence. Thank you.",
    "duplicate": "Received. We already had this exact file, so it was not stored again.",
    "not-video": "Not accepted: this file is not a video. Please send the video file your "
                 "camera or its app saved.",
    "damaged": "Not accepted: this video file is damaged or incomplete. Please save it again "
               "from your camera and send the new file.",
    "empty": "Not accepted: the file is empty.",
    "incomplete": "Not accepted: the file did not arrive completely. Please send it again.",
    "altered": "Not accepted: the file changed while it was being received. Please send it "
               "again.",
    "no-start": "Not accepted: we could not tell when this video starts. Please type the time "
                "your camera shows at the start of the video, and send it again.",
    "withdrawn": "Not accepted: this request is no longer open.",
}


def clean_text(value: str | None, limit: int = TEXT_LIMIT) -> str | None:
    """Sender-given text as something safe to keep and show: control, invisible and
    direction-override characters become ``<U+XXXX>`` marks, at most ``limit`` characters
    (``…`` marks a cut). None stays None."""
    if value is None:
        return None
    text = _UNSAFE.sub(lambda m: f"<U+{ord(m.group(0)):04X}>", str(value))
    return text if len(text) <= limit else text[:limit - 1] + "…"


@dataclass(frozen=True)
class UploadMeta:
    """What the web knows about a received file, as the sender gave it (text only).

    ``bytes_received``: bytes the web wrote (checked against the staged file);
    ``sha256``: the hash computed while streaming, if any (checked); ``start``: the start
    time the sender typed as their camera shows it; ``channel``: ``link`` (an upload link) or
    ``in person`` (``videx requests receive``)."""

    file_name: str | None = None
    stated_name: str | None = None
    client_addr: str | None = None
    user_agent: str | None = None
    start: str | None = None
    bytes_received: int | None = None
    sha256: str | None = None
    channel: str = "link"


@dataclass(frozen=True)
class FileReceipt:
    """One received file for the sender: its name (as text), size in bytes, SHA-256 (None
    when it was refused before hashing), the time received (POSIX seconds UTC), the result
    (``catalogued``, ``duplicate`` or ``refused``) and a sentence saying so."""

    file_name: str
    size_bytes: int
    sha256: str | None
    received_ts: float
    result: str
    message: str

    def to_dict(self, zone=None) -> dict:
        """As JSON; with ``zone`` also ``received_local``, the time in that zone with its
        abbreviation (what the sender reads; a name or a ZoneInfo)."""
        out = {"file_name": self.file_name, "size_bytes": self.size_bytes,
               "sha256": self.sha256, "received_at": iso_utc(self.received_ts),
               "result": self.result, "message": self.message}
        if zone:
            from videx.timeutil import format_local
            out["received_local"] = format_local(self.received_ts, zone)
        return out


@dataclass(frozen=True)
class IntakeResult:
    """What ``accept`` did with one file: the receipt, and for the record the clip made (or
    the clip it duplicates), why it was refused, and where its start came from."""

    request_code: str
    receipt: FileReceipt
    clip_id: int | None = None
    duplicate_of: int | None = None
    reason: str | None = None          # why refused, in the record's words
    start_detail: str | None = None
    stored_path: str | None = None

    @property
    def catalogued(self) -> bool:
        return self.receipt.result == "catalogued"

    def to_dict(self) -> dict:
        return {"request": self.request_code, **self.receipt.to_dict(),
                "clip_id": self.clip_id, "duplicate_of": self.duplicate_of,
                "reason": self.reason, "start_detail": self.start_detail}


@dataclass(frozen=True)
class Receipt:
    """Every file of one upload, for the receipt page and e-mail."""

    request_code: str
    files: tuple[FileReceipt, ...] = field(default_factory=tuple)

    def to_dict(self, zone=None) -> dict:
        return {"request": self.request_code,
                "files": [f.to_dict(zone) for f in self.files]}

    def summary(self) -> str:
        kept = sum(1 for f in self.files if f.result != "refused")
        return f"request {self.request_code}: {kept} of {len(self.files)} file(s) received"


def receipt_of(results: Iterable[IntakeResult]) -> Receipt:
    """The receipt for several files of one request."""
    results = list(results)
    return Receipt(results[0].request_code if results else "",
                   tuple(r.receipt for r in results))


# ------------------------------------------------------------------ where files live
def evidence_store(cat) -> Path:
    """The catalog's evidence store (created when missing): the ``evidence_store`` setting,
    else for a SQLite catalog ``NAME-evidence/`` beside its file. A PostgreSQL catalog must
    have the setting (IntakeError saying how)."""
    value = cat.setting(STORE_SETTING)
    if value:
        path = Path(value)
    elif cat.db.dialect == "sqlite":
        db = Path(cat.location).resolve()
        path = db.with_name(f"{db.stem}-evidence")
    else:
        raise IntakeError("this catalog has no evidence store for received files: set one with "
                          "videx init --evidence-store DIR (a folder every videx server can "
                          "reach)")
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o750)
    except OSError as err:
        raise IntakeError(f"cannot use the evidence store {path}: {err.strerror}") from err
    return path


def staging_dir(cat) -> Path:
    """The folder uploads are streamed into before ``accept``: inside the evidence store, so
    on the same filesystem (a file moves into the store without a copy)."""
    store = evidence_store(cat)
    path = store / STAGING
    path.mkdir(exist_ok=True, mode=0o700)
    if path.stat().st_dev != store.stat().st_dev:
        raise IntakeError(f"{path} is on another filesystem than the evidence store {store}: "
                          "received files could not be moved in without a copy")
    return path


def new_staging_path(cat) -> Path:
    """A fresh, unused file name in ``staging_dir(cat)`` (not created)."""
    return staging_dir(cat) / f"upload-{secrets.token_hex(12)}.part"


def max_upload_bytes(cat) -> int:
    """The largest file an upload link takes, bytes (the ``upload_max_mb`` setting)."""
    from videx import settings
    return int(float(settings.get(cat, "upload_max_mb")) * 1024 * 1024)


@dataclass(frozen=True)
class Staged:
    """A file written into the staging folder: where, how many bytes, their SHA-256."""

    path: Path
    size_bytes: int
    sha256: str


def stage_chunks(cat, chunks: Iterable[bytes], max_bytes: int | None = None) -> Staged:
    """Write ``chunks`` into a new staging file, hashing as they come (memory stays flat).
    More than ``max_bytes``: stops, removes the partial file, and returns what arrived so far
    with ``size_bytes = max_bytes + 1`` so ``accept`` refuses it as oversize. A full disk:
    removes the partial file and raises IntakeError."""
    limit = max_upload_bytes(cat) if max_bytes is None else max_bytes
    path = new_staging_path(cat)
    digest, size = hashlib.sha256(), 0
    try:
        with open(path, "xb") as fh:
            for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    break
                fh.write(chunk)
                digest.update(chunk)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as err:
        path.unlink(missing_ok=True)
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise IntakeError("the server's disk is full: the file could not be received and "
                              "nothing was catalogued; please try again later") from err
        raise
    if size > limit:
        path.unlink(missing_ok=True)
        path.touch()      # an empty stand-in: accept refuses it as oversize by the count
    return Staged(path, size, digest.hexdigest())


def stage_file(cat, source: str | Path, max_bytes: int | None = None) -> Staged:
    """Copy a file (a USB stick's, an e-mail attachment saved to disk) into staging, read
    once, hashed while copied; the source is only read."""
    def chunks():
        with open(source, "rb") as fh:
            while chunk := fh.read(CHUNK):
                yield chunk
    return stage_chunks(cat, chunks(), max_bytes)


def clean_staging(cat, older_than_s: float = 86400.0) -> int:
    """Remove staged files not touched for ``older_than_s`` seconds (uploads that were cut
    off or whose process was killed); returns how many."""
    cutoff, n = time.time() - older_than_s, 0
    for p in staging_dir(cat).iterdir():
        try:
            if p.is_file() and p.stat().st_mtime < cutoff:
                p.unlink()
                n += 1
        except FileNotFoundError:
            continue
    return n


# ------------------------------------------------------------------ accept
def accept(cat, request, staged_path: str | Path, meta: UploadMeta, *,
           max_bytes: int | None = None, now: float | None = None,
           probe_timeout_s: float = 60.0, hashed_as_written: bool = False) -> IntakeResult:
    """Take one fully received file in for ``request`` (a ``videx.requests.Request``): see
    the module docstring. ``max_bytes``: size limit (default the ``upload_max_mb``
    setting); ``now``: the time received (POSIX seconds, default now).

    ``hashed_as_written``: ``meta.sha256`` was computed by this process over exactly the
    bytes it wrote to the staged file and fsynced (the web's streaming upload, the staging
    folder private to videx): it is the file's hash, and the file is not read a second time
    (the one full read of a 2 GB upload is then the one made while it arrived)."""
    staged = Path(staged_path)
    received_ts = time.time() if now is None else now
    store, staging = evidence_store(cat), staging_dir(cat)
    if staged.parent.resolve() != staging.resolve():
        raise IntakeError(f"internal: {staged} is not in the staging folder {staging}")
    limit = max_upload_bytes(cat) if max_bytes is None else max_bytes
    name = clean_text(meta.file_name, NAME_LIMIT) or ""
    record = {"request_id": request.id, "received_at": iso_utc(received_ts),
              "received_ts": received_ts, "file_name": name,
              "stated_name": clean_text(meta.stated_name),
              "client_addr": clean_text(meta.client_addr, 100),
              "user_agent": clean_text(meta.user_agent, 400),
              "start_typed": clean_text(meta.start, 60), "channel": meta.channel}
    try:
        return _accept(cat, request, staged, store, meta, limit, record, probe_timeout_s,
                       hashed_as_written and bool(meta.sha256))
    finally:
        staged.unlink(missing_ok=True)


def _accept(cat, request, staged: Path, store: Path, meta: UploadMeta, limit: int,
            record: dict, probe_timeout_s: float, hashed: bool = False) -> IntakeResult:
    from videx import probe as probing
    from videx import timesources
    st = os.lstat(staged)
    size = st.st_size if meta.bytes_received is None else max(st.st_size, meta.bytes_received)
    record["size_bytes"] = size

    def refuse(kind: str, reason: str, digest: str | None = None) -> IntakeResult:
        return _record(cat, request, {**record, "sha256": digest, "result": "refused",
                                      "reason": reason}, MESSAGES.get(kind, kind))

    if not _is_regular(st):
        return refuse("not-video", "not a regular file")
    if size > limit:
        return refuse(f"Not accepted: the file is {_size_words(size)} and this link takes "
                      f"files up to {_size_words(limit)}. Please send a shorter part of the "
                      "video, or contact us.", f"over the size limit ({size} > {limit} bytes)")
    if meta.bytes_received is not None and meta.bytes_received != st.st_size:
        return refuse("incomplete", f"incomplete: {st.st_size} of {meta.bytes_received} "
                                    "bytes on disk")
    if size == 0:
        return refuse("empty", "empty file (0 bytes)")
    camera = cat.cameras.require(request.camera_id)
    zone = request.camera_zone
    if meta.start:
        try:
            timesources.typed_start(meta.start, zone, _camera_near(request))
        except TimestampError as err:
            return refuse(f"Not accepted: we could not read the start time you typed "
                          f"({clean_text(meta.start, 40)!r}). Type it as your camera shows "
                          "it, like 2023-05-01 22:31:05 or 22:31, or leave it empty.",
                          f"typed start unreadable: {err}")
    os.chmod(staged, 0o444)
    digest = meta.sha256.strip().lower() if hashed else sha256_file(staged)
    if meta.sha256 and meta.sha256.strip().lower() != digest:
        return refuse("altered", f"SHA-256 on disk {digest} differs from the one computed "
                                 f"while receiving ({clean_text(meta.sha256, 80)})", digest)
    dup = cat.clips.with_hash(digest)
    if dup is not None:
        return _record(cat, request, {**record, "sha256": digest, "result": "duplicate",
                                      "clip_id": dup}, MESSAGES["duplicate"], duplicate_of=dup)
    try:
        info = probing.probe(staged, probe_timeout_s)
        if any(k in info.container for k in ("mp4", "mov")):
            probing.check_iso_bmff(staged, st.st_size)
    except ProbeError as err:
        kind = "damaged" if _video_signature(staged) else "not-video"
        return refuse(kind, f"{'not a video' if kind == 'not-video' else 'damaged'}: {err}",
                      digest)
    try:
        start = timesources.resolve(staged, timesources.Context(
            zone, info.duration_s, info.creation_time, allow_suspect=True,
            extra={"owner_upload": {"file_name": record["file_name"], "start": meta.start,
                                    "near": _camera_near(request)}}))
    except TimestampError as err:
        return refuse("no-start", f"no start time: {err}", digest)
    final, created = _place(store, staged, digest, _suffix(info.container, meta.file_name))
    from videx.ingest import _clip_record
    clip = _clip_record(final, digest, info, start, camera)
    clip["size_bytes"] = st.st_size
    result = _record(cat, request, {**record, "sha256": digest, "result": "catalogued"},
                     MESSAGES["catalogued"], clip=clip, start_detail=start.detail)
    if created and result.stored_path != str(final):
        final.unlink(missing_ok=True)       # not catalogued from here (a duplicate of a clip
    return result                           # stored elsewhere, or withdrawn): not kept


def _record(cat, request, row: dict, message: str, clip: dict | None = None,
            duplicate_of: int | None = None, start_detail: str | None = None) -> IntakeResult:
    """Write what happened to one file (and the clip, and the status) in one transaction with
    its audit entry: the chain of custody."""
    outcome = {"result": row["result"], "message": message, "clip_id": None,
               "duplicate_of": duplicate_of, "stored_path": None}
    args = {"code": request.code, "file_name": row["file_name"],
            "stated_name": row["stated_name"], "client_addr": row["client_addr"],
            "user_agent": row["user_agent"], "start_typed": row["start_typed"],
            "channel": row["channel"], "bytes": row["size_bytes"], "sha256": row.get("sha256"),
            "received_at": row["received_at"]}
    try:
        with cat.write("request upload", args, case_no=request.incident_id) as tx:
            cat.db.lock_audit_head()          # PostgreSQL: one intake decides at a time
            status = cat.requests.latest_status(request.id)
            if clip is not None and status == "withdrawn":
                row = {**row, "result": "refused", "reason": "the request was withdrawn"}
                outcome.update(result="refused", message=MESSAGES["withdrawn"])
                clip = None
            if clip is not None:
                dup = cat.clips.with_hash(row["sha256"])
                if dup is not None:
                    row = {**row, "result": "duplicate", "clip_id": dup}
                    outcome.update(result="duplicate", message=MESSAGES["duplicate"],
                                   duplicate_of=dup, stored_path=_path_of(cat, dup))
                    clip = None
            if clip is not None:
                row["clip_id"] = outcome["clip_id"] = cat.clips.insert(clip)
                outcome["stored_path"] = clip["path"]
                if status != "uploaded":
                    from videx.requests import _add_status
                    _add_status(cat, request, "uploaded", f"file {row['file_name']!r} received "
                                f"as clip {row['clip_id']}")
            cat.requests.add_file(row)
            tx.args.update({"result": row["result"], "clip": row.get("clip_id"),
                            "reason": row.get("reason"), "start": start_detail})
    except OSError as err:
        raise _server_trouble(err) from err
    except Exception as err:
        sqlite3 = __import__("sqlite3")
        if isinstance(err, sqlite3.OperationalError) and "full" in str(err):
            raise IntakeError("the server's disk is full: nothing was catalogued; please try "
                              "again later") from err
        raise
    receipt = FileReceipt(row["file_name"], row["size_bytes"], row.get("sha256"),
                          row["received_ts"], outcome["result"], outcome["message"])
    return IntakeResult(request.code, receipt, outcome["clip_id"], outcome["duplicate_of"],
                        row.get("reason"), start_detail, outcome["stored_path"])


def _path_of(cat, clip_id: int) -> str | None:
    clip = cat.clips.get(clip_id)
    return clip["path"] if clip else None


def _place(store: Path, staged: Path, digest: str, suffix: str) -> tuple[Path, bool]:
    """Move the staged (read-only, hashed) file to ``<store>/ab/<sha256><suffix>`` by link
    and unlink: (its path, whether this call put it there). An existing file of that name is
    adopted only when its bytes hash to ``digest`` (a complete file left by an interrupted
    intake); anything else there is an error, never overwritten."""
    folder = store / digest[:2]
    final = folder / f"{digest}{suffix}"
    try:
        folder.mkdir(exist_ok=True, mode=0o750)
        fd = os.open(staged, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(staged, final)
            created = True
        except FileExistsError as exists:
            if not _is_regular(os.lstat(final)) or sha256_file(final) != digest:
                raise IntakeError(f"the evidence store holds a different file at {final}: "
                                  "nothing was catalogued; an administrator must look at "
                                  "it") from exists
            created = False
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError as err:
        raise _server_trouble(err) from err
    return final, created


def _server_trouble(err: OSError) -> IntakeError:
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return IntakeError("the server's disk is full: nothing was catalogued; please try "
                           "again later")
    return IntakeError(f"the server could not store the file ({err.strerror or err}): "
                       "nothing was catalogued")


def _is_regular(st: os.stat_result) -> bool:
    import stat
    return stat.S_ISREG(st.st_mode)


def _video_signature(path: Path) -> bool:
    """Whether a file starts like a video container (MP4/MOV, AVI, Matroska/WebM, MPEG-TS,
    MPEG-PS, FLV, ASF): one that then cannot be read is damaged, anything else is not a
    video at all."""
    with open(path, "rb") as fh:
        head = fh.read(376)
    return (head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")
            or (head[:4] == b"RIFF" and head[8:11] == b"AVI")
            or head[:4] == b"\x1a\x45\xdf\xa3" or head[:3] == b"FLV"
            or head[:4] == b"\x00\x00\x01\xba"
            or head[:16] == bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
            or (len(head) > 188 and head[0] == 0x47 and head[188] == 0x47))


def _suffix(container: str, sender_name: str | None) -> str:
    """The stored file's suffix: the sender's, when it fits the container, else the
    container's usual one."""
    allowed = SUFFIXES.get(container) or next(
        (v for k, v in SUFFIXES.items() if container and container in k), (".video",))
    given = Path(sender_name or "").suffix.lower()
    return given if given in allowed else allowed[0]


def _size_words(n: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def _camera_near(request):
    """The requested window's start as the camera's clock shows it (an aware UTC datetime of
    the camera-clock instant): where a typed time of day is put."""
    from videx.timeutil import from_ts
    return from_ts(request.window_start_ts + request.clock_offset_s)


def send_receipt(cat, request, receipt: Receipt) -> str | None:
    """E-mail the receipt to the owner's address on the request where SMTP is configured.
    None when sent, else why not (no SMTP, no address, the server refused); the sending is
    audited."""
    from videx import letters, mail
    if not mail.configured(cat):
        return "no SMTP server configured"
    if not request.owner_email:
        return "the owner's contact has no e-mail address"
    try:
        config = mail.config(cat)
        mail.send_one(config, letters.receipt_email(cat, request, receipt))
    except VidexError as err:
        return str(err)
    cat.record("request receipt", {"code": request.code, "to": request.owner_email,
                                   "smtp": config.describe(),
                                   "files": [f.sha256 for f in receipt.files]},
               case_no=request.incident_id)
    return None


__all__ = ["UploadMeta", "FileReceipt", "IntakeResult", "Receipt", "Staged", "accept",
           "receipt_of", "send_receipt", "staging_dir", "new_staging_path", "stage_chunks",
           "stage_file", "clean_staging", "evidence_store", "max_upload_bytes", "clean_text"]
