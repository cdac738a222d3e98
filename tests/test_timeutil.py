from datetime import datetime, timezone

import pytest

from videx.errors import TimestampError
from videx.timeutil import format_local, hms, iso_utc, parse_duration, parse_instant


@pytest.mark.parametrize("text,seconds", [("30m", 1800), ("90s", 90), ("1h30m", 5400),
                                          ("2d", 172800), ("0.5h", 1800)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["30", "ten minutes", "", "5x"])
def test_duration_needs_a_unit(text):
    with pytest.raises(TimestampError, match="give a number with a unit"):
        parse_duration(text)


def test_offsets_and_utc():
    assert iso_utc(parse_instant("2023-05-01T14:30:00-04:00")) == "2023-05-01T18:30:00Z"
    assert iso_utc(parse_instant("2023-05-01 18:30:00Z")) == "2023-05-01T18:30:00Z"
    assert iso_utc(parse_instant("2023-05-01 14:30", "America/New_York")) == \
        "2023-05-01T18:30:00Z"
    # an explicit offset wins over the zone
    assert iso_utc(parse_instant("2023-05-01T14:30:00+00:00", "America/New_York")) == \
        "2023-05-01T14:30:00Z"


def test_naive_time_without_zone_is_refused():
    with pytest.raises(TimestampError, match="has no zone or offset"):
        parse_instant("2023-05-01 14:30:00")


def test_spring_forward_gap_is_refused():
    # 2023-03-12 02:30 does not exist in New York (02:00 -> 03:00)
    with pytest.raises(TimestampError, match="does not exist in America/New_York"):
        parse_instant("2023-03-12 02:30:00", "America/New_York")


def test_fall_back_repeat_is_refused():
    # 2023-11-05 01:30 happens twice in New York
    with pytest.raises(TimestampError, match="is ambiguous in America/New_York"):
        parse_instant("2023-11-05 01:30:00", "America/New_York")
    # an offset settles it
    assert iso_utc(parse_instant("2023-11-05T01:30:00-05:00")) == "2023-11-05T06:30:00Z"


def test_edges_of_the_dst_change_are_fine():
    assert iso_utc(parse_instant("2023-03-12 01:59:59", "America/New_York")) == \
        "2023-03-12T06:59:59Z"
    assert iso_utc(parse_instant("2023-03-12 03:00:00", "America/New_York")) == \
        "2023-03-12T07:00:00Z"
    assert iso_utc(parse_instant("2023-11-05 02:00:00", "America/New_York")) == \
        "2023-11-05T07:00:00Z"


def test_local_display_names_the_zone():
    summer = datetime(2023, 7, 1, 16, 0, tzinfo=timezone.utc)
    winter = datetime(2023, 1, 1, 17, 0, tzinfo=timezone.utc)
    assert format_local(summer, "America/New_York") == "2023-07-01 12:00:00 EDT"
    assert format_local(winter, "America/New_York") == "2023-01-01 12:00:00 EST"


def test_unknown_zone():
    with pytest.raises(TimestampError, match="unknown time zone 'Mars/Base'"):
        parse_instant("2023-01-01 00:00", "Mars/Base")


def test_hms():
    assert hms(0) == "0:00:00"
    assert hms(3725.4) == "1:02:05"
    assert hms(-61) == "-0:01:01"
