#!/usr/bin/env python3
"""Copy the JavaScript libraries videx serves itself from node_modules (``npm ci`` at the
versions pinned in package.json/package-lock.json) into videx/web/static/vendor, and record
their versions and SHA-256 in vendor/VENDOR.json (tests/test_web_assets.py checks both).

    npm ci && scripts/vendor_js.py
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = ROOT / "node_modules"
VENDOR = ROOT / "videx" / "web" / "static" / "vendor"
# package -> (folder in vendor/, [(file in the package, name in vendor/)])
FILES = {
    "leaflet": ("leaflet", [("dist/leaflet.js", "leaflet.js"), ("dist/leaflet.css", "leaflet.css"),
                            ("dist/images/layers.png", "images/layers.png"),
                            ("dist/images/layers-2x.png", "images/layers-2x.png"),
                            ("dist/images/marker-icon.png", "images/marker-icon.png"),
                            ("dist/images/marker-icon-2x.png", "images/marker-icon-2x.png"),
                            ("dist/images/marker-shadow.png", "images/marker-shadow.png"),
                            ("LICENSE", "LICENSE")]),
    "tus-js-client": ("tus", [("dist/tus.min.js", "tus.min.js"), ("LICENSE", "LICENSE")]),
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    record = {}
    for package, (folder, files) in FILES.items():
        meta = json.loads((MODULES / package / "package.json").read_text())
        entry = {"version": meta["version"], "files": {}}
        for src, name in files:
            dest = VENDOR / folder / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(MODULES / package / src, dest)
            entry["files"][f"{folder}/{name}"] = sha256(dest)
        record[package] = entry
    (VENDOR / "VENDOR.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    names = ', '.join(f"{p} {e['version']}" for p, e in record.items())
    print(f"vendored {names} into {VENDOR}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
