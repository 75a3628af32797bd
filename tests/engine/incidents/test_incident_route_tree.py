import io

import yaml

from engine.incidents.config import IncidentsConfig
from engine.incidents.route_tree import build_routes, match_routes
from engine.incidents.route_tree_cli import routes_test

TREE = yaml.safe_load(
    """
route:
  receiver: default
  group_wait: 10s
  routes:
    - matchers: ['team=payments']
      receiver: payments
      continue: true
      routes:
        - matchers: ['severity=critical']
          receiver: payments-pager
          group_wait: 0s
    - matchers: ['team=~"pay.*"']
      receiver: finance-audit
    - matchers: ['severity=critical']
      receiver: security
escalation_policies:
  - name: p
    levels: [{receivers: [a], timeout: 5m}, {receivers: [b]}]
"""
)


def receivers(labels: dict) -> list[tuple[str, ...]]:
    root = build_routes(IncidentsConfig.model_validate(TREE))
    return [node.options.receivers for node in match_routes(root, labels)]


def test_an_unmatched_incident_takes_the_default_route():
    assert receivers({"team": "search", "severity": "low"}) == [("default",)]


def test_continue_lets_later_siblings_match_too():
    assert receivers({"team": "payments", "severity": "low"}) == [("payments",), ("finance-audit",)]


def test_the_first_match_without_continue_stops_the_search():
    assert receivers({"team": "payroll", "severity": "critical"}) == [("finance-audit",)]


def test_the_deepest_matching_child_wins_and_inherits_unset_options():
    root = build_routes(IncidentsConfig.model_validate(TREE))
    matched = match_routes(root, {"team": "payments", "severity": "critical"})
    assert [n.path for n in matched] == ["root.0.0", "root.1"]
    pager, audit = matched
    assert pager.options.receivers == ("payments-pager",)
    assert pager.options.group_wait == 0
    assert audit.options.group_wait == 10  # inherited from the root
    assert audit.options.repeat_interval == 14400  # embedded default


def test_routes_test_prints_routes_and_receivers_and_succeeds():
    out = io.StringIO()
    config = IncidentsConfig.model_validate(TREE)
    code = routes_test(config, {"team": "payments", "severity": "critical"}, out)
    lines = out.getvalue().splitlines()
    assert code == 0
    assert lines[0].startswith('route root.0.0 {severity="critical"}; receivers: payments-pager')
    assert lines[-1] == "receivers: finance-audit, payments-pager"


def test_routes_test_lists_escalation_levels():
    data = dict(TREE, route={"receiver": "default", "escalation": "p"})
    out = io.StringIO()
    assert routes_test(IncidentsConfig.model_validate(data), {"team": "x"}, out) == 0
    text = out.getvalue()
    assert "escalation level 1: b (after 30m unacknowledged)" in text
    assert text.splitlines()[-1] == "receivers: a, default"


def test_routes_test_fails_when_no_receiver_is_reached():
    config = IncidentsConfig.model_validate({"route": {"receiver": []}})
    out = io.StringIO()
    assert routes_test(config, {"team": "x"}, out) == 1
    assert out.getvalue().splitlines()[-1] == "no receiver"
