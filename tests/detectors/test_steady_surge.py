"""The steady-surge statistic: sequential evidence of windows at several times a key's typical
one, which no single window carries alone, which idle windows lower, and which does not depend
on the currency a key's values are in."""

from __future__ import annotations

import math
import pickle

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.steady_surge import SteadySurge, SteadySurgeParams

STEP = 300.0
values = st.floats(min_value=0.01, max_value=100.0, allow_nan=False)
histories = st.lists(values, min_size=24, max_size=120)


def learned(history: list[float], params: SteadySurgeParams | None = None) -> SteadySurge:
    """A model that has learnt `history` as consecutive active windows from t = 0."""
    m = SteadySurge(params or SteadySurgeParams())
    for i, x in enumerate(history):
        m.learn_one(x, i * STEP)
    return m


def evidence_after(m: SteadySurge, run: list[float], start: float) -> list[float]:
    """The evidence after each window of `run` (consecutive from `start`), learning each."""
    out = []
    for i, x in enumerate(run):
        t = start + i * STEP
        out.append(m.judged(x, None, None, t, 0.0)[1])
        m.learn_one(x, t)
    return out


@settings(max_examples=60, deadline=None)
@given(histories, st.floats(min_value=0.0, max_value=1e9, allow_nan=False))
def test_one_window_however_large_does_not_alert_from_rest(history, x):
    m = learned(history)
    m.evidence = 0.0
    seen = m.judged(x, None, None, len(history) * STEP, 0.0)
    assert seen[1] <= m.p.nats / m.p.min_windows + 1e-9
    assert m.score_one(seen, 0.0) < 0.5


@settings(max_examples=60, deadline=None)
@given(histories, st.lists(st.floats(min_value=0.0, max_value=1e6), min_size=1, max_size=30))
def test_evidence_never_negative_and_grows_at_most_a_share_a_window(history, run):
    m = learned(history)
    before = m.evidence
    for e in evidence_after(m, run, len(history) * STEP):
        assert 0.0 <= e <= before + m.p.nats / m.p.min_windows + 1e-9
        before = e


@settings(max_examples=60, deadline=None)
@given(histories, st.floats(min_value=1e-3, max_value=1e3), st.lists(values, max_size=12))
def test_evidence_is_the_same_in_any_unit(history, scale, run):
    """A key's spend in cents or dollars, or tokens in thousands, is judged alike."""
    a, b = learned(history), learned([x * scale for x in history])
    start = len(history) * STEP
    ours = evidence_after(a, run, start)
    theirs = evidence_after(b, [x * scale for x in run], start)
    assert all(
        math.isclose(p, q, rel_tol=1e-6, abs_tol=1e-6) for p, q in zip(ours, theirs, strict=True)
    )


@settings(max_examples=60, deadline=None)
@given(histories, st.floats(min_value=1.0, max_value=1e4), st.integers(1, 50))
def test_idle_windows_never_raise_the_evidence(history, x, idle):
    m = learned(history)
    t = len(history) * STEP
    for i in range(3):
        m.learn_one(x, t + i * STEP)
    after_run = m.evidence
    later = m.judged(x, None, None, t + (2 + idle) * STEP, 0.0)[1]
    next_one = m.judged(x, None, None, t + 3 * STEP, 0.0)[1]
    assert later <= next_one + 1e-9
    assert later <= after_run + m.p.nats / m.p.min_windows + 1e-9


@settings(max_examples=40, deadline=None)
@given(histories, st.floats(min_value=4.0, max_value=50.0))
def test_a_steady_run_past_the_tested_multiple_alerts_within_a_few_windows(history, multiple):
    """Windows at `multiple` times the key's typical (`quantile`) window, every window, reach
    the bar in as many windows as the per-window evidence says, however the history looks."""
    m = learned(history)
    m.evidence = 0.0
    typical = math.exp(m.baseline()[0])
    spread = m.baseline()[1]
    # each window at z above typical adds gain * (z - d/2) nats, at most nats / min_windows
    d = math.log(m.p.ratio)
    per_window = min(m.p.nats / m.p.min_windows, d / spread**2 * (math.log(multiple) - d / 2))
    needed = math.ceil(m.p.nats / per_window - 1e-9)
    evidence, t = 0.0, len(history) * STEP
    for i in range(needed):  # against the baseline before the run (a run also teaches it)
        evidence = m.judged(typical * multiple, None, None, t + i * STEP, 0.0)[1]
        m.evidence, m.last = evidence, t + i * STEP
    assert evidence >= m.p.nats - 1e-6


@settings(max_examples=40, deadline=None)
@given(st.lists(values, min_size=1, max_size=400), st.integers(5, 60))
def test_state_is_bounded_and_sorted(history, keep):
    m = learned(history, SteadySurgeParams(history=keep))
    assert len(m.logs) == len(m.ranked) == min(len(history), keep)
    assert m.ranked == sorted(m.logs)
    assert list(m.logs) == [math.log(x) for x in history[-keep:]]


def test_a_snapshot_restores_the_same_evidence():
    m = learned([1.0, 2.0, 0.5] * 10)
    copy = pickle.loads(pickle.dumps(m))
    run = [6.0] * 4
    assert evidence_after(m, run, 30 * STEP) == evidence_after(copy, run, 30 * STEP)


def test_a_newcomer_is_not_judged_until_settled():
    m = learned([1.0] * 5 + [30.0] * 5)
    assert not m.is_warm(0.0, 0.0)
    assert m.score_one(m.judged(30.0, None, None, 10 * STEP, 0.0), 0.0) == 0.0
