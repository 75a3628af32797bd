"""What the shared universe calls dangerous or secret, as the tests recognise it (written from the
specification, not imported from the simulator)."""

from __future__ import annotations

import re

SONNET = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
OPUS = "us.anthropic.claude-opus-4-1-20250805-v1:0"
FORBIDDEN_MODEL = "anthropic.claude-3-opus-20240229-v1:0"
PRICES = {SONNET: (3.0, 15.0), HAIKU: (1.0, 5.0), OPUS: (15.0, 75.0)}
ALLOWED_REGIONS = {"us-east-1", "us-west-2", "eu-west-1"}
DISALLOWED_REGION = "ap-southeast-1"

DANGEROUS = [
    re.compile(r"\|\s*(sudo\s+)?(ba|z)?sh\b"),
    re.compile(r"\brm\s+-rf\s+(/|/\*|~)(\s|$)"),
    re.compile(r"\bgit\s+push\s+(--force|-f)(\s|$).*\b(main|master)\b"),
    re.compile(r"\bterraform\s+destroy\b"),
]
CREDENTIALS = re.compile(
    r"AKIA[A-Z2-7]{16}|ghp_[A-Za-z0-9]{36}|xox[bp]-[0-9]+-[0-9]+-[A-Za-z0-9]+|sk_live_[A-Za-z0-9]+"
)


def is_dangerous(command: str) -> bool:
    return any(p.search(command) for p in DANGEROUS)
