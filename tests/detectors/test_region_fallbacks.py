"""Region detectors on calls that carry no region, and a region used minute after minute."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.config import DetectorsConfig
from detectors.detectorset import DetectorSet
from detectors.new_value import place
from tests.detectors.test_detectorset import MONDAY, feed, invoke

FALLBACK = ["region", "model.profile", "user"]  # the defaults' field


def region_watch(field: str | list[str], **params: object) -> DetectorSet:
    """A region detector of the defaults' shape, with an hour of warm-up."""
    spec = {
        "id": "geo",
        "kind": "new_value",
        "aggregation": "distinct",
        "field": field,
        "group_by": ["user"],
        "parent_by": ["team"],
        "interval": "1m",
        "warmup": "1h",
        "params": {"generalize": "geography", "scope": "everyone", **params},
    }
    return DetectorSet.from_config(DetectorsConfig.model_validate({"detectors": [spec]}))


def firing(signals) -> list[tuple[str, list[str], float]]:
    return [
        (s.group["user"], s.evidence["new_values"], s.time)
        for s in signals
        if s.firing and s.evidence.get("new_values")  # an incident's opening, not updates
    ]


def at_work() -> list[dict]:
    return [invoke(MONDAY + 60 * i, user="us1", region="us-east-1") for i in range(400)]


def regionless_then_away(**spelling: str) -> list[dict]:
    """pat calls for two hours without a region, then from a geography nobody uses."""
    quiet = [invoke(MONDAY + 60 * i, user="pat", **spelling) for i in range(0, 120, 3)]
    away = [invoke(MONDAY + 7200 + i, user="pat", region="sa-east-1") for i in range(3)]
    return at_work() + quiet + away


@pytest.mark.parametrize("spelling", [{}, {"model.profile": "global"}, {"model.profile": "us"}])
def test_a_person_whose_calls_carried_no_region_is_known_and_news_at_once(spelling):
    """Calls without a region (an Anthropic model name, a global profile, a `us.` profile)
    still show the person at work: their call from elsewhere is news in its window, not
    held for an hour as a newcomer's would be."""
    ds = region_watch(FALLBACK)
    signals = feed(ds, ds.new_state("geo"), regionless_then_away(**spelling), MONDAY + 400 * 60)
    assert firing(signals) == [("pat", ["sa-east-1"], MONDAY + 7260)]


def test_with_the_region_alone_such_a_person_is_held_as_a_newcomer():
    """The same history read from `region` only: pat has no windows before, so is held."""
    ds = region_watch("region")
    signals = feed(ds, ds.new_state("geo"), regionless_then_away(), MONDAY + 400 * 60)
    assert firing(signals) == [("pat", ["sa-east-1"], MONDAY + 7200 + 3600 + 60)]


def test_a_profile_s_geography_new_to_the_organisation_is_news():
    """A call with no region through an `eu.` profile, in an organisation working in the US:
    its geography is Europe's, new to everyone."""
    ds = region_watch(FALLBACK)
    events = at_work() + [
        invoke(MONDAY + 60 * i, user="pat", **{"model.profile": "us"}) for i in range(0, 60, 3)
    ]
    events += [invoke(MONDAY + 7200 + i, user="pat", **{"model.profile": "eu"}) for i in range(3)]
    signals = feed(ds, ds.new_state("geo"), events, MONDAY + 400 * 60)
    assert firing(signals) == [("pat", ["eu"], MONDAY + 7260)]


@pytest.mark.parametrize(
    ("value", "generalize", "expected"),
    [
        ("us-east-1", "geography", "us"),
        ("US-GOV-WEST-1", "geography", "us-gov"),
        ("ap-southeast-7", "geography", "ap"),
        ("us", "geography", "us"),
        ("eu", "geography", "eu"),
        ("apac", "geography", "ap"),
        ("jp", "geography", "ap"),
        ("au", "geography", "ap"),
        ("ca", "geography", "ca"),
        ("us-gov", "geography", "us-gov"),
        ("global", "geography", None),
        ("application", "geography", None),
        ("alice@example.com", "geography", None),
        ("eu-west-1", "value", "eu-west-1"),
        ("apac", "value", None),
        ("bob", "value", None),
        ("", "geography", None),
    ],
)
def test_what_a_region_detector_takes_of_each_spelling(value, generalize, expected):
    assert place(value, generalize) == expected


def known_geography(hold: str = "1h", sustained: int = 5) -> DetectorSet:
    spec = {
        "id": "inside",
        "kind": "new_value",
        "aggregation": "distinct",
        "field": FALLBACK,
        "group_by": ["user"],
        "parent_by": ["team"],
        "interval": "1m",
        "warmup": "1h",
        "params": {"scope": "everyone", "within": "known_geography", "hold": hold,
                   "sustained": sustained},
    }  # fmt: skip
    return DetectorSet.from_config(DetectorsConfig.model_validate({"detectors": [spec]}))


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 12), st.integers(1, 7))
def test_a_region_used_in_five_minutes_is_news_then_else_after_the_hold(uses, gap):
    """A known person calls ap-southeast-3 in `uses` minutes, `gap` minutes apart, among an
    organisation in ap-south-1: news at the fifth such minute's window, or when the hour's
    hold is over if there are fewer than five in it; region-less calls change nothing."""
    ds = known_geography()
    start = MONDAY + 7200
    events = [invoke(MONDAY + 60 * i, user="ana", region="ap-south-1") for i in range(300)]
    events += [invoke(MONDAY + 60 * i + 5, user="ana") for i in range(300)]  # no region
    events += [
        invoke(start + 60 * gap * k + 10, user="ana", region="ap-southeast-3") for k in range(uses)
    ]
    signals = feed(ds, ds.new_state("inside"), events, MONDAY + 300 * 60)
    fifth = start + 60 * gap * 4
    expected = fifth + 60 if uses >= 5 and fifth < start + 3600 else start + 3600 + 60
    assert firing(signals) == [("ana", ["ap-southeast-3"], expected)]


def test_a_newcomer_at_home_and_elsewhere_at_once_is_news_at_once():
    """A person first seen calling both where the organisation works and from a geography
    nobody uses, in the same minutes: news in that window, not held as a new office's first
    morning would be (whose people call only from there, and are held)."""
    ds = region_watch(FALLBACK)
    start = MONDAY + 7200
    both = [invoke(start + i, user="uma", region="us-east-1") for i in range(0, 600, 20)]
    both += [invoke(start + 5 + i, user="uma", region="sa-east-1") for i in range(0, 600, 20)]
    only_away = [invoke(start + i, user="ria", region="ca-central-1") for i in range(0, 600, 20)]
    signals = feed(ds, ds.new_state("geo"), at_work() + both + only_away, MONDAY + 400 * 60)
    assert firing(signals) == [
        ("uma", ["sa-east-1"], start + 60),
        ("ria", ["ca-central-1"], start + 3600 + 60),
    ]


def test_a_held_newcomer_who_then_calls_at_home_is_news_then():
    """First seen from a geography nobody uses, held as a newcomer; calling where the
    organisation works ten minutes later makes it news in that window."""
    ds = region_watch(FALLBACK)
    start = MONDAY + 7200
    away = [invoke(start + i, user="uma", region="sa-east-1") for i in range(0, 1200, 20)]
    home = [invoke(start + 600 + i, user="uma", region="us-east-1") for i in range(0, 600, 20)]
    signals = feed(ds, ds.new_state("geo"), at_work() + away + home, MONDAY + 400 * 60)
    assert firing(signals) == [("uma", ["sa-east-1"], start + 660)]
