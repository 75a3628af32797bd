"""Shared statistics: robust exponentially weighted location/scale and the map from deviation to score.

Every detector turns "how far from normal" into a score in [0, 1] the same way, so that one
threshold means the same thing everywhere: a score of 0.5 is the detector's alert point at its
default sensitivity, higher is more anomalous, and ranks are preserved for large deviations.
"""

from __future__ import annotations

import math

LN2 = math.log(2.0)
# Mean absolute deviation of a normal distribution is sigma * sqrt(2 / pi); this undoes it.
MAD_TO_SIGMA = math.sqrt(math.pi / 2.0)
DIRECTIONS = ("up", "down", "both")


# Past `_KNEE` times z_half (a score of 1 - 2^-9, about 0.998) a score's distance from 1
# shrinks as 1 / z^2, not as the normal tail does: the normal tail reaches 1.0 in the sixth
# decimal at 4.6 z_half, and every larger deviation then ties with it, so that no threshold
# can keep a far larger excursion while dropping a merely large one. With the slower tail a
# deviation of 30 z_half still scores 1 - 2e-5 and 300 z_half 1 - 2e-7.
_KNEE = 3.0
_KNEE_TAIL = math.exp(-LN2 * _KNEE * _KNEE)  # 2^-9


def deviation_score(z: float, z_half: float) -> float:
    """Score in [0, 1] for a (one-sided, non-negative) deviation of `z` robust sigmas.

    0.5 at `z_half`, 0.94 at twice it; smooth and monotone, 0 for z <= 0, and strictly
    increasing however large z grows (1 only for an infinite z).

    >>> deviation_score(5.0, 5.0), round(deviation_score(10.0, 5.0), 4)
    (0.5, 0.9375)
    >>> deviation_score(150.0, 5.0) < deviation_score(300.0, 5.0) < 1.0
    True
    """
    if not z > 0.0:
        return 0.0
    if z == math.inf:
        return 1.0
    r = z / z_half
    if r <= _KNEE:
        return 1.0 - math.exp(-LN2 * r * r)
    q = _KNEE / r
    return 1.0 - _KNEE_TAIL * q * q


def ratio_score(q: float, steepness: float = 4.0) -> float:
    """Score in [0, 1] for a ratio to a limit: 0.5 at q == 1 (the limit), rising steeply above."""
    if not q > 0.0:
        return 0.0
    if q == math.inf:
        return 1.0
    qk: float = q**steepness
    return qk / (1.0 + qk)


def directed(residual: float, direction: str) -> float:
    """The part of a signed residual that counts as anomalous for `direction`."""
    if direction == "up":
        return residual if residual > 0.0 else 0.0
    if direction == "down":
        return -residual if residual < 0.0 else 0.0
    return abs(residual)


def robust_step(
    loc: float, scale: float, x: float, alpha: float, clip: float, floor: float
) -> tuple[float, float]:
    """One Huber-style EW update of (location, sigma-scale) with `x`.

    The residual is clipped to `clip` scales (never below `floor`) before it moves either
    estimate, so a single outlier cannot drag the baseline: what is anomalous stays anomalous.
    """
    bound = clip * max(scale, floor)
    r = x - loc
    rc = bound if r > bound else (-bound if r < -bound else r)
    loc += alpha * rc
    scale += alpha * (MAD_TO_SIGMA * abs(rc) - scale)
    return loc, scale


# The usual tail of residual sizes: their 98th percentile, 2.33 sigmas for normal noise.
TAIL_Q, TAIL_Z, TAIL_RATE = 0.98, 2.326, 0.05


def tail_step(tail: float, size: float) -> float:
    """One multiplicative stochastic-approximation step of the 98th percentile of `size`.

    Scale-free (steps are relative), one float of state, and unclipped: it is how a model
    learns that spikes of some size recur (a job at the top of every hour), so that sigma
    can be floored at tail / TAIL_Z and such spikes stop alarming.
    """
    if not tail > 0.0:
        return size
    return tail * math.exp(TAIL_RATE * (TAIL_Q if size > tail else TAIL_Q - 1.0))


NOISE_MODELS = ("none", "poisson", "compound", "binomial")


def noise_floor(noise: str, expected: float, n: int, unit: float) -> float:
    """The smallest sigma a window's value can honestly have, given how it was produced.

    poisson: a count of events (sd >= sqrt(expected), at least one event's worth).
    compound: a sum of event values of typical size `unit` (sd >= sqrt(expected * unit)).
    binomial: a share of `n` events (sd >= sqrt(p(1 - p) / n), p shrunk towards 1/2).
    """
    if noise == "poisson":
        return math.sqrt(max(expected, 1.0))
    if noise == "compound":
        return math.sqrt(max(expected, unit) * unit) if unit > 0.0 else 0.0
    if noise == "binomial" and n > 0:
        p = min(1.0, (max(expected, 0.0) * n + 1.0) / (n + 2.0))
        return math.sqrt(p * (1.0 - p) / n)
    return 0.0


def log_scale(x: float) -> float:
    """log(1 + x) for x >= 0 (negatives count as 0): relative changes of a positive metric."""
    return math.log1p(x) if x > 0.0 else 0.0
