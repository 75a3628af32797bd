"""The burst test's ratio is asked for every run of windows in a span against one learned
rate, so the terms of that rate are computed once (`BurstRatio`). Doing so must not move a
single bit: the alerts a history gives, and the incident logs, depend on these values."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.binomial_evidence import BurstRatio, burst_log_likelihood_ratio


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def plain_ratio(k: int, n: int, hits: float, trials: float, share: float, ordinary: float) -> float:
    """The ratio written out in one piece, every term computed for the one (k, n)."""
    if n <= 0 or not 0.0 < share < 1.0:
        return 0.0
    k = min(max(k, 0), n)
    a = max(hits, 0.0) + 0.5
    b = max(trials - hits, 0.0) + 0.5
    outage = k * math.log(share) + (n - k) * math.log1p(-share)
    usual = _log_beta(k + a, n - k + b) - _log_beta(a, b)
    if 0.0 < ordinary < share:
        usual = max(usual, k * math.log(ordinary) + (n - k) * math.log1p(-ordinary))
    return outage - usual


shares = st.one_of(st.floats(-0.5, 1.5), st.sampled_from([0.0, 1.0, 0.3, 0.5]))


@settings(max_examples=300, deadline=None)
@given(
    runs=st.lists(st.tuples(st.integers(-2, 40), st.integers(-1, 200)), min_size=1, max_size=12),
    hits=st.floats(-5.0, 5_000.0),
    trials=st.floats(0.0, 100_000.0),
    share=shares,
    ordinary=st.one_of(st.just(0.0), st.floats(-0.2, 1.0)),
)
def test_one_ratio_for_many_runs_equals_each_computed_alone(runs, hits, trials, share, ordinary):
    """Every (k, n) of a span, with or without the composite null, in or out of range: the
    reused rate gives the very float the whole computation gives."""
    ratio = BurstRatio(hits, trials, share, ordinary)
    for k, n in runs:
        expected = plain_ratio(k, n, hits, trials, share, ordinary)
        assert ratio(k, n) == expected
        assert burst_log_likelihood_ratio(k, n, hits, trials, share, ordinary) == expected
