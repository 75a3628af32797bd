"""The simulation universe shared with the default rules and detectors: keep these names exact.

The default rule pack and detectors are written against the same models, regions, branches,
budgets and incident kinds, so a backtest of simulated history measures them honestly.
"""

from __future__ import annotations

from typing import Final

# Approved Bedrock models (list `approved_models`) and their price per million tokens (in, out).
SONNET: Final = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU: Final = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
OPUS: Final = "us.anthropic.claude-opus-4-1-20250805-v1:0"
APPROVED_MODELS: Final = (SONNET, HAIKU, OPUS)
FORBIDDEN_MODEL: Final = "anthropic.claude-3-opus-20240229-v1:0"

PRICE_PER_MTOK: Final[dict[str, tuple[float, float]]] = {
    SONNET: (3.0, 15.0),
    HAIKU: (1.0, 5.0),
    OPUS: (15.0, 75.0),
    FORBIDDEN_MODEL: (15.0, 75.0),
}
# Bedrock bills prompt-cache reads at a tenth of the input price.
CACHE_READ_PRICE_FACTOR: Final = 0.1

ALLOWED_REGIONS: Final = ("us-east-1", "us-west-2", "eu-west-1")
DISALLOWED_REGION: Final = "ap-southeast-1"
DEFAULT_BRANCHES: Final = ("main", "master")

USER_HOURLY_COST_BUDGET_USD: Final = 25.0
TEAM_HOURLY_TOKEN_BUDGET: Final = 20_000_000

SPAN_INVOKE: Final = "claude.invoke"
SPAN_CACHE: Final = "cache.lookup"
SPAN_SHELL: Final = "shell.run"
SPAN_ASSERTION: Final = "assertion"
SPAN_PR: Final = "pr.create"
SPAN_NAMES: Final = (SPAN_INVOKE, SPAN_CACHE, SPAN_SHELL, SPAN_ASSERTION, SPAN_PR)

# Claude Code's own OTLP log events (body of the log record).
CC_API_REQUEST: Final = "claude_code.api_request"
CC_API_ERROR: Final = "claude_code.api_error"
CC_TOOL_RESULT: Final = "claude_code.tool_result"
CC_TOOL_DECISION: Final = "claude_code.tool_decision"
CC_USER_PROMPT: Final = "claude_code.user_prompt"

# Ground-truth `kind` values of injected incidents.
COST_SPIKE: Final = "cost_spike"
TOKEN_BURN_DRIFT: Final = "token_burn_drift"  # noqa: S105 - a kind, not a secret
LATENCY_DEGRADATION: Final = "latency_degradation"
ERROR_BURST: Final = "error_burst"
FORBIDDEN_MODEL_USE: Final = "forbidden_model"
DISALLOWED_REGION_USE: Final = "disallowed_region"
DANGEROUS_COMMAND: Final = "dangerous_command"
CREDENTIAL_IN_COMMAND: Final = "credential_in_command"
PR_WITHOUT_PASSING_ASSERTIONS: Final = "pr_without_passing_assertions"
MANY_REPOS: Final = "many_repos"
TEAM_SILENT: Final = "team_silent"
# Kinds an external evaluation used, injected with `--incident-kinds all`.
TEAM_ERROR_BURST: Final = "team_error_burst"
CACHE_HIT_COLLAPSE: Final = "cache_hit_collapse"
RUNAWAY_SESSIONS: Final = "runaway_sessions"
EXTENDED_KINDS: Final = (TEAM_ERROR_BURST, CACHE_HIT_COLLAPSE, RUNAWAY_SESSIONS)
INCIDENT_KINDS: Final = (
    COST_SPIKE,
    TOKEN_BURN_DRIFT,
    LATENCY_DEGRADATION,
    ERROR_BURST,
    FORBIDDEN_MODEL_USE,
    DISALLOWED_REGION_USE,
    DANGEROUS_COMMAND,
    CREDENTIAL_IN_COMMAND,
    PR_WITHOUT_PASSING_ASSERTIONS,
    MANY_REPOS,
    TEAM_SILENT,
)


def invocation_cost(model: str, tokens_in: int, tokens_out: int, cache_read_tokens: int) -> float:
    """Dollar cost of one invocation: cached input at the cache-read price, rounded to 1e-6."""
    price_in, price_out = PRICE_PER_MTOK[model]
    fresh = tokens_in - cache_read_tokens
    dollars = (
        fresh * price_in + cache_read_tokens * price_in * CACHE_READ_PRICE_FACTOR
    ) + tokens_out * price_out
    return round(dollars / 1_000_000, 6)
