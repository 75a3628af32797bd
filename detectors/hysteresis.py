"""`for` / `keep_firing_for`: when a run of scores opens and resolves an alert.

State per key is a small tuple (firing, windows at/above, windows below) or None when the
key is quiet, so that the many quiet keys cost nothing.
"""

from __future__ import annotations

Hysteresis = tuple[bool, int, int]


def step(
    state: Hysteresis | None, above: bool, for_: int, keep_firing_for: int
) -> tuple[Hysteresis | None, bool | None]:
    """Advance one window. Returns (new state, emit) with emit True = firing, False = resolved.

    Opens after `for_` consecutive windows at/above the threshold; while firing, emits True
    once per window; resolves (one False) after `keep_firing_for` consecutive windows below.
    """
    if state is None:
        if not above:
            return None, None
        state = (False, 0, 0)
    firing, n_above, n_below = state
    if not firing:
        if not above:
            return None, None
        n_above += 1
        if n_above >= for_:
            return (True, n_above, 0), True
        return (False, n_above, 0), None
    n_below = 0 if above else n_below + 1
    if n_below >= keep_firing_for:
        return None, False
    return (True, n_above + (1 if above else 0), n_below), True
