"""``videx extract``, ``videx verify`` and ``videx report``: packages and the incident report."""

from __future__ import annotations

import sys

import click

from videx import output
from videx.commands.common import (
    EXIT_PARTIAL,
    canvass_for,
    db_option,
    format_option,
    parse_opt,
    progress_bar,
    warn,
    window_options,
)


@click.command(name="extract")
@db_option
@click.argument("incident_id")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="New folder.")
@click.option("--probative-only", is_flag=True, help="Only clips reviewed as probative.")
@click.option("--excerpts", is_flag=True,
              help="Also cut each clip to the window (labelled derived; same container).")
@click.option("--reencode", is_flag=True,
              help="Excerpts cut exactly (re-encoded) instead of from the keyframe before.")
@click.option("--jobs", type=click.IntRange(1, 64), help="Parallel copies (default: cores).")
@window_options
def extract_cmd(cat, incident_id, out, probative_only, excerpts, reencode, jobs, radius, before,
                after):
    """Export a verifiable evidence package: the native originals, manifest, SHA256SUMS.

    \b
    Example:
        videx extract HPD-23-004120 --out package-004120
        cd package-004120 && sha256sum -c SHA256SUMS
        videx extract HPD-23-004120 --out pkg --excerpts --before 2m --after 1m
    """
    from videx import evidence
    result = canvass_for(cat, incident_id, radius, before, after)
    pkg = evidence.extract(cat, result, out, probative_only, reencode, excerpts or reencode,
                           jobs)
    for clip_id, reason in pkg.failed:
        click.echo(f"Error: clip {clip_id}: {reason}", err=True)
    click.echo(pkg.summary())
    warn(pkg.audit_note)
    if pkg.failed:
        sys.exit(EXIT_PARTIAL)


@click.command(name="verify")
@db_option
@click.argument("folder", required=False, type=click.Path(file_okay=False))
@click.option("--catalog", "check_catalog", is_flag=True,
              help="Re-hash the catalogued originals instead of a package.")
@format_option("table", "json")
def verify_cmd(cat, folder, check_catalog, fmt):
    """Re-hash a package (or the catalog's originals); exit 4 altered, 5 missing, 6 unexpected.

    \b
    Example:
        videx verify package-004120
        videx verify --catalog
    """
    from videx import evidence
    if bool(folder) == bool(check_catalog):
        raise click.UsageError("give a package FOLDER or --catalog")
    if check_catalog:
        with progress_bar(cat.clips.count(), "hashing", fmt == "json") as bar:
            result = evidence.verify_catalog(cat, bar.update)
    else:
        result = evidence.verify_package(folder)
    if fmt == "json":
        click.echo(output.to_json(result.to_dict()))
    else:
        for line in result.problems():
            click.echo(line)
        click.echo(result.summary())
    warn(result.audit_note)
    sys.exit(result.exit_code)


@click.command(name="report")
@db_option
@click.argument("incident_id")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="HTML file.")
@click.option("--basemap", "--tiles", "basemap", metavar="FILE|FOLDER|URL",
              help="Streets under the map: a raster PMTiles file, a folder of {z}/{x}/{y}.png "
                   "tiles or a tile server URL (https://tiles.example.gov/{z}/{x}/{y}.png); "
                   "the tiles are embedded, the page stays offline. None by default.")
@window_options
def report_cmd(cat, incident_id, out, basemap, radius, before, after):
    """Write the one-page incident report (self-contained HTML: map, timeline, frames, requests).

    \b
    Example:
        videx report HPD-23-004120 --out HPD-23-004120.html
    """
    from videx import incident_report
    from videx.basemap import open_tiles
    tiles = parse_opt(open_tiles, basemap, "--basemap")
    result = canvass_for(cat, incident_id, radius, before, after)
    path, notes = incident_report.write(cat, result, out, tiles)
    click.echo(f"wrote {path}")
    for note in notes:
        warn(note)
