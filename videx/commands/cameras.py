"""``videx cameras``: the camera registry (import, list, show)."""

from __future__ import annotations

import click

from videx import cameras, geo
from videx.commands.common import (
    VidexGroup,
    db_option,
    echo_rows,
    expand_extra,
    format_option,
    import_options,
    parse_opt,
    read_options,
    report_import,
    show_record,
)


@click.group(name="cameras", cls=VidexGroup)
def cameras_group():
    """The camera registry: city and private cameras."""


CAMERA_COLUMNS = ["id", "name", "source", "integration", "kind", "lat", "lon", "heading_deg",
                  "fov_deg", "range_m", "retention_days", "clock_offset_s", "neighborhood"]


@cameras_group.command(name="import")
@db_option
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--allow-duplicates", is_flag=True,
              help="Keep a camera within 5 m of another of the same source and kind under "
                   "another id (refused by default as a likely duplicate).")
@import_options
def cameras_import(cat, file, allow_duplicates, maps, sets, defaults, encoding, delimiter,
                   date_format, skip_bad, update, dry_run, errors_out, fmt):
    """Import cameras from CSV or GeoJSON; change existing ones only with --update.

    A row whose id exists and whose fields differ is refused and named unless --update;
    --dry-run shows what would be added, changed and refused. Ends with added / changed /
    unchanged / refused.

    \b
    Example:
        videx cameras import fixtures/cameras.csv
        videx cameras import private.geojson --skip-bad
        videx cameras import registry-2024.csv --dry-run
        videx cameras import registry-2024.csv --update
        videx cameras import opendata.csv --map id=ID --map name=CameraName \\
            --map point=the_geom --set source=city --set integration=connected
    """
    report_import(cameras.import_cameras(
        cat, file, skip_bad=skip_bad, options=read_options(
            maps, sets, defaults, encoding, delimiter, date_format),
        update=update, dry_run=dry_run, allow_duplicates=allow_duplicates), fmt, errors_out)


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
