"""Making spans and Claude Code log records, and batching them into lines like a Collector would.

`SessionBuilder` is one assistant session: every call makes one span (plus, with Claude Code logs
on, the log events Claude Code itself would emit for it) and returns when the span ends.
`Collector` holds encoded records until their 10-second batch window is complete, then writes one
`ExportTraceServiceRequest` line (and one `ExportLogsServiceRequest` line) per window with one
resource per session, in event-time order.
"""

from __future__ import annotations

import bisect
import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import orjson

from replay.simulator.effects import Effects, error_probability, silenced, token_factor
from replay.simulator.otlp_json_encoder import (
    SPAN_KIND_CLIENT,
    SPAN_KIND_INTERNAL,
    STATUS_CODE_ERROR,
    Attribute,
    b_attr,
    d_attr,
    encode,
    i_attr,
    logs_line,
    resource,
    s_attr,
    scope,
    trace_line,
)
from replay.simulator.population import Organisation, Repo, User
from replay.simulator.shape import Speller, Traffic
from replay.simulator.universe import (
    CC_API_ERROR,
    CC_API_REQUEST,
    CC_TOOL_DECISION,
    CC_TOOL_RESULT,
    CC_USER_PROMPT,
    FORBIDDEN_MODEL,
    HAIKU,
    OPUS,
    SONNET,
    SPAN_ASSERTION,
    SPAN_CACHE,
    SPAN_INVOKE,
    SPAN_PR,
    SPAN_SHELL,
    invocation_cost,
)
from replay.timefmt import iso

BATCH_US = 10_000_000
DEFAULT_TRAFFIC = Traffic()
CLAUDE_CODE_VERSION = "2.0.14"
WRAPPER_VERSION = "1.4.2"
SPAN_SCOPE = scope("claude-code-bedrock-wrapper", WRAPPER_VERSION)
LOG_SCOPE = scope("com.anthropic.claude_code.events", CLAUDE_CODE_VERSION)

# Token counts are lognormal (heavy tailed): median input context and median output.
MU_TOKENS_IN = math.log(12_000)
MU_TOKENS_OUT = math.log(450)
# Latency: (time to first token ms, ms per output token); prefill ms per uncached input token.
LATENCY_MODEL = {
    SONNET: (900.0, 18.0),
    HAIKU: (450.0, 7.0),
    OPUS: (1600.0, 32.0),
    FORBIDDEN_MODEL: (2000.0, 40.0),
}
PREFILL_MS_PER_TOKEN = 0.015
# Claude Code's client gives up on a call after this long; it also bounds how far a span's start
# lags behind its batch (spans are exported when they end), which replay's lateness must absorb.
MAX_LATENCY_MS = 120_000
REGION_LATENCY = {"eu-west-1": 1.08, "ap-southeast-1": 1.25}
BASE_ERROR_P = 0.015
# (error.type, share among errors, HTTP status, latency range ms, message)
ERRORS = (
    ("ThrottlingException", 0.55, 429, (80, 400), "Too many requests, please wait"),
    ("ModelTimeoutException", 0.25, 408, (60_000, 90_000), "Model has timed out"),
    ("ServiceUnavailableException", 0.12, 503, (800, 3_000), "Service unavailable"),
    ("ValidationException", 0.08, 400, (100, 300), "Input is too long for requested model"),
)
ERROR_BY_TYPE = {e[0]: e for e in ERRORS}


@dataclass(frozen=True)
class Invocation:
    """What an invocation came to, for the session driving it and for ground truth."""

    end: int
    error: str | None
    cost: float


class _Usage(NamedTuple):
    """What one call used: output tokens, prompt-cache reads, latency, cost in USD."""

    tokens_out: int
    cache_read: int
    latency_ms: int
    cost: float


class _Call(NamedTuple):
    """One invocation as its spans show it."""

    start: int
    end: int
    step: str
    model: str
    region: str
    hit: bool
    tokens_in: int
    error: str | None
    usage: _Usage


class Collector:
    """Encoded records waiting for their batch window; `drain` turns them into lines."""

    def __init__(self, with_logs: bool, per_session: bool = False) -> None:
        self.with_logs = with_logs
        self.per_session = per_session  # one request per session per batch (agents exporting)
        self._pending: list[tuple[int, int, int, int, bytes]] = []
        self._resources: list[tuple[bytes, bytes]] = []
        self._seq = 0
        self.spans = 0
        self.log_records = 0
        self.lines = 0

    def register(self, span_resource: bytes, log_resource: bytes) -> int:
        self._resources.append((span_resource, log_resource))
        return len(self._resources) - 1

    def add(self, t: int, is_log: int, session_no: int, data: bytes) -> None:
        self._seq += 1
        self._pending.append((t, self._seq, is_log, session_no, data))
        if is_log:
            self.log_records += 1
        else:
            self.spans += 1

    def drain(self, before: int | None = None) -> Iterator[bytes]:
        """Lines for every record timed before `before` (all when None), in time order."""
        self._pending.sort()
        cut = len(self._pending) if before is None else bisect.bisect_left(self._pending, (before,))
        ready, self._pending = self._pending[:cut], self._pending[cut:]
        resources = self._resources
        i, n = 0, len(ready)
        while i < n:
            window_end = (ready[i][0] // BATCH_US + 1) * BATCH_US
            spans: dict[int, list[bytes]] = {}
            logs: dict[int, list[bytes]] = {}
            while i < n and ready[i][0] < window_end:
                _, _, is_log, session_no, data = ready[i]
                (logs if is_log else spans).setdefault(session_no, []).append(data)
                i += 1
            if self.per_session:
                for s in dict.fromkeys([*spans, *logs]):
                    if s in spans:
                        self.lines += 1
                        yield trace_line([(resources[s][0], SPAN_SCOPE, spans[s])])
                    if s in logs:
                        self.lines += 1
                        yield logs_line([(resources[s][1], LOG_SCOPE, logs[s])])
                continue
            if spans:
                self.lines += 1
                yield trace_line([(resources[s][0], SPAN_SCOPE, d) for s, d in spans.items()])
            if logs:
                self.lines += 1
                yield logs_line([(resources[s][1], LOG_SCOPE, d) for s, d in logs.items()])


class World:
    """What every session shares: the organisation, the collector, the incident effects."""

    def __init__(
        self,
        org: Organisation,
        collector: Collector,
        effects: Effects,
        until: int,
        traffic: Traffic = DEFAULT_TRAFFIC,
    ) -> None:
        self.org = org
        self.collector = collector
        self.effects = effects
        self.until = until  # the end of the simulated range: later records are cut off
        self.traffic = traffic
        self.spell = Speller()
        self._log_resources: dict[int, bytes] = {}

    def log_resource(self, user: User) -> bytes:
        """Claude Code's resource: its service, plus `OTEL_RESOURCE_ATTRIBUTES` set by IT."""
        found = self._log_resources.get(user.index)
        if found is None:
            found = resource(
                [
                    s_attr("service.name", "claude-code"),
                    s_attr("service.version", CLAUDE_CODE_VERSION),
                    s_attr("os.type", user.os_type),
                    s_attr("host.arch", "arm64" if user.os_type == "darwin" else "amd64"),
                    s_attr("team", user.team.name),
                    s_attr("department", user.team.department),
                    s_attr("cost_center", _cost_center(user)),
                ]
            )
            self._log_resources[user.index] = found
        return found


def _cost_center(user: User) -> str:
    return f"cc-{user.team.department}-{sum(map(ord, user.team.name)) % 900 + 100}"


_CONSTANT_ATTRS: dict[tuple[str, object], Attribute] = {}


def _const(key: str, value: str | bool) -> Attribute:
    """Attributes that repeat (step, model, region, cache_hit) are built once and shared."""
    found = _CONSTANT_ATTRS.get((key, value))
    if found is None:
        found = b_attr(key, value) if isinstance(value, bool) else s_attr(key, value)
        _CONSTANT_ATTRS[(key, value)] = found
    return found


def _span_resource(user: User, repo: Repo, workflow: str, session_id: str) -> bytes:
    """The resource of a session's spans: who, where, in which repository and workflow."""
    return resource(
        [
            s_attr("service.name", "claude-code"),
            s_attr("service.version", CLAUDE_CODE_VERSION),
            s_attr("host.name", user.host),
            s_attr("os.type", user.os_type),
            s_attr("user", user.email),
            s_attr("team", user.team.name),
            s_attr("department", user.team.department),
            s_attr("cost_center", _cost_center(user)),
            s_attr("repo", repo.name),
            s_attr("workflow", workflow),
            s_attr("session.id", session_id),
        ]
    )


def _log_common(world: World, user: User, session_id: str) -> list[Attribute]:
    """The attributes Claude Code puts on every log event of a session."""
    return [
        s_attr("user.id", user.device_id),
        s_attr("session.id", session_id),
        s_attr("app.version", CLAUDE_CODE_VERSION),
        s_attr("organization.id", world.org.organization_id),
        s_attr("user.email", user.email),
        s_attr("user.account_uuid", user.account_uuid),
        s_attr("terminal.type", "vscode" if user.index % 3 == 0 else "iTerm.app"),
    ]


class SessionBuilder:
    """One assistant session of one user in one repository; each method emits one span."""

    def __init__(
        self,
        world: World,
        rng: random.Random,
        user: User,
        repo: Repo,
        workflow: str,
        start: int,
    ) -> None:
        self.world = world
        self.rng = rng
        self.user = user
        self.repo = repo
        self.workflow = workflow
        self.start = start
        self.session_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        self.trace_id = ""
        self.root = ""
        self.invocations = 0
        self.passed_assertion = False
        habits = user.habits
        self.with_logs = world.collector.with_logs and habits.logs
        self.with_spans = habits.spans
        team = user.team.name
        effects = world.effects
        self._ramps = effects.token_ramps.get(team)
        self._bursts = effects.error_bursts.get(user.email)
        self._team_bursts = effects.team_error_bursts.get(team)
        self._cache_collapses = effects.cache_collapses.get(team)
        self._silences = effects.silences.get(team)
        self._effects = effects
        self._spell = world.spell
        span_resource = _span_resource(user, repo, workflow, self.session_id)
        self._no = world.collector.register(span_resource, world.log_resource(user))
        self._log_common = _log_common(world, user, self.session_id)

    # -- spans -------------------------------------------------------------------------------

    def turn(self, t: int) -> None:
        """A new user prompt: a new trace, whose first span becomes its root."""
        self.trace_id = f"{self.rng.getrandbits(128) or 1:032x}"
        self.root = ""
        # Drawn with or without logs, so that turning logs on leaves the spans as they are.
        length = int(self.rng.lognormvariate(5.0, 0.9)) + 5
        if self.with_logs:
            self._log(t, CC_USER_PROMPT, "user_prompt", [s_attr("prompt_length", str(length))])

    def invoke(
        self,
        t: int,
        step: str,
        *,
        model: str | None = None,
        region: str | None = None,
        tokens_scale: float = 1.0,
        tokens_out_scale: float = 1.0,
        cache_p: float | None = None,
        error_p: float | None = None,
    ) -> Invocation:
        """One Bedrock invocation with its prompt-cache lookup; cost from the price table.

        `tokens_scale` scales input and output, `tokens_out_scale` the output once more.
        """
        rng = self.rng
        model = model or self._pick_model()
        region = region or self.user.region
        cache_p = self._cache_p(t, cache_p)
        self.invocations += 1
        hit = rng.random() < cache_p
        scale = tokens_scale * token_factor(self._ramps, t)
        if model == HAIKU:
            scale *= 0.6
        tokens_in = min(200_000, max(300, int(rng.lognormvariate(MU_TOKENS_IN, 0.8) * scale)))
        error = self._error_type() if rng.random() < self._error_p(t, error_p) else None
        if error:
            usage = self._failed(error)
        else:
            usage = self._answered(t, model, region, tokens_in, scale * tokens_out_scale, hit)
        lookup_us = rng.randint(2_000, 25_000)
        end = t + lookup_us + usage.latency_ms * 1000
        call = _Call(t, end, step, model, region, hit, tokens_in, error, usage)
        self._invoke_spans(call, lookup_us)
        if self.with_logs:
            self._call_log(call)
        return Invocation(end, error, usage.cost)

    def _call_log(self, call: _Call) -> None:
        """Claude Code's own event for the call, with the model as its logs spell it."""
        habits, usage = self.user.habits, call.usage
        spelled = self._spell(call.model, habits.log_spelling, call.region, habits.upper)
        self._invoke_log(
            call.start, call.end, spelled, call.error, usage.cost, usage.latency_ms,
            call.tokens_in, usage.tokens_out, usage.cache_read,
        )  # fmt: skip

    def _cache_p(self, t: int, cache_p: float | None) -> float:
        """The chance of a prompt-cache hit: low on a session's first call, lower in a collapse."""
        if cache_p is None:
            cache_p = 0.8 if self.invocations else 0.25
        if self._cache_collapses:
            cache_p = error_probability(self._cache_collapses, t, cache_p)
        return cache_p

    def _error_p(self, t: int, error_p: float | None) -> float:
        """The chance of a failure: the base rate, or the user's or team's burst at `t`."""
        if error_p is None:
            error_p = error_probability(self._bursts, t, BASE_ERROR_P)
            if self._team_bursts:
                error_p = max(error_p, error_probability(self._team_bursts, t, BASE_ERROR_P))
        return error_p

    def _failed(self, error: str) -> _Usage:
        """A failed call: no output, no cost, the error type's latency."""
        low, high = ERROR_BY_TYPE[error][3]
        return _Usage(0, 0, self.rng.randint(low, high), 0.0)

    def _answered(
        self, t: int, model: str, region: str, tokens_in: int, out_scale: float, hit: bool
    ) -> _Usage:
        """An answered call: output tokens, cache reads, latency (with any slowdown), cost."""
        rng = self.rng
        tokens_out = min(8192, max(1, int(rng.lognormvariate(MU_TOKENS_OUT, 0.9) * out_scale)))
        cache_read = int(tokens_in * rng.uniform(0.6, 0.95)) if hit else 0
        first_token, per_token = LATENCY_MODEL[model]
        ms = first_token + tokens_out * per_token + (tokens_in - cache_read) * PREFILL_MS_PER_TOKEN
        ms *= rng.lognormvariate(0.0, 0.25) * REGION_LATENCY.get(region, 1.0)
        ms *= self._effects.latency_factor(model, region, t)
        latency_ms = min(int(ms), MAX_LATENCY_MS)
        cost = invocation_cost(model, tokens_in, tokens_out, cache_read)
        return _Usage(tokens_out, cache_read, latency_ms, cost)

    def _invoke_spans(self, call: _Call, lookup_us: int) -> None:
        """The invocation's span and, inside it, its prompt-cache lookup's."""
        habits, usage, t = self.user.habits, call.usage, call.start
        attrs = [
            _const("step", call.step),
            _const("model", self._spell(call.model, habits.spelling, call.region, habits.upper)),
            _const("region", call.region),
            i_attr("tokens_in", call.tokens_in),
            i_attr("tokens_out", usage.tokens_out),
            i_attr("latency_ms", usage.latency_ms),
            d_attr("cost_estimate", usage.cost),
            _const("cache_hit", call.hit),
            i_attr("cache_read_tokens", usage.cache_read),
        ]
        status = None
        if call.error:
            attrs.append(s_attr("error.type", call.error))
            message = f"{call.error}: {ERROR_BY_TYPE[call.error][4]}"
            status = {"code": STATUS_CODE_ERROR, "message": message}
        invoke_id = self._span(SPAN_INVOKE, SPAN_KIND_CLIENT, t, call.end, attrs, status)
        self._span(
            SPAN_CACHE,
            SPAN_KIND_INTERNAL,
            t + 500,
            t + 500 + lookup_us,
            [_const("step", call.step), _const("cache_hit", call.hit)],
            parent=invoke_id,
            activity=(t, call.end),  # arrives, or not, with its invocation
        )

    def shell(
        self, t: int, step: str, command: str, *, exit_code: int = 0, seconds: float | None = None
    ) -> int:
        """A shell command the assistant ran (after the user or the config allowed it)."""
        if seconds is None:
            seconds = min(120.0, self.rng.lognormvariate(0.0, 1.1))
        end = t + int(seconds * 1_000_000)
        attrs = [_const("step", step), s_attr("command", command), i_attr("exit_code", exit_code)]
        self._span(SPAN_SHELL, SPAN_KIND_INTERNAL, t, end, attrs)
        if self.with_logs:
            self._tool_logs(t, end, command, exit_code == 0)
        return end

    def assertion(self, t: int, step: str, name: str, passed: bool, seconds: float) -> int:
        end = t + int(seconds * 1_000_000)
        attrs = [
            _const("step", step),
            s_attr("assertion.name", name),
            b_attr("assertion.passed", passed),
        ]
        self._span(SPAN_ASSERTION, SPAN_KIND_INTERNAL, t, end, attrs)
        # Only a pass that reaches the telemetry counts: one lost in a silence shows nothing.
        self.passed_assertion = self.passed_assertion or (passed and not self._cut(t, end))
        return end

    def pr(self, t: int, base: str, head: str) -> tuple[int, str]:
        end = t + self.rng.randint(800_000, 3_000_000)
        url = f"https://github.com/{self.repo.name}/pull/{self.rng.randint(100, 9999)}"
        attrs = [
            _const("step", "ship"),
            s_attr("pr.base", base),
            s_attr("pr.head", head),
            s_attr("pr.url", url),
        ]
        self._span(SPAN_PR, SPAN_KIND_INTERNAL, t, end, attrs)
        return end, url

    # -- internals ---------------------------------------------------------------------------

    def _pick_model(self) -> str:
        roll = self.rng.random()
        for model, share in self.user.models:
            roll -= share
            if roll < 0:
                return model
        return self.user.models[0][0]

    def _error_type(self) -> str:
        roll = self.rng.random()
        for name, share, *_ in ERRORS:
            roll -= share
            if roll < 0:
                return name
        return ERRORS[0][0]

    def _span(
        self,
        name: str,
        kind: int,
        start: int,
        end: int,
        attrs: list[Attribute],
        status: dict[str, object] | None = None,
        parent: str | None = None,
        activity: tuple[int, int] | None = None,
    ) -> str:
        span_id = f"{self.rng.getrandbits(64) or 1:016x}"
        if not self.with_spans or self._cut(*(activity or (start, end))):
            return span_id
        if parent is None:
            parent = self.root
            if not parent:
                self.root = span_id
        span: dict[str, object] = {"traceId": self.trace_id, "spanId": span_id}
        if parent:
            span["parentSpanId"] = parent
        span["name"] = name
        span["kind"] = kind
        span["startTimeUnixNano"] = f"{start}000"
        span["endTimeUnixNano"] = f"{end}000"
        span["attributes"] = attrs
        if status:
            span["status"] = status
        self.world.collector.add(end, 0, self._no, encode(span))
        return span_id

    def _cut(self, began: int, ended: int) -> bool:
        """Activity begun after the range, or touching a silence of the team, never arrives.

        Both ends count: a silent team sends nothing stamped inside its silence, not even the
        log record at the end of a call begun just before it.
        """
        if began >= self.world.until:
            return True
        return bool(self._silences) and (
            silenced(self._silences, began) or silenced(self._silences, ended)
        )

    def _log(
        self,
        t: int,
        body: str,
        event: str,
        attrs: list[Attribute],
        began: int | None = None,
        ended: int | None = None,
    ) -> None:
        """`began`..`ended`: the activity logged; kept or cut (range end, silence) like its span."""
        began = t if began is None else began
        if self._cut(began, t if ended is None else ended):
            return
        record = {
            "timeUnixNano": f"{t}000",
            "body": {"stringValue": body},
            "attributes": [
                *self._log_common,
                s_attr("event.name", event),
                s_attr("event.timestamp", iso(t / 1_000_000)),
                *attrs,
            ],
        }
        self.world.collector.add(t, 1, self._no, encode(record))

    def _invoke_log(
        self,
        began: int,
        t: int,
        model: str,
        error: str | None,
        cost: float,
        latency_ms: int,
        tokens_in: int,
        tokens_out: int,
        cache_read: int,
    ) -> None:
        # Claude Code reports every attribute as a string, input tokens without cache reads.
        if error:
            _, _, status_code, _, message = ERROR_BY_TYPE[error]
            attrs = [
                s_attr("model", model),
                s_attr("error", f"{error}: {message}"),
                s_attr("status_code", str(status_code)),
                s_attr("duration_ms", str(latency_ms)),
                s_attr("attempt", "1"),
            ]
            self._log(t, CC_API_ERROR, "api_error", attrs, began)
            return
        attrs = [
            s_attr("model", model),
            s_attr("cost_usd", repr(cost)),
            s_attr("duration_ms", str(latency_ms)),
            s_attr("input_tokens", str(tokens_in - cache_read)),
            s_attr("output_tokens", str(tokens_out)),
            s_attr("cache_read_tokens", str(cache_read)),
            s_attr("cache_creation_tokens", "0"),
        ]
        self._log(t, CC_API_REQUEST, "api_request", attrs, began)

    def _tool_logs(self, start: int, end: int, command: str, success: bool) -> None:
        decision = [
            s_attr("tool_name", "Bash"),
            s_attr("decision", "accept"),
            s_attr("source", "config"),
        ]
        self._log(start, CC_TOOL_DECISION, "tool_decision", decision, start, end)
        parameters = orjson.dumps({"bash_command": command, "full_command": command}).decode()
        result = [
            s_attr("tool_name", "Bash"),
            s_attr("success", "true" if success else "false"),
            s_attr("duration_ms", str((end - start) // 1000)),
            s_attr("decision", "accept"),
            s_attr("source", "config"),
            s_attr("tool_parameters", parameters),
        ]
        self._log(end, CC_TOOL_RESULT, "tool_result", result, start)
