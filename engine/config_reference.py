"""The configuration reference, written from the pydantic models themselves.

`docs/configuration.md` is `render()`'s output, written by `scripts/config_reference.py`; a test
renders it again and fails when the committed file differs, so the reference cannot drift from
the types, defaults and descriptions the engine actually validates against.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Iterator
from typing import Annotated, Any, Literal, Union

import annotated_types
from pydantic import BaseModel, BeforeValidator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from detectors.config import PARAMS, DetectorsConfig, DetectorSpec, default_detectors, params_model
from engine.config import SpanwatchConfig
from engine.incidents.durations import format_duration
from notifiers.timefmt import iso

OUTPUT = "docs/configuration.md"
REGENERATE = ".venv/bin/python scripts/config_reference.py"
LONG_DEFAULT = 90

# What a before-validator accepts, by the validator's name: these types are read from text.
_READ_AS = {
    "parse_duration": "duration",
    "parse_time": "time",
    "parse_matcher": "matcher",
    "_receiver_list": "name or list of names",
    "_noise_budget": "integer or `off`",
    "_detector_list": "list of detectors (below)",
    "_clock_minutes": "time of day (`HH:MM`)",
    "_weekday_range": "weekday or range (`monday:friday`)",
    "_day_range": "day of month or range (`1:7`; `-1` is the last)",
    "_month_range": "month or range (`january:march`, `1:3`)",
    "_year_range": "year or range (`2026:2027`)",
}
# Sections whose title says more than the path where the model first appears.
_TITLES = {
    "EnvSecretRef": "secret reference `{env: …}`",
    "AwsSecretRef": "secret reference `{aws_secret: …}`",
}
_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}

HEADER = f"""# Configuration reference

<!-- Generated from the configuration's pydantic models by `{REGENERATE}`.
     Do not edit by hand: a test fails when this file and the models disagree. -->

One YAML file, named by `--config` or `$SPANWATCH_CONFIG`; every section and every key is
optional, and without a file the engine runs on the defaults below.
[`examples/spanwatch.yml`](../examples/spanwatch.yml) shows every section in use. An unknown
key is an error that names the file, the line and the key you probably meant.

Types:

- **duration**: seconds as a number, or text such as `30s`, `5m`, `1h30m`, `2d`, `1w`
  (units `ms s m h d w`, largest first).
- **time**: RFC 3339 (`2026-11-28T09:00:00Z`; without an offset, UTC) or seconds since the
  epoch.
- **matcher**: an Alertmanager label matcher, `label="value"`, `label!="value"`,
  `label=~"regex"` or `label!~"regex"` (regular expressions are RE2, anchored).
- **secret reference**: `{{env: VARIABLE}}` or `{{aws_secret: ARN-or-name, key: FIELD}}`;
  secrets are never written in the file.

Defaults of durations are shown in the same notation; a mapping's default is the defaults of
its keys, in its own section below.
"""


def render() -> str:
    """The whole reference as Markdown."""
    parts = [HEADER]
    parts.extend(_sections(SpanwatchConfig, "", "Top level", 2, set()))
    parts.append(_detector_params())
    return "\n".join(parts).rstrip() + "\n"


def _sections(
    model: type[BaseModel], path: str, title: str, level: int, seen: set[type[BaseModel]]
) -> Iterator[str]:
    """One heading and table for `model`, then one section per nested model, depth first;
    a model met again (routes within routes) is described only where it first appears."""
    seen.add(model)
    heading = "#" * min(level, 4)
    lines = [f"{heading} {title}", ""]
    summary = _summary(model)
    if summary:
        lines += [summary, ""]
    lines += ["| key | type | default | description |", "| --- | --- | --- | --- |"]
    nested: list[tuple[type[BaseModel], str, str]] = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        where = f"{path}.{key}" if path else key
        lines.append(
            "| "
            + " | ".join(
                _cell(text)
                for text in (
                    f"`{key}`",
                    _field_type(field),
                    _default(field, where),
                    field.description or "",
                )
            )
            + " |"
        )
        nested.extend(_nested_models(field.annotation, where))
    yield "\n".join(lines) + "\n"
    for sub, sub_path, sub_title in nested:
        if sub is DetectorsConfig:  # `detectors:` is the list itself
            sub, sub_path, sub_title = DetectorSpec, "detectors[]", "`detectors[]`"
        sub_title = _TITLES.get(sub.__name__, sub_title)
        if sub not in seen:
            yield from _sections(sub, sub_path, sub_title, level + 1, seen)


def _summary(model: type[BaseModel]) -> str:
    """The first paragraph of the model's docstring, on one line."""
    doc = model.__doc__ or ""
    if not doc or doc.startswith(f"{model.__name__}("):  # pydantic's generated signature
        return ""
    paragraph = doc.strip().split("\n\n")[0]
    return " ".join(line.strip() for line in paragraph.splitlines())


def _nested_models(annotation: Any, path: str) -> Iterator[tuple[type[BaseModel], str, str]]:
    """The models a field holds: itself, its list items, its map values, union members."""
    annotation = _strip(annotation)
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation, path, f"`{path}`"
    elif origin is list:
        for sub, sub_path, _ in _nested_models(typing.get_args(annotation)[0], f"{path}[]"):
            yield sub, sub_path, _list_title(sub, sub_path)
    elif origin is dict:
        yield from _nested_models(typing.get_args(annotation)[1], f"{path}.<name>")
    elif origin in (Union, types.UnionType):
        for arg in typing.get_args(annotation):
            yield from _nested_models(arg, path)


def _list_title(model: type[BaseModel], path: str) -> str:
    kind = model.model_fields.get("type")
    if kind is not None and typing.get_origin(kind.annotation) is Literal:
        return f"`{path}` with `type: {typing.get_args(kind.annotation)[0]}`"
    return f"`{path}`"


def _strip(annotation: Any) -> Any:
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _field_type(field: FieldInfo) -> str:
    return _type_text(field.annotation, field.metadata)


def _type_text(annotation: Any, metadata: list[Any] = ()) -> str:  # type: ignore[assignment]
    """A reader's name for a type: `list of string`, `one of a, b`, `number (≥ 0)`."""
    if typing.get_origin(annotation) is Annotated:
        inner, *extra = typing.get_args(annotation)
        return _type_text(inner, [*extra, *metadata])
    for item in metadata:
        if isinstance(item, BeforeValidator):
            name = getattr(item.func, "__name__", "")
            if name in _READ_AS:
                return _with_bounds(_READ_AS[name], metadata)
            if name == "_no_literal_secret":
                return "secret reference"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Literal:
        text = "one of " + ", ".join(f"`{a}`" for a in args)
    elif origin is list:
        text = f"list of {_type_text(args[0])}"
    elif origin is dict:
        text = f"mapping of {_type_text(args[0])} to {_type_text(args[1])}"
    elif origin in (Union, types.UnionType):
        names = [_type_text(a) for a in args]
        if {"string", "integer", "number", "boolean"} <= set(names):
            names = ["scalar", *(n for n in names if n not in _SCALARS.values())]
        text = " or ".join(dict.fromkeys(names))
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        text = "mapping"
    elif annotation in _SCALARS:
        text = _SCALARS[annotation]
    elif annotation is Any:
        text = "any"
    else:
        text = getattr(annotation, "__name__", str(annotation))
    return _with_bounds(text, metadata)


def _with_bounds(text: str, metadata: list[Any]) -> str:
    bounds = []
    for item in metadata:
        for attribute, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            value = getattr(item, attribute, None)
            if isinstance(item, annotated_types.BaseMetadata) and value is not None:
                bounds.append(f"{sign} {_number(value)}")
        if isinstance(item, annotated_types.MinLen) and item.min_length > 0:
            bounds.append(f"at least {item.min_length}")
    return f"{text} ({', '.join(bounds)})" if bounds else text


def _default(field: FieldInfo, path: str) -> str:
    if path == "detectors":
        count = len(default_detectors())
        return f"the {count} detectors of [`detectors/defaults.yml`](../detectors/defaults.yml)"
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "see below"
    kind = _type_text(field.annotation, field.metadata)
    if isinstance(value, float | int) and not isinstance(value, bool):
        if kind.startswith("duration"):
            return f"`{format_duration(value)}`"
        if kind.startswith("time"):
            return f"`{iso(value)}`"
    if isinstance(value, int) and not isinstance(value, bool) and _number(value) != str(value):
        return f"`{value}` ({_number(value)})"
    plain = _plain(value)
    text = json.dumps(plain, ensure_ascii=False)
    if len(text) > LONG_DEFAULT and isinstance(value, list):
        names = [getattr(item, "name", None) for item in value]
        if all(names):
            return f"{len(value)} entries: " + ", ".join(f"`{n}`" for n in names)
    return f"`{text}`"


def _plain(value: Any) -> Any:
    """JSON-ready, with whole floats as integers (`10`, not `10.0`)."""
    if isinstance(value, BaseModel):
        return _plain(value.model_dump(mode="json", by_alias=True, exclude_defaults=True))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _number(value: float) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and value >= 1 << 20 and value % (1 << 20) == 0:
        return f"{value >> 20} MiB"
    return str(value)


def _detector_params() -> str:
    """Each detector kind's `params`, from the estimators' own parameter classes."""
    lines = [
        "### `detectors[].params`, by `kind`",
        "",
        "Parameters of each detector's estimator, under its `params`. Unset, `step` is the "
        "detector's `interval`, and `noise` follows the aggregation (`count` and `distinct`: "
        "`poisson`; `sum`: `compound`; `rate` and `ratio`: `binomial`; otherwise `none`) "
        "unless `transform: log`.",
        "",
        "| kind | parameter | type | default |",
        "| --- | --- | --- | --- |",
    ]
    for kind in PARAMS:
        model = params_model(kind)
        for name, field in model.model_fields.items():
            kind_type = _field_type(field)
            default = field.default
            shown = (
                f"`{format_duration(default)}`"
                if kind_type.startswith("duration")
                else (f"`{_plain(default)}`")
            )
            lines.append(f"| `{kind}` | `{name}` | {_cell(kind_type)} | {shown} |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
