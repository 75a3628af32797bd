"""Whatever the silences a key goes through and whatever days they span, a window is learned
into its hour's sums once, in order: a silence that is never flagged anomalous is learned in
full, the same as if every window had been counted as it came."""

from __future__ import annotations

from array import array

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.absence import _ACTIVE, _SEEN, Absence, AbsenceParams
from detectors.weekly import CELLS, cell_of

TUESDAY = 1793664000.0  # 2026-11-03T00:00:00Z
STEP = 300.0


@settings(max_examples=25, deadline=None)
@given(
    spells=st.lists(st.tuples(st.integers(1, 600), st.integers(1, 60)), min_size=1, max_size=12),
    first=st.integers(0, 287),
)
def test_every_window_is_learned_once_in_order_when_no_silence_is_flagged(spells, first):
    m = Absence(AbsenceParams(surprise=1e9))  # an unreachable surprise: nothing is flagged
    seen, active = array("f", bytes(4 * CELLS)), array("f", bytes(4 * CELLS))
    keep, t = m._keep(), TUESDAY + first * STEP
    for silent, busy in spells:
        for k in range(silent + busy):
            x = 0.0 if k < silent else 3.0
            m.learn_one(x, t)
            c = cell_of(t)
            seen[c] = keep * seen[c] + 1.0
            active[c] = keep * active[c] + (1.0 if x > 0.0 else 0.0)
            t += STEP
    assert m.stats.anomalous == 0.0
    assert list(m.cells[_SEEN : _SEEN + CELLS]) == list(seen)
    assert list(m.cells[_ACTIVE : _ACTIVE + CELLS]) == list(active)
