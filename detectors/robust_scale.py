"""A spread that one spike does not inflate: the winsorised mean square, kept online.

An exponentially weighted mean square over about m points moves by (d^2 - s) / m on a
deviation d: one spike of k spreads adds about k^2 / m to it, so a spike of 50 spreads in a
memory of a thousand points more than triples the spread, and anything measured in it for
the next few hundred points reads a third as large. Winsorising each squared deviation at
`CLIP`^2 squared spreads bounds what any single point can add, whatever its size, while
noise keeps its spread: the mean of min(Z^2, c^2) for a standard normal Z is known
(`winsorised_second_moment`), and dividing the winsorised mean square by it gives, on
Gaussian noise, the variance itself. A lasting change of spread still comes through: each
point may add up to nine times the spread's square, so the estimate follows a tripled spread
within a few memories' worth of points.
"""

from __future__ import annotations

import functools
import math

CLIP = 3.0  # spreads beyond which a deviation counts as this many


@functools.cache
def winsorised_second_moment(c: float = CLIP) -> float:
    """E[min(Z^2, c^2)] for a standard normal Z: P(|Z| < c) - 2 c phi(c) + c^2 P(|Z| > c).

    >>> round(winsorised_second_moment(3.0), 4)
    0.995
    >>> round(winsorised_second_moment(1.0), 4)
    0.5161
    """
    phi = math.exp(-0.5 * c * c) / math.sqrt(2.0 * math.pi)
    inside = math.erf(c / math.sqrt(2.0))  # P(|Z| < c)
    return inside - 2.0 * c * phi + c * c * (1.0 - inside)


def variance(square: float, c: float = CLIP) -> float:
    """The variance that a winsorised mean square `square` stands for on Gaussian noise."""
    return square / winsorised_second_moment(c)


def capped(d2: float, var: float, c: float = CLIP) -> float:
    """A squared deviation winsorised at `c` spreads of a variance `var`.

    >>> capped(4.0, 1.0), capped(100.0, 1.0), capped(1e300, 4.0)
    (4.0, 9.0, 36.0)
    """
    return min(d2, c * c * var)
