"""The videx command line: parse options, call one library function, render the result.

Exit codes: 0 done; 1 failed (nothing changed, or a check failed); 2 bad usage or option value;
3 done in part (some rows or files were refused: see the listed reasons); verify: 4 altered,
5 missing, 6 unexpected files.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sqlite3
import sys

import click

from videx import (
    __version__,
    audit,
    cameras,
    canvass,
    catalog,
    geo,
    history,
    incidents,
    ingest,
    output,
)
from videx.errors import OptionError, VidexError
from videx.timeutil import describe, format_local, get_zone, parse_duration, parse_instant

EXIT_PARTIAL = 3


def option_hint(err: OptionError) -> str | None:
    return f"--{err.option.replace('_', '-')}" if err.option else None


class VidexGroup(click.Group):
    """A group whose commands turn library errors into one ``Error:`` line: exit 2 for a bad
    option value, exit 1 for a failed operation."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except OptionError as err:
            if os.environ.get("VIDEX_DEBUG"):
                raise
            raise click.BadParameter(str(err), param_hint=option_hint(err)) from err
        except VidexError as err:
            if os.environ.get("VIDEX_DEBUG"):
                raise
            raise click.ClickException(str(err)) from err
        except BrokenPipeError:  # the reader went away (videx ... | head): stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except (OSError, sqlite3.Error) as err:  # a full disk, a locked or damaged catalog
            if os.environ.get("VIDEX_DEBUG"):
                raise
            where = f" ({err.filename})" if getattr(err, "filename", None) else ""
            raise click.ClickException(f"{err.__class__.__name__}{where}: {err}") from err
        except Exception as err:   # a PostgreSQL catalog's server-side errors, in one line
            psycopg = sys.modules.get("psycopg")
            if psycopg is None or not isinstance(err, psycopg.Error) or \
                    os.environ.get("VIDEX_DEBUG"):
                raise
            first = str(err).strip().splitlines()[0] if str(err).strip() else ""
            raise click.ClickException(f"database error ({err.__class__.__name__}): "
                                       f"{first}") from err


def open_for(ctx: click.Context, db_path: str, create: bool = False) -> catalog.Catalog:
    """Open the catalog for a command (closed when the command ends)."""
    actor = (ctx.find_root().params or {}).get("acting_as")
    cat = catalog.open_catalog(db_path, create=create, actor=actor)
    ctx.call_on_close(cat.close)
    return cat


def db_option(fn):
    """``--db PATH`` (default ``$VIDEX_DB`` or ``./videx.db``); passes ``cat``."""
    @click.option("--db", "db_path", envvar="VIDEX_DB", type=click.Path(dir_okay=False),
                  default=catalog.DEFAULT_DB, show_default=True,
                  help="Catalog: a SQLite file or a postgresql:// URL (also $VIDEX_DB).")
    @functools.wraps(fn)
    def wrapper(*args, db_path, **kwargs):
        return fn(*args, cat=open_for(click.get_current_context(), db_path), **kwargs)
    return wrapper


def format_option(*choices):
    """``--format`` with the given choices, ``table`` first and default."""
    return click.option("--format", "fmt", type=click.Choice(choices), default=choices[0],
                        show_default=True, help="Output format.")


def echo_rows(rows, fmt, columns):
    click.echo(output.render(rows, fmt, columns))


def warn(note: str | None) -> None:
    """A warning line on stderr (never on stdout, so machine output stays clean)."""
    if note:
        click.echo(f"Warning: {note}", err=True)


def parse_opt(fn, value, hint):
    """Run a parser on an option value; a failure becomes click.BadParameter (exit 2)."""
    if value is None:
        return None
    try:
        return fn(value)
    except (ValueError, VidexError) as err:
        raise click.BadParameter(str(err), param_hint=hint) from err


def report_import(report, fmt):
    if fmt == "json":
        click.echo(output.to_json(report.to_dict()))
    for err in report.errors:
        click.echo(f"Error: {err}", err=True)
    click.echo(report.summary(), err=fmt == "json")
    if not report.written:
        sys.exit(1)
    if report.errors:
        sys.exit(EXIT_PARTIAL)


@click.group(cls=VidexGroup)
@click.version_option(__version__, prog_name="videx")
@click.option("--as", "acting_as", envvar="VIDEX_AS", metavar="NAME",
              help="Name to record in the audit log beside your OS account (also $VIDEX_AS).")
def cli(acting_as):
    """videx: find, keep and measure video evidence for shootings.

    \b
    Example:
        videx init --bounds 41.72,-72.72,41.81,-72.64 --tz America/New_York
        videx cameras import cameras.csv
        videx incidents import shootings.csv
        videx ingest clips/ --camera-from-folder
        videx --as "Det. R. Diaz" canvass HPD-2023-001234
    """


@cli.command()
@click.option("--db", "db_path", envvar="VIDEX_DB", type=click.Path(dir_okay=False),
              default=catalog.DEFAULT_DB, show_default=True, help="Catalog file (also $VIDEX_DB).")
@click.option("--bounds", help="City bounds SOUTH,WEST,NORTH,EAST (decimal degrees).")
@click.option("--tz", help="Zone for local times without an offset and for display (IANA).")
@click.pass_context
def init(ctx, db_path, bounds, tz):
    """Create a catalog, or change its settings (city bounds, zone).

    \b
    Example:
        videx init --bounds 41.72,-72.72,41.81,-72.64 --tz America/New_York
    """
    b = parse_opt(geo.parse_bounds, bounds, "--bounds")
    z = parse_opt(get_zone, tz, "--tz")
    cat = open_for(ctx, db_path, create=True)
    with cat.write("init", {"bounds": b, "tz": tz}):
        if b:
            cat.set_setting("bounds", list(b))
        if z:
            cat.set_setting(catalog.ZONE_SETTING, z.key)
    click.echo(f"catalog {cat.location}: migrations {', '.join(cat.migrations())}; bounds "
               f"{cat.bounds or 'not set'}; zone {cat.zone_name or 'not set (times shown in UTC)'}")


# ---------------------------------------------------------------- cameras
@cli.group(name="cameras", cls=VidexGroup)
def cameras_group():
    """The camera registry: city and private cameras."""


CAMERA_COLUMNS = ["id", "name", "source", "integration", "kind", "lat", "lon", "heading_deg",
                  "fov_deg", "range_m", "retention_days", "clock_offset_s", "neighborhood"]


def import_options(fn):
    """Options shared by the importers: how to read a real export as it is."""
    for opt in reversed([
        click.option("--map", "maps", multiple=True, metavar="FIELD=COLUMN|TEMPLATE",
                     help="Read FIELD from another column, or build it: 'id={year}-{Case}', "
                          "'id=BAL-{row}' ({row}: spreadsheet row). Repeatable."),
        click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE",
                     help="FIELD for every row, for a column the file lacks "
                          "(--set source=city). Repeatable."),
        click.option("--default", "defaults", multiple=True, metavar="FIELD=VALUE",
                     help="FIELD where its cell is blank (--default cleared=no). Repeatable."),
        click.option("--encoding", help="Text encoding when not UTF-8/UTF-16 (e.g. cp1252)."),
        click.option("--delimiter", help="Cell delimiter: , ; or tab (default: sniffed)."),
        click.option("--date-format", help="strptime format of date cells, e.g. %m/%d/%y."),
        click.option("--skip-bad", is_flag=True, help="Import the good rows and list the "
                                                      "bad ones (exit 3)."),
        format_option("table", "json")]):
        fn = opt(fn)
    return fn


def read_options(maps, sets, defaults, encoding, delimiter, date_format, time_column=None):
    from videx.records import ReadOptions
    return ReadOptions(tuple(maps), tuple(sets), tuple(defaults), encoding, delimiter,
                       date_format, time_column)


@cameras_group.command(name="import")
@db_option
@click.argument("file", type=click.Path(dir_okay=False))
@import_options
def cameras_import(cat, file, maps, sets, defaults, encoding, delimiter, date_format,
                   skip_bad, fmt):
    """Import or update cameras from CSV or GeoJSON (upsert by id).

    \b
    Example:
        videx cameras import fixtures/cameras.csv
        videx cameras import private.geojson --skip-bad
        videx cameras import opendata.csv --map id=ID --map name=CameraName \\
            --map point=the_geom --set source=city --set integration=connected
    """
    report_import(cameras.import_cameras(cat, file, skip_bad=skip_bad, options=read_options(
        maps, sets, defaults, encoding, delimiter, date_format)), fmt)


@cameras_group.command(name="list")
@db_option
@click.option("--near", help="LAT,LON to search around.")
@click.option("--radius", default="300m", show_default=True, help="Radius with --near (m, km).")
@click.option("--source", type=click.Choice(cameras.SOURCES))
@click.option("--integration", type=click.Choice(cameras.INTEGRATIONS))
@format_option("table", "csv", "json", "geojson")
def cameras_list(cat, near, radius, source, integration, fmt):
    """List cameras, optionally near a point.

    \b
    Example:
        videx cameras list --near 41.7637,-72.6851 --radius 300m --format geojson
    """
    point = parse_opt(geo.parse_latlon, near, "--near")
    radius_m = parse_opt(geo.parse_distance, radius, "--radius")
    rows = cameras.list_cameras(cat, point, radius_m, source, integration)
    cols = (["distance_m"] if point else []) + CAMERA_COLUMNS
    echo_rows(rows, fmt, cols)


@cameras_group.command(name="show")
@db_option
@click.argument("camera_id")
@format_option("table", "json")
def cameras_show(cat, camera_id, fmt):
    """Show one camera with its clip count.

    \b
    Example:
        videx cameras show CITY-014
    """
    cam = cat.cameras.require(camera_id)
    cam["clips"] = cat.cameras.clip_count(camera_id)
    expand_extra(cam)
    show_record(cam, fmt)


def expand_extra(record: dict) -> None:
    """Show the columns kept from the imported file (``extra`` JSON) as ``extra.COLUMN``."""
    extra = json.loads(record.pop("extra") or "{}")
    record.update({f"extra.{k}": v for k, v in extra.items()})


def show_record(record: dict, fmt: str, tables: dict[str, list[str]] | None = None):
    """A record as JSON, or as aligned ``key  value`` lines with list values as tables."""
    if fmt == "json":
        click.echo(output.to_json(record))
        return
    scalars = {k: v for k, v in record.items() if not isinstance(v, list)}
    width = max(len(k) for k in scalars)
    for k, v in scalars.items():
        click.echo(f"{k.ljust(width)}  {'' if v is None else v}")
    for k, v in record.items():
        if isinstance(v, list):
            click.echo(f"\n{k}:")
            click.echo(output.to_table(v, (tables or {}).get(k)))


# ---------------------------------------------------------------- incidents
@cli.group(name="incidents", cls=VidexGroup)
def incidents_group():
    """Shootings from the records system."""


INCIDENT_COLUMNS = ["id", "occurred_local", "category", "lat", "lon", "neighborhood",
                    "cleared", "clearance_type"]


@incidents_group.command(name="import")
@db_option
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--tz", help="Zone of local times that have no offset (IANA name).")
@click.option("--time-column", help="Column with the time of day, for a date column.")
@import_options
def incidents_import(cat, file, tz, time_column, maps, sets, defaults, encoding, delimiter,
                     date_format, skip_bad, fmt):
    """Import or update incidents (shootings) from CSV or GeoJSON.

    A date without a time of day is kept as that whole local day ("time unknown"), never as
    midnight.

    \b
    Example:
        videx incidents import shootings.csv --tz America/New_York
        videx incidents import rms.csv --map id=CaseNo --map occurred_at=OccurredDate
        videx incidents import homicides.csv --encoding cp1252 --date-format %m/%d/%y \\
            --map 'id={Year}-{Case No.}' --map occurred_at=Date --default cleared=no
    """
    parse_opt(get_zone, tz, "--tz")
    report_import(incidents.import_incidents(cat, file, tz=tz, skip_bad=skip_bad,
                                             options=read_options(
                                                 maps, sets, defaults, encoding, delimiter,
                                                 date_format, time_column)), fmt)


def parse_time_opt(cat, value, hint):
    """A bound option (--from/--to): a time (ISO with offset, or local in the catalog's zone)
    or a date (the start of that local day)."""
    from videx.timeutil import read_when
    return parse_opt(lambda v: read_when(v, cat.input_zone_or_none()).start.timestamp(),
                     value, hint)


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


# ---------------------------------------------------------------- ingest and clips
@cli.command(name="ingest")
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


@cli.group(name="clips", cls=VidexGroup)
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


@cli.group(name="rejects", cls=VidexGroup)
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


# ---------------------------------------------------------------- canvass
CANVASS_COLUMNS = ["camera_id", "name", "source", "integration", "distance_m", "in_view",
                   "status", "covered", "moment_at", "activity", "clips", "deadline", "outcome"]


def canvass_table_rows(result, zone):
    rows = []
    for c in result.cameras:
        at = [f"#{k.clip_id}@{k.to_dict()['offset_hms'] or 'day'}" for k in c.clips
              if k.contains_moment]
        level, mode = c.activity
        deadline = "retention unknown: ask now" if c.deadline_state == "unknown" else ""
        if c.deadline_ts is not None:
            deadline = ("LOST " if c.deadline_state == "lost" else "") + format_local(
                c.deadline_ts, zone)
            if c.deadline_state == "open":
                deadline += f" ({c.hours_left:.0f} h left)"
        rows.append({"camera_id": c.camera_id, "name": c.name, "source": c.source,
                     "integration": c.integration, "distance_m": round(c.distance_m),
                     "in_view": {True: "yes", False: "no", None: "unknown"}[c.in_view],
                     "status": canvass.STATUS_TEXT[c.status],
                     "covered": f"{c.covered_s:.0f}/{c.window_s:.0f} s",
                     "moment_at": " ".join(at), "clips": len(c.clips),
                     "activity": "" if level is None else f"{level:.1f}% {mode}",
                     "deadline": deadline, "outcome": c.outcome or ""})
    return rows


def window_options(fn):
    """``--radius/--before/--after`` as canvass takes them."""
    fn = click.option("--after", default="15m", show_default=True,
                      help="Window after the moment.")(fn)
    fn = click.option("--before", default="30m", show_default=True,
                      help="Window before the moment.")(fn)
    return click.option("--radius", default="250m", show_default=True,
                        help="Search radius (m, km).")(fn)


def parse_window(radius, before, after) -> dict:
    return {"radius_m": parse_opt(geo.parse_distance, radius, "--radius"),
            "before_s": parse_opt(parse_duration, before, "--before"),
            "after_s": parse_opt(parse_duration, after, "--after")}


def canvass_for(cat, incident_id, radius, before, after, record=False, **kwargs):
    """The canvass of a catalogued incident with the window options, computed once."""
    return canvass.canvass(cat, incident_id, record=record,
                           **parse_window(radius, before, after), **kwargs)


@cli.command(name="canvass")
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


@cli.command(name="outcome")
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


@cli.command(name="review")
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
def progress_bar(length, label, quiet=False):
    return click.progressbar(length=length, label=label, file=sys.stderr,
                             hidden=quiet or not sys.stderr.isatty())


@cli.command(name="scan")
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


@cli.command(name="frame")
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


@cli.command(name="contact-sheet")
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


@cli.command(name="extract")
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


@cli.command(name="verify")
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


@cli.command(name="report")
@db_option
@click.argument("incident_id")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="HTML file.")
@click.option("--tiles", "tiles_url", metavar="URL",
              help="Basemap tile server template, e.g. https://tiles.example.gov/{z}/{x}/{y}.png"
                   " (tiles are embedded; none by default, the page stays offline).")
@window_options
def report_cmd(cat, incident_id, out, tiles_url, radius, before, after):
    """Write the one-page incident report (self-contained HTML: map, timeline, frames, requests).

    \b
    Example:
        videx report HPD-23-004120 --out HPD-23-004120.html
    """
    from videx import incident_report
    if tiles_url and not all(k in tiles_url for k in ("{z}", "{x}", "{y}")):
        raise click.BadParameter("the template needs {z}, {x} and {y}", param_hint="--tiles")
    result = canvass_for(cat, incident_id, radius, before, after)
    path, notes = incident_report.write(cat, result, out, tiles_url)
    click.echo(f"wrote {path}")
    for note in notes:
        warn(note)


# ---------------------------------------------------------------- study
@cli.group(name="study", cls=VidexGroup)
def study_group():
    """The video-impact study: clearance with and without relevant video."""


@study_group.command(name="dataset")
@db_option
@click.option("--exposure", type=click.Choice(["probative", "obtained", "coverage", "nearby"]),
              default="probative", show_default=True, help="What counts as relevant video.")
@click.option("--radius", default="250m", show_default=True,
              help="Radius for coverage and nearby (m, km, ft).")
@click.option("--source", type=click.Choice(cameras.SOURCES),
              help="nearby: only cameras of this source.")
@click.option("--integration", type=click.Choice(cameras.INTEGRATIONS),
              help="nearby: only cameras of this integration.")
@click.option("--in-view", is_flag=True, help="nearby: only cameras whose view holds the place.")
@click.option("--active", is_flag=True,
              help="nearby: only cameras active on the incident's date (when known).")
@click.option("--carry", multiple=True, metavar="COLUMN",
              help="Copy an imported incident column into the table (repeatable).")
@click.option("--count-exceptional", is_flag=True,
              help="Count exceptional clearances as cleared (default: arrests only).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="CSV to write.")
def study_dataset(cat, exposure, radius, source, integration, in_view, active, carry,
                  count_exceptional, out):
    """Write the study's case table (one row per incident) from the catalog.

    \b
    Example:
        videx study dataset --exposure probative --out cases.csv
        videx study dataset --exposure nearby --radius 50m --source city --out cases.csv
        videx study run --cases cases.csv --exposure video=yes --covariate category
    """
    from videx.study.dataset import NearbyRule, write_dataset
    if exposure != "nearby" and (source or integration or in_view or active):
        raise click.UsageError("--source, --integration, --in-view and --active go with "
                               "--exposure nearby")
    counts = write_dataset(cat, out, exposure,
                           parse_opt(geo.parse_distance, radius, "--radius"), count_exceptional,
                           NearbyRule(source, integration, in_view, active), tuple(carry))
    click.echo(f"{counts['out']}: {counts['cases']} cases, {counts['exposed']} with video "
               f"({exposure}), {counts['cleared']} cleared")
    warn(counts["audit_note"])


@study_group.command(name="run")
@click.option("--spec", "spec_path", type=click.Path(exists=True, dir_okay=False),
              help="TOML study spec; options below override it.")
@click.option("--cases", type=click.Path(dir_okay=False), help="Case table (CSV).")
@click.option("--encoding", help="Case table encoding when not UTF-8/UTF-16 (e.g. cp1252).")
@click.option("--delimiter", help="Case table delimiter: , ; or tab (default: sniffed).")
@click.option("--outcome", multiple=True,
              help="COLUMN=VALUES meaning cleared: a,b or a JSON list [\"Closed, arrest\"] or "
                   "re:REGEX (repeatable for more values).")
@click.option("--outcome-no", help="VALUES meaning not cleared; any other value is an error.")
@click.option("--missing-outcome", type=click.Choice(["drop", "no"]),
              help="Blank outcome: leave the row out (drop, default) or read it as no.")
@click.option("--exposure", multiple=True,
              help="COLUMN=VALUES meaning relevant video (as --outcome).")
@click.option("--exposure-no", help="VALUES meaning no video; any other value is an error.")
@click.option("--missing-exposure", type=click.Choice(["drop", "no"]),
              help="Blank exposure: leave the row out (drop, default) or read it as no.")
@click.option("--exposure-label", help="How to call the exposure in the report (default "
                                       "'relevant video', e.g. 'a camera within 50 m').")
@click.option("--covariate", "covariates", multiple=True, help="Adjust for COLUMN (repeatable).")
@click.option("--categorical", multiple=True, help="Treat covariate COLUMN as categorical.")
@click.option("--numeric", multiple=True, help="Treat covariate COLUMN as numeric.")
@click.option("--numeric-leading", multiple=True,
              help="Covariate COLUMN is the number at the start of each cell ('26, pic').")
@click.option("--cluster", help="Cluster-robust errors by COLUMN (e.g. neighborhood).")
@click.option("--where", multiple=True, help="Keep rows where COLUMN=VALUES (repeatable).")
@click.option("--exclude", multiple=True, help="Drop rows where COLUMN=VALUES (repeatable).")
@click.option("--stratify", multiple=True, help="Mantel-Haenszel strata COLUMN (repeatable).")
@click.option("--subgroup", "subgroups", multiple=True, help="Crude RR per level of COLUMN.")
@click.option("--occurred", help="COLUMN with the incident date (time to clearance).")
@click.option("--cleared-at", help="COLUMN with the clearance date.")
@click.option("--censor-date", help="Open cases are censored at this DATE (YYYY-MM-DD).")
@click.option("--exposure-time", help="COLUMN with when the video was obtained.")
@click.option("--trim", type=float, help="IPW: keep propensities inside TRIM..1-TRIM.")
@click.option("--alpha", type=float, help="1 - confidence level (default 0.05: 95%).")
@click.option("--bootstrap", type=click.IntRange(0, 100_000), help="Bootstrap resamples.")
@click.option("--seed", type=int, help="Bootstrap seed.")
@click.option("--propensity-link", type=click.Choice(["logit", "probit"]))
@click.option("--title", help="Report title.")
@click.option("--out", default="study-out", show_default=True,
              type=click.Path(file_okay=False), help="Folder for results and report.")
@format_option("table", "json")
def study_run(spec_path, out, fmt, **options):
    """Run the study: crude, adjusted, stratified, weighted, survival and sensitivity.

    \b
    Example:
        videx study run --spec fixtures/study/study.toml --out study-out
        videx study run --cases cases.csv --outcome cleared=yes --exposure video=yes \\
            --covariate category --cluster neighborhood --out study-out
        videx study run --cases list.csv --outcome 'status=["Closed, arrest"]' \\
            --exposure camera=Y --missing-exposure no --numeric-leading age --covariate age
    """
    from videx.study.spec import build_spec, load_spec  # no pandas: bad specs fail fast
    overrides = {k: v for k, v in options.items() if v not in (None, ())}
    for key in ("outcome", "exposure"):
        if key in overrides:
            value = list(overrides[key])
            overrides[key] = value[0] if len(value) == 1 else value
    spec = load_spec(spec_path, overrides) if spec_path else build_spec({}, overrides)
    from videx.study.run import run_study
    result = run_study(spec)
    from videx.study.report import write_report  # matplotlib: only once there are results
    paths = write_report(result, out)
    if fmt == "json":
        click.echo(output.to_json(result.to_dict()))
        for line in result.value_map_lines():      # the summary shows these; JSON users too
            click.echo(line, err=True)
    else:
        click.echo(result.summary())
    click.echo(f"wrote {', '.join(str(p) for p in paths.values())}", err=True)


# ---------------------------------------------------------------- audit
@cli.group(name="audit", cls=VidexGroup)
def audit_group():
    """The hash-chained audit log."""


@audit_group.command(name="verify")
@db_option
@click.option("--deep", is_flag=True,
              help="Also recompute every camera, incident, clip, outcome and review's hash.")
@click.option("--against", type=click.Path(exists=True, dir_okay=False),
              help="A checkpoint file (videx audit checkpoint): prove the log still holds it.")
@format_option("table", "json")
def audit_verify(cat, deep, against, fmt):
    """Check the audit log (and with --deep every row); exit 1 naming what is wrong.

    \b
    Example:
        videx audit verify
        videx audit verify --deep --against /evidence/checkpoints/2026-11-22.json
    """
    total = cat.hashed_row_count() if deep else 0
    with progress_bar(total, "verifying rows", fmt == "json" or not deep) as bar:
        check = audit.verify(cat, deep=deep, against=against, progress=bar.update)
    if fmt == "json":
        click.echo(output.to_json(check.to_dict()))
    else:
        for problem in check.row_problems:
            click.echo(f"ROW {problem}")
        click.echo(check.summary())
        for note in check.notes:
            warn(note)
    if not check.ok:
        sys.exit(1)


@audit_group.command(name="checkpoint")
@db_option
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="File to write (keep it outside the catalog: a case file, a printout).")
def audit_checkpoint(cat, out):
    """Write the head of the audit chain to a file, for verify --against later.

    \b
    Example:
        videx audit checkpoint --out /evidence/checkpoints/2026-11-22.json
    """
    doc = audit.checkpoint(cat, out)
    click.echo(f"{out}: entry {doc['entry']} of {doc['entries']}, hash {doc['hash']}")


@audit_group.command(name="key")
@db_option
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="New key file (keep it outside the catalog, readable by videx users only).")
def audit_key(cat, out):
    """Key the audit chain (HMAC) so it cannot be recomputed without the key file.

    From now on every change needs the key: set VIDEX_AUDIT_KEY to the file's path.

    \b
    Example:
        videx audit key --out /secure/videx-audit.key
        export VIDEX_AUDIT_KEY=/secure/videx-audit.key
    """
    key = audit.enable_key(cat, out)
    click.echo(f"audit chain keyed with {key.key_id}; key written to {out}. Set "
               f"{audit.KEY_ENV}={out} for every videx command that changes this catalog.")


@audit_group.command(name="list")
@db_option
@click.option("--limit", type=int, default=50, show_default=True, help="Newest N entries.")
@format_option("table", "csv", "json")
def audit_list(cat, limit, fmt):
    """Show the newest audit entries.

    \b
    Example:
        videx audit list --limit 20
    """
    echo_rows(cat.auditlog.entries(limit), fmt,
              ["id", "at", "user", "acting_as", "command", "case_no", "args"])


# ---------------------------------------------------------------- db
@cli.group(name="db", cls=VidexGroup)
def db_group():
    """Move a catalog between SQLite and PostgreSQL."""


@db_group.command(name="copy")
@click.argument("source")
@click.argument("destination")
@format_option("table", "json")
def db_copy(source, destination, fmt):
    """Copy the catalog SOURCE to a new catalog DESTINATION and verify the copy.

    Either may be a SQLite file or a postgresql:// URL. The source's audit log must verify;
    the destination must be a new file or an empty database. Every table is copied with its
    ids in one transaction, then checked row for row, and the copy's audit log is verified
    deep. Exit 1 if any check fails.

    \b
    Example:
        videx db copy videx.db postgresql://videx@db.example/videx
        videx db copy postgresql://videx@db.example/videx backup-2026-12-01.db
    """
    from videx.store.transfer import copy_catalog
    report = copy_catalog(source, destination)
    if fmt == "json":
        click.echo(output.to_json(report.to_dict()))
    else:
        for table, n in report.tables.items():
            click.echo(f"{table:18} {n:>10}")
        click.echo(report.summary())
    if not report.ok:
        sys.exit(1)


# ---------------------------------------------------------------- users and the web server
@cli.group(name="users", cls=VidexGroup)
def users_group():
    """People who sign in to videx serve, and their roles."""


@users_group.command(name="add")
@db_option
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["detective", "analyst", "admin"]),
              help="detective: cases and evidence; analyst: also the study; admin: also "
                   "users, imports and the audit log.")
@click.option("--password-stdin", is_flag=True, required=True,
              help="Read the password from standard input (never from the command line).")
@click.option("--replace", is_flag=True, help="Set a new role and password for an existing user.")
def users_add(cat, name, role, password_stdin, replace):
    """Add a user who can sign in to videx serve.

    \b
    Example:
        printf '%s' "$PASSWORD" | videx users add jdoe --role detective --password-stdin
    """
    from videx import users
    password = sys.stdin.read().rstrip("\r\n")
    users.add_user(cat, name, role, password, replace=replace)
    click.echo(f"user {name} ({role}) added" if not replace else f"user {name} ({role}) set")


@users_group.command(name="list")
@db_option
@format_option("table", "csv", "json")
def users_list(cat, fmt):
    """List users (never their password hashes).

    \b
    Example:
        videx users list
    """
    from videx import users
    echo_rows(users.list_users(cat), fmt, ["name", "role", "created_at", "disabled"])


@users_group.command(name="disable")
@db_option
@click.argument("name")
def users_disable(cat, name):
    """Stop a user from signing in (their history stays).

    \b
    Example:
        videx users disable jdoe
    """
    from videx import users
    users.disable_user(cat, name)
    click.echo(f"user {name} can no longer sign in")


@cli.command(name="serve")
@click.option("--db", "db_path", envvar="VIDEX_DB", default=None,
              help="Catalog: a SQLite file or a postgresql:// URL (default $VIDEX_DB).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (keep 127.0.0.1 behind a TLS proxy).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--tiles", "tiles_url", metavar="URL",
              help="Department tile server for maps ({z}/{x}/{y}); maps work without it.")
@click.option("--https-cookies", is_flag=True,
              help="Mark the session cookie Secure (when served over HTTPS).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Server processes (about one per core).")
def serve_cmd(db_path, host, port, tiles_url, https_cookies, workers):
    """Run the web interface for detectives, analysts and admins.

    Sign-in with users from videx users add. Sessions are signed with VIDEX_SERVER_SECRET
    (set it so sessions survive a restart; otherwise a random one per start).

    \b
    Example:
        videx serve --db postgresql://videx@db.example.org/videx --host 127.0.0.1 --port 8000
    """
    from videx import web
    try:
        click.echo(f"videx serving {catalog.resolve_path(db_path)} at http://{host}:{port}/",
                   err=True)
        web.serve(catalog.resolve_path(db_path), host, port, tiles_url, https_cookies, workers)
    except VidexError as err:
        raise click.ClickException(str(err)) from err
