"""Web Mercator map geometry, and street tiles from a basemap the department hosts itself.

A basemap is one of (``open_tiles``):

- a PMTiles file of raster tiles (PNG, JPEG or WebP): one file, read in place;
- a folder of ``{z}/{x}/{y}.png`` (or ``.jpg``/``.webp``) tiles;
- a tile server URL template (``https://tiles.example.gov/{z}/{x}/{y}.png``).

``videx serve --basemap`` serves its tiles to the browser's map from videx itself (the page's
Content-Security-Policy stays "self": no CDN, nothing fetched by the browser from elsewhere).
The incident report draws its map in Web Mercator pixels, so a basemap lines up with cameras
and view wedges; its tiles are read once, when the report is written, and embedded: the report
stays one self-contained file that opens offline. Without a basemap nothing is fetched.
"""

from __future__ import annotations

import math
import threading
import urllib.error
import urllib.request
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from videx.errors import InputError

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


def tiles(view: View, source) -> tuple[list[Tile], str | None]:
    """The tiles covering the map from ``source`` (a ``TileSource``, or anything
    ``open_tiles`` takes); (tiles, a note when some could not be read). Never raises for the
    network: a report is written without a basemap rather than not at all."""
    if not isinstance(source, TileSource):
        source = open_tiles(source)
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
        try:
            got = source.get(z, tx % (2 ** z), ty)
        except OSError as err:
            failed.append(f"{source.describe(z, tx % (2 ** z), ty)} ({err})")
            continue
        if got is None:
            continue                              # outside the basemap: blank there
        body, kind = got
        out.append(Tile(view.size / 2 + (tx * TILE_PX - cx) * scale,
                        view.size / 2 + (ty * TILE_PX - cy) * scale, TILE_PX * scale, body,
                        kind))
    note = None
    if failed:
        note = f"{len(failed)} of {len(wanted)} basemap tile(s) could not be fetched: {failed[0]}"
    return out, note


# ------------------------------------------------------------------ tile sources
IMAGE_TYPES = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"RIFF": "image/webp"}


def image_type(data: bytes) -> str | None:
    """The image type of tile bytes by their signature (None: not an image)."""
    for magic, kind in IMAGE_TYPES.items():
        if data.startswith(magic):
            return kind
    return None


class TileSource:
    """Raster tiles by (zoom, column, row), XYZ numbering as web maps use."""

    min_zoom, max_zoom = 0, 19

    def get(self, z: int, x: int, y: int) -> tuple[bytes, str] | None:
        """(image bytes, content type), or None where the basemap has no tile; OSError when
        it cannot be read."""
        raise NotImplementedError

    def describe(self, z: int, x: int, y: int) -> str:
        return f"tile {z}/{x}/{y}"

    def __str__(self) -> str:       # what the basemap is, for audit entries and notes
        return getattr(self, "template", None) or str(getattr(self, "path", None) or
                                                      getattr(self, "folder", ""))

    @staticmethod
    def valid(z: int, x: int, y: int) -> bool:
        return 0 <= z <= 24 and 0 <= x < 2 ** z and 0 <= y < 2 ** z


class UrlTiles(TileSource):
    """Tiles from a tile server (``{z}``, ``{x}``, ``{y}`` in the template), the most recent
    few hundred kept in memory."""

    def __init__(self, template: str, keep: int = 512):
        if not all(k in template for k in ("{z}", "{x}", "{y}")):
            raise InputError(f"basemap URL {template!r} needs {{z}}, {{x}} and {{y}}")
        self.template, self.keep = template, keep
        self.cache: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def describe(self, z, x, y) -> str:
        return self.template.format(z=z, x=x, y=y)

    def get(self, z, x, y):
        if not self.valid(z, x, y):
            return None
        with self.lock:
            if (z, x, y) in self.cache:
                self.cache.move_to_end((z, x, y))
                return self.cache[(z, x, y)]
        try:
            with urllib.request.urlopen(self.describe(z, x, y), timeout=FETCH_TIMEOUT_S) as r:
                body = r.read()
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return None
            raise OSError(f"HTTP {err.code}") from err
        except (urllib.error.URLError, ValueError) as err:
            raise OSError(str(getattr(err, "reason", err))) from err
        kind = image_type(body)
        got = (body, kind) if kind else None
        with self.lock:
            self.cache[(z, x, y)] = got
            while len(self.cache) > self.keep:
                self.cache.popitem(last=False)
        return got


class FolderTiles(TileSource):
    """Tiles in a folder as ``{z}/{x}/{y}.png`` (or ``.jpg``, ``.jpeg``, ``.webp``)."""

    SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def describe(self, z, x, y) -> str:
        return str(self.folder / str(z) / str(x) / f"{y}.png")

    def get(self, z, x, y):
        if not self.valid(z, x, y):
            return None
        for suffix in self.SUFFIXES:
            path = self.folder / str(int(z)) / str(int(x)) / f"{int(y)}{suffix}"
            if path.is_file():
                body = path.read_bytes()
                kind = image_type(body)
                return (body, kind) if kind else None
        return None


class PMTilesFile(TileSource):
    """Raster tiles from one PMTiles (v3) file, read in place (memory-mapped)."""

    def __init__(self, path: str | Path):
        import mmap

        from pmtiles.reader import Reader
        from pmtiles.tile import Compression, TileType
        self.path = Path(path)
        try:
            with open(self.path, "rb") as fh:
                self.mapping = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            self.reader = Reader(lambda offset, length: self.mapping[offset:offset + length])
            header = self.reader.header()
        except Exception as err:  # noqa: BLE001 - any failure to read is one line
            raise InputError(f"basemap {self.path}: not a readable PMTiles file ({err})") \
                from err
        if header["tile_type"] not in (TileType.PNG, TileType.JPEG, TileType.WEBP):
            raise InputError(f"basemap {self.path} holds {header['tile_type'].name} tiles: "
                             "videx serves raster PMTiles (PNG, JPEG or WebP); render a "
                             "vector basemap to raster tiles first")
        if header["tile_compression"] not in (Compression.NONE, Compression.UNKNOWN):
            raise InputError(f"basemap {self.path}: compressed raster tiles are not supported")
        self.min_zoom, self.max_zoom = header["min_zoom"], header["max_zoom"]
        self.kind = {TileType.PNG: "image/png", TileType.JPEG: "image/jpeg",
                     TileType.WEBP: "image/webp"}[header["tile_type"]]

    def describe(self, z, x, y) -> str:
        return f"{self.path} tile {z}/{x}/{y}"

    def get(self, z, x, y):
        if not self.valid(z, x, y) or not self.min_zoom <= z <= self.max_zoom:
            return None
        data = self.reader.get(z, x, y)
        return (bytes(data), self.kind) if data else None


def open_tiles(spec: str | Path) -> TileSource:
    """The basemap ``spec`` names: a ``.pmtiles`` file, a tile folder, or an http(s) URL
    template; ``InputError`` in one line otherwise."""
    text = str(spec)
    if text.startswith(("http://", "https://")):
        return UrlTiles(text)
    path = Path(text)
    if path.is_dir():
        return FolderTiles(path)
    if path.is_file():
        return PMTilesFile(path)
    raise InputError(f"basemap {text!r}: no such PMTiles file or tile folder (or give an "
                     "http(s) URL template with {z}, {x} and {y})")
