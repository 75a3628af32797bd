"""The incident stage's configuration (the `incidents:` part of spanwatch's YAML), pydantic v2.

Every field has a default, so `IncidentsConfig()` is the embedded default: everything goes to the
receivers `console` and `incident-log`, grouped by rule. Routing follows Alertmanager's route
tree; escalation follows PagerDuty's escalation policies. Cross references (policy and interval
names) are checked here, each error with the `loc` of the offending value, so the engine's YAML
loader can print file:line.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from engine.incidents.durations import parse_duration
from engine.incidents.matchers import Matcher, parse_matcher
from engine.incidents.timeintervals import TimeInterval
from engine.timeutil import parse_time

Duration = Annotated[float, BeforeValidator(parse_duration)]
PositiveDuration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
MatcherField = Annotated[Matcher, BeforeValidator(parse_matcher)]
Time = Annotated[float, BeforeValidator(parse_time)]
DEFAULT_RECEIVERS = ("console", "incident-log")


def _receiver_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RouteConfig(_Strict):
    """One node of the routing tree. Unset options inherit from the parent route.

    `receiver` may be one name or a list. `group_by: ["..."]` groups by every label (one
    notification per incident). Time intervals are not inherited (as in Alertmanager).
    """

    receiver: Annotated[list[str] | None, BeforeValidator(_receiver_list)] = None
    matchers: list[MatcherField] = []
    continue_: bool = Field(False, alias="continue")
    group_by: list[str] | None = None
    group_wait: Duration | None = None
    group_interval: PositiveDuration | None = None
    repeat_interval: PositiveDuration | None = None
    send_resolved: bool | None = None
    mute_time_intervals: list[str] = []
    active_time_intervals: list[str] = []
    escalation: str | None = None
    routes: list[RouteConfig] = []

    @field_validator("group_by")
    @classmethod
    def _all_or_names(cls, names: list[str] | None) -> list[str] | None:
        if names and "..." in names and len(names) > 1:
            raise ValueError("'...' (group by every label) cannot be combined with label names")
        return names


def _default_route() -> RouteConfig:
    return RouteConfig(
        receiver=list(DEFAULT_RECEIVERS),
        group_by=["rule_id"],
        group_wait=30.0,
        group_interval=300.0,
        repeat_interval=14400.0,
        send_resolved=True,
    )


class EscalationLevel(_Strict):
    """Who is paged at this level, and how long they have to acknowledge before the next."""

    receivers: Annotated[list[str], BeforeValidator(_receiver_list), Field(min_length=1)]
    timeout: PositiveDuration = 1800.0


class EscalationPolicy(_Strict):
    """PagerDuty-style: levels in order; after the last, start over `repeat` more times."""

    name: str
    levels: list[EscalationLevel] = Field(min_length=1)
    repeat: int = Field(0, ge=0)


class InhibitRule(_Strict):
    """A firing incident matching `source_matchers` mutes incidents matching `target_matchers`
    that have the same values for every label in `equal`."""

    source_matchers: list[MatcherField] = Field(min_length=1)
    target_matchers: list[MatcherField] = Field(min_length=1)
    equal: list[str] = []


class SilenceConfig(_Strict):
    """A silence written into the configuration (maintenance windows known in advance)."""

    id: str
    matchers: list[MatcherField] = Field(min_length=1)
    starts_at: Time
    ends_at: Time
    created_by: str = "config"
    comment: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> SilenceConfig:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class NoiseBudgetConfig(_Strict):
    """How many incidents one rule or detector may open per `per` before the rest fold into
    one storm incident, and how many per day (`per_day`, the same for every rule; a rule's
    `spanwatch: {noise-budget: N}` or a detector's `noise_budget: N` overrides `incidents`;
    `off` there exempts it from both). `top_groups`: how many of
    the folded incidents' groups the storm incident lists."""

    enabled: bool = True
    incidents: int = Field(10, ge=1)
    per: PositiveDuration = 3600.0
    # A steady drizzle (one incident an hour, every hour) never exceeds an hourly budget but
    # is as noisy over a day: a second budget per day (null: none) folds it as well.
    per_day: int | None = Field(20, ge=1)
    top_groups: int = Field(5, ge=1, le=100)


class IncidentsConfig(_Strict):
    """Routes, escalation policies, inhibition, time intervals, silences and lifecycle knobs.

    `resolve_timeout` auto-resolves an incident whose hits carry no `resolve_after` after that
    long without hits (null: never). `update_interval` bounds how often hit counts alone produce
    an `incident.updated` line. `evidence_samples` bounds the evidence kept per incident.
    `resolved_retention` is how long a resolved incident stays answerable by id, and
    `silence_retention` how long an expired silence stays listed (Alertmanager: 5 days).
    `noise_budget` keeps one mis-tuned rule from paging on-call a thousand times a day.
    """

    route: RouteConfig = Field(default_factory=_default_route)
    escalation_policies: list[EscalationPolicy] = []
    inhibit_rules: list[InhibitRule] = []
    time_intervals: list[TimeInterval] = []
    silences: list[SilenceConfig] = []
    resolve_timeout: PositiveDuration | None = 3600.0
    update_interval: Duration = 300.0
    evidence_samples: int = Field(5, ge=1, le=100)
    resolved_retention: Duration = 3600.0
    silence_retention: Duration = 432000.0
    noise_budget: NoiseBudgetConfig = Field(default_factory=NoiseBudgetConfig)

    @model_validator(mode="after")
    def _references(self) -> IncidentsConfig:
        errors: list[InitErrorDetails] = []

        def fail(loc: tuple, message: str, value: Any) -> None:
            errors.append(
                InitErrorDetails(
                    type=PydanticCustomError("config_reference", message),
                    loc=loc,
                    input=value,
                )
            )

        policies = _unique_names(self.escalation_policies, "escalation_policies", fail)
        intervals = _unique_names(self.time_intervals, "time_intervals", fail)
        _unique_names(self.silences, "silences", fail, attr="id")
        root = self.route
        if root.matchers:
            fail(("route", "matchers"), "the root route matches everything; it has no matchers", [])
        for key in ("mute_time_intervals", "active_time_intervals"):
            if getattr(root, key):
                fail(
                    ("route", key), "the root route cannot have time intervals", getattr(root, key)
                )
        _check_route(root, ("route",), policies, intervals, fail)
        if errors:
            raise ValidationError.from_exception_data("IncidentsConfig", errors)
        return self

    def receiver_names(self) -> list[str]:
        """Every receiver the routes and policies name: the engine checks they are configured."""
        names: set[str] = set()
        stack = [self.route]
        while stack:
            route = stack.pop()
            names.update(route.receiver or [])
            stack.extend(route.routes)
        for policy in self.escalation_policies:
            for level in policy.levels:
                names.update(level.receivers)
        return sorted(names)


def _unique_names(items: list, where: str, fail, attr: str = "name") -> set[str]:
    seen: set[str] = set()
    for index, item in enumerate(items):
        name = getattr(item, attr)
        if name in seen:
            fail((where, index, attr), f"duplicate {attr} {name!r}", name)
        seen.add(name)
    return seen


def _check_route(route: RouteConfig, loc: tuple, policies: set, intervals: set, fail) -> None:
    if route.escalation is not None and route.escalation not in policies:
        fail(
            (*loc, "escalation"),
            f"unknown escalation policy {route.escalation!r}",
            route.escalation,
        )
    for key in ("mute_time_intervals", "active_time_intervals"):
        for index, name in enumerate(getattr(route, key)):
            if name not in intervals:
                fail((*loc, key, index), f"unknown time interval {name!r}", name)
    for index, child in enumerate(route.routes):
        _check_route(child, (*loc, "routes", index), policies, intervals, fail)
