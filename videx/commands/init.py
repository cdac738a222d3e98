"""``videx init``: create a catalog or change its settings."""

from __future__ import annotations

import click

from videx import catalog, geo
from videx.commands.common import open_for, parse_opt
from videx.timeutil import get_zone


@click.command()
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
