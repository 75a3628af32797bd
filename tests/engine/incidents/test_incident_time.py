import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from engine.incidents.durations import format_duration, parse_duration
from engine.incidents.timeintervals import TimeInterval
from engine.timeutil import parse_time


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h30m", 5400), ("2d", 172800), ("1w", 604800), ("250ms", 0.25)],
)
def test_durations_read_like_alertmanager(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "5x", "m5", "30m1h", "-5m", "1h 30m"])
def test_bad_durations_are_refused_with_a_hint(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@settings(max_examples=100)
@given(st.integers(min_value=0, max_value=10**8))
def test_formatting_a_duration_reads_back_to_the_same_seconds(seconds):
    assert parse_duration(format_duration(seconds)) == seconds


def interval(**spec) -> TimeInterval:
    return TimeInterval.model_validate({"name": "x", "time_intervals": [spec]})


def test_weekends_are_evaluated_in_the_interval_location():
    weekend = interval(weekdays=["saturday:sunday"], location="Pacific/Auckland")
    friday_utc_evening = parse_time("2026-11-27T20:00:00Z")  # already Saturday in Auckland
    assert weekend.contains(friday_utc_evening)
    assert not interval(weekdays=["saturday:sunday"]).contains(friday_utc_evening)


def test_office_hours_end_time_is_exclusive():
    office = interval(
        weekdays=["monday:friday"], times=[{"start_time": "09:00", "end_time": "17:00"}]
    )
    assert office.contains(parse_time("2026-11-25T09:00:00Z"))
    assert office.contains(parse_time("2026-11-25T16:59:59Z"))
    assert not office.contains(parse_time("2026-11-25T17:00:00Z"))
    assert not office.contains(parse_time("2026-11-28T10:00:00Z"))  # Saturday


def test_negative_days_of_month_count_from_the_end_of_that_month():
    last_two = interval(days_of_month=["-2:-1"])
    assert last_two.contains(parse_time("2026-02-27T12:00:00Z"))
    assert last_two.contains(parse_time("2026-02-28T12:00:00Z"))
    assert not last_two.contains(parse_time("2026-02-26T12:00:00Z"))
    assert last_two.contains(parse_time("2026-03-31T00:00:00Z"))


def test_months_and_years_may_be_names_numbers_and_ranges():
    q4 = interval(months=["october:december"], years=["2026"])
    assert q4.contains(parse_time("2026-11-25T00:00:00Z"))
    assert not q4.contains(parse_time("2027-11-25T00:00:00Z"))
    assert interval(months=["1:3"]).contains(parse_time("2026-02-01T00:00:00Z"))


def test_a_named_interval_is_active_when_any_spec_is():
    maintenance = TimeInterval.model_validate(
        {
            "name": "m",
            "time_intervals": [{"weekdays": ["sunday"]}, {"days_of_month": ["1"]}],
        }
    )
    assert maintenance.contains(parse_time("2026-11-29T03:00:00Z"))  # Sunday
    assert maintenance.contains(parse_time("2026-12-01T03:00:00Z"))  # the 1st
    assert not maintenance.contains(parse_time("2026-12-02T03:00:00Z"))


@pytest.mark.parametrize(
    ("spec", "loc", "message"),
    [
        ({"weekdays": ["friday:monday"]}, ("weekdays", 0), "backwards"),
        ({"weekdays": ["funday"]}, ("weekdays", 0), "unknown weekday"),
        ({"days_of_month": ["0"]}, ("days_of_month", 0), "out of range"),
        (
            {"times": [{"start_time": "17:00", "end_time": "09:00"}]},
            ("times", 0, "end_time"),
            "after",
        ),
        (
            {"times": [{"start_time": "25:00", "end_time": "26:00"}]},
            ("times", 0, "start_time"),
            "range",
        ),
        ({"location": "Mars/Olympus"}, ("location",), "unknown time zone"),
        ({"location": "Local"}, ("location",), "replays"),
    ],
)
def test_bad_time_interval_specs_point_at_the_field(spec, loc, message):
    with pytest.raises(ValidationError) as info:
        interval(**spec)
    error = info.value.errors()[0]
    assert error["loc"] == ("time_intervals", 0, *loc)
    assert message in error["msg"]
