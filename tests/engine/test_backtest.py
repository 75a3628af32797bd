"""Which incident explains which injected one: strict about groups, honest about time."""

from __future__ import annotations

from collections import Counter

import pytest

from engine.backtest import Injection, parse_group

T = 1_764_316_800.0


def injection(group: dict, **labels: dict[str, int]) -> Injection:
    """An injection whose subject's events carried each label value that many times."""
    inj = Injection({"kind": "k", "start": T, "end": T + 3600, "group": group})
    for key, counts in labels.items():
        inj.labels[key] = Counter(counts)
    return inj


def incident(**group: str) -> dict:
    return {"group": group}


def test_the_injected_group_itself_matches_inside_the_window_only():
    inj = injection({"user": "ann"})
    assert inj.matches(incident(user="ann"), T + 60)
    assert not inj.matches(incident(user="bob"), T + 60)
    assert not inj.matches(incident(user="ann"), T - 3600)
    assert not inj.matches(incident(user="ann"), T + 3600 + 1801)


def test_a_label_the_subject_determines_matches_alone():
    inj = injection({"user": "ann"}, team={"payments": 9}, repo={"a": 5, "b": 5})
    assert inj.matches(incident(team="payments"), T + 60)  # ann's one team
    assert not inj.matches(incident(team="checkout"), T + 60)
    assert inj.matches(incident(user="ann", repo="b"), T + 60)  # beside the shared key
    assert not inj.matches(incident(repo="b"), T + 60)  # half of ann's work: not determined


def test_the_model_most_of_a_users_failing_calls_went_to_is_explained_by_them():
    inj = injection({"user": "bob"}, model={"sonnet": 113, "haiku": 33, "opus": 4})
    assert inj.matches(incident(model="sonnet"), T + 600)
    assert not inj.matches(incident(model="haiku"), T + 600)


def test_a_team_that_merely_used_a_slow_model_does_not_explain_the_slowdown():
    inj = injection(
        {"model": "m", "region": "r"}, team={"payments": 40, "checkout": 35, "search": 30}
    )
    assert inj.matches(incident(model="m", region="r"), T + 600)
    assert not inj.matches(incident(team="payments"), T + 600)
    assert not inj.matches(incident(), T + 600)


def test_a_slice_lying_wholly_inside_the_injection_explains_it():
    # the team's calls fail; one member's own error alert is a drill-down, not a false alarm
    inj = injection({"team": "payments"}, user={"ann": 30, "bob": 40, "cy": 30})
    inj.everyone["user"] = Counter({"ann": 30, "bob": 40, "cy": 30, "dee": 50})
    assert inj.matches(incident(user="ann"), T + 60)
    # a user whose events are partly outside the subject (another team's) is not a slice
    inj.everyone["user"]["ann"] += 5
    assert not inj.matches(incident(user="ann"), T + 60)
    assert not inj.matches(incident(user="dee"), T + 60)


def test_an_empty_label_claims_nothing():
    inj = injection({"user": "ann"})
    assert inj.matches(incident(user="ann", repo=""), T + 60)
    assert not inj.matches(incident(repo=""), T + 60)


def test_a_storm_matches_by_the_labels_its_folded_incidents_share():
    inj = injection({"team": "checkout"})
    assert inj.matches(incident(storm="over-budget", team="checkout"), T + 60)
    assert not inj.matches(incident(storm="over-budget", team="ledger"), T + 60)
    assert not inj.matches(incident(storm="over-budget"), T + 60)  # no one's storm


def test_a_group_written_as_key_value_text_is_the_same_group():
    assert parse_group("user=ann@corp.example,region=sa-east-1") == {
        "user": "ann@corp.example",
        "region": "sa-east-1",
    }
    assert parse_group({"team": 7}) == {"team": "7"}
    inj = Injection({"kind": "k", "start": T, "end": T + 3600, "group": "user=ann"})
    assert inj.matches(incident(user="ann"), T + 60)


@pytest.mark.parametrize("bad", ["ann", "=ann", 7, ["user", "ann"]])
def test_a_group_that_names_no_label_is_a_clear_error(bad: object):
    with pytest.raises(ValueError, match="key=value"):
        parse_group(bad)
