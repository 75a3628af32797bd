"""Many generated detection rules over a vocabulary of field values, for rule-set scale.

The shapes are those real packs use: a span name (one, a list, a prefix, or none at all) with
an equality, a list of values, a substring, a prefix wildcard, an RE2 pattern, an exclusion
(`and not`), or an OR of ANDs over one field; values are respelled in upper or title case now
and then, as authors write them. Rules are Sigma documents (dicts) ready for YAML.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

SHAPES = ("eq", "list", "contains", "prefix", "re", "not", "or_of_ands", "number")


def vocabulary_of(
    events: Sequence[Mapping[str, Any]], fields: Sequence[str], per_field: int = 40
) -> dict[str, list[str]]:
    """Up to `per_field` distinct texts of each field as the events carry them."""
    out: dict[str, dict[str, None]] = {f: {} for f in fields}
    for event in events:
        for f in fields:
            value = event.get(f)
            if isinstance(value, str | int) and not isinstance(value, bool):
                seen = out[f]
                if len(seen) < per_field:
                    seen.setdefault(str(value), None)
    return {f: list(values) for f, values in out.items() if values}


def rule_variants(
    n: int,
    vocabulary: Mapping[str, Sequence[str]],
    names: Sequence[str],
    seed: int,
    unseen: float = 0.9,
) -> list[dict[str, Any]]:
    """`n` detection rules named `generated-0000`...; the same seed gives the same rules.

    A share `unseen` of the values are ones the vocabulary does not hold, so that most rules,
    as in real packs, match rarely.
    """
    rnd = random.Random(seed)
    fields = sorted(vocabulary)

    def respell(text: str) -> str:
        roll = rnd.random()
        return text.upper() if roll < 0.1 else text.title() if roll < 0.2 else text

    def value(field: str) -> str:
        """A value the events carry, now and then; mostly one they do not (rules look for the
        rare: another team, a host not yet seen, a command nobody ran)."""
        text = str(rnd.choice(vocabulary[field]))
        if rnd.random() < unseen:
            text = f"{text}-{rnd.randrange(1000)}"
        return respell(text)

    docs = []
    for i in range(n):
        sel: dict[str, Any] = {}
        roll = rnd.random()
        if roll < 0.55:
            sel["name"] = respell(rnd.choice(names))
        elif roll < 0.7:
            sel["name"] = rnd.sample(list(names), min(2, len(names)))
        elif roll < 0.8:
            sel["name|startswith"] = respell(rnd.choice(names)[:4])
        f, g = rnd.sample(fields, 2)
        shape = rnd.choice(SHAPES)
        detection: dict[str, Any] = {}
        condition = "sel"
        if shape == "eq":
            sel[f] = value(f)
        elif shape == "list":
            sel[f] = [value(f) for _ in range(rnd.randint(2, 5))]
            sel[g] = value(g)
        elif shape == "contains":
            sel[f + "|contains"] = value(f)
        elif shape == "prefix":
            sel[f] = value(f) + "*"
        elif shape == "re":
            sel[f + "|re"] = "^" + re.escape(value(f)) + rnd.choice(["", ".*", "$"])
        elif shape == "not":
            sel[f] = value(f)
            detection["filter"] = {g: [value(g), value(g)]}
            condition = "sel and not filter"
        elif shape == "or_of_ands":
            detection["a"] = {f: value(f), g + "|contains": value(g)}
            detection["b"] = {f: [value(f), value(f)], g + "|startswith": value(g)}
            condition = "sel and (a or b)" if sel else "a or b"
        else:
            sel["exit_code|gt" if rnd.random() < 0.5 else "tokens_in|gte"] = rnd.randint(0, 9000)
            sel[f] = value(f)
        if g != f and g not in sel and ("name" not in sel or rnd.random() < 0.5):
            sel[g] = value(g)  # a second test narrows the first (always, with no name test)
        if sel:
            detection["sel"] = sel
        detection["condition"] = condition
        docs.append(
            {
                "title": f"Generated rule {i} ({shape})",
                "name": f"generated-{i:04d}",
                "level": rnd.choice(["low", "medium", "high"]),
                "logsource": {"product": "claude_code"},
                "detection": detection,
            }
        )
    return docs
