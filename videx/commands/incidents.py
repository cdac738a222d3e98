"""``videx incidents``: shootings from the records system (import, list, show)."""

from __future__ import annotations

import json

import click

from videx import incidents
from videx.commands.common import (
    VidexGroup,
    db_option,
    echo_rows,
    expand_extra,
    format_option,
    import_options,
    parse_opt,
    parse_time_opt,
    read_options,
    report_import,
    show_record,
)
from videx.timeutil import describe, get_zone


@click.group(name="incidents", cls=VidexGroup)
def incidents_group():
    """Shootings from the records system."""


INCIDENT_COLUMNS = ["id", "occurred_local", "category", "lat", "lon", "neighborhood",
                    "cleared", "clearance_type"]


@incidents_group.command(name="import")
@db_option
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--tz", help="Zone of local times that have no offset (IANA name).")
@click.option("--time-column", help="Column with the time of day, for a date column.")
@click.option("--allow-odd-dates", is_flag=True,
              help="Keep incidents dated before 1970 or more than a day ahead (1900-2100).")
@import_options
def incidents_import(cat, file, tz, time_column, allow_odd_dates, maps, sets, defaults,
                     encoding, delimiter, date_format, skip_bad, update, dry_run, errors_out,
                     fmt):
    """Import incidents (shootings) from CSV or GeoJSON; change existing ones only with --update.

    A date without a time of day is kept as that whole local day ("time unknown"), never as
    midnight. A row whose case number exists and whose fields differ is refused and named
    (e.g. "C2180122 occurred_at 2021-03-04 01:07 EST -> 00:07 EST") unless --update;
    --dry-run shows it first. A --tz other than the catalog's zone is named in a warning.

    \b
    Example:
        videx incidents import shootings.csv --tz America/New_York
        videx incidents import shootings-corrected.csv --dry-run
        videx incidents import rms.csv --map id=CaseNo --map occurred_at=OccurredDate
        videx incidents import homicides.csv --encoding cp1252 --date-format %m/%d/%y \\
            --map 'id={Year}-{Case No.}' --map occurred_at=Date --default cleared=no
    """
    parse_opt(get_zone, tz, "--tz")
    report_import(incidents.import_incidents(
        cat, file, tz=tz, skip_bad=skip_bad, options=read_options(
            maps, sets, defaults, encoding, delimiter, date_format, time_column),
        update=update, dry_run=dry_run, allow_odd_dates=allow_odd_dates), fmt, errors_out)


@incidents_group.command(name="list")
@db_option
@click.option("--from", "from_", help="Occurred at or after (ISO time with offset).")
@click.option("--to", help="Occurred before (ISO time with offset).")
@click.option("--category", type=click.Choice(incidents.CATEGORIES))
@format_option("table", "csv", "json", "geojson")
def incidents_list(cat, from_, to, category, fmt):
    """List incidents in time order.

    \b
    Example:
        videx incidents list --from 2023-01-01T00:00-05:00 --category fatal --format csv
    """
    t0 = parse_time_opt(cat, from_, "--from")
    t1 = parse_time_opt(cat, to, "--to")
    zone = cat.display_zone()
    rows = cat.incidents.list(t0, t1, category)
    for r in rows:
        r["occurred_local"] = describe(r["occurred_ts"], r["time_precision"], zone)
        r["extra"] = json.loads(r["extra"]) if r.get("extra") else None
    echo_rows(rows, fmt, INCIDENT_COLUMNS)


HISTORY_COLUMNS = {
    "outcomes": ["id", "camera_id", "status", "note", "recorded_at", "recorded_by", "acting_as"],
    "reviews": ["id", "clip_id", "probative", "note", "reviewed_at", "reviewed_by", "acting_as"]}


@incidents_group.command(name="show")
@db_option
@click.argument("incident_id")
@format_option("table", "json")
def incidents_show(cat, incident_id, fmt):
    """Show one incident with its whole case history (outcomes and reviews, oldest first).

    \b
    Example:
        videx incidents show HPD-2023-000412
        videx incidents show HPD-2023-000412 --format json
    """
    inc = cat.incidents.require(incident_id)
    inc["occurred_local"] = describe(inc["occurred_ts"], inc["time_precision"],
                                     cat.display_zone())
    expand_extra(inc)
    inc["outcomes"] = cat.history.outcomes(incident_id)
    inc["reviews"] = cat.history.reviews(incident_id)
    if fmt != "json":
        for r in inc["reviews"]:
            r["probative"] = "yes" if r["probative"] else "no"
    show_record(inc, fmt, HISTORY_COLUMNS)
