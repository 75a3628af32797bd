"""An epoch's observations taken per key and window leave the state that taking them one by one
leaves: the same keys in the same order, windows, held-back duplicates, counters and signals."""

from __future__ import annotations

import math
import pickle
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.config import DetectorsConfig
from detectors.detectorset import DetectorSet, DetectorState
from detectors.model import Observation

BASE = 1_800_000_000.0
SHAPES: dict[str, dict[str, Any]] = {
    "count": {"kind": "ewma", "aggregation": "count"},
    "sum": {"kind": "seasonal", "aggregation": "sum", "field": "cost"},
    "distinct": {"kind": "new_value", "aggregation": "distinct", "field": "repo"},
    "rate": {"kind": "ewma", "aggregation": "rate", "condition": {"status": "error"}},
    "dedup": {
        "kind": "ewma",
        "aggregation": "count",
        "dedup": {"by": "session", "prefer": {"name": "claude.invoke"}},
    },
}


def state(shape: str, max_keys: int) -> DetectorState:
    spec = {
        "id": "d",
        "interval": "1m",
        "warmup": 0,
        "group_by": ["user"],
        "parent_by": ["team"],
        "max_keys": max_keys,
        **SHAPES[shape],
    }
    made = DetectorSet.from_config(DetectorsConfig.model_validate({"detectors": [spec]}))
    new = made.new_state("d")
    assert isinstance(new, DetectorState)
    return new


values = st.one_of(
    st.sampled_from([0.0, 1.0, 2.5, 0.25, -1.0, math.nan, math.inf]),
    st.sampled_from(["a", "b", "c"]),
    st.none(),
)
observation = st.tuples(
    st.integers(0, 400).map(lambda k: BASE + k * 0.75),  # some epochs reach back: late
    st.sampled_from(["u1", "u2", "u3", "u4", "u5"]),
    st.sampled_from(["t1", "t2"]),
    values,
    st.one_of(st.none(), st.tuples(st.sampled_from(["s1", "s2", "s3"]), st.booleans())),
)


def observations(rows: list[tuple[Any, ...]], shape: str) -> list[Observation]:
    out = []
    for t, user, team, value, mark in rows:
        if shape == "dedup" and mark is None:
            mark = ("s0", True)
        if shape != "dedup":
            mark = None
        out.append(Observation("d", t, (user,), value, (team,), None, mark))
    return out


def snapshot(s: DetectorState) -> tuple[Any, ...]:
    windows = {
        start: [(k, p, [vars_of(a) for a in accs]) for k, (p, accs) in w.items()]
        for start, w in s.open.items()
    }
    held = {
        start: (sorted(h.preferred), {by: list(w) for by, w in sorted(h.windows.items())})
        for start, h in s.held.items()
    }
    return (list(s.keys), windows, held, dict(s.stats), s.next_start, s.first_time)


def vars_of(acc: Any) -> tuple[Any, ...]:
    return (acc.count, acc.total, acc.lo, acc.hi, acc.samples, acc.distinct, acc.seen)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(sorted(SHAPES)),
    st.lists(st.lists(observation, max_size=25), min_size=1, max_size=8),
    st.sampled_from([2, 4, 100]),
)
def test_grouped_equals_one_by_one(shape: str, epochs: list[list[Any]], max_keys: int) -> None:
    grouped, single = state(shape, max_keys), state(shape, max_keys)
    rejected: list[Any] = []
    signals: tuple[list[Any], list[Any]] = ([], [])
    for n, rows in enumerate(epochs):
        batch = sorted(observations(rows, shape), key=lambda o: o.time)
        signals[0].extend(grouped.update_many(batch, lambda o, e: rejected.append(o)))
        for i, obs in enumerate(batch):  # the one-by-one path, as `update` takes it
            signals[1].extend((i, s) for s in single.update(obs))
        assert snapshot(grouped) == snapshot(single)
        watermark = BASE + (n + 1) * 40.0
        signals[0].extend(grouped.advance(watermark))
        signals[1].extend(single.advance(watermark))
        assert snapshot(grouped) == snapshot(single)
    assert pickle.dumps(signals[0]) == pickle.dumps(signals[1])
    assert not rejected
