"""Web Mercator map geometry, and street tiles from a department's own tile server.

The incident report draws its map in Web Mercator pixels, so a basemap lines up with cameras
and view wedges. Tiles are fetched once, when the report is written, from the URL template
given (``https://tiles.example.gov/{z}/{x}/{y}.png``), and embedded in the page: the report
stays one self-contained file that opens offline. Without a template there is no basemap
and nothing is fetched.
"""

from __future__ import annotations

import math
import urllib.error
import urllib.request
from dataclasses import dataclass

TILE_PX = 256
EARTH_CIRCUMFERENCE_M = 40_075_016.686
MAX_TILES = 36
FETCH_TIMEOUT_S = 10.0


def world_px(lat: float, lon: float, zoom: float) -> tuple[float, float]:
    """Web Mercator pixel coordinates of a point at ``zoom`` (256-pixel tiles)."""
    n = TILE_PX * 2 ** zoom
    lat = max(min(lat, 85.05112878), -85.05112878)
    x = (lon + 180.0) / 360.0 * n
    s = math.sin(math.radians(lat))
    y = (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * n
    return x, y


def metres_per_px(lat: float, zoom: float) -> float:
    return EARTH_CIRCUMFERENCE_M * math.cos(math.radians(lat)) / (TILE_PX * 2 ** zoom)


@dataclass(frozen=True)
class View:
    """A square map ``size`` pixels wide centred on (lat, lon), ``radius_m`` fitting inside."""

    lat: float
    lon: float
    radius_m: float
    size: int = 520
    margin: int = 24

    @property
    def zoom(self) -> float:
        """The (fractional) zoom at which the radius spans half the map less the margin."""
        want = self.radius_m / (self.size / 2 - self.margin)   # metres per pixel
        return math.log2(EARTH_CIRCUMFERENCE_M * math.cos(math.radians(self.lat))
                         / (TILE_PX * want))

    def xy(self, lat: float, lon: float) -> tuple[float, float]:
        """Map pixel of a point (the centre at size/2, north up)."""
        cx, cy = world_px(self.lat, self.lon, self.zoom)
        x, y = world_px(lat, lon, self.zoom)
        return self.size / 2 + x - cx, self.size / 2 + y - cy

    def px_per_m(self) -> float:
        return 1.0 / metres_per_px(self.lat, self.zoom)


@dataclass(frozen=True)
class Tile:
    """One basemap tile placed on the map: left, top, side (map pixels) and its image."""

    x: float
    y: float
    side: float
    png: bytes
    content_type: str


def tiles(view: View, template: str) -> tuple[list[Tile], str | None]:
    """The tiles covering the map from ``template`` ({z}, {x}, {y}); (tiles, a note when some
    could not be fetched). Never raises for the network: a report is written without a
    basemap rather than not at all."""
    z = max(0, min(19, math.ceil(view.zoom)))
    scale = 2 ** (view.zoom - z)          # map pixels per tile pixel
    cx, cy = world_px(view.lat, view.lon, z)
    half = view.size / 2 / scale
    x0, x1 = int((cx - half) // TILE_PX), int((cx + half) // TILE_PX)
    y0, y1 = int((cy - half) // TILE_PX), int((cy + half) // TILE_PX)
    wanted = [(tx, ty) for tx in range(x0, x1 + 1) for ty in range(y0, y1 + 1)]
    if len(wanted) > MAX_TILES:
        return [], f"basemap not drawn: {len(wanted)} tiles needed (at most {MAX_TILES})"
    out, failed = [], []
    for tx, ty in wanted:
        url = template.format(z=z, x=tx % (2 ** z), y=ty)
        try:
            with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_S) as resp:
                body = resp.read()
                kind = resp.headers.get_content_type() or "image/png"
        except (urllib.error.URLError, OSError, ValueError) as err:
            failed.append(f"{url} ({getattr(err, 'reason', err)})")
            continue
        out.append(Tile(view.size / 2 + (tx * TILE_PX - cx) * scale,
                        view.size / 2 + (ty * TILE_PX - cy) * scale, TILE_PX * scale, body,
                        kind if kind.startswith("image/") else "image/png"))
    note = None
    if failed:
        note = f"{len(failed)} of {len(wanted)} basemap tile(s) could not be fetched: {failed[0]}"
    return out, note
