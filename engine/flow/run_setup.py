"""What a run is made of: the loaded rules, detectors and incident settings, and where
each kind of item goes. The dataflow's steps are thin shells around this object."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

from compliance.live_drift import DETECTOR_ID as DRIFT_ID
from compliance.live_drift import AdherenceDrift
from detectors.detectorset import DetectorSet, DetectorState
from detectors.model import Observation, Signal
from detectors.slice_state import SliceState
from engine.compliance_drift import day_closed, drift_observation, new_drift_state
from engine.config import SpanwatchConfig
from engine.flow.quarantine import Quarantine
from engine.flow.worker_keys import routing_keys
from engine.incidents.model import Hit
from engine.otlp.aliases import AliasTable
from engine.otlp.json_value import Event
from engine.restored_state import restored_detector, restored_drift
from engine.yamlfile import ConfigError
from rules import ruleset as _ruleset
from rules.evidence import Evidence, EvidenceSource
from rules.model import CorrelationInput, RuleHit

INCIDENTS = "incidents"
ORDER = "order"
CORRELATION_WEIGHT = 0.25  # of a detector's, in a shard's share of the work
# What the order or the incident stage costs per event, in a detector's observations (measured
# in replay: about 7 µs an event each, next to 20-26 µs an observation).
PINNED_OBSERVATIONS = 0.3


def rule_hit(hit: RuleHit) -> Hit:
    return Hit(
        source="rule",
        rule_id=hit.rule_id,
        title=hit.title,
        severity=hit.severity,
        time=hit.time,
        group=dict(hit.group),
        labels=dict(hit.labels),
        evidence=_own(hit.raw_evidence),
        runbook=hit.runbook,
        resolve_after=hit.resolve_after,
        noise_budget=hit.noise_budget,
        produces=hit.produces,
    )


def _own(evidence: Evidence) -> Evidence:
    """A window's evidence copied; a matched event's raw values are a tuple, shared safely."""
    return evidence if type(evidence) is EvidenceSource else dict(cast(dict[str, Any], evidence))


def signal_hit(signal: Signal) -> Hit:
    return Hit(
        source="detector",
        rule_id=signal.detector_id,
        title=signal.title,
        severity=signal.severity,
        time=signal.time,
        group=dict(signal.group),
        labels=dict(signal.labels),
        evidence=dict(signal.evidence),
        runbook=signal.runbook,
        resolved=not signal.firing,
        score=signal.score,
        noise_budget=signal.noise_budget,
        resolve_after=getattr(signal, "resolve_after", None),  # signals saved before it existed
    )


def check_produces(config: SpanwatchConfig, rule_ids: Sequence[str]) -> None:
    """`rules.produces` may only name rules that are loaded: a misspelt id would leave the
    rule paging (or silent) with nothing said. ConfigError at the id's line."""
    known = set(rule_ids)
    unknown = [rid for rid in config.rules.produces if rid not in known]
    if unknown:
        raise ConfigError(
            [
                config.problem(f"rules.produces.{rid}", f"no loaded rule has the id {rid!r}")
                for rid in unknown
            ]
        )


def rule_paths(config: SpanwatchConfig, override: Sequence[str] | None = None) -> list[str]:
    """`--rules` replaces the configured packs and paths."""
    if override:
        return list(override)
    return [str(p) for p in config.rules.rule_paths()]


def _shard(ident: str, prefix: str, count: int) -> str:
    return f"{prefix}{zlib.crc32(ident.encode()) % count}"


@dataclass(frozen=True)
class EventTimeRange:
    """Replay's `--from`/`--to`: the events it takes, by event time (None: unbounded)."""

    start: float | None = None
    end: float | None = None

    def __contains__(self, t: float) -> bool:
        return (self.start is None or t >= self.start) and (self.end is None or t < self.end)


class RunSetup:
    """Loaded once per run; read-only afterwards, so every worker may share it."""

    def __init__(
        self,
        config: SpanwatchConfig,
        *,
        rules: Sequence[str] | None = None,
        time_range: EventTimeRange = EventTimeRange(),
        all_shards: bool = False,
        quarantine: Quarantine | None = None,
    ) -> None:
        self.config = config
        self.quarantine = quarantine if quarantine is not None else Quarantine()
        # live: senders known before they send (Kafka partitions), which the watermark waits for
        self.expected_sources: list[str] = []
        self.aliases = AliasTable(config.aliases, models=config.models.catalog())
        self.rule_paths = rule_paths(config, rules)
        self.detectors = DetectorSet.from_config(config.detectors)
        self.time_range = time_range
        shards = config.stream.shards
        self.rules = LoadedRules(_ruleset.RuleSet.load(self.rule_paths, config.rules), shards, 0)
        check_produces(config, self.rules.ruleset.rule_ids)
        self.det_shard = {d: _shard(d, "d", shards) for d in self.detectors.detector_ids}
        drift = config.compliance.drift
        self.drift = drift.params() if drift.enabled else None
        if self.drift is not None:  # the compliance drift detector, in a detector shard
            self.det_shard[DRIFT_ID] = _shard(DRIFT_ID, "d", shards)
        used = set(self.rules.shard_of.values()) | set(self.det_shard.values())
        if all_shards:  # live: every shard exists, so a reloaded rule set may use any of them
            used |= {f"c{i}" for i in range(shards)} | {f"d{i}" for i in range(shards)}
        self.shard_names = sorted(used)
        self.dests = [INCIDENTS, *self.shard_names]
        self.keys = routing_keys(self._shard_weights(), 1, {ORDER: 0, INCIDENTS: 0})

    def spread_over(self, workers: int, sample: Sequence[Event] = ()) -> None:
        """Route the order and incident stages to worker 0, where the results are written,
        and the shards over every worker of the cluster, weighed by the inputs they would take
        from `sample` (events spread through the history), else by what they hold."""
        weights = self._sampled_weights(sample) if sample else self._shard_weights()
        self.keys = routing_keys(weights, workers, {ORDER: 0, INCIDENTS: 0})

    def _sampled_weights(self, sample: Sequence[Event]) -> dict[str, float]:
        """Each shard's inputs per event of `sample`, in what a stage pinned to worker 0 costs.

        What a detector holds says little of its work: one that observes every event costs
        several that observe one kind of event in ten."""
        weights = dict.fromkeys(self.shard_names, 0.0)
        for event in sample:
            for shard, item in self.match(event)[1]:
                is_correlation = isinstance(item, CorrelationInput)
                weights[shard] += CORRELATION_WEIGHT if is_correlation else 1.0
        scale = 1.0 / (len(sample) * PINNED_OBSERVATIONS)
        return {shard: weight * scale for shard, weight in weights.items()}

    def _shard_weights(self) -> dict[str, float]:
        """A detector's updates cost about four times a correlation's (measured in replay)."""
        weights = dict.fromkeys(self.shard_names, 0.0)
        for shard in self.rules.shard_of.values():
            weights[shard] += CORRELATION_WEIGHT
        for shard in self.det_shard.values():
            weights[shard] += 1.0
        return weights

    def match(self, event: Event) -> tuple[list[Hit], list[tuple[str, Any]]]:
        """The stateless hot path: hits of rules without a window, and what the windows need.

        Returns the incident hits (they need no window, so they can open an incident at once)
        and `(shard, CorrelationInput | Observation)` for the keyed shards.
        """
        rules = self.rules
        hits, inputs = rules.ruleset.evaluate(event)
        shard_of = rules.shard_of
        windowed: list[tuple[str, Any]] = [(shard_of[i.correlation_id], i) for i in inputs]
        observations = self.detectors.route(event)
        if observations:
            det_shard = self.det_shard
            windowed += [(det_shard[o.detector_id], o) for o in observations]
        if self.drift is not None:
            mark = drift_observation(event, hits)
            if mark is not None:
                windowed.append((self.det_shard[DRIFT_ID], mark))
        return ([rule_hit(h) for h in hits] if hits else []), windowed

    def window_closed(self, item: Any, watermark: float) -> bool:
        """Whether every window `item` could count in has closed at `watermark`.

        A correlation window of an input at t is (s - timespan, s] for some s >= t, and windows
        up to the watermark have been evaluated; a detector's tumbling window holding t closes
        when the watermark reaches its end.
        """
        if isinstance(item, CorrelationInput):
            spec = self.rules.ruleset.correlations.get(item.correlation_id)
            return spec is None or item.time <= watermark - spec.timespan
        if isinstance(item, Observation):
            if item.detector_id == DRIFT_ID:
                return day_closed(item, watermark)
            interval = self.detectors.compiled(item.detector_id).interval
            return (item.time // interval) * interval + interval <= watermark
        return False

    @property
    def ruleset(self) -> _ruleset.RuleSet:
        return self.rules.ruleset

    def swap_rules(self, ruleset: _ruleset.RuleSet) -> None:
        """A reloaded rule set; shards adopt it at their next epoch (see ShardState.sync)."""
        shards = self.config.stream.shards
        new = LoadedRules(ruleset, shards, self.rules.generation + 1)
        unknown = set(new.shard_of.values()) - set(self.shard_names)
        if unknown:
            raise ValueError(f"the new rules need shards {sorted(unknown)} this run does not have")
        self.rules = new  # one assignment: evaluate() sees either the old set or the new one

    def new_shard_state(self, shard: str) -> ShardState:
        state = ShardState()
        state.generation = self.rules.generation
        state.setup = self
        for cid, name in sorted(self.rules.shard_of.items()):
            if name == shard:
                state.correlations[cid] = self.ruleset.new_correlation_state(cid)
        for did, name in sorted(self.det_shard.items()):
            if name == shard:
                state.detectors[did] = self.new_detector_state(did)
        return state

    def new_detector_state(self, did: str) -> DetectorState | SliceState | AdherenceDrift:
        if did == DRIFT_ID and self.drift is not None:
            return new_drift_state(self.drift)
        return self.detectors.new_state(did)


class LoadedRules:
    """A rule set and where its correlations live; replaced whole on reload."""

    def __init__(self, ruleset: _ruleset.RuleSet, shards: int, generation: int) -> None:
        self.ruleset = ruleset
        self.generation = generation
        self.shard_of = {c: _shard(c, "c", shards) for c in ruleset.correlation_ids}


class ShardState:
    """The correlation windows and detector states that one keyed shard owns."""

    def __init__(self) -> None:
        self.correlations: dict[str, Any] = {}
        self.detectors: dict[str, Any] = {}
        self.generation = 0
        self.dropped = 0
        self.setup: RunSetup | None = None  # the run it is synced with (not in snapshots)

    def __getstate__(self) -> dict[str, Any]:
        """A snapshot holds the state, not the run it was taken in (see `restart`)."""
        return {k: v for k, v in self.__dict__.items() if k != "setup"}

    def sync(self, setup: RunSetup, shard: str) -> None:
        """After a reload: keep the windows of unchanged correlations, start new ones fresh.
        After a restart from a snapshot taken before a detector was added, it starts fresh."""
        if getattr(self, "setup", None) is not setup:
            self.restart(setup, shard)
        for did, name in setup.det_shard.items():
            if name == shard and did not in self.detectors:
                self.detectors[did] = setup.new_detector_state(did)
        if setup.rules.generation != self.generation:
            self._adopt(setup.rules, shard)

    def _adopt(self, rules: LoadedRules, shard: str) -> None:
        """Take `rules`: the windows of this shard's correlations that mean the same are kept,
        the others start fresh, and those now on another shard are left to it."""
        adopted = rules.ruleset.adopt(self.correlations)
        self.correlations = {c: s for c, s in adopted.items() if rules.shard_of[c] == shard}
        self.generation = rules.generation

    def restart(self, setup: RunSetup, shard: str) -> None:
        """Restored from a snapshot: the configuration this run was started with wins
        (`engine.restored_state`); windows and baselines are kept where they mean the same."""
        detectors: dict[str, Any] = {}
        for did, name in sorted(setup.det_shard.items()):
            if name != shard:
                continue
            old = self.detectors.get(did)
            if did == DRIFT_ID and setup.drift is not None:
                kept = restored_drift(old, setup.drift)
            else:
                kept = restored_detector(old, setup.detectors.compiled(did))
            detectors[did] = kept if kept is not None else setup.new_detector_state(did)
        self.detectors = detectors
        self._adopt(setup.rules, shard)
        self.setup = setup

    def apply(self, items: list[Any], watermark: float, quarantine: Quarantine) -> list[Hit]:
        """One epoch: every item into its window or detector, in order, then the closes."""
        out = self._update_all(items, quarantine) if items else []
        for cid in sorted(self.correlations):
            ok, hits = quarantine.run(
                "correlate_and_detect",
                {"correlation": cid, "watermark": watermark},
                partial(self._correlation_hits, cid, watermark),
            )
            out.extend(hits if ok and hits else [])
        for did in sorted(self.detectors):
            state = self.detectors[did]
            if type(state) is DetectorState and not state.closes_by(watermark):
                continue  # most epochs end no window of a detector: nothing to close
            ok, hits = quarantine.run(
                "correlate_and_detect",
                {"detector": did, "watermark": watermark},
                partial(self._detector_hits, did, watermark),
            )
            out.extend(hits if ok and hits else [])
        return out

    def _correlation_hits(self, cid: str, watermark: float) -> list[Hit]:
        return [rule_hit(h) for h in self.correlations[cid].advance(watermark)]

    def _detector_hits(self, did: str, watermark: float) -> list[Hit]:
        return [signal_hit(s) for s in self.detectors[did].advance(watermark)]

    def _update_all(self, items: list[Any], quarantine: Quarantine) -> list[Hit]:
        """The epoch's items: each detector takes its observations in one call, each correlation
        window its inputs in order; an item whose update raises is put aside. Hits come out in
        the order of the items that caused them, as if the items were applied one by one."""
        found: list[tuple[int, Hit]] = []
        by_detector: dict[str, list[Observation]] = {}
        correlations = self.correlations
        for place, item in enumerate(items):
            if type(item) is Observation:
                taken = by_detector.get(item.detector_id)
                if taken is None:
                    by_detector[item.detector_id] = [item]
                else:
                    taken.append(item)
                continue
            if type(item) is not CorrelationInput:
                continue
            try:
                window = correlations.get(item.correlation_id)
                if window is None:  # matched by a rule set that a reload just replaced
                    self.dropped += 1
                    continue
                found += [(place, rule_hit(h)) for h in window.update(item)]
            except Exception as exc:
                quarantine.put("correlate_and_detect", item, exc)
        rejected = partial(quarantine.put, "correlate_and_detect")
        for did, observations in by_detector.items():
            signals = self._detector_update(did, observations, rejected)
            if signals:  # rare: only now find where the detector's observations were
                places = [p for p, o in enumerate(items) if type(o) is Observation and o[0] == did]
                found += [(places[i], signal_hit(s)) for i, s in signals]
        found.sort(key=lambda pair: pair[0])
        return [hit for _place, hit in found]

    def _detector_update(
        self, did: str, observations: list[Observation], rejected: Callable[[Any, Exception], None]
    ) -> list[tuple[int, Any]]:
        """One detector's observations of the epoch in one call: (index, signal) pairs."""
        state = self.detectors[did]
        if isinstance(state, DetectorState):
            return state.update_many(observations, rejected)
        # the slices and compliance-drift states take one observation at a time
        return _update_each(state, observations, rejected)

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for cid, state in sorted(self.correlations.items()):
            if getattr(state, "evictions", 0):
                out[f"correlation {cid} evictions"] = state.evictions
            if getattr(state, "late", 0):
                out[f"correlation {cid} late"] = state.late
        for did, state in sorted(self.detectors.items()):
            for key, value in sorted(getattr(state, "stats", {}).items()):
                if value:
                    out[f"detector {did} {key}"] = value
        return out


def _update_each(
    state: Any, observations: list[Observation], rejected: Callable[[Any, Exception], None]
) -> list[tuple[int, Any]]:
    """`update_many` for a state that takes one observation at a time: each observation's
    signals with its index; one whose update raises goes to `rejected` and the rest go on."""
    out: list[tuple[int, Any]] = []
    for i, obs in enumerate(observations):
        try:
            out += [(i, signal) for signal in state.update(obs)]
        except Exception as exc:
            rejected(obs, exc)
    return out
