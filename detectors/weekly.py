"""Hours of the week, and which of them are alike: the calendar that seasonal profiles share.

A profile has one cell per hour of the week (UTC). Until a cell has history of its own, the
same hour on the other days of the same type (working day or weekend) stands in. Which days
are weekend days depends on where the key's people live: a team in San Francisco works on
Friday until 02:00 UTC on Saturday. So the day type is taken in the key's own day, which
starts at its quietest hour of the day (learned from its profile), not at UTC midnight.
"""

from __future__ import annotations

CELLS = 168  # hours in a week: cell = day-of-week * 24 + hour-of-day, Monday 00:00 UTC = 0
EPOCH_MONDAY_SHIFT = 72  # 1970-01-01 was a Thursday: +72 h puts Monday 00:00 at cell 0


def cell_of(t: float) -> int:
    """The hour-of-week cell (UTC) holding time t."""
    return (int(t // 3600.0) + EPOCH_MONDAY_SHIFT) % CELLS


def is_weekend(cell: int, day_start: int = 0) -> bool:
    """Whether the hour-of-week `cell` falls on a weekend day of a key whose day begins at
    UTC hour `day_start`."""
    return ((cell - day_start) % CELLS) // 24 >= 5


def _same_type_table() -> tuple[tuple[tuple[int, ...], ...], ...]:
    table = []
    for day_start in range(24):
        row = []
        for cell in range(CELLS):
            weekend = is_weekend(cell, day_start)
            row.append(
                tuple(c for c in range(cell % 24, CELLS, 24) if is_weekend(c, day_start) == weekend)
            )
        table.append(tuple(row))
    return tuple(table)


_SAME_TYPE = _same_type_table()


def same_type_cells(cell: int, day_start: int = 0) -> tuple[int, ...]:
    """The cells of the same hour on the days of the same type as `cell` (itself included).

    `day_start` is the UTC hour at which the key's day begins (0: UTC days).
    """
    return _SAME_TYPE[day_start % 24][cell]


def quietest_hour(activity_by_hour: list[float]) -> int:
    """The UTC hour in the middle of the key's quiet stretch: where its own day begins.

    Quiet hours are those within a tenth of the day's range of the least active hour; the
    day begins in the middle of the longest run of them (nights are long and flat, so the
    single least active hour would be an arbitrary one). A flat profile gives 0 (UTC days).
    """
    lo, hi = min(activity_by_hour), max(activity_by_hour)
    if not hi > lo:
        return 0
    quiet = [a <= lo + 0.1 * (hi - lo) for a in activity_by_hour]
    best_len, best_mid = 0, 0
    for start in range(24):
        if not quiet[start] or quiet[start - 1]:
            continue  # not the first hour of a run
        n = 0
        while n < 24 and quiet[(start + n) % 24]:
            n += 1
        if n > best_len:
            best_len, best_mid = n, (start + n // 2) % 24
    return best_mid
