"""The videx command line: parse options, call one library function, render the result.

The root group loads each command's module only when that command runs (Click's lazy-group
pattern): ``videx --version`` imports Click and nothing of videx's, ``videx canvass ID`` only
what a canvass needs. The commands live in ``videx.commands`` (one module per area); options
they share are in ``videx.commands.common``.

Exit codes: 0 done; 1 failed (nothing changed, or a check failed); 2 bad usage or option value;
3 done in part (some rows or files were refused: see the listed reasons); verify: 4 altered,
5 missing, 6 unexpected files.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from videx import __version__

EXIT_PARTIAL = 3

# command name -> "module:object"; loaded on first use
COMMANDS = {
    "init": "videx.commands.init:init",
    "cameras": "videx.commands.cameras:cameras_group",
    "incidents": "videx.commands.incidents:incidents_group",
    "ingest": "videx.commands.clips:ingest_cmd",
    "clips": "videx.commands.clips:clips_group",
    "rejects": "videx.commands.clips:rejects_group",
    "canvass": "videx.commands.canvass:canvass_cmd",
    "outcome": "videx.commands.record:outcome_cmd",
    "review": "videx.commands.record:review_cmd",
    "bookmark": "videx.commands.record:bookmark_cmd",
    "scan": "videx.commands.video:scan_cmd",
    "frame": "videx.commands.video:frame_cmd",
    "contact-sheet": "videx.commands.video:contact_sheet_cmd",
    "extract": "videx.commands.evidence:extract_cmd",
    "verify": "videx.commands.evidence:verify_cmd",
    "keys": "videx.commands.keys:keys_group",
    "report": "videx.commands.evidence:report_cmd",
    "study": "videx.commands.study:study_group",
    "audit": "videx.commands.audit:audit_group",
    "db": "videx.commands.db:db_group",
    "users": "videx.commands.users:users_group",
    "serve": "videx.commands.serve:serve_cmd",
    "requests": "videx.commands.requests:requests_group",
    "settings": "videx.commands.settings:settings_group",
}


def option_hint(err) -> str | None:
    """``--name`` of the option an ``OptionError`` names, for click.BadParameter."""
    return f"--{err.option.replace('_', '-')}" if err.option else None


class VidexGroup(click.Group):
    """A group whose commands turn library errors into one ``Error:`` line: exit 2 for a bad
    option value, exit 1 for a failed operation."""

    def invoke(self, ctx):
        from videx.errors import OptionError, VidexError
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
        except Exception as err:
            line = _one_line(err)
            if line is None:
                raise
            raise line from err


def _one_line(err: Exception) -> click.ClickException | None:
    """A full disk, a locked or damaged catalog, a PostgreSQL server error as one line; None
    for anything else (a bug: its traceback is shown) and under ``VIDEX_DEBUG``."""
    if os.environ.get("VIDEX_DEBUG"):
        return None
    sqlite3 = sys.modules.get("sqlite3")
    if isinstance(err, OSError) or (sqlite3 is not None and isinstance(err, sqlite3.Error)):
        where = f" ({err.filename})" if getattr(err, "filename", None) else ""
        return click.ClickException(f"{err.__class__.__name__}{where}: {err}")
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None and isinstance(err, psycopg.Error):
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        return click.ClickException(f"database error ({err.__class__.__name__}): {first}")
    return None


class LazyGroup(VidexGroup):
    """The root group: subcommands named in ``COMMANDS`` are imported when first asked for
    (Click's documented lazy-loading pattern)."""

    def __init__(self, *args, lazy: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx, name):
        if name in self.lazy and name not in self.commands:
            module, attr = self.lazy[name].split(":")
            self.add_command(getattr(importlib.import_module(module), attr), name)
        return super().get_command(ctx, name)

    @property
    def all_commands(self) -> dict[str, click.Command]:
        """Every subcommand, loaded (for the docs and their test)."""
        return {name: self.get_command(None, name) for name in self.list_commands(None)}


@click.group(cls=LazyGroup, lazy=COMMANDS)
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
