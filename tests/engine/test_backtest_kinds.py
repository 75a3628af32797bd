"""An incident explains an injection only when its rule or detector can find that kind."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from engine.backtest import Injection
from engine.backtest_kinds import FINDERS, finders_of

T = 1_764_316_800.0


def injection(kind: str, group: dict, **labels: dict[str, int]) -> Injection:
    inj = Injection({"kind": kind, "start": T, "end": T + 3600, "group": group})
    for key, counts in labels.items():
        inj.labels[key] = Counter(counts)
    return inj


def incident(rule_id: str, **group: str) -> dict:
    return {"rule_id": rule_id, "group": group}


def test_a_check_firing_in_a_teams_cache_collapse_fits_but_does_not_explain_it():
    inj = injection("cache_hit_collapse", {"team": "web"}, user={"ann": 9}, session={"s1": 9})
    pr = incident("pr-without-passing-assertion", user="ann", session="s1")
    assert inj.fits(pr, T + 600)
    assert not inj.matches(pr, T + 600)
    assert inj.matches(incident("cache-hit-ratio-per-team", team="web"), T + 600)


def test_a_cost_alert_on_a_drifting_team_explains_the_drift_but_a_silence_alert_does_not():
    inj = injection("token_drift", {"team": "release-eng"})
    assert inj.matches(incident("cost-per-team", team="release-eng"), T + 600)
    assert inj.matches(incident("tokens-per-invocation-drift", team="release-eng"), T + 600)
    assert not inj.matches(incident("team-silent", team="release-eng"), T + 600)


def test_every_spelling_of_a_kind_is_found_by_the_same_rules():
    assert FINDERS["credential_leak"] == FINDERS["credential_in_command"]
    assert FINDERS["repo_sprawl"] == FINDERS["many_repos"]
    assert FINDERS["unapproved_model"] == FINDERS["forbidden_model"]
    assert FINDERS["token_drift"] == FINDERS["token_burn_drift"]


@pytest.mark.parametrize(
    ("kind", "rule"),
    [
        ("runaway_sessions", "invocations-per-user"),
        ("runaway_sessions", "user-session-churn"),
        ("team_error_burst", "error-rate-per-team"),
        ("user_error_burst", "user-error-burst"),
        ("credential_leak", "credential-in-command"),
        ("dangerous_command", "shell-pipe-to-shell"),
        ("disallowed_region", "region-new-to-organisation"),
        ("repo_sprawl", "repos-new-to-user"),
        ("team_silent", "team-silent"),
        ("latency_degradation", "latency-per-model-region"),
        ("pr_without_passing_assertions", "pr-without-passing-assertion"),
    ],
)
def test_the_rule_made_for_a_kind_finds_it(kind, rule):
    inj = injection(kind, {"user": "ann"})
    assert inj.kind_known
    assert inj.matches(incident(rule, user="ann"), T + 60)


@pytest.mark.parametrize(
    ("kind", "rule"),
    [
        ("dangerous_command", "credential-in-command"),
        ("credential_leak", "shell-rm-rf-broad"),
        ("disallowed_region", "unapproved-model"),
        ("repo_sprawl", "pr-without-passing-assertion"),
        ("team_silent", "error-rate-per-team"),
        ("latency_degradation", "cost-per-user"),
        ("cost_spike", "team-silent"),
    ],
)
def test_another_kinds_rule_on_the_same_subject_does_not(kind, rule):
    inj = injection(kind, {"user": "ann"})
    assert inj.fits(incident(rule, user="ann"), T + 60)
    assert not inj.matches(incident(rule, user="ann"), T + 60)


def test_a_storm_carries_its_rule_and_matches_as_that_rule():
    inj = injection("team_error_burst", {"team": "payments"})
    storm = {"rule_id": "error-rate-per-user", "group": {"team": "payments", "storm": "x"}}
    assert inj.matches(storm, T + 60)
    storm["rule_id"] = "cost-per-user"
    assert not inj.matches(storm, T + 60)


def test_an_unknown_kind_is_matched_by_labels_and_time_alone():
    assert finders_of("printer_on_fire") is None
    inj = injection("printer_on_fire", {"user": "ann"})
    assert not inj.kind_known
    assert inj.matches(incident("anything-at-all", user="ann"), T + 60)
    assert not inj.matches(incident("anything-at-all", user="bob"), T + 60)


def test_every_finder_is_a_default_rule_or_detector():
    """A misspelt id would silently leave a kind unfindable."""
    root = Path(__file__).resolve().parents[2]
    detectors = yaml.safe_load((root / "detectors" / "defaults.yml").read_text())["detectors"]
    known = {d["id"] for d in detectors}
    for path in (root / "rules" / "packs").rglob("*.yml"):
        if not path.name.endswith(".test.yml"):
            known |= {r["name"] for r in yaml.safe_load_all(path.read_text()) if r}
    for kind, finders in FINDERS.items():
        assert finders <= known, (kind, sorted(finders - known))
