"""A cheap upper bound of a CUSUM of burst likelihood ratios, to skip the exact one.

A rate's burst test (`BurstRatio`) takes the likelihood ratio of every run of windows within
its span, newest first, and asks whether the largest reaches an alert point. Each ratio costs
three `lgamma`; a model that learns every key's windows (a detector's root, which learns each
key's point of a window in turn) holds as many windows as there are keys in its span, and
asks once per key: that is quadratic in the keys, and the cost of a replay of a large
organisation. With a composite null (`ordinary`: the likelier of the learned rate and an
ordinary share), the usual likelihood is at least the ordinary share's, so every ratio is at
most `k * log(share / ordinary) + (n - k) * log((1 - share) / (1 - ordinary))`: a linear
function of the counts whose largest value over the runs is one pass of additions. When even
that stays below the alert point, the exact test cannot reach it, and the answer is the same.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import accumulate

# Rounding of the exact ratio's float arithmetic against the bound's, relative to the size of
# their terms: a few units in the last place each, far inside this.
_RELATIVE_SLACK = 1e-9


def burst_below(
    share: float,
    ordinary: float,
    k: int,
    n: int,
    windows: Sequence[tuple[float, int, int, bool]],
    limit: float,
) -> bool:
    """Whether no run of the window's k hits of n joined to `windows` (oldest first, as
    (time, hits, events, waiting)) can have a burst ratio of `limit` or more; False when the
    null is not composite (no bound: the exact test decides).

    >>> burst_below(0.5, 0.1, 0, 8, [(0.0, 0, 5, False)], 6.0)  # no failure anywhere
    True
    >>> burst_below(0.5, 0.1, 5, 8, [], 6.0)  # five of eight: the exact test decides
    False
    >>> burst_below(0.5, 0.0, 0, 8, [], 6.0)  # a simple null: no bound
    False
    """
    if not (0.0 < ordinary < share < 1.0) or n <= 0:
        return False
    per_hit = math.log(share) - math.log(ordinary)
    per_miss = math.log1p(-share) - math.log1p(-ordinary)
    runs = accumulate(
        (hits * per_hit + (events - hits) * per_miss for _, hits, events, _ in reversed(windows)),
        initial=0.0,
    )
    bound = k * per_hit + (n - k) * per_miss + max(runs)
    events = n + sum(w[2] for w in windows)
    slack = _RELATIVE_SLACK * (1.0 + events) * (abs(math.log(ordinary)) + abs(math.log(share)))
    return bound + slack < limit
