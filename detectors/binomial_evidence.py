"""How strongly k failures in n calls contradict a rate learned from a finite history.

A z-score of a window's share says little when the window holds a few calls: two failures
in four calls is 50%, but whether that is news depends on how rare failures are and how
sure that rarity is. The evidence here is the tail probability of at least k hits in n under
the beta-binomial predictive of a rate learned as `hits` of `trials` (a Jeffreys prior, so a
thin history claims little): it grows with the count (two failures of two calls against a
1% baseline are weaker than ten of twenty), a single failure is never overwhelming, and a
small team with a short history needs more failures than a large one with a long history.
"""

from __future__ import annotations

import math
from statistics import NormalDist

_NORMAL = NormalDist()
_SMALLEST = 1e-300
_MAX_TERMS = 100_000


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def beta_binomial_tail(k: int, n: int, hits: float, trials: float) -> float:
    """P(X >= k) for n new trials, when the rate's posterior after `hits` of `trials` (with a
    Jeffreys prior) is Beta(hits + 1/2, trials - hits + 1/2).

    >>> round(beta_binomial_tail(1, 1, 0.0, 0.0), 3)  # nothing known: a coin
    0.5
    >>> beta_binomial_tail(4, 10, 10.0, 1000.0) < 1e-4 < beta_binomial_tail(4, 10, 1.0, 10.0)
    True
    """
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    a = max(hits, 0.0) + 0.5
    b = max(trials - hits, 0.0) + 0.5
    log_term = (
        math.lgamma(n + 1)
        - math.lgamma(k + 1)
        - math.lgamma(n - k + 1)
        + _log_beta(k + a, n - k + b)
        - _log_beta(a, b)
    )
    term = math.exp(log_term)
    total, j = term, k
    while j < n and j - k < _MAX_TERMS:
        # pmf(j + 1) / pmf(j) of the beta-binomial
        term *= (n - j) / (j + 1) * (j + a) / (n - j - 1 + b)
        total += term
        j += 1
        if term < 1e-12 * total and (n - j) * (j + a) < (j + 1) * (n - j - 1 + b):
            break  # past the mode and negligible: the rest falls geometrically
    return min(total, 1.0)


def evidence_z(k: int, n: int, hits: float, trials: float) -> float:
    """The normal z with the same upper tail as k hits of n against the learned rate (0 when
    the window's share is not above the rate's posterior mean)."""
    if n <= 0 or k <= 0:
        return 0.0
    mean = (max(hits, 0.0) + 0.5) / (max(trials, 0.0) + 1.0)
    if k <= n * mean:
        return 0.0
    tail = beta_binomial_tail(k, n, hits, trials)
    return -_NORMAL.inv_cdf(min(max(tail, _SMALLEST), 0.5))


def burst_log_likelihood_ratio(
    k: int, n: int, hits: float, trials: float, share: float, ordinary: float = 0.0
) -> float:
    """How many times likelier (in nats) k hits of n are when a `share` of the trials fail (an
    outage) than under the rate learned as `hits` of `trials` (its beta-binomial predictive,
    with a Jeffreys prior, so a thin history claims little and needs more failures).

    A likelihood ratio against a named alternative is a sequential test (Wald's SPRT, Page's
    CUSUM when taken over the latest runs of windows): it needs far fewer calls than a tail
    probability to tell an outage from the usual rate, and a share between the two (a busy
    team's bad minutes) makes it fall, not rise.

    >>> round(burst_log_likelihood_ratio(3, 8, 4.0, 1000.0, 0.3), 1)  # 3 of 8 against 0.4%
    10.3
    >>> burst_log_likelihood_ratio(1, 1, 4.0, 1000.0, 0.3) < 5.0  # one failure, never enough
    True
    >>> burst_log_likelihood_ratio(8, 117, 10.0, 1000.0, 0.3) < 0.0  # 7% against 1%: no outage
    True

    `ordinary`: a share of failures that is still no outage whatever the learned rate (a
    person's bad afternoon, throttled now and then): the hits are then judged against the
    likelier of the learned rate and that share, a composite null, so that a run of a few
    failures among a thin key's calls at such a share does not add up to an outage.

    >>> round(burst_log_likelihood_ratio(3, 8, 4.0, 1000.0, 0.5), 1)  # against 0.4%
    10.1
    >>> round(burst_log_likelihood_ratio(3, 8, 4.0, 1000.0, 0.5, ordinary=0.1), 1)
    1.9
    """
    return BurstRatio(hits, trials, share, ordinary)(k, n)


class BurstRatio:
    """`burst_log_likelihood_ratio` against one learned rate, for many (k, n): a CUSUM asks
    for the ratio of every run of windows in its span, and the terms that depend only on the
    rate and the shares are the same for all of them, so they are computed once (with the
    same arithmetic, so each ratio is the one the function gives).

    >>> ratio = BurstRatio(4.0, 1000.0, 0.5, ordinary=0.1)
    >>> ratio(3, 8) == burst_log_likelihood_ratio(3, 8, 4.0, 1000.0, 0.5, ordinary=0.1)
    True
    """

    __slots__ = ("a", "b", "base", "log_ordinary", "log_ordinary_rest", "log_rest", "log_share")

    def __init__(self, hits: float, trials: float, share: float, ordinary: float = 0.0) -> None:
        self.a = max(hits, 0.0) + 0.5
        self.b = max(trials - hits, 0.0) + 0.5
        self.base = _log_beta(self.a, self.b)
        on = 0.0 < share < 1.0
        self.log_share = math.log(share) if on else None
        self.log_rest = math.log1p(-share) if on else 0.0
        composite = on and 0.0 < ordinary < share
        self.log_ordinary = math.log(ordinary) if composite else None
        self.log_ordinary_rest = math.log1p(-ordinary) if composite else 0.0

    def __call__(self, k: int, n: int) -> float:
        """The ratio, in nats, of k hits of n."""
        log_share = self.log_share
        if n <= 0 or log_share is None:
            return 0.0
        k = min(max(k, 0), n)
        lgamma, a, b = math.lgamma, k + self.a, n - k + self.b
        outage = k * log_share + (n - k) * self.log_rest
        usual = lgamma(a) + lgamma(b) - lgamma(a + b) - self.base
        log_ordinary = self.log_ordinary
        if log_ordinary is not None:
            usual = max(usual, k * log_ordinary + (n - k) * self.log_ordinary_rest)
        return outage - usual
