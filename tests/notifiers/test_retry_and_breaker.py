"""Backoff, pacing and the circuit breaker, with fake clocks (no sleeping)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from notifiers.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from notifiers.receiver import DeliveryError, http_result, parse_retry_after
from notifiers.retry import RateLimiter, RetryPolicy


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@settings(max_examples=100)
@given(
    failures=st.integers(min_value=1, max_value=200),
    jitter=st.floats(min_value=0, max_value=1),
    draw=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_backoff_grows_exponentially_within_cap_and_jitter(
    failures: int, jitter: float, draw: float
) -> None:
    policy = RetryPolicy(initial=0.5, maximum=30.0, multiplier=2.0, jitter=jitter)
    base = min(30.0, 0.5 * 2.0 ** (failures - 1))
    delay = policy.backoff(failures, rng=lambda: draw)
    assert base * (1 - jitter) - 1e-9 <= delay <= base + 1e-9


def test_retry_after_wins_over_backoff_but_is_capped() -> None:
    policy = RetryPolicy(initial=0.01, max_retry_after=10.0)
    assert policy.wait_after(1, DeliveryError("429", status=429, retry_after=3.0)) == 3.0
    assert policy.wait_after(1, DeliveryError("429", status=429, retry_after=3600.0)) == 10.0


def test_http_statuses_map_to_retry_decisions() -> None:
    assert http_result(202) == (False, None)
    retryable, error = http_result(429, "slow down", "7")
    assert retryable and error is not None and error.retry_after == 7.0 and error.rate_limited
    assert http_result(503)[0] is True
    assert http_result(400, "invalid_blocks")[0] is False
    assert http_result(404)[0] is False
    assert parse_retry_after("soon") is None


def test_rate_limiter_spaces_sends_by_the_minimum_interval() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1.0, clock=clock)
    assert limiter.reserve() == 0.0
    assert limiter.reserve() == 1.0  # booked one second after the first
    assert limiter.reserve() == 2.0
    clock.now += 10
    assert limiter.reserve() == 0.0
    limiter.push_back(5.0)
    assert limiter.reserve() == 5.0


def test_breaker_opens_after_threshold_then_lets_one_probe_through() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=3, reset_seconds=30, clock=clock)
    for _ in range(3):
        assert breaker.wait_time() == 0
        breaker.failure()
    assert breaker.state == OPEN and breaker.times_opened == 1
    assert breaker.wait_time() == 30
    clock.now += 30
    assert breaker.state == HALF_OPEN
    assert breaker.wait_time() == 0  # the probe
    assert breaker.wait_time() > 0  # nobody else while it is out
    breaker.failure()
    assert breaker.state == OPEN and breaker.times_opened == 2
    clock.now += 30
    assert breaker.wait_time() == 0
    breaker.success()
    assert breaker.state == CLOSED and breaker.wait_time() == 0


@settings(max_examples=80)
@given(
    steps=st.lists(st.sampled_from(["success", "failure", "release", "tick", "ask"]), max_size=60),
    threshold=st.integers(min_value=1, max_value=4),
)
def test_breaker_state_machine_invariants(steps: list[str], threshold: int) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=threshold, reset_seconds=10, clock=clock)
    consecutive = 0
    for step in steps:
        state = breaker.state
        if step == "success":
            breaker.success()
            consecutive = 0
            assert breaker.state == CLOSED
        elif step == "failure":
            consecutive += 1
            breaker.failure()
            if state == HALF_OPEN or consecutive >= threshold:
                assert breaker.state == OPEN
        elif step == "release":
            breaker.release()
        elif step == "tick":
            clock.now += 4
        else:
            wait = breaker.wait_time()
            if state == CLOSED:
                assert wait == 0
            if state == OPEN:
                assert wait > 0  # never through while open
        assert breaker.state in (CLOSED, OPEN, HALF_OPEN)
        if breaker.state == CLOSED:
            assert consecutive < threshold or step == "success"
