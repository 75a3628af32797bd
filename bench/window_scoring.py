"""The scoring of labelled-window benchmarks such as the Numenta Anomaly Benchmark (NAB).

A detector gives every row of a series an anomaly score; a threshold turns scores into
detections. Each labelled anomaly window is worth one true positive, earned by the first
detection inside it and weighted by how early it came; every detection outside a window costs
a false-positive weight, less when it comes soon after a window (the anomaly may still be
settling); a window without a detection costs the false-negative weight. The benchmark then
picks, per cost profile, the single threshold that maximises the profile's total over all
series, and normalises the total between the null detector (0) and the perfect one (100).

Every rule below is the benchmark's own, written from its description:

- positions are counted in rows, not in time: a window runs from the first row at or after
  its start to the last row at or before its end;
- the first min(floor(15% of the rows), 750) rows are the probationary period: rows there
  are neither detections nor misses (a window that ends there is not scored at all);
- a detection at row i of a window [a, b] scores sigma(-(b - i + 1) / (b - a + 1)) / sigma(-1),
  where sigma(y) = 2 / (1 + exp(5y)) - 1 (about 1 at the start, 0 at the end), times the
  true-positive weight; only the best (that is, the first) detection of a window counts;
- a detection outside every window scores sigma(|i - b| / (w - 1)) times the false-positive
  weight, with [., b] and w the last window that ended before it (sigma(y) is -1 from y = 3
  on, and for a detection before any window);
- a threshold t detects every row whose score is >= t; thresholds searched are every distinct
  score (and one above them all), and the best total wins (the highest threshold on a tie);
- the perfect detector is the true-positive weight times the number of windows, the null
  detector is the same search over a constant score (it settles for detecting nothing).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

PROBATION_SHARE = 0.15
PROBATION_CAP_ROWS = 5000  # the share of this many rows: 750 at 15%


@dataclass(frozen=True)
class Profile:
    """How much a caught window earns and what a false alarm and a missed window cost."""

    tp: float
    fp: float
    fn: float


PROFILES = {
    "standard": Profile(tp=1.0, fp=0.11, fn=1.0),
    "reward_low_FP": Profile(tp=1.0, fp=0.22, fn=1.0),
    "reward_low_FN": Profile(tp=1.0, fp=0.11, fn=2.0),
}


def scaled_sigmoid(position: float) -> float:
    """2 / (1 + e^(5y)) - 1: 0.987 at the start of a window (y = -1), 0 at its end (y = 0),
    -0.987 one window-width after it (y = 1), and -1 from three widths on."""
    if position >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


MAX_TP = scaled_sigmoid(-1.0)


def probation_rows(n_rows: int) -> float:
    """How many leading rows are not scored: min(floor(15% of them), 750)."""
    return min(math.floor(PROBATION_SHARE * n_rows), PROBATION_SHARE * PROBATION_CAP_ROWS)


def window_rows(times: Sequence[float], windows: Iterable[tuple[float, float]]):
    """Each window as (first row, last row): the first row at or after its start and the
    last at or before its end; windows that hold no row are dropped."""
    out = []
    n = len(times)
    for start, end in windows:
        first = next((i for i in range(n) if times[i] >= start), n)
        last = next((i for i in range(n - 1, -1, -1) if times[i] <= end), -1)
        if first <= last:
            out.append((first, last))
    return sorted(out)


@dataclass(frozen=True)
class Row:
    """One scorable row: its anomaly score, what detecting it is worth, its window (or None)."""

    score: float
    worth: float
    window: tuple[str, int] | None


def sweep_rows(
    name: str, scores: Sequence[float], windows: Sequence[tuple[int, int]], profile: Profile
) -> list[Row]:
    """The scorable rows of one series (probation left out), each with what a detection there
    would add to the total under `profile`."""
    n = len(scores)
    probation = probation_rows(n)
    owner: list[int | None] = [None] * n
    for k, (a, b) in enumerate(windows):
        for i in range(a, b + 1):
            owner[i] = k
    rows = []
    prev_end: int | None = None
    prev_width = 0
    for i, s in enumerate(scores):
        window = owner[i]
        if window is not None:
            a, b = windows[window]
            width = b - a + 1
            worth = scaled_sigmoid(-(b - i + 1) / width) * profile.tp / MAX_TP
            if i == b:
                prev_end, prev_width = b, width
        elif prev_end is None or prev_width <= 1:
            worth = scaled_sigmoid(3.0) * profile.fp
        else:
            worth = scaled_sigmoid(abs(prev_end - i) / (prev_width - 1)) * profile.fp
        if i >= probation:
            rows.append(Row(s, worth, None if window is None else (name, window)))
    return rows


@dataclass(frozen=True)
class Outcome:
    """The total at one threshold and what made it."""

    threshold: float
    total: float
    caught: int
    missed: int
    false_alarms: int


def totals_by_threshold(rows: Iterable[Row], profile: Profile) -> list[Outcome]:
    """The total at every distinct score used as the threshold, highest threshold first,
    starting above every score (no detection: every scorable window missed)."""
    ordered = sorted(rows, key=lambda r: r.score, reverse=True)
    best: dict[tuple[str, int], float] = {}
    for r in ordered:
        if r.window is not None:
            best[r.window] = -profile.fn
    n_windows = len(best)
    fp_total, fp_count, caught, window_sum = 0.0, 0, 0, -profile.fn * n_windows
    out = [Outcome(math.inf, window_sum, 0, n_windows, 0)]
    i = 0
    while i < len(ordered):
        threshold = ordered[i].score
        while i < len(ordered) and ordered[i].score == threshold:
            r = ordered[i]
            if r.window is None:
                fp_total += r.worth
                fp_count += 1
            elif r.worth > best[r.window]:
                if best[r.window] == -profile.fn:
                    caught += 1
                window_sum += r.worth - best[r.window]
                best[r.window] = r.worth
            i += 1
        out.append(Outcome(threshold, window_sum + fp_total, caught, n_windows - caught, fp_count))
    return out


def best_threshold(rows: Iterable[Row], profile: Profile) -> Outcome:
    """The threshold with the highest total (the highest such threshold on a tie)."""
    outcomes = totals_by_threshold(rows, profile)
    top = max(o.total for o in outcomes)
    return next(o for o in outcomes if o.total == top)


@dataclass(frozen=True)
class Series:
    """One labelled series as scored: its name, each row's score, its windows in rows."""

    name: str
    scores: Sequence[float]
    windows: Sequence[tuple[int, int]]


@dataclass(frozen=True)
class Result:
    """A detector's normalised score for one profile, and the raw figures behind it."""

    profile: str
    score: float
    threshold: float
    raw: float
    null: float
    perfect: float
    caught: int
    missed: int
    false_alarms: int


def score_corpus(series: Sequence[Series], profile_name: str) -> Result:
    """The benchmark's normalised score of one detector over `series` for one profile."""
    profile = PROFILES[profile_name]
    rows = [r for s in series for r in sweep_rows(s.name, s.scores, s.windows, profile)]
    best = best_threshold(rows, profile)
    null_rows = [
        r for s in series for r in sweep_rows(s.name, [0.5] * len(s.scores), s.windows, profile)
    ]
    null = best_threshold(null_rows, profile).total
    perfect = profile.tp * sum(len(s.windows) for s in series)
    span = perfect - null
    normalised = 100.0 * (best.total - null) / span if span > 0 else 0.0
    return Result(
        profile_name,
        normalised,
        best.threshold,
        best.total,
        null,
        perfect,
        best.caught,
        best.missed,
        best.false_alarms,
    )
