"""An organisation in regions of its own, replayed as a user would with the defaults:
its regions are learned, a call in a geography new to it is one incident."""

from __future__ import annotations

import random
from pathlib import Path

import orjson

from engine.timeutil import parse_time
from tests.replay_cli import replay_opened

T0 = parse_time("2025-11-03T00:00:00Z")
HOME = {"ledger": ["us-east-2", "us-west-2"], "maps": ["eu-west-2", "eu-central-1"]}


def call(t: float, user: str, team: str, region: str) -> dict:
    return {"time": t, "name": "claude.invoke", "user": user, "team": team, "region": region,
            "model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "status": "ok",
            "tokens_in": 900, "tokens_out": 300, "cost": 0.01, "latency_ms": 2000.0,
            "session": f"{user}-{int(t // 3600)}"}  # fmt: skip


def organisation() -> list[dict]:
    rng = random.Random(4)
    events = []
    for minute in range(0, 3 * 24 * 60, 3):
        for team, regions in HOME.items():
            for person in range(4):
                if rng.random() < 0.3:
                    # a team's second region turns up only on the third day: no news
                    late = minute > 2 * 24 * 60 and rng.random() < 0.3
                    region = regions[1] if late else regions[0]
                    events.append(call(T0 + 60 * minute, f"{team}{person}", team, region))
    # one person of maps calls Bedrock in a geography the organisation never uses
    start = T0 + 2.5 * 86400
    events += [call(start + 60 * i, "maps1", "maps", "ap-southeast-3") for i in range(10)]
    return sorted(events, key=lambda e: e["time"])


def replay(tmp: Path, config: str | None = None) -> list[dict]:
    options = []
    if config is not None:
        (tmp / "spanwatch.yml").write_text(config)
        options = ["--config", str(tmp / "spanwatch.yml")]
    return replay_opened(tmp, map(orjson.dumps, organisation()), *options)


def test_regions_are_learned_and_a_new_geography_is_one_incident(tmp_path):
    opened = replay(tmp_path)
    regional = [i for i in opened if "region" in i["rule_id"]]
    assert [(i["rule_id"], i["group"]) for i in regional] == [
        ("region-new-to-organisation", {"user": "maps1"})
    ]
    assert "ap-southeast-3" in str(regional[0]["evidence"])


def test_a_configured_allow_list_turns_the_policy_rule_on(tmp_path):
    config = "rules:\n  lists:\n    allowed_regions: [us-east-2, eu-west-2]\n"
    opened = replay(tmp_path, config)
    policy = [i["group"] for i in opened if i["rule_id"] == "disallowed-region"]
    # every region off the organisation's list, whoever calls it (past the noise budget,
    # the rest fold into one storm)
    regions = {g["region"] for g in policy if "region" in g}
    assert regions == {"us-west-2", "eu-central-1", "ap-southeast-3"}


def weekend_start() -> list[dict]:
    """A history starting on a Saturday: only a US team works the weekend; on Monday a
    European team of people never seen before starts within the morning's first hour, and
    in the afternoon one of the US people calls Bedrock from the Middle East."""
    saturday = parse_time("2025-11-01T00:00:00Z")
    rng = random.Random(11)
    events = []
    for minute in range(0, 3 * 24 * 60, 5):
        for person in range(3):
            if rng.random() < 0.2:
                region = rng.choice(["US-EAST-1", "us-west-2"])  # spellings vary
                events.append(call(saturday + 60 * minute, f"ledger{person}", "ledger", region))
    monday = saturday + 2 * 86400
    for person, start in enumerate([8 * 3600 + 300, 8 * 3600 + 1500, 8 * 3600 + 2700, 9 * 3600]):
        for i in range(0, 8 * 3600, 240):
            region = "eu-central-1" if person % 2 else "eu-west-3"
            events.append(call(monday + start + i, f"maps{person}", "maps", region))
    events += [call(monday + 15 * 3600 + 60 * i, "ledger1", "ledger", "me-central-1")
               for i in range(4)]  # fmt: skip
    return sorted(events, key=lambda e: e["time"])


def regional_incidents(
    tmp_path: Path, events: list[dict], rule: str = "region-new-to-organisation"
) -> list[dict]:
    """The incidents of one region detector `spanwatch replay` opens on these events."""
    opened = replay_opened(tmp_path, map(orjson.dumps, events))
    return [i for i in opened if i["rule_id"] == rule]


def test_a_team_starting_in_a_new_geography_is_adoption_a_known_person_there_is_news(tmp_path):
    regional = regional_incidents(tmp_path, weekend_start())
    assert [i["group"] for i in regional] == [{"user": "ledger1"}]
    # Monday is still the warm-up (a weekend counts for nothing), but ledger1 has called at
    # home since Saturday: the hop (15:00) is news at once, not an hour later
    assert regional[0]["first_seen"].startswith("2025-11-03T15:0")
    assert "me-central-1" in str(regional[0]["evidence"])


def first_day_elsewhere() -> list[dict]:
    """An organisation in Tokyo, its history starting on a Tuesday: on the first morning one
    of its people calls Bedrock in São Paulo for twenty minutes (a key used from elsewhere)
    between calls at home, and a colleague travelling works from Frankfurt alone, all day,
    with no call at home: neither is taken up by anyone else."""
    tuesday = parse_time("2025-11-04T00:00:00Z")
    rng = random.Random(23)
    events = []
    for minute in range(0, 3 * 24 * 60, 4):
        hour = (minute // 60 + 9) % 24  # local time, UTC+9
        for person in range(5):
            if 9 <= hour < 19 and rng.random() < 0.5:
                events.append(
                    call(tuesday + 60 * minute, f"kei{person}", "tokyo", "ap-northeast-1")
                )
    events += [call(tuesday + 3 * 3600 + 60 * i, "kei2", "tokyo", "sa-east-1") for i in range(20)]
    events += [call(tuesday + 3600 * h, "rin", "tokyo", "eu-central-1") for h in range(1, 9)]
    return sorted(events, key=lambda e: e["time"])


def test_a_known_person_in_a_new_geography_on_the_first_day_is_news_within_the_day(tmp_path):
    """During the warm-up the organisation's geographies are still being learned from the
    people not seen yet; a person who has called at home and turns up in a geography new to
    everyone is news at once, once: not again when the warm-up ends. Someone seen only
    elsewhere is learned."""
    regional = regional_incidents(tmp_path, first_day_elsewhere())
    assert [i["group"] for i in regional] == [{"user": "kei2"}]
    assert regional[0]["first_seen"].startswith("2025-11-04T03:0")  # the hop, at once
    assert "sa-east-1" in str(regional[0]["evidence"])


def one_geography() -> list[dict]:
    """An organisation in Mumbai and Sydney (one geography) over three days. On the third
    afternoon one of the Mumbai people calls Bedrock in Jakarta for forty minutes between
    calls at home, which nobody else ever does; that morning the Sydney team spreads to
    Melbourne within half an hour, and a newcomer starts in Tokyo (where nobody worked
    before) and is joined there by a Sydney person two hours later."""
    t0 = parse_time("2025-11-04T00:00:00Z")
    rng = random.Random(31)
    teams = {"mumbai": "ap-south-1", "sydney": "ap-southeast-2"}
    day3 = t0 + 2 * 86400
    events = []
    for minute in range(0, 3 * 24 * 60, 3):
        t = t0 + 60 * minute
        for team, home in teams.items():
            for person in range(4):
                if rng.random() < 0.3:
                    region = home
                    if team == "sydney" and t >= day3 + 3 * 3600 + 600 * person:
                        region = "ap-southeast-4" if rng.random() < 0.5 else home
                    events.append(call(t, f"{team}{person}", team, region))
    away = day3 + 14 * 3600
    events = [e for e in events if not (e["user"] == "mumbai1" and away <= e["time"] < away + 2400)]
    events += [call(away + 60 * i, "mumbai1", "mumbai", "ap-southeast-3") for i in range(40)]
    events += [call(day3 + 5 * 3600 + 120 * i, "tomo", "tokyo", "ap-northeast-1")
               for i in range(200)]  # fmt: skip
    events += [call(day3 + 7 * 3600 + 300 * i, "sydney3", "sydney", "ap-northeast-1")
               for i in range(6)]  # fmt: skip
    return sorted(events, key=lambda e: e["time"])


def test_a_known_person_in_a_region_nobody_uses_inside_a_known_geography_is_news(tmp_path):
    """Jakarta is news within minutes, while it is used (five minutes of calls there, and
    nobody took it up); Melbourne (a team spreading, its people calling it now and then among
    calls at home) and Tokyo (where a newcomer starts, and a colleague joins them) are not;
    and the geography is the organisation's, so the geography detector says nothing."""
    history = one_geography()
    inside = regional_incidents(tmp_path, history, "region-new-in-known-geography")
    assert [i["group"] for i in inside] == [{"user": "mumbai1"}]
    assert inside[0]["first_seen"].startswith("2025-11-06T14:0")  # its fifth minute there
    assert "ap-southeast-3" in str(inside[0]["evidence"])
    assert regional_incidents(tmp_path, history) == []


def test_a_newcomer_s_regions_on_their_first_day_are_where_they_work(tmp_path):
    """A person who starts on the third morning (a new hire) in Sydney and, four hours
    later, works in Hong Kong for forty minutes, a region nobody else uses: a person's first
    day shows where they work, as the organisation's first day does; Jakarta, for a person
    with days of history, is still news."""
    day3 = parse_time("2025-11-06T00:00:00Z")
    events = one_geography()
    events += [call(day3 + 6 * 3600 + 300 * i, "nova", "sydney", "ap-southeast-2")
               for i in range(40)]  # fmt: skip
    events += [call(day3 + 10 * 3600 + 60 * i, "nova", "sydney", "ap-east-1")
               for i in range(40)]  # fmt: skip
    history = sorted(events, key=lambda e: e["time"])
    inside = regional_incidents(tmp_path, history, "region-new-in-known-geography")
    assert [i["group"] for i in inside] == [{"user": "mumbai1"}]


def weekend_then_spreading() -> list[dict]:
    """A history starting on a Saturday. Over the weekend only the ledger team works (in
    us-east-1) and a nightly service, which spreads to us-east-2 on Sunday. On Monday the
    ledger people turn up in us-west-2 one at a time, hours apart, and a European team of
    people never seen before starts in eu-west-1. On Tuesday three ledger people take up
    us-west-1 within half an hour; in the afternoon one of the European team calls Bedrock
    in eu-south-2, nobody joining, and again in the evening."""
    saturday = parse_time("2025-11-01T00:00:00Z")
    monday, tuesday = saturday + 2 * 86400, saturday + 3 * 86400
    rng = random.Random(17)
    events = []
    for minute in range(0, 4 * 24 * 60, 5):
        t = saturday + 60 * minute
        for person in range(3):
            if rng.random() < 0.3:
                region = rng.choice(["us-east-1", "US-EAST-1"])
                if t >= monday + (9 + 3 * person) * 3600 and rng.random() < 0.5:
                    region = "us-west-2"
                if tuesday + 10 * 3600 + 600 * person <= t < tuesday + 12 * 3600:
                    region = "us-west-1"
                events.append(call(t, f"ledger{person}", "ledger", region))
        if minute % 30 == 0:
            region = (
                "us-east-2" if t >= saturday + 86400 + 6 * 3600 and minute % 60 else "us-east-1"
            )
            events.append(call(t, "svc-nightly", "ledger", region))
        if t >= monday + 7 * 3600:
            for person in range(4):
                if t >= monday + 7 * 3600 + 900 * person and rng.random() < 0.3:
                    events.append(call(t, f"maps{person}", "maps", "eu-west-1"))
    for away in (tuesday + 15 * 3600, tuesday + 18 * 3600):
        events = [
            e for e in events if not (e["user"] == "maps1" and away <= e["time"] < away + 2400)
        ]
        events += [call(away + 60 * i, "maps1", "maps", "eu-south-2") for i in range(0, 40, 2)]
    return sorted(events, key=lambda e: e["time"])


def test_a_weekend_start_learns_a_working_day_and_a_new_region_is_news_once(tmp_path):
    """The warm-up spans Monday's traffic (the weekend counts for nothing), so the regions
    the organisation takes up on Sunday and Monday are its own; us-west-1, taken up by three
    people within the hour, is adoption; eu-south-2 is news once, at its fifth minute of calls
    (every other minute: in its tenth), and not again when the same person calls there later."""
    history = weekend_then_spreading()
    inside = regional_incidents(tmp_path, history, "region-new-in-known-geography")
    assert [i["group"] for i in inside] == [{"user": "maps1"}]
    assert inside[0]["first_seen"].startswith("2025-11-04T15:0")
    assert "eu-south-2" in str(inside[0]["evidence"])
    assert regional_incidents(tmp_path, history) == []
