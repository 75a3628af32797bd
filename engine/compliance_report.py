"""`spanwatch report compliance`: the evidence for an audit period, from history and the log.

The history is read as replay reads it (same readers, decoding and model names) and every
event is put through the rule set in force (its stateless detection rules; correlation
windows are the incident log's business). Per team and ISO week: sessions, policy adherence
per rule category, pull requests with a passing assertion, credential and dangerous-command
hits per thousand sessions; then the drift findings, the incidents of the period (from a
replay's or the live engine's incident log) with their acknowledgement and resolution, the
silences (from a control file) with author and comment, and the rule set's version.
Bad history lines are counted and the first ones named by file and line; the rest is used.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path
from typing import Any

import orjson

from compliance.drift import DriftParams, find_drift
from compliance.evidence import (
    finding_counts,
    incident_records,
    render_html,
    render_markdown,
    rule_counts,
)
from compliance.metrics import ANY, ComplianceTally
from detectors.timeparse import iso, parse_time
from engine.atomic_output import OutputError, written_whole
from engine.config import SpanwatchConfig
from engine.flow.run_setup import rule_paths
from engine.incidents.control import ControlError, CreateSilence, parse_control
from engine.incidents.silences import SilenceData
from engine.otlp.aliases import AliasTable
from engine.otlp.event_checks import TimeBounds
from engine.otlp.line_decoder import DecodeError, decode_history_line
from replay.history import HistoryError
from replay.readers import expand_paths, read_lines
from rules.ruleset import RuleSet

MAX_PROBLEMS = 20
FORMATS = {".json": "json", ".md": "markdown", ".markdown": "markdown", ".html": "html"}
FORMATS[".htm"] = "html"


class ReportError(Exception):
    """A problem the user can fix: one line, exit status 2."""


def output_format(out: str, given: str | None) -> str:
    if given:
        return given
    fmt = FORMATS.get(Path(out).suffix.lower())
    if fmt is None:
        raise ReportError(
            f"{out}: cannot tell the format from the name; end it in .json, .md or .html, "
            "or give --format"
        )
    return fmt


def ruleset_version(files: list[Path]) -> dict[str, Any]:
    """A hash of the rule files in force (names and contents, in name order)."""
    entries = []
    for path in sorted(files, key=lambda p: (p.name, str(p))):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        entries.append({"file": path.name, "sha256": digest})
    whole = hashlib.sha256()
    for e in entries:
        whole.update(f"{e['file']}\0{e['sha256']}\n".encode())
    return {"version": whole.hexdigest(), "files": entries}


def credential_rules(ruleset: RuleSet) -> list[str]:
    """The rules about leaked credentials (by name)."""
    return sorted(r.rule_id for r in ruleset.detections if "credential" in r.rule_id)


def dangerous_rules(ruleset: RuleSet) -> list[str]:
    """The other security rules: destructive commands, piping to a shell, safeguards off."""
    leaked = set(credential_rules(ruleset))
    return sorted(
        r.rule_id
        for r in ruleset.detections
        if r.generates and r.labels.get("category") == "security" and r.rule_id not in leaked
    )


def _read_history(
    paths: list[str], config: SpanwatchConfig, ruleset: RuleSet, tally: ComplianceTally,
    start: float, end: float,
) -> dict[str, Any]:  # fmt: skip
    aliases = AliasTable(config.aliases, models=config.models.catalog())
    bounds, now = TimeBounds.of(config.stream), time.time()
    stats = dict.fromkeys(
        ("files", "lines", "events", "bad_lines", "refused_events", "outside_period"), 0
    )
    problems: list[str] = []
    try:
        files = expand_paths(paths)
        for f in files:
            stats["files"] += 1
            for number, line in read_lines(f):
                stats["lines"] += 1
                try:
                    events, refused = decode_history_line(line, aliases, bounds, now)
                except DecodeError as exc:
                    stats["bad_lines"] += 1
                    if len(problems) < MAX_PROBLEMS:
                        problems.append(f"{f.display}:{number}: {exc}")
                    continue
                if refused:
                    stats["refused_events"] += len(refused)
                    if len(problems) < MAX_PROBLEMS:
                        problems.append(f"{f.display}:{number}: {refused[0]}")
                for event in events:
                    if not start <= event["time"] < end:
                        stats["outside_period"] += 1
                        continue
                    stats["events"] += 1
                    tally.add_event(event)
                    hits, _ = ruleset.evaluate(event)
                    for hit in hits:
                        tally.add_hit(event, hit.rule_id, hit.labels.get("category"))
    except HistoryError as exc:
        raise ReportError(str(exc)) from None
    return {**stats, "problems": problems}


def _json_lines(path: str, what: str) -> list[tuple[int, Any]]:
    """(line number, object) of a JSON-lines file; a bad line is an error naming it."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ReportError(f"{path}: cannot read the {what} ({exc.strerror})") from None
    out = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append((number, orjson.loads(line)))
        except orjson.JSONDecodeError as exc:
            raise ReportError(f"{path}:{number}: not JSON ({exc})") from None
    return out


def _silences(path: str | None) -> list[SilenceData]:
    if not path:
        return []
    out: list[SilenceData] = []
    for number, obj in _json_lines(path, "control file"):
        try:
            event = parse_control(obj, where=f"{path}:{number}")
        except ControlError as exc:
            raise ReportError(str(exc)) from None
        if isinstance(event, CreateSilence):
            out.append(event.silence.to_dict())
    return out


def build_evidence(args: argparse.Namespace, config: SpanwatchConfig) -> dict[str, Any]:
    start, end = args.time_from, args.time_to
    if not end > start:
        raise ReportError("--to must be after --from")
    ruleset = RuleSet.load(rule_paths(config, args.rules), config.rules)
    categories = {
        r.rule_id: category
        for r in ruleset.detections
        if r.generates and (category := r.labels.get("category")) is not None
    }
    names = sorted({c for c in categories.values() if c})
    tally = ComplianceTally(names, credential_rules(ruleset), dangerous_rules(ruleset))
    history = _read_history(list(args.paths), config, ruleset, tally, start, end)
    rows = tally.rows()
    incidents, findings = [], []
    if args.incidents:
        lines = [obj for _, obj in _json_lines(args.incidents, "incident log")]
        incidents = incident_records(lines, start, end, parse_time)
        findings = finding_counts(lines, start, end, parse_time)
    params = DriftParams(alpha=args.alpha)
    return {
        "period": {"from": iso(start), "to": iso(end)},
        "generated_at": iso(time.time()),
        "ruleset": ruleset_version(list(ruleset.files)),
        "categories": names,
        "history": history,
        "weekly": rows,
        "drift": find_drift(rows, [ANY, *names], params),
        "rules": rule_counts(rows, categories),
        "incidents": incidents,
        "findings": findings,
        "silences": _silences(args.control),
    }


def report_compliance(args: argparse.Namespace, config: SpanwatchConfig) -> int:
    fmt = output_format(args.out, args.format)
    doc = build_evidence(args, config)
    if fmt == "json":
        data = orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    else:
        data = (render_markdown(doc) if fmt == "markdown" else render_html(doc)).encode()
    try:
        with written_whole([args.out]) as (partial,):
            assert partial is not None  # --out is required
            Path(partial).write_bytes(data)
    except OutputError as exc:
        raise ReportError(str(exc)) from None
    h = doc["history"]
    print(
        f"compliance evidence for {doc['period']['from']} to {doc['period']['to']}: "
        f"{h['events']:,} events, {len(doc['weekly'])} team-weeks, {len(doc['drift'])} drift "
        f"finding(s), {len(doc['incidents'])} incident(s); bad lines {h['bad_lines']:,}, "
        f"outside the period {h['outside_period']:,} -> {args.out}"
    )
    for problem in h["problems"]:
        print(f"  {problem}")
    return 0
