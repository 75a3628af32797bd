"""A team's silence in its working hours is raised as its own hours expect, replayed as a user
would: the evidence gathers across an hour at which the team often pauses (lunch) instead of
starting again after it, wherever the team lives, and a team that stops early every Friday
is not paged for it once it has been seen to.

The organisation is unlike the simulator's: teams eight hours west and nine hours east of
UTC (one whose day straddles UTC midnight), a team of three, a lunch hour that everyone
takes, first seen on a Wednesday, and people who work in sessions of uneven lengths."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import orjson
import pytest

from engine.timeutil import parse_time
from tests.replay_cli import replay_opened_at

WEDNESDAY = parse_time("2025-06-04T00:00:00Z")
DAY, HOUR, MINUTE = 86400.0, 3600.0, 60.0
WEEKDAYS = tuple(d for d in range(10) if (d + 2) % 7 < 5)  # Wednesday on, Monday to Friday


@dataclass(frozen=True)
class Team:
    """A team's working pattern, in its own time zone (hours east of UTC)."""

    name: str
    people: int
    offset: float
    begin: float = 9.0
    end: float = 18.0
    lunch: tuple[float, float] | None = (12.0, 13.0)
    friday_end: float | None = None  # the hour it stops on Fridays, if earlier
    breaks: tuple[float, float] = (2.0, 12.0)  # minutes between one person's sessions
    silences: tuple[tuple[int, float, float], ...] = field(default=())  # (day, local hour, hours)

    def utc(self, day: int, hour: float) -> float:
        return WEDNESDAY + day * DAY + (hour - self.offset) * HOUR

    def quiet(self, day: int) -> list[tuple[float, float]]:
        out = [(self.utc(day, h), self.utc(day, h + n)) for d, h, n in self.silences if d == day]
        if self.lunch is not None:
            out.append((self.utc(day, self.lunch[0]), self.utc(day, self.lunch[1])))
        return out

    def day_end(self, day: int) -> float:
        friday = (day + 2) % 7 == 4
        return self.friday_end if friday and self.friday_end is not None else self.end


def events(teams: list[Team], seed: int) -> list[dict]:
    """Calls of every person of every team on its working days: sessions of uneven lengths
    with a call every half minute to four minutes, and the team's breaks between them."""
    rng = random.Random(seed)
    out = []
    for team in teams:
        for p in range(team.people):
            user = f"{team.name}-{p}@example.org"
            for day in WEEKDAYS:
                quiet = team.quiet(day)
                t = team.utc(day, team.begin) + rng.uniform(0, 20) * MINUTE
                stop = team.utc(day, team.day_end(day)) - rng.uniform(0, 20) * MINUTE
                while t < stop:
                    end = t + rng.expovariate(1 / 40.0) * MINUTE
                    while t < min(end, stop):
                        if not any(a <= t < b for a, b in quiet):
                            out.append(call(t, user, team.name))
                        t += rng.uniform(0.5, 4.0) * MINUTE
                    t += rng.uniform(*team.breaks) * MINUTE
    return sorted(out, key=lambda e: e["time"])


def call(t: float, user: str, team: str) -> dict:
    return {"time": round(t, 3), "name": "claude.invoke", "user": user, "team": team,
            "repo": f"{team}-svc", "session": f"{user}-{int(t // 3600)}",
            "model": "anthropic.claude-sonnet-4-5-20250929-v1:0", "region": "us-west-2",
            "status": "ok", "tokens_in": 900, "tokens_out": 250, "cost": 0.01,
            "latency_ms": 1800.0}  # fmt: skip


def silent_teams(tmp, teams: list[Team], seed: int) -> list[tuple[float, str]]:
    """(opened at, team) of every team-silent incident of a replay of these teams' calls."""
    opened = replay_opened_at(tmp, map(orjson.dumps, events(teams, seed)))
    return [(at, i["group"]["team"]) for at, i in opened if i["rule_id"] == "team-silent"]


# Days from the first Wednesday: 0-2 (Wednesday to Friday) and 5-9 (Monday to Friday).
EMBER = Team("ember", 6, -8.0, breaks=(5.0, 45.0), silences=((8, 11.25, 3.0),))
KOI = Team("koi", 5, 9.0, breaks=(5.0, 45.0), silences=((7, 11.5, 3.0),))
TRIO = Team("trio", 3, -8.0, lunch=None, breaks=(10.0, 60.0), silences=((9, 11.0, 4.0),))
FRIDAYS = (2, 9)
EARLY_FRIDAYS = Team("fika", 6, 1.0, friday_end=13.0)
TEAMS = [EMBER, KOI, TRIO, EARLY_FRIDAYS]


@pytest.fixture(scope="module")
def silent(tmp_path_factory) -> list[tuple[float, str]]:
    return silent_teams(tmp_path_factory.mktemp("pauses"), TEAMS, seed=2)


def opened_for(silent: list[tuple[float, str]], team: Team) -> list[float]:
    return [at for at, name in silent if name == team.name]


@pytest.mark.parametrize("team", [EMBER, KOI], ids=["UTC-8", "UTC+9"])
def test_a_silence_across_lunch_is_raised_soon_after_lunch_not_judged_afresh(silent, team):
    """Silent from 45 (UTC-8) or 30 (UTC+9) minutes before lunch for three hours: the
    evidence of the morning's part is kept, so the alert comes within twenty minutes of
    lunch's end (judged afresh from 13:00, as if the silence had just begun, it came at
    13:30 or later)."""
    ((day, hour, _),) = team.silences
    opened = opened_for(silent, team)
    assert len(opened) == 1
    assert team.utc(day, hour) < opened[0] <= team.utc(day, 13.0 + 20 / 60)


def test_a_team_of_three_going_silent_for_four_hours_is_raised_while_it_lasts(silent):
    ((day, hour, hours),) = TRIO.silences
    opened = opened_for(silent, TRIO)
    assert len(opened) == 1
    assert TRIO.utc(day, hour) < opened[0] < TRIO.utc(day, hour + hours)


def test_a_team_that_stops_early_every_friday_is_not_paged_for_it_once_it_has_done_so(silent):
    """Its first Friday is its third day seen: an early stop then looks like a silence (no
    Friday has been seen yet). From the second Friday on, its Fridays are known."""
    after_first_friday = EARLY_FRIDAYS.utc(FRIDAYS[0] + 1, 0.0)
    assert [at for at in opened_for(silent, EARLY_FRIDAYS) if at >= after_first_friday] == []
