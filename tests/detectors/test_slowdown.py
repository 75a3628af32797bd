"""A model-region's slowdown is its typical call taking longer for its answer's length: long
answers, a few slow outliers and thin traffic are not slowdowns; a 2.5x slowdown is, on a busy
model within one window and on a model called a few times in 15 minutes within an hour."""

from __future__ import annotations

import math
import pickle
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import DetectorsConfig, DetectorSet, Signal
from detectors.slowdown import Slowdown, SlowdownParams

MONDAY = 1793577600.0  # 2026-11-02T00:00:00Z
HOUR = 3600.0
DETECTOR = "latency-per-model-region"
# (model, region, per-token ms, overhead ms): a slow large model and a fast small one
MODELS = [
    ("anthropic.claude-opus-4-1", "ap-northeast-1", 22.0, 1400.0),
    ("anthropic.claude-haiku-4-5", "sa-east-1", 4.0, 300.0),
]


def latency(rng: random.Random, per_token: float, overhead: float, tokens: int) -> float:
    """Heavy-tailed around a line in the answer's length: lognormal jitter, and one call in a
    hundred stuck for 5-40x its time (a retry inside the service, a cold start)."""
    ms = (overhead + per_token * tokens) * math.exp(rng.gauss(0.0, 0.3))
    return ms * rng.uniform(5.0, 40.0) if rng.random() < 0.01 else ms


def answer(rng: random.Random, long_answers: bool) -> int:
    """Output tokens: mostly short, some long; `long_answers`: a window of 8k-token answers."""
    if long_answers:
        return rng.randint(6000, 9000)
    return int(math.exp(rng.uniform(math.log(5), math.log(4000))))


def run(
    seed: int,
    calls_per_hour: float,
    slow: float = 1.0,
    slow_model: int = 0,
    long_answers_at: float | None = None,
    tokens_known: bool = True,
) -> list[Signal]:
    """Three days of calls of both models, through the default detector; from the third day's
    13:00 for two hours model `slow_model`'s calls take `slow` times as long. With
    `long_answers_at`, one hour of answers from then is all 8k tokens long."""
    config = DetectorsConfig()
    config.detectors = [d for d in config.detectors if d.id == DETECTOR]
    ds = DetectorSet.from_config(config)
    state = ds.new_state(DETECTOR)
    rng = random.Random(seed)
    onset = MONDAY + 2 * 86400 + 13 * HOUR
    out: list[Signal] = []
    t = MONDAY
    end = MONDAY + 3 * 86400
    while t < end:
        t += rng.expovariate(calls_per_hour * len(MODELS) / HOUR)
        k = rng.randrange(len(MODELS))
        model, region, per_token, overhead = MODELS[k]
        long = long_answers_at is not None and long_answers_at <= t < long_answers_at + HOUR
        tokens = answer(rng, long)
        ms = latency(rng, per_token, overhead, tokens)
        if k == slow_model and onset <= t < onset + 2 * HOUR:
            ms *= slow
        ev = {"time": t, "name": "claude_code.api_request", "status": "ok", "model": model,
              "region": region, "latency_ms": ms, "session": f"s{rng.randrange(50)}",
              **({"tokens_out": tokens} if tokens_known else {})}  # fmt: skip
        for obs in ds.route(ev):
            out += state.update(obs)
        out += state.advance(t)
    return [s for s in out if s.firing]


def first_alert(fired: list[Signal], ends: bool = True) -> float:
    onset = MONDAY + 2 * 86400 + 13 * HOUR
    assert fired, "missed"
    assert {s.group["model"] for s in fired} == {MODELS[0][0]}, [
        (s.group, s.time, s.evidence) for s in fired
    ]
    assert fired[0].time > onset, fired[0]
    # and it stops with the slowdown: the slow calls of the last hour, joined to an ordinary
    # window after it, are not a slowdown (it keeps firing for six quiet windows, so a thin
    # model's slowdown with a gap in its calls stays one incident)
    assert not ends or fired[-1].time <= onset + 2 * HOUR + 2100, fired[-1]
    return fired[0].time - onset


def test_ordinary_heavy_tailed_calls_and_long_answers_are_not_slowdowns():
    for seed in (1, 2, 3):
        assert run(seed, calls_per_hour=40) == [], f"seed {seed}"
    # an hour of 8k-token answers: each call takes minutes, as its length says it should
    assert run(4, calls_per_hour=60, long_answers_at=MONDAY + 86400 + 15 * HOUR) == []
    # a thin model-region: the odd window of one or two outliers is not enough
    assert run(5, calls_per_hour=10) == []


def test_a_busy_models_slowdown_is_found_within_its_first_window():
    for seed in (6, 7):
        delay = first_alert(run(seed, calls_per_hour=120, slow=2.5))
        assert delay <= 15 * 60 + 900, f"seed {seed}: after {delay} s"  # the window it closes


def test_a_thin_models_slowdown_gathers_evidence_over_its_windows():
    # three calls per 15 minutes: found within the hour
    for seed in (8, 9):
        delay = first_alert(run(seed, calls_per_hour=12, slow=3.5))
        assert delay <= HOUR, f"seed {seed}: after {delay} s"
    # six calls an hour: found while it lasts
    for seed in (8, 9):
        delay = first_alert(run(seed, calls_per_hour=6, slow=3.5))
        assert delay <= 2 * HOUR, f"seed {seed}: after {delay} s"


def test_a_mild_slowdown_is_below_the_minimum_effect():
    # 40% slower with plenty of calls: significant, but not a slowdown worth a page
    assert run(10, calls_per_hour=300, slow=1.4) == []


def test_without_output_tokens_the_latency_alone_is_judged():
    assert run(11, calls_per_hour=60, tokens_known=False) == []
    # (answers of every length look alike then: its end is less sharp)
    first_alert(run(12, calls_per_hour=60, slow=4.0, tokens_known=False), ends=False)


def ordinary_window(rng: random.Random, n: int) -> list[tuple[float, float | None]]:
    out: list[tuple[float, float | None]] = []
    for _ in range(n):
        tokens = answer(rng, False)
        out.append((latency(rng, 10.0, 600.0, tokens), float(tokens)))
    return out


def trained(seed: int) -> Slowdown:
    rng = random.Random(seed)
    m = Slowdown(SlowdownParams())
    for i in range(200):
        m.learn_one(ordinary_window(rng, 5), i * 900.0)
    return m


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 3),
    n=st.integers(1, 60),
    outliers=st.lists(st.floats(1.0, 1e4), max_size=2),
    steps=st.integers(1, 3),
)
def test_two_outliers_however_slow_never_make_a_slowdown(seed, n, outliers, steps):
    m = trained(seed)
    rng = random.Random(seed + 100)
    t = 200 * 900.0
    for _ in range(steps - 1):  # ordinary windows before, whose evidence it may join
        m.learn_one(ordinary_window(rng, n), t)
        t += 900.0
    window = ordinary_window(rng, n)
    for i, factor in enumerate(outliers):
        lat, tokens = window[i % len(window)]
        window[i % len(window)] = (lat * factor, tokens)
    assert m.score_one(window, t) < 0.5


def test_a_slowdown_does_not_become_the_baseline_and_the_model_pickles():
    m = trained(1)
    rng = random.Random(2)
    t = 200 * 900.0
    for _ in range(8):  # two hours slow
        w = [(lat * 3.0, k) for lat, k in ordinary_window(rng, 10)]
        assert m.score_one(w, t) > 0.5
        m.learn_one(w, t)
        t += 900.0
    m = pickle.loads(pickle.dumps(m))
    assert m.score_one([(lat * 3.0, k) for lat, k in ordinary_window(rng, 10)], t) > 0.5
    t += 4 * 900.0  # an hour later, back to normal
    assert m.score_one(ordinary_window(rng, 10), t) < 0.5


def test_a_model_saved_before_the_root_kept_model_curves_loads_and_scores_alike():
    """State saved by a version whose models had no `said`, `models` or `lent` yet: the
    loaded model has fresh ones and scores as the saved one did."""
    m = trained(1)
    _, slots = m.__getstate__()
    old = {k: v for k, v in slots.items() if k not in ("said", "models", "lent")}
    loaded = Slowdown.__new__(Slowdown)
    loaded.__setstate__((None, old))
    assert (loaded.said, loaded.models, loaded.lent) == ({}, {}, None)
    window = ordinary_window(random.Random(3), 10)
    assert loaded.score_one(window, 200 * 900.0) == m.score_one(window, 200 * 900.0)


def test_answers_longer_than_any_learned_are_learned_not_judged():
    # a day and a half of short answers only, then long ones: the curve of the short answers
    # says nothing of the long ones, whose latency is as ordinary as ever
    rng = random.Random(5)
    m = Slowdown(SlowdownParams())
    t = 0.0
    for _ in range(150):
        calls = [
            (latency(rng, 7.0, 500.0, k), float(k)) for k in (rng.randint(5, 40) for _ in range(4))
        ]
        m.learn_one(calls, t)
        t += 900.0
    for _ in range(100):
        lengths = [rng.randint(300, 3000) for _ in range(6)] + [rng.randint(5, 40)]
        calls = [(latency(rng, 7.0, 500.0, k), float(k)) for k in lengths]
        assert m.score_one(calls, t) < 0.5, t
        m.learn_one(calls, t)
        t += 900.0
    # once learned, a slowdown of the long answers is one
    slow = [(3.0 * latency(rng, 7.0, 500.0, k), float(k)) for k in (800, 1200, 1500, 2500)]
    assert m.score_one(slow, t) > 0.5


def test_calls_without_a_region_page_once_the_models_calls_no_longer_say_one():
    """A model's calls say their region for a day, then stop saying it (an organisation that
    moved from the wrapper's spans to Claude Code's own events): while the regional key is
    recent the region-less key only learns; a day later its slowdown pages, under `unknown`."""
    config = DetectorsConfig()
    config.detectors = [d for d in config.detectors if d.id == DETECTOR]
    ds = DetectorSet.from_config(config)
    state = ds.new_state(DETECTOR)
    rng = random.Random(21)
    model, region, per_token, overhead = MODELS[0]
    onset = MONDAY + 2 * 86400 + 13 * HOUR
    fired: list[Signal] = []
    t, snapshotted = MONDAY, False
    while t < onset + 2 * HOUR:
        t += rng.expovariate(60.0 / HOUR)
        ms = latency(rng, per_token, overhead, tokens := answer(rng, False))
        said = {"region": region} if t < MONDAY + 86400 else {}
        ev = {"time": t, "name": "claude_code.api_request", "status": "ok", "model": model,
              "latency_ms": ms * (3.0 if t >= onset else 1.0), "tokens_out": tokens,
              "session": f"s{rng.randrange(50)}", **said}  # fmt: skip
        for obs in ds.route(ev):
            fired += state.update(obs)
        fired += state.advance(t)
        if not snapshotted and t >= MONDAY + 86400 + HOUR:
            snapshotted = True  # the root's memory survives a snapshot
            state = pickle.loads(pickle.dumps(state))
    fired = [s for s in fired if s.firing]
    assert [s.group["region"] for s in fired[:1]] == ["unknown"], fired
    assert onset < fired[0].time <= onset + HOUR
    # what the root remembers: one model, last seen with its region on the first day
    said = state.root.said if state.root is not None else {}
    assert len(said) == 1 and max(said.values()) < MONDAY + 86400, said
