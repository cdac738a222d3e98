"""``videx audit``: the hash-chained audit log."""

from __future__ import annotations

import sys

import click

from videx import audit, output
from videx.commands.common import (
    VidexGroup,
    db_option,
    echo_rows,
    format_option,
    progress_bar,
    warn,
)


@click.group(name="audit", cls=VidexGroup)
def audit_group():
    """The hash-chained audit log."""


@audit_group.command(name="verify")
@db_option
@click.option("--deep", is_flag=True,
              help="Also recompute every camera, incident, clip, outcome and review's hash.")
@click.option("--against", type=click.Path(exists=True, dir_okay=False),
              help="A checkpoint file (videx audit checkpoint): prove the log still holds it.")
@click.option("--accept-unverifiable", is_flag=True,
              help="Pass although entries sealed with a key that was not given could not be "
                   "checked (they are counted in a warning).")
@format_option("table", "json")
def audit_verify(cat, deep, against, accept_unverifiable, fmt):
    """Check the audit log (and with --deep every protected row); exit 1 naming what is wrong.

    A keyed chain is checked with the key in VIDEX_AUDIT_KEY; without it its sealed entries
    cannot be checked, which fails the check unless --accept-unverifiable.

    \b
    Example:
        videx audit verify
        videx audit verify --deep --against /evidence/checkpoints/2026-11-22.json
    """
    total = cat.hashed_row_count() if deep else 0
    with progress_bar(total, "verifying rows", fmt == "json" or not deep) as bar:
        check = audit.verify(cat, deep=deep, against=against, progress=bar.update,
                             accept_unverifiable=accept_unverifiable)
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

    From now on every change needs the key, and so does a full check: set VIDEX_AUDIT_KEY
    to the file's path.

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
