"""The type of a decoded event: what JSON can hold, keyed by field name.

Events reach this package already decoded and normalised (flat fields of text, numbers and
booleans; a value of a field nobody aliased may still be a list or an object), so a reader
narrows a field's value by its type before it uses it rather than trusting `Any`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeAlias

JSONValue: TypeAlias = "str | int | float | bool | list[JSONValue] | dict[str, JSONValue] | None"
Event: TypeAlias = Mapping[str, JSONValue]
