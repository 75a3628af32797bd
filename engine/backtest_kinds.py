"""Which rules and detectors can find each kind of injected incident.

An incident whose labels and time fit an injection explains it only when it was raised by a
rule or detector that watches what that kind of incident changes: a pull-request check that
fires in the hour a team's cache collapses fits the team and the window, but it found
something else. The table covers the kinds `spanwatch simulate --truth` writes and the
spellings other generators and incident reviews use for the same incidents. A kind not in it
is matched by labels and time alone, and scorers say so.

Each entry names the signal the injection moves and only that signal's watchers, plus the
ones its direct effects move (a runaway agent's spend, a failing agent's retries, a collapsed
cache's cost). Storm incidents carry the folded rule's id and match as that rule.
"""

from __future__ import annotations

_ACTIVITY = frozenset(
    {
        "invocations-per-user",
        "user-session-churn",
        "slices-call-rate",
        "capacity-requests-per-model-region",
    }
)
_SPEND = frozenset(
    {
        "cost-per-user",
        "cost-surge-per-user",
        "spend-and-answers-per-user",
        "cost-per-team",
        "cost-per-call-per-team",
        "model-move-per-team",
        "opus-output-per-user",
        "tokens-per-user",
        "tokens-per-team",
        "user-hourly-cost-over-budget",
        "team-hourly-token-burn",
        "team-monthly-budget",
        "capacity-tokens-per-model-region",
    }
)
_TOKENS_PER_CALL = frozenset(
    {"tokens-per-invocation-drift", "tokens-per-call-creep", "slices-tokens-per-call"}
)
# a failing agent retries: its calls surge with its failures
_ERRORS = frozenset(
    {
        "error-rate-per-user",
        "error-rate-per-team",
        "slices-error-rate",
        "failing-teams-per-model-region",
        "user-error-burst",
        "invocations-per-user",
    }
)
_COMMANDS = frozenset(
    {
        "shell-rm-rf-broad",
        "shell-pipe-to-shell",
        "git-force-push-default-branch",
        "terraform-destroy",
        "database-drop",
        "safeguard-disabled",
    }
)
_CREDENTIALS = frozenset({"credential-in-command"})
_REGIONS = frozenset(
    {"disallowed-region", "region-new-to-organisation", "region-new-in-known-geography"}
)
_MODELS = frozenset({"unapproved-model", "new-model-per-team"})
_REPOS = frozenset({"repos-new-to-user", "user-many-repos"})
_CHECKS = frozenset(
    {"pr-without-passing-assertion", "pr-without-any-assertion", "repeated-assertion-failures"}
)
_LATENCY = frozenset({"latency-per-model-region", "slices-latency"})
_CACHE_RATIO = frozenset({"cache-hit-ratio-per-team", "slices-cache-hit-ratio"})
# a collapsed cache bills every prompt in full
_CACHE = _CACHE_RATIO | {"cost-per-user", "cost-per-team", "cost-per-call-per-team"}
_SILENCE = frozenset({"team-silent"})

FINDERS: dict[str, frozenset[str]] = {
    # a session's first call reads no cache: an agent opening session after session, or
    # walking through repositories in short sessions, drags its team's cache hits down
    # ... and an agent looping on a task fails its checks in session after session
    "runaway_sessions": _ACTIVITY | _SPEND | _CACHE_RATIO | {"repeated-assertion-failures"},
    "cost_spike": _SPEND | _TOKENS_PER_CALL | {"invocations-per-user", "slices-call-rate"},
    "token_drift": _TOKENS_PER_CALL | _SPEND,
    "token_burn_drift": _TOKENS_PER_CALL | _SPEND,
    "team_error_burst": _ERRORS,
    "user_error_burst": _ERRORS,
    "error_burst": _ERRORS,
    "latency_degradation": _LATENCY,
    "cache_hit_collapse": _CACHE,
    "credential_leak": _CREDENTIALS,
    "credential_in_command": _CREDENTIALS,
    "dangerous_command": _COMMANDS,
    "unapproved_model": _MODELS,
    "forbidden_model": _MODELS,
    "disallowed_region": _REGIONS,
    "repo_sprawl": _REPOS | _CACHE_RATIO,
    "many_repos": _REPOS | _CACHE_RATIO,
    "team_silent": _SILENCE,
    "pr_without_passing_assertions": _CHECKS,
}


def finders_of(kind: str) -> frozenset[str] | None:
    """The rule and detector ids that can find `kind`; None when the kind is not known."""
    return FINDERS.get(kind)
