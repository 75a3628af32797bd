"""Which slices explain a window's departures: a greedy drill-down that explains away.

Every slice (and the aggregate) that departs from its own baseline is a candidate. Trying
each of the sharpest as an explanation, its events are taken out of the window and the other
candidates judged again on what is left: those that no longer depart were the same outbreak
seen through another label. The slice that explains the most others is named (a team whose
calls fail explains its people, its repositories and the model they call; a person explains
their team only when the team's departure is theirs), the sharpest on a tie; then the
next, on what is left. A slice already firing goes first, so one outbreak keeps one name;
a departure carried by the subject of a firing slice (the one person whose failures opened a
repository's incident, now failing in another repository) joins that slice's name instead of
opening its own.
The aggregate is named only when no slice carries half of its excess (a departure spread
across every team), with its largest contributors. With `min_subjects`, a group (a team, a
model, the aggregate) departing only by the events of fewer people than that is no
departure of the group: its people's own slices are named, if anyone is."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

from detectors.scoring import directed
from detectors.slices import SliceBaseline, SliceParams, Window

AGGREGATE = ("*", "all")
CONCENTRATED = 0.5  # a slice carrying this share of the aggregate's excess explains it
CANDIDATES = 8  # the sharpest departures tried as explanations, per name
SHARPNESS_TIE = 0.5  # z this close: as sharp (the same events against other baselines)
TOP_CONTRIBUTORS = 3
MAX_SUBJECTS = 3  # subjects remembered per named slice
PERSON = "user"  # the label whose values are the people `min_subjects` counts

Slice = tuple[str, str]
Combos = Mapping[tuple[str, ...], list[float]]


class Judge(NamedTuple):
    """What judging a window's departures needs besides the window (see `departures`)."""

    baselines: Mapping[Slice, SliceBaseline]
    p: SliceParams
    min_count: int
    threshold: float
    ready: Callable[[SliceBaseline], bool]


@dataclass
class Finding:
    """A named slice: its window, score and z, the share of the aggregate's excess it carries
    (None when the aggregate is not departing), the slices it explains, and for the aggregate
    its top contributors (slice, share of the excess)."""

    key: Slice
    window: Window
    score: float
    z: float
    explains: float | None
    explained: list[Slice] = field(default_factory=list)
    contributors: list[tuple[Slice, float]] = field(default_factory=list)
    subjects: list[Slice] = field(default_factory=list)


def slice_sums(
    combos: Combos, dims: tuple[str, ...], skip: Iterable[Slice] = ()
) -> dict[Slice, list[float]]:
    """Every slice's sums (events, values, squares, raw values) and the aggregate's, from
    the label combinations, leaving out the events of the slices in `skip`."""
    skip = list(skip)
    if AGGREGATE in skip:
        return {}
    skipped = [(dims.index(d), v) for d, v in skip if d in dims]
    sums: dict[Slice, list[float]] = {}
    grand = [0.0, 0.0, 0.0, 0.0]
    for combo, acc in combos.items():
        if skipped and any(combo[i] == v for i, v in skipped):
            continue
        n, total, squares, raw = acc
        grand[0] += n
        grand[1] += total
        grand[2] += squares
        grand[3] += raw
        for key in zip(dims, combo, strict=True):
            if key[1] == "":
                continue
            s = sums.get(key)
            if s is None:
                sums[key] = [n, total, squares, raw]
            else:
                s[0] += n
                s[1] += total
                s[2] += squares
                s[3] += raw
    if grand[0] > 0:
        sums[AGGREGATE] = grand
    return sums


def add_sums(into: dict[Slice, list[float]], more: Mapping[Slice, list[float]]) -> None:
    """Add one interval's slice sums to a span's."""
    for key, acc in more.items():
        s = into.get(key)
        if s is None:
            into[key] = list(acc)
        else:
            for j in range(4):
                s[j] += acc[j]


def to_windows(sums: Mapping[Slice, list[float]], measure: str) -> dict[Slice, Window]:
    """Slice sums as windows; for `share` a slice's hits are its events, out of all the
    window's, and the aggregate (always all of them) is left out."""
    if measure == "share":
        grand = sums.get(AGGREGATE)
        if grand is None:
            return {}
        return {k: Window(grand[0], s[0]) for k, s in sums.items() if k != AGGREGATE}
    return {k: Window(s[0], s[1], s[2], s[3]) for k, s in sums.items()}


def slice_windows(
    combos: Combos, dims: tuple[str, ...], measure: str, skip: Iterable[Slice] = ()
) -> dict[Slice, Window]:
    """Every slice's window from the label combinations, leaving out the events of `skip`."""
    return to_windows(slice_sums(combos, dims, skip), measure)


def events_of(w: Window, measure: str) -> float:
    """The slice's own events in the window (for `share`, its hits)."""
    return w.total if measure == "share" else w.n


def excess(b: SliceBaseline, w: Window, direction: str) -> float:
    """Events' worth of departure in the watched direction (0 when it goes the other way)."""
    return directed(w.total - w.n * b.expected, direction)


def departures(
    windows: Mapping[Slice, Window],
    baselines: Mapping[Slice, SliceBaseline],
    p: SliceParams,
    measure: str,
    min_count: int,
    threshold: float,
    ready: Callable[[SliceBaseline], bool],
    among: Iterable[Slice] | None = None,
    firing: Collection[Slice] = (),
) -> dict[Slice, tuple[float, float]]:
    """(score, z) of the slices at or above the threshold, of `among` (default: all). A
    firing slice holds on half the events it took to open (a quiet minute of an ongoing
    outbreak does not resolve it)."""
    out = {}
    holding = max(3, min_count // 2)
    for key in windows if among is None else among:
        w, b = windows.get(key), baselines.get(key)
        least = holding if key in firing else min_count
        if w is None or b is None or events_of(w, measure) < least or not ready(b):
            continue
        score = b.score_one(w, p)
        if score >= threshold:
            out[key] = (score, b.z(w, p))
    return out


def attribute(
    windows: dict[Slice, Window],
    combos: Callable[[], Combos],
    dims: tuple[str, ...],
    measure: str,
    baselines: Mapping[Slice, SliceBaseline],
    p: SliceParams,
    min_count: int,
    threshold: float,
    ready: Callable[[SliceBaseline], bool],
    firing: Iterable[Slice] = (),
    subjects: Mapping[Slice, Collection[Slice]] | None = None,
) -> list[Finding]:
    """The findings that explain the departures of the window's slices, in naming order
    (`combos`: the window's label combinations, asked for only when something departs;
    `subjects`: those of the firing slices, remembered from the windows that named them)."""
    firing = set(firing)
    judge = Judge(baselines, p, min_count, threshold, ready)
    dep = departures(windows, baselines, p, measure, min_count, threshold, ready, None, firing)
    table = combos() if dep else {}
    if p.min_subjects > 1 and PERSON in dims:
        for k in [k for k in dep if k[0] != PERSON and k not in firing]:
            if _too_few_people(k, table, dims, measure, judge):
                del dep[k]
    agg = baselines.get(AGGREGATE)
    agg_excess = (
        excess(agg, windows[AGGREGATE], p.direction)
        if agg is not None and AGGREGATE in dep
        else 0.0
    )
    joined = _linked(dep, firing, subjects or {}, table, dims, measure, judge)
    if joined:  # the firing slice holds with the departures it joins (its own window, if any)
        windows = dict(windows)
        _hold_joined(dep, joined, windows, baselines, p)
    return _name_in_turn(dep, windows, joined, agg_excess, table, dims, measure, judge, firing)


def _too_few_people(
    k: Slice, table: Combos, dims: tuple[str, ...], measure: str, judge: Judge
) -> bool:
    """Whether the departure of `k` is the doing of fewer than `min_subjects` people: without
    the events of the people carrying the most of its excess (`min_subjects` - 1 of them) it
    departs no more. Events that name no person are nobody's: they never make it so."""
    baselines, p, min_count, threshold, ready = judge
    pi = dims.index(PERSON)
    ki = None if k == AGGREGATE else dims.index(k[0])
    expected = baselines[k].expected
    share: dict[str, float] = {}
    for combo, acc in table.items():
        if (ki is not None and combo[ki] != k[1]) or combo[pi] == "":
            continue
        share[combo[pi]] = share.get(combo[pi], 0.0) + directed(
            acc[1] - acc[0] * expected, p.direction
        )
    top = sorted((u for u in share if share[u] > 0), key=lambda u: (-share[u], u))
    if not top:
        return False
    rest = slice_windows(table, dims, measure, [(PERSON, u) for u in top[: p.min_subjects - 1]])
    return k not in departures(rest, baselines, p, measure, min_count, threshold, ready, [k])


def _name_in_turn(
    dep: dict[Slice, tuple[float, float]],
    windows: dict[Slice, Window],
    joined: Mapping[Slice, Slice],
    agg_excess: float,
    table: Combos,
    dims: tuple[str, ...],
    measure: str,
    judge: Judge,
    firing: set[Slice],
) -> list[Finding]:
    """Name the departures' explanations one by one (up to `max_named`): each named slice's
    events, and the departures they explain, are taken out before the next is picked."""
    baselines, p, _min_count, _threshold, ready = judge
    full = windows
    order = {d: i for i, d in enumerate(dims)}
    chosen: list[Slice] = []
    found: list[Finding] = []
    while dep and len(found) < p.max_named:
        without = partial(_without, {}, table, dims, measure, chosen, dep, (*judge, firing))
        _concentrated(dep, windows, baselines, p, measure, ready, firing)
        _holding(dep, windows, baselines, p, measure, firing, without)
        pick = _pick(dep, windows, baselines, p.direction, firing, order, without, measure)
        rest, left = without(pick)
        absorbed = [d for d, f in joined.items() if f == pick]
        if absorbed:  # the departures it joins are its outbreak: their events go with it
            outbreak = [pick, *absorbed]
            rest, left = _without_outbreak(
                outbreak, chosen, dep, table, dims, measure, judge, firing
            )
            chosen.extend(absorbed)
        chosen.append(pick)
        found.append(
            _finding(pick, dep, left, full, windows, agg_excess, table, dims, measure, judge)
        )
        dep, windows = left, rest
    return found


def _hold_joined(
    dep: dict[Slice, tuple[float, float]],
    joined: Mapping[Slice, Slice],
    windows: dict[Slice, Window],
    baselines: Mapping[Slice, SliceBaseline],
    p: SliceParams,
) -> None:
    """A firing slice that departures join departs with them: on its own window (theirs when
    it has none), as sharply as the sharpest of them."""
    for k in sorted({k for k in joined.values() if k not in dep}):
        mine = sorted(d for d, f in joined.items() if f == k)
        w, b = windows.setdefault(k, windows[mine[0]]), baselines.get(k)
        if b is not None:
            dep[k] = (max(dep[d][0] for d in mine), b.z(w, p))


def _without_outbreak(
    outbreak: list[Slice],
    chosen: list[Slice],
    dep: Mapping[Slice, tuple[float, float]],
    table: Combos,
    dims: tuple[str, ...],
    measure: str,
    judge: Judge,
    firing: Collection[Slice],
) -> tuple[dict[Slice, Window], dict[Slice, tuple[float, float]]]:
    """The window without the events of the slices named before and of the `outbreak` (a
    named slice and the departures it joins), and which of the other departures still
    depart there."""
    rest = slice_windows(table, dims, measure, [*chosen, *outbreak])
    others = [o for o in dep if o not in outbreak]
    baselines, p, min_count, threshold, ready = judge
    return rest, departures(rest, baselines, p, measure, min_count, threshold, ready,
                            others, firing)  # fmt: skip


def _finding(
    pick: Slice,
    dep: Mapping[Slice, tuple[float, float]],
    left: Mapping[Slice, Any],
    full: Mapping[Slice, Window],
    windows: Mapping[Slice, Window],
    agg_excess: float,
    table: Combos,
    dims: tuple[str, ...],
    measure: str,
    judge: Judge,
) -> Finding:
    """The named slice as found: its window, score and z, its share of the aggregate's
    excess, the departures it explains (those gone with its events), and the aggregate's
    contributors or the slice's subjects."""
    baselines, direction = judge.baselines, judge.p.direction
    size = excess(baselines[pick], windows[pick], direction)
    share = size / agg_excess if agg_excess > 0 and pick != AGGREGATE else None
    finding = Finding(pick, full[pick], dep[pick][0], dep[pick][1], share)
    finding.explained = sorted(k for k in dep if k != pick and k not in left)
    if pick == AGGREGATE:
        finding.contributors = contributors(full, baselines, direction, agg_excess)
    else:
        finding.subjects = subjects_of(pick, table, dims, measure, judge)
    return finding


def _without(
    cache: dict[Slice, tuple[dict[Slice, Window], dict[Slice, Any]]],
    table: Combos,
    dims: tuple[str, ...],
    measure: str,
    chosen: list[Slice],
    dep: Mapping[Slice, tuple[float, float]],
    judge: tuple[Any, ...],
    k: Slice,
) -> tuple[dict[Slice, Window], dict[Slice, Any]]:
    """The window without the events of `chosen` and `k`, and which of the other departures
    still depart there (remembered in `cache` per `k`)."""
    if k not in cache:
        baselines, p, min_count, threshold, ready, firing = judge
        rest = slice_windows(table, dims, measure, [*chosen, k])
        others = [o for o in dep if o != k]
        cache[k] = (
            rest,
            departures(rest, baselines, p, measure, min_count, threshold, ready, others, firing),
        )
    return cache[k]


def _linked(
    dep: Mapping[Slice, tuple[float, float]],
    firing: Collection[Slice],
    subjects: Mapping[Slice, Collection[Slice]],
    table: Combos,
    dims: tuple[str, ...],
    measure: str,
    judge: Judge,
) -> dict[Slice, Slice]:
    """Departures that are a firing slice's outbreak seen through another label: departure ->
    firing slice. Linked when one of the firing slice's subjects (see `subjects_of`) has
    events in the departure and without them the departure is gone: the person whose
    failures opened one repository's incident, now failing in another repository."""
    if not table or not subjects:
        return {}
    baselines, p, min_count, threshold, ready = judge
    index = {d: i for i, d in enumerate(dims)}
    out: dict[Slice, Slice] = {}
    for d in sorted(k for k in dep if k != AGGREGATE and k not in firing and k[0] in index):
        di = index[d[0]]
        for f in sorted(k for k in firing if k in subjects):
            for s in sorted(subjects[f]):
                si = index.get(s[0])
                if si is None or not any(
                    c[di] == d[1] and c[si] == s[1] and acc[0] > 0 for c, acc in table.items()
                ):
                    continue
                rest = slice_windows(table, dims, measure, [s])
                if d not in departures(
                    rest, baselines, p, measure, min_count, threshold, ready, [d], firing
                ):
                    out[d] = f
                    break
            if d in out:
                break
    return out


def subjects_of(
    pick: Slice,
    table: Combos,
    dims: tuple[str, ...],
    measure: str,
    judge: Judge,
) -> list[Slice]:
    """Who a named slice's departure is: slices of other labels lying wholly within it (all
    their events are its; departing or too new to judge, as a person's first day) without
    whose events it no longer departs (the one person failing in a repository). Of the
    `MAX_SUBJECTS` carrying the most of its value."""
    if pick == AGGREGATE or pick[0] not in dims:
        return []
    baselines, p, min_count, threshold, ready = judge
    pi = dims.index(pick[0])
    weight: dict[Slice, float] = {}
    outside: set[Slice] = set()
    for combo, acc in table.items():
        for i, dim in enumerate(dims):
            if i == pi or combo[i] == "":
                continue
            key = (dim, combo[i])
            if combo[pi] != pick[1]:
                outside.add(key)
            else:
                weight[key] = weight.get(key, 0.0) + acc[1]
    inside = sorted((k for k in weight if k not in outside), key=lambda k: (-weight[k], k))
    out = []
    for s in inside[:MAX_SUBJECTS]:
        rest = slice_windows(table, dims, measure, [s])
        if not departures(rest, baselines, p, measure, min_count, threshold, ready, [pick]):
            out.append(s)
    return out


def _concentrated(
    dep: dict[Slice, tuple[float, float]],
    windows: Mapping[Slice, Window],
    baselines: Mapping[Slice, SliceBaseline],
    p: SliceParams,
    measure: str,
    ready: Callable[[SliceBaseline], bool],
    firing: Collection[Slice],
) -> None:
    """When the aggregate departs and no departing slice carries `CONCENTRATED` of its
    excess, the slices that do (too few events to be sure on their own, such as the one
    team busy at night) join the departures, as a firing slice that does always: the
    aggregate's departure is theirs."""
    if AGGREGATE not in dep:
        return
    whole = excess(baselines[AGGREGATE], windows[AGGREGATE], p.direction)
    if whole <= 0:
        return
    carry = {
        k: w
        for k, w in windows.items()
        if k != AGGREGATE
        and k in baselines
        and ready(baselines[k])
        and events_of(w, measure) >= 3
        and excess(baselines[k], w, p.direction) >= CONCENTRATED * whole
    }
    if any(k in dep for k in carry):
        carry = {k: w for k, w in carry.items() if k in firing and k not in dep}
    for k, w in carry.items():
        dep[k] = (dep[AGGREGATE][0], baselines[k].z(w, p))


def _holding(
    dep: dict[Slice, tuple[float, float]],
    windows: Mapping[Slice, Window],
    baselines: Mapping[Slice, SliceBaseline],
    p: SliceParams,
    measure: str,
    firing: Collection[Slice],
    without: Callable[[Slice], tuple[dict[Slice, Window], dict[Slice, Any]]],
) -> None:
    """A firing slice that no longer departs on its own but explains a departure seen
    through another label (the team's region, once the team's own baseline has moved) is
    still the outbreak: it joins the departures, so it keeps its name and no other opens."""
    for k in sorted(firing):
        w, b = windows.get(k), baselines.get(k)
        if k in dep or w is None or b is None or events_of(w, measure) < 3:
            continue
        _, left = without(k)
        scores = [dep[o][0] for o in dep if o != AGGREGATE and o not in left]
        if scores:
            dep[k] = (max(scores), b.z(w, p))


def _pick(
    dep: Mapping[Slice, tuple[float, float]],
    windows: Mapping[Slice, Window],
    baselines: Mapping[Slice, SliceBaseline],
    direction: str,
    firing: Collection[Slice],
    order: Mapping[str, int],
    without: Callable[[Slice], tuple[dict[Slice, Window], dict[Slice, Any]]],
    measure: str,
) -> Slice:
    """The next slice to name. A firing one first (one outbreak keeps its name); the
    aggregate when no slice carries `CONCENTRATED` of its excess; otherwise the slice whose
    removal explains the most other departures (a team explains its people and repositories,
    a person does not explain their team unless they are its departure), then the sharpest:
    z weighs the excess a slice carries against the ordinary events it adds (a team whose
    calls to every model fail is sharper than one model; one person failing is sharper than
    their team). Slices about as sharp (the team and the only region it calls at night: the
    same events) go by `group_by` order."""
    slices = [k for k in dep if k != AGGREGATE]
    held = [k for k in dep if k in firing]
    if AGGREGATE in held:
        return AGGREGATE
    if not held and AGGREGATE in dep:
        whole = excess(baselines[AGGREGATE], windows[AGGREGATE], direction)
        largest = max((excess(baselines[k], windows[k], direction) for k in slices), default=0.0)
        if largest < CONCENTRATED * whole:
            return AGGREGATE
    cands = held or sorted(slices, key=lambda k: -abs(dep[k][1]))[:CANDIDATES]
    return _best_explanation(cands, dep, windows, order, without, measure)


def _best_explanation(
    cands: list[Slice],
    dep: Mapping[Slice, tuple[float, float]],
    windows: Mapping[Slice, Window],
    order: Mapping[str, int],
    without: Callable[[Slice], tuple[dict[Slice, Window], dict[Slice, Any]]],
    measure: str,
) -> Slice:
    """Of the candidates, the one whose removal explains the most other departures, then
    the sharpest; those about as sharp go by `group_by` order, then the fewest events."""

    def explains(k: Slice) -> int:
        _, left = without(k)
        return sum(1 for o in dep if o != k and o != AGGREGATE and o not in left)

    power = {k: explains(k) for k in cands}
    best = [k for k in cands if power[k] == max(power.values())]
    sharpest = max(abs(dep[k][1]) for k in best)
    near = [k for k in best if abs(dep[k][1]) >= sharpest - SHARPNESS_TIE]
    return min(
        near,
        key=lambda k: (order.get(k[0], len(order)), events_of(windows[k], measure), k[1]),
    )


def contributors(
    windows: Mapping[Slice, Window],
    baselines: Mapping[Slice, SliceBaseline],
    direction: str,
    total: float,
) -> list[tuple[Slice, float]]:
    """The slices of one label carrying most of the aggregate's excess, with their shares of
    it: the label whose largest slice carries the most (where the departure concentrates)."""
    if total <= 0:
        return []
    by_dim: dict[str, list[tuple[float, Slice]]] = {}
    for k, w in windows.items():
        if k != AGGREGATE and k in baselines:
            size = excess(baselines[k], w, direction)
            if size > 0:
                by_dim.setdefault(k[0], []).append((size, k))
    if not by_dim:
        return []
    ranked = [sorted(sizes, key=lambda e: (-e[0], e[1])) for _, sizes in sorted(by_dim.items())]
    best = max(ranked, key=lambda sizes: sizes[0][0])
    return [(k, round(e / total, 3)) for e, k in best[:TOP_CONTRIBUTORS]]
