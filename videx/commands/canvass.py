"""``videx canvass``: the cameras that could have seen an incident (or many), and their clips."""

from __future__ import annotations

import contextlib
import sys

import click

from videx import canvass, geo, output
from videx.commands.common import (
    EXIT_PARTIAL,
    db_option,
    format_option,
    parse_opt,
    parse_time_opt,
    parse_window,
    progress_bar,
    warn,
    window_options,
)
from videx.timeutil import format_local, parse_duration, parse_instant

CANVASS_COLUMNS = ["camera_id", "name", "source", "integration", "distance_m", "in_view",
                   "status", "covered", "moment_at", "activity", "clips", "deadline", "outcome"]


def canvass_table_rows(result, zone):
    """The canvass table's rows, in the display model's words (``videx.display``)."""
    from videx import display
    rows = []
    for c in result.cameras:
        words = display.camera_words(c)
        at = [f"#{k.clip_id}@{k.to_dict()['offset_hms'] or 'day'}" for k in c.clips
              if k.contains_moment]
        level, mode = c.activity
        deadline = words.deadline
        if c.deadline_ts is not None:
            deadline = f"{format_local(c.deadline_ts, zone)} ({deadline})"
        rows.append({"camera_id": c.camera_id, "name": c.name, "source": c.source,
                     "integration": c.integration, "distance_m": round(c.distance_m),
                     "in_view": words.in_view, "status": words.status,
                     "covered": words.coverage, "moment_at": " ".join(at),
                     "clips": len(c.clips),
                     "activity": "" if level is None else f"{level:.1f}% {mode}",
                     "deadline": deadline, "outcome": words.outcome})
    return rows


@click.command(name="canvass")
@db_option
@click.argument("incident_id", required=False)
@window_options
@click.option("--at", "at", help="Ad hoc: LAT,LON of an incident not in the catalog.")
@click.option("--time", "time_", help="Ad hoc: time of the incident (ISO, offset or zone).")
@click.option("--case", "case_no", help="Ad hoc: case number for the audit log.")
@click.option("--uncertainty", default="0s", show_default=True,
              help="Ad hoc: time uncertainty (widens the window).")
@click.option("--all", "all_", is_flag=True, help="Batch: every catalogued incident.")
@click.option("--incidents", "ids_file", type=click.File("r"),
              help="Batch: a file of incident ids, one per line ('-' for stdin).")
@click.option("--from", "from_", help="Batch: incidents at or after this time/date.")
@click.option("--to", help="Batch: incidents before this time/date.")
@click.option("--neighborhood", help="Batch: incidents in this neighborhood.")
@click.option("--summary", is_flag=True, help="Batch: one row per incident.")
@click.option("--sort", type=click.Choice(canvass.SORTS), default="view",
              show_default=True, help="Order: in view/coverage/distance, or activity near the "
                                      "moment (scanned clips).")
@format_option("table", "json", "csv", "geojson")
def canvass_cmd(cat, incident_id, radius, before, after, at, time_, case_no, uncertainty,
                all_, ids_file, from_, to, neighborhood, summary, sort, fmt):
    """Find the cameras that could have seen an incident (or many) and the clips that cover it.

    \b
    Example:
        videx canvass HPD-2023-000412 --radius 250m --before 30m --after 15m
        videx canvass --at 41.7637,-72.6851 --time "2023-05-01 14:30-04:00" --case 23-1234
        videx canvass --all --from 2023-01-01 --summary --format csv > canvass-2023.csv
        cut -d, -f1 cases.csv | videx canvass --incidents - --format json
    """
    kwargs = {**parse_window(radius, before, after), "sort": sort}
    zone = cat.display_zone()
    batch = all_ or ids_file or from_ or to or neighborhood
    if batch or summary:
        if incident_id or at or time_:
            raise click.UsageError("give an INCIDENT_ID, --at/--time/--case, or batch options "
                                   "(--all, --incidents, --from/--to, --neighborhood)")
        return canvass_batch(cat, ids_file, from_, to, neighborhood, summary, kwargs, fmt)
    if incident_id:
        if at or time_:
            raise click.UsageError("give an INCIDENT_ID or --at/--time/--case, not both")
        result = canvass.canvass(cat, incident_id, **kwargs)
    else:
        if not (at and time_ and case_no):
            raise click.UsageError("give an INCIDENT_ID, or all of --at, --time and --case "
                                   "(or --all for every incident)")
        lat, lon = parse_opt(geo.parse_latlon, at, "--at")
        when = parse_opt(lambda v: parse_instant(v, cat.input_zone_or_none()), time_, "--time")
        inc = canvass.adhoc_incident(case_no, lat, lon, when,
                                     parse_opt(parse_duration, uncertainty, "--uncertainty"))
        result = canvass.canvass_incident(cat, inc, **kwargs)
    if fmt == "json":
        click.echo(output.to_json(result.to_dict(zone)))
    elif fmt == "geojson":
        click.echo(output.to_json(result.to_geojson()))
    elif fmt == "csv":
        click.echo(output.to_csv(result.csv_rows(), canvass.CSV_COLUMNS).rstrip("\n"))
    else:
        inc = result.incident
        click.echo(f"Incident {inc.id} at {inc.when(zone)} "
                   f"({inc.lat:.5f},{inc.lon:.5f})")
        click.echo(f"Window {format_local(result.window_start_ts, zone)} to "
                   f"{format_local(result.window_end_ts, zone)}; radius {result.radius_m:g} m")
        click.echo(output.to_table(canvass_table_rows(result, zone), CANVASS_COLUMNS))
        click.echo(result.summary())
    warn(result.audit_note)


BATCH_TABLE_COLUMNS = ["incident_id", "occurred_local", "camera_id", "distance_m", "in_view",
                       "status", "clips_at_moment", "retention_deadline", "outcome"]


def canvass_batch(cat, ids_file, from_, to, neighborhood, summary, kwargs, fmt):
    """Canvass many incidents; rows stream to stdout as they are computed."""
    ids = None
    if ids_file is not None:
        ids = [ln.strip().split(",")[0].strip() for ln in ids_file if ln.strip()]
        ids = [i for i in ids if i and i.lower() not in ("id", "incident_id", "case_id")]
    incidents_, unknown = canvass.select_incidents(
        cat, ids, parse_time_opt(cat, from_, "--from"), parse_time_opt(cat, to, "--to"),
        neighborhood)
    zone = cat.display_zone()
    columns = canvass.SUMMARY_COLUMNS if summary else (
        canvass.BATCH_COLUMNS if fmt != "table" else BATCH_TABLE_COLUMNS)
    with progress_bar(len(incidents_), "canvassing") as bar, contextlib.closing(
            canvass.canvass_many(cat, incidents_, progress=bar.update, **kwargs)) as results:
        rows = (row for result in results for row in (
            [canvass.summary_row(result, zone)] if summary
            else canvass.batch_rows(result, zone)))
        output.stream(rows, fmt, columns, lambda text: click.echo(text, nl=False))
    params = {k: v for k, v in kwargs.items()}
    note = canvass.record_batch(cat, params, len(incidents_), {
        "incident_ids_from": "file" if ids is not None else "catalog", "from": from_, "to": to,
        "neighborhood": neighborhood, "summary": summary, "unknown_ids": len(unknown)})
    for i in unknown:
        click.echo(f"Error: no incident {i!r} in the catalog", err=True)
    click.echo(f"{len(incidents_)} incident(s) canvassed", err=True)
    warn(note)
    if unknown:
        sys.exit(EXIT_PARTIAL)
