"""Live watermarks per sender: one sender's clock or silence never holds everyone back for long."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.config import SpanwatchConfig
from engine.flow.epoch_merge import EpochMsg
from engine.flow.items import Matched, Timed, ToOrder
from engine.flow.run_setup import INCIDENTS, RunSetup
from engine.flow.source_clocks import SourceClocks, pseudonym
from engine.flow.steps import OrderState
from rules.model import CorrelationInput

NOW = 1_795_000_000.0


def clocks(**overrides) -> SourceClocks:
    settings_ = {"allowed_lateness": 10.0, "idle_timeout": 60.0}
    return SourceClocks(**{**settings_, **overrides})


def test_the_watermark_follows_the_slowest_sender_less_the_allowed_lateness():
    c = clocks()
    c.arrive("a", NOW - 5, NOW)
    c.arrive("b", NOW - 20, NOW)
    assert c.watermark(NOW) == NOW - 20 - 10


def test_a_sender_whose_clock_is_hours_behind_holds_the_others_back_at_most_the_idle_timeout():
    c = clocks()
    c.arrive("punctual", NOW - 1, NOW)
    c.arrive("skewed", NOW - 3 * 3600, NOW)
    assert c.watermark(NOW) == NOW - 60 - 10


def test_a_sender_whose_clock_is_ahead_cannot_move_the_watermark_past_the_wall_clock():
    c = clocks()
    c.arrive("ahead", NOW + 200, NOW)  # within stream.max_future: the receivers let it in
    assert c.watermark(NOW) == NOW - 10
    c.arrive("punctual", NOW - 2, NOW)
    assert c.watermark(NOW) == NOW - 2 - 10


def test_an_idle_sender_stops_holding_the_watermark_back_after_the_idle_timeout():
    c = clocks()
    c.arrive("quiet", NOW, NOW)
    c.arrive("busy", NOW, NOW)
    later = NOW + 200
    c.arrive("busy", later - 1, later)
    assert c.watermark(later) == later - 60 - 10  # "quiet" holds back only this far
    c.arrive("quiet", later - 2, later)
    assert c.watermark(later) == later - 2 - 10


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", "skewed"]),
            st.floats(-1e9, 1e9, allow_nan=False),  # offset of the event time from now
            st.floats(0, 1000, allow_nan=False),  # wall time passing before it arrives
        ),
        min_size=1,
        max_size=40,
    )
)
def test_the_watermark_stays_between_idle_timeout_and_lateness_behind_the_wall_clock(arrivals):
    c, now = clocks(), NOW
    for source, offset, step in arrivals:
        now += step
        c.arrive(source, now + offset, now)
        w = c.watermark(now)
        assert now - 60 - 10 <= w <= now - 10


def test_health_names_sources_by_pseudonym_and_a_late_minute_warns_with_the_setting():
    c = clocks()
    for i in range(999):
        c.arrive("host.name=laptop-7", NOW - 1, NOW + i * 0.01)
    c.arrive("host.name=laptop-9", NOW - 4000, NOW + 10)
    c.count_late("host.name=laptop-9", NOW + 10)
    report = c.health(NOW + 10, NOW, NOW)
    assert report is not None and report.warnings == []  # 1 in 1000 is not over 0.1%
    assert set(report.sources) == {pseudonym("host.name=laptop-7"), pseudonym("host.name=laptop-9")}
    assert "laptop" not in repr(report.sources)
    c.count_late("host.name=laptop-9", NOW + 11)
    c.count_late("host.name=laptop-9", NOW + 12)  # the warning comes once a minute
    report = c.health(NOW + 12, NOW, NOW)
    assert report.sources[pseudonym("host.name=laptop-9")]["late"] == 3
    assert report.totals["late"] == 3 and report.totals["events"] == 1000
    (warning,) = report.warnings
    assert "2 of 1000 events (0.20%)" in warning
    assert "host.name=laptop-9" in warning and pseudonym("host.name=laptop-9") in warning
    assert "stream.idle_timeout" in warning  # its clock runs far behind: that is the setting
    for i in range(3000):  # a minute later; late by the sender's own order, not its clock
        c.arrive("host.name=laptop-7", NOW + 80 + i * 0.001, NOW + 81 + i * 0.001)
    for _ in range(4):
        c.count_late("host.name=laptop-7", NOW + 84)
    (warning,) = c.health(NOW + 84, NOW, NOW).warnings
    assert "stream.allowed_lateness (now 10 s)" in warning


def test_a_minute_under_the_threshold_does_not_warn():
    c = clocks()
    for i in range(3000):
        c.arrive("a", NOW + i * 0.02, NOW + i * 0.02)
    c.count_late("a", NOW + 59)
    c.count_late("a", NOW + 59.5)  # 2 in 3000: under 0.1%
    assert c.health(NOW + 59.5, NOW, NOW).warnings == []
    c.count_late("a", NOW + 59.9)
    c.count_late("a", NOW + 59.9)  # 4 in 3000: over
    assert len(c.health(NOW + 59.9, NOW, NOW).warnings) == 1


def setup_with_correlation(tmp_path) -> RunSetup:
    rule = tmp_path / "burst.yml"
    rule.write_text(
        "title: failed\nname: failed\nlogsource: {product: t}\n"
        "detection:\n  sel: {status: error}\n  condition: sel\n---\n"
        "title: burst\nname: burst\nlevel: high\ncorrelation:\n  type: event_count\n"
        "  rules: [failed]\n  group-by: [user]\n  timespan: 10m\n  condition: {gte: 3}\n"
    )
    config = SpanwatchConfig.model_validate(
        {
            "state_dir": str(tmp_path),
            "stream": {"allowed_lateness": 0, "idle_timeout": 30, "tick": 10},
            "detectors": [],
        }
    )
    return RunSetup(config, rules=[str(rule)])


def batch(setup: RunSetup, source: str, times: list[float], clock: float) -> ToOrder:
    items = []
    for i, t in enumerate(times):
        hits, windowed = setup.match({"time": t, "status": "error", "user": "u"})
        items.append(Timed(t, i, source, Matched(hits, windowed)))
    return ToOrder("live", items, clock, False, None)


def shard_items(out) -> list[CorrelationInput]:
    return [
        item
        for dest, msg in out
        if dest != INCIDENTS and isinstance(msg, EpochMsg)
        for item in msg.items
    ]


def test_an_event_behind_the_watermark_still_counts_where_its_window_is_open(tmp_path):
    setup = setup_with_correlation(tmp_path)
    state = OrderState(setup, ["live"], live=True)
    state.step(setup, batch(setup, "a", [NOW - 100], NOW - 99))
    state.step(setup, batch(setup, "a", [NOW - 1], NOW))
    assert state.shard_watermark == NOW - 1  # every second up to the watermark went out
    # a sender three minutes behind: behind the watermark, but its 10-minute window is open
    out = state.step(setup, batch(setup, "b", [NOW - 180], NOW + 1))
    out += state.step(setup, batch(setup, "a", [NOW + 44], NOW + 45))
    assert [i.time for i in shard_items(out)] == [NOW - 180, NOW - 1]  # own times, in order
    assert state.stats.late == 0
    # twenty minutes behind: every window it could join has closed
    out = state.step(setup, batch(setup, "b", [NOW - 1200], NOW + 46))
    out += state.step(setup, batch(setup, "a", [NOW + 90], NOW + 91))
    assert all(i.time > NOW - 1200 for i in shard_items(out))
    assert state.stats.late == 1 and state.clocks.clocks["b"].late == 1
    assert math.isfinite(state.shard_watermark)
