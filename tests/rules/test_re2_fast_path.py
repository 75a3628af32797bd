"""The compiled matchers' yes/no regex test uses google-re2's public API only.

`rules.compiler.re2_test` answers through a one-pattern `re2.Set` (no match object per call),
and through the pattern's own `search`/`fullmatch` when the pattern is too large for a set.
Both must answer as `re2.search`/`re2.fullmatch` do.
"""

from __future__ import annotations

import re2

from rules.compiler import re2_test
from rules.regex import quiet_options


def test_a_one_pattern_set_answers_search_and_fullmatch_through_public_calls():
    options = quiet_options(never_capture=True)
    search, whole = re2.Set.SearchSet(options), re2.Set.FullMatchSet(options)
    for one in (search, whole):
        assert one.Add("a+b") == 0
        one.Compile()
    assert search.Match("xxaab") == [0]
    assert whole.Match("xxaab") is None
    assert whole.Match("aab") == [0]


def test_a_pattern_too_large_for_a_set_is_still_answered_right():
    # tens of thousands of alternatives: RE2 compiles the pattern but refuses it as a set
    pattern = "|".join(f"w{i}x[a-z]{{2}}y" for i in range(30_000))
    one = re2.Set.SearchSet(quiet_options(never_capture=True))
    one.Add(pattern)
    try:
        one.Compile()
        too_large = False
    except re2.error:
        too_large = True
    assert too_large, "raise the size: this test must exercise the fallback"
    found = re2_test(pattern)
    assert found("zz w29999xqqy zz")
    assert not found("zz w29999xqq zz")
    assert re2_test(pattern, whole=True)("w17xaby")
    assert not re2_test(pattern, whole=True)(" w17xaby")
