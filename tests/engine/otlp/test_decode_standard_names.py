"""Region, repository and team under their OpenTelemetry convention names, wherever they sit, and
Claude Code's token counts read with Anthropic's usage semantics (docs/events.md)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from engine.otlp.aliases import AliasTable, repo_from_url
from engine.otlp.line_decoder import decode_line, decode_object

ALIASES = AliasTable()


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": value}


def _attrs(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _value(v)} for k, v in values.items()]


def log_event(record: dict[str, Any], resource: dict[str, Any]) -> dict[str, Any]:
    """One Claude Code `api_request` record with these attributes, decoded from OTLP/JSON."""
    rec = {
        "timeUnixNano": "1792541201005746944",
        "body": {"stringValue": "claude_code.api_request"},
        "attributes": _attrs({"event.name": "api_request", **record}),
    }
    scope = {"scope": {"name": "com.anthropic.claude_code.events"}, "logRecords": [rec]}
    res = {"attributes": _attrs({"service.name": "claude-code", **resource})}
    [event] = decode_object({"resourceLogs": [{"resource": res, "scopeLogs": [scope]}]}, ALIASES)
    return event


def span_event(own: dict[str, Any], resource: dict[str, Any]) -> dict[str, Any]:
    """One `claude.invoke` span with these attributes, decoded from OTLP/JSON."""
    span = {
        "traceId": "0af7651916cd43dd8448eb211c80319c",
        "spanId": "b7ad6b7169203331",
        "name": "claude.invoke",
        "startTimeUnixNano": "1792541200000000000",
        "endTimeUnixNano": "1792541201000000000",
        "attributes": _attrs(own),
    }
    res = {"attributes": _attrs(resource)}
    request = {"resourceSpans": [{"resource": res, "scopeSpans": [{"spans": [span]}]}]}
    [event] = decode_line(orjson.dumps(request), ALIASES)
    return event


DECODERS = {"log": log_event, "span": span_event}
PLACES = ("resource", "record")


def decode(kind: str, place: str, attrs: dict[str, Any]) -> dict[str, Any]:
    where = {"resource": {}, "record": {}}
    where[place] = attrs
    return DECODERS[kind](where["record"], where["resource"])


REGION_SPELLINGS = ("region", "cloud.region", "aws.region")
REPO_SPELLINGS = ("repo", "repository", "git.repository", "repo.name", "vcs.repository.name")
REPO_URLS = {
    "https://github.com/acme/billing-api.git": "billing-api",
    "https://gitlab.example.com/group/sub/billing-api": "billing-api",
    "https://github.com/acme/billing-api/": "billing-api",
    "git@github.com:acme/billing-api.git": "billing-api",
    "ssh://git@example.com:2222/acme/billing-api.git": "billing-api",
    "billing-api.git": "billing-api",
}


TEAM_SPELLINGS = ("team", "team.name", "team.id", "team_id", "department")
SPELLINGS = [
    *(("region", name, "ap-northeast-1") for name in REGION_SPELLINGS),
    *(("repo", name, "data-docs") for name in REPO_SPELLINGS),
    *(("team", name, "platform") for name in TEAM_SPELLINGS),
]


@pytest.mark.parametrize("kind", DECODERS)
@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize(("key", "name", "value"), SPELLINGS)
def test_every_spelling_of_a_name_fills_its_key(kind, place, key, name, value):
    assert decode(kind, place, {name: value})[key] == value


@pytest.mark.parametrize("kind", DECODERS)
@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize(("url", "repo"), REPO_URLS.items())
def test_the_repository_url_names_the_repository_by_its_last_path_part(kind, place, url, repo):
    assert decode(kind, place, {"vcs.repository.url.full": url})["repo"] == repo


@pytest.mark.parametrize("kind", DECODERS)
@pytest.mark.parametrize(
    ("names", "key", "winner"),
    [
        (REGION_SPELLINGS, "region", "region"),
        (("cloud.region", "aws.region"), "region", "cloud.region"),
        ((*REPO_SPELLINGS, "vcs.repository.url.full"), "repo", "repo"),
        (("vcs.repository.name", "vcs.repository.url.full"), "repo", "vcs.repository.name"),
        (("repo.name", "vcs.repository.name"), "repo", "repo.name"),
    ],
)
def test_the_convention_names_come_after_the_names_spanwatch_knew(kind, names, key, winner):
    attrs = {name: f"from {name}" for name in names}
    assert decode(kind, "record", attrs)[key] == f"from {winner}"


@pytest.mark.parametrize("kind", DECODERS)
def test_the_records_own_attribute_wins_over_its_resources(kind):
    event = DECODERS[kind](
        {"aws.region": "eu-west-1", "vcs.repository.name": "own"},
        {"cloud.region": "us-east-1", "vcs.repository.url.full": "https://x/acme/res.git"},
    )
    # the record's aws.region is later in the table than the resource's cloud.region
    assert event["region"] == "us-east-1"
    assert event["repo"] == "own", "a named repository wins over a URL wherever it sits"


@pytest.mark.parametrize("kind", DECODERS)
@pytest.mark.parametrize("place", PLACES)
def test_an_empty_attribute_gives_way_to_the_next_spelling(kind, place):
    event = decode(
        kind,
        place,
        {"region": "", "cloud.region": "sa-east-1", "repository": "", "vcs.repository.name": "web"},
    )
    assert (event["region"], event["repo"]) == ("sa-east-1", "web")


@pytest.mark.parametrize("kind", DECODERS)
@pytest.mark.parametrize("place", PLACES)
def test_empty_names_and_urls_name_nothing(kind, place):
    event = decode(kind, place, {"cloud.region": "", "vcs.repository.url.full": "https://x/"})
    assert "region" not in event and "repo" not in event


@pytest.mark.parametrize("kind", DECODERS)
@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("value", [42, 4.5, True])
def test_numeric_names_become_text(kind, place, value):
    event = decode(kind, place, {"aws.region": value, "vcs.repository.name": value})
    assert event["region"] == event["repo"] == str(value)


@pytest.mark.parametrize("kind", DECODERS)
def test_a_teams_id_wins_over_its_department_and_cost_centre(kind):
    """Claude Code's monitoring guide sets all three on one resource: the team is the team's."""
    resource = {"department": "engineering", "team.id": "platform", "cost_center": "eng-123"}
    event = DECODERS[kind]({}, resource)
    assert event["team"] == "platform"


@pytest.mark.parametrize("url", [42, "", "/", ".git", "https://github.com/"])
def test_a_url_without_a_path_part_names_no_repository(url):
    assert repo_from_url(url) is None


# Claude Code's `input_tokens` leaves out the prompt-cache reads and writes.
TOKENS = [
    # (record attributes, tokens_in, cache_hit)
    ({"input_tokens": "12", "cache_read_tokens": "9000", "cache_creation_tokens": "300"},
     9312, True),
    ({"input_tokens": "12", "cache_read_tokens": "0", "cache_creation_tokens": "4000"},
     4012, False),
    ({"input_tokens": "2500", "cache_read_tokens": "0", "cache_creation_tokens": "0"},
     2500, False),
    ({"input_tokens": 700, "cache_read_tokens": 50}, 750, True),
    ({"input_tokens": "700"}, 700, None),
    ({"input_tokens": "700", "cache_read_tokens": "", "cache_creation_tokens": "n/a"},
     700, None),
    # a total given under the span contract's name keeps its meaning
    ({"tokens_in": 9000, "cache_read_tokens": 6000}, 9000, True),
    ({"tokens_in": 9000, "input_tokens": 3000, "cache_read_tokens": 6000}, 9000, True),
    # the OTel GenAI input count is the whole prompt already
    ({"gen_ai.usage.input_tokens": 9000, "cache_read_tokens": 6000}, 9000, True),
]  # fmt: skip


@pytest.mark.parametrize("kind", DECODERS)
@pytest.mark.parametrize(("attrs", "tokens_in", "hit"), TOKENS)
def test_tokens_in_is_the_prompts_size(kind, attrs, tokens_in, hit):
    event = decode(kind, "record", attrs)
    assert event["tokens_in"] == tokens_in
    assert event.get("cache_hit") is hit


@pytest.mark.parametrize(("attrs", "tokens_in", "hit"), TOKENS)
def test_a_decoded_event_read_back_keeps_its_tokens(attrs, tokens_in, hit):
    """Replaying normalised events decodes them again: the cache is not counted twice."""
    event = log_event(attrs, {})
    [again] = decode_line(orjson.dumps(event), ALIASES)
    assert again["tokens_in"] == tokens_in
    assert again.get("cache_hit") is hit
