"""The `spanwatch` command line: argparse glue; the work lives in the packages it calls."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.cli_args import (
    Formatter,
    UsageError,
    check_replay_arguments,
    duration,
    event_time,
    positive_int,
    positive_number,
    silence_end,
    until_time,
    version,
)
from engine.yamlfile import ConfigError
from replay.simulator.shape import BATCHING, EXPORTS, SPELLINGS, TRAFFIC, ZONES

if TYPE_CHECKING:
    from engine.config import SpanwatchConfig

EXIT_USAGE = 2
CONFIG_ENV = "SPANWATCH_CONFIG"
DEFAULT_API = "http://127.0.0.1:8080"


def _labels(values: Sequence[str]) -> dict[str, str]:
    labels = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"spanwatch: --labels wants key=value, got {item!r}")
        labels[key] = value
    return labels


def _config(args: argparse.Namespace) -> SpanwatchConfig:
    from engine.config import load_config

    return load_config(getattr(args, "config", None))


def cmd_report(args: argparse.Namespace) -> int:
    from engine.compliance_report import ReportError, report_compliance

    try:
        return report_compliance(args, _config(args))
    except ReportError as exc:
        raise UsageError(str(exc)) from None


def cmd_replay(args: argparse.Namespace) -> int:
    check_replay_arguments(args)
    from engine.replay_command import replay

    return replay(args, _config(args))


def cmd_run(args: argparse.Namespace) -> int:
    import logging

    from engine.live.run import LiveEngine

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = _config(args)
    return LiveEngine(config, rules=args.rules).serve()


def cmd_health(args: argparse.Namespace) -> int:
    from engine.live.health import api_url, check

    base = args.api or api_url(_config(args).live.api)
    return check(base, sys.stdout)


def cmd_incidents(args: argparse.Namespace) -> int:
    from engine.live import client

    try:
        if args.incidents_command == "list":
            return client.list_incidents(
                args.api, args.status, sys.stdout, sys.stderr, as_json=args.json
            )
        if args.incidents_command in ("ack", "resolve"):
            return client.transition(
                args.api,
                args.incidents_command,
                args.incident,
                args.by,
                args.comment,
                sys.stdout,
                sys.stderr,
            )
        body = {
            "matchers": args.matchers,
            "created_by": args.by,
            "comment": args.comment,
            "ends_at": silence_end(args.for_seconds, args.until),
        }
        if args.id:
            body["id"] = args.id
        return client.silence(args.api, body, sys.stdout, sys.stderr)
    except client.ApiError as exc:
        print(f"spanwatch: {exc}", file=sys.stderr)
        return EXIT_USAGE


def cmd_simulate(args: argparse.Namespace) -> int:
    from replay.simulator.cli import simulate_command

    return simulate_command(
        days=args.days,
        users=args.users,
        seed=args.seed,
        start=args.start,
        claude_code_logs=args.claude_code_logs,
        incidents=not args.no_incidents,
        out=args.out,
        truth=args.truth,
        stdout=sys.stdout,
        shape={k: getattr(args, k) for k in ("spelling", "export", "zones", "traffic", "batching")},
        kinds=args.incident_kinds,
        quiet=args.quiet,
    )


def cmd_demo(args: argparse.Namespace) -> int:
    from engine.demo import run_demo

    workdir = args.keep or tempfile.mkdtemp(prefix="spanwatch-demo-")
    return run_demo(Path(workdir), days=args.days, users=args.users, seed=args.seed)


def cmd_rules(args: argparse.Namespace) -> int:
    from engine.config import canonical_model_lists
    from engine.otlp.aliases import AliasTable
    from rules import cli as rules_cli

    config = _config(args)
    catalog = config.models.catalog()
    aliases = AliasTable(config.aliases, models=catalog)
    known = aliases.known_fields()
    if args.rules_command == "diff":
        from engine.report.rules_diff import rules_diff
        from replay.progress import Progress

        progress = Progress(sys.stderr, enabled=False if args.quiet else None)
        return rules_diff(config, args.base, args.candidate, args.paths, sys.stdout, progress)
    if args.rules_command == "check":
        return rules_cli.check(args.paths, config=config.rules, known_fields=known, out=sys.stdout)
    # Test events are decoded as telemetry is: aliases, then canonical model names.
    return rules_cli.run_tests(
        args.paths,
        config=config.rules,
        known_fields=known,
        out=sys.stdout,
        prepare_event=aliases.normalise,
        prepare_config=lambda rules: canonical_model_lists(rules, catalog),
    )


def cmd_score(args: argparse.Namespace) -> int:
    from detectors.cli import score

    params = _labels(args.param or [])
    return score(args.series, args.detector, params, args.out, sys.stdout)


def cmd_routes(args: argparse.Namespace) -> int:
    from engine.incidents.route_tree_cli import routes_test

    config = _config(args)
    return routes_test(config.incidents, _labels(args.labels), sys.stdout)


def cmd_notify(args: argparse.Namespace) -> int:
    from engine.state_dir import prepare_state_dir
    from notifiers.cli import retry_dead_letters

    config = _config(args)
    prepare_state_dir(config)
    return retry_dead_letters(config.notifiers, config.state_dir, sys.stdout)


REPLAY_EPILOG = """\
exit status:
  0  history replayed, incident log written
  1  nothing replayed (no events, or none between --from and --to): no output written
  2  usage error, bad path, rule or configuration, or a bad line with --strict:
     no output written (an existing --out file is left as it was)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spanwatch",
        description="Anomaly detection and policy alerting for AI coding-assistant telemetry.",
        formatter_class=Formatter,
    )
    parser.add_argument("--version", action="version", version=f"spanwatch {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        group: argparse._SubParsersAction[argparse.ArgumentParser],
        name: str,
        text: str,
        **kwargs: Any,
    ) -> argparse.ArgumentParser:
        return group.add_parser(
            name, help=text, description=text, formatter_class=Formatter, **kwargs
        )

    def with_config(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--config",
            metavar="FILE",
            default=os.environ.get(CONFIG_ENV) or None,
            help=f"spanwatch YAML configuration (default: ${CONFIG_ENV} if set, "
            "else the embedded defaults)",
        )

    def with_rules(p: argparse.ArgumentParser, nargs: str | int) -> None:
        p.add_argument(
            "--rules",
            action="extend",
            nargs=nargs,
            metavar="PATH",
            help="a rule file or directory replacing the configured rule files and packs; "
            "repeat for more (default: the configured rules)",
        )

    p = command(sub, "run", "the live engine: OTLP receivers, dataflow, notifiers, API")
    with_config(p)
    with_rules(p, "+")
    p.set_defaults(func=cmd_run)

    p = command(
        sub,
        "replay",
        "run history through the dataflow, deterministically",
        epilog=REPLAY_EPILOG,
    )
    p.add_argument(
        "paths",
        nargs="+",
        metavar="HISTORY",
        help="files or directories of OTLP/JSON or flat JSON lines (.gz too), Parquet, "
        "or s3://bucket/key-or-prefix/",
    )
    with_config(p)
    with_rules(p, 1)
    p.add_argument(
        "--out",
        metavar="FILE",
        help="the incident log (JSON lines), written whole or not at all "
        "(default: STATE_DIR/replay-incidents.jsonl)",
    )
    p.add_argument(
        "--from",
        dest="time_from",
        type=event_time,
        metavar="T",
        help="replay events at or after T, RFC 3339 (default: from the first event)",
    )
    p.add_argument(
        "--to",
        dest="time_to",
        type=event_time,
        metavar="T",
        help="replay events before T, RFC 3339 (default: to the last event)",
    )
    p.add_argument(
        "--control",
        metavar="FILE",
        help="acks, resolves and silences to apply, JSON lines (default: none)",
    )
    p.add_argument(
        "--strict", action="store_true", help="stop at the first bad line (exit status 2)"
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        metavar="N",
        help="Bytewax workers (threads) in each process (default: 1)",
    )
    p.add_argument(
        "--workers-per-process",
        dest="workers",
        type=positive_int,
        default=argparse.SUPPRESS,
        metavar="N",
        help="the same as --workers (default: 1)",
    )
    p.add_argument(
        "--processes",
        type=positive_int,
        default=1,
        metavar="N",
        help="run the dataflow as a Bytewax cluster of N local processes (default: 1)",
    )
    p.add_argument(
        "--sort-memory",
        type=positive_number,
        metavar="MB",
        help="memory for sorting the history; the rest spills to disk "
        "(default: replay.sort_memory_mb, 256)",
    )
    p.add_argument(
        "--notify", action="store_true", help="deliver notifications to the receivers too"
    )
    p.add_argument(
        "--notifications",
        metavar="FILE",
        help="write the notifications that would be sent, JSON lines (default: not written)",
    )
    p.add_argument(
        "--report",
        metavar="FILE",
        help="write a backtest report: one self-contained HTML file (default: none)",
    )
    p.add_argument(
        "--truth",
        metavar="FILE",
        help="injected incidents (as `spanwatch simulate --truth` writes them) to set beside "
        "what was raised in the report: delays, recall, precision (default: none)",
    )
    p.add_argument(
        "--quiet",
        action="store_true",
        help="no progress line (it is drawn on stderr only when stderr is a terminal)",
    )
    p.set_defaults(func=cmd_replay)

    p = command(sub, "report", "evidence documents")
    report_sub = p.add_subparsers(dest="report_command", required=True, metavar="REPORT")
    q = command(
        report_sub,
        "compliance",
        "compliance evidence for an audit period: adherence per team and week, drift, "
        "hits per rule, incidents with acknowledgement and resolution, silences, rule set version",
    )
    q.add_argument("paths", nargs="+", metavar="HISTORY", help="history, as for replay")
    with_config(q)
    with_rules(q, 1)
    q.add_argument("--from", dest="time_from", type=event_time, required=True, metavar="T",
                   help="start of the audit period, RFC 3339")  # fmt: skip
    q.add_argument("--to", dest="time_to", type=event_time, required=True, metavar="T",
                   help="end of the audit period (exclusive), RFC 3339")  # fmt: skip
    q.add_argument("--out", required=True, metavar="FILE",
                   help="the evidence, written whole or not at all (.json, .md or .html)")  # fmt: skip
    q.add_argument("--format", choices=("json", "markdown", "html"),
                   help="the output format (default: from --out's extension)")  # fmt: skip
    q.add_argument("--incidents", metavar="FILE",
                   help="an incident log (replay --out, or the live engine's) for the "
                   "period's incidents (default: none)")  # fmt: skip
    q.add_argument("--control", metavar="FILE",
                   help="the acks, resolves and silences given, JSON lines, for the "
                   "silences (default: none)")  # fmt: skip
    q.add_argument("--alpha", type=float, default=0.01, metavar="P",
                   help="significance of a drift finding (one-sided Fisher exact test)")  # fmt: skip
    q.set_defaults(func=cmd_report)

    p = command(sub, "simulate", "synthetic telemetry with labelled incidents")
    p.add_argument("--days", type=int, default=7, help="days of telemetry")
    p.add_argument("--users", type=int, default=500, help="people in the organisation")
    p.add_argument("--seed", type=int, default=1, help="random seed (same seed, same output)")
    p.add_argument(
        "--start",
        type=event_time,
        default=None,
        metavar="T",
        help="first day, RFC 3339 (default: a fixed Monday, so output is reproducible)",
    )
    p.add_argument(
        "--claude-code-logs", action="store_true", help="also write Claude Code log events"
    )
    p.add_argument("--no-incidents", action="store_true", help="inject no incidents")
    p.add_argument(
        "--incident-kinds",
        choices=("classic", "all"),
        default="classic",
        help="classic: eleven kinds; all: also a team's error burst, a team's cache-hit "
        "collapse and a runaway agent opening sessions",
    )
    shapes = p.add_argument_group("organisation shape (see replay/simulator/shape.py)")
    shapes.add_argument(
        "--spelling", choices=SPELLINGS, help="model IDs (default: us. inference profiles)"
    )
    shapes.add_argument("--export", choices=EXPORTS, help="spans, logs or both (default: spans)")
    shapes.add_argument(
        "--zones", choices=ZONES, help="sites and working hours (default: one region's offices)"
    )
    shapes.add_argument(
        "--traffic", choices=TRAFFIC, help="how much and when people work (default: office hours)"
    )
    shapes.add_argument(
        "--batching", choices=BATCHING, help="one request per batch or per session (default: batch)"
    )
    p.add_argument("--out", required=True, metavar="FILE", help="history to write (required)")
    p.add_argument(
        "--truth",
        metavar="FILE",
        help="ground truth of the injected incidents, JSON lines (default: not written)",
    )
    p.add_argument(
        "--quiet",
        action="store_true",
        help="no progress line (it is drawn on stderr only when stderr is a terminal)",
    )
    p.set_defaults(func=cmd_simulate)

    p = command(sub, "demo", "simulate a small organisation and replay it on the defaults")
    p.add_argument("--days", type=int, default=5, help="days of telemetry")
    p.add_argument("--users", type=int, default=80, help="people in the organisation")
    p.add_argument("--seed", type=int, default=7, help="random seed")
    p.add_argument(
        "--keep",
        metavar="DIR",
        help="keep the generated files here (default: a new temporary directory)",
    )
    p.set_defaults(func=cmd_demo)

    p = command(sub, "rules", "validate or test Sigma rule files")
    rules_sub = p.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    for name, text, paths in (
        ("check", "validate rule files", "rule files, or directories read recursively"),
        (
            "test",
            "run rule unit tests (*.test.yml) against the rules beside them",
            "test files, or directories searched recursively for *.test.yml",
        ),
    ):
        q = command(rules_sub, name, text)
        q.add_argument("paths", nargs="+", metavar="PATH", help=paths)
        with_config(q)
        q.set_defaults(func=cmd_rules)
    q = command(
        rules_sub,
        "diff",
        "replay history with two rule sets and list the incidents only one raises "
        "(exit status 1 when they differ)",
    )
    q.add_argument("paths", nargs="+", metavar="HISTORY", help="history, as replay takes it")
    q.add_argument("--base", required=True, metavar="PATH", help="the rules as they are")
    q.add_argument("--candidate", required=True, metavar="PATH", help="the rules proposed")
    q.add_argument("--quiet", action="store_true", help="no progress line")
    with_config(q)
    q.set_defaults(func=cmd_rules)

    p = command(sub, "score", "anomaly scores for one metric series (CSV)")
    p.add_argument("series", metavar="SERIES.csv", help="timestamp,value rows")
    p.add_argument(
        "--detector",
        metavar="NAME",
        help="a detector kind or default detector id (default: ensemble)",
    )
    p.add_argument("--param", nargs="*", metavar="K=V", help="detector parameters (default: none)")
    p.add_argument("--out", metavar="FILE", help="scores CSV (default: standard output)")
    p.set_defaults(func=cmd_score)

    p = command(sub, "routes", "inspect the routing tree")
    routes_sub = p.add_subparsers(dest="routes_command", required=True, metavar="ACTION")
    q = command(routes_sub, "test", "which receivers an incident with these labels reaches")
    q.add_argument(
        "--labels", nargs="+", required=True, metavar="K=V", help="incident labels (required)"
    )
    with_config(q)
    q.set_defaults(func=cmd_routes)

    p = command(sub, "health", "exit 0 if the engine configured here answers on its API")
    with_config(p)
    p.add_argument(
        "--api", metavar="URL", help="the API to ask (default: from live.api in the configuration)"
    )
    p.set_defaults(func=cmd_health)

    api_help = f"the engine's API (default: {DEFAULT_API})"
    p = command(sub, "incidents", "list, acknowledge, resolve and silence on a running engine")
    p.add_argument("--api", default=DEFAULT_API, metavar="URL", help=api_help)
    inc_sub = p.add_subparsers(dest="incidents_command", required=True, metavar="ACTION")

    def incidents_command(name: str, text: str) -> argparse.ArgumentParser:
        q = command(inc_sub, name, text)
        q.add_argument("--api", default=argparse.SUPPRESS, metavar="URL", help=api_help)
        q.set_defaults(func=cmd_incidents)
        return q

    def author(q: argparse.ArgumentParser) -> None:
        q.add_argument(
            "--by", default=os.environ.get("USER", "cli"), help="who does it (default: $USER)"
        )
        q.add_argument("--comment", default="", help="why (default: empty)")

    q = incidents_command("list", "incidents, most severe first, then newest first")
    q.add_argument(
        "--status",
        choices=("all", "firing", "acknowledged", "resolved"),
        default=None,
        help="which incidents (default: all but resolved)",
    )
    q.add_argument("--json", action="store_true", help="print the incidents as a JSON array")
    for name, verb in (("ack", "acknowledge"), ("resolve", "resolve")):
        q = incidents_command(name, f"{verb} an incident (token from SPANWATCH_API_TOKEN)")
        q.add_argument("incident", metavar="ID", help="incident id or fingerprint")
        author(q)
    q = incidents_command(
        "silence",
        "mute notifications of what matches, for a while (token from SPANWATCH_API_TOKEN)",
    )
    q.add_argument(
        "matchers", nargs="+", metavar="MATCHER", help='label matchers: team=payments, user=~"a.*"'
    )
    when = q.add_mutually_exclusive_group(required=True)
    when.add_argument(
        "--for",
        dest="for_seconds",
        type=duration,
        metavar="DURATION",
        help="how long, from now: 30m, 2h, 1d, 1h30m",
    )
    when.add_argument(
        "--until",
        type=until_time,
        metavar="T",
        help="until when: RFC 3339, e.g. 2026-11-28T18:00:00Z (naive means UTC)",
    )
    q.add_argument("--id", default=None, help="the silence's id (default: derived by the engine)")
    author(q)

    p = command(sub, "notify", "delivery maintenance")
    notify_sub = p.add_subparsers(dest="notify_command", required=True, metavar="ACTION")
    q = command(notify_sub, "retry-dead-letters", "send the dead-letter file again")
    with_config(q)
    q.set_defaults(func=cmd_notify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        run: Callable[[argparse.Namespace], int] = args.func
        return run(args)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"spanwatch: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        handled = _user_error(exc)
        if handled is None:
            raise
        for line in handled:
            print(f"spanwatch: {line}", file=sys.stderr)
        return EXIT_USAGE


RECEIVER_HINT = (
    "spanwatch does not start with a receiver it cannot use: fix it, or remove it and the "
    "routes to it"
)


def _user_error(exc: Exception) -> list[str] | None:
    """Errors a user caused get one line each, not a traceback."""
    from engine.live.run import StartupError
    from engine.replay_run import ReplayError
    from notifiers.registry import ReceiverSetupError
    from rules.model import RuleLoadError

    if isinstance(exc, ReplayError | StartupError):
        return [str(exc)]
    if isinstance(exc, RuleLoadError):
        return ["the rules do not load:", *(str(p) for p in exc.problems)]
    if isinstance(exc, ReceiverSetupError):
        return [f"{problem} ({RECEIVER_HINT})" for problem in exc.problems]
    if isinstance(exc, OSError) and exc.filename is not None:
        return [f"{exc.filename}: {exc.strerror or exc}"]
    from engine.live.recovery_dir import RecoveryDirError

    if isinstance(exc, RecoveryDirError):
        return [str(exc)]
    return None


if __name__ == "__main__":
    sys.exit(main())
