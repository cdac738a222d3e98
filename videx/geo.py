"""Distances, bearings, bounding boxes and camera view wedges (metres and degrees)."""

from __future__ import annotations

import math
import re

EARTH_RADIUS_M = 6_371_008.8
_DIST_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|km|ft|mi)\s*$", re.I)
_DIST_UNIT_M = {"m": 1.0, "km": 1000.0, "ft": 0.3048, "mi": 1609.344}


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two WGS84 points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial bearing in degrees clockwise from true north, 0-360, from point 1 to point 2."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    x = math.sin(dl) * math.cos(p2)
    y = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return (math.degrees(math.atan2(x, y)) + 360.0) % 360.0


def angle_diff_deg(a: float, b: float) -> float:
    """Smallest signed difference ``a - b`` in degrees, in (-180, 180]; handles crossing north."""
    d = (a - b + 180.0) % 360.0 - 180.0
    return 180.0 if d == -180.0 else d


def in_view(cam_lat: float, cam_lon: float, heading_deg: float | None, fov_deg: float | None,
            range_m: float | None, lat: float, lon: float,
            distance_m: float | None = None) -> bool | None:
    """Whether a point lies in a camera's view wedge; ``None`` when the camera has no geometry.

    The wedge is centred on ``heading_deg`` and ``fov_deg`` wide; it may cross north
    (heading 350, fov 40 covers 330-10). Beyond ``range_m`` (when known) the point is not in view.
    ``distance_m``: the camera-to-point distance (metres) when the caller has it already.
    """
    if heading_deg is None or fov_deg is None:
        return None
    dist = haversine_m(cam_lat, cam_lon, lat, lon) if distance_m is None else distance_m
    if range_m is not None and dist > range_m:
        return False
    if fov_deg >= 360 or dist < 1.0:
        return True
    bearing = bearing_deg(cam_lat, cam_lon, lat, lon)
    return abs(angle_diff_deg(bearing, heading_deg)) <= fov_deg / 2.0


def destination(lat: float, lon: float, bearing: float, distance_m: float
                ) -> tuple[float, float]:
    """(lat, lon) reached from a point going ``distance_m`` metres along ``bearing`` degrees."""
    d = distance_m / EARTH_RADIUS_M
    p1, l1, b = math.radians(lat), math.radians(lon), math.radians(bearing)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(p1),
                         math.cos(d) - math.sin(p1) * math.sin(p2))
    return math.degrees(p2), (math.degrees(l2) + 540.0) % 360.0 - 180.0


def bbox(lat: float, lon: float, radius_m: float) -> tuple[float, float, float, float]:
    """(south, west, north, east) of a box that contains the circle of ``radius_m`` metres."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    dlon = math.degrees(radius_m / (EARTH_RADIUS_M * max(math.cos(math.radians(lat)), 1e-6)))
    return lat - dlat, lon - dlon, lat + dlat, lon + dlon


def flat_scale(lat: float) -> tuple[float, float]:
    """(metres per degree of latitude, metres per degree of longitude) at ``lat``: the local
    flat-earth scale, for a cheap distance bound in SQL near that point."""
    per_deg = math.radians(EARTH_RADIUS_M)
    return per_deg, per_deg * max(math.cos(math.radians(lat)), 1e-6)


def flat_reach_m(radius_m: float) -> float:
    """A flat-earth radius (metres) that surely contains the great-circle one of ``radius_m``
    around the centre ``flat_scale`` was taken at: the flat distance within a few kilometres
    differs from the great-circle one by well under 0.1% (the cosine changing over the
    distance), so the great-circle check that follows decides exactly."""
    return radius_m * 1.001 + 1.0


def parse_distance(text: str) -> float:
    """Parse ``250m``, ``1.5km``, ``800ft`` into metres; a unit is required."""
    m = _DIST_RE.match(str(text))
    if not m:
        raise ValueError(f"cannot read distance {text!r}: give a number with a unit m, km, ft "
                         "or mi, e.g. 250m")
    return float(m.group(1)) * _DIST_UNIT_M[m.group(2).lower()]


def parse_latlon(text: str) -> tuple[float, float]:
    """Parse ``LAT,LON`` in decimal degrees, checking the ranges."""
    parts = str(text).split(",")
    if len(parts) != 2:
        raise ValueError(f"cannot read {text!r} as LAT,LON (e.g. 41.7658,-72.6734)")
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError as err:
        raise ValueError(f"cannot read {text!r} as LAT,LON (e.g. 41.7658,-72.6734)") from err
    check_latlon(lat, lon)
    return lat, lon


def check_latlon(lat: float, lon: float) -> None:
    """Raise ValueError when lat/lon are outside -90..90 / -180..180."""
    if not -90.0 <= lat <= 90.0:
        raise ValueError(f"latitude {lat} is outside -90..90")
    if not -180.0 <= lon <= 180.0:
        raise ValueError(f"longitude {lon} is outside -180..180")


def parse_bounds(text: str) -> tuple[float, float, float, float]:
    """Parse ``SOUTH,WEST,NORTH,EAST`` (decimal degrees)."""
    try:
        s, w, n, e = (float(p) for p in str(text).split(","))
    except ValueError as err:
        raise ValueError(f"cannot read bounds {text!r}: use SOUTH,WEST,NORTH,EAST, e.g. "
                         "41.72,-72.72,41.81,-72.64") from err
    if not (s < n and w < e):
        raise ValueError(f"bounds {text!r} are not SOUTH<NORTH and WEST<EAST")
    check_latlon(s, w)
    check_latlon(n, e)
    return s, w, n, e


def in_bounds(lat: float, lon: float, bounds: tuple[float, float, float, float]) -> bool:
    """Whether (lat, lon) lies inside (south, west, north, east)."""
    s, w, n, e = bounds
    return s <= lat <= n and w <= lon <= e


def outlier_check(points: list[tuple[float, float]], limit_m: float = 100_000.0):
    """Yield (index, distance_m) for points farther than ``limit_m`` from the median of the others.

    Used when no city bounds are set: a far-off point usually means lat and lon were swapped.
    """
    if len(points) < 3:
        return
    import statistics  # (imports random, decimal, fractions: not at start-up)
    lats = sorted(p[0] for p in points)
    lons = sorted(p[1] for p in points)
    med_lat, med_lon = statistics.median(lats), statistics.median(lons)
    for i, (lat, lon) in enumerate(points):
        d = haversine_m(lat, lon, med_lat, med_lon)
        if d > limit_m:
            yield i, d
