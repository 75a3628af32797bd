"""The alias table: which attribute names fill each canonical key of the normalised event.

Telemetry arrives with many spellings of the same fact (`user.email` from Claude Code,
`enduser.id` from OpenTelemetry semantic conventions, `user` from the span contract).
Rules and detectors read only canonical keys, so the spelling is settled here, once,
from a table that the configuration can extend.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from engine.otlp.model_identity import MODEL_FIELDS, ModelCatalog, arn_region

CANONICAL_KEYS: tuple[str, ...] = (
    "time",
    "kind",
    "name",
    "trace_id",
    "span_id",
    "parent_span_id",
    "session",
    "user",
    "team",
    "repo",
    "workflow",
    "step",
    "model",
    "region",
    "tokens_in",
    "tokens_out",
    "latency_ms",
    "cache_hit",
    "cost",
    "command",
    "status",
    "error_type",
)

DEFAULT_ALIASES: dict[str, tuple[str, ...]] = {
    "user": ("user", "user.email", "enduser.id", "user.account_uuid", "user.id", "user.name"),
    # Claude Code's monitoring guide sets a team as `team.id` beside `department` and
    # `cost_center` in OTEL_RESOURCE_ATTRIBUTES: a team's own name wins over its department.
    "team": ("team", "team.name", "team.id", "team_id", "department"),
    "repo": ("repo", "repository", "git.repository", "repo.name", "vcs.repository.name"),
    "workflow": ("workflow", "workflow.name"),
    "step": ("step", "workflow.step"),
    "session": ("session.id", "session", "session_id"),
    "model": ("model", "gen_ai.request.model", "gen_ai.response.model"),
    "region": ("region", "cloud.region", "aws.region"),  # the last two: OTel cloud conventions
    "tokens_in": ("tokens_in", "input_tokens", "gen_ai.usage.input_tokens"),
    "tokens_out": ("tokens_out", "output_tokens", "gen_ai.usage.output_tokens"),
    "latency_ms": ("latency_ms", "duration_ms"),
    "cache_hit": ("cache_hit", "cache.hit"),
    "cost": ("cost", "cost_estimate", "cost_usd"),
    "command": (
        "command",
        "bash_command",
        "full_command",
        "tool_parameters.full_command",
        "tool_parameters.bash_command",
        "process.command_line",
    ),
    "error_type": ("error.type", "error_type", "exception.type"),
}

# Claude Code's `input_tokens` is the uncached part of the prompt (Anthropic usage semantics);
# the prompt's size, which `tokens_in` means, adds the tokens read from and written to the cache.
UNCACHED_INPUT = "input_tokens"
CACHE_INPUT_PARTS = ("cache_read_tokens", "cache_creation_tokens")
# The repository's URL (OTel VCS conventions), read when no attribute names the repository.
REPO_URL = "vcs.repository.url.full"

# What `AliasTable.fill` does for one set of attribute names: (key, aliases, key is text).
FillPlan = tuple[tuple[str, tuple[str, ...], bool], ...]
_MAX_PLANS = 4096  # distinct attribute-name sets remembered; telemetry has a few dozen

INT_KEYS = frozenset({"tokens_in", "tokens_out"})
FLOAT_KEYS = frozenset({"latency_ms", "cost"})
BOOL_KEYS = frozenset({"cache_hit"})
STR_KEYS = frozenset(
    {
        "session",
        "user",
        "team",
        "repo",
        "workflow",
        "step",
        "model",
        "region",
        "command",
        "error_type",
    }
)


class AliasTable:
    """Canonical key -> attribute names to try in order (the first present wins)."""

    __slots__ = ("_plans", "models", "pairs", "sources")

    def __init__(
        self,
        extra: Mapping[str, Sequence[str]] | None = None,
        models: ModelCatalog | None = None,
    ) -> None:
        self.models = models if models is not None else ModelCatalog()
        table: dict[str, list[str]] = {k: list(v) for k, v in DEFAULT_ALIASES.items()}
        for key, names in (extra or {}).items():
            if key not in CANONICAL_KEYS:
                raise ValueError(f"alias for unknown canonical key {key!r}")
            merged = list(names) + [n for n in table.get(key, []) if n not in names]
            table[key] = merged
        self.pairs: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
            (k, tuple(v)) for k, v in table.items()
        )
        # attribute name -> the canonical keys it may fill (most names fill one)
        sources: dict[str, list[str]] = {}
        for key, names in self.pairs:
            for name in names:
                sources.setdefault(name, []).append(key)
        self.sources = {name: tuple(keys) for name, keys in sources.items()}
        self._plans: dict[tuple[str, ...], FillPlan] = {}

    def known_fields(self) -> set[str]:
        """Every name a rule may use: canonical keys and every alias."""
        names = set(CANONICAL_KEYS) | set(MODEL_FIELDS) | {REPO_URL, *CACHE_INPUT_PARTS}
        for _key, sources in self.pairs:
            names.update(sources)
        return names

    def settle(self, event: dict[str, Any]) -> dict[str, Any]:
        """What `fill` cannot do by renaming, once per finished event: the canonical model
        (`settle_model`); `cache_hit` from Claude Code's `cache_read_tokens` (a call that
        read tokens from the prompt cache hit it) when no attribute says so directly;
        `tokens_in` as the prompt's size for Claude Code (`settle_prompt_tokens`); `repo`
        from the repository's URL when no attribute names it."""
        read = event.get("cache_read_tokens")
        if read is not None and "cache_hit" not in event:
            read_tokens = coerce("tokens_in", read)
            if read_tokens is not None:
                event["cache_hit"] = read_tokens > 0
        if read is not None or "cache_creation_tokens" in event:
            settle_prompt_tokens(event)
        if "repo" not in event and REPO_URL in event:
            name = repo_from_url(event[REPO_URL])
            if name:
                event["repo"] = name
        return self.settle_model(event)

    def settle_model(self, event: dict[str, Any]) -> dict[str, Any]:
        """Replace the filled `model` by its canonical name, keeping the spelling in `model_id`;
        a Bedrock ARN's region fills `region` when no attribute gave one (an explicit region
        attribute wins).

        An event that already carries a `model_id` of the same model (a normalised event read
        back) keeps it, so this is idempotent.
        """
        raw = event.get("model")
        if raw is None:
            return event
        if "region" not in event:
            region = arn_region(raw)
            if region is not None:
                event["region"] = region
        models = self.models
        identity = models.identify(raw)
        event["model"] = identity.model
        event.update(identity.fields())
        known_id = event.get("model_id")
        if known_id is None or models.canonical(known_id) != identity.model:
            event["model_id"] = raw if isinstance(raw, str) else str(raw)
        return event

    def normalise(self, event: dict[str, Any]) -> dict[str, Any]:
        """`fill` and `settle`: a hand-written event made to look decoded."""
        return self.settle(self.fill(event))

    def fill(self, event: dict[str, Any], touched: Iterable[str] | None = None) -> dict[str, Any]:
        """Set each canonical key from its first present alias, coerced to the key's type
        (an empty text is not present).

        `touched`: only the names that changed since the event was last filled (a span's own
        attributes over its already-filled resource), so shared attributes are done once.
        Which keys a set of names can fill is decided once per distinct set (`_fill_plan`).
        """
        names_in = tuple(event if touched is None else touched)
        plan = self._plans.get(names_in)
        if plan is None:
            plan = self._fill_plan(names_in)
        for key, names, textual in plan:
            for name in names:
                value = event.get(name)
                if value is None:
                    continue
                if textual and type(value) is str:  # the common case, without a call
                    if not value:  # an empty attribute names nothing: try the next alias
                        continue
                    event[key] = value
                    break
                coerced = coerce(key, value)
                if coerced is not None:
                    event[key] = coerced
                    break
        return event

    def _fill_plan(self, names_in: tuple[str, ...]) -> FillPlan:
        """(key, its aliases, whether it is text) of each key `names_in` may fill, in table
        order; remembered for the next event with the same attribute names."""
        sources = self.sources
        wanted = {k for name in names_in if name in sources for k in sources[name]}
        plan = tuple((k, names, k in STR_KEYS) for k, names in self.pairs if k in wanted)
        if len(self._plans) >= _MAX_PLANS:
            self._plans.clear()
        self._plans[names_in] = plan
        return plan


def settle_prompt_tokens(event: dict[str, Any]) -> None:
    """`tokens_in` filled from Claude Code's uncached `input_tokens` -> the prompt's size:
    plus the cache reads and writes. A `tokens_in` an attribute gave directly (a span's
    total) differs from `input_tokens` or comes without it, and is kept; so is a settled
    event read back, whose `tokens_in` already holds the sum."""
    uncached = event.get(UNCACHED_INPUT)
    tokens = event.get("tokens_in")
    if uncached is None or tokens is None or coerce("tokens_in", uncached) != tokens:
        return
    cached = 0
    for name in CACHE_INPUT_PARTS:
        part = event.get(name)
        if part is not None:
            value = coerce("tokens_in", part)
            if value is not None and value > 0:
                cached += value
    if cached:
        event["tokens_in"] = tokens + cached


def repo_from_url(url: object) -> str | None:
    """The repository's name from its URL: the last path part without `.git`
    (`https://github.com/acme/billing.git`, `git@github.com:acme/billing` -> `billing`)."""
    if not isinstance(url, str):
        return None
    path = url.strip().split("?", 1)[0].split("#", 1)[0]
    if "://" in path:  # scheme://[user@]host[:port]/path
        path = path.split("://", 1)[1].partition("/")[2]
    elif ":" in path.split("/", 1)[0]:  # scp-like: [user@]host:path
        path = path.partition(":")[2]
    name = path.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
    return name or None


def coerce(key: str, value: Any) -> Any:
    """The canonical type of a key's value; None when the value cannot be that type."""
    try:
        if key in INT_KEYS:
            if isinstance(value, bool):
                return None
            return int(float(value)) if isinstance(value, str) else int(value)
        if key in FLOAT_KEYS:
            if isinstance(value, bool):
                return None
            return float(value)
        if key in BOOL_KEYS:
            if isinstance(value, str):
                low = value.strip().lower()
                if low in ("true", "1", "yes", "hit"):
                    return True
                if low in ("false", "0", "no", "miss"):
                    return False
                return None
            return bool(value)
        if key in STR_KEYS:
            return value if isinstance(value, str) else str(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return value
