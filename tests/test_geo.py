import pytest

from videx import geo


def test_haversine_one_degree_of_latitude():
    # one degree of latitude is about 111.2 km on the mean-radius sphere
    assert geo.haversine_m(41.0, -72.0, 42.0, -72.0) == pytest.approx(111_195, rel=1e-3)


def test_bearings():
    assert geo.bearing_deg(41.76, -72.68, 41.77, -72.68) == pytest.approx(0, abs=0.01)
    assert geo.bearing_deg(41.76, -72.68, 41.76, -72.67) == pytest.approx(90, abs=0.1)
    assert geo.bearing_deg(41.76, -72.68, 41.75, -72.68) == pytest.approx(180, abs=0.01)
    assert geo.bearing_deg(41.76, -72.68, 41.76, -72.69) == pytest.approx(270, abs=0.1)


def point_at(bearing, dist=50.0, lat=41.76, lon=-72.68):
    import math
    b = math.radians(bearing)
    return (lat + dist * math.cos(b) / 111_320,
            lon + dist * math.sin(b) / (111_320 * math.cos(math.radians(lat))))


@pytest.mark.parametrize("bearing,expected", [(350, True), (5, True), (9.5, True), (331, True),
                                              (20, False), (325, False), (180, False)])
def test_wedge_crossing_north(bearing, expected):
    # heading 350, 40 degrees wide: covers 330 .. 10 through north
    lat, lon = point_at(bearing)
    assert geo.in_view(41.76, -72.68, 350, 40, None, lat, lon) is expected


def test_wedge_range_and_missing_geometry():
    lat, lon = point_at(90, dist=120)
    assert geo.in_view(41.76, -72.68, 90, 60, 200, lat, lon) is True
    assert geo.in_view(41.76, -72.68, 90, 60, 100, lat, lon) is False
    assert geo.in_view(41.76, -72.68, None, None, None, lat, lon) is None
    assert geo.in_view(41.76, -72.68, 0, 360, None, lat, lon) is True


def test_parsers():
    assert geo.parse_distance("250m") == 250
    assert geo.parse_distance("1.5km") == 1500
    with pytest.raises(ValueError, match="give a number with a unit"):
        geo.parse_distance("250")
    assert geo.parse_latlon("41.76,-72.68") == (41.76, -72.68)
    with pytest.raises(ValueError, match="latitude 141.0 is outside"):
        geo.parse_latlon("141,-72")
    with pytest.raises(ValueError, match="not SOUTH<NORTH"):
        geo.parse_bounds("41.81,-72.72,41.72,-72.64")


def test_bbox_contains_circle():
    s, w, n, e = geo.bbox(41.76, -72.68, 500)
    for bearing in range(0, 360, 15):
        lat, lon = point_at(bearing, 499)
        assert s <= lat <= n and w <= lon <= e
