"""``videx scan``, ``videx frame`` and ``videx contact-sheet``: looking inside clips."""

from __future__ import annotations

import sys

import click

from videx import output
from videx.commands.common import (
    EXIT_PARTIAL,
    canvass_for,
    db_option,
    format_option,
    progress_bar,
    window_options,
)


@click.command(name="scan")
@db_option
@click.argument("clip_ids", nargs=-1, type=int)
@click.option("--camera", "camera_id", help="All clips of this camera.")
@click.option("--incident", "incident_id", help="Only the clips in this incident's window.")
@window_options
@click.option("--fast", is_flag=True, help="Keyframes only: coarse, hundreds of times real time.")
@click.option("--force", is_flag=True, help="Rescan clips that were scanned before.")
@click.option("--mask-top", default=0.10, show_default=True, type=float,
              help="Share of the frame height at the top to ignore (burned-in clock).")
@click.option("--jobs", type=click.IntRange(1, 64), help="Clips scanned in parallel.")
@format_option("table", "json")
def scan_cmd(cat, clip_ids, camera_id, incident_id, radius, before, after, fast, force,
             mask_top, jobs, fmt):
    """Score activity per second and flag dead feeds (frozen, black, blank, dark).

    \b
    Example:
        videx scan --incident HPD-23-004120
        videx scan 12 13 --fast --force
    """
    if not (clip_ids or camera_id or incident_id):
        raise click.UsageError("give CLIP_IDs, --camera or --incident")
    from videx import activity
    result = canvass_for(cat, incident_id, radius, before, after) if incident_id else None
    clips = activity.select_clips(cat, clip_ids, camera_id, result)
    with progress_bar(len(clips), "scanning", fmt == "json") as bar:
        report = activity.scan(cat, clips, fast=fast, force=force, mask_top=mask_top,
                               jobs=jobs, progress=bar.update)
    if fmt == "json":
        click.echo(output.to_json({"scanned": [r.to_dict() for r in report.scanned],
                                   "skipped": report.skipped, "failed": report.failed}))
    else:
        for r in report.scanned:
            click.echo(r.summary())
    for clip_id, reason in report.failed:
        click.echo(f"Error: clip {clip_id}: {reason}", err=True)
    click.echo(report.summary(), err=fmt == "json")
    if report.failed:
        sys.exit(EXIT_PARTIAL)


@click.command(name="frame")
@db_option
@click.argument("clip_id", type=int)
@click.option("--at", "at", required=True,
              help="Offset (+0:01:05, 65s, 4.5), camera clock time (21:15:30) or an "
                   "instant (ISO, true time).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="JPEG or PNG.")
def frame_cmd(cat, clip_id, at, out):
    """Save one frame of a clip, upright (seeks before decoding).

    \b
    Example:
        videx frame 12 --at +0:00:04 --out frame.jpg
        videx frame 12 --at 14:29:58 --out clock.jpg       # as the camera's clock showed
        videx frame 12 --at 2023-05-01T14:30:00-04:00 --out moment.jpg
    """
    from videx import frames
    info = frames.save_frame(cat, clip_id, at, out)
    click.echo(f"{info['out']}: clip {clip_id} at {info['offset_s']:g} s ({info['reading']}; "
               f"true time {info['time_local']}); {info['width']}x{info['height']}")


@click.command(name="contact-sheet")
@db_option
@click.argument("incident_id")
@window_options
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="JPEG or PNG.")
def contact_sheet_cmd(cat, incident_id, radius, before, after, out):
    """Frames at the incident moment from every clip that contains it, labelled.

    \b
    Example:
        videx contact-sheet HPD-23-004120 --out sheet.jpg
    """
    from videx import frames
    result = canvass_for(cat, incident_id, radius, before, after)
    sheet, tiles = frames.contact_sheet(result, cat.display_zone(), out)
    if sheet is None:
        raise click.ClickException(f"no catalogued clip contains the moment of {incident_id}")
    for t in tiles:
        click.echo(t.label)
    click.echo(f"{out}: {len(tiles)} frame(s)")
