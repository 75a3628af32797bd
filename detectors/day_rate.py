"""How busy a key is today, judged from today's own lulls: the day-to-day rate, updated.

The absence model takes a key's rate of resumption on a given day as its learned rate times
a multiplier r ~ Gamma(a, a) (the day-to-day spread). Today's lulls that already ended say
where today's r lies: a lull of cumulative hazard H that resumed at a window of step hazard
l has likelihood exp(-r H) (1 - exp(-r l)). On a slow day (a long lull, few people in) the
posterior moves towards small r and a new silence is less surprising; on a day whose lulls
all ended at once it moves up, and a team that was busy this morning and stops is sooner
plausible as silent. The posterior is kept as today's log-likelihood on a fixed grid of r
(bounded state: `GRID` floats per key), and a silence's log-survival is corrected by the
ratio of the posterior to the prior predictive, computed on the same grid.

>>> lik = [0.0] * GRID
>>> fold_lull(lik, 6.0, 0.1)  # a long lull today that resumed at a quiet window: a slow day
>>> survival_correction(lik, 10.0, 5.0) > 0.0  # a silence now surprises less
True
>>> fast = [0.0] * GRID
>>> for _ in range(4):
...     fold_lull(fast, 0.2, 1.5)  # four lulls that each resumed at once: a busy day
>>> survival_correction(fast, 10.0, 5.0) < 0.0
True
"""

from __future__ import annotations

import math
from collections.abc import MutableSequence, Sequence

GRID = 56
# Multipliers of the learned rate, evenly spaced in log from 1e-5 to 20: the prior predictive
# on this grid is within 0.002 nats of its closed form for shapes from 1 to 20.
_LOW, _HIGH = math.log(1e-5), math.log(20.0)
_LOG_R = [_LOW + i * (_HIGH - _LOW) / (GRID - 1) for i in range(GRID)]
_R = [math.exp(v) for v in _LOG_R]


def fold_lull(loglik: MutableSequence[float], hazard: float, resume_step: float) -> None:
    """Add a lull that ended today: silent through cumulative hazard `hazard` (the expected
    resumptions it let pass), then resumed at a window of step hazard `resume_step` (0: at
    an hour with no expectation, which says nothing about the rate)."""
    for i, r in enumerate(_R):
        v = -r * hazard
        if resume_step > 0.0:
            v += math.log(max(-math.expm1(-r * resume_step), 1e-300))
        loglik[i] = loglik[i] + v


def survival_correction(loglik: Sequence[float], hazard: float, shape: float) -> float:
    """log P(a silence of cumulative hazard `hazard` | today's lulls) minus its log P before
    them, under a Gamma(shape, shape) day-to-day multiplier (0 when today says nothing)."""
    if hazard <= 0.0 or shape <= 0.0:
        return 0.0
    prior = [shape * lr - shape * r for lr, r in zip(_LOG_R, _R, strict=True)]  # log density x r
    post = [p + v for p, v in zip(prior, loglik, strict=True)]
    silent = [-r * hazard for r in _R]
    with_today = _logsumexp([p + s for p, s in zip(post, silent, strict=True)]) - _logsumexp(post)
    without = _logsumexp([p + s for p, s in zip(prior, silent, strict=True)]) - _logsumexp(prior)
    return with_today - without


def _logsumexp(values: Sequence[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))
