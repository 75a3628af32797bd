import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.incidents.matchers import Matcher, MatcherError, matches_all, parse_matcher


def test_equality_and_negation_match_as_written():
    labels = {"team": "payments", "severity": "high"}
    assert parse_matcher("team=payments").matches(labels)
    assert not parse_matcher("team=search").matches(labels)
    assert parse_matcher("severity!=info").matches(labels)
    assert not parse_matcher("severity!=high").matches(labels)


def test_regex_matchers_are_anchored_at_both_ends():
    m = parse_matcher("user=~ali.*")
    assert m.matches({"user": "alice"})
    assert not m.matches({"user": "malice"})  # would match unanchored
    assert parse_matcher("rule_id!~x.*").matches({"rule_id": "shell-pipe"})
    assert not parse_matcher("rule_id!~x.*").matches({"rule_id": "xfer"})


def test_a_missing_label_reads_as_the_empty_string():
    assert parse_matcher('team=""').matches({})
    assert parse_matcher("team!=payments").matches({})
    assert parse_matcher("team=~.*").matches({})
    assert not parse_matcher("team=~.+").matches({})


def test_quoted_values_may_hold_spaces_and_operators():
    m = parse_matcher('title = "a = b, \\"c\\""')
    assert m == Matcher("title", "=", 'a = b, "c"')


def test_invalid_regex_is_refused_with_the_reason_on_the_users_pattern():
    with pytest.raises(MatcherError, match=r"invalid regular expression '\(ali': missing \)"):
        parse_matcher("user=~(ali")


def test_backreferences_are_refused_because_re2_runs_in_linear_time():
    with pytest.raises(MatcherError, match="invalid"):
        parse_matcher(r"user=~(a)\1")


def test_a_pattern_cannot_escape_its_anchors():
    with pytest.raises(MatcherError):
        parse_matcher("user=~a)|(b")


@pytest.mark.parametrize("text", ["", "=x", "team", "team~x", "9 x", '"team"=x'])
def test_malformed_matchers_say_what_is_wrong(text):
    with pytest.raises(MatcherError):
        parse_matcher(text)


def test_an_empty_list_of_matchers_matches_everything():
    assert matches_all([], {"anything": "at all"})


names = st.from_regex(r"[a-z_][a-z0-9_.]{0,8}", fullmatch=True)
values = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@settings(max_examples=80)
@given(name=names, op=st.sampled_from(["=", "!="]), value=values)
def test_printing_and_parsing_a_matcher_gives_it_back(name, op, value):
    m = Matcher(name, op, value)
    assert parse_matcher(str(m)) == m


@settings(max_examples=80)
@given(name=names, value=values, other=values)
def test_negation_is_the_complement(name, value, other):
    labels = {name: other}
    assert Matcher(name, "=", value).matches(labels) != Matcher(name, "!=", value).matches(labels)
