"""Whether a session's test runs and checks pass: correlated within the session, as in real work.

Independent draws would scatter failures evenly over sessions. Real sessions differ: most go well
(a rare flaky failure), while one that hits a real problem fails several checks in a row until the
agent fixes it, and may break again. A session's state is a two-state chain (passing, failing)
whose switching probabilities depend on whether the session is a troubled one.
"""

from __future__ import annotations

import random

TROUBLED_SESSIONS = 0.25  # share of sessions that run into a real problem
FLAKY_FAILURE = 0.03  # a check of a session going well fails anyway
BREAKS = 0.4  # a troubled session that passes starts failing at its next check
FIXED = 0.3  # a failing check is fixed by the next one


class SessionChecks:
    """The outcomes of one session's checks, drawn one at a time from the session's generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.troubled = rng.random() < TROUBLED_SESSIONS
        self.failing = False
        self.last_passed: bool | None = None  # None: nothing checked yet

    def outcome(self) -> bool:
        """Whether the next check passes."""
        rng = self.rng
        if self.troubled:
            self.failing = rng.random() >= FIXED if self.failing else rng.random() < BREAKS
            passed = not self.failing
        else:
            passed = rng.random() >= FLAKY_FAILURE
        self.last_passed = passed
        return passed

    @property
    def green(self) -> bool:
        """The last check passed: the state a developer ships in."""
        return bool(self.last_passed)
