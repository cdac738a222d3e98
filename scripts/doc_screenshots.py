#!/usr/bin/env python3
"""Remake the screenshots in docs/img from the browser tests.

Runs tests/test_browser.py with VIDEX_SCREENSHOTS pointing at a scratch folder (Debian's
Chromium at 390x844 and 1366x900, as the tests drive it), then keeps the pictures the docs
show, scaled to the width they are shown at and reduced to 256 colours (a few tens of KB
each). Usage: .venv/bin/python scripts/doc_screenshots.py [--from FOLDER]
(``--from``: the pictures a run with VIDEX_SCREENSHOTS=FOLDER already took).
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
KEPT = {  # picture -> width shown in the docs (pixels)
    "incident-now-phone": 390, "request-phone": 390, "clip-phone": 390, "upload-phone": 390,
    "upload-done-phone": 390, "incident-desktop": 900, "sync-desktop": 900,
}
ALIASES = {"incident": "incident-desktop"}        # docs/quickstart.md's picture


def keep(scratch: Path) -> None:
    """Scale and reduce the kept pictures from ``scratch`` into docs/img."""
    for name, width in {**KEPT, **{a: KEPT[n] for a, n in ALIASES.items()}}.items():
        image = Image.open(scratch / f"{ALIASES.get(name, name)}.png").convert("RGB")
        height = round(image.height * width / image.width)
        small = image.resize((width, height), Image.LANCZOS).quantize(
            colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        out = ROOT / "docs" / "img" / f"{name}.png"
        small.save(out, optimize=True)
        print(f"{out.relative_to(ROOT)}: {out.stat().st_size // 1024} KB")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--from":     # pictures the tests already took
        keep(Path(sys.argv[2]))
        return
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "VIDEX_SCREENSHOTS": scratch}
        subprocess.run([sys.executable, "-m", "pytest", "-q", "tests/test_browser.py"],
                       cwd=ROOT, env=env, check=True)
        keep(Path(scratch))


if __name__ == "__main__":
    main()
