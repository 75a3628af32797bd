"""Argument types and help formatting for the `spanwatch` command line.

Each type turns a bad value into argparse's one-line usage error, never a traceback, and says
what to write instead.
"""

from __future__ import annotations

import argparse
import time
from importlib import metadata
from pathlib import Path

from engine.incidents.durations import parse_duration
from engine.timeutil import iso, parse_time

RULE_SUFFIXES = (".yml", ".yaml")
TIME_EXAMPLE = "2026-11-28T03:04:05Z"


class UsageError(Exception):
    """Arguments that cannot work together; one line, exit status 2."""


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Help that shows every option's default, unless its text already says what it is."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" in text
            or not action.option_strings
            or action.default in (None, False, argparse.SUPPRESS)
        ):
            return text
        return f"{text} (default: %(default)s)"


def version() -> str:
    try:
        return metadata.version("spanwatch")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def event_time(value: str) -> float:
    """An absolute time: RFC 3339 (naive means UTC) or seconds since the epoch."""
    try:
        return parse_time(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a time: use RFC 3339, e.g. {TIME_EXAMPLE}"
        ) from None


def until_time(value: str) -> float:
    """`--until`: an absolute time; a duration such as `2h` is pointed at `--for`."""
    try:
        float(value)
    except ValueError:
        try:
            parse_duration(value)
        except ValueError:
            pass
        else:
            raise argparse.ArgumentTypeError(
                f"{value!r} is a duration, not a time: use --for {value.strip()}, "
                f"or give --until a time such as {TIME_EXAMPLE}"
            ) from None
    return event_time(value)


def duration(value: str) -> float:
    """`--for`: a positive duration such as 30m, 2h, 1d or 1h30m."""
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{value!r}: a silence must last longer than 0s")
    return seconds


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: must be 1 or more")
    return number


def positive_number(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number > 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value!r}")
    return number


def silence_end(for_seconds: float | None, until: float | None, now: float | None = None) -> float:
    """The end of a silence from `--for` (from now) or `--until`."""
    if for_seconds is not None:
        return (time.time() if now is None else now) + for_seconds
    assert until is not None
    return until


def looks_like_rules(path: str) -> bool:
    """A YAML file, or a directory of YAML files holding Sigma rules: not history."""
    candidate = Path(path)
    if candidate.suffix in RULE_SUFFIXES:
        return True
    if not candidate.is_dir():
        return False
    files = [p for p in candidate.rglob("*") if p.is_file() and not p.name.startswith(".")]
    if not files or any(p.suffix not in RULE_SUFFIXES for p in files):
        return False
    return any(line.startswith(SIGMA_SECTIONS) for p in files for line in _head(p).splitlines())


SIGMA_SECTIONS = ("detection:", "correlation:", "filter:")


def _head(path: Path) -> str:
    try:
        with path.open("rb") as f:
            return f.read(65536).decode("utf-8", "replace")
    except OSError:
        return ""


def check_replay_arguments(args: argparse.Namespace) -> None:
    """Refuse what would replay nothing or read a rule file as history, before any work."""
    start, end = args.time_from, args.time_to
    if start is not None and end is not None and start >= end:
        raise UsageError(
            f"--from {iso(start)} is not before --to {iso(end)}: nothing would be replayed "
            "(--from is inclusive, --to exclusive)"
        )
    rules_like = [p for p in args.paths if looks_like_rules(p)]
    if rules_like:
        raise UsageError(
            f"{rules_like[0]} looks like rules, not history: --rules takes one path, "
            "so give each its own (--rules A.yml --rules B.yml HISTORY)"
        )
