"""``videx serve``: the web interface."""

from __future__ import annotations

import click

from videx import catalog
from videx.errors import VidexError


@click.command(name="serve")
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
