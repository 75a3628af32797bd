"""The external sort gives one order for a multiset of records, whatever the budget and input order."""

from __future__ import annotations

import doctest
import math
import os
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import replay.external_sort
from replay.external_sort import ExternalSort, SpillError

pairs = st.lists(
    st.tuples(
        st.floats(allow_nan=False, allow_infinity=False, width=64),
        st.binary(max_size=40),
    ),
    max_size=300,
)


def sort_all(directory: Path, items, budget: int, fan_in: int = 64):
    with ExternalSort(directory, memory_budget=budget, fan_in=fan_in) as s:
        for t, r in items:
            s.add(t, r)
        return list(s.merged()), s.runs_written


@settings(max_examples=60, deadline=None)
@given(pairs, st.integers(1, 4000), st.integers(2, 5), st.randoms(use_true_random=False))
def test_merged_order_is_the_sorted_multiset_for_any_budget_and_input_order(
    tmp_path_factory, items, budget, fan_in, rnd
):
    directory = tmp_path_factory.mktemp("runs")
    merged, _runs = sort_all(directory, items, budget, fan_in)
    shuffled = list(items)
    rnd.shuffle(shuffled)
    again, _ = sort_all(directory, shuffled, 10**9)
    assert merged == sorted(items) == again
    assert os.listdir(directory) == []  # every run file is gone once merged


def test_a_tiny_budget_spills_many_runs_and_merges_them_in_passes(tmp_path):
    rng = random.Random(11)
    items = [(rng.uniform(0, 1e9), rng.randbytes(rng.randint(0, 64))) for _ in range(5000)]
    merged, runs = sort_all(tmp_path, items, budget=2000, fan_in=8)
    assert runs > 300  # 5000 records at ~150 bytes each, 2000 bytes a run ... plus merge passes
    assert merged == sorted(items)
    assert os.listdir(tmp_path) == []


def test_ties_in_time_are_ordered_by_the_records_bytes(tmp_path):
    items = [(5.0, b"c"), (5.0, b"a"), (-1.5, b"z"), (5.0, b"b"), (math.pi, b"")]
    merged, _ = sort_all(tmp_path, items, budget=1)
    assert merged == [(-1.5, b"z"), (math.pi, b""), (5.0, b"a"), (5.0, b"b"), (5.0, b"c")]


def test_a_directory_that_vanished_is_a_one_line_error(tmp_path):
    gone = tmp_path / "gone"
    with pytest.raises(SpillError, match="cannot write a sorted run"):
        sort_all(gone, [(1.0, b"x")], budget=1)


def test_the_module_example_runs():
    assert doctest.testmod(replay.external_sort).failed == 0


@settings(max_examples=40, deadline=None)
@given(items=pairs, shares=st.integers(1, 4), budget=st.integers(1, 4000), seed=st.integers())
def test_runs_handed_over_by_several_sorts_merge_as_one_sort_of_every_record(
    tmp_path_factory, items, shares, budget, seed
):
    """Records added to several sorts (any split, any budgets), whose runs one sort adopts,
    come out as one sort of them all; the adopting sort's own records merge in too."""
    folder = tmp_path_factory.mktemp("shares")
    rng = random.Random(seed)
    sorts = [ExternalSort(folder / str(i), memory_budget=budget) for i in range(shares)]
    for s in sorts:
        s.directory.mkdir()
    with ExternalSort(folder, memory_budget=budget) as whole:
        for t, r in items:
            target = rng.choice([*sorts, whole])
            target.add(t, r)
        for s in sorts:
            runs = s.hand_over()
            s.close()  # what was handed over is no longer the sort's to remove
            whole.adopt(runs, s.records)
        assert whole.records == len(items)
        assert list(whole.merged()) == sorted(items)
    assert not any(folder.rglob("run-*"))
