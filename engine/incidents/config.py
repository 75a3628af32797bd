"""The incident stage's configuration (the `incidents:` part of spanwatch's YAML), pydantic v2.

Every field has a default, so `IncidentsConfig()` is the embedded default: everything goes to the
receivers `console` and `incident-log`, grouped by rule. Routing follows Alertmanager's route
tree; escalation follows PagerDuty's escalation policies. Cross references (policy and interval
names) are checked here, each error with the `loc` of the offending value, so the engine's YAML
loader can print file:line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
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
# Written back as it is written (`team="payments"`): a dump reads as the configuration does.
MatcherField = Annotated[
    Matcher, BeforeValidator(parse_matcher), PlainSerializer(str, return_type=str)
]
Time = Annotated[float, BeforeValidator(parse_time)]
# Reports one configuration error: (location, message, offending value).
Fail = Callable[[tuple[str | int, ...], str, Any], None]
DEFAULT_RECEIVERS = ("console", "incident-log")


def _receiver_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class _IncidentsSection(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RouteConfig(_IncidentsSection):
    """One node of the routing tree. Unset options inherit from the parent route.

    `receiver` may be one name or a list. `group_by: ["..."]` groups by every label (one
    notification per incident). Time intervals are not inherited (as in Alertmanager).
    """

    receiver: Annotated[list[str] | None, BeforeValidator(_receiver_list)] = Field(
        None, description="receivers and responders notified"
    )
    matchers: list[MatcherField] = Field(
        [], description="an incident takes this route when its labels match all of them"
    )
    continue_: bool = Field(
        False, alias="continue", description="after matching, try the next sibling routes too"
    )
    group_by: list[str] | None = Field(
        None, description='labels whose values make a notification group; `["..."]`: every label'
    )
    group_wait: Duration | None = Field(
        None, description="wait before a new group's first notification (batching)"
    )
    group_interval: PositiveDuration | None = Field(
        None, description="wait before notifying a group again about new or changed incidents"
    )
    repeat_interval: PositiveDuration | None = Field(
        None, description="reminder interval for a group still firing"
    )
    send_resolved: bool | None = Field(None, description="notify when incidents resolve")
    mute_time_intervals: list[str] = Field(
        [], description="named time intervals during which the route sends nothing"
    )
    active_time_intervals: list[str] = Field(
        [], description="named time intervals outside which the route sends nothing"
    )
    escalation: str | None = Field(
        None, description="escalation policy paged until someone acknowledges"
    )
    routes: list[RouteConfig] = Field([], description="child routes, tried in order")

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


class EscalationLevel(_IncidentsSection):
    """Who is paged at this level, and how long they have to acknowledge before the next."""

    receivers: Annotated[list[str], BeforeValidator(_receiver_list), Field(min_length=1)] = Field(
        description="receivers and responders paged at this level"
    )
    timeout: PositiveDuration = Field(
        1800.0, description="time to acknowledge before the next level is paged"
    )


class EscalationPolicy(_IncidentsSection):
    """PagerDuty-style: levels in order; after the last, start over `repeat` more times."""

    name: str = Field(description="what routes call the policy by (`escalation:`)")
    levels: list[EscalationLevel] = Field(min_length=1, description="levels in order")
    repeat: int = Field(0, ge=0, description="times to start over after the last level")


class InhibitRule(_IncidentsSection):
    """A firing incident matching `source_matchers` mutes incidents matching `target_matchers`
    that have the same values for every label in `equal`."""

    source_matchers: list[MatcherField] = Field(
        min_length=1, description="the firing incident that mutes"
    )
    target_matchers: list[MatcherField] = Field(min_length=1, description="the incidents it mutes")
    equal: list[str] = Field([], description="labels both must share")
    fold: bool = Field(
        False,
        description="a target muted before it was announced stays muted until it resolves, "
        "even after the source resolves (`inhibited_by` in the incident log)",
    )


class SilenceConfig(_IncidentsSection):
    """A silence written into the configuration (maintenance windows known in advance)."""

    id: str = Field(description="the silence's id")
    matchers: list[MatcherField] = Field(
        min_length=1, description="incidents whose labels match all of them are muted"
    )
    starts_at: Time = Field(description="when the silence begins")
    ends_at: Time = Field(description="when it ends (after `starts_at`)")
    created_by: str = Field("config", description="author shown with the silence")
    comment: str = Field("", description="why")

    @model_validator(mode="after")
    def _ordered(self) -> SilenceConfig:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class NoiseBudgetConfig(_IncidentsSection):
    """How many incidents one rule or detector may open per `per` before the rest fold into
    one storm incident, and how many per day (`per_day`, the same for every rule; a rule's
    `spanwatch: {noise-budget: N}` or a detector's `noise_budget: N` overrides `incidents`;
    `off` there exempts it from both). `top_groups`: how many of
    the folded incidents' groups the storm incident lists."""

    enabled: bool = Field(True, description="false: no rule or detector has a budget")
    incidents: int = Field(10, ge=1, description="incidents a rule or detector may open per `per`")
    per: PositiveDuration = Field(3600.0, description="the budget period")
    # A steady drizzle (one incident an hour, every hour) never exceeds an hourly budget but
    # is as noisy over a day: a second budget per day (null: none) folds it as well.
    per_day: int | None = Field(
        20, ge=1, description="incidents a rule or detector may open per trailing day (null: none)"
    )
    top_groups: int = Field(
        5, ge=1, le=100, description="the folded incidents' most frequent groups listed"
    )


class FindingsConfig(_IncidentsSection):
    """Findings (rules that `produces: finding`): recorded and counted, never paged; each
    route they reach hears of them once per `digest_interval`, in a digest."""

    digest_interval: PositiveDuration = Field(
        86400.0, description="how often each route gets its findings digest (aligned in UTC)"
    )
    top: int = Field(5, ge=1, le=100, description="teams and users with most findings listed")
    examples: int = Field(3, ge=0, le=50, description="example findings per digest")


def _provider_inhibit_rules() -> list[InhibitRule]:
    """A model and region's error incident folds the error-rate slices of its region and of
    its model (see `_default_inhibit_rules`)."""
    return [
        InhibitRule.model_validate(
            {
                "source_matchers": ["rule_id=failing-teams-per-model-region"],
                "target_matchers": ["rule_id=slices-error-rate"],
                "equal": [label],
                "fold": True,
            }
        )
        for label in ("region", "model")
    ]


def _default_inhibit_rules() -> list[InhibitRule]:
    """While a team's error burst pages (critical), the error incidents of its people fold
    into it: one outage, one page. A person failing alone still pages, once: the detector's
    burst (`error-rate-per-user`) folds into the rule's (`user-error-burst`, high), which needs
    most of a busy person's calls failing and mostly fires first; a thin person's burst, which
    the rule cannot count, is the detector's alone. Likewise a runaway
    agent (`user-session-churn`, critical) fails its checks in session after session: those
    sessions' `repeated-assertion-failures` fold into the runaway's page. And a provider's
    trouble on a model in a region (`failing-teams-per-model-region`, high) is one incident:
    the error rate of that region or that model departing (`slices-error-rate`'s slice of
    the same region or model) folds into it."""
    return [
        InhibitRule.model_validate(
            {
                "source_matchers": ["rule_id=error-rate-per-team"],
                "target_matchers": ["rule_id=~error-rate-per-user|user-error-burst"],
                "equal": ["team"],
                "fold": True,
            }
        ),
        InhibitRule.model_validate(
            {
                "source_matchers": ["rule_id=user-error-burst"],
                "target_matchers": ["rule_id=error-rate-per-user"],
                "equal": ["user"],
                "fold": True,
            }
        ),
        InhibitRule.model_validate(
            {
                "source_matchers": ["rule_id=user-session-churn"],
                "target_matchers": ["rule_id=repeated-assertion-failures"],
                "equal": ["user"],
                "fold": True,
            }
        ),
        *_provider_inhibit_rules(),
    ]


class IncidentsConfig(_IncidentsSection):
    """Routes, escalation policies, inhibition, time intervals, silences and lifecycle knobs.

    `resolve_timeout` auto-resolves an incident whose hits carry no `resolve_after` after that
    long without hits (null: never). `update_interval` bounds how often hit counts alone produce
    an `incident.updated` line. `evidence_samples` bounds the evidence kept per incident.
    `resolved_retention` is how long a resolved incident stays answerable by id, and
    `silence_retention` how long an expired silence stays listed (Alertmanager: 5 days).
    `noise_budget` keeps one mis-tuned rule from paging on-call a thousand times a day.
    """

    route: RouteConfig = Field(
        default_factory=_default_route,
        description="the routing tree's root: to `console` and `incident-log`, grouped by "
        "`rule_id`, group_wait 30s, group_interval 5m, repeat_interval 4h, send_resolved",
    )
    escalation_policies: list[EscalationPolicy] = Field(
        [], description="PagerDuty-style policies that routes name"
    )
    inhibit_rules: list[InhibitRule] = Field(
        default_factory=_default_inhibit_rules,
        description="firing incidents that mute others (Alertmanager's inhibit rules); by "
        "default a team's error burst (`error-rate-per-team`) folds its people's error "
        "incidents (`error-rate-per-user`, `user-error-burst`, equal `team`), a person's "
        "`error-rate-per-user` folds into their `user-error-burst` (equal `user`), and a runaway "
        "agent (`user-session-churn`) folds its sessions' `repeated-assertion-failures` "
        "(equal `user`); a list set here replaces it",
    )
    time_intervals: list[TimeInterval] = Field(
        [], description="named intervals routes mute or activate on"
    )
    silences: list[SilenceConfig] = Field([], description="silences known in advance")
    resolve_timeout: PositiveDuration | None = Field(
        3600.0,
        description="auto-resolve after this long without hits, for hits without "
        "`resolve_after` (null: never)",
    )
    update_interval: Duration = Field(
        300.0, description="least time between `incident.updated` lines for new hits alone"
    )
    evidence_samples: int = Field(5, ge=1, le=100, description="evidence kept per incident")
    resolved_retention: Duration = Field(
        3600.0, description="how long a resolved incident stays answerable by id"
    )
    silence_retention: Duration = Field(
        432000.0, description="how long an expired silence stays listed"
    )
    noise_budget: NoiseBudgetConfig = Field(
        default_factory=NoiseBudgetConfig,
        description="how many incidents a rule or detector may open before they fold",
    )
    findings: FindingsConfig = Field(
        default_factory=FindingsConfig,
        description="the digest of findings (rules that produce findings, not incidents)",
    )

    @model_validator(mode="after")
    def _references(self) -> IncidentsConfig:
        errors: list[InitErrorDetails] = []

        def fail(loc: tuple[str | int, ...], message: str, value: Any) -> None:
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


def _unique_names(items: Sequence[Any], where: str, fail: Fail, attr: str = "name") -> set[str]:
    seen: set[str] = set()
    for index, item in enumerate(items):
        name = getattr(item, attr)
        if name in seen:
            fail((where, index, attr), f"duplicate {attr} {name!r}", name)
        seen.add(name)
    return seen


def _check_route(
    route: RouteConfig,
    loc: tuple[str | int, ...],
    policies: set[str],
    intervals: set[str],
    fail: Fail,
) -> None:
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
