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
EAST_OF_UTC_FROM = 14  # before a key's week is known: its day starting this late UTC began earlier
CLEARLY_BUSIER = 0.2  # share of active windows that tells a working day from a day off


def cell_of(t: float) -> int:
    """The hour-of-week cell (UTC) holding time t."""
    return (int(t // 3600.0) + EPOCH_MONDAY_SHIFT) % CELLS


def is_weekend(cell: int, day_start: int = 0) -> bool:
    """Whether the hour-of-week `cell` falls on a weekend day of a key whose day begins at
    UTC hour `day_start` (-23 to 23: a negative start is the evening before in UTC, where the
    days of keys east of UTC begin: a team in Tokyo starts its Monday on Sunday, 16:00 UTC)."""
    return ((cell - day_start) % CELLS) // 24 >= 5


def align_day_start(hour: int, active_share: list[float | None]) -> int:
    """Whether a key whose day begins at UTC `hour` starts its days that UTC day (`hour`) or
    the evening before (`hour - 24`).

    The hour alone cannot tell them apart (a late-working team on the American west coast
    and an early one in Sydney are both quietest around 13:00 UTC); their weeks can. Take the
    24 hours from `hour` on each UTC day: Tuesday's to Thursday's are working days under
    either reading, but Friday's is a Friday under the first and a Saturday under the second,
    and Sunday's a Sunday under the first and a Monday under the second. So whichever of
    those two is busy like a working day (at least half as active as Tuesday to Thursday,
    and clearly busier than the other when both were seen) decides. `active_share` holds,
    per hour-of-week cell, the share of windows that had activity (None where unseen).
    Before either has been seen, a start from 14:00 UTC on is taken to be the evening before
    (most people live between UTC-10 and UTC+1).
    """
    if hour <= 0:
        return hour

    def stretch(day: int) -> float | None:
        shares = [active_share[(day * 24 + hour + k) % CELLS] for k in range(24)]
        seen = [s for s in shares if s is not None]
        return sum(seen) / len(seen) if len(seen) >= 18 else None  # most of it, not its edge

    midweek = [x for x in (stretch(1), stretch(2), stretch(3)) if x is not None]
    working = (sum(midweek) / len(midweek)) / 2 if midweek else None
    friday, sunday = stretch(4), stretch(6)
    before = hour - 24
    if friday is not None and sunday is not None and abs(sunday - friday) >= CLEARLY_BUSIER:
        return before if sunday > friday else hour
    if working is not None and friday is not None:
        return hour if friday >= working else before
    if working is not None and sunday is not None:
        return before if sunday >= working else hour
    return before if hour >= EAST_OF_UTC_FROM else hour


def _same_type_table() -> tuple[tuple[tuple[int, ...], ...], ...]:
    table = []
    for day_start in range(-24, 24):
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

    `day_start` is the UTC hour at which the key's day begins (0: UTC days; see `is_weekend`).
    """
    index = day_start + 24 if -24 <= day_start < 24 else day_start % 24 + 24
    return _SAME_TYPE[index][cell]


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
