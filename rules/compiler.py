"""Compile pySigma's parsed detection condition into plain Python closures over the event.

The closures are the hot path: every string test on one field inside an OR is merged into a
single closure that lowers the field once and tries a set lookup, `startswith`/`endswith`
with tuples and substring tests before falling back to RE2. Semantics: `rules/semantics.py`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network
from typing import Any

import re2
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
)

from rules.json_value import Event

from .regex import RegexSyntaxError, compile_quietly, error_reason, quiet_options
from .semantics import as_bool, as_number, as_text, time_part

Matcher = Callable[[Event], bool]


class CompileError(ValueError):
    """A rule uses something spanwatch cannot evaluate; `field` says where."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


_NOTHING = "[^\\x00-\\x{10FFFF}]"  # an RE2 class no character is in: an empty list matches nothing


def _safe(test: Callable[[str], bool], text: str) -> bool:
    """RE2 needs UTF-8: text with lone surrogates (bad JSON escapes) simply does not match."""
    try:
        return test(text)
    except UnicodeEncodeError:
        return False


_NO_CAPTURE = quiet_options(never_capture=True)  # a yes/no answer needs no groups: RE2's DFA


def re2_test(pattern: str, whole: bool = False) -> Callable[[str], bool]:
    """Whether RE2 `search`es the pattern in a text (`fullmatch`es it, with `whole`).

    google-re2's `search` wraps every call in a generator and a match object, which costs
    about as much as the match itself. A one-pattern `re2.Set` (public API; the kind of set
    sets the anchoring) answers yes or no straight from RE2's DFA. RE2 compiles a set only
    once a trial search shows its DFA has the memory to run, since a set has no slower engine
    to fall back on; a pattern too large for that is answered by its own `search` or
    `fullmatch`. Raises `re2.error` for a bad pattern and UnicodeEncodeError for text RE2
    cannot take, as `search` does.
    """
    compiled = re2.compile(pattern, _NO_CAPTURE)  # the readable error for a bad pattern
    one = re2.Set.FullMatchSet(_NO_CAPTURE) if whole else re2.Set.SearchSet(_NO_CAPTURE)
    one.Add(pattern)
    try:
        one.Compile()
    except re2.error:
        public = compiled.fullmatch if whole else compiled.search
        return lambda text: public(text) is not None
    match = one.Match
    return lambda text: match(text) is not None


def _true(_ev: Event) -> bool:
    return True


def _false(_ev: Event) -> bool:
    return False


# --- string tests -------------------------------------------------------------------------


@dataclass
class StringTests:
    """All string tests one OR applies to one field (or to every field, for keywords)."""

    cased: bool
    exact: set[str] = field(default_factory=set)
    prefixes: list[str] = field(default_factory=list)
    suffixes: list[str] = field(default_factory=list)
    infixes: list[str] = field(default_factory=list)
    patterns: list[str] = field(default_factory=list)
    anything: bool = False

    def add(self, value: SigmaString, lists: Mapping[str, list[str]], where: str | None) -> None:
        """Classify one Sigma string into the cheapest test that decides it."""
        parts = value.s
        fold: Callable[[str], str] = (lambda s: s) if self.cased else str.lower
        first, last = (parts[0], parts[-1]) if parts else ("", "")
        if any(isinstance(p, Placeholder) for p in parts):
            if len(parts) == 1 and isinstance(first, Placeholder):  # the list alone: each
                for entry in _list_values(first, lists, where):  # entry is a string of its own
                    self.add(SigmaString(entry), lists, where)
            else:
                self.patterns.append(_wildcard_regex(parts, fold, lists, where))
            return
        if not parts:
            self.exact.add("")
        elif len(parts) == 1 and isinstance(first, str):
            self.exact.add(fold(first))
        elif parts == [SpecialChars.WILDCARD_MULTI]:
            self.anything = True
        elif len(parts) == 2 and last == SpecialChars.WILDCARD_MULTI and isinstance(first, str):
            self.prefixes.append(fold(first))
        elif len(parts) == 2 and first == SpecialChars.WILDCARD_MULTI and isinstance(last, str):
            self.suffixes.append(fold(last))
        elif (
            len(parts) == 3
            and first == SpecialChars.WILDCARD_MULTI
            and last == SpecialChars.WILDCARD_MULTI
            and isinstance(parts[1], str)
        ):
            self.infixes.append(fold(parts[1]))
        else:
            self.patterns.append(_wildcard_regex(parts, fold, lists, where))

    def text_test(self) -> Callable[[str], bool]:
        """A test on already-lowered (or, for `cased`, raw) text."""
        exact = frozenset(self.exact)
        prefixes = tuple(self.prefixes)
        suffixes = tuple(self.suffixes)
        infixes = tuple(self.infixes)
        fullmatch = (
            re2_test("|".join(f"(?:{p})" for p in self.patterns), whole=True)
            if self.patterns
            else None
        )
        if self.anything:
            return lambda _text: True
        if not (prefixes or suffixes or infixes or fullmatch):
            return exact.__contains__
        if len(infixes) == 1 and not (exact or prefixes or suffixes or fullmatch):
            needle = infixes[0]
            return lambda text: needle in text

        def test(text: str) -> bool:
            if text in exact:
                return True
            if prefixes and text.startswith(prefixes):
                return True
            if suffixes and text.endswith(suffixes):
                return True
            for needle in infixes:
                if needle in text:
                    return True
            return fullmatch is not None and _safe(fullmatch, text)

        return test


Lists = Mapping[str, list[str]]


def _list_values(placeholder: Placeholder, lists: Lists, where: str | None) -> list[str]:
    try:
        return [str(v) for v in lists[placeholder.name]]
    except KeyError:
        raise CompileError(
            f"unknown placeholder %{placeholder.name}% (define it under rules.lists "
            "in the configuration)",
            where,
        ) from None


def _wildcard_regex(
    parts: Sequence[str | SpecialChars | Placeholder],
    fold: Callable[[str], str],
    lists: Lists,
    where: str | None,
) -> str:
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(re2.escape(fold(part)))
        elif part == SpecialChars.WILDCARD_MULTI:
            out.append("(?s:.*)")
        elif part == SpecialChars.WILDCARD_SINGLE:
            out.append("(?s:.)")
        else:  # a list: each entry may hold wildcards of its own
            entries = _list_values(part, lists, where)
            alternatives = "|".join(
                _wildcard_regex(SigmaString(v).s, fold, lists, where) for v in entries
            )
            out.append(f"(?:{alternatives or _NOTHING})")
    return "".join(out)


def _field_string_matcher(name: str, tests: StringTests) -> Matcher:
    test = tests.text_test()
    if tests.cased:

        def match_cased(ev: Event) -> bool:
            value = ev.get(name)
            if type(value) is not str:
                value = as_text(value)
                if value is None:
                    return False
            return test(value)

        return match_cased

    exact = frozenset(tests.exact)
    if not (tests.prefixes or tests.suffixes or tests.infixes or tests.patterns or tests.anything):

        def match_exact(ev: Event) -> bool:
            value = ev.get(name)
            if type(value) is not str:
                value = as_text(value)
                if value is None:
                    return False
            return value in exact or value.lower() in exact

        return match_exact

    def match(ev: Event) -> bool:
        value = ev.get(name)
        if type(value) is not str:
            value = as_text(value)
            if value is None:
                return False
        return test(value.lower())

    return match


def _keyword_string_matcher(tests: StringTests) -> Matcher:
    test = tests.text_test()
    cased = tests.cased

    def match(ev: Event) -> bool:
        for value in ev.values():
            if isinstance(value, str) and test(value if cased else value.lower()):
                return True
        return False

    return match


# --- other leaves ---------------------------------------------------------------------------


def _regex_pattern(name: str | None, value: SigmaRegularExpression, lists: Lists) -> str:
    """RE2 text of one `re` value: placeholders expanded (escaped), flags as a group."""
    flags = "".join(
        sorted(
            {
                SigmaRegularExpressionFlag.IGNORECASE: "i",
                SigmaRegularExpressionFlag.MULTILINE: "m",
                SigmaRegularExpressionFlag.DOTALL: "s",
            }[f]
            for f in value.flags
        )
    )
    out: list[str] = []
    for part in value.regexp.s:
        if isinstance(part, str):
            out.append(part)
        elif part == SpecialChars.WILDCARD_MULTI:
            out.append("*")
        elif part == SpecialChars.WILDCARD_SINGLE:
            out.append("?")
        else:
            values = _list_values(part, lists, name)
            out.append("(?:" + ("|".join(re2.escape(v) for v in values) or _NOTHING) + ")")
    body = "".join(out)
    try:
        compile_quietly(body)
    except RegexSyntaxError as exc:
        raise CompileError(exc.describe(), name) from None
    return f"(?{flags}:{body})" if flags else body


def _regex_matcher(name: str | None, patterns: list[str]) -> Matcher:
    """One RE2 search for every `re` value an OR applies to one field."""
    pattern = patterns[0] if len(patterns) == 1 else "|".join(f"(?:{p})" for p in patterns)
    try:
        search = re2_test(pattern)
    except re2.error as exc:
        raise CompileError(RegexSyntaxError(pattern, error_reason(exc)).describe(), name) from None
    if name is None:

        def match_any(ev: Event) -> bool:
            return any(isinstance(v, str) and _safe(search, v) for v in ev.values())

        return match_any

    def match(ev: Event) -> bool:
        text = ev.get(name)
        if type(text) is not str:
            if text is None:  # most events lack most fields
                return False
            text = as_text(text)
            if text is None:
                return False
        try:
            return search(text)
        except UnicodeEncodeError:
            return False

    return match


_COMPARE = {
    CompareOperators.GT: float.__gt__,
    CompareOperators.GTE: float.__ge__,
    CompareOperators.LT: float.__lt__,
    CompareOperators.LTE: float.__le__,
    CompareOperators.NEQ: float.__ne__,
}


def _compare_matcher(name: str, value: SigmaCompareExpression) -> Matcher:
    op = _COMPARE[value.op]
    bound = float(value.number.number)

    def match(ev: Event) -> bool:
        raw = ev.get(name)
        if type(raw) is float and raw - raw == 0.0:  # finite float: the common case
            return op(raw, bound)
        number = as_number(raw)
        return number is not None and op(number, bound)

    return match


def _number_matcher(name: str, number: float) -> Matcher:
    def match(ev: Event) -> bool:
        got = as_number(ev.get(name))
        return got is not None and got == number

    return match


def _leaf(name: str | None, value: Any, lists: Lists) -> Matcher:
    """A matcher for one field/value pair that is not a plain string test."""
    if isinstance(value, SigmaExpansion):
        return _or([_leaf_any(name, v, lists) for v in value.values])
    if isinstance(value, SigmaRegularExpression):
        return _regex_matcher(name, [_regex_pattern(name, value, lists)])
    if name is None:
        raise CompileError(f"a keyword value of type {type(value).__name__} needs a field")
    if isinstance(value, SigmaNull):
        return lambda ev: ev.get(name) is None
    if isinstance(value, SigmaExists):
        wanted = bool(value.exists)
        return lambda ev: (ev.get(name) is not None) is wanted
    if isinstance(value, SigmaBool):
        wanted_bool = bool(value.boolean)
        return lambda ev: as_bool(ev.get(name)) is wanted_bool
    if isinstance(value, SigmaTimestampPart):
        part, number = value.timestamp_part.name, int(value.number)
        return lambda ev: time_part(ev.get(name), part) == number
    if isinstance(value, SigmaNumber):
        return _number_matcher(name, float(value.number))
    if isinstance(value, SigmaCompareExpression):
        return _compare_matcher(name, value)
    if isinstance(value, SigmaCIDRExpression):
        return _cidr_matcher(name, value.network)
    if isinstance(value, SigmaFieldReference):
        return _fieldref_matcher(name, value)
    raise CompileError(f"values of type {type(value).__name__} are not supported", name)


def _leaf_any(name: str | None, value: Any, lists: Lists) -> Matcher:
    if isinstance(value, SigmaString):
        tests = StringTests(cased=isinstance(value, SigmaCasedString))
        tests.add(value, lists, name)
        return _strings(name, tests)
    return _leaf(name, value, lists)


def _strings(name: str | None, tests: StringTests) -> Matcher:
    if name is None:
        return _keyword_string_matcher(tests)
    return _field_string_matcher(name, tests)


def _cidr_matcher(name: str, network: IPv4Network | IPv6Network) -> Matcher:
    def match(ev: Event) -> bool:
        value = ev.get(name)
        if not isinstance(value, str):
            return False
        try:
            return ipaddress.ip_address(value.strip()) in network
        except ValueError:
            return False

    return match


def _fieldref_matcher(name: str, ref: SigmaFieldReference) -> Matcher:
    other, starts, ends = ref.field, ref.starts_with, ref.ends_with

    def match(ev: Event) -> bool:
        left, right = ev.get(name), ev.get(other)
        if left is None or right is None:
            return False
        if isinstance(left, str) and isinstance(right, str):
            text, part = left.lower(), right.lower()
            if starts and ends:
                return part in text
            if starts:
                return text.endswith(part)
            if ends:
                return text.startswith(part)
            return text == part
        if starts or ends:
            return False
        if isinstance(left, bool) or isinstance(right, bool):
            return left is right
        if isinstance(left, int | float) and isinstance(right, int | float):
            return left == right
        return False

    return match


# --- boolean structure -----------------------------------------------------------------


def _and(matchers: list[Matcher]) -> Matcher:
    matchers = [m for m in matchers if m is not _true]
    if any(m is _false for m in matchers):
        return _false
    if not matchers:
        return _true
    if len(matchers) == 1:
        return matchers[0]
    if len(matchers) == 2:
        a, b = matchers
        return lambda ev: a(ev) and b(ev)
    if len(matchers) == 3:
        a, b, c = matchers
        return lambda ev: a(ev) and b(ev) and c(ev)
    chain = tuple(matchers)

    def match_all(ev: Event) -> bool:
        for m in chain:  # noqa: SIM110 - a plain loop is faster than all() over a generator
            if not m(ev):
                return False
        return True

    return match_all


def _or(matchers: list[Matcher]) -> Matcher:
    matchers = [m for m in matchers if m is not _false]
    if any(m is _true for m in matchers):
        return _true
    if not matchers:
        return _false
    if len(matchers) == 1:
        return matchers[0]
    if len(matchers) == 2:
        a, b = matchers
        return lambda ev: a(ev) or b(ev)
    chain = tuple(matchers)

    def match_any(ev: Event) -> bool:
        for m in chain:  # noqa: SIM110 - a plain loop is faster than any() over a generator
            if m(ev):
                return True
        return False

    return match_any


def _not(matcher: Matcher) -> Matcher:
    if matcher is _true:
        return _false
    if matcher is _false:
        return _true
    return lambda ev: not matcher(ev)


def compile_condition(node: Any, lists: Mapping[str, list[str]]) -> Matcher:
    """Compile a postprocessed pySigma condition tree (or None, meaning 'nothing') to a closure."""
    if node is None:
        return _false
    if isinstance(node, Decided):
        return _true if node.holds else _false
    if isinstance(node, ConditionAND):
        return _and([compile_condition(arg, lists) for arg in node.args])
    if isinstance(node, ConditionNOT):
        return _not(compile_condition(node.args[0], lists))
    if isinstance(node, ConditionOR):
        return _compile_or(node.args, lists)
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _leaf_any(node.field, node.value, lists)
    if isinstance(node, ConditionValueExpression):
        return _leaf_any(None, node.value, lists)
    raise CompileError(f"condition element {type(node).__name__} is not supported")


def _compile_or(args: list[Any], lists: Mapping[str, list[str]]) -> Matcher:
    """OR, with every string test on the same field (and case mode) merged into one closure."""
    merged: dict[tuple[str | None, bool], StringTests] = {}
    regexes: dict[str | None, list[str]] = {}
    others: list[Matcher] = []
    order: list[tuple[str, Any]] = []
    for arg in args:
        if isinstance(arg, ConditionFieldEqualsValueExpression | ConditionValueExpression):
            name = arg.field if isinstance(arg, ConditionFieldEqualsValueExpression) else None
            if isinstance(arg.value, SigmaRegularExpression):
                if name not in regexes:
                    regexes[name] = []
                    order.append(("regexes", name))
                regexes[name].append(_regex_pattern(name, arg.value, lists))
                continue
            if isinstance(arg.value, SigmaString):
                key = (name, isinstance(arg.value, SigmaCasedString))
                if key not in merged:
                    merged[key] = StringTests(cased=key[1])
                    order.append(("strings", key))
                merged[key].add(arg.value, lists, name)
                continue
        others.append(compile_condition(arg, lists))
        order.append(("other", len(others) - 1))
    matchers = [
        _strings(what[0], merged[what])
        if kind == "strings"
        else _regex_matcher(what, regexes[what])
        if kind == "regexes"
        else others[what]
        for kind, what in order
    ]
    return _or(matchers)


# --- facts used by the rule set --------------------------------------------------------------


def referenced_fields(node: Any) -> list[str]:
    """Field names a condition tree reads, in order of first appearance."""
    seen: dict[str, None] = {}

    def walk(n: Any) -> None:
        if isinstance(n, ConditionAND | ConditionOR | ConditionNOT):
            for arg in n.args:
                walk(arg)
        elif isinstance(n, ConditionFieldEqualsValueExpression):
            seen.setdefault(n.field, None)
            if isinstance(n.value, SigmaFieldReference):
                seen.setdefault(n.value.field, None)

    walk(node)
    return list(seen)


def _plain_value(node: Any, field: str) -> str | None:
    """The lower-cased text of a `field: text` test with no wildcard, list or `cased`, if it is one.

    Such a test holds exactly when the field's text, lower-cased, equals that value (a
    string field or, as for every string test, a number's text; see `_field_string_matcher`).
    """
    if not (isinstance(node, ConditionFieldEqualsValueExpression) and node.field == field):
        return None
    value = node.value
    if not isinstance(value, SigmaString) or isinstance(value, SigmaCasedString):
        return None
    parts = value.s
    if not parts:
        return ""
    if len(parts) == 1 and isinstance(parts[0], str):
        return parts[0].lower()
    return None


def required_values(node: Any, name: str) -> frozenset[str] | None:
    """Lower-cased values `name` must equal for the condition to hold, if the tree says so.

    Used to dispatch rules by span name: a rule whose condition is `name: shell.run and ...`
    is only tried on `shell.run` events. None (try the rule on every event) whenever the tree
    does not plainly say so: `not`, wildcards, `contains`, `cased`, `re`, or an OR in which
    some branch does not test `name`.
    """

    def exact_values(n: Any) -> set[str] | None:
        if isinstance(n, ConditionFieldEqualsValueExpression):
            value = _plain_value(n, name)
            return None if value is None else {value}
        if isinstance(n, ConditionOR):
            out: set[str] = set()
            for arg in n.args:
                got = exact_values(arg)
                if got is None:
                    return None
                out |= got
            return out
        if isinstance(n, ConditionAND):
            for arg in n.args:
                got = exact_values(arg)
                if got is not None:
                    return got
        return None

    found = exact_values(node)
    return frozenset(found) if found is not None else None


def plain_values(node: Any, name: str) -> set[str]:
    """Every value a plain `name: value` test in the tree compares with (see `_plain_value`)."""
    if isinstance(node, ConditionAND | ConditionOR | ConditionNOT):
        return {v for arg in node.args for v in plain_values(arg, name)}
    value = _plain_value(node, name)
    return set() if value is None else {value}


@dataclass(frozen=True)
class Decided:
    """A part of a condition whose outcome is already known for every event it will see."""

    holds: bool


def specialise(node: Any, name: str, value: str | None) -> Any:
    """The condition for the events the name index files under `value` (None: under none).

    A plain `name: w` test (see `_plain_value`) holds when the `name` text, as it is or
    lower-cased, is w. The index looks an event up by its `name` text as it is, then
    lower-cased, among keys that include every plain value of every rule; so an event filed
    under `value` passes the test exactly when w == value (lower-casing a lower-cased text
    changes nothing), and one filed under no key fails them all. Those tests become
    `Decided`; the tree is then simplified (decided parts folded away, nested ANDs and ORs
    flattened) so that tests left side by side on one field merge into one closure: the shell
    rules' `shell and 1 of force_* or shell and plus_refspec` becomes one RE2 search. Every
    other test stays as it is.
    """
    if node is None:
        return Decided(False)
    if isinstance(node, ConditionAND | ConditionOR):
        is_and = isinstance(node, ConditionAND)
        args: list[Any] = []
        for arg in node.args:
            got = specialise(arg, name, value)
            if isinstance(got, Decided):
                if got.holds is is_and:
                    continue  # true in an AND, false in an OR: no say in the outcome
                return got  # false in an AND, true in an OR: the outcome
            if type(got) is type(node):
                args.extend(got.args)
            else:
                args.append(got)
        if not args:
            return Decided(is_and)
        if len(args) == 1:
            return args[0]
        return ConditionAND(args) if is_and else ConditionOR(args)
    if isinstance(node, ConditionNOT):
        got = specialise(node.args[0], name, value)
        return Decided(not got.holds) if isinstance(got, Decided) else ConditionNOT([got])
    plain = _plain_value(node, name)
    return node if plain is None else Decided(plain == value)
