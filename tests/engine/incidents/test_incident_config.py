import pytest
import yaml
from pydantic import ValidationError

from engine.incidents.config import IncidentsConfig

FULL = """
route:
  receiver: console
  group_by: [rule_id]
  routes:
    - matchers: ['team=payments']
      receiver: slack-payments
      group_by: [rule_id, team]
      escalation: payments-oncall
      mute_time_intervals: [weekends]
      continue: true
    - matchers: ['severity=~"high|critical"', 'user!~bot-.*']
      receiver: sns-security
      active_time_intervals: [office-hours]
escalation_policies:
  - name: payments-oncall
    repeat: 1
    levels:
      - receivers: [pagerduty-primary]
        timeout: 5m
      - receivers: pagerduty-secondary
inhibit_rules:
  - source_matchers: ['severity=critical']
    target_matchers: ['severity=~"low|medium|high"']
    equal: [team]
time_intervals:
  - name: weekends
    time_intervals: [{weekdays: ['saturday:sunday'], location: Europe/Berlin}]
  - name: office-hours
    time_intervals: [{times: [{start_time: '09:00', end_time: '17:00'}]}]
silences:
  - id: migration
    matchers: ['rule_id=cost-spike']
    starts_at: 2026-11-28T00:00:00Z
    ends_at: 2026-11-29T00:00:00Z
    comment: planned migration
"""


def test_the_embedded_default_routes_everything_to_console_and_the_incident_log():
    config = IncidentsConfig()
    assert config.route.receiver == ["console", "incident-log"]
    assert config.receiver_names() == ["console", "incident-log"]


def test_a_full_configuration_loads_with_inherited_and_explicit_options():
    config = IncidentsConfig.model_validate(yaml.safe_load(FULL))
    payments = config.route.routes[0]
    assert payments.continue_ is True
    assert config.escalation_policies[0].levels[0].timeout == 300
    assert config.escalation_policies[0].levels[1].timeout == 1800  # default
    assert config.silences[0].ends_at - config.silences[0].starts_at == 86400
    assert config.receiver_names() == [
        "console",
        "pagerduty-primary",
        "pagerduty-secondary",
        "slack-payments",
        "sns-security",
    ]


def error_locs(data: dict) -> dict[tuple, str]:
    with pytest.raises(ValidationError) as info:
        IncidentsConfig.model_validate(data)
    return {e["loc"]: e["msg"] for e in info.value.errors()}


def test_unknown_references_are_reported_at_the_reference():
    data = yaml.safe_load(FULL)
    data["route"]["routes"][0]["escalation"] = "nobody"
    data["route"]["routes"][1]["active_time_intervals"] = ["office-hours", "lunch"]
    errors = error_locs(data)
    assert "unknown escalation policy 'nobody'" in errors[("route", "routes", 0, "escalation")]
    assert (
        "unknown time interval 'lunch'"
        in errors[("route", "routes", 1, "active_time_intervals", 1)]
    )


def test_an_invalid_matcher_regex_is_reported_at_the_matcher():
    errors = error_locs({"route": {"routes": [{"matchers": ["ok=1", "user=~(x"]}]}})
    assert "invalid regular expression" in errors[("route", "routes", 0, "matchers", 1)]


@pytest.mark.parametrize(
    ("data", "loc", "message"),
    [
        ({"route": {"group_wait": "soon"}}, ("route", "group_wait"), "not a duration"),
        ({"route": {"group_interval": 0}}, ("route", "group_interval"), "greater than 0"),
        ({"route": {"recevier": "x"}}, ("route", "recevier"), "Extra inputs"),
        ({"route": {"matchers": ["a=b"]}}, ("route", "matchers"), "no matchers"),
        ({"route": {"group_by": ["...", "team"]}}, ("route", "group_by"), "cannot be combined"),
        (
            {"escalation_policies": [{"name": "p", "levels": []}]},
            ("escalation_policies", 0, "levels"),
            "at least 1",
        ),
        (
            {"escalation_policies": [{"name": "p", "levels": [{"receivers": "a"}]}] * 2},
            ("escalation_policies", 1, "name"),
            "duplicate name 'p'",
        ),
        (
            {"inhibit_rules": [{"source_matchers": [], "target_matchers": ["a=b"]}]},
            ("inhibit_rules", 0, "source_matchers"),
            "at least 1",
        ),
        (
            {"silences": [{"id": "s", "matchers": ["a=b"], "starts_at": 10, "ends_at": 5}]},
            ("silences", 0),
            "ends_at must be after starts_at",
        ),
    ],
)
def test_configuration_errors_carry_a_precise_location(data, loc, message):
    errors = error_locs(data)
    assert loc in errors, errors
    assert message in errors[loc]
