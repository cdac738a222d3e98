#!/usr/bin/env python3
"""Write docs/commands.md from the CLI's own --help texts (tests/test_docs.py checks it)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from click.testing import CliRunner

from videx.cli import cli

INTRO = """# Commands

Generated from `videx ... --help` by `scripts/make_command_docs.py`; do not edit by hand.

Every command takes `--db PATH` (default `$VIDEX_DB`, else `./videx.db`). Listings take
`--format table|csv|json` and, where rows have coordinates, `geojson`. Machine output goes to
stdout; progress bars, warnings and `Error:` lines go to stderr. Set `VIDEX_DEBUG=1` to see a
Python traceback instead of a one-line error.

Exit codes: `0` done; `1` failed (nothing changed, or a check failed); `2` bad usage or option
value; `3` done in part (some rows or files were refused and listed); `videx verify`: `4` a
file was altered, `5` a file is missing, `6` an unexpected file is present.
"""


def walk(group: click.Group, prefix: list[str]):
    for name in sorted(group.list_commands(None)):
        cmd = group.get_command(None, name)
        path = prefix + [name]
        if isinstance(cmd, click.Group):
            yield from walk(cmd, path)
        else:
            yield path


def render() -> str:
    runner = CliRunner()
    parts = [INTRO]
    for path in walk(cli, []):
        out = runner.invoke(cli, path + ["--help"], prog_name="videx", terminal_width=100).output
        parts.append(f"## videx {' '.join(path)}\n\n```\n{out.rstrip()}\n```\n")
    return "\n".join(parts)


def main():
    target = Path(__file__).resolve().parent.parent / "docs" / "commands.md"
    target.write_text(render())
    print(f"wrote {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
