"""The `rules:` section of spanwatch's configuration; `RulesConfig()` is the embedded default."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

PACKS_DIR = Path(__file__).parent / "packs"

# Canonical model names (see the normalised event's `model`), patterns allowed: the Claude
# models of the generations Claude Code runs on (3.5 and later), in every spelling and every
# inference profile. Older Claude models (Claude 3, 2, Instant), other providers' models and
# unknown models are not approved.
APPROVED_MODELS = [
    "anthropic.claude-opus-*",
    "anthropic.claude-sonnet-*",
    "anthropic.claude-haiku-*",
    "anthropic.claude-3-7-sonnet",
    "anthropic.claude-3-5-sonnet",
    "anthropic.claude-3-5-haiku",
]
# Which regions an organisation uses is its own fact: out of the box every region is allowed
# (the rule `disallowed-region` matches nothing) and the detector of geographies new to the
# organisation watches instead. Configure the list to enforce a policy.
ALLOWED_REGIONS = ["*"]
DEFAULT_BRANCHES = ["main", "master"]


def _default_lists() -> dict[str, list[str]]:
    return {
        "approved_models": list(APPROVED_MODELS),
        "allowed_regions": list(ALLOWED_REGIONS),
        "default_branches": list(DEFAULT_BRANCHES),
    }


def _default_values() -> dict[str, float | int | str]:
    return {
        # Spend budgets are an organisation's own facts (a heavy Opus user spends 25 USD an
        # hour as a matter of course): `off` runs no budget rule until one is configured.
        # Surges against each user's and team's own baseline are the detectors' work.
        "user_hourly_cost_budget_usd": "off",
        "team_hourly_token_budget": "off",
        "user_error_burst_count": 10,
        "user_distinct_repos": 15,
        # an agent's test-fix loop fails a dozen times and then passes: past that, it is stuck
        "session_assertion_failures": 20,
        # sessions a user STARTS in five minutes: people start at most five (they hold more at
        # once, but opened earlier); an agent restarted in a loop every 15-45 s starts nine or
        # more, and passes seven within about three minutes, a faster loop sooner
        "user_sessions_per_5m": 7,
    }


class RulesConfig(BaseModel):
    """Which rules run and the lists and values (allow-lists, budgets) they refer to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    packs: list[str] = Field(
        default_factory=lambda: ["claude_code"], description="built-in rule packs to load"
    )
    paths: list[str] = Field(
        default_factory=list,
        description="more rule files or directories (relative to the configuration file)",
    )
    lists: dict[str, list[str]] = Field(
        default_factory=_default_lists,
        description="named lists rules use as `%name%` (`|expand`); given lists replace "
        "those of the same name, the others keep their default",
    )
    values: dict[str, float | int | str] = Field(
        default_factory=_default_values,
        description="named thresholds rules use as `'%name%'`; merged over the defaults",
    )
    produces: dict[str, Literal["incident", "finding"]] = Field(
        default_factory=dict,
        description="rule id -> `incident` (paged) or `finding` (recorded, counted and sent "
        "in the findings digest, never paged), over what the rule file says (unset there: "
        "`finding` for rules tagged `spanwatch.quality`, `incident` for the others)",
    )
    max_groups_per_rule: int = Field(
        default=10000,
        ge=1,
        description="groups a correlation rule keeps at once; the least recently seen go first",
    )
    max_file_bytes: int = Field(
        default=1 << 20, ge=1024, description="a larger rule file is refused, not parsed"
    )
    aliases: dict[str, list[str]] = Field(
        default_factory=dict,
        description="its keys are more field names rules may use without an unknown-field "
        "warning (the top-level `aliases` fill canonical keys)",
    )

    @field_validator("packs")
    @classmethod
    def _packs_exist(cls, packs: list[str]) -> list[str]:
        for name in packs:
            if not (PACKS_DIR / name).is_dir():
                known = ", ".join(sorted(p.name for p in PACKS_DIR.iterdir() if p.is_dir()))
                raise ValueError(f"unknown rule pack {name!r} (built-in packs: {known})")
        return packs

    @field_validator("lists")
    @classmethod
    def _lists_merge_defaults(cls, lists: dict[str, list[str]]) -> dict[str, list[str]]:
        return {**_default_lists(), **lists}

    @field_validator("values")
    @classmethod
    def _values_merge_defaults(
        cls, values: dict[str, float | int | str]
    ) -> dict[str, float | int | str]:
        return {**_default_values(), **values}

    def rule_paths(self) -> list[Path]:
        """The built-in packs' directories followed by the extra rule paths."""
        return [PACKS_DIR / name for name in self.packs] + [Path(p) for p in self.paths]
