"""What the commands share: the catalog option, output formats, option parsing, the canvass
window, progress bars and the one-line renderings of records and import reports."""

from __future__ import annotations

import functools
import json
import sys

import click

from videx import catalog, geo, output
from videx.cli import EXIT_PARTIAL, VidexGroup
from videx.errors import VidexError
from videx.timeutil import parse_duration

__all__ = ["EXIT_PARTIAL", "VidexGroup", "db_option", "format_option", "echo_rows", "warn",
           "parse_opt", "report_import", "open_for", "progress_bar", "parse_time_opt",
           "window_options", "parse_window", "canvass_for", "show_record", "expand_extra",
           "import_options", "read_options"]


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


def report_import(report, fmt, errors_out=None):
    """Render an import: warnings, one line per refused row (or per reason, for many rows
    refused for one reason), hints, the summary (what changed or would change, then added /
    changed / unchanged / refused); every refused row to ``errors_out`` (CSV) when given.
    Exit 0, 1 (nothing imported) or 3 (imported in part), as the report says."""
    from videx.records import ErrorGroup, group_errors
    if fmt == "json":
        click.echo(output.to_json(report.to_dict()))
    for note in report.notes:
        warn(note)
    for item in group_errors(report.errors):
        click.echo(f"Error: {item.line() if isinstance(item, ErrorGroup) else item}", err=True)
    for hint in report.hints:
        click.echo(f"Hint: {hint}", err=True)
    if errors_out:
        rows = report.refused_rows()
        with open(errors_out, "w", newline="", encoding="utf-8") as fh:
            fh.write(output.to_csv(rows, ["file", "row", "column", "reason"]))
        click.echo(f"{len(rows)} refused row(s) written to {errors_out}", err=True)
    click.echo(report.summary(), err=fmt == "json")
    if report.exit_code:
        sys.exit(report.exit_code)


def progress_bar(length, label, quiet=False):
    """A progress bar on stderr, shown only on a terminal."""
    return click.progressbar(length=length, label=label, file=sys.stderr,
                             hidden=quiet or not sys.stderr.isatty())


def parse_time_opt(cat, value, hint):
    """A bound option (--from/--to): a time (ISO with offset, or local in the catalog's zone)
    or a date (the start of that local day)."""
    from videx.timeutil import read_when
    return parse_opt(lambda v: read_when(v, cat.input_zone_or_none()).start.timestamp(),
                     value, hint)


def window_options(fn):
    """``--radius/--before/--after`` as canvass takes them (defaults: ``canvass.RADIUS_M``,
    ``BEFORE_S``, ``AFTER_S``)."""
    from videx.canvass import AFTER_S, BEFORE_S, RADIUS_M
    fn = click.option("--after", default=f"{AFTER_S / 60:g}m", show_default=True,
                      help="Window after the moment.")(fn)
    fn = click.option("--before", default=f"{BEFORE_S / 60:g}m", show_default=True,
                      help="Window before the moment.")(fn)
    return click.option("--radius", default=f"{RADIUS_M:g}m", show_default=True,
                        help="Search radius (m, km).")(fn)


def parse_window(radius, before, after) -> dict:
    """The canvass window options (ranges are checked by ``canvass.check_window``)."""
    return {"radius_m": parse_opt(geo.parse_distance, radius, "--radius"),
            "before_s": parse_opt(parse_duration, before, "--before"),
            "after_s": parse_opt(parse_duration, after, "--after")}


def canvass_for(cat, incident_id, radius, before, after, record=False, **kwargs):
    """The canvass of a catalogued incident with the window options, computed once."""
    from videx import canvass
    return canvass.canvass(cat, incident_id, record=record,
                           **parse_window(radius, before, after), **kwargs)


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
                                                      "refused ones (exit 3); never implies "
                                                      "--update."),
        click.option("--update", is_flag=True,
                     help="Change existing records whose rows differ (without it such rows "
                          "are refused and named)."),
        click.option("--dry-run", is_flag=True,
                     help="Show what would be added, changed and refused; write nothing."),
        click.option("--errors-out", type=click.Path(dir_okay=False), metavar="FILE.csv",
                     help="Write every refused row (file, row, column, reason) to a CSV."),
        format_option("table", "json")]):
        fn = opt(fn)
    return fn


def read_options(maps, sets, defaults, encoding, delimiter, date_format, time_column=None):
    from videx.records import ReadOptions
    return ReadOptions(tuple(maps), tuple(sets), tuple(defaults), encoding, delimiter,
                       date_format, time_column)
