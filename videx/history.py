"""Case history: what happened with each camera's footage, and what each clip shows.

Entries are appended, never replaced: a second outcome for the same camera, or a second review
of the same clip, is added with its own time, author and note; the latest is the current one.
Each entry records the operating-system account of the process and any name stated with
``--as`` beside it.

A request to a camera owner (``videx.requests``) keeps its status history here too: its
entries carry its ``request_id``, and an outcome recorded by hand for a camera with an open
request becomes that request's status (see ``REQUEST_STATUSES`` for how the words map).
"""

from __future__ import annotations

from videx import audit
from videx.errors import OptionError
from videx.timeutil import iso_utc, now_utc

OUTCOMES = ("requested", "obtained", "declined", "overwritten", "no-footage")

# One vocabulary: a request's status is an outcome (its entries carry the request's id).
# ``videx outcome`` records the five above by hand; a request moves through these:
REQUEST_STATUSES = ("drafted", "sent", "reminded", "uploaded", "declined", "no-footage",
                    "withdrawn")
# ... and how the two map: "requested" (asked outside videx) is an open request like "sent";
# "obtained" (footage in hand by other means) closes a request like "uploaded"; a stated
# "overwritten" closes it too. An open request whose deadline has passed with nothing
# received is *shown* as "overwritten" (computed, never stored).
STATUSES = OUTCOMES + tuple(s for s in REQUEST_STATUSES if s not in OUTCOMES)
OPEN = ("drafted", "sent", "reminded", "requested")
RECEIVED = ("uploaded", "obtained")
SHOWN = STATUSES      # every status a request can be shown with ("overwritten" included)


def latest(entries: list[dict], key: str) -> dict:
    """{entry[key]: the latest entry} from entries oldest first (as ``HistoryStore.outcomes``
    and ``reviews`` give them): the current outcome per camera or review per clip."""
    return {entry[key]: entry for entry in entries}


def record_outcome(cat, incident_id: str, camera_id: str, status: str,
                   note: str | None = None) -> dict:
    """Append what happened with one camera's footage for an incident."""
    if status not in OUTCOMES:
        raise OptionError(f"unknown outcome {status!r} (expected one of: "
                          f"{', '.join(OUTCOMES)})", "status")
    cat.incidents.require(incident_id)
    cat.cameras.require(camera_id)
    row = {"incident_id": incident_id, "camera_id": camera_id, "status": status, "note": note,
           "recorded_at": iso_utc(now_utc()), "recorded_by": audit.os_user(),
           "acting_as": cat.actor, "request_id": None}
    with cat.write("outcome", {"camera": camera_id, "status": status, "note": note},
                   case_no=incident_id) as tx:
        # an open request for this camera takes the outcome as its status (one vocabulary)
        for req in reversed(cat.requests.list(incident_id, camera_id)):
            if req["status"] in OPEN:
                row["request_id"], tx.args["request"] = req["id"], req["code"]
                break
        row["id"] = cat.history.add_outcome(row)
    return row


def record_review(cat, incident_id: str, clip_id: int, probative: bool,
                  note: str | None = None) -> dict:
    """Append a review of a clip for an incident: probative or not, with a note."""
    cat.incidents.require(incident_id)
    cat.clips.require(clip_id)
    row = {"incident_id": incident_id, "clip_id": clip_id, "probative": int(probative),
           "note": note, "reviewed_at": iso_utc(now_utc()), "reviewed_by": audit.os_user(),
           "acting_as": cat.actor}
    with cat.write("review", {"clip": clip_id, "probative": bool(probative), "note": note},
                   case_no=incident_id):
        row["id"] = cat.history.add_review(row)
    return row


MAX_NOTE = 2000


def record_bookmark(cat, incident_id: str, clip_id: int, offset_s: float, note: str) -> dict:
    """Mark a time in a clip for a case, with a note (``offset_s``: seconds from the clip's
    first frame, inside the clip). Appended and audited; shown on the clip's timeline, the
    incident page, the report and the package manifest."""
    import math
    note = (note or "").strip()
    if not note:
        raise OptionError("a bookmark needs a note (what is seen at that time)", "note")
    if len(note) > MAX_NOTE:
        raise OptionError(f"the note is too long ({len(note)} characters, at most "
                          f"{MAX_NOTE})", "note")
    cat.incidents.require(incident_id)
    clip = cat.clips.require(clip_id)
    offset_s = float(offset_s)
    if not math.isfinite(offset_s) or not 0 <= offset_s <= float(clip["duration_s"]) + 0.001:
        raise OptionError(f"{offset_s:g} s is not inside clip {clip_id} (0 to "
                          f"{float(clip['duration_s']):g} s)", "at")
    row = {"incident_id": incident_id, "clip_id": int(clip_id), "offset_s": round(offset_s, 3),
           "note": note, "created_at": iso_utc(now_utc()), "created_by": audit.os_user(),
           "acting_as": cat.actor}
    with cat.write("bookmark", {"clip": int(clip_id), "offset_s": row["offset_s"],
                                "note": note}, case_no=incident_id):
        row["id"] = cat.bookmarks.add(row)
    return row
