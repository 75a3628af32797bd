"""Write labelled metric series to develop detectors against, in the layout of public benchmarks.

Run: .venv/bin/python bench/make_labelled_series.py --out DIR [--seed N] [--copies K]
     [--lengths MIN:MAX] [--step SECONDS]

DIR gets `<family>/<name>.csv` files (`timestamp,value`) and `windows.json`, which maps each
file's path relative to DIR to its anomaly windows `[[start, end], ...]` as the Numenta
Anomaly Benchmark lays them out: a tenth of the series' length shared among its anomalies,
each window centred on an anomaly's onset. Families: noise-only series that must stay quiet
(white, daily, random-walk, heavy-tailed, counts, flat, square wave), and series with one or
two anomalies (level shifts up and down, spikes, dips to zero, drifts, daily patterns that
break or flatten, variance changes, spikes that come more often). Every series draws its own
length, step, scale, offset, noise and start time from the seed, so `--copies` gives as many
different series of each shape as asked; nothing is tuned to one seed.

Shapes like those of public benchmarks' known-cause and artificial series come too: flat
lines with a step, daily cycles whose peak jumps or whose middle flattens, integer counts on
daily and weekly cycles (quiet, or with a holiday or a burst), a machine's slow drift towards
failure, bursty heavy-tailed counts. `--lengths 1000:22000 --step 300` gives series of the
lengths and sampling of those benchmarks (lengths drawn log-uniformly).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

Shape = Callable[[random.Random, int, list[int]], list[float]]


def base(rng: random.Random, n: int, step: float, daily: bool) -> list[float]:
    """A level, a daily pattern (maybe) and AR(1) noise, on a random scale."""
    scale = 10 ** rng.uniform(-2, 5)
    level = scale * rng.uniform(2, 10)
    amp = scale * rng.uniform(0.5, 3) if daily else 0.0
    noise = scale * rng.uniform(0.05, 0.4)
    phi = rng.uniform(0.0, 0.8)
    phase = rng.uniform(0, 2 * math.pi)
    per_day = 86400.0 / step
    out, e = [], 0.0
    for i in range(n):
        e = phi * e + math.sqrt(1 - phi * phi) * rng.gauss(0, noise)
        out.append(level + amp * math.sin(2 * math.pi * i / per_day + phase) + e)
    return out


def onsets(rng: random.Random, n: int, k: int) -> list[int]:
    """k anomaly onsets in the scored part of the series, well apart."""
    lo, hi = int(0.3 * n), int(0.92 * n)
    while True:
        picks = sorted(rng.sample(range(lo, hi), k))
        if all(b - a > n // 6 for a, b in itertools.pairwise(picks)):
            return picks


def typical(xs: list[float]) -> float:
    """A robust spread of the series: the interquartile range of its first part."""
    head = sorted(xs[: len(xs) // 5])
    return max(head[3 * len(head) // 4] - head[len(head) // 4], 1e-9)


def quiet(shape: str, rng: random.Random, n: int, step: float) -> list[float]:
    """A noise-only series of a named shape."""
    if shape in ("quiet_white", "quiet_daily"):
        return base(rng, n, step, shape == "quiet_daily")
    if shape == "quiet_walk":
        x, out = rng.uniform(50, 500), []
        for _ in range(n):
            x += rng.gauss(0, 1) - 0.002 * (x - 200)
            out.append(x)
        return out
    if shape == "quiet_heavy":
        s = 10 ** rng.uniform(0, 4)
        return [s * rng.lognormvariate(0, 1.0) for _ in range(n)]
    if shape == "quiet_counts":
        lam = rng.uniform(0.5, 30)
        return [float(_poisson(rng, lam)) for _ in range(n)]
    if shape == "quiet_flat":
        return [round(rng.uniform(-100, 100), 2)] * n
    lo, hi, period = rng.uniform(0, 20), rng.uniform(50, 100), int(86400 / step)
    return [hi if (i % period) < period // 2 else lo for i in range(n)]  # quiet_square


def plant(
    shape: str, rng: random.Random, xs: list[float], span: tuple[int, int, int], daily: bool
) -> None:
    """One anomaly of a named shape: span is its onset, its end and (for a level shift, which
    may last to the series' end) where it stops."""
    a, end, last = span
    n, spread, sign = len(xs), typical(xs), rng.choice((-1.0, 1.0))
    if shape == "level_shift":
        size = sign * spread * rng.uniform(1.0, 3.0)
        for i in range(a, last):
            xs[i] += size
    elif shape == "spike":
        for i in range(a, min(n, a + rng.randint(1, 3))):
            xs[i] += sign * spread * rng.uniform(3.0, 8.0)
    elif shape == "dropout":
        for i in range(a, min(n, a + rng.randint(3, 30))):
            xs[i] = 0.0
    elif shape == "drift":
        rate = sign * spread * rng.uniform(1.5, 4.0) / (end - a)
        for i in range(a, n):
            xs[i] += rate * (min(i, end) - a)
    elif shape == "seasonal_break":
        ref = xs[a]
        for i in range(a, end):
            xs[i] = ref + 0.2 * (xs[i] - ref) if daily else ref + rng.gauss(0, spread * 0.05)
    elif shape == "variance":
        mid = sum(xs[a - 50 : a]) / 50
        for i in range(a, end):
            xs[i] = mid + (xs[i] - mid) * rng.uniform(3.0, 5.0)
    elif shape == "spike_density":
        for i in range(a, end):
            if rng.random() < 0.08:
                xs[i] += spread * rng.uniform(2.0, 4.0)


def make(shape: str, rng: random.Random, n: int, step: float) -> tuple[list[float], list[int]]:
    """One series of a named shape and its anomaly onsets (empty for noise-only shapes)."""
    daily = rng.random() < 0.6
    if shape in QUIET:
        return quiet(shape, rng, n, step), []
    if shape in _CAUSES:
        return _CAUSES[shape](rng, n, step)
    xs = base(rng, n, step, daily)
    k = 2 if rng.random() < 0.4 else 1
    at = onsets(rng, n, k)
    for a in at:
        end = min(n, a + rng.randint(n // 20, n // 8))
        plant(shape, rng, xs, (a, end, n if k == 1 else end), daily)
    return xs, at


def _poisson(rng: random.Random, lam: float) -> int:
    if lam > 50.0:  # the normal approximation: the product method underflows
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p < limit:
            return k
        k += 1


def _cycle(rng: random.Random, n: int, step: float, weekly: bool) -> list[float]:
    """A daily cycle in [0, 1] (a working-day bump, not a sine), quieter at weekends."""
    per_day = 86400.0 / step
    phase, width = rng.uniform(0, 1), rng.uniform(0.15, 0.35)
    out = []
    for i in range(n):
        day, frac = divmod(i / per_day + phase, 1.0)
        bump = math.exp(-(((frac - 0.5) / width) ** 2))
        out.append(bump * (0.3 if weekly and day % 7 >= 5 else 1.0))
    return out


def flat_step(rng: random.Random, n: int, step: float) -> tuple[list[float], list[int]]:
    """A flat line (maybe a little noise) that steps up or down once."""
    level = rng.uniform(-50, 100)
    size = rng.choice((-1.0, 1.0)) * rng.uniform(5, 60)
    noise = rng.choice((0.0, 0.0, 0.01, 0.1))
    (a,) = onsets(rng, n, 1)
    return [level + (size if i >= a else 0.0) + rng.gauss(0, noise) for i in range(n)], [a]


def daily_jump(rng: random.Random, n: int, step: float) -> tuple[list[float], list[int]]:
    """A daily cycle whose peaks jump up or down from the onset on, or flatten for a day."""
    level, amp = rng.uniform(10, 100), rng.uniform(20, 80)
    noise = amp * rng.choice((0.0, 0.02, 0.1))
    cyc = _cycle(rng, n, step, False)
    (a,) = onsets(rng, n, 1)
    how = rng.choice(("up", "down", "flat"))
    after = {"up": rng.uniform(1.6, 2.0), "down": 0.4, "flat": 0.0}[how]
    day = int(86400 / step)
    out = []
    for i, c in enumerate(cyc):
        gain = 1.0
        if i >= a and (how != "flat" or i < a + day):
            gain = after
        out.append(level + amp * c * gain + rng.gauss(0, noise))
    return out, [a]


def weekly_counts(rng: random.Random, n: int, step: float) -> tuple[list[float], list[int]]:
    """Integer counts on daily and weekly cycles (taxis, requests) with a holiday or a burst,
    or none (a third of them stay quiet)."""
    base_rate, peak = rng.uniform(1, 40), rng.uniform(2, 400)
    cyc = _cycle(rng, n, step, True)
    kind = rng.choice(("quiet", "holiday", "burst"))
    at = [] if kind == "quiet" else onsets(rng, n, 1)
    day = int(86400 / step)
    out = []
    for i, c in enumerate(cyc):
        lam = base_rate + peak * c
        if at and at[0] <= i < at[0] + day:
            lam = base_rate + peak * c * 0.2 if kind == "holiday" else lam * 3.0
        out.append(float(_poisson(rng, lam)))
    return out, at


def machine_failure(rng: random.Random, n: int, step: float) -> tuple[list[float], list[int]]:
    """A machine's temperature: a mean-reverting level that drifts before it fails (falls)."""
    level, sd = rng.uniform(60, 100), rng.uniform(0.5, 3)
    a, b = onsets(rng, n, 2)
    ramp = rng.randint(50, 400)
    x, out = level, []
    for i in range(n):
        x += rng.gauss(0, sd * 0.3) - 0.05 * (x - level)
        drift = 0.0
        if a <= i < a + ramp:
            drift = -level * 0.5 * (i - a) / ramp
        elif i >= b:
            drift = level * 0.15 * min(1.0, (i - b) / ramp)
        out.append(x + drift)
    return out, [a, b]


def burst_counts(rng: random.Random, n: int, step: float) -> tuple[list[float], list[int]]:
    """Bursty, heavy-tailed counts (mentions of a name) with one or two bursts far above."""
    mu, s = rng.uniform(1, 5), rng.uniform(0.3, 0.7)
    out = [float(round(math.exp(rng.gauss(mu, s)))) for _ in range(n)]
    k = rng.choice((1, 2))
    at = onsets(rng, n, k)
    for a in at:
        peak = math.exp(mu + s * rng.uniform(6, 10))
        for i in range(a, min(n, a + rng.randint(2, 12))):
            out[i] += float(round(peak * rng.uniform(0.5, 1.0)))
    return out, at


_CAUSES = {
    "flat_step": flat_step,
    "daily_jump": daily_jump,
    "weekly_counts": weekly_counts,
    "machine_failure": machine_failure,
    "burst_counts": burst_counts,
}


QUIET: tuple[str, ...] = ("quiet_white", "quiet_daily", "quiet_walk", "quiet_heavy", "quiet_counts")
QUIET += ("quiet_flat", "quiet_square")
ANOMALOUS: tuple[str, ...] = ("level_shift", "spike", "dropout", "drift", "seasonal_break")
ANOMALOUS += ("variance", "spike_density", *_CAUSES)


def windows_for(times: list[float], at: list[int]) -> list[tuple[float, float]]:
    """Windows centred on the onsets, together a tenth of the series' length."""
    n = len(times)
    if not at:
        return []
    width = max(2, int(0.1 * n / len(at)))
    out = []
    for a in at:
        lo = max(0, a - width // 2)
        hi = min(n - 1, lo + width - 1)
        out.append((times[lo], times[hi]))
    return out


def stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--copies", type=int, default=3, help="series of each shape")
    parser.add_argument("--lengths", default="1500:6000", help="MIN:MAX rows of a series")
    parser.add_argument("--step", type=float, default=0.0, help="seconds (0: drawn per series)")
    args = parser.parse_args()
    low, high = (int(v) for v in args.lengths.split(":"))
    root = Path(args.out)
    labels: dict[str, list[list[str]]] = {}
    for shape in (*QUIET, *ANOMALOUS):
        for copy in range(args.copies):
            rng = random.Random(f"{args.seed}:{shape}:{copy}")
            n = round(math.exp(rng.uniform(math.log(low), math.log(high))))
            step = args.step or rng.choice((60.0, 300.0, 300.0, 600.0, 3600.0))
            t0 = float(rng.randint(1_300_000_000, 1_800_000_000) // 60 * 60)
            xs, at = make(shape, rng, n, step)
            times = [t0 + i * step for i in range(n)]
            digits = rng.choice((3, 4, 6, 9))  # significant digits, as exports write them
            family = "quiet" if shape in QUIET or not at else "anomalous"
            rel = f"{family}/{shape}_{copy}.csv"
            (root / family).mkdir(parents=True, exist_ok=True)
            with (root / rel).open("w", encoding="utf-8") as f:
                f.write("timestamp,value\n")
                f.writelines(f"{stamp(t)},{x:.{digits}g}\n" for t, x in zip(times, xs, strict=True))
            labels[rel] = [[stamp(a), stamp(b)] for a, b in windows_for(times, at)]
    (root / "windows.json").write_text(json.dumps(labels, indent=1))
    n_windows = sum(len(w) for w in labels.values())
    print(f"wrote {len(labels)} series with {n_windows} anomaly windows under {root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
