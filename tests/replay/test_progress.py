"""The progress line: what it says, how often it redraws, and silence off a terminal."""

from __future__ import annotations

import doctest
import io

from hypothesis import given
from hypothesis import strategies as st

import replay.progress
from replay.progress import MB, Progress


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def drawings(out: io.StringIO) -> list[str]:
    return [d.removesuffix("\x1b[K") for d in out.getvalue().split("\r")[1:]]


def test_the_docstring_example_holds():
    assert doctest.testmod(replay.progress).failed == 0


def test_redraws_are_throttled_except_the_last_and_close_wipes_the_line():
    out, clock = io.StringIO(), Clock()
    p = Progress(out, enabled=True, clock=clock, interval=0.5, width=120)
    p.stage("replaying", total=1000, unit="events")
    for n in range(1, 1001):
        clock.t = n * 0.001  # a second in all: two redraws by time, and the last
        p.update(n, n)
    p.close()
    drawn = drawings(out)
    assert drawn[0] == "replaying: 0 events · 0/1,000 events"
    assert drawn[-1] == ""  # wiped
    assert drawn[-2].startswith("replaying: 1,000 events · 1,000 events/s · 1,000/1,000 events")
    assert "ETA" not in drawn[-2]
    assert 3 <= len(drawn) <= 5


def test_an_unknown_total_shows_no_eta_and_a_narrow_terminal_truncates():
    out, clock = io.StringIO(), Clock()
    p = Progress(out, enabled=True, clock=clock, width=20)
    p.stage("reading 3 file(s)", total=None, unit="bytes")
    clock.t = 2.0
    p.update(5 * MB, 123_456, force=True)
    assert all(len(d) <= 19 for d in drawings(out))
    wide = io.StringIO()
    q = Progress(wide, enabled=True, clock=clock, width=200)
    q.stage("reading", total=None, unit="bytes")
    q.update(5 * MB, 10, force=True)
    assert "ETA" not in wide.getvalue() and "MB" not in wide.getvalue()


def test_off_a_terminal_nothing_is_written():
    out = io.StringIO()  # not a terminal
    p = Progress(out)
    p.stage("simulating", 7, "days")
    p.update(7, 10, force=True)
    p.close()
    assert not p.enabled and out.getvalue() == ""


@given(
    total=st.floats(1, 1e12),
    fraction=st.floats(0, 1),
    elapsed=st.floats(0, 1e6),
    events=st.integers(0, 10**12),
)
def test_the_line_is_one_line_and_the_eta_never_negative(total, fraction, elapsed, events):
    p = Progress(io.StringIO(), enabled=True)
    p.name, p.total, p.unit = "replaying", total, "events"
    line = p.line(total * fraction, events, elapsed)
    assert "\n" not in line and "\r" not in line and "-" not in line.split("ETA")[-1]
