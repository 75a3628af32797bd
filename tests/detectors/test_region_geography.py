"""A geography new to the organisation: the out-of-the-box watch on Bedrock regions."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.config import DetectorsConfig
from detectors.detectorset import DetectorSet
from detectors.new_value import ADOPTED_BY, geography
from tests.detectors.test_detectorset import MONDAY, STEP, feed, invoke


def org_geographies(warmup: str = "1h", warmup_news: str = "at_end") -> DetectorSet:
    """The default detector's shape, with an hour of warm-up."""
    spec = {
        "id": "geo",
        "kind": "new_value",
        "aggregation": "distinct",
        "field": "region",
        "group_by": ["user"],
        "parent_by": ["team"],
        "interval": "1m",
        "warmup": warmup,
        "params": {"generalize": "geography", "scope": "everyone", "warmup_news": warmup_news},
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


def test_one_person_while_warming_up_and_two_newcomers_after_are_adoption():
    """One person in Europe on the first (weekend) day, and on Monday two people seen for the
    first time there: three people, the newcomers' news held meanwhile, so no news."""
    ds = org_geographies()
    state = ds.new_state("geo")
    events = [invoke(MONDAY + i * 60, user="us1", region="us-east-1") for i in range(90)]
    events += [invoke(MONDAY + 600, user="eu1", team="maps", region="eu-west-1")]
    events += [invoke(MONDAY + 7200 + i * 60, user=f"eu{2 + i}", region="eu-central-1")
               for i in range(2)]  # fmt: skip
    assert opened(feed(ds, state, events, MONDAY + 9000)) == []


def newcomers(starts: list[float], region: str = "eu-west-2") -> list[dict]:
    """People with no history at all, each making calls for ten minutes from their start."""
    return [
        invoke(MONDAY + s + 60 * i, user=f"new{n}", team="maps", region=region)
        for n, s in enumerate(starts)
        for i in range(10)
    ]


def at_work() -> list[dict]:
    return [invoke(MONDAY + 60 * i, user="us1", region="us-east-1") for i in range(400)]


def test_newcomers_taking_up_a_geography_within_the_hold_are_adoption_not_news():
    ds = org_geographies()
    state = ds.new_state("geo")
    # a team's first morning: three people start in a new geography within 40 minutes
    events = at_work() + newcomers([7200, 8400, 9600])
    assert opened(feed(ds, state, events, MONDAY + 400 * 60)) == []


def test_a_lone_newcomer_in_a_new_geography_is_news_once_the_hold_is_over():
    ds = org_geographies()
    state = ds.new_state("geo")
    events = at_work() + newcomers([7200], region="ca-central-1")
    signals = feed(ds, state, events, MONDAY + 400 * 60)
    firing = [s for s in signals if s.firing and "new_values" in s.evidence]
    assert [(s.group["user"], s.evidence["new_values"]) for s in firing] == [
        ("new0", ["ca-central-1"])
    ]
    assert firing[0].time == MONDAY + 7200 + 3600 + 60  # the window closing the hour's hold
    assert firing[0].evidence["held_seconds"] == 3600
    assert any(not s.firing and s.group["user"] == "new0" for s in signals)  # and resolves


def test_a_person_with_a_history_elsewhere_is_news_at_once():
    """A known identity calling from a geography nobody uses (a leaked key used from
    elsewhere) is not held: news in the window it happens."""
    ds = org_geographies()
    state = ds.new_state("geo")
    events = at_work() + [invoke(MONDAY + 7200 + i, user="us1", region="sa-east-1")
                          for i in range(3)]  # fmt: skip
    signals = feed(ds, state, events, MONDAY + 400 * 60)
    firing = [s for s in signals if s.firing and "new_values" in s.evidence]
    assert {s.group["user"] for s in firing} == {"us1"}
    assert firing[0].time == MONDAY + 7260


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(0, 200), min_size=1, max_size=6),
    st.sampled_from(["eu-west-2", "ca-central-1", "us-gov-west-1", "ap-east-2"]),
    st.integers(1, 4),
)
def test_newcomers_are_news_only_when_fewer_than_three_arrive_within_the_hold(minutes, region, gap):
    """Whatever the arrival times: if the third newcomer comes within the first one's hold,
    nobody is news; otherwise the first is, an hour after arriving."""
    ds = org_geographies()
    state = ds.new_state("geo")
    starts = sorted(7200 + 60 * gap * m for m in set(minutes))
    events = at_work() + newcomers(starts, region=region)
    firing = [s for s in feed(ds, state, events, MONDAY + starts[-1] + 4000)
              if s.firing and "new_values" in s.evidence]  # fmt: skip
    adopted = len(starts) >= ADOPTED_BY and starts[ADOPTED_BY - 1] - starts[0] <= 3600
    assert (firing == []) == adopted
    if not adopted:
        assert firing[0].group["user"] == "new0"
        assert firing[0].time - (MONDAY + starts[0]) <= 3600 + 120


def test_a_person_whose_first_calls_were_elsewhere_is_news_once_the_warm_up_is_over():
    """During the warm-up a person first calls Bedrock in São Paulo, then at home where the
    organisation works: the order does not matter, the new geography is news when the
    warm-up ends (an hour here); a person seen only there is learned."""
    ds = org_geographies()
    state = ds.new_state("geo")
    events = [invoke(MONDAY + 60 * i, user=f"us{i % 4}", region="us-east-1") for i in range(300)]
    events += [invoke(MONDAY + 600 + 60 * i, user="ana", region="sa-east-1") for i in range(3)]
    events += [invoke(MONDAY + 1200 + 60 * i, user="ana", region="us-east-2") for i in range(3)]
    events += [invoke(MONDAY + 900 + 60 * i, user="bo", region="eu-west-1") for i in range(3)]
    signals = feed(ds, state, events, MONDAY + 300 * 60)
    firing = [s for s in signals if s.firing and "new_values" in s.evidence]
    assert [s.group["user"] for s in firing] == ["ana"]
    assert MONDAY + 3600 <= firing[0].time <= MONDAY + 1200 + 3600 + 60


def warming_up_at_home() -> list[dict]:
    """Four people at home in the US for the first hours of the history (warm-up: 6 h)."""
    return [invoke(MONDAY + 60 * i, user=f"us{i % 4}", region="us-east-1") for i in range(360)]


def known_person_away(start: float, minutes: int) -> list[dict]:
    return [invoke(MONDAY + start + 60 * i, user="us1", region="ap-northeast-1")
            for i in range(minutes)]  # fmt: skip


def test_a_known_person_in_a_new_geography_while_warming_up_is_news_after_the_hold_once():
    """The organisation is still learning its geographies (six hours of warm-up): a person
    who has been calling at home turns up in Tokyo for twenty minutes and again later. News
    an hour after the first call there (nobody took it up), and only once."""
    ds = org_geographies("6h", "after_hold")
    state = ds.new_state("geo")
    events = warming_up_at_home() + known_person_away(3600, 20) + known_person_away(9000, 5)
    firing = [s for s in feed(ds, state, events, MONDAY + 8 * 3600)
              if s.firing and s.evidence.get("new_values")]  # fmt: skip
    assert [(s.group["user"], s.evidence["new_values"]) for s in firing] == [
        ("us1", ["ap-northeast-1"])
    ]
    assert MONDAY + 3600 + 3600 <= firing[0].time <= MONDAY + 3600 + 3600 + 120


def test_people_taking_up_the_geography_within_the_hold_while_warming_up_is_adoption():
    """The same hop, but two more people start in Tokyo within the hour: an office opening on
    the history's first day, not news."""
    ds = org_geographies("6h", "after_hold")
    state = ds.new_state("geo")
    events = warming_up_at_home() + known_person_away(3600, 20)
    events += [invoke(MONDAY + 4800 + 300 * i + 60 * k, user=f"jp{i}", team="tokyo",
                      region="ap-northeast-1") for i in range(2) for k in range(5)]  # fmt: skip
    firing = [s for s in feed(ds, state, events, MONDAY + 8 * 3600)
              if s.firing and s.evidence.get("new_values")]  # fmt: skip
    assert firing == []


def test_news_of_a_value_new_to_everyone_waits_for_the_warm_up_s_end_by_default():
    """Without `warmup_news: after_hold`, the same hop is told when the warm-up is over: a
    detector learning the organisation's habits for a week (its models) does not page
    for what a second team takes up on its second day."""
    ds = org_geographies("6h")
    state = ds.new_state("geo")
    events = warming_up_at_home() + known_person_away(3600, 20)
    firing = [s for s in feed(ds, state, events, MONDAY + 8 * 3600)
              if s.firing and s.evidence.get("new_values")]  # fmt: skip
    assert [s.group["user"] for s in firing] == ["us1"]
    assert MONDAY + 6 * 3600 <= firing[0].time <= MONDAY + 6 * 3600 + 120


@settings(max_examples=25, deadline=None)
@given(
    home_minutes=st.integers(min_value=1, max_value=240),
    away_at=st.integers(min_value=0, max_value=300),
    away_for=st.integers(min_value=1, max_value=40),
)
def test_a_known_person_s_hop_while_warming_up_is_news_at_once_with_at_once(
    home_minutes, away_at, away_for
):
    """`warmup_news: at_once`: during the warm-up (six hours), a person who has called at home
    (for a minute or for hours) and turns up in Tokyo is news in the minute of the first call
    there, once however long the hop lasts: the warm-up learns the geographies of the people
    not seen yet, while this person has a home."""
    ds = org_geographies("6h", "at_once")
    state = ds.new_state("geo")
    hop = MONDAY + 60 * (home_minutes + away_at)
    since = MONDAY + 60 * away_at  # the person's first call at home
    events = [invoke(MONDAY + 60 * i, user=f"us{i % 3}", region="us-east-1") for i in range(400)]
    events += [invoke(since + 60 * i, user="kim", region="us-west-2")
               for i in range(home_minutes)]  # fmt: skip
    events += [invoke(hop + 60 * i, user="kim", region="ap-northeast-1")
               for i in range(away_for)]  # fmt: skip
    firing = [s for s in feed(ds, state, events, hop + 2 * 3600)
              if s.firing and s.evidence.get("new_values")]  # fmt: skip
    assert [(s.group["user"], s.evidence["new_values"]) for s in firing] == [
        ("kim", ["ap-northeast-1"])
    ]
    assert hop <= firing[0].time <= hop + 2 * 60


def test_with_at_once_a_newcomer_in_a_new_geography_while_warming_up_is_still_learned():
    """`at_once` concerns people already calling where the organisation does: a person seen
    only in Tokyo during the warm-up is learned, as with the other settings."""
    ds = org_geographies("6h", "at_once")
    state = ds.new_state("geo")
    events = warming_up_at_home()
    events += [invoke(MONDAY + 3600 + 60 * i, user="rin", region="ap-northeast-1")
               for i in range(30)]  # fmt: skip
    firing = [s for s in feed(ds, state, events, MONDAY + 8 * 3600)
              if s.firing and s.evidence.get("new_values")]  # fmt: skip
    assert firing == []
