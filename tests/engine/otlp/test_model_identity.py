"""One model, whatever its spelling: canonical names at decode time, and allow-lists on them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from engine.config import load_config
from engine.otlp.aliases import AliasTable
from engine.otlp.line_decoder import decode_line
from engine.otlp.model_identity import BEDROCK_PROVIDERS, UNKNOWN, ModelCatalog
from engine.yamlfile import ConfigError

CATALOG = ModelCatalog()
APP_PROFILE = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"

# spelling -> (canonical model, family, version, inference-profile geography)
SPELLINGS = {
    # Bedrock foundation-model IDs
    "anthropic.claude-sonnet-4-5-20250929-v1:0": (
        "anthropic.claude-sonnet-4-5",
        "sonnet",
        "4.5",
        "",
    ),
    "anthropic.claude-haiku-4-5-20251001-v1:0": ("anthropic.claude-haiku-4-5", "haiku", "4.5", ""),
    "anthropic.claude-opus-4-1-20250805-v1:0": ("anthropic.claude-opus-4-1", "opus", "4.1", ""),
    "anthropic.claude-opus-4-20250514-v1:0": ("anthropic.claude-opus-4", "opus", "4", ""),
    "anthropic.claude-sonnet-4-20250514-v1:0": ("anthropic.claude-sonnet-4", "sonnet", "4", ""),
    "anthropic.claude-3-7-sonnet-20250219-v1:0": (
        "anthropic.claude-3-7-sonnet",
        "sonnet",
        "3.7",
        "",
    ),
    "anthropic.claude-3-5-sonnet-20241022-v2:0": (
        "anthropic.claude-3-5-sonnet",
        "sonnet",
        "3.5",
        "",
    ),
    "anthropic.claude-3-5-haiku-20241022-v1:0": ("anthropic.claude-3-5-haiku", "haiku", "3.5", ""),
    "anthropic.claude-3-opus-20240229-v1:0": ("anthropic.claude-3-opus", "opus", "3", ""),
    "anthropic.claude-3-sonnet-20240229-v1:0:28k": ("anthropic.claude-3-sonnet", "sonnet", "3", ""),
    "anthropic.claude-v2:1": ("anthropic.claude-2-1", "claude", "2.1", ""),
    "anthropic.claude-instant-v1": ("anthropic.claude-instant-1", "instant", "1", ""),
    # cross-region and global inference profiles, any geography
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0": (
        "anthropic.claude-sonnet-4-5",
        "sonnet",
        "4.5",
        "us",
    ),
    "eu.anthropic.claude-sonnet-4-5-20250929-v1:0": (
        "anthropic.claude-sonnet-4-5",
        "sonnet",
        "4.5",
        "eu",
    ),
    "apac.anthropic.claude-3-5-sonnet-20241022-v2:0": (
        "anthropic.claude-3-5-sonnet",
        "sonnet",
        "3.5",
        "apac",
    ),
    "jp.anthropic.claude-haiku-4-5-20251001-v1:0": (
        "anthropic.claude-haiku-4-5",
        "haiku",
        "4.5",
        "jp",
    ),
    "au.anthropic.claude-sonnet-4-5-20250929-v1:0": (
        "anthropic.claude-sonnet-4-5",
        "sonnet",
        "4.5",
        "au",
    ),
    "us-gov.anthropic.claude-3-haiku-20240307-v1:0": (
        "anthropic.claude-3-haiku",
        "haiku",
        "3",
        "us-gov",
    ),
    "global.anthropic.claude-sonnet-4-5-20250929-v1:0": (
        "anthropic.claude-sonnet-4-5",
        "sonnet",
        "4.5",
        "global",
    ),
    # ARNs of foundation models and of system inference profiles, in every partition
    "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-opus-20240229-v1:0": (
        "anthropic.claude-3-opus",
        "opus",
        "3",
        "",
    ),
    "arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.anthropic.claude-opus-4-1-20250805-v1:0": (
        "anthropic.claude-opus-4-1",
        "opus",
        "4.1",
        "us",
    ),
    "arn:aws-us-gov:bedrock:us-gov-west-1:123456789012:inference-profile/us-gov.anthropic.claude-sonnet-4-5-20250929-v1:0": (
        "anthropic.claude-sonnet-4-5",
        "sonnet",
        "4.5",
        "us-gov",
    ),
    # the Anthropic API names Claude Code's own events report
    "claude-sonnet-4-5-20250929": ("anthropic.claude-sonnet-4-5", "sonnet", "4.5", ""),
    "claude-sonnet-4-5": ("anthropic.claude-sonnet-4-5", "sonnet", "4.5", ""),
    "claude-sonnet-4-5-20250929[1m]": ("anthropic.claude-sonnet-4-5", "sonnet", "4.5", ""),
    "claude-3-5-haiku-20241022": ("anthropic.claude-3-5-haiku", "haiku", "3.5", ""),
    "claude-3-5-sonnet-latest": ("anthropic.claude-3-5-sonnet", "sonnet", "3.5", ""),
    "claude-opus-4-1": ("anthropic.claude-opus-4-1", "opus", "4.1", ""),
    "claude-opus-4-0": ("anthropic.claude-opus-4", "opus", "4", ""),
    "claude-haiku-4-5-20251001": ("anthropic.claude-haiku-4-5", "haiku", "4.5", ""),
    # Vertex AI and gateway spellings
    "claude-sonnet-4-5@20250929": ("anthropic.claude-sonnet-4-5", "sonnet", "4.5", ""),
    "anthropic/claude-sonnet-4.5": ("anthropic.claude-sonnet-4-5", "sonnet", "4.5", ""),
    "bedrock/us.anthropic.claude-haiku-4-5-20251001-v1:0": (
        "anthropic.claude-haiku-4-5",
        "haiku",
        "4.5",
        "us",
    ),
    # case, and stray whitespace
    "US.Anthropic.Claude-Haiku-4-5-20251001-v1:0": (
        "anthropic.claude-haiku-4-5",
        "haiku",
        "4.5",
        "us",
    ),
    "  CLAUDE-OPUS-4-1-20250805 ": ("anthropic.claude-opus-4-1", "opus", "4.1", ""),
    # other Bedrock providers keep their provider and name
    "meta.llama3-1-70b-instruct-v1:0": (
        "meta.llama3-1-70b-instruct",
        "llama3-1-70b-instruct",
        "",
        "",
    ),
    "us.meta.llama3-2-90b-instruct-v1:0": (
        "meta.llama3-2-90b-instruct",
        "llama3-2-90b-instruct",
        "",
        "us",
    ),
    "amazon.nova-pro-v1:0": ("amazon.nova-pro", "nova-pro", "", ""),
    "openai.gpt-oss-120b-1:0": ("openai.gpt-oss-120b", "gpt-oss-120b", "", ""),
    "mistral.mistral-large-2402-v1:0": ("mistral.mistral-large-2402", "mistral-large-2402", "", ""),
}
UNKNOWN_SPELLINGS = [
    "",
    "   ",
    "42",
    "gpt-4o",
    "acme.super-model-v1:0",
    "claude",
    "us.",
    "arn:aws:bedrock",
    "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/zz9",
    "arn:aws:s3:::bucket/key",
]


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_every_spelling_of_a_model_gets_one_canonical_name(spelling):
    model, family, version, profile = SPELLINGS[spelling]
    identity = CATALOG.identify(spelling)
    assert (identity.model, identity.family, identity.version, identity.profile) == (
        model,
        family,
        version,
        profile,
    )
    assert identity.provider == model.split(".", 1)[0]
    # the canonical name is its own canonical name
    assert CATALOG.canonical(identity.model) == model


@pytest.mark.parametrize("spelling", UNKNOWN_SPELLINGS)
def test_empty_numeric_and_unknown_providers_models_are_unknown(spelling):
    assert CATALOG.canonical(spelling) == UNKNOWN


@pytest.mark.parametrize("value", [42, 4.5, True, None, ["x"], {"a": 1}])
def test_attributes_of_other_types_are_unknown_not_errors(value):
    assert CATALOG.canonical(value) == UNKNOWN


def test_application_inference_profiles_map_through_configuration():
    catalog = ModelCatalog({APP_PROFILE: "us.anthropic.claude-sonnet-4-5-20250929-v1:0"})
    by_arn = catalog.identify(APP_PROFILE)
    assert (by_arn.model, by_arn.profile) == ("anthropic.claude-sonnet-4-5", "application")
    assert catalog.canonical(APP_PROFILE.upper()) == "anthropic.claude-sonnet-4-5"
    # an ARN of the same profile in another spelling of the partition's region still maps by ID
    other = APP_PROFILE.replace("us-east-1", "us-west-2")
    assert catalog.canonical(other) == "anthropic.claude-sonnet-4-5"
    assert CATALOG.canonical(APP_PROFILE) == UNKNOWN  # without the mapping: unknown


def test_a_profile_that_maps_to_no_model_is_refused_with_its_line(tmp_path):
    cfg = tmp_path / "spanwatch.yml"
    cfg.write_text(f"models:\n  profiles:\n    {APP_PROFILE}: gpt-4o\n")
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    assert f"{cfg}:" in str(err.value) and "not a known model" in str(err.value)


printable = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
model_like = st.builds(
    lambda geo, provider, rest: f"{geo}{provider}{rest}",
    st.sampled_from(["", "us.", "eu.", "global.", "XX.", "arn:aws:bedrock:x:1:inference-profile/"]),
    st.sampled_from([*sorted(BEDROCK_PROVIDERS), "claude", "anthropic.claude", "acme", ""]),
    st.text(alphabet="-.:/@[]0123456789abcdefghijklmnopqrstuvwxyz v", max_size=40),
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(printable, model_like, st.integers(), st.floats(), st.booleans(), st.none()))
def test_canonicalisation_never_raises_and_is_idempotent(raw):
    identity = CATALOG.identify(raw)
    assert identity.model == UNKNOWN or identity.model.split(".", 1)[0] in BEDROCK_PROVIDERS
    assert CATALOG.canonical(identity.model) == identity.model


ALIASES = AliasTable()


def trace_line(model) -> bytes:
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.name = "claude.invoke"
    span.trace_id, span.span_id = b"\x01" * 16, b"\x02" * 8
    span.start_time_unix_nano, span.end_time_unix_nano = 10**18, 10**18 + 10**9
    kv = span.attributes.add()
    kv.key = "model"
    if isinstance(model, int):
        kv.value.int_value = model
    else:
        kv.value.string_value = model
    return json_format.MessageToJson(request).replace("\n", "").encode()


def log_line(model: str) -> bytes:
    request = ExportLogsServiceRequest()
    record = request.resource_logs.add().scope_logs.add().log_records.add()
    record.time_unix_nano = 10**18
    record.body.string_value = "claude_code.api_request"
    kv = record.attributes.add()
    kv.key = "model"
    kv.value.string_value = model
    return json_format.MessageToJson(request).replace("\n", "").encode()


def test_decoded_spans_and_log_events_carry_the_canonical_model_and_the_spelling():
    [span] = decode_line(trace_line("US.Anthropic.Claude-Haiku-4-5-20251001-v1:0"), ALIASES)
    [log] = decode_line(log_line("claude-haiku-4-5-20251001"), ALIASES)
    for event in (span, log):
        assert event["model"] == "anthropic.claude-haiku-4-5"
        assert event["model.provider"] == "anthropic" and event["model.family"] == "haiku"
        assert event["model.version"] == "4.5"
    assert span["model_id"] == "US.Anthropic.Claude-Haiku-4-5-20251001-v1:0"
    assert span["model.profile"] == "us" and "model.profile" not in log
    assert log["model_id"] == "claude-haiku-4-5-20251001"
    [numeric] = decode_line(trace_line(7), ALIASES)
    assert numeric["model"] == UNKNOWN and numeric["model_id"] == "7"


def test_a_normalised_event_read_back_keeps_its_spelling():
    line = orjson.dumps(
        {"time": 1.0, "name": "claude.invoke", "model": "anthropic.claude-sonnet-4-5",
         "model_id": "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"}
    )  # fmt: skip
    [event] = decode_line(line, ALIASES)
    assert event["model"] == "anthropic.claude-sonnet-4-5"
    assert event["model_id"] == "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"


def test_allow_list_entries_in_any_spelling_approve_the_model(tmp_path):
    cfg = tmp_path / "spanwatch.yml"
    cfg.write_text(
        "rules:\n  lists:\n    approved_models:\n"
        "      - us.anthropic.claude-sonnet-4-5-20250929-v1:0\n"
        "      - CLAUDE-HAIKU-4-5-20251001\n"
        "      - 'anthropic.claude-opus-*'\n"
        "      - acme.private-model-v1\n"
    )
    lists = load_config(cfg).rules.lists
    assert lists["approved_models"] == [
        "anthropic.claude-sonnet-4-5",
        "anthropic.claude-haiku-4-5",
        "anthropic.claude-opus-*",
        "acme.private-model-v1",  # no known model: kept, and matched against the spelling
    ]
    assert lists["allowed_regions"] == ["*"]  # an organisation's regions are its own to list


def spanwatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args], capture_output=True, text=True, timeout=240
    )


APPROVED_SPELLINGS = [
    "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-opus-4-1-20250805-v1:0",
    "claude-sonnet-4-5-20250929",
    "claude-3-5-haiku-20241022",
    "Claude-Haiku-4-5-20251001",
]
UNAPPROVED_SPELLINGS = [
    "anthropic.claude-3-opus-20240229-v1:0",
    "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-opus-20240229-v1:0",
    "meta.llama3-1-70b-instruct-v1:0",
    "",
]


def otlp_span_line(t_ns: int, user: str, model: str) -> bytes:
    def s(key: str, value: str) -> dict:
        return {"key": key, "value": {"stringValue": value}}

    span = {
        "traceId": "0" * 31 + "1",
        "spanId": f"{t_ns % 10**15:016x}",
        "name": "claude.invoke",
        "startTimeUnixNano": str(t_ns - 10**9),
        "endTimeUnixNano": str(t_ns),
        "attributes": [s("model", model), s("region", "us-east-1")],
    }
    resource = {"attributes": [s("user", user), s("team", "payments")]}
    return orjson.dumps(
        {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [span]}]}]}
    )


def test_replay_raises_unapproved_model_only_for_unapproved_models_in_any_spelling(tmp_path):
    history = tmp_path / "history.jsonl"
    t = 1_764_316_800 * 10**9
    lines = []
    for i, model in enumerate(APPROVED_SPELLINGS * 3 + UNAPPROVED_SPELLINGS):
        lines.append(otlp_span_line(t + i * 10**9, f"user{i % 4}", model))
    history.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "incidents.jsonl"
    done = spanwatch("replay", str(history), "--out", str(out))
    assert done.returncode == 0, done.stderr
    opened = [
        orjson.loads(x)["incident"]
        for x in out.read_bytes().splitlines()
        if orjson.loads(x)["type"] == "incident.opened"
    ]
    unapproved = sorted(
        (i["group"]["model"], i["evidence"]["samples"][0]["data"]["model_id"])
        for i in opened
        if i["rule_id"] == "unapproved-model"
    )
    assert [m for m, _ in unapproved] == sorted(
        [
            "anthropic.claude-3-opus",
            "anthropic.claude-3-opus",
            "meta.llama3-1-70b-instruct",
            UNKNOWN,
        ]
    )
    assert {spelling for _, spelling in unapproved} == set(UNAPPROVED_SPELLINGS)


def test_rules_test_decodes_hand_written_events_like_telemetry(tmp_path):
    pack = Path(__file__).resolve().parents[3] / "rules" / "packs" / "claude_code"
    (tmp_path / "models.test.yml").write_text(
        f"rules: [{pack / 'unapproved_model.yml'}]\n"
        "tests:\n"
        "  - name: raw spellings as Claude Code and Bedrock write them\n"
        "    events:\n"
        "      - {name: claude_code.api_request, user.email: eve@x.io, model: claude-sonnet-4-5-20250929}\n"
        "      - {name: claude.invoke, user: eve@x.io, model: eu.anthropic.claude-3-opus-20240229-v1:0}\n"
        "    expect:\n"
        "      - {rule: unapproved-model, group: {user: eve@x.io, model: anthropic.claude-3-opus}, count: 1}\n"
    )
    done = spanwatch("rules", "test", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 rule tests, 0 failed" in done.stdout
