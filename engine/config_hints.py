"""What to do about a configuration error: a did-you-mean for unknown keys, the form of addresses.

pydantic says "Extra inputs are not permitted" and quotes a regular expression; a user wants
the key they meant and an example of the value expected. The hints come from the models
themselves (their field names and patterns), so they follow the models as they change.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

Loc = int | str
"""One step of a pydantic error's location: a field's name or alias, an index, a union's tag."""
ADDRESS_EXAMPLE = "HOST:PORT, for example 0.0.0.0:4318, 127.0.0.1:8080 or [::]:4317"


def explain(model: type[BaseModel], error: ErrorDetails) -> str:
    """pydantic's message for `error`, rewritten or completed with a hint where one helps."""
    loc = [p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
    if error["type"] == "extra_forbidden" and loc:
        return unknown_key(str(loc[-1]), known_keys(model, loc[:-1]))
    field = field_at(model, loc)
    if field is not None and _is_address(field):
        return f"{_shown(error.get('input'))} is not an address: use {ADDRESS_EXAMPLE}"
    return str(error["msg"])


def unknown_key(key: str, known: Sequence[str]) -> str:
    """`unknown key 'apii' (did you mean 'api'?)`, or the keys allowed when none is close."""
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6) or _one_edit_away(key, known)
    if close:
        return f"unknown key {key!r} (did you mean {close[0]!r}?)"
    if known:
        return f"unknown key {key!r} (known keys: {', '.join(sorted(known))})"
    return f"unknown key {key!r}"


def _one_edit_away(key: str, known: Sequence[str]) -> list[str]:
    """Keys one typing slip from `key` (a letter dropped, added, changed or two swapped), which
    difflib's ratio misses on short words (`kfaka` for `kafka`)."""
    return [k for k in sorted(known) if _slips(key, k) <= 1][:1]


def _slips(a: str, b: str) -> int:
    """Optimal string alignment distance: edits with adjacent transpositions counted as one."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], prev2[j - 2] + 1)
        prev2, prev = prev, row
    return prev[-1]


def known_keys(model: type[BaseModel], loc: Sequence[Loc]) -> list[str]:
    """The keys the models at `loc` accept (every member's, when a union is ambiguous)."""
    keys: set[str] = set()
    for tp, _field in _walk(model, loc):
        for cls in _members(tp):
            if isinstance(cls, type) and issubclass(cls, BaseModel):
                keys.update(f.alias or name for name, f in cls.model_fields.items())
    return sorted(keys)


def field_at(model: type[BaseModel], loc: Sequence[Loc]) -> FieldInfo | None:
    """The model field the error's location ends in, if it ends in one."""
    found = [field for _tp, field in _walk(model, loc) if field is not None]
    return found[0] if found else None


def _walk(model: type[BaseModel], loc: Sequence[Loc]) -> list[tuple[Any, FieldInfo | None]]:
    """Follow `loc` through annotations; pydantic's union tags in `loc` pick union members."""
    current: list[tuple[Any, FieldInfo | None]] = [(model, None)]
    for part in loc:
        following: list[tuple[Any, FieldInfo | None]] = []
        for tp, _field in current:
            following.extend(_step(tp, part))
        if not following:  # a tag of a union: stay on the members it names
            following = [(m, None) for tp, _ in current for m in _members(tp) if _tagged(m, part)]
        if not following:
            return []
        current = following
    return current


def _step(tp: Any, part: Loc) -> list[tuple[Any, FieldInfo | None]]:
    out: list[tuple[Any, FieldInfo | None]] = []
    for member in _members(tp):
        origin = get_origin(member)
        if isinstance(member, type) and issubclass(member, BaseModel) and isinstance(part, str):
            for name, field in member.model_fields.items():
                if part in (name, field.alias):
                    out.append((field.annotation, field))
        elif origin in (list, tuple, set, frozenset) and isinstance(part, int):
            out.extend((arg, None) for arg in get_args(member)[:1])
        elif origin is dict and get_args(member):
            out.append((get_args(member)[1], None))
    return out


def _members(tp: Any) -> list[Any]:
    """The alternatives of a type: Annotated and Optional unwrapped, unions spread out."""
    if get_origin(tp) is Annotated:
        return _members(get_args(tp)[0])
    if get_origin(tp) in (Union, types.UnionType):
        return [m for arg in get_args(tp) for m in _members(arg) if m is not type(None)]
    return [tp]


def _tagged(member: Any, tag: Loc) -> bool:
    """Whether a union member is the one pydantic names `tag` (a Literal value or its class)."""
    if not (isinstance(member, type) and issubclass(member, BaseModel)):
        return False
    if member.__name__ == tag:
        return True
    for field in member.model_fields.values():
        if get_origin(field.annotation) is Literal and tag in get_args(field.annotation):
            return True
    return False


def _is_address(field: FieldInfo) -> bool:
    patterns = [getattr(m, "pattern", None) for m in field.metadata]
    return any(isinstance(p, str) and p.endswith(r":\d{1,5}$") for p in patterns)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
