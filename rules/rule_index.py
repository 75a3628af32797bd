"""Which detection rules an event can meet: rules filed by span name, then by one test each.

With a thousand rules, trying every rule on every event costs far more than the few that
match. Each rule is filed first under the span names its condition requires (`name`), then,
within each name, under one *access key*: a test on one field that must hold for the rule to
match (the field's text equals, starts with, ends with or contains a value, or the field is
present). A rule whose AND needs tests on two fields' text (an equality and a substring, a
team and a pattern) is filed under both and met only where both hold. An event looks up each
indexed field once and meets only the rules whose keys hold.

A key never decides a match: it only says where a match is impossible, using the very
comparisons the compiled matchers make (`rules/semantics.py`), so the index changes which
rules are tried, never what matches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as default
from typing import Any, Generic, Protocol, TypeVar

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
)
from sigma.types import (
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
)

from rules.json_value import Event

from .compiler import CompileError, Decided, Matcher, compile_condition, plain_values, specialise
from .semantics import as_text

DISPATCH_FIELD = "name"
NAME_CACHE_LIMIT = 4096  # index entries, beyond the rules' own names, remembered per index

# Kinds of access key, from the most to the least selective for the same estimate.
EQUALS, PREFIX, SUFFIX, CONTAINS, PRESENT = "equals", "prefix", "suffix", "contains", "present"
_KIND_ORDER = {EQUALS: 0, PREFIX: 1, SUFFIX: 2, CONTAINS: 3, PRESENT: 4}
# Estimated share of events a key lets through: a present field lets most through; a prefix,
# suffix or substring fewer the longer it is; an equality as the rule set says.
_PRESENT_SHARE = 0.9
_PARTIAL_SHARE = {PREFIX: 0.6, SUFFIX: 0.6, CONTAINS: 0.8}  # divided by the text's length
_SHARE_FLOOR = 0.02
_EQUALS_CAP = 0.5


@dataclass(frozen=True, order=True)
class Key:
    """A test on one field that an event must pass for a rule to be able to match.

    `text` is lower-cased: the event's text (`semantics.as_text`), lower-cased, is compared
    with it, as the compiled string matchers compare it. `present` needs any non-null value.
    """

    field: str
    kind: str
    text: str = ""

    def holds(self, value: Any) -> bool:
        """Whether an event whose field has `value` passes the key (reference, not hot path)."""
        if value is None:
            return False
        if self.kind == PRESENT:
            return True
        text = as_text(value)
        if text is None:
            return False
        low = text.lower()
        if self.kind == EQUALS:
            return low == self.text
        if self.kind == PREFIX:
            return low.startswith(self.text)
        if self.kind == SUFFIX:
            return low.endswith(self.text)
        return self.text in low


Keys = frozenset[Key]
ALWAYS: None = None  # no key: the rule must be tried on every event of its name


def access_keys(node: Any, lists: Mapping[str, list[str]]) -> Keys | None:
    """Keys one of which holds on every event the condition holds on; None: no such keys.

    An empty set means the condition holds on no event. An AND needs what any one of its
    parts needs, an OR one key of each branch, a NOT nothing.
    """
    return _keys(node, lists, {})


def choose_keys(
    node: Any, lists: Mapping[str, list[str]], weights: Mapping[tuple[str, str], float]
) -> Keys | None:
    """`access_keys`, choosing within each AND the part that lets the fewest events through.

    `weights` estimates the share of events an equality key lets through (`equality_weights`).
    """
    return _keys(node, lists, weights)


Clauses = tuple[Keys, ...]


def choose_clauses(
    node: Any, lists: Mapping[str, list[str]], weights: Mapping[tuple[str, str], float]
) -> Clauses | None:
    """Up to two key sets the condition needs, each from its own part of an AND.

    A rule that needs an equality and a substring or pattern holds only where both hold: the
    index files it under the part that lets the fewest events through (`choose_keys`'s choice)
    and, when another part tests text too (not mere presence), under that part as well, and
    tries it only on events that pass one key of each. An OR of such ANDs needs one key of its
    branches' first sets and one of their second sets. None: no key at all;
    `(frozenset(),)`: the condition holds on no event.
    """
    clauses = _clauses(node, lists, weights)
    if clauses is None:
        return ALWAYS
    if len(clauses) > 1 and not (_text_only(clauses[0]) and _text_only(clauses[1])):
        return clauses[:1]
    return clauses


def _clauses(
    node: Any, lists: Mapping[str, list[str]], weights: Mapping[tuple[str, str], float]
) -> Clauses | None:
    """Key sets the condition needs each of, the most selective first (at most two)."""
    if isinstance(node, ConditionAND):
        needed: list[Keys] = []
        for arg in node.args:
            needed.extend(_clauses(arg, lists, weights) or ())
        return _best_two(needed, weights)
    if isinstance(node, ConditionOR):
        branches: list[Clauses] = []
        for arg in node.args:
            got = _clauses(arg, lists, weights)
            if got is None:
                return ALWAYS
            if got != (frozenset(),):  # a branch that never holds adds nothing
                branches.append(got)
        if not branches:
            return (frozenset(),)
        first = frozenset().union(*(b[0] for b in branches))
        if all(len(b) > 1 for b in branches):
            return _best_two([first, frozenset().union(*(b[1] for b in branches))], weights)
        return (first,)
    keys = _keys(node, lists, weights)
    return ALWAYS if keys is None else (keys,)


def _best_two(needed: list[Keys], weights: Mapping[tuple[str, str], float]) -> Clauses | None:
    """The key set that lets the fewest events through, then the best other one on text."""
    if not needed:
        return ALWAYS
    ranked = sorted(needed, key=lambda keys: _rank(keys, weights))
    first = ranked[0]
    if not first:
        return (first,)
    second = next((k for k in ranked[1:] if _text_only(k) and k != first), None)
    return (first,) if second is None else (first, second)


def _text_only(keys: Keys) -> bool:
    """Keys that each test a field's text (no mere presence): decided by the keyed lookups."""
    return all(key.kind != PRESENT for key in keys)


def equality_weights(trees: Sequence[Any]) -> dict[tuple[str, str], float]:
    """Estimated share of events whose field equals a value, from the rule set itself.

    A value many rules compare a field with is probably a common one (`status: ok`, the
    current client version); one value among many a field is compared with, a rare one.
    """
    counts: dict[tuple[str, str], int] = {}
    totals: dict[str, int] = {}
    for tree in trees:
        for fld, value in _plain_tests(tree):
            counts[(fld, value)] = counts.get((fld, value), 0) + 1
            totals[fld] = totals.get(fld, 0) + 1
    return {
        (fld, value): min(_EQUALS_CAP, count / (totals[fld] + 1))
        for (fld, value), count in counts.items()
    }


def _plain_tests(node: Any) -> list[tuple[str, str]]:
    if isinstance(node, ConditionAND | ConditionOR | ConditionNOT):
        return [t for arg in node.args for t in _plain_tests(arg)]
    if isinstance(node, ConditionFieldEqualsValueExpression) and node.field is not None:
        return [(node.field, value) for value in plain_values(node, node.field)]
    return []


def _share(keys: Keys | None, weights: Mapping[tuple[str, str], float]) -> float:
    if keys is None:
        return 1.0
    total = 0.0
    for key in keys:
        if key.kind == EQUALS:
            total += weights.get((key.field, key.text), _EQUALS_CAP)
        elif key.kind == PRESENT:
            total += _PRESENT_SHARE
        else:
            total += max(_SHARE_FLOOR, min(_EQUALS_CAP, _PARTIAL_SHARE[key.kind] / len(key.text)))
    return min(total, 1.0)


def _rank(keys: Keys, weights: Mapping[tuple[str, str], float]) -> tuple[float, int, list[Key]]:
    worst = max((_KIND_ORDER[k.kind] for k in keys), default=0)
    return (_share(keys, weights), worst, sorted(keys))


def _keys(
    node: Any, lists: Mapping[str, list[str]], weights: Mapping[tuple[str, str], float]
) -> Keys | None:
    if node is None:
        return frozenset()
    if isinstance(node, Decided):
        return ALWAYS if node.holds else frozenset()
    if isinstance(node, ConditionNOT):
        return ALWAYS
    if isinstance(node, ConditionOR):
        union: set[Key] = set()
        for arg in node.args:
            got = _keys(arg, lists, weights)
            if got is None:
                return ALWAYS
            union |= got
        return frozenset(union)
    if isinstance(node, ConditionAND):
        options = [_keys(arg, lists, weights) for arg in node.args]
        known = [o for o in options if o is not None]
        if not known:
            return ALWAYS
        return min(known, key=lambda keys: _rank(keys, weights))
    if isinstance(node, ConditionFieldEqualsValueExpression) and node.field is not None:
        return _value_keys(node.field, node.value, lists)
    return ALWAYS  # keywords: any field may hold the value


def _value_keys(name: str, value: Any, lists: Mapping[str, list[str]]) -> Keys | None:
    if isinstance(value, SigmaExpansion):
        union: set[Key] = set()
        for each in value.values:
            got = _value_keys(name, each, lists)
            if got is None:
                return ALWAYS
            union |= got
        return frozenset(union)
    if isinstance(value, SigmaString) and not isinstance(value, SigmaCasedString):
        return _string_keys(name, value, lists)
    if isinstance(value, SigmaRegularExpression):
        prefix = regex_prefix(value)
        return frozenset({Key(name, PREFIX, prefix.lower()) if prefix else Key(name, PRESENT)})
    if isinstance(value, SigmaExists):
        return frozenset({Key(name, PRESENT)}) if value.exists else ALWAYS
    if isinstance(
        value,
        SigmaString  # `cased`: exact text, filed by presence
        | SigmaNumber
        | SigmaCompareExpression
        | SigmaBool
        | SigmaCIDRExpression
        | SigmaTimestampPart
        | SigmaFieldReference,
    ):
        return frozenset({Key(name, PRESENT)})  # each of these fails on a missing field
    return ALWAYS  # `null` and anything new


_REGEX_SPECIAL = frozenset("\\.^$|?*+()[]{}")
_QUANTIFIERS = frozenset("?*+{")
_REGEX_TEXT = {SpecialChars.WILDCARD_MULTI: "*", SpecialChars.WILDCARD_SINGLE: "?"}


def regex_prefix(value: SigmaRegularExpression) -> str:
    """ASCII text every match of an anchored, flag-free `re` value starts with ("": unknown).

    Only `^` followed by plain or escaped ASCII characters counts, and only in a pattern with
    no `|`, no flags and no placeholders: there, a text the pattern is searched in must start
    with that literal text, and (ASCII lowering being per character) so must its lower-cased
    form, which is what the key compares.
    """
    texts: list[str] = []
    for part in value.regexp.s:
        if isinstance(part, Placeholder):
            return ""
        texts.append(part if isinstance(part, str) else _REGEX_TEXT[part])
    if value.flags:
        return ""
    pattern = "".join(texts)
    if not pattern.startswith("^") or "|" in pattern or not pattern.isascii():
        return ""
    literal: list[str] = []
    i = 1
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            escaped = pattern[i + 1 : i + 2]
            if not escaped or escaped.isalnum():  # `\\d`, `\\b`, `\\x41`...: no literal
                break
            literal.append(escaped)
            i += 2
            continue
        if char in _REGEX_SPECIAL:
            break
        literal.append(char)
        i += 1
    if i < len(pattern) and pattern[i] in _QUANTIFIERS and literal:
        literal.pop()  # `ab?`: the last character is optional or repeated
    return "".join(literal)


def _string_keys(name: str, value: SigmaString, lists: Mapping[str, list[str]]) -> Keys | None:
    """The key of one case-insensitive Sigma string (`compiler.StringTests.add`'s cases)."""
    parts = value.s
    if any(isinstance(p, Placeholder) for p in parts):
        only = parts[0]
        if len(parts) != 1 or not isinstance(only, Placeholder):
            return frozenset({Key(name, PRESENT)})
        entries = lists.get(only.name)
        if entries is None:
            raise CompileError(f"unknown placeholder %{only.name}%", name)
        union: set[Key] = set()
        for entry in entries:
            got = _string_keys(name, SigmaString(str(entry)), lists)
            if got is None:
                return ALWAYS
            union |= got
        return frozenset(union)
    if not parts:
        return frozenset({Key(name, EQUALS, "")})
    texts = [p.lower() for p in parts if isinstance(p, str)]
    if len(parts) == 1 and texts:
        return frozenset({Key(name, EQUALS, texts[0])})
    first, last = parts[0], parts[-1]
    if isinstance(first, str) and first:
        return frozenset({Key(name, PREFIX, first.lower())})
    if isinstance(last, str) and last:
        return frozenset({Key(name, SUFFIX, last.lower())})
    longest = max(texts, key=len, default="")
    if longest:
        return frozenset({Key(name, CONTAINS, longest)})
    return frozenset({Key(name, PRESENT)})  # wildcards only: any text, but some text


# --- the index --------------------------------------------------------------------------------


class IndexedRule(Protocol):
    """What the index needs of a compiled rule."""

    @property
    def condition_tree(self) -> Any: ...
    @property
    def matcher(self) -> Matcher: ...
    @property
    def dispatch(self) -> frozenset[str] | None: ...


R = TypeVar("R", bound=IndexedRule)
Slots = tuple[int, ...]


@dataclass
class FieldTable:
    """Every key of one entry on one field: rule slots by the test the field's text passes."""

    field: str
    present: list[int] = default(default_factory=list)
    equals: dict[str, list[int]] = default(default_factory=dict)
    prefixes: dict[int, dict[str, list[int]]] = default(default_factory=dict)  # by length
    suffixes: dict[int, dict[str, list[int]]] = default(default_factory=dict)
    infixes: dict[str, list[int]] = default(default_factory=dict)

    def add(self, key: Key, slot: int) -> None:
        if key.kind == PRESENT:
            self.present.append(slot)
        elif key.kind == EQUALS:
            self.equals.setdefault(key.text, []).append(slot)
        elif key.kind == PREFIX:
            self.prefixes.setdefault(len(key.text), {}).setdefault(key.text, []).append(slot)
        elif key.kind == SUFFIX:
            self.suffixes.setdefault(len(key.text), {}).setdefault(key.text, []).append(slot)
        else:
            self.infixes.setdefault(key.text, []).append(slot)

    def lookup(self) -> FieldLookup:
        def frozen(table: dict[str, list[int]]) -> dict[str, Slots]:
            return {text: tuple(slots) for text, slots in table.items()}

        return FieldLookup(
            self.field,
            tuple(self.present),
            frozen(self.equals),
            tuple((size, frozen(t)) for size, t in sorted(self.prefixes.items())),
            tuple((size, frozen(t)) for size, t in sorted(self.suffixes.items())),
            tuple((text, tuple(slots)) for text, slots in sorted(self.infixes.items())),
        )


@dataclass(frozen=True)
class FieldLookup:
    """`FieldTable`, frozen for the hot path."""

    field: str
    present: Slots
    equals: dict[str, Slots]
    prefixes: tuple[tuple[int, dict[str, Slots]], ...]
    suffixes: tuple[tuple[int, dict[str, Slots]], ...]
    infixes: tuple[tuple[str, Slots], ...]

    def slots(self, value: Any) -> Slots:
        """The slots whose key an event passes when this field holds `value` (not None)."""
        found = self.present
        text = value if type(value) is str else as_text(value)
        if text is None:  # bool, list...: no string key holds
            return found
        low = text.lower()
        slots = self.equals.get(low)
        if slots is not None:
            found += slots
        for size, table in self.prefixes:
            slots = table.get(low[:size])
            if slots is not None:
                found += slots
        for size, table in self.suffixes:
            slots = table.get(low[-size:])
            if slots is not None:
                found += slots
        for needle, slots in self.infixes:
            if needle in low:
                found += slots
        return found


MEMO_LIMIT = 1024  # values remembered per field and entry: users, teams, versions repeat
MEMO_TEXT_LIMIT = 200  # longer texts (commands, prompts) are looked up afresh

FieldMemo = tuple[str, FieldLookup, dict[Any, Slots]]  # field, lookup, slots by value
VARIED = 64  # distinct values of one field in a full working set that make it looked up alone


@dataclass(frozen=True)
class IndexEntry(Generic[R]):
    """The rules of one span name: each in a slot, tried always or when its key holds.

    Field values repeat endlessly (a user, a team, a client version), so each field
    remembers the slots of the first `MEMO_LIMIT` values it saw, and the entry remembers the
    slots of the last few hundred combinations of its fields' values (a user's events repeat
    theirs). When that working set fills up, it is forgotten, and the field that varied most
    in it (a command, a prompt: free text) is taken out of the combination and looked up on its
    own from then on, so that the combinations of the others keep repeating.

    A rule filed under two clauses (`choose_clauses`) has its slot under the first clause's keys
    and a gate (a negative number, `seconds[gate]` its slot) under the second's; its slot counts
    only when its gate is passed too.
    """

    tries: tuple[tuple[R, Matcher], ...]  # every rule of the entry, in rule order
    always: Slots = ()
    fields: tuple[FieldMemo, ...] = ()  # field, lookup, memo
    # Fields keyed by presence only (a session id, a prompt): their value is never looked at.
    presence: tuple[tuple[str, Slots], ...] = ()
    seconds: dict[int, int] = default(default_factory=dict)  # gate -> slot
    # Learnt while events pass (see above): the fields remembered together and those alone.
    together: tuple[FieldMemo, ...] = default(init=False)
    names: tuple[str, ...] = default(init=False)  # the names of `together`
    alone: tuple[FieldMemo, ...] = default(init=False)
    alone_names: tuple[str, ...] = default(init=False)
    # The slots of `together` by the tuple of their values, with the values' types when one is
    # not a text (1 and True are equal keys, yet a text test sees "1" in one and nothing in
    # the other). Gates are applied already unless some fields are looked up alone.
    combined: dict[tuple[Any, ...], tuple[tuple[type, ...] | None, Slots]] = default(init=False)
    presence_names: tuple[str, ...] = default(init=False)
    # The rules an event meets, by the slots it found (before the gates of fields looked up
    # alone): a working set's events find the same few slot tuples over and over.
    resolved: dict[Slots, tuple[tuple[R, Matcher], ...]] = default(init=False)

    def __post_init__(self) -> None:
        self._split(self.fields, ())
        object.__setattr__(self, "presence_names", tuple(f for f, _ in self.presence))

    def _split(self, together: tuple[FieldMemo, ...], alone: tuple[FieldMemo, ...]) -> None:
        object.__setattr__(self, "together", together)
        object.__setattr__(self, "names", tuple(f for f, _, _ in together))
        object.__setattr__(self, "alone", alone)
        object.__setattr__(self, "alone_names", tuple(f for f, _, _ in alone))
        object.__setattr__(self, "combined", {})
        object.__setattr__(self, "resolved", {})  # found slots are gated anew once split

    def candidates(self, event: Event) -> Sequence[tuple[R, Matcher]]:
        """The rules (with their matchers) whose key this event passes, in rule order."""
        if not self.fields and not self.presence:
            return self.tries
        if len(self.combined) >= MEMO_LIMIT:  # before any value is read: see `_forget`
            self._forget()
        found = self.always
        get = event.get
        for value, (_, slots) in zip(map(get, self.presence_names), self.presence, strict=True):
            if value is not None:
                found += slots
        # Every remembered field read in one C-level pass: most entries index a score of fields.
        values = tuple(map(get, self.names))
        try:
            remembered = self.combined.get(values)
        except TypeError:  # a list or dict value: no memo
            remembered = None
        if remembered is not None and (
            remembered[0] is None or remembered[0] == tuple(map(type, values))
        ):
            keyed = remembered[1]
        else:
            keyed = self._keyed(values)
        if self.alone:
            for value, field_memo in zip(map(get, self.alone_names), self.alone, strict=True):
                if value is not None:
                    keyed += _field_slots(value, field_memo)
        if keyed:
            found += keyed
        if not found:
            return ()
        rules = self.resolved.get(found)
        return self._resolve(found) if rules is None else rules

    def _resolve(self, found: Slots) -> tuple[tuple[R, Matcher], ...]:
        """The rules of `found`'s slots, in rule order, after the gates of fields looked up
        alone (the combined memo applied the others'); remembered.

        Gating all of `found` is gating its keyed part: rules tried always or filed under a
        mere presence are never filed under two clauses (`choose_clauses`)."""
        slots = self._gated(found) if self.alone and self.seconds else found
        tries = self.tries
        rules = tuple([tries[slot] for slot in sorted(set(slots))])
        if len(self.resolved) >= MEMO_LIMIT:
            self.resolved.clear()
        self.resolved[found] = rules
        return rules

    def _gated(self, found: Slots) -> Slots:
        """The slots found, less those of two-clause rules whose second clause no key passed."""
        seconds = self.seconds
        passed = {seconds[gate] for gate in found if gate < 0}
        return tuple(s for s in found if s >= 0 and (s in passed or -s - 1 not in seconds))

    def _keyed(self, values: tuple[Any, ...]) -> Slots:
        """The slots of the fields remembered together holding `values`, remembered when each
        is None, a short text, an int or a bool (a float's text is not its value's: 0.0 and
        -0.0 are equal keys)."""
        found: Slots = ()
        plain = True  # texts and None only
        remember = True
        for value, field_memo in zip(values, self.together, strict=True):
            if value is None:
                continue
            kind = type(value)
            if kind is not str:
                plain = False
                remember = remember and (kind is int or kind is bool)
            elif len(value) > MEMO_TEXT_LIMIT:
                remember = False
            slots = _field_slots(value, field_memo)
            if slots:
                found += slots
        if self.seconds and not self.alone:
            found = self._gated(found)
        if remember:
            self.combined[values] = (None if plain else tuple(map(type, values)), found)
        return found

    def _forget(self) -> None:
        """A working set beyond the limit: start afresh, without the field that varied most.

        Called before an event's values are read, never between: slots the combined memo
        found before a split have their gates applied, and the field split off adds its slots
        after them, so gating them again would drop a rule whose gate had passed."""
        keys = list(self.combined)
        distinct = [len({key[i] for key in keys}) for i in range(len(self.together))]
        most = max(range(len(distinct)), key=distinct.__getitem__, default=None)
        if most is None or distinct[most] < VARIED:
            self.combined.clear()
            return
        together = self.together[:most] + self.together[most + 1 :]
        self._split(together, (*self.alone, self.together[most]))


def _field_slots(value: Any, field_memo: FieldMemo) -> Slots:
    """The slots one field's keys give `value` (not None), remembered for short texts, ints
    and bools."""
    _, lookup, memo = field_memo
    kind = type(value)
    if kind is str:
        key: Any = value
        if len(value) > MEMO_TEXT_LIMIT:
            return lookup.slots(value)
    elif kind is int or kind is bool:
        key = (kind, value)  # 1 and True are equal keys, but not the same text
    else:
        return lookup.slots(value)
    slots = memo.get(key)
    if slots is None:
        slots = lookup.slots(value)
        if len(memo) < MEMO_LIMIT:
            memo[key] = slots
    return slots


class RuleIndex(Generic[R]):
    """Per span name, the rules an event with that name can match, filed by access key.

    A rule whose condition cannot hold unless `name` equals one of a few plain values
    (`rule.dispatch`, from `compiler.required_values`) is listed under those values only; every
    other rule goes under every name, and under the entry for a name no rule names. An event is
    looked up by its `name` text as it is, then lower-cased, as the string matchers compare it.
    Each entry pairs a rule with its matcher specialised to the entry (`compiler.specialise`:
    there, every plain `name` test is known to hold or to fail) and files it under the access
    key that lets the fewest events through (`choose_keys`), and under a second one its AND
    needs too when there is one (`choose_clauses`); with `by_fields=False` every rule of a name
    is tried on every event of that name.
    """

    def __init__(
        self, rules: Sequence[R], lists: Mapping[str, list[str]], *, by_fields: bool = True
    ) -> None:
        self._lists = lists
        self._by_fields = by_fields
        self._weights = equality_weights([r.condition_tree for r in rules])
        named = [plain_values(r.condition_tree, DISPATCH_FIELD) for r in rules]
        keys = sorted(set().union(*named))
        self._by_name: dict[str, IndexEntry[R]] = {
            key: self._entry_of(
                [
                    self._specialised(r, key) if names else (r, r.condition_tree, r.matcher)
                    for r, names in zip(rules, named, strict=True)
                    if r.dispatch is None or key in r.dispatch
                ]
            )
            for key in keys
        }
        # An event found under no key has a name that no plain `name` test names: all are false.
        self._everywhere = self._entry_of(
            [
                self._specialised(r, None) if names else (r, r.condition_tree, r.matcher)
                for r, names in zip(rules, named, strict=True)
                if r.dispatch is None
            ]
        )

    def candidates(self, event: Event) -> Sequence[tuple[R, Matcher]]:
        """The rules that can match `event`, each with the matcher to try, in rule order."""
        name = event.get(DISPATCH_FIELD)
        entry = self._by_name.get(name) if type(name) is str else None
        if entry is None:
            entry = self._entry_for(name)
        return entry.candidates(event)

    def _entry_for(self, name: Any) -> IndexEntry[R]:
        """The entry for a `name` that is not literally a key: the text a matcher sees."""
        text = as_text(name)
        if text is None:  # missing, bool, list...: no `name` string test can hold
            return self._everywhere
        entry = self._by_name.get(text)
        if entry is None:
            entry = self._by_name.get(text.lower(), self._everywhere)
            if type(name) is str and len(name) <= 200 and len(self._by_name) < NAME_CACHE_LIMIT:
                self._by_name[name] = entry  # remember the lookup: span names repeat endlessly
        return entry

    def _specialised(self, rule: R, name: str | None) -> tuple[R, Any, Matcher]:
        tree = specialise(rule.condition_tree, DISPATCH_FIELD, name)
        try:
            return rule, tree, compile_condition(tree, self._lists)
        except CompileError:  # cannot happen (it compiled whole): the general matcher is right
            return rule, rule.condition_tree, rule.matcher

    def _entry_of(self, rules: list[tuple[R, Any, Matcher]]) -> IndexEntry[R]:
        tries: list[tuple[R, Matcher]] = []
        always: list[int] = []
        tables: dict[str, FieldTable] = {}
        seconds: dict[int, int] = {}
        for rule, tree, matcher in rules:
            clauses = (
                choose_clauses(tree, self._lists, self._weights) if self._by_fields else ALWAYS
            )
            if clauses is not None and not all(clauses):
                continue  # holds on no event of this name
            slot = len(tries)
            tries.append((rule, matcher))
            if clauses is None:
                always.append(slot)
                continue
            ids = [slot]
            if len(clauses) > 1:
                ids.append(-slot - 1)  # the gate of the second clause
                seconds[-slot - 1] = slot
            for key_set, ident in zip(clauses, ids, strict=True):
                for key in sorted(key_set):
                    if key.field not in tables:
                        tables[key.field] = FieldTable(key.field)
                    tables[key.field].add(key, ident)
        if len(always) == len(tries):
            return IndexEntry(tuple(tries))
        lookups: list[FieldMemo] = []
        presence: list[tuple[str, Slots]] = []
        for f in sorted(tables):
            lookup = tables[f].lookup()
            if lookup.equals or lookup.prefixes or lookup.suffixes or lookup.infixes:
                lookups.append((f, lookup, {}))
            else:
                presence.append((f, lookup.present))
        return IndexEntry(tuple(tries), tuple(always), tuple(lookups), tuple(presence), seconds)
