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
@click.option("--public-url", metavar="URL",
              help="Address owners reach videx serve at; upload links are URL/u/TOKEN.")
@click.option("--smtp", "smtp_url", metavar="URL",
              help="SMTP server for letters: smtp://user@host:587 (STARTTLS) or smtps://host; "
                   "the password only in $VIDEX_SMTP_PASSWORD.")
@click.option("--evidence-store", type=click.Path(file_okay=False), metavar="DIR",
              help="Folder for files received through upload links (default for a SQLite "
                   "catalog: NAME-evidence/ beside it; required for PostgreSQL).")
@click.option("--link-key", is_flag=True,
              help="Create the upload-link secret ($VIDEX_LINK_KEY, else "
                   "~/.config/videx/link.key) if missing, and use it for this catalog.")
@click.pass_context
def init(ctx, db_path, bounds, tz, public_url, smtp_url, evidence_store, link_key):
    """Create a catalog, or change its settings (city bounds, zone, upload links, e-mail).

    \b
    Example:
        videx init --bounds 41.72,-72.72,41.81,-72.64 --tz America/New_York
        videx init --public-url https://videx.example.org --link-key \\
            --smtp smtp://videx@mail.example.org:587
    """
    from videx import settings
    b = parse_opt(geo.parse_bounds, bounds, "--bounds")
    z = parse_opt(get_zone, tz, "--tz")
    cat = open_for(ctx, db_path, create=True)
    done = settings.configure(cat, bounds=b, zone=z.key if z else None, public_url=public_url,
                              smtp_url=smtp_url, evidence_store=evidence_store,
                              link_key=link_key)
    click.echo(f"catalog {cat.location}: migrations {', '.join(cat.migrations())}; bounds "
               f"{cat.bounds or 'not set'}; zone {cat.zone_name or 'not set (times shown in UTC)'}")
    for key in ("public_url", "smtp_url", "evidence_store"):
        if key in done.changed:
            click.echo(f"{key.replace('_', ' ')}: {done.changed[key]}")
    if done.link_key_path:
        click.echo(f"upload-link secret: {done.link_key_path} "
                   f"({'created' if done.link_key_created else 'existing'}; keep it outside "
                   "the catalog and its backups)")
