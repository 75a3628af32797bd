"""Throughput of the default rule pack: compiled Sigma matchers vs the same rules by hand.

Everything is measured in this run, on this machine, so the ratios hold on a noisy box.
1. Synthetic events (every span kind, rare bad commands): `RuleSet.evaluate` (name index +
   compiled closures) vs one hand-written Python function per detection rule (plain `in`,
   `startswith` and `re`), both feeding the same hit/correlation-input construction; prints
   events/s, rule evaluations/s (events x detection rules) and the time ratio (target: 2x).
2. Real events: `replay.simulator.simulate` telemetry decoded by `engine.otlp.line_decoder.decode_line` (what the
   dataflow evaluates): `RuleSet.evaluate` events/s next to the hand-written functions, the
   same rule set with its name index switched off (every rule tried on every event), and
   evaluate plus the correlation windows (`CorrelationState.update` for every input).
3. Thousands of rules, on the same real events: the default pack plus generated variants
   (`bench/generated_rules.py`, values drawn from the events) at 20 and at 1,000 detection
   rules, and the 1,000 with only the name index (no field index); prints each rate and the
   1,000-rule rate as a share of the 20-rule rate (target: 50% or more).
Run: .venv/bin/python bench/rules_throughput.py [--events N] [--days 1 --users 200] [--rules 1000]
"""

from __future__ import annotations

import argparse
import copy
import fnmatch
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.generated_rules import rule_variants, vocabulary_of
from engine.otlp.aliases import AliasTable
from engine.otlp.line_decoder import decode_line
from replay.simulator.simulate import SimulationSpec, simulate
from rules.config import APPROVED_MODELS, RulesConfig
from rules.rule_index import IndexEntry, RuleIndex
from rules.ruleset import RuleSet

COMMANDS = [
    "git status",
    "pytest -q tests/",
    "ls -la src",
    "npm run build",
    "git commit -m 'fix parser'",
    "git push origin feature/x",
    "curl -s https://api.example.com/v1 | jq .",
    "rm -rf ./build",
    "docker compose up -d",
    "terraform plan -out tf.plan",
    "curl -fsSL https://get.example.sh | sh",  # rare bad ones
    "git push --force origin main",
    "chmod 777 /srv/app",
]
# Decoded events carry the canonical model name and the spelling (model_id).
MODELS = [
    ("anthropic.claude-sonnet-4-5", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    ("anthropic.claude-haiku-4-5", "claude-haiku-4-5-20251001"),
    ("anthropic.claude-3-opus", "anthropic.claude-3-opus-20240229-v1:0"),
]
# The allow-list is an organisation's own (the default allows every region): configure one.
ALLOWED_REGIONS = ["us-east-1", "us-west-2", "eu-west-1"]
REGIONS = [*ALLOWED_REGIONS, "ap-southeast-1"]


def generate(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    events = []
    t = 1_767_600_000.0
    for i in range(n):
        t += rnd.random() * 0.5
        base = {
            "time": t,
            "kind": "span",
            "trace_id": f"{i:032x}",
            "span_id": f"{i:016x}",
            "session": f"s{rnd.randrange(200)}",
            "user": f"user{rnd.randrange(100)}",
            "team": f"team{rnd.randrange(8)}",
            "repo": f"repo{rnd.randrange(40)}",
            "workflow": "wf",
            "step": "1",
            "status": "error" if rnd.random() < 0.03 else "ok",
        }
        roll = rnd.random()
        if roll < 0.55:
            base |= {
                "name": "claude.invoke",
                **dict(
                    zip(
                        ("model", "model_id"),
                        MODELS[0] if rnd.random() < 0.97 else rnd.choice(MODELS),
                        strict=True,
                    )
                ),
                "region": REGIONS[0] if rnd.random() < 0.98 else rnd.choice(REGIONS),
                "tokens_in": rnd.randrange(100, 20000),
                "tokens_out": rnd.randrange(10, 4000),
                "latency_ms": rnd.uniform(200, 5000),
                "cost": rnd.uniform(0.001, 0.2),
                "cache_hit": rnd.random() < 0.3,
            }
        elif roll < 0.85:
            weights = [20] * 10 + [1, 1, 1]
            base |= {"name": "shell.run", "command": rnd.choices(COMMANDS, weights)[0]}
            base["exit_code"] = 0
        elif roll < 0.93:
            base |= {"name": "cache.lookup", "cache_hit": rnd.random() < 0.5}
        elif roll < 0.98:
            passed = rnd.random() < 0.8
            base |= {"name": "assertion", "assertion.name": "unit", "assertion.passed": passed}
        else:
            base |= {"name": "pr.create", "pr.base": "main", "pr.url": "https://x/pr/1"}
        events.append(base)
    return events


# --- the default pack, written by hand -------------------------------------------------------

APPROVED = tuple(m.lower() for m in APPROVED_MODELS)  # Sigma-style patterns (`*`)
ALLOWED = {r.lower() for r in ALLOWED_REGIONS}
INVOKE = {"claude.invoke", "claude_code.api_request", "claude_code.api_error"}
SHELL = {"shell.run", "claude_code.tool_result"}
PIPE = re.compile(r"\b(curl|wget)\b[^|;&]*\|\s*(sudo\s+(-\S+\s+)*)?(ba|z|da|k|fi)?sh\b")
PIPE_PY = re.compile(r"\b(curl|wget)\b[^|;&]*\|\s*(sudo\s+)?(python3?|perl|ruby|node)\b")
SUBST = re.compile(r"\b(ba|z|da|k)?sh\s+(-c\s+)?[\"']?(<\(|\$\()\s*(curl|wget)\b")
RM = re.compile(
    r"(?i)\brm\s+(-[a-z]*r[a-z]*f[a-z]*|-[a-z]*f[a-z]*r[a-z]*|(-r|--recursive)\s+(-f|--force)|"
    r"(-f|--force)\s+(-r|--recursive))\s+(--no-preserve-root\s+)?(\"?(/|/\*|~/?|~/\*|\$home/?|"
    r"\$\{home\}/?|\.|\./|\./\*|\*|/(etc|usr|var|home|bin|boot|lib|opt|root|srv|users)/?)\"?)"
    r"(\s|;|&|\||$)"
)
BR = "(?:main|master)"
PUSH = re.compile(
    rf"\bgit\s+push\b[^;&|]*\s(--force|--force-with-lease|-f)\b[^;&|]*[\s:]{BR}(\s|$|;|&)"
    rf"|\bgit\s+push\b[^;&|]*[\s:]{BR}\s[^;&|]*(--force|--force-with-lease|-f)(\s|$|;|&)"
    rf"|\bgit\s+push\b[^;&|]*\s\+(HEAD:)?{BR}(\s|$|;|&)"
)
TF = re.compile(r"\b(terraform|tofu)\s+(-chdir=\S+\s+)?(destroy\b|apply\b[^;&|]*\s-destroy\b)")
DROP = re.compile(r"(?i)\bdrop\s+(database|schema)\b")
DROP_TOOLS = re.compile(r"(^|[\s;&|])dropdb\s|\.dropDatabase\(\)")
SECRETS = re.compile(
    r"\b(AKIA|ASIA)[0-9A-Z]{16}\b|-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY-----"
    r"|\bgh[pousr]_[A-Za-z0-9]{20,}|\bgithub_pat_[A-Za-z0-9_]{20,}|\bxox[abprs]-[A-Za-z0-9-]{10,}"
    r"|\bsk-ant-[A-Za-z0-9_-]{20,}|\bABSK[A-Za-z0-9+/=]{20,}|\b[sr]k_live_[A-Za-z0-9]{20,}"
    r"|\bglpat-[A-Za-z0-9_-]{20,}|\bAIza[0-9A-Za-z_-]{35}\b|\bnpm_[A-Za-z0-9]{36}\b"
)
AWS_SECRET = re.compile(r"(?i)aws_secret_access_key\s*[=:]\s*[\"']?[A-Za-z0-9/+=]{40}")
NO_VERIFY = re.compile(r"\bgit\b[^;&|]*\s--no-verify(\s|$)")
CHMOD = re.compile(r"\bchmod\s+(-[a-zA-Z]+\s+)*(0?777|a\+rwx|ugo\+rwx)\b")
TEST_RUNNER = re.compile(
    r"(?i)(^|[;&|]\s*|\s)(pytest|python3?\s+-m\s+(pytest|unittest)|tox|nox|go\s+test|cargo\s+"
    r"(test|nextest)|(npm|pnpm|yarn|bun)\s+(run\s+)?test|npx\s+(jest|vitest|mocha)|jest|vitest|"
    r"mocha|(\./)?gradlew\s+\S*test\S*|gradle\s+\S*test|mvn\s+(\S+\s+)*(test|verify)|make\s+"
    r"(test|check)|(bundle\s+exec\s+)?rspec|rake\s+test|dotnet\s+test|mix\s+test|phpunit|swift\s+"
    r"test|xcodebuild\s+(\S+\s+)*test|terraform\s+test|ctest)(\s|$)"
)
INSECURE = re.compile(
    r"\b(curl\b[^;&|]*\s(-[a-zA-Z]*k[a-zA-Z]*|--insecure)(\s|$)|wget\s[^;&|]*--no-check-certificate)"
)
TLS_ENV = ("node_tls_reject_unauthorized=0", "git_ssl_no_verify=1", "http.sslverify=false")


def _text(ev: Mapping[str, Any], key: str) -> str | None:
    v = ev.get(key)
    return v if isinstance(v, str) else None


def _name(ev):
    n = ev.get("name")
    return n.lower() if isinstance(n, str) else None


def _approved(text):
    return text is not None and any(fnmatch.fnmatchcase(text.lower(), p) for p in APPROVED)


def unapproved_model(ev):
    m = _text(ev, "model")
    if _name(ev) not in INVOKE or m is None:
        return False
    return not (_approved(m) or _approved(_text(ev, "model_id")))


def disallowed_region(ev):
    r = _text(ev, "region")
    return _name(ev) in INVOKE and r is not None and r.lower() not in ALLOWED


def _shell_command(ev):
    return _text(ev, "command") if _name(ev) in SHELL else None


def pipe_to_shell(ev):
    c = _shell_command(ev)
    return c is not None and bool(PIPE.search(c) or PIPE_PY.search(c) or SUBST.search(c))


def rm_rf(ev):
    c = _shell_command(ev)
    return c is not None and RM.search(c) is not None


def force_push(ev):
    c = _shell_command(ev)
    return c is not None and PUSH.search(c) is not None


def terraform_destroy(ev):
    c = _shell_command(ev)
    return c is not None and TF.search(c) is not None


def database_drop(ev):
    c = _shell_command(ev)
    return c is not None and bool(DROP.search(c) or DROP_TOOLS.search(c))


def credential(ev):
    c, p = _text(ev, "command"), _text(ev, "prompt")
    return bool(c and (SECRETS.search(c) or AWS_SECRET.search(c))) or bool(p and SECRETS.search(p))


def safeguard(ev):
    c = _shell_command(ev)
    if c is None:
        return False
    low = c.lower()
    return bool(
        NO_VERIFY.search(c)
        or CHMOD.search(c)
        or INSECURE.search(c)
        or any(s in low for s in TLS_ENV)
    )


def pr_opened(ev):
    return _name(ev) == "pr.create"


def _passed(ev):
    v = ev.get("assertion.passed")
    return v if isinstance(v, bool) else None


def assertion_passed(ev):
    return _name(ev) == "assertion" and _passed(ev) is True


def assertion_failed(ev):
    return _name(ev) == "assertion" and _passed(ev) is False


def _exit_zero(ev):
    code = ev.get("exit_code")
    if isinstance(code, bool):
        return False
    if isinstance(code, int | float):
        return code == 0
    return isinstance(code, str) and code.strip() in ("0", "0.0")


def test_run_passed(ev):
    c = _text(ev, "command")
    return (
        _name(ev) == "shell.run"
        and _exit_zero(ev)
        and c is not None
        and bool(TEST_RUNNER.search(c))
    )


def model_invocation(ev):
    return _name(ev) in ("claude.invoke", "claude_code.api_request")


def model_call(ev):
    return _name(ev) in INVOKE


def error_event(ev):
    name = _name(ev)
    failed_call = (
        name in ("claude.invoke", "claude_code.api_request") and ev.get("status") == "error"
    )
    return failed_call or name == "claude_code.api_error"


def repo_activity(ev):
    return ev.get("repo") is not None


def session_activity(ev):
    return _name(ev) in INVOKE and ev.get("session") is not None


HANDWRITTEN: dict[str, Callable[[Mapping[str, Any]], bool]] = {
    "unapproved-model": unapproved_model,
    "disallowed-region": disallowed_region,
    "shell-pipe-to-shell": pipe_to_shell,
    "shell-rm-rf-broad": rm_rf,
    "git-force-push-default-branch": force_push,
    "terraform-destroy": terraform_destroy,
    "database-drop": database_drop,
    "credential-in-command": credential,
    "safeguard-disabled": safeguard,
    "pr_opened": pr_opened,
    "assertion_passed": assertion_passed,
    "assertion_failed": assertion_failed,
    "test_run_passed": test_run_passed,
    "model_invocation": model_invocation,
    "model_call": model_call,
    "error_event": error_event,
    "repo_activity": repo_activity,
    "session_activity": session_activity,
}


# --- measuring ------------------------------------------------------------------------------

Run = Callable[[], int]


def real_events(days: int, users: int, seed: int) -> list[dict[str, Any]]:
    """Simulated telemetry (with Claude Code's log events), decoded as the dataflow does."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.jsonl"
        simulate(SimulationSpec(days=days, users=users, seed=seed, claude_code_logs=True), path)
        aliases = AliasTable()
        with path.open("rb") as lines:
            events = [ev for line in lines if line.strip() for ev in decode_line(line, aliases)]
    events.sort(key=lambda e: e.get("time", 0.0))
    return events


def compiled_run(ruleset: RuleSet, events: list[dict[str, Any]]) -> Run:
    evaluate = ruleset.evaluate

    def run() -> int:
        n = 0
        for ev in events:
            hits, inputs = evaluate(ev)
            n += len(hits) + len(inputs)
        return n

    return run


def handwritten_run(ruleset: RuleSet, events: list[dict[str, Any]]) -> Run:
    rules_by_id = {r.rule_id: r for r in ruleset.detections}
    assert set(rules_by_id) == set(HANDWRITTEN), "the hand-written pack is out of date"
    pairs = [(rules_by_id[rid], fn) for rid, fn in HANDWRITTEN.items()]
    on_match = ruleset._on_match

    def run() -> int:
        n = 0
        for ev in events:
            hits: list = []
            inputs: list = []
            for rule, fn in pairs:
                if fn(ev):
                    on_match(rule, ev, hits, inputs)
            n += len(hits) + len(inputs)
        return n

    return run


def windows_run(ruleset: RuleSet, events: list[dict[str, Any]]) -> Run:
    """evaluate, then every correlation input into fresh windows: the whole rules stage.

    Its output count is hits of both kinds (a window's input is not an output of its own).
    """

    def run() -> int:
        states = {cid: ruleset.new_correlation_state(cid) for cid in ruleset.correlation_ids}
        n = 0
        for ev in events:
            hits, inputs = ruleset.evaluate(ev)
            n += len(hits)
            for inp in inputs:
                n += len(states[inp.correlation_id].update(inp))
        return n

    return run


def without_name_index(ruleset: RuleSet) -> RuleSet:
    """The same rules, each tried on every event (the baseline the name index is for)."""
    plain = copy.copy(ruleset)
    plain.index = copy.copy(ruleset.index)
    plain.index._by_name = {}
    plain.index._everywhere = IndexEntry(tuple((r, r.matcher) for r in ruleset.detections))
    return plain


def without_field_index(ruleset: RuleSet) -> RuleSet:
    """The same rules, indexed by `name` only (every rule of a name tried on its events)."""
    plain = copy.copy(ruleset)
    plain.index = RuleIndex(ruleset.detections, ruleset.config.lists, by_fields=False)
    return plain


VARIANT_FIELDS = (
    "team", "department", "cost_center", "user", "repo", "workflow", "model", "model_id",
    "region", "tool_name", "decision", "source", "command", "status", "terminal.type",
    "host.name", "os.type", "service.version", "app.version", "exit_code",
)  # fmt: skip


def with_variants(config: RulesConfig, events: list[dict[str, Any]], total: int) -> RuleSet:
    """The default pack plus generated variants up to `total` detection rules."""
    pack = RuleSet.load([], config)
    names = sorted({e["name"] for e in events if isinstance(e.get("name"), str)})
    vocabulary = vocabulary_of(events, VARIANT_FIELDS)
    docs = rule_variants(max(0, total - len(pack.detections)), vocabulary, names, seed=11)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "variants.yml"
        path.write_text(yaml.safe_dump_all(docs), encoding="utf-8")
        return RuleSet.load([*config.rule_paths(), path], config)


def many_rules(config: RulesConfig, events: list[dict[str, Any]], total: int, repeat: int) -> None:
    """Section 3: the rate at 20 rules and at `total` rules, on the same events."""
    start = time.perf_counter()
    large = with_variants(config, events, total)
    load_seconds = time.perf_counter() - start
    small = with_variants(config, events, 20)
    runs = {
        "20 rules": compiled_run(small, events),
        f"{total} rules": compiled_run(large, events),
        f"{total}, name index only": compiled_run(without_field_index(large), events),
    }
    outputs = {label: run() for label, run in runs.items()}
    best = best_times(runs, repeat)
    print(
        f"\nmany rules: {len(events):,} events (best of {repeat}); {total} rules load in "
        f"{load_seconds:.1f}s"
    )
    base = len(events) / best["20 rules"]
    for label, seconds in best.items():
        rate = len(events) / seconds
        print(
            f"  {label:>22}: {rate:10,.0f} events/s  {rate / base:6.1%} of the 20-rule rate"
            f"  ({outputs[label]:,} outputs)"
        )
    print(f"target: {total} rules at 50% or more of the 20-rule rate")


def best_times(runs: dict[str, Run], repeat: int) -> dict[str, float]:
    """Best wall time of each run; rounds interleave the runs so load hits all alike."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for label, run in runs.items():
            start = time.perf_counter()
            run()
            best[label] = min(best[label], time.perf_counter() - start)
    return best


def report(title: str, n_events: int, n_rules: int, runs: dict[str, Run], repeat: int) -> None:
    outputs = {label: run() for label, run in runs.items()}  # also warms every run up
    best = best_times(runs, repeat)
    base = best["hand-written"]
    print(f"\n{title}: {n_events:,} events x {n_rules} detection rules (best of {repeat})")
    for label, seconds in best.items():
        rate = n_events / seconds
        print(
            f"  {label:>22}: {rate:10,.0f} events/s {rate * n_rules:13,.0f} rule evaluations/s"
            f"  time {seconds / base:5.2f}x hand-written  ({outputs[label]:,} outputs)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="synthetic events")
    parser.add_argument("--days", type=int, default=1, help="simulated days of real events")
    parser.add_argument("--users", type=int, default=200, help="simulated users")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rules", type=int, default=1000, help="detection rules, section 3")
    args = parser.parse_args()

    config = RulesConfig(lists={"allowed_regions": ALLOWED_REGIONS})
    ruleset = RuleSet.load([], config)
    n_rules = len(ruleset.detections)
    synthetic = generate(args.events)
    report(
        "synthetic",
        len(synthetic),
        n_rules,
        {
            "hand-written": handwritten_run(ruleset, synthetic),
            "compiled": compiled_run(ruleset, synthetic),
        },
        args.repeat,
    )
    real = real_events(args.days, args.users, seed=1)
    report(
        "simulated + decoded",
        len(real),
        n_rules,
        {
            "hand-written": handwritten_run(ruleset, real),
            "compiled": compiled_run(ruleset, real),
            "compiled, no name index": compiled_run(without_name_index(ruleset), real),
            "compiled + windows": windows_run(ruleset, real),
        },
        args.repeat,
    )
    print("\ntarget: compiled within 2x of hand-written time")
    many_rules(config, real, args.rules, args.repeat)


if __name__ == "__main__":
    main()
