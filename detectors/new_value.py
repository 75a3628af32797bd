"""`new_value`: the first appearance of a value of a field for a key (ElastAlert's new_term)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from detectors.persist import restore_slots


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
    """

    max_values: int = 256
    generalize: str = "value"
    scope: str = "key"
    min_new: int = 1


def geography(region: str) -> str:
    """The geography of an AWS region name: all but its last two parts (`ap-south-1` -> `ap`).

    >>> geography("us-gov-west-1"), geography("il-central-1"), geography("local")
    ('us-gov', 'il', 'local')
    """
    parts = region.lower().split("-")
    return "-".join(parts[:-2]) if len(parts) >= 3 else region.lower()


class NewValue:
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

    __slots__ = ("born", "p", "seen", "t0")

    def __init__(self, params: NewValueParams | None = None) -> None:
        self.p = params or NewValueParams()
        self.seen: dict[str, None] = {}
        self.t0: float | None = None
        self.born: float | None = None

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
        return self.t0 is not None and t - self.t0 >= warmup

    def norm(self, value: str) -> str:
        """What is remembered of a value (itself, or its geography)."""
        return geography(value) if self.p.generalize == "geography" else value

    def new_values(self, values: Iterable[str]) -> list[str]:
        return sorted(v for v in set(values) if self.norm(v) not in self.seen)

    def score_one(self, values: Iterable[str], t: float, n: int = 0) -> float:
        return 1.0 if len(self.new_values(values)) >= max(self.p.min_new, 1) else 0.0

    def describe(self, values: Iterable[str], t: float, n: int = 0) -> dict:
        return {"new_values": self.new_values(values), "known_values": len(self.seen)}

    def learn_one(self, values: Iterable[str], t: float, n: int = 0) -> None:
        if self.t0 is None:
            self.t0 = t
        if self.born is None:
            self.born = t
        seen = self.seen
        for v in sorted({self.norm(v) for v in values}):
            seen.pop(v, None)
            seen[v] = None
        while len(seen) > self.p.max_values:
            del seen[next(iter(seen))]
