"""The `spanwatch` command line (DESIGN.md, "The command line")."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from engine.yamlfile import ConfigError
from replay.shape import BATCHING, EXPORTS, SPELLINGS, TRAFFIC, ZONES

EXIT_USAGE = 2


def _time(value: str) -> float:
    from engine.timeutil import parse_time

    try:
        return parse_time(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _labels(values: Sequence[str]) -> dict[str, str]:
    labels = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"spanwatch: --labels wants key=value, got {item!r}")
        labels[key] = value
    return labels


def _config(args: argparse.Namespace):
    from engine.config import load_config

    return load_config(getattr(args, "config", None))


def cmd_replay(args: argparse.Namespace) -> int:
    from engine.plan import TimeRange
    from engine.replay_run import ReplayOptions, print_summary, run_replay

    config = _config(args)
    out = args.out or str(Path(config.state_dir) / "replay-incidents.jsonl")
    options = ReplayOptions(
        paths=args.paths,
        out=out,
        rules=args.rules,
        control=args.control,
        time_range=TimeRange(args.time_from, args.time_to),
        strict=args.strict,
        workers=args.workers,
        notifications=args.notifications,
    )
    dispatcher = None
    if args.notify:
        from notifiers.dispatcher import Dispatcher

        dispatcher = Dispatcher(config.notifiers, config.state_dir)
        dispatcher.start()
    try:
        report = run_replay(config, options, notify=dispatcher.submit if dispatcher else None)
    finally:
        if dispatcher is not None:
            dispatcher.close()
    print_summary(report)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    import logging

    from engine.live.run import LiveEngine

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = _config(args)
    return LiveEngine(config, rules=args.rules).serve()


def cmd_incidents(args: argparse.Namespace) -> int:
    from engine.live import client
    from engine.timeutil import parse_time

    try:
        if args.incidents_command == "list":
            return client.list_incidents(args.api, args.status, sys.stdout, sys.stderr)
        if args.incidents_command in ("ack", "resolve"):
            return client.transition(
                args.api, args.incidents_command, args.incident, args.by, args.comment, sys.stderr
            )
        body = {
            "matchers": args.matchers,
            "created_by": args.by,
            "comment": args.comment,
            "ends_at": parse_time(args.until) if args.until else None,
        }
        if args.id:
            body["id"] = args.id
        return client.silence(
            args.api, {k: v for k, v in body.items() if v is not None}, sys.stdout, sys.stderr
        )
    except client.ApiError as exc:
        print(f"spanwatch: {exc}", file=sys.stderr)
        return EXIT_USAGE


def cmd_simulate(args: argparse.Namespace) -> int:
    from replay.cli import simulate_command

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
    )


def cmd_demo(args: argparse.Namespace) -> int:
    from engine.demo import run_demo

    workdir = args.keep or tempfile.mkdtemp(prefix="spanwatch-demo-")
    return run_demo(Path(workdir), days=args.days, users=args.users, seed=args.seed)


def cmd_rules(args: argparse.Namespace) -> int:
    from engine.aliases import AliasTable
    from engine.config import canonical_model_lists
    from rules import cli as rules_cli

    config = _config(args)
    catalog = config.models.catalog()
    aliases = AliasTable(config.aliases, models=catalog)
    known = aliases.known_fields()
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
    from engine.incidents.routing_cli import routes_test

    config = _config(args)
    return routes_test(config.incidents, _labels(args.labels), sys.stdout)


def cmd_notify(args: argparse.Namespace) -> int:
    from notifiers.cli import retry_dead_letters

    config = _config(args)
    return retry_dead_letters(config.notifiers, config.state_dir, sys.stdout)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spanwatch",
        description="Anomaly detection and policy alerting for AI coding-assistant telemetry.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", metavar="FILE", help="spanwatch YAML (default: embedded)")

    p = sub.add_parser("run", help="the live engine: OTLP receivers, dataflow, API")
    with_config(p)
    p.add_argument("--rules", nargs="+", metavar="PATH", help="rule files replacing the packs")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("replay", help="run history through the dataflow, deterministically")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or directories (.gz too)")
    with_config(p)
    p.add_argument("--rules", nargs="+", metavar="PATH", help="rule files replacing the packs")
    p.add_argument("--out", metavar="FILE", help="incident log (JSON lines)")
    p.add_argument("--from", dest="time_from", type=_time, metavar="T", help="skip events before T")
    p.add_argument("--to", dest="time_to", type=_time, metavar="T", help="skip events from T on")
    p.add_argument("--control", metavar="FILE", help="acks, resolves and silences (JSON lines)")
    p.add_argument("--strict", action="store_true", help="the first bad line is fatal (exit 2)")
    p.add_argument("--workers", type=int, default=1, help="Bytewax workers (default 1)")
    p.add_argument("--notify", action="store_true", help="also deliver notifications")
    p.add_argument(
        "--notifications", metavar="FILE", help="write the notifications due (JSON lines)"
    )
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("simulate", help="synthetic telemetry with labelled incidents")
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--users", type=int, default=500)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--start", type=_time, default=None, metavar="T")
    p.add_argument("--claude-code-logs", action="store_true", help="also Claude Code log events")
    p.add_argument("--no-incidents", action="store_true", help="inject no incidents")
    p.add_argument(
        "--incident-kinds",
        choices=("classic", "all"),
        default="classic",
        help="classic: eleven kinds; all: also a team's error burst, a team's cache-hit "
        "collapse and a runaway agent opening sessions",
    )
    shapes = p.add_argument_group("organisation shape (see replay/shape.py)")
    shapes.add_argument("--spelling", choices=SPELLINGS, help="model IDs (default profile)")
    shapes.add_argument("--export", choices=EXPORTS, help="spans, logs or both (default spans)")
    shapes.add_argument("--zones", choices=ZONES, help="sites and working hours")
    shapes.add_argument("--traffic", choices=TRAFFIC, help="how much and when people work")
    shapes.add_argument("--batching", choices=BATCHING, help="one request per batch or session")
    p.add_argument("--out", required=True, metavar="FILE")
    p.add_argument("--truth", metavar="FILE", help="ground truth of injected incidents")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("demo", help="simulate a small organisation and replay it on defaults")
    p.add_argument("--days", type=int, default=5)
    p.add_argument("--users", type=int, default=80)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--keep", metavar="DIR", help="keep the generated files here")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("rules", help="validate or test rule files")
    rules_sub = p.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    for name, text in (("check", "validate rule files"), ("test", "run rule unit tests")):
        q = rules_sub.add_parser(name, help=text)
        q.add_argument("paths", nargs="+", metavar="PATH")
        with_config(q)
        q.set_defaults(func=cmd_rules)

    p = sub.add_parser("score", help="anomaly scores for one metric series (CSV)")
    p.add_argument("series", metavar="SERIES.csv")
    p.add_argument("--detector", required=True, metavar="NAME")
    p.add_argument("--param", nargs="*", metavar="K=V", help="detector parameters")
    p.add_argument("--out", metavar="FILE", help="default: standard output")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("routes", help="inspect the routing tree")
    routes_sub = p.add_subparsers(dest="routes_command", required=True, metavar="ACTION")
    q = routes_sub.add_parser("test", help="which receivers labels would reach")
    q.add_argument("--labels", nargs="+", required=True, metavar="K=V")
    with_config(q)
    q.set_defaults(func=cmd_routes)

    p = sub.add_parser("incidents", help="talk to a running engine's API")
    p.add_argument("--api", default="http://127.0.0.1:8080", metavar="URL")
    inc_sub = p.add_subparsers(dest="incidents_command", required=True, metavar="ACTION")
    q = inc_sub.add_parser("list", help="open incidents (or --status all|firing|...)")
    q.add_argument("--status", default=None)
    q.set_defaults(func=cmd_incidents)
    for name in ("ack", "resolve"):
        q = inc_sub.add_parser(name, help=f"{name} an incident (token from SPANWATCH_API_TOKEN)")
        q.add_argument("incident", metavar="ID")
        q.add_argument("--by", default=os.environ.get("USER", "cli"))
        q.add_argument("--comment", default="")
        q.set_defaults(func=cmd_incidents)
    q = inc_sub.add_parser("silence", help="mute what matches, until a time")
    q.add_argument("matchers", nargs="+", metavar="MATCHER", help="team=payments, user=~a.*, ...")
    q.add_argument("--until", required=True, metavar="T")
    q.add_argument("--id", default=None)
    q.add_argument("--by", default=os.environ.get("USER", "cli"))
    q.add_argument("--comment", default="")
    q.set_defaults(func=cmd_incidents)

    p = sub.add_parser("notify", help="delivery maintenance")
    notify_sub = p.add_subparsers(dest="notify_command", required=True, metavar="ACTION")
    q = notify_sub.add_parser("retry-dead-letters", help="send the dead-letter file again")
    with_config(q)
    q.set_defaults(func=cmd_notify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        handled = _user_error(exc)
        if handled is None:
            raise
        print(f"spanwatch: {handled}", file=sys.stderr)
        return EXIT_USAGE


def _user_error(exc: Exception) -> str | None:
    """Errors a user caused get one line, not a traceback."""
    from engine.replay_run import ReplayError

    if isinstance(exc, ReplayError):
        return str(exc)
    from rules.ruleset import RuleLoadError

    if isinstance(exc, RuleLoadError):
        return "the rules do not load:\n" + "\n".join(str(p) for p in exc.problems)
    return None


if __name__ == "__main__":
    sys.exit(main())
