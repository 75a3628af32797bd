"""A geography new to the organisation: the out-of-the-box watch on Bedrock regions."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.config import DetectorsConfig
from detectors.detectorset import DetectorSet
from detectors.new_value import ADOPTED_BY, geography
from tests.detectors.test_detectorset import MONDAY, STEP, feed, invoke


def org_geographies() -> DetectorSet:
    """The default detector's shape, with an hour of warm-up."""
    spec = {
        "id": "geo",
        "kind": "new_value",
        "aggregation": "distinct",
        "field": "region",
        "group_by": ["user"],
        "parent_by": ["team"],
        "interval": "1m",
        "warmup": "1h",
        "params": {"generalize": "geography", "scope": "everyone"},
    }
    return DetectorSet.from_config(DetectorsConfig.model_validate({"detectors": [spec]}))


def opened(signals) -> list[tuple[str, list[str]]]:
    return [
        (s.group["user"], s.evidence["new_values"]) for s in signals if "new_values" in s.evidence
    ]


def test_regions_of_a_known_geography_are_no_news_one_of_another_is():
    ds = org_geographies()
    state = ds.new_state("geo")
    events = [invoke(MONDAY + i * STEP, user="ana", region="eu-central-1") for i in range(30)]
    events += [
        invoke(MONDAY + i * STEP, user="bo", team="web", region="us-east-1") for i in range(30)
    ]
    # after warm-up: a team spreads to more regions of its geography, a new team arrives in one
    events += [invoke(MONDAY + 40 * STEP, user="ana", region="eu-north-1")]
    events += [invoke(MONDAY + 41 * STEP, user="cy", team="new", region="us-west-2")]
    # and one person calls Bedrock in a geography nobody in the organisation uses
    events += [
        invoke(MONDAY + 50 * STEP + i, user="bo", team="web", region="ca-central-1")
        for i in range(5)
    ]
    # one person there does not make it the organisation's: the next one is news as well,
    # until three people have used it
    events += [invoke(MONDAY + 60 * STEP, user="ana", region="ca-west-1")]
    events += [invoke(MONDAY + 62 * STEP, user="cy", team="new", region="ca-west-1")]
    events += [invoke(MONDAY + 64 * STEP, user="dee", team="new", region="ca-central-1")]
    signals = feed(ds, state, events, MONDAY + 70 * STEP)
    assert opened(signals) == [
        ("bo", ["ca-central-1"]),
        ("ana", ["ca-west-1"]),
        ("cy", ["ca-west-1"]),
    ]


def test_nothing_is_news_during_warm_up():
    ds = org_geographies()
    state = ds.new_state("geo")
    regions = ["ap-south-1", "us-east-2", "eu-west-2", "il-central-1"]
    events = [invoke(MONDAY + i * 60, user=f"u{i % 7}", region=regions[i % 4]) for i in range(50)]
    assert opened(feed(ds, state, events, MONDAY + 3000)) == []


regions = st.builds(
    lambda geo, side, n: f"{geo}-{side}-{n}",
    st.sampled_from(["us", "eu", "ap", "ca", "il", "us-gov", "mx"]),
    st.sampled_from(["east", "west", "central", "south"]),
    st.integers(1, 3),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 400), st.integers(0, 5), regions), max_size=80))
def test_each_geography_new_after_warm_up_is_news_until_adopted(calls):
    """Whatever the order and mix of calls: every geography first seen after the warm-up is
    news, for at most the first three people using it; none three people used during the
    warm-up ever is."""
    ds = org_geographies()
    state = ds.new_state("geo")
    everyday = [(m, u) for m in range(0, 500, 10) for u in range(6)]  # people at work
    events = [invoke(MONDAY + 60 * m, user=f"u{u}", region="us-east-1") for m, u in everyday]
    events += [invoke(MONDAY + 60 * m, user=f"u{u}", region=r) for m, u, r in calls]
    signals = feed(ds, state, events, MONDAY + 60 * 500)
    first: dict[str, float] = {}
    early: dict[str, set[str]] = {}
    for e in sorted(events, key=lambda e: e["time"]):
        g = geography(e["region"])
        first.setdefault(g, e["time"])
        if e["time"] < MONDAY + 3600:
            early.setdefault(g, set()).add(e["user"])
    late = {g for g, t in first.items() if t >= MONDAY + 3600}
    adopted = {g for g, users in early.items() if len(users) >= ADOPTED_BY}
    got = [(u, g) for u, news in opened(signals) for g in {geography(r) for r in news}]
    reported = {g for _, g in got}
    assert late <= reported and not reported & adopted
    for g in reported:
        assert len({u for u, h in got if h == g}) <= ADOPTED_BY


def test_a_detector_of_hourly_windows_keeps_its_incident_open_between_signals():
    """A firing key signals once a window: an hourly detector's incident must outlive the
    hour between two signals instead of resolving and opening again with the next one."""
    from engine.flow.run_setup import signal_hit
    from engine.incidents.book import IncidentBook
    from engine.incidents.config import IncidentsConfig

    spec = {"id": "hourly", "kind": "ewma", "interval": "1h", "warmup": "1h",
            "params": {"direction": "up", "z": 3}}  # fmt: skip
    ds = DetectorSet.from_config(DetectorsConfig.model_validate({"detectors": [spec]}))
    state = ds.new_state("hourly")
    events = [invoke(MONDAY + 3600 * h + 60 * i, user="u") for h in range(30) for i in range(3)]
    events += [invoke(MONDAY + 3600 * h + i, user="u") for h in range(30, 34) for i in range(60)]
    signals = feed(ds, state, events, MONDAY + 3600 * 36)
    firing = [s for s in signals if s.firing]
    assert len(firing) >= 3 and all(s.resolve_after == 7200 for s in firing)
    book = IncidentBook(IncidentsConfig())
    opened = [
        t
        for s in signals
        for t in book.on_hit(signal_hit(s))
        if getattr(t, "type", "") == "incident.opened"
    ]
    assert len(opened) == 1
