"""Rule regular expressions are RE2's: linear time whatever the input, hence a narrower syntax.

RE2 refuses lookarounds and backreferences, which rule authors used to PCRE or Python reach
for first. Every pattern is compiled with RE2's own error logging off (its C++ logger would
otherwise write to standard error behind our back), and a refusal becomes one readable
sentence with a hint, instead of RE2's bytes.
"""

from __future__ import annotations

import re

import re2
from sigma.policy import SigmaPolicy
from sigma.policy.regex_engine import RegexEngine, RegexPattern

RE2_HINT = "`|re` is RE2: no lookarounds such as (?!...), no backreferences such as \\1"


class RegexSyntaxError(ValueError):
    """A pattern RE2 refuses; `reason` is RE2's explanation as text."""

    def __init__(self, pattern: str, reason: str) -> None:
        super().__init__(reason)
        self.pattern = pattern
        self.reason = reason

    def describe(self) -> str:
        """One line for a rule author: the pattern, why RE2 refuses it, what RE2 allows."""
        return f"invalid regular expression '{self.pattern}': {self.reason} ({RE2_HINT})"


def quiet_options(*, never_capture: bool = False) -> re2.Options:
    """RE2 options that report errors by exception only, never through RE2's C++ log."""
    options = re2.Options()
    options.log_errors = False
    options.never_capture = never_capture
    return options


def error_reason(exc: BaseException) -> str:
    """RE2's reason as text (google-re2 hands it over as bytes)."""
    reason = exc.args[0] if exc.args else "invalid"
    if isinstance(reason, bytes):
        reason = reason.decode("utf-8", "replace")
    return str(reason)


def compile_quietly(pattern: str, *, never_capture: bool = False) -> RegexPattern:
    """`re2.compile` without C++ log lines; RegexSyntaxError with a readable reason."""
    try:
        compiled: RegexPattern = re2.compile(pattern, quiet_options(never_capture=never_capture))
        return compiled
    except re2.error as exc:
        raise RegexSyntaxError(pattern, error_reason(exc)) from None


class QuietRE2Engine(RegexEngine):
    """pySigma's RE2 engine, with logging off and text reasons (pySigma validates `|re` values)."""

    _FLAGS = ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"))

    def compile(self, pattern: str, flags: int = 0) -> RegexPattern:
        prefix = "".join(letter for flag, letter in self._FLAGS if int(flags) & int(flag))
        try:
            compiled: RegexPattern = re2.compile(
                f"(?{prefix}){pattern}" if prefix else pattern, quiet_options()
            )
            return compiled
        except re2.error as exc:
            raise RegexSyntaxError(pattern, error_reason(exc)) from None

    @property
    def error(self) -> type[Exception]:
        return RegexSyntaxError


SIGMA_POLICY = SigmaPolicy(regex_engine=QuietRE2Engine())
