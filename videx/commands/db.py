"""``videx db``: moving a catalog between SQLite and PostgreSQL."""

from __future__ import annotations

import sys

import click

from videx import output
from videx.commands.common import VidexGroup, format_option


@click.group(name="db", cls=VidexGroup)
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
