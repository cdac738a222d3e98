"""``videx outcome``, ``videx review`` and ``videx bookmark``: adding to a case's record."""

from __future__ import annotations

import click

from videx import history
from videx.commands.common import db_option, parse_opt
from videx.timeutil import format_local


@click.command(name="outcome")
@db_option
@click.argument("incident_id")
@click.argument("camera_id")
@click.option("--status", required=True, type=click.Choice(history.OUTCOMES))
@click.option("--note", help="Free text (who was asked, reference number, ...).")
def outcome_cmd(cat, incident_id, camera_id, status, note):
    """Add what happened with a camera's footage for an incident (earlier entries are kept).

    \b
    Example:
        videx outcome HPD-2023-000412 RING-0031 --status requested --note "emailed owner"
    """
    row = history.record_outcome(cat, incident_id, camera_id, status, note)
    click.echo(f"{incident_id} / {camera_id}: {row['status']} at {row['recorded_at']}")


@click.command(name="review")
@db_option
@click.argument("incident_id")
@click.argument("clip_id", type=int)
@click.option("--probative/--not-probative", default=None,
              help="Whether the clip shows something that matters for the case.")
@click.option("--note", help="Free text (what is seen, where in the clip).")
def review_cmd(cat, incident_id, clip_id, probative, note):
    """Add a review of a clip for an incident: probative or not (earlier reviews are kept).

    \b
    Example:
        videx review HPD-2023-000412 12 --probative --note "suspect vehicle at 0:04:10"
    """
    if probative is None:
        raise click.UsageError("give --probative or --not-probative")
    history.record_review(cat, incident_id, clip_id, probative, note)
    click.echo(f"{incident_id} / clip {clip_id}: "
               f"{'probative' if probative else 'not probative'}")


# ---------------------------------------------------------------- video analysis and evidence


@click.command(name="bookmark")
@db_option
@click.argument("incident_id")
@click.argument("clip_id", type=int)
@click.option("--at", "at", required=True,
              help="Where in the clip, as videx frame --at takes it: an offset (+0:01:05, 65s), "
                   "the camera's clock time (21:15:30) or an instant (ISO, true time).")
@click.option("--note", required=True, help="What is seen there.")
def bookmark_cmd(cat, incident_id, clip_id, at, note):
    """Mark a time in a clip for an incident, with a note (earlier bookmarks are kept).

    \b
    Example:
        videx bookmark HPD-2023-000412 12 --at +0:00:04 --note "white sedan enters"
        videx bookmark HPD-2023-000412 12 --at 14:29:58 --note "flash"   # camera clock
    """
    from videx.frames import parse_clip_time
    from videx.timeutil import hms
    clip = cat.clips.require(clip_id)
    camera = cat.cameras.require(clip["camera_id"])
    where = parse_opt(lambda v: parse_clip_time(v, clip, cat.input_zone_or_none(
        camera.get("tz")), cat.input_zone_or_none()), at, "--at")
    row = history.record_bookmark(cat, incident_id, clip_id, where.offset_s, note)
    click.echo(f"{incident_id} / clip {clip_id} at {hms(row['offset_s'])} "
               f"({format_local(clip['start_ts'] + row['offset_s'], cat.display_zone())}): "
               f"{row['note']}")
