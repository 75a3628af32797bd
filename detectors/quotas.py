"""Amazon Bedrock's per-model service quotas, and which one applies to a model in a region.

Bedrock limits each account per model and per region in tokens per minute (TPM) and requests
per minute (RPM), with separate quotas for on-demand calls in one region and for cross-region
inference profiles (`us.`, `eu.`, `global.`, ...). Token quotas count input tokens (and cache
writes) plus output tokens times the model's *burndown rate*: one output token of Claude 3.7
Sonnet and the Claude 4 generation consumes five tokens of quota. Cache reads do not count.

Source of the defaults below: the "Amazon Bedrock service quotas" table of the AWS General
Reference (https://docs.aws.amazon.com/general/latest/gr/bedrock.html#limits_bedrock), its
cross-Region tokens-per-minute rows, and the Bedrock User Guide's "How tokens are counted" page
for the burndown rates. Checked 2026-12-06: the User Guide's "Quotas for the bedrock-runtime
endpoint" (https://docs.aws.amazon.com/bedrock/latest/userguide/quotas-runtime.html) lists
token quotas only (cross-Region and on-demand tokens per minute, tokens per day) and says
requests-per-minute quotas are no longer enforced; so no request quota is assumed any more, and
the requests-per-minute detector alerts only against a `requests_per_minute` an account
configures (one still applied to it, or a limit of its own, such as a proxy's).
AWS lowers the token quotas for new accounts and raises them on request, and each new model
comes with its own, so they are a starting point, not a fact about your account: read yours with
`aws service-quotas list-service-quotas --service-code bedrock --region REGION` and put them in
`capacity.quotas` (or a capacity detector's `params.quotas`), which are tried before these.

Models and regions are matched with `*` wildcards against the canonical model name (as decoding
settles it: `anthropic.claude-sonnet-4-5`) and the region (`us-east-1`); the first matching
entry of the configuration, then of the defaults, applies.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

CLAUDE_4_BURNDOWN = 5.0


@dataclass(frozen=True)
class Quota:
    """One quota entry: per minute, for the models and regions its patterns match."""

    model: str
    region: str = "*"
    tokens_per_minute: float | None = None
    requests_per_minute: float | None = None
    output_burndown: float | None = None  # quota tokens per output token (None: the default's)

    def matches(self, model: str, region: str) -> bool:
        return glob_match(self.model, model) and glob_match(self.region, region)

    def limit(self, which: str) -> float | None:
        """The tokens (`which == "tokens"`) or requests per minute, None when not set."""
        return self.tokens_per_minute if which == "tokens" else self.requests_per_minute

    @property
    def pattern(self) -> str:
        return f"{self.model} in {self.region}"


# Cross-region inference tokens per minute (the way Claude Code on Bedrock is usually set up),
# the same in each commercial region that offers the model; no requests-per-minute default
# (see above). docs/operations.md lists the same table (a test keeps the two equal). The date
# is when the kinds of quota were last checked against AWS's documentation, not the values.
DEFAULTS_CHECKED = "2026-12-06"
DEFAULT_QUOTAS: tuple[Quota, ...] = (
    Quota("anthropic.claude-opus-4*", "*", 200_000, None, CLAUDE_4_BURNDOWN),
    Quota("anthropic.claude-sonnet-4*", "*", 200_000, None, CLAUDE_4_BURNDOWN),
    Quota("anthropic.claude-haiku-4*", "*", 2_000_000, None, CLAUDE_4_BURNDOWN),
    Quota("anthropic.claude-3-7-sonnet", "*", 1_000_000, None, CLAUDE_4_BURNDOWN),
    Quota("anthropic.claude-3-5-sonnet*", "*", 800_000, None, 1.0),
    Quota("anthropic.claude-3-5-haiku", "*", 4_000_000, None, 1.0),
    Quota("anthropic.claude-3-haiku", "*", 2_000_000, None, 1.0),
)


def glob_match(pattern: str, text: str) -> bool:
    """`*` matches any run of characters, everything else itself (case-insensitive).

    Linear in the text: each `*` takes the earliest place the next literal part fits, which is
    never worse than a later one (no backtracking, no regular expression).
    """
    parts = pattern.lower().split("*")
    text = text.lower()
    if len(parts) == 1:
        return parts[0] == text
    first, last = parts[0], parts[-1]
    if not text.startswith(first) or len(text) < len(first) + len(last):
        return False
    if not text.endswith(last):
        return False
    pos, end = len(first), len(text) - len(last)
    for part in parts[1:-1]:
        found = text.find(part, pos, end)
        if found < 0:
            return False
        pos = found + len(part)
    return True


def find_quota(
    model: str, region: str, which: str, configured: Iterable[Quota] = ()
) -> Quota | None:
    """The first entry (configured, then default) for the model and region that sets `which`."""
    for table in (configured, DEFAULT_QUOTAS):
        for quota in table:
            if quota.limit(which) is not None and quota.matches(model, region):
                return quota
    return None


def output_burndown(model: str, region: str, configured: Iterable[Quota] = ()) -> float:
    """Quota tokens one output token consumes: the first matching entry that says, else 1."""
    for table in (configured, DEFAULT_QUOTAS):
        for quota in table:
            if quota.output_burndown is not None and quota.matches(model, region):
                return quota.output_burndown
    return 1.0
