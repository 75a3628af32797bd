"""`new_value`: the first appearance of a value of a field for a key (ElastAlert's new_term)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from detectors.persist import restore_slots
from detectors.rollup import Accumulator
from detectors.window_model import PendingKeys, WindowModel

ADOPTED_BY = 3  # default `adopted_by`: keys showing a value new to everyone before it is theirs


@dataclass(frozen=True)
class NewValueParams:
    """max_values: how many distinct values a key remembers (least recently seen are forgotten).

    `generalize: geography` compares AWS regions by their geography (`eu-north-1` is `eu`,
    `us-gov-west-1` is `us-gov`): the boundary of data residency, and of Bedrock's
    cross-region inference profiles (`us.`, `eu.`, `apac.`), so a team spreading over
    another region of its geography is no news, while a call leaving it is.
    `scope: everyone` judges every key against all values anyone has shown (the
    organisation's), not against its own: news is a value new to the whole organisation.
    `min_new`: how many new values one window must hold to be news. One new repository is
    a person's ordinary day; a handful in an hour, each new to them, is a walk through
    the organisation's code.
    `span`: how many steps (of `step` seconds, the interval) a key's news counts towards
    `min_new`: the values new to it in this window and those that were new to it in the
    windows of the `span - 1` steps before. A sliding hour of 15-minute steps judges a walk
    through new values a quarter of an hour after it starts, not when a tumbling hour closes
    (by when the values are an hour old), and one that straddles two hours is seen whole.
    Only a window holding a value new to the key counts its earlier windows' news: a person
    back from a lull after a walk is not news again for the walk's values.
    `hold` (with `scope: everyone`): how long the news of a person with no history of their
    own (their first calls ever) waits for others to take the value up. Several people
    starting in a new geography within the hold is the organisation adopting it (a team's
    first Monday), not a credential used from elsewhere; the news of a person with a history
    elsewhere is not held.
    `adopted_by` (with `scope: everyone`): how many keys must show a value new to the
    organisation before it is the organisation's own (one person in a new geography does
    not make it the organisation's; until then each next person there is news as well).
    `within: known_geography` (with `scope: everyone`): only a value inside one of the
    geographies the organisation already uses is news: a region nobody has used yet, next
    to the ones it does (a value in a new geography is left to a detector that generalizes
    to geographies, so one call is not news twice). Where a person starts is where they
    work (a newcomer's first values are the organisation's at once), and so is every value
    of the warm-up; a person with a history elsewhere turning up in such a region is held
    for `hold` and dropped if `adopted_by` people take the region up meanwhile (a team
    spreading to a second region of its geography), news otherwise; a region is news once
    (for whoever showed it first), then the organisation's.
    `warmup_news` (with `scope: everyone`): when the news of a person already calling where
    the organisation does, who turns up during the warm-up with a value new to everyone, is
    told: `at_end` of the warm-up (a week of learning the organisation's models must not page
    for a model its second team uses on Tuesday), `after_hold` (a key used from a new
    geography on a history's first day is news within the hour, not the next day), or
    `at_once` (news at once, as after the warm-up: a key used from elsewhere for a quarter
    of an hour is news while it is used). The warm-up is there for the people not seen yet
    (a weekend shows few), whose first geographies are learned; a person already calling
    where the organisation does has a home of their own.
    `sustained` (with `within: known_geography`): how many windows of a known person's
    calls in a held region make it news before the hold is over (0: only the hold ends it).
    A key used from elsewhere is used: minute after minute of calls there; a person whose
    team is spreading to a second region calls there now and then among their calls at
    home, and the team takes the region up within the hold.
    `warm_on: weekdays` (with `scope: everyone`): the organisation's warm-up counts only
    Monday to Friday (UTC), so it spans a full working day of traffic however the history
    starts: an organisation first seen on a Saturday has shown only its weekend people and
    their regions by Sunday, and the regions its people take up on Monday are its own.
    """

    max_values: int = 256
    generalize: str = "value"
    scope: str = "key"
    min_new: int = 1
    span: int = 1
    step: float = 300.0
    hold: float = 3600.0
    adopted_by: int = ADOPTED_BY
    within: str = "anywhere"
    warm_on: str = "clock"
    warmup_news: str = "at_end"
    sustained: int = 0


def geography(region: str) -> str:
    """The geography of an AWS region name: all but its last two parts (`ap-south-1` -> `ap`).

    >>> geography("us-gov-west-1"), geography("il-central-1"), geography("local")
    ('us-gov', 'il', 'local')
    """
    parts = region.lower().split("-")
    return "-".join(parts[:-2]) if len(parts) >= 3 else region.lower()


# Where a cross-region inference profile's prefix sends calls: the geography of its regions
# (`jp.` and `au.` profiles run in Asia Pacific regions). `global.` and application profiles
# may run anywhere: no geography.
PROFILE_GEOGRAPHY = {"us": "us", "us-gov": "us-gov", "eu": "eu", "apac": "ap", "jp": "ap",
                     "au": "ap", "ca": "ca"}  # fmt: skip


def is_region(value: str) -> bool:
    """Whether a value is spelled as an AWS region (`ap-south-1`), not a geography or a name.

    >>> is_region("us-gov-west-1"), is_region("us"), is_region("alice@example.com")
    (True, False, False)
    """
    parts = value.split("-")
    return len(parts) >= 3 and parts[-1].isdigit() and all(p.isalpha() for p in parts[:-1])


def place(value: str, generalize: str) -> str | None:
    """What a region detector learns of a value: a region, or with `generalize: geography`
    its geography, or an inference profile's geography; None for anything else (a call's
    other fields, given as the last fallback, only show that the person called).

    >>> place("eu-north-1", "geography"), place("apac", "geography"), place("global", "geography")
    ('eu', 'ap', None)
    >>> place("eu-north-1", "value"), place("apac", "value")
    ('eu-north-1', None)
    """
    v = value.lower()
    if is_region(v):
        return geography(v) if generalize == "geography" else v
    return PROFILE_GEOGRAPHY.get(v) if generalize == "geography" else None


DAY = 86400.0


def after_weekdays(t0: float, seconds: float) -> float:
    """When `seconds` of Monday-to-Friday time (UTC) have passed since t0: a warm-up that
    a weekend does not count towards.

    >>> friday_noon = 1762516800.0  # 2025-11-07T12:00:00Z
    >>> (after_weekdays(friday_noon, DAY) - friday_noon) / 3600  # Friday 12 h, Monday 12 h
    72.0
    """
    if not math.isfinite(seconds):
        return math.inf
    t, left = t0, max(seconds, 0.0)
    while True:
        day = math.floor(t / DAY)
        end = (day + 1) * DAY
        if (day + 3) % 7 < 5:  # 1970-01-01 was a Thursday
            if end - t >= left:
                return t + left
            left -= end - t
        t = end


@dataclass(frozen=True)
class Held:
    """A newcomer's news waiting for adoption: since when, the window's values, and the
    earliest it may be news (the end of the organisation's warm-up, for news held during it)."""

    since: float
    values: tuple[str, ...]
    not_before: float = -math.inf
    uses: int = 1  # windows of the key's that showed the value since (this one included)

    def is_due(self, t: float, hold: float, sustained: int = 0) -> bool:
        """A newcomer's news waits `hold`; news held through the warm-up (of a person who
        calls where the organisation does, news at once after it) waits for its end only;
        a value used in `sustained` windows is news at once (0: never so)."""
        if 0 < sustained <= getattr(self, "uses", 1):  # held before `uses` existed: 1
            return True
        return t - self.since >= hold or self.not_before > -math.inf


class NewValue(WindowModel[NewValueParams, set[str], Iterable[str]]):
    """Anomalous means: the window holds a value this key (or its parent) has never shown.

    A new key starts from its parent's values (a new user of a team knows the team's
    regions), so only values new to the whole parent count. While the key itself is young
    (seen for less than the detector's `warmup`), its first values are its habits, not
    news: values anyone has shown (the global baseline) are learned without alerting, and
    only a value new to everyone counts (the first call ever to a region). Once the key has
    its own history, a value new to it counts even if others use it (a person who always
    worked in one region turning up in another). The score is 1 for a window with a new
    value, else 0; warm-up (no alerts until the key or its parent has been seen for the
    detector's `warmup`) is judged by `is_warm`.

    >>> m = NewValue()
    >>> m.learn_one({"us-east-1"}, 0.0)
    >>> m.score_one({"us-east-1"}, 60.0), m.score_one({"ap-southeast-1"}, 60.0)
    (0.0, 1.0)
    """

    __slots__ = ("born", "held", "news", "own", "p", "seen", "t0", "told", "warm_at")
    Params = NewValueParams

    def __init__(self, params: NewValueParams | None = None) -> None:
        self.p = params or NewValueParams()
        self.seen: dict[str, None] = {}
        self.t0: float | None = None
        self.born: float | None = None
        # with `scope: everyone`, kept by the organisation's model: value -> key -> Held
        # (None until something is held: most models are a person's, which hold nothing)
        self.held: dict[str, dict[tuple[str, ...], Held]] | None = None
        # with `scope: everyone`, kept by the organisation's model: value -> keys whose news of
        # it was told during the warm-up (told once, not again each window until its end)
        self.told: dict[str, dict[tuple[str, ...], None]] | None = None
        # with `scope: everyone`, the values of the key's own windows (`seen` holds its parent's
        # as well): whether a person calls where the organisation does
        self.own: dict[str, None] | None = None
        # (warmup, when it is over) for `warm_on: weekdays`, computed once
        self.warm_at: tuple[float, float] | None = None
        # with `span` > 1: (window start, values judged new to the key) of its last windows
        self.news: list[tuple[float, tuple[str, ...]]] = []

    __setstate__ = restore_slots  # saved before `born` existed: judged by its own history

    def spawn(self) -> NewValue:
        child = NewValue(self.p)
        child.seen = dict(self.seen)
        child.t0 = self.t0
        return child

    def is_young(self, t: float, warmup: float) -> bool:
        """Whether the key's own history is shorter than `warmup` (its parent's may not be)."""
        return self.born is None or t - self.born < warmup

    def adopt(self, parent: NewValue) -> None:
        """Know what the parent has seen since this key started: a value is new only if it is
        new to the whole parent (a team's region is not new to its next user)."""
        seen = self.seen
        for v in parent.seen:
            if v not in seen:
                seen[v] = None
        while len(seen) > self.p.max_values:
            del seen[next(iter(seen))]

    def is_warm(self, t: float, warmup: float) -> bool:
        return self.t0 is not None and t >= self.warm_until(warmup)

    def warm_until(self, warmup: float) -> float:
        """When the warm-up that began at t0 is over: `warmup` later, or with
        `warm_on: weekdays` once `warmup` of weekday time has passed."""
        assert self.t0 is not None
        if self.p.warm_on != "weekdays":
            return self.t0 + warmup
        if self.warm_at is None or self.warm_at[0] != warmup:
            self.warm_at = (warmup, after_weekdays(self.t0, warmup))
        return self.warm_at[1]

    def norm(self, value: str) -> str:
        """What is remembered of a value (itself, or its geography)."""
        if self.p.generalize == "geography":
            return place(value, "geography") or geography(value)
        return value

    def kept(self, values: Iterable[str]) -> Iterable[str]:
        """The values a region detector judges and learns: regions (and, generalized to
        geographies, inference profiles' geographies); a window of other values only
        shows the person at work (a call without a region is no newcomer's next time)."""
        if self.p.generalize != "geography" and self.p.within != "known_geography":
            return values
        return [v for v in values if place(v, self.p.generalize) is not None]

    def new_values(self, values: Iterable[str]) -> list[str]:
        return sorted(v for v in set(self.kept(values)) if self.norm(v) not in self.seen)

    def news_horizon(self) -> float:
        """How far back a window's news counts: the `span - 1` steps before it (half a step
        of slack for windows that close a little off their step)."""
        return (self.p.span - 0.5) * self.p.step

    def recent_news(self, t: float) -> list[str]:
        """The values judged new to the key in its windows of the `span - 1` steps before t."""
        horizon = self.news_horizon()
        return [v for start, vs in self.news if 0.0 < t - start <= horizon for v in vs]

    def news_at(self, values: Iterable[str], t: float) -> list[str]:
        """The window's new values with those of the key's windows of the last `span` steps.
        A window with nothing new of its own carries no news: a walk is news while it walks,
        and what earlier windows told is not told again after a lull (one walk, one incident)."""
        fresh = self.new_values(values)
        if self.p.span <= 1 or not fresh:
            return fresh
        return sorted(set(fresh).union(self.recent_news(t)))

    def score_one(self, values: Iterable[str], t: float, n: int = 0) -> float:
        return 1.0 if len(self.news_at(values, t)) >= max(self.p.min_new, 1) else 0.0

    def describe(self, values: Iterable[str], t: float, n: int = 0) -> dict[str, Any]:
        return {"new_values": self.news_at(values, t), "known_values": len(self.seen)}

    def remember_news(self, news: Iterable[str], t: float) -> None:
        """Keep what a window judged new to the key for the windows of the next steps (with
        `span` > 1), at most `max_values` values."""
        if self.p.span <= 1:
            return
        horizon = self.news_horizon()
        kept = [(s, vs) for s, vs in self.news if 0.0 <= t - s < horizon]
        fresh = tuple(self.new_values(news))[: self.p.max_values]
        self.news = [*kept, (t, fresh)] if fresh else kept

    def learn_one(self, values: Iterable[str], t: float, n: int = 0) -> None:
        if self.t0 is None:
            self.t0 = t
        if self.born is None:
            self.born = t
        normed = self.know(values)
        if self.p.scope == "everyone":
            own = self.own = self.own or {}
            own.update(dict.fromkeys(normed))
            while len(own) > self.p.max_values:
                del own[next(iter(own))]

    def know(self, values: Iterable[str]) -> list[str]:
        """Remember values (most recent last, the least recently seen forgotten past
        `max_values`); returns what was remembered of them."""
        normed = sorted({self.norm(v) for v in self.kept(values)})
        seen = self.seen
        for v in normed:
            seen.pop(v, None)
            seen[v] = None
        while len(seen) > self.p.max_values:
            del seen[next(iter(seen))]
        return normed

    # -- window rules: a window's value is the set of values it saw; windows without events
    # are no point; a key's news is judged against its parent and the organisation.

    @classmethod
    def point(
        cls, accs: Sequence[Accumulator], aggregations: Sequence[str], min_count: int
    ) -> set[str] | None:
        return set(accs[0].distinct or ()) if accs else None

    @classmethod
    def empty_point(cls, aggregations: Sequence[str]) -> None:
        return None

    @classmethod
    def series_point(cls, value: float, raw: str) -> set[str]:
        return {raw}

    def judged(
        self,
        x: set[str],
        parent: NewValue | None,
        root: NewValue | None,
        t: float,
        warmup: float,
        key: tuple[str, ...] = (),
    ) -> Iterable[str]:
        """The window's values that are news: a key first learns what its parent has seen; with
        `scope: everyone` only values new to the organisation are (a newcomer's are held, see
        `hold_news`); a young key's first values are its habits, news only if new to all.
        Several new at once (`min_new`) are no habit: news if new to a parent with a
        warm-up's history of its own."""
        if parent is not None:
            self.adopt(parent)
        x = set(self.kept(x))
        if self.p.scope == "everyone":
            if root is None:
                return []
            if key and self.born is not None and not root.is_warm(t, warmup):
                self.hold_own(key, x, root, t, warmup)
            news = root.new_values(x)
            if self.p.within == "known_geography":
                news = self.within_known_geography(news, root, t, warmup)
            if self.at_home_and_away(x, root, t, warmup):
                return news  # no new office's first morning: news now, not held
            self.release_at_home(key, x, root, t)
            return self.hold_news(key, news, root, t, warmup)
        if root is not None and self.is_young(t, warmup):
            several = self.p.min_new > 1
            if not (several and parent is not None and parent.is_warm(t, warmup)):
                news = root.new_values(x)
                self.remember_news(news, t)
                return news
        self.remember_news(x, t)
        return x

    def at_home_and_away(self, x: set[str], root: NewValue, t: float, warmup: float) -> bool:
        """Whether a newcomer's first window, after the warm-up, shows them where the
        organisation works as well as in a geography new to it: a person at home and
        elsewhere at once (a key used from two places) is not a new office's first morning,
        whose people call only from there. Inside known geographies newcomers are learned."""
        if self.born is not None or self.p.within == "known_geography":
            return False
        return root.is_warm(t, warmup) and any(root.norm(v) in root.seen for v in x)

    def release_at_home(self, key: tuple[str, ...], x: set[str], root: NewValue, t: float) -> None:
        """A held newcomer now calling where the organisation works: their news is due now
        (first seen elsewhere, then at home: a key used from two places, not a new office)."""
        if not root.held or self.p.within == "known_geography" or self.born is None:
            return
        if not any(root.norm(v) in root.seen for v in x):
            return
        for waiting in root.held.values():
            h = waiting.get(key)
            if h is not None and h.not_before == -math.inf:
                waiting[key] = replace(h, not_before=t)

    def within_known_geography(
        self, news: list[str], root: NewValue, t: float, warmup: float
    ) -> list[str]:
        """Of values new to the organisation, those inside a geography it uses, shown by a
        person with a history of their own after the warm-up; the rest (a newcomer's values
        over their first `warmup`, the organisation's warm-up's) become the organisation's at
        once: a person's first day shows where they work, as the organisation's does."""
        if self.born is None or not root.is_warm(t, warmup) or self.is_young(t, warmup):
            root.know(news)
            return []
        return [v for v in news if root.knows_geography_of(v)]

    def hold_news(
        self, key: tuple[str, ...], news: list[str], root: NewValue, t: float, warmup: float
    ) -> list[str]:
        """Of values new to the organisation, those that are news now. A key without a window
        of its own before this one (`born` unset) is a newcomer: its news waits in the
        organisation's `held` for `hold` (released by `due`, dropped when the value is
        adopted meanwhile); a key already waiting on a value is not news again for it.
        While the organisation warms up, nothing is news now; but a person already calling in
        one of its geographies who turns up in one new to everyone (a key used from
        elsewhere on the history's first day) is held to the warm-up's end (`warmup_news:
        after_hold`: for `hold`, or to the warm-up's end if sooner, as a newcomer is): news
        then unless people take the geography up meanwhile (`adopted_by`), and news once for
        that person until the warm-up is over; with `warmup_news: at_once` such a person is
        news at once (once, until the warm-up is over)."""
        if not news:
            return news
        warm = root.is_warm(t, warmup)
        if not warm and not (key and self.born is not None and self.calls_where(root)):
            return news  # warming up: judged, not alerted
        if root.held is None:
            root.held = {}
        now = []
        for v in news:
            waiting = root.held.get(root.norm(v))
            if waiting is not None and key in waiting:
                h = waiting[key]  # used again: counted towards `sustained`
                waiting[key] = replace(h, uses=getattr(h, "uses", 1) + 1)
                continue
            if not warm:
                self.hold_warming(key, v, news, root, t, warmup)
                continue
            if key and (self.born is None or self.p.within == "known_geography"):
                root.held.setdefault(root.norm(v), {})[key] = Held(t, tuple(news))
                continue
            now.append(v)
        return now

    def hold_warming(
        self, key: tuple[str, ...], v: str, news: list[str], root: NewValue, t: float, warmup: float
    ) -> None:
        """During the warm-up, hold a known person's news of `v` once (see `hold_news`): to the
        warm-up's end, for `hold` at most (`after_hold`), or to this window (`at_once`)."""
        assert root.held is not None
        root.told = root.told if root.told is not None else {}
        told = root.told.setdefault(root.norm(v), {})
        if key in told:
            return
        told[key] = None
        soon = root.warm_until(warmup)
        if self.p.warmup_news != "at_end":
            soon = min(t + self.p.hold, soon)
        if self.p.warmup_news == "at_once":
            soon = t  # released with this window's held news, scored or not
        root.held.setdefault(root.norm(v), {})[key] = Held(t, tuple(news), not_before=soon)

    def hold_own(
        self, key: tuple[str, ...], x: set[str], root: NewValue, t: float, warmup: float
    ) -> None:
        """During the warm-up, a person now calling where the organisation does whose own
        earlier windows showed a value new to everyone (their first calls were elsewhere):
        that value's news is held as if it came now (see `hold_news`)."""
        if root.t0 is None or not any(root.norm(v) in root.seen for v in x):
            return
        held = root.held = root.held if root.held is not None else {}
        told = root.told or {}
        for v in self.own or ():
            if v not in root.seen and key not in held.get(v, {}) and key not in told.get(v, {}):
                held.setdefault(v, {})[key] = Held(t, (v,), not_before=root.warm_until(warmup))

    def knows_geography_of(self, value: str) -> bool:
        """Whether a value this model has seen lies in the same geography as `value`."""
        where = geography(value)
        return any(geography(v) == where for v in self.seen)

    def calls_where(self, root: NewValue) -> bool:
        """Whether this key's own windows showed a value the organisation has made its own."""
        return any(v in root.seen for v in self.own or ())

    def is_due(self, h: Held, t: float) -> bool:
        """Whether held news is due at t (see `Held.is_due`)."""
        return t >= h.not_before and h.is_due(t, self.p.hold, self.p.sustained)

    def due(self, t: float) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
        """The organisation's held news whose hold is over at t, not adopted meanwhile:
        (key, evidence) to alert on, oldest first. With `within: known_geography` a region is
        news once: the next person there (or the same one calling again) is not news again."""
        out: list[tuple[float, tuple[str, ...], dict[str, Any]]] = []
        for norm in list(self.held or ()):
            assert self.held is not None
            waiting = self.held[norm]
            due = [k for k, h in waiting.items() if self.is_due(h, t)]
            for key in due:
                h = waiting.pop(key)
                news = sorted(v for v in h.values if self.norm(v) not in self.seen)
                if news:
                    evidence = {"new_values": news, "known_values": len(self.seen)}
                    evidence["held_seconds"] = t - h.since
                    out.append((h.since, key, evidence))
                    if self.p.within == "known_geography":
                        self.know(news)  # news once, then the organisation's
            if not waiting:
                del self.held[norm]
        return [(key, ev) for _, key, ev in sorted(out, key=lambda o: (o[0], o[1]))]

    def taught(
        self,
        key: tuple[str, ...],
        x: set[str],
        root: NewValue | None,
        pending: PendingKeys,
        max_keys: int,
    ) -> set[str]:
        """With `scope: everyone`, of a window's values those the organisation has made its
        own: a value new to it once `adopted_by` keys have shown it, during the warm-up too
        (one person in a new geography does not make it the organisation's, not even on its
        first day; the next person there is news as well). An adopted value's held news is
        dropped. Bounded: at most `max_keys` pending values."""
        if self.p.scope != "everyone" or root is None:
            return x
        kept = set()
        for v in self.kept(x):
            norm = root.norm(v)
            if norm in root.seen:
                kept.add(v)
                continue
            keys = pending.setdefault(norm, set())
            keys.add(key)
            if len(keys) >= root.p.adopted_by:
                del pending[norm]
                if root.held is not None:
                    root.held.pop(norm, None)
                kept.add(v)
        while len(pending) > max_keys:
            del pending[next(iter(pending))]
        while root.held is not None and len(root.held) > max_keys:
            del root.held[next(iter(root.held))]
        while root.told is not None and len(root.told) > max_keys:
            del root.told[next(iter(root.told))]
        return kept

    @classmethod
    def check_spec(
        cls,
        kind: str,
        aggregations: Sequence[str],
        group_by: Sequence[str],
        params: Mapping[str, Any],
        budgets: Mapping[str, float],
    ) -> None:
        super().check_spec(kind, aggregations, group_by, params, budgets)
        if aggregations[0] != "distinct":
            raise ValueError("kind 'new_value' needs `aggregation: distinct` and a `field`")
