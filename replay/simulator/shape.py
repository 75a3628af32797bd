"""Organisations shaped unlike the simulator's defaults, for judging on data nobody tuned on.

The default organisation invokes every model as a `us.` inference profile, exports wrapper spans
only, works in four sites nine to half past five on weekdays, and reaches the file in Collector
batches. Real organisations differ in each of these, and a detector tuned on one shape can fail
on another, so each is a knob here (`spanwatch simulate` options):

- `spelling`: how the telemetry names a model: `profile` (`us.anthropic.…-v1:0`, the default),
  `foundation` (no profile prefix), `regional` (the geography of the caller's region: `us.`,
  `eu.`, `apac.`), `global`, `arn` (an inference-profile ARN), `api` (the Anthropic API names
  Claude Code reports), or `mixed`: each person one of these, in any case, and Claude Code's own
  events in API names.
- `export`: which telemetry reaches spanwatch: `spans` (the wrapper's spans), `both` (spans and
  Claude Code's log events for the same calls), `logs` (Claude Code's log events only) or
  `mixed` (per person: a third each).
- `zones`: `default` (four sites), `global` (eight sites from UTC-8 to UTC+11, half-hour offsets
  too, teams whose working day starts early or late).
- `traffic`: `default`, `bursty` (work in a few intense bursts a day), `round-the-clock` (more
  evening, night and weekend work), `light` or `heavy` (half or twice the sessions).
- `batching`: `collector` (one request per 10-second batch for all sessions, the default) or
  `session` (one request per session per batch, as agents exporting directly would write them).

Defaults draw nothing extra, so the default organisation is byte for byte what it was.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

SPELLINGS = ("profile", "foundation", "regional", "global", "arn", "api", "mixed")
EXPORTS = ("spans", "both", "logs", "mixed")
ZONES = ("default", "global")
TRAFFIC = ("default", "bursty", "round-the-clock", "light", "heavy")
BATCHING = ("collector", "session")
ACCOUNT = "123456789012"


@dataclass(frozen=True)
class Traffic:
    """How much and when people work: the knobs `workday` reads."""

    sessions_scale: float = 1.0  # times each person's usual sessions per day
    evening_p: float = 0.08  # chance of an evening session on a working day
    weekend_p: float = 0.07  # chance of working on a weekend day
    night_p: float = 0.0  # chance of a session in the small hours
    bursts: int = 0  # sessions gather in this many bursts a day (0: spread over the day)


TRAFFIC_SHAPES = {
    "default": Traffic(),
    "bursty": Traffic(bursts=3),
    "round-the-clock": Traffic(evening_p=0.35, weekend_p=0.3, night_p=0.2),
    "light": Traffic(sessions_scale=0.5),
    "heavy": Traffic(sessions_scale=2.0),
}


@dataclass(frozen=True)
class OrgShape:
    """The shape of a simulated organisation (see the module docstring)."""

    spelling: str = "profile"
    export: str = "spans"
    zones: str = "default"
    traffic: str = "default"
    batching: str = "collector"

    def __post_init__(self) -> None:
        for name, allowed in (
            ("spelling", SPELLINGS),
            ("export", EXPORTS),
            ("zones", ZONES),
            ("traffic", TRAFFIC),
            ("batching", BATCHING),
        ):
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")

    @property
    def traffic_knobs(self) -> Traffic:
        return TRAFFIC_SHAPES[self.traffic]

    @property
    def with_logs(self) -> bool:
        return self.export != "spans"


@dataclass(frozen=True)
class Habits:
    """One person's telemetry: which signals their setup exports, how it spells models."""

    spans: bool = True
    logs: bool = False
    spelling: str = "profile"  # for spans (and logs, unless `log_spelling`)
    log_spelling: str = "profile"
    upper: bool = False  # the spelling in upper case (someone's hand-written setting)


def habits_of(shape: OrgShape, seed: int, index: int) -> Habits:
    """A person's habits under `shape`; drawn from their own generator, never the traffic's."""
    if shape.export == "mixed" or shape.spelling == "mixed":
        rng = random.Random(f"{seed}:habits:{index}")
    else:
        rng = None
    if shape.export == "mixed":
        assert rng is not None
        spans, logs = rng.choice(((True, False), (True, True), (False, True)))
    else:
        spans, logs = shape.export in ("spans", "both"), shape.export in ("both", "logs")
    if shape.spelling == "mixed":
        assert rng is not None
        spelling = rng.choice(SPELLINGS[:-1])
        return Habits(spans, logs, spelling, "api", upper=rng.random() < 0.15)
    return Habits(spans, logs, shape.spelling, shape.spelling)


# The simulator's models (as the default spelling names them) -> (Anthropic API name, snapshot
# version suffix of the Bedrock ID).
_API_NAMES = {
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0": "claude-sonnet-4-5-20250929",
    "us.anthropic.claude-haiku-4-5-20251001-v1:0": "claude-haiku-4-5-20251001",
    "us.anthropic.claude-opus-4-1-20250805-v1:0": "claude-opus-4-1-20250805",
    "anthropic.claude-3-opus-20240229-v1:0": "claude-3-opus-20240229",
}


def _geography(region: str) -> str:
    if region.startswith("eu-"):
        return "eu"
    if region.startswith("ap-"):
        return "apac"
    return "us"


def spell(model: str, style: str, region: str, *, upper: bool = False) -> str:
    """`model` (a simulator constant) as telemetry of `style` names it."""
    if style == "profile":
        text = model
    else:
        foundation = model.split(".", 1)[1] if model.startswith("us.") else model
        if style == "foundation":
            text = foundation
        elif style == "regional":
            text = f"{_geography(region)}.{foundation}"
        elif style == "global":
            text = f"global.{foundation}"
        elif style == "arn":
            profile = f"{_geography(region)}.{foundation}"
            text = f"arn:aws:bedrock:{region}:{ACCOUNT}:inference-profile/{profile}"
        else:
            text = _API_NAMES.get(model, foundation)
    return text.upper() if upper else text


class Speller:
    """Remembers spellings (a handful of distinct ones) so each is built once."""

    def __init__(self) -> None:
        self._done: dict[tuple[str, str, str, bool], str] = {}

    def __call__(self, model: str, style: str, region: str, upper: bool = False) -> str:
        key = (model, style, region, upper)
        found = self._done.get(key)
        if found is None:
            found = self._done[key] = spell(model, style, region, upper=upper)
        return found
