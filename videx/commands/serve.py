"""``videx serve``: the web interface."""

from __future__ import annotations

import click

from videx import catalog
from videx.commands.common import parse_opt
from videx.errors import VidexError
from videx.timeutil import parse_duration


@click.command(name="serve")
@click.option("--db", "db_path", envvar="VIDEX_DB", default=None,
              help="Catalog: a SQLite file or a postgresql:// URL (default $VIDEX_DB).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (keep 127.0.0.1 behind a TLS proxy).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--basemap", metavar="FILE|FOLDER|URL",
              help="Streets under the map: a raster PMTiles file, a folder of {z}/{x}/{y}.png "
                   "tiles or a tile server URL; served by videx itself.")
@click.option("--tiles", "tiles_url", metavar="URL", hidden=True,
              help="Older name of --basemap for a tile server URL.")
@click.option("--trusted-proxy", "trusted_proxies", multiple=True, metavar="ADDR",
              help="A reverse proxy (address or network) whose X-Forwarded-For names the "
                   "client; repeatable. Without it the header is ignored.")
@click.option("--idle-timeout", default="1h", show_default=True,
              help="Sign a browser out after this long unused (30m, 2h).")
@click.option("--public-url", metavar="URL",
              help="The address camera owners' upload links use (default: the catalog's, "
                   "set with videx init --public-url).")
@click.option("--https-cookies", is_flag=True,
              help="Mark the session cookie Secure (when served over HTTPS).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Server processes (about one per core).")
def serve_cmd(db_path, host, port, basemap, tiles_url, trusted_proxies, idle_timeout,
              public_url, https_cookies, workers):
    """Run the web interface for detectives, analysts and admins.

    Sign-in with users from videx users add. Sessions are kept in the catalog, so several
    instances on one PostgreSQL catalog share them: give every instance the same
    VIDEX_SERVER_SECRET (cookies are signed with it; otherwise a random one per start).

    \b
    Example:
        videx serve --db postgresql://videx@db.example.org/videx --host 127.0.0.1 --port 8000
        videx serve --basemap /srv/maps/city.pmtiles --trusted-proxy 127.0.0.1
    """
    from videx import web
    idle_s = parse_opt(parse_duration, idle_timeout, "--idle-timeout")
    if not 60 <= idle_s <= 7 * 86400:
        raise click.BadParameter("give between 1m and 7d", param_hint="--idle-timeout")
    import ipaddress
    for item in trusted_proxies:
        parse_opt(lambda v: ipaddress.ip_network(v.strip(), strict=False), item,
                  "--trusted-proxy")
    if basemap or tiles_url:
        from videx.basemap import open_tiles
        parse_opt(open_tiles, basemap or tiles_url, "--basemap")
    location = catalog.resolve_path(db_path)
    try:
        click.echo(f"videx serving {location} at http://{host}:{port}/", err=True)
        web.serve(location, host, port, workers, basemap=basemap or tiles_url,
                  trusted_proxies=tuple(trusted_proxies), idle_timeout_s=idle_s,
                  public_url=public_url, https_cookies=https_cookies)
    except VidexError as err:
        raise click.ClickException(str(err)) from err
