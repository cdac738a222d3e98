"""Verifying the audit log (``videx.audit``): the chain, every protected row, checkpoints.

What ``verify`` detects:

- chain: an entry altered, removed or reordered; the newest entries removed (against the
  recorded head, ``audit_head``); an entry's row hashes altered, added or removed;
- keys: an entry that claims a keyed seal where the chain is not keyed (relabelled), a plain
  entry after the first keyed one, an entry sealed with another key; with the key, every
  keyed entry's seal, and a head sealed with the key (so keyed entries removed from the end
  are noticed); a key given for a chain that holds no entry sealed with it (rewritten without
  the key); an entry whose keyed seal cannot be checked (no key given) fails verification
  unless the caller accepts unverifiable entries, and is then counted in a note;
- ``deep``: every protected row whose current content differs from its last audited state,
  every such row with no audited state, and every audited row that is gone (always, whether
  the chain is keyed or not, and even when the chain itself is broken);
- ``against`` a checkpoint kept outside the catalog: truncation, deletion of the whole log, a
  chain recomputed from an entry on, and (format 2 checkpoints) a change to whether, from
  which entry and with which key the chain was keyed at the checkpoint.

The whole check reads one consistent snapshot of the catalog (a read transaction), so
writers working meanwhile never make it report tampering that did not happen.

What it cannot detect: a change made and audited through videx by someone entitled to do it
(that is a record, not tampering), or, without a checkpoint or key, a whole log rewritten
consistently by someone with write access to the file. Keep checkpoints.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from videx.audit import (
    DELETED,
    GENESIS,
    KEY_COMMAND,
    KEY_ENV,
    PLAIN,
    AuditKey,
    RowHasher,
    Unsorted,
    entry_payload,
    head_mac,
    key_id_of,
    new_key_file,
    parse_head,
    rows_digest,
    streamed_rows_digest,
)
from videx.errors import AuditKeyError, VidexError

# ------------------------------------------------------------------ checkpoints
CHECKPOINT_FORMAT = 2


@dataclass(frozen=True)
class ChainState:
    """Where the chain stands at one entry: the entry's hash and seal, how many entries are
    sealed with the key up to it, and from which entry and with which key the chain is
    keyed (None: not keyed)."""

    entry: int
    hash: str
    at: str | None
    alg: str
    sealed: int
    keyed_since: int | None
    key_id: str | None

    def seal_dict(self) -> dict:
        return {"alg": self.alg, "sealed": self.sealed, "keyed_since": self.keyed_since,
                "key_id": self.key_id}


def describe_seal(seal_state: dict) -> str:
    if not seal_state.get("key_id"):
        return f"not keyed (entry sealed {seal_state.get('alg')})"
    return (f"keyed with key {seal_state['key_id']} since entry {seal_state['keyed_since']}, "
            f"{seal_state['sealed']} sealed entries, entry sealed {seal_state.get('alg')}")


def write_checkpoint(path: str | Path, location: str, state: ChainState, entries: int,
                     written_at: str) -> dict:
    """Write the chain's head (an entry, its hash and how the chain is keyed there) to
    ``path`` (JSON, a new file) for safekeeping outside the catalog."""
    doc = {"videx_audit_checkpoint": CHECKPOINT_FORMAT, "catalog": location,
           "entry": state.entry, "hash": state.hash, "entry_at": state.at, "entries": entries,
           "seal": state.seal_dict(), "written_at": written_at}
    try:
        with open(path, "x", encoding="utf-8") as fh:
            fh.write(json.dumps(doc, indent=2) + "\n")
    except FileExistsError as err:
        raise VidexError(f"{path} exists: a checkpoint file is never overwritten") from err
    return doc


def read_checkpoint(path: str | Path) -> dict:
    """A checkpoint file (format 1: entry and hash; format 2: also the chain's seal)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or doc.get("videx_audit_checkpoint") not in (1, 2):
            raise ValueError("not a videx audit checkpoint")
        int(doc["entry"]), str(doc["hash"])
        if doc["videx_audit_checkpoint"] == 2 and not isinstance(doc.get("seal"), dict):
            raise ValueError("its seal is missing")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise VidexError(f"{path}: not a readable audit checkpoint ({err})") from err
    return doc


# ------------------------------------------------------------------ verification
@dataclass(frozen=True)
class RowProblem:
    """One row whose content does not match its audit record."""

    table: str
    key: str
    problem: str   # "changed", "unaudited" or "deleted"

    def __str__(self) -> str:
        text = {"changed": "content differs from its last audited state",
                "unaudited": "has no audited state (written outside videx)",
                "deleted": "was deleted outside videx (audited, now missing)"}[self.problem]
        return f"{self.table} {self.key}: {text}"


@dataclass(frozen=True)
class AuditCheck:
    """Result of verifying the log: ``ok``, or the first bad entry (or the problem with the
    chain as a whole) and every bad row."""

    entries: int
    ok: bool
    bad_id: int | None = None
    problem: str | None = None
    deep: bool = False
    rows_checked: int = 0
    row_problems: list[RowProblem] = field(default_factory=list)
    checkpoint: dict | None = None
    notes: list[str] = field(default_factory=list)
    keyed_since: int | None = None
    key_id: str | None = None
    sealed: int = 0
    unverifiable: int = 0

    def summary(self) -> str:
        if self.bad_id is not None:
            return f"audit log broken at entry {self.bad_id}: {self.problem}"
        if self.problem:
            return f"audit log check failed: {self.problem}"
        if self.row_problems:
            return (f"audit log intact: {self.entries} entries, but {len(self.row_problems)} "
                    f"row(s) of {self.rows_checked} differ from their audited state")
        text = f"audit log intact: {self.entries} entries, hash chain verified"
        if self.key_id:
            checked = self.sealed - self.unverifiable
            text += (f"; keyed with {self.key_id} since entry {self.keyed_since} "
                     f"({checked} of {self.sealed} sealed entries checked with the key)")
        if self.deep:
            text += f"; {self.rows_checked} rows match their audited state"
        if self.checkpoint:
            text += f"; contains checkpoint entry {self.checkpoint['entry']}"
        return text

    def to_dict(self) -> dict:
        return {"entries": self.entries, "ok": self.ok, "bad_id": self.bad_id,
                "problem": self.problem, "deep": self.deep, "rows_checked": self.rows_checked,
                "row_problems": [{"table": p.table, "key": p.key, "problem": p.problem}
                                 for p in self.row_problems],
                "checkpoint": self.checkpoint, "notes": self.notes,
                "keyed_since": self.keyed_since, "key_id": self.key_id, "sealed": self.sealed,
                "unverifiable": self.unverifiable}


@dataclass(frozen=True)
class ChainWalk:
    """What walking the chain found: the first problem (None: none), the state at the last
    entry and at a watched entry (a checkpoint's), and the keyed entries left unchecked."""

    entries: int
    problem: str | None = None
    bad_id: int | None = None
    last: ChainState | None = None
    watched: ChainState | None = None
    unverifiable: int = 0
    notes: tuple[str, ...] = ()


def _args_key_id(entry: dict) -> str | None:
    try:
        args = json.loads(entry["args"])
    except (TypeError, ValueError):
        return None
    return args.get("key_id") if isinstance(args, dict) else None


def _expected_hash(entry: dict, key: AuditKey | None, sealed: int) -> str:
    """The hash an entry must carry, given the key (None: plain) and, for format 3, the
    chain's own count of sealed entries (never the entry's word for it)."""
    e = dict(entry, sealed=sealed) if (entry.get("v") or 1) >= 3 else entry
    payload = entry_payload(e)
    if key is None:
        return hashlib.sha256(payload).hexdigest()
    return hmac.new(key.secret, payload, "sha256").hexdigest()


def verify_chain(entries: Iterable[tuple[dict, Iterable[tuple[str, str, str]]]],
                 recorded_head, key: AuditKey | None, *,
                 rows_of: Callable[[int], list[tuple[str, str, str]]] | None = None,
                 stray_rows: Callable[[int], str | None] | None = None,
                 accept_unverifiable: bool = False, watch: int | None = None) -> ChainWalk:
    """Walk (entry, its row hash triples in digest order) pairs in id order and check every
    commitment (see module docstring). ``recorded_head`` is the ``audit_head`` setting's
    value; ``rows_of(id)`` re-reads an entry's triples when they came out of order;
    ``stray_rows(last id)`` names row hashes recorded for entries that do not exist."""
    prev, count, last_id = GENESIS, 0, 0
    key_id: str | None = None
    keyed_since: int | None = None
    sealed = unverifiable = 0
    first_unverifiable: int | None = None
    last: ChainState | None = None
    watched: ChainState | None = None

    def fail(bad_id: int | None, text: str) -> ChainWalk:
        return ChainWalk(count, text, bad_id, last, watched, unverifiable)

    for e, rows in entries:
        count += 1
        eid = e["id"]
        if eid != last_id + 1:
            return fail(eid, f"entries {last_id + 1}..{eid - 1} were removed")
        if e["prev_hash"] != prev:
            return fail(eid, "its link to the entry before does not match: entries were "
                             "reordered, or one was removed or rewritten")
        alg = e.get("alg") or PLAIN
        claimed = key_id_of(alg)
        if claimed is not None:
            if key_id is None:
                if e["command"] != KEY_COMMAND or _args_key_id(e) != claimed:
                    return fail(eid, f"entry claims to be sealed with key {claimed}, but the "
                                     "chain is not keyed before it and it is not the entry "
                                     "that keys it: its seal was relabelled")
                key_id, keyed_since = claimed, eid
            elif claimed != key_id:
                return fail(eid, f"entry claims key {claimed}, but the chain is keyed with "
                                 f"{key_id} since entry {keyed_since}")
            sealed += 1
            if key is None:
                unverifiable += 1
                first_unverifiable = first_unverifiable or eid
            elif key.key_id != claimed:
                return fail(eid, f"entry is sealed with key {claimed}, not the key given "
                                 f"({key.key_id})")
            elif not hmac.compare_digest(_expected_hash(e, key, sealed), e["hash"]):
                return fail(eid, "entry was altered (its keyed hash does not match its "
                                 "contents)")
        else:
            if key_id is not None:
                return fail(eid, f"entry is not keyed although the chain is keyed since entry "
                                 f"{keyed_since}: it was rewritten without the key")
            if alg != PLAIN:
                return fail(eid, f"entry's seal {alg!r} is not one videx writes")
            if _expected_hash(e, None, sealed) != e["hash"]:
                return fail(eid, "entry was altered (its hash does not match its contents)")
        try:
            digest = streamed_rows_digest(rows)
        except Unsorted:
            digest = rows_digest(rows_of(eid)) if rows_of else "unsorted"
        if (e.get("v") or 1) >= 2:
            if digest != e.get("rows_digest"):
                return fail(eid, "the row hashes recorded with this entry were altered")
        elif digest is not None:
            return fail(eid, "row hashes were added to an entry that records none")
        last = ChainState(eid, e["hash"], e.get("at"), alg, sealed, keyed_since, key_id)
        if watch == eid:
            watched = last
        prev, last_id = e["hash"], eid
    if count == 0:
        return fail(None, "the audit log is empty, but every videx catalog holds at least "
                          "the entry of its first migration: the log was deleted")
    stray = stray_rows(last_id) if stray_rows else None
    if stray:
        return fail(None, f"row hashes are recorded for entries that do not exist ({stray}): "
                          "they were added outside videx")
    head = parse_head(recorded_head)
    if head is None and count:
        return fail(last_id + 1, "the newest entries were removed, or the recorded head of "
                                 "the chain was deleted")
    if head is not None and head.hash != prev:
        return fail(last_id + 1, "the newest entries were removed (the recorded head of the "
                                 "chain is missing)")
    if head is not None and head.sealed is not None and (head.sealed, head.key_id) != (
            sealed, key_id):
        return fail(None, f"the recorded head says {head.sealed} entries are sealed with key "
                          f"{head.key_id}, the chain holds {sealed} sealed with {key_id}: "
                          "entries were relabelled or removed")
    if key is not None:
        if key_id is None:
            return fail(None, f"the key given ({key.key_id}) seals no entry of this chain: "
                              "the chain was rewritten without the key (or this catalog was "
                              f"never keyed: verify it without {KEY_ENV})")
        if head is None or head.mac is None or not hmac.compare_digest(
                head_mac(key, head.hash, head.sealed or 0), head.mac):
            return fail(None, "the recorded head is not sealed with the key: sealed entries "
                              "were removed from the end of the chain, or the head rewritten")
    notes: tuple[str, ...] = ()
    if unverifiable:
        text = (f"{unverifiable} entries (from entry {first_unverifiable}) are sealed with key "
                f"{key_id} and could not be checked without it")
        if not accept_unverifiable:
            return fail(None, f"{text}: set {KEY_ENV} to the key file (or accept them "
                              "unchecked with --accept-unverifiable)")
        notes = (f"{text}; accepted unchecked (--accept-unverifiable): set {KEY_ENV} to the "
                 "key file to check them",)
    return ChainWalk(count, None, None, last, watched, unverifiable, notes)


def _walk(cat, key: AuditKey | None, accept_unverifiable: bool,
          watch: int | None = None) -> ChainWalk:
    log = cat.auditlog
    return verify_chain(log.entries_with_rows(), log.recorded_head(), key,
                        rows_of=log.rows_of, stray_rows=log.stray_rows,
                        accept_unverifiable=accept_unverifiable, watch=watch)


def _against(walk: ChainWalk, cp: dict) -> str | None:
    """Why the chain does not hold a checkpoint, or None."""
    written = cp.get("written_at")
    state = walk.watched
    if state is None:
        if walk.problem:
            return None          # the chain's own problem is the report
        return (f"entry {cp['entry']} of the checkpoint written {written} is missing: the log "
                "was truncated or deleted")
    if state.hash != cp["hash"]:
        return (f"entry {cp['entry']} differs from the checkpoint written {written}: the log "
                "was rewritten at or before it")
    if cp.get("videx_audit_checkpoint", 1) >= 2:
        then, now = cp["seal"], state.seal_dict()
        if {k: then.get(k) for k in now} != now:
            return (f"entry {cp['entry']} is sealed differently from the checkpoint written "
                    f"{written} (then {describe_seal(then)}; now {describe_seal(now)}): the "
                    "chain's seal was changed")
    return None


def verify(cat, deep: bool = False, against: str | Path | None = None,
           progress=None, accept_unverifiable: bool = False) -> AuditCheck:
    """Verify a catalog's log in one consistent snapshot: the chain always; every protected
    row with ``deep`` (even when the chain is broken); that the log still holds a
    checkpoint's entry, hash and seal with ``against``. Keyed entries that cannot be checked
    (no key given) fail the check unless ``accept_unverifiable``."""
    cp = read_checkpoint(against) if against is not None else None
    key = cat.audit_key
    with cat.reading():
        walk = _walk(cat, key, accept_unverifiable, int(cp["entry"]) if cp else None)
        problem, bad_id = walk.problem, walk.bad_id
        if problem is None and cp is not None:
            problem = _against(walk, cp)
        problems: list[RowProblem] = []
        checked = 0
        if deep:
            checked = _deep(cat, problems, progress)
    last = walk.last
    return AuditCheck(walk.entries, problem is None and not problems, bad_id, problem, deep,
                      checked, problems, cp, list(walk.notes),
                      last.keyed_since if last else None, last.key_id if last else None,
                      last.sealed if last else 0, walk.unverifiable)


def _deep(cat, problems: list[RowProblem], progress) -> int:
    """Compare every protected row with the hash its last audit entry recorded."""
    from videx.store import protected
    log = cat.auditlog
    checked = 0
    for spec in protected.TABLES:
        hasher = None
        key_at = None
        for columns, batch in log.rows_with_audited(spec):
            if hasher is None:
                hasher = RowHasher(spec.table, columns[:-1])
                key_at = columns.index(spec.key)
            for values in batch:
                audited = values[-1]
                if audited is None or audited == DELETED:
                    problems.append(RowProblem(spec.table, str(values[key_at]), "unaudited"))
                elif audited != hasher(values):
                    problems.append(RowProblem(spec.table, str(values[key_at]), "changed"))
            checked += len(batch)
            if progress:
                progress(len(batch))
        for key in log.audited_but_missing(spec, DELETED):
            problems.append(RowProblem(spec.table, key, "deleted"))
    return checked


def checkpoint(cat, out: str | Path) -> dict:
    """Record a checkpoint entry, check the chain up to it, then write the head (that entry,
    its hash and how the chain is keyed there) to ``out``. A chain that does not verify gets
    no checkpoint (it would vouch for a forgery)."""
    if Path(out).exists():
        raise VidexError(f"{out} exists: a checkpoint file is never overwritten")
    with cat.write("audit checkpoint", {"out": str(out)}):
        pass
    with cat.reading():
        walk = _walk(cat, cat.audit_key, False)
    if walk.problem or walk.last is None:
        where = f"broken at entry {walk.bad_id}: " if walk.bad_id else ""
        raise VidexError(f"the audit log does not verify ({where}{walk.problem}): no "
                         "checkpoint written; run videx audit verify")
    from videx.timeutil import iso_utc, now_utc
    return write_checkpoint(out, cat.location, walk.last, walk.entries, iso_utc(now_utc()))


def enable_key(cat, key_file: str | Path) -> AuditKey:
    """Create a key file and seal every later entry of this catalog's chain with it."""
    last = cat.auditlog.last()
    keyed = cat.setting("audit_key_id") or (
        key_id_of(cat.auditlog.entry(last["id"])["alg"]) if last else None)
    if keyed is not None:
        raise AuditKeyError(f"the audit chain is already keyed (key {keyed})")
    cat.check_writable()
    key = new_key_file(key_file)
    cat._key = key
    with cat.write(KEY_COMMAND, {"key_id": key.key_id}):
        cat.set_setting("audit_key_id", key.key_id)
    return key
