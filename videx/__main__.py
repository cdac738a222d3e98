"""Allow ``python -m videx``."""

from videx.cli import cli

if __name__ == "__main__":  # pragma: no cover
    cli(prog_name="videx")
