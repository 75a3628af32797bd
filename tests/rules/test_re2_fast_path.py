"""The compiled matchers answer through google-re2's RE2 object directly.

`rules.compiler.re2_test` falls back to the public `search` when a google-re2 release lays
its internals out differently; the answers stay right but every regex test gets about twice
as slow. This test turns such an upgrade into a failure instead of a silent slowdown.
"""

from __future__ import annotations

import re2

from rules.regex import quiet_options


def test_google_re2_still_offers_the_direct_match_the_compiler_uses():
    anchors = getattr(re2, "_Anchor", None)
    assert anchors is not None, "google-re2 no longer exposes _Anchor"
    assert hasattr(anchors, "UNANCHORED")
    assert hasattr(anchors, "ANCHOR_BOTH")
    compiled = re2.compile("a+b", quiet_options(never_capture=True))
    raw = getattr(compiled, "_regexp", None)
    assert callable(getattr(raw, "Match", None)), "compiled patterns lost _regexp.Match"
    data = b"xxaab"
    assert raw.Match(anchors.UNANCHORED, data, 0, len(data))[0][0] >= 0
    assert raw.Match(anchors.ANCHOR_BOTH, data, 0, len(data))[0][0] < 0
