"""Every command has help with an example, and docs/ is current."""

import importlib.util
from pathlib import Path

import click

from videx.cli import cli

ROOT = Path(__file__).resolve().parent.parent


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def all_commands(group=cli, prefix=()):
    for name in group.list_commands(None):
        cmd = group.get_command(None, name)
        if isinstance(cmd, click.Group):
            yield from all_commands(cmd, prefix + (name,))
        else:
            yield prefix + (name,), cmd


def test_every_command_has_a_summary_and_an_example():
    for path, cmd in all_commands():
        assert cmd.help and cmd.help.strip().splitlines()[0], path
        assert "Example:" in cmd.help, f"videx {' '.join(path)} has no Example: block"


def test_command_docs_are_current():
    generated = load_script("make_command_docs").render()
    on_disk = (ROOT / "docs" / "commands.md").read_text()
    assert on_disk == generated, "docs/commands.md is stale: run scripts/make_command_docs.py"
    for path, _ in all_commands():
        assert f"## videx {' '.join(path)}" in on_disk


def test_readme_names_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "scripts/demo" in readme and "scripts/test" in readme
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text()


def test_fixture_tables_are_reproducible(tmp_path):
    import subprocess
    import sys
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_fixtures.py"), "--out",
                    str(tmp_path), "--no-clips"], check=True, capture_output=True)
    for name in ("cameras.csv", "cameras-registered.geojson", "incidents.csv",
                 "real/opendata-cameras.csv", "real/homicides-cp1252.csv",
                 "real/rms-semicolon.csv"):
        assert (tmp_path / name).read_bytes() == (ROOT / "fixtures" / name).read_bytes(), name


def test_python_dash_m_videx_runs():
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "videx", "--version"], capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip().startswith("videx, version ")


HEAVY = ("pandas", "numpy", "cv2", "statsmodels", "matplotlib", "ffmpeg", "scipy", "av")


def test_read_commands_load_no_heavy_module(ingested, tmp_path):
    """Start-up time: the command line and read commands never import the heavy libraries."""
    import subprocess
    import sys
    code = ("import sys\nfrom videx.cli import cli\n"
            "for args in (['canvass', 'HPD-23-004120'], ['clips', 'list'], ['incidents', "
            "'list'], ['canvass', '--all', '--summary', '--format', 'csv'],"
            " ['study', 'dataset', '--exposure', 'nearby', '--out', 'c.csv']):\n"
            "    try:\n        cli.main(args, standalone_mode=False)\n"
            "    except SystemExit:\n        pass\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout[-400:]
