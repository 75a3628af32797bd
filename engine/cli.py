"""The `spanwatch` command line: argparse glue; the work lives in the packages it calls."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from engine import cli_parser as commands
from engine.cli_args import (
    Formatter,
    UsageError,
    check_replay_arguments,
    silence_end,
    version,
)
from engine.yamlfile import ConfigError

if TYPE_CHECKING:
    from engine.config import SpanwatchConfig

EXIT_USAGE = 2


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
    from engine import log_setup
    from engine.live.run import LiveEngine
    from engine.live.shutdown import exit_now

    log_setup.configure()
    config = _config(args)
    if args.processes > 1:
        from engine.live.cluster import run_local_cluster

        exit_now(run_local_cluster(config, args.rules, args.processes))
    if (args.addresses is None) != (args.process_id is None):
        raise SystemExit("spanwatch run: --process-id and --addresses go together")
    if args.addresses is None:
        exit_now(LiveEngine(config, rules=args.rules).serve())
    from engine.live.cluster import ClusterPlace

    try:
        place = ClusterPlace(args.process_id, args.addresses)
    except ValueError as exc:
        raise SystemExit(f"spanwatch run: {exc}") from None
    exit_now(LiveEngine(place.own_config(config), rules=args.rules, cluster=place).serve())


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


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, one subcommand a line (their arguments: `engine.cli_parser`)."""
    parser = argparse.ArgumentParser(
        prog="spanwatch",
        description="Anomaly detection and policy alerting for AI coding-assistant telemetry.",
        formatter_class=Formatter,
    )
    parser.add_argument("--version", action="version", version=f"spanwatch {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_run(sub, cmd_run)
    commands.add_replay(sub, cmd_replay)
    commands.add_report(sub, cmd_report)
    commands.add_simulate(sub, cmd_simulate)
    commands.add_demo(sub, cmd_demo)
    commands.add_rules(sub, cmd_rules)
    commands.add_score(sub, cmd_score)
    commands.add_routes(sub, cmd_routes)
    commands.add_health(sub, cmd_health)
    commands.add_incidents(sub, cmd_incidents)
    commands.add_notify(sub, cmd_notify)
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
