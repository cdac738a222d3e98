"""``videx ingest``, ``videx clips`` and ``videx rejects``: cataloguing clips and listing them."""

from __future__ import annotations

import sys

import click

from videx import ingest, output
from videx.commands.common import (
    EXIT_PARTIAL,
    VidexGroup,
    db_option,
    echo_rows,
    format_option,
    parse_opt,
    parse_time_opt,
    progress_bar,
    show_record,
)
from videx.timeutil import format_local, get_zone, parse_instant


@click.command(name="ingest")
@db_option
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--camera", "camera_id", help="Camera id for every file.")
@click.option("--camera-from-folder", is_flag=True,
              help="Each file's parent folder name is its camera id.")
@click.option("--start", help="Start as the camera's clock showed it (single file; ISO time).")
@click.option("--tz", help="Zone of local times in names/sidecars (default: camera's tz).")
@click.option("--name-pattern",
              help="Regex searched in the whole file name (extension included) with named "
                   "groups Y m d H M S (optional ms, Z).")
@click.option("--allow-mtime", is_flag=True,
              help="Use the file's modification time when nothing else gives a start "
                   "(low confidence; the copying computer's clock).")
@click.option("--mtime-from-camera", is_flag=True,
              help="With --allow-mtime: the files came straight from the camera, so its "
                   "clock offset applies to their modification times.")
@click.option("--allow-suspect-times", is_flag=True,
              help="Keep starts before 2000 or in the future, at low confidence.")
@click.option("--jobs", type=click.IntRange(1, 64), help="Parallel workers (default: cores).")
@format_option("table", "json")
def ingest_cmd(cat, paths, camera_id, camera_from_folder, start, tz, name_pattern, allow_mtime,
               mtime_from_camera, allow_suspect_times, jobs, fmt):
    """Catalog clips (files or folders, recursive): probe, hash, time, clock-correct.

    \b
    Example:
        videx ingest exports/CITY-014 --camera CITY-014
        videx ingest fixtures/clips --camera-from-folder
    """
    if bool(camera_id) == bool(camera_from_folder):
        raise click.UsageError("give exactly one of --camera ID or --camera-from-folder")
    if mtime_from_camera and not allow_mtime:
        raise click.UsageError("--mtime-from-camera goes with --allow-mtime")
    parse_opt(get_zone, tz, "--tz")
    parse_opt(lambda v: parse_instant(v, "UTC"), start, "--start")     # the form, early
    files = sum(1 for _ in ingest.iter_files(paths))
    with progress_bar(files, "ingesting", fmt == "json") as bar:
        report = ingest.ingest(cat, paths, camera_id=camera_id,
                               camera_from_folder=camera_from_folder, start=start, tz=tz,
                               name_pattern=name_pattern, allow_mtime=allow_mtime,
                               mtime_from_camera=mtime_from_camera,
                               allow_suspect_times=allow_suspect_times, jobs=jobs,
                               progress=bar.update)
    if fmt == "json":
        click.echo(output.to_json(report.to_dict()))
    for path, reason in report.rejected + report.conflicts:
        click.echo(f"Error: {path}: {reason}", err=True)
    click.echo(report.summary(), err=fmt == "json")
    if not report.ok:
        sys.exit(EXIT_PARTIAL)


@click.group(name="clips", cls=VidexGroup)
def clips_group():
    """The clip catalog."""


CLIP_COLUMNS = ["id", "camera_id", "start_local", "duration_s", "time_source", "clock_offset_s",
                "codec", "width", "height", "path"]


@clips_group.command(name="list")
@db_option
@click.option("--camera", "camera_id", help="Only this camera's clips.")
@click.option("--from", "from_", help="Clips ending after this time (ISO with offset).")
@click.option("--to", help="Clips starting before this time (ISO with offset).")
@format_option("table", "csv", "json")
def clips_list(cat, camera_id, from_, to, fmt):
    """List catalogued clips (corrected times).

    \b
    Example:
        videx clips list --camera CITY-014 --from 2023-05-01T14:00-04:00 --format json
    """
    t0 = parse_time_opt(cat, from_, "--from")
    t1 = parse_time_opt(cat, to, "--to")
    zone = cat.display_zone()
    rows = cat.clips.list(camera_id, t0, t1)
    for r in rows:
        r["start_local"] = format_local(r["start_ts"], zone)
    echo_rows(rows, fmt, CLIP_COLUMNS)


@clips_group.command(name="show")
@db_option
@click.argument("clip_id", type=int)
@format_option("table", "json")
def clips_show(cat, clip_id, fmt):
    """Show one clip: file, hash, probe facts, raw and corrected times and their source.

    \b
    Example:
        videx clips show 12
    """
    clip = cat.clips.require(clip_id)
    zone = cat.display_zone()
    clip["start_local"] = format_local(clip["start_ts"], zone)
    clip["end_local"] = format_local(clip["end_ts"], zone)
    show_record(clip, fmt)


@click.group(name="rejects", cls=VidexGroup)
def rejects_group():
    """Files that ingest refused."""


@rejects_group.command(name="list")
@db_option
@format_option("table", "csv", "json")
def rejects_list(cat, fmt):
    """List refused files and why.

    \b
    Example:
        videx rejects list --format csv
    """
    echo_rows(cat.clips.rejects(), fmt, ["path", "reason", "rejected_at"])
