"""A call named by a Bedrock ARN was made in the ARN's region: decoding fills `region` from it
when no attribute says the region, and an explicit region attribute wins (docs/events.md)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.otlp.model_identity import arn_region
from tests.engine.otlp.test_decode_standard_names import decode

SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"
ACCOUNT = "123456789012"

# (model attribute, region the decoder fills, or None: no region at all)
SPELLINGS = [
    (f"arn:aws:bedrock:eu-west-1::foundation-model/{SONNET}", "eu-west-1"),
    (f"arn:aws:bedrock:us-east-2:{ACCOUNT}:inference-profile/us.{SONNET}", "us-east-2"),
    (
        f"arn:aws:bedrock:ap-northeast-1:{ACCOUNT}:inference-profile/global.{SONNET}",
        "ap-northeast-1",
    ),
    (
        f"arn:aws:bedrock:eu-central-1:{ACCOUNT}:application-inference-profile/x1y2z3",
        "eu-central-1",
    ),
    (f"arn:aws-us-gov:bedrock:us-gov-west-1::foundation-model/{SONNET}", "us-gov-west-1"),
    (f"  ARN:AWS:BEDROCK:US-WEST-2::foundation-model/{SONNET}  ", "us-west-2"),
    (f"arn:aws:bedrock:::foundation-model/{SONNET}", None),  # no region in it
    (f"arn:aws:s3:us-east-1:{ACCOUNT}:bucket/x", None),  # not Bedrock's
    (f"arn:aws:bedrock:us east 1::foundation-model/{SONNET}", None),  # not a region
    ("arn:aws:bedrock:us-east-1", None),  # cut short
    (f"us.{SONNET}", None),  # a profile ID, not an ARN: its geography is no region
    ("claude-sonnet-4-5-20250929", None),
]


@pytest.mark.parametrize("kind", ["log", "span"])
@pytest.mark.parametrize("place", ["resource", "record"])
@pytest.mark.parametrize(("model", "region"), SPELLINGS)
def test_the_decoder_takes_the_region_from_a_bedrock_arn(
    kind: str, place: str, model: str, region: str | None
) -> None:
    event = decode(kind, place, {"gen_ai.request.model": model})
    assert event.get("region") == region
    assert event["model_id"] == model  # the spelling is kept as it came


@pytest.mark.parametrize("kind", ["log", "span"])
@pytest.mark.parametrize("spelling", ["region", "cloud.region", "aws.region"])
def test_an_explicit_region_attribute_wins_over_the_arn(kind: str, spelling: str) -> None:
    model = f"arn:aws:bedrock:eu-west-1::foundation-model/{SONNET}"
    event = decode(kind, "record", {"gen_ai.request.model": model, spelling: "us-east-1"})
    assert event["region"] == "us-east-1"
    assert event["model"] == "anthropic.claude-sonnet-4-5"


REGIONS = st.from_regex(r"[a-z]{2}(-gov)?-[a-z]{4,9}-[1-9]", fullmatch=True)
ACCOUNTS = st.one_of(st.just(""), st.from_regex(r"[0-9]{12}", fullmatch=True))
RESOURCES = st.sampled_from(
    ["foundation-model/" + SONNET, "inference-profile/eu." + SONNET, "provisioned-model/abc"]
)


@given(REGIONS, ACCOUNTS, RESOURCES)
def test_any_bedrock_arn_gives_its_region(region: str, account: str, resource: str) -> None:
    assert arn_region(f"arn:aws:bedrock:{region}:{account}:{resource}") == region


@given(st.text())
def test_arn_region_never_raises_and_reads_only_bedrock_arns(raw: str) -> None:
    found = arn_region(raw)
    if found is not None:
        parts = raw.strip().lower().split(":")
        assert parts[0] == "arn" and parts[2] == "bedrock" and parts[3] == found
