"""``videx settings``: the department's name, contact and the wording of letters."""

from __future__ import annotations

import click

from videx import output
from videx.commands.common import VidexGroup, db_option, format_option


@click.group(name="settings", cls=VidexGroup)
def settings_group():
    """The department's name, contact and letter wording, and the upload limits."""


@settings_group.command(name="show")
@db_option
@format_option("table", "json")
def settings_show(cat, fmt):
    """Show every department setting (and those videx init sets) with its value.

    \b
    Example:
        videx settings show
    """
    from videx import settings
    rows = settings.show(cat)
    if fmt == "json":
        click.echo(output.to_json(rows))
    else:
        click.echo(output.to_table(rows, ["key", "value", "default", "help"], max_width=60))


@settings_group.command(name="set")
@db_option
@click.argument("key")
@click.argument("value")
def settings_set(cat, key, value):
    """Set a department setting (see videx settings show for the keys).

    \b
    Example:
        videx settings set department_name "Hartford Police Department"
        videx settings set department_email videorequests@example.org
        videx settings set letter_reason "Officers are investigating a shooting nearby."
    """
    from videx import settings
    settings.set_settings(cat, {key: settings.parse_value(key, value)})
    click.echo(f"{key} set")


@settings_group.command(name="unset")
@db_option
@click.argument("key")
def settings_unset(cat, key):
    """Return a department setting to its default.

    \b
    Example:
        videx settings unset letter_closing
    """
    from videx import settings
    settings.unset(cat, key)
    click.echo(f"{key}: back to its default")
