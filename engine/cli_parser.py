"""The `spanwatch` command line's arguments: one function per subcommand, shared groups once.

`engine.cli.build_parser` calls these in order, so it reads as the list of subcommands; each
function here takes the subcommands' group and the function that runs the subcommand, adds its
parser and returns it (a caller may add more arguments to it).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import TypeAlias

from engine.cli_args import (
    Formatter,
    duration,
    event_time,
    positive_int,
    positive_number,
    until_time,
)
from replay.simulator.shape import BATCHING, EXPORTS, SPELLINGS, TRAFFIC, ZONES

CONFIG_ENV = "SPANWATCH_CONFIG"
DEFAULT_API = "http://127.0.0.1:8080"
QUIET_HELP = "no progress line (it is drawn on stderr only when stderr is a terminal)"
REPLAY_EPILOG = """\
exit status:
  0  history replayed, incident log written
  1  nothing replayed (no events, or none between --from and --to): no output written
  2  usage error, bad path, rule or configuration, or a bad line with --strict:
     no output written (an existing --out file is left as it was)
"""

Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Handler: TypeAlias = Callable[[argparse.Namespace], int]


# -- shared pieces --------------------------------------------------------------------------------


def command(
    group: Subcommands, name: str, text: str, epilog: str | None = None
) -> argparse.ArgumentParser:
    """A subcommand whose one-line help is also its description."""
    return group.add_parser(
        name, help=text, description=text, formatter_class=Formatter, epilog=epilog
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


def with_quiet(p: argparse.ArgumentParser, text: str = QUIET_HELP) -> None:
    p.add_argument("--quiet", action="store_true", help=text)


# -- the live engine ------------------------------------------------------------------------------


def add_run(sub: Subcommands, handler: Handler) -> argparse.ArgumentParser:
    p = command(sub, "run", "the live engine: OTLP receivers, dataflow, notifiers, API")
    with_config(p)
    with_rules(p, "+")
    _run_cluster(p)
    p.set_defaults(func=handler)
    return p


def _run_cluster(p: argparse.ArgumentParser) -> None:
    """A Bytewax cluster: N processes here, or this machine's process of several machines."""
    cluster = p.add_mutually_exclusive_group()
    cluster.add_argument(
        "--processes",
        type=positive_int,
        default=1,
        metavar="N",
        help="run as a Bytewax cluster of N processes on this machine (default: 1)",
    )
    cluster.add_argument(
        "--addresses",
        "-a",
        type=_addresses,
        metavar="HOST:PORT,...",
        help="one process per machine: the Bytewax address of every process, in process-id "
        "order (with --process-id; default: none, one process)",
    )
    p.add_argument(
        "--process-id",
        "-i",
        type=_non_negative_int,
        metavar="I",
        help="this machine's process in --addresses (0: the incident book, delivery and API; "
        "default: none)",
    )


def _addresses(text: str) -> tuple[str, ...]:
    found = tuple(a.strip() for a in text.split(",") if a.strip())
    for address in found:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise argparse.ArgumentTypeError(f"{address!r} is not HOST:PORT")
    if not found:
        raise argparse.ArgumentTypeError("no address given")
    return found


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 0 or more")
    return value


def add_health(sub: Subcommands, handler: Handler) -> argparse.ArgumentParser:
    p = command(sub, "health", "exit 0 if the engine configured here answers on its API")
    with_config(p)
    p.add_argument(
        "--api", metavar="URL", help="the API to ask (default: from live.api in the configuration)"
    )
    p.set_defaults(func=handler)
    return p


# -- replay ---------------------------------------------------------------------------------------


def add_replay(sub: Subcommands, handler: Handler) -> argparse.ArgumentParser:
    p = command(
        sub, "replay", "run history through the dataflow, deterministically", epilog=REPLAY_EPILOG
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
    _replay_range(p)
    _replay_execution(p)
    _replay_outputs(p)
    with_quiet(p)
    p.set_defaults(func=handler)
    return p


def _replay_range(p: argparse.ArgumentParser) -> None:
    """Where the incident log goes and which part of the history (and which acks) to replay."""
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


def _replay_execution(p: argparse.ArgumentParser) -> None:
    """How the dataflow runs: workers, processes, memory for sorting."""
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


def _replay_outputs(p: argparse.ArgumentParser) -> None:
    """What a replay delivers or writes besides the incident log."""
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


# -- evidence -------------------------------------------------------------------------------------


def add_report(sub: Subcommands, handler: Handler) -> argparse.ArgumentParser:
    p = command(sub, "report", "evidence documents")
    reports = p.add_subparsers(dest="report_command", required=True, metavar="REPORT")
    q = command(
        reports,
        "compliance",
        "compliance evidence for an audit period: adherence per team and week, drift, "
        "hits per rule, incidents with acknowledgement and resolution, silences, rule set version",
    )
    q.add_argument("paths", nargs="+", metavar="HISTORY", help="history, as for replay")
    with_config(q)
    with_rules(q, 1)
    _compliance_arguments(q)
    q.set_defaults(func=handler)
    return p


def _compliance_arguments(q: argparse.ArgumentParser) -> None:
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


# -- synthetic telemetry --------------------------------------------------------------------------


def add_simulate(sub: Subcommands, handler: Handler) -> argparse.ArgumentParser:
    p = command(sub, "simulate", "synthetic telemetry with labelled incidents")
    _simulated_organisation(p)
    _organisation_shape(p)
    p.add_argument("--out", required=True, metavar="FILE", help="history to write (required)")
    p.add_argument(
        "--truth",
        metavar="FILE",
        help="ground truth of the injected incidents, JSON lines (default: not written)",
    )
    with_quiet(p)
    p.set_defaults(func=handler)
    return p


def _simulated_organisation(p: argparse.ArgumentParser) -> None:
    """How long, how many people, which seed, and which incidents."""
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


def _organisation_shape(p: argparse.ArgumentParser) -> None:
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


def add_demo(sub: Subcommands, handler: Handler) -> argparse.ArgumentParser:
    p = command(sub, "demo", "simulate a small organisation and replay it on the defaults")
    p.add_argument("--days", type=int, default=5, help="days of telemetry")
    p.add_argument("--users", type=int, default=80, help="people in the organisation")
    p.add_argument("--seed", type=int, default=7, help="random seed")
    p.add_argument(
        "--keep",
        metavar="DIR",
        help="keep the generated files here (default: a new temporary directory)",
    )
    p.set_defaults(func=handler)
    return p


# -- rules, detectors, routes ---------------------------------------------------------------------


def add_rules(sub: Subcommands, handler: Handler) -> argparse.ArgumentParser:
    p = command(sub, "rules", "validate or test Sigma rule files")
    actions = p.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    for name, text, paths in (
        ("check", "validate rule files", "rule files, or directories read recursively"),
        (
            "test",
            "run rule unit tests (*.test.yml) against the rules beside them",
            "test files, or directories searched recursively for *.test.yml",
        ),
    ):
        q = command(actions, name, text)
        q.add_argument("paths", nargs="+", metavar="PATH", help=paths)
        with_config(q)
        q.set_defaults(func=handler)
    q = command(
        actions,
        "diff",
        "replay history with two rule sets and list the incidents only one raises "
        "(exit status 1 when they differ)",
    )
    q.add_argument("paths", nargs="+", metavar="HISTORY", help="history, as replay takes it")
    q.add_argument("--base", required=True, metavar="PATH", help="the rules as they are")
    q.add_argument("--candidate", required=True, metavar="PATH", help="the rules proposed")
    with_quiet(q, "no progress line")
    with_config(q)
    q.set_defaults(func=handler)
    return p


def add_score(sub: Subcommands, handler: Handler) -> argparse.ArgumentParser:
    p = command(sub, "score", "anomaly scores for one metric series (CSV)")
    p.add_argument("series", metavar="SERIES.csv", help="timestamp,value rows")
    p.add_argument(
        "--detector",
        metavar="NAME",
        help="a detector kind or default detector id (default: ensemble)",
    )
    p.add_argument("--param", nargs="*", metavar="K=V", help="detector parameters (default: none)")
    p.add_argument("--out", metavar="FILE", help="scores CSV (default: standard output)")
    p.set_defaults(func=handler)
    return p


def add_routes(sub: Subcommands, handler: Handler) -> argparse.ArgumentParser:
    p = command(sub, "routes", "inspect the routing tree")
    actions = p.add_subparsers(dest="routes_command", required=True, metavar="ACTION")
    q = command(actions, "test", "which receivers an incident with these labels reaches")
    q.add_argument(
        "--labels", nargs="+", required=True, metavar="K=V", help="incident labels (required)"
    )
    with_config(q)
    q.set_defaults(func=handler)
    return p


# -- incidents on a running engine ----------------------------------------------------------------

API_HELP = f"the engine's API (default: {DEFAULT_API})"


def add_incidents(sub: Subcommands, handler: Handler) -> argparse.ArgumentParser:
    p = command(sub, "incidents", "list, acknowledge, resolve and silence on a running engine")
    p.add_argument("--api", default=DEFAULT_API, metavar="URL", help=API_HELP)
    actions = p.add_subparsers(dest="incidents_command", required=True, metavar="ACTION")
    _incidents_list(
        _incidents_action(
            actions, handler, "list", "incidents, most severe first, then newest first"
        )
    )
    for name, verb in (("ack", "acknowledge"), ("resolve", "resolve")):
        q = _incidents_action(
            actions, handler, name, f"{verb} an incident (token from SPANWATCH_API_TOKEN)"
        )
        q.add_argument("incident", metavar="ID", help="incident id or fingerprint")
        _author(q)
    _silence(
        _incidents_action(
            actions,
            handler,
            "silence",
            "mute notifications of what matches, for a while (token from SPANWATCH_API_TOKEN)",
        )
    )
    return p


def _incidents_action(
    actions: Subcommands, handler: Handler, name: str, text: str
) -> argparse.ArgumentParser:
    """An action that also takes `--api` after its name."""
    q = command(actions, name, text)
    q.add_argument("--api", default=argparse.SUPPRESS, metavar="URL", help=API_HELP)
    q.set_defaults(func=handler)
    return q


def _author(q: argparse.ArgumentParser) -> None:
    q.add_argument(
        "--by", default=os.environ.get("USER", "cli"), help="who does it (default: $USER)"
    )
    q.add_argument("--comment", default="", help="why (default: empty)")


def _incidents_list(q: argparse.ArgumentParser) -> None:
    q.add_argument(
        "--status",
        choices=("all", "firing", "acknowledged", "resolved"),
        default=None,
        help="which incidents (default: all but resolved)",
    )
    q.add_argument("--json", action="store_true", help="print the incidents as a JSON array")


def _silence(q: argparse.ArgumentParser) -> None:
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
    _author(q)


# -- delivery -------------------------------------------------------------------------------------


def add_notify(sub: Subcommands, handler: Handler) -> argparse.ArgumentParser:
    p = command(sub, "notify", "delivery maintenance")
    actions = p.add_subparsers(dest="notify_command", required=True, metavar="ACTION")
    q = command(actions, "retry-dead-letters", "send the dead-letter file again")
    with_config(q)
    q.set_defaults(func=handler)
    return p
