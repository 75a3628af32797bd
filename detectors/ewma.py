"""EWMA control chart: small sustained shifts of the mean, with a robust online baseline."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from detectors import time_span
from detectors.binomial_evidence import BurstRatio, evidence_z
from detectors.burst_bound import burst_below
from detectors.persist import restore_slots
from detectors.quiet_period import remember_scored, repeat_period, unrepeated
from detectors.rollup import Accumulator
from detectors.scoring import (
    MAD_TO_SIGMA,
    TAIL_Z,
    deviation_score,
    directed,
    log_scale,
    noise_floor,
    robust_step,
    tail_step,
)
from detectors.window_model import PeerCells, PeerCounts, WindowModel

RATE_BELOW_SHARE = 20.0  # the ratio judges a key whose usual rate is this far below an outage's
WAVE_LONG = 8.0  # the long horizon of the other keys' sums, in evidence spans (`wave_z`)
MAX_SHARE = 0.95  # an outage's share of failing events within a wave, at most
MAX_CELLS = 64  # cells (models in regions) whose other keys' sums a key keeps (`wave_z`)
NO_PEERS = (0.0, 0.0, 0.0)
MAX_NAMED = 8  # subjects a window's point keeps of its hits (`min_subjects` asks fewer)
Counts = tuple[int, ...] | None  # the hits of each subject a point names, when it says them
# A window's value: the rate alone, or with a second metric (rate, subjects, their hits), and
# with a third (the subjects of all events) the subjects with no hit in the window at the end.
RatePoint = (
    float
    | tuple[float, tuple[str, ...], tuple[int, ...]]
    | tuple[float, tuple[str, ...], tuple[int, ...], tuple[str, ...]]
)


@dataclass(frozen=True)
class EwmaParams:
    """z: chart deviation (in sigmas of the EWMA statistic) that scores 0.5.

    lam: weight of the newest point in the chart statistic (small = sensitive to small,
    sustained shifts; 1 = Shewhart chart). alpha: learning rate of the in-control baseline.
    step: seconds between points (the interval): the chart statistic forgets by elapsed
    time, so a key that skips windows (too few events) does not carry an old excursion
    into its next active hours. winsor: how far from the baseline (in sigmas) a point
    counts in the average at most; a chart is for shifts that last, a lone spike is the
    seasonal detector's business. transform: none, or log for a positive metric whose
    values span orders of magnitude (the chart then works on log(1 + x)).
    min_delta: the least departure from the baseline, in the metric's own units and the
    watched direction, that may score (a team's error rate 6% against 1% is significant on a
    busy team, yet no outage). min_hits (binomial): the least hits in the window and the
    evidence's windows before it that may score (a single failed call never alerts).
    min_subjects (a rate watched with a second metric, the distinct subjects of its hits,
    such as the people whose calls failed): the least of them among the hits of the window
    and the evidence's windows before it that may score (one person failing is not their
    team's outage, however many of the team's calls are theirs), unless the points also say
    the subjects of all the key's events (a third metric, `distinct` without a condition)
    and no other subject had an event there: a team's only person at work failing is all of
    the team that can fail, and no colleague's call going through says it is theirs alone.
    And (binomial, with
    evidence) without the hits of the `min_subjects` - 1 subjects with the most of them, the
    rest must still be improbable under the key's rate by `others_z` sampling sds (0: off):
    one person's retry loop and a colleague's single failed call are not two people failing.
    repeat: the points after a score during which a score counts only if it passes it (0:
    every score counts); a shift is then announced once, not on every point the chart
    stays high, nor again on its aftermath (see `quiet_period.unrepeated`). On by default:
    without it, the points after an excursion score as high as the excursion itself, and
    any threshold low enough to find quieter anomalies raises an alarm on each of them.
    60 by default, as for `seasonal` (see `SeasonalParams`); the default detectors set
    their own.
    span (binomial, with evidence or burst_nats): the steps a burst's evidence is gathered
    over at most, this window's and `span` - 1 before; `min_hits` and `min_subjects` count
    over the same.
    With shorter windows, a span of more of them keeps the time a thin key's failures have
    to add up (8 windows of 1 minute look as far back as 4 of 2 minutes).
    burst_nats (binomial; 0: off): a sequential test of the same windows as `evidence` (or
    the only count test, with `evidence: 0`): the log-likelihood ratio of their hits under
    an outage (a `burst_share` of the events failing) against the key's learned rate
    (or `ordinary_share`), taken over the latest runs of windows
    within the span as a CUSUM takes it, scores 0.5 at this many nats. It tells a thin key's
    outage from its usual rate with a few events (three failures in eight calls against 0.4%
    are 10 nats), and a share between the two (a busy key's bad minutes) lowers it. Only for
    a key whose learned rate is a twentieth of `burst_share` or less (see `_counts_burst`).
    point_z (0: off): a Shewhart test beside the chart, the combined Shewhart-EWMA scheme of
    Lucas and Saccucci: the point's own deviation from the baseline, in sigmas of the points
    (not of the chart statistic), that scores 0.5. The chart averages, and winsorises each
    point at `winsor` sigmas, so that a lone spike cannot cross its line; that also makes
    every spike score alike, a small one as high as one a hundred sigmas out, and a sudden
    large shift a few points late. The point test ranks them, and speaks at once. Off for
    the default detectors of the dataflow, whose lone spikes are the seasonal detector's.
    ordinary_share (with burst_nats; 0: off): a share of failing events that is no outage
    whatever the key's learned rate, the test's null then being the likelier of the two
    (a person's calls failing a tenth of the time on a throttled afternoon is ordinary; a
    few of their calls failing in a row at that share must not add up to a burst).
    wave_z (binomial, direction up; 0: off): the other keys' windows of the same close are a
    reference (a provider throttling every team on a model at once). Their hits beyond what
    each key's own learned rate expects, less this many Poisson sds of that excess, as a share
    of their events (summed over two decayed horizons, see `_wave_horizons`), is the wave.
    Within one, the key's rate and the outage's share are raised by the wave's share for the
    count tests and `min_delta`, the chart is not asked, and the key learns the window without
    the wave's share: a wave across keys is the provider's, while one key failing far beyond
    it is still its own trouble.
    late_prior: a key still learning (fewer than `min_points` points) takes the baseline of
    its parent, or else of the detector's root (every key's points), once that is warm, as
    a key new when its parents are warm does from the start. A key first seen on the first
    hours of a history or a deployment otherwise learns alone: an incident in its first
    points is learned as its normal (a team whose cache breaks an hour after it started
    work), however plain it is against every other key.
    """

    z: float = 4.0
    direction: str = "both"
    lam: float = 0.3
    alpha: float = 0.02
    clip: float = 3.0
    min_points: int = 12
    adapt_after: int = 48
    noise: str = "none"
    step: float = 300.0
    winsor: float = 6.0
    transform: str = "none"
    evidence: float = 0.0
    min_delta: float = 0.0
    min_hits: int = 0
    min_subjects: int = 0
    others_z: float = 0.0
    repeat: int = 60
    span: int = 4
    burst_nats: float = 0.0
    burst_share: float = 0.3
    point_z: float = 6.0
    ordinary_share: float = 0.0
    late_prior: bool = False
    wave_z: float = 0.0


class EwmaChart(WindowModel[EwmaParams, RatePoint, RatePoint]):
    """Exponentially weighted moving average chart against a robust in-control baseline.

    Anomalous means: the EWMA of recent points sits more than `z` of its own standard
    deviation (sigma * sqrt(lam / (2 - lam))) away from the learned in-control mean.
    The baseline (mean and sigma) learns slowly and with Huber clipping, so an incident does
    not become the baseline until it persists for `adapt_after` points.

    >>> m = EwmaChart(EwmaParams(direction="up"))
    >>> for i in range(200):
    ...     m.learn_one(100.0 + (i % 5), float(i))
    >>> m.score_one(102.0, 200.0) < 0.05
    True
    >>> for i in range(200, 203):  # 20% up, and staying there
    ...     m.learn_one(120.0, float(i))
    >>> m.score_one(120.0, 203.0) > 0.9
    True
    """

    __slots__ = (
        "alarmed", "escale", "ewma", "hits", "loc", "mix", "n", "named", "p", "peers", "quiet",
        "recent", "run", "scale", "t_last", "tail", "trials", "unit", "zscale", "ztail",
    )  # fmt: skip
    Params = EwmaParams

    def __init__(self, params: EwmaParams | None = None) -> None:
        self.p = params or EwmaParams()
        self.loc = 0.0
        self.scale = 0.0
        self.ewma = 0.0
        self.n = 0
        self.run = 0
        self.unit = 0.0
        self.t_last = -math.inf
        self.escale = 0.0
        self.tail = 0.0
        self.zscale = 0.0  # binomial: spread and usual spikes in sampling sds, see `_sigma`
        self.ztail = 0.0
        self.hits = 0.0  # evidence: decayed hits and events of the windows learned in control
        self.trials = 0.0
        # evidence: (time, hits, events, waiting) of the windows of the last `span` steps,
        # oldest first; `waiting`: above the rate, not yet taught (see `_learn_counts`)
        self.recent: list[tuple[float, int, int, bool]] = []
        self.alarmed = False  # evidence: the waiting windows' evidence reached the alert point
        # min_subjects: (time, subjects of the hits) of the windows of the last steps
        self.named: list[tuple[Any, ...]] = []  # (time, subjects) or (time, subjects, hits)
        self.quiet = repeat_period(self.p.repeat)  # the scores of the last `repeat` points
        # wave_z: per cell (a model in a region, "" when cells are not told apart), the time,
        # then the other keys' hits, events and hits expected summed over the windows the key
        # saw, each weighted by exp(-age / horizon), for each horizon of `_wave_horizons`;
        # and the key's own events per cell in the window being judged (`mix`)
        self.peers: dict[str, tuple[float, ...]] | None = None
        self.mix: dict[str, float] = {}

    def __setstate__(self, state: tuple[Any, dict[str, Any]]) -> None:
        restore_slots(self, state)  # saved before `named` existed: it starts empty
        # saved before windows carried their time: a burst's first windows are not rejoined
        self.recent = [w for w in self.recent if len(w) == 4]
        if isinstance(self.peers, tuple):  # saved before cells: the whole window was one
            self.peers = {"": self.peers}

    def spawn(self) -> EwmaChart:
        child = EwmaChart(self.p)
        child.adopt(self)
        return child

    def is_warm(self, t: float, warmup: float) -> bool:
        return self.n >= self.p.min_points

    def judged(
        self,
        x: RatePoint,
        parent: EwmaChart | None,
        root: EwmaChart | None,
        t: float,
        warmup: float,
        key: tuple[str, ...] = (),
    ) -> RatePoint:
        """The window as it is (`late_prior`: a key still learning first takes a warm
        parent's baseline, see `adopt`)."""
        if self.p.late_prior and self.n < self.p.min_points:
            for prior in (parent, root):
                if prior is not None and prior is not self and prior.is_warm(t, warmup):
                    self.adopt(prior)
                    break
        return x

    def adopt(self, prior: EwmaChart) -> None:
        """Take a warm model's baseline and learned rate, the chart restarting at it: a key
        new when its parents are warm starts so (`spawn`), and a key still learning with
        `late_prior` takes it when its parent or root warms up. The key's own recent windows
        of evidence stay its own."""
        self.loc, self.scale, self.n = prior.loc, prior.scale, prior.n
        self.unit, self.escale, self.tail = prior.unit, prior.escale, prior.tail
        self.zscale, self.ztail = prior.zscale, prior.ztail
        self.hits, self.trials = prior.hits, prior.trials
        self.ewma, self.run = prior.loc, 0

    # -- a rate with the subjects of its hits ----------------------------------------------

    @classmethod
    def point(
        cls, accs: Sequence[Accumulator], aggregations: Sequence[str], min_count: int
    ) -> RatePoint | None:
        """The window's value; with a second metric, (rate, the `MAX_NAMED` subjects with the
        most hits in sorted order, their hits); with a third, the subjects of all events,
        also the first `MAX_NAMED` of those with no hit (the people at work whose calls
        went through)."""
        x = accs[0].value(aggregations[0], min_count)
        if len(accs) > 3:  # the last two are the cells of the events and hits (`peer_cells`)
            accs = accs[:-2]
        if len(accs) == 1 or x is None:
            return x
        seen = accs[1].distinct or {}
        top = sorted(sorted(seen, key=lambda s: (-seen[s], s))[:MAX_NAMED])
        if len(accs) == 2:
            return (x, tuple(top), tuple(seen[s] for s in top))
        calm = sorted(s for s in accs[2].distinct or () if s not in seen)[:MAX_NAMED]
        return (x, tuple(top), tuple(seen[s] for s in top), tuple(calm))

    @classmethod
    def check_spec(
        cls,
        kind: str,
        aggregations: Sequence[str],
        group_by: Sequence[str],
        params: Mapping[str, Any],
        budgets: Mapping[str, float],
    ) -> None:
        pair = len(aggregations) in (2, 3, 4, 5) and aggregations[0] in ("rate", "ratio")
        pair = pair and all(a == "distinct" for a in aggregations[1:])
        if len(aggregations) > 1 and not pair:
            raise ValueError(
                f"kind {kind!r} watches one metric, or a rate then the distinct subjects of its "
                "hits (a `distinct` metric with the rate's `condition`) for `min_subjects`, "
                "and then, optionally, the distinct subjects of all its events; and, for `wave_z`, "
                "the distinct cells (e.g. field [model, region] with combine) of all its events and of its hits"
            )
        share = params.get("burst_share", 0.3)
        if not 0.0 < share < 1.0:
            raise ValueError("burst_share is the share of failing events in an outage: below 1")
        if not 0.0 <= params.get("ordinary_share", 0.0) < share:
            raise ValueError("ordinary_share is a share of failing events below burst_share")
        if params.get("wave_z", 0.0) and (
            params.get("noise") != "binomial" or params.get("direction") != "up"
        ):
            raise ValueError("wave_z judges a rate's hits upwards: noise binomial, direction up")
        if len(aggregations) > 3 and not params.get("wave_z", 0.0):
            raise ValueError("the cells of events and hits (a fourth and fifth metric) need wave_z")
        if params.get("min_subjects", 0) > 0 and not pair:
            raise ValueError(
                "min_subjects needs `metrics`: the rate, then a `distinct` metric of the "
                "subjects (e.g. field user) with the rate's `condition`"
            )

    # -- the other keys of the window (wave_z) ------------------------------------------------

    @classmethod
    def judges_peers(cls, params: EwmaParams) -> bool:
        return params.wave_z > 0.0 and params.noise == "binomial"

    def peer_cells(self, x: RatePoint, n: int, accs: Sequence[Accumulator]) -> PeerCells:
        """(hits, events) per cell of the window: from its last two metrics when it has four
        or five (the distinct cells, such as [model, region], of its events and of its hits,
        see `point`); else the whole window as one cell ""."""
        if len(accs) < 4:
            return {"": (float(round(_split(x)[0] * n)), float(n))}
        events, hits = accs[-2].distinct or {}, accs[-1].distinct or {}
        return {cell: (float(hits.get(cell, 0)), float(k)) for cell, k in events.items()}

    def peer_counts(self, x: RatePoint, n: int, cells: PeerCells) -> PeerCounts | None:
        """(hits, events, hits the key's learned rate expects) per cell of a warm key's
        window: a key still learning has no expectation to exceed, and a key whose own
        evidence reached its alert point (one team's outage) is its own trouble, not a wave
        across keys."""
        if n <= 0 or self.n < self.p.min_points or self.alarmed:
            return None
        rate = self._rate()
        return {cell: (hits, events, events * rate) for cell, (hits, events) in cells.items()}

    def _wave_horizons(self) -> tuple[float, float]:
        """The time constants of the other keys' sums: the evidence's span, so a wave is seen
        as soon as a burst would be; and eight times that, since a wave lasts hours and a
        thin organisation's few calls of one span say little of it."""
        short = max(self.p.span * self.p.step, 1.0)
        return short, WAVE_LONG * short

    def see_peers(self, others: PeerCounts, mix: Mapping[str, float], t: float) -> None:
        """Add the other keys' window at t to their sums per cell (decayed by the time since
        the last window the key saw: a key does not see every window), and keep the key's own
        events per cell there: its wave is that of the cells it calls (`wave`)."""
        if self.p.wave_z <= 0.0:
            return
        self.mix = dict(mix)
        was, horizons = self.peers or {}, self._wave_horizons()
        cells = {
            cell: _decayed(was.get(cell), others.get(cell, NO_PEERS), t, horizons)
            for cell in sorted(set(was) | set(others) | set(mix))
        }
        self.peers = _bounded(cells, self.mix)

    def wave(self) -> float:
        """The share of the key's window that the other keys' wave explains: per cell it
        calls (a model in a region), the share of the others' recent events there failing
        beyond what their learned rates expect, less `wave_z` sampling sds of that excess
        (see `_cell_wave`), weighted by the key's events in the cell. A wave on one model
        and region excuses the calls to it alone."""
        if self.p.wave_z <= 0.0 or not self.peers:
            return 0.0
        peers, mix = self.peers, self.mix
        total = sum(mix.values())
        if total <= 0.0:
            return 0.0
        found = sum(k * self._cell_wave(peers[c]) for c, k in mix.items() if c in peers)
        return found / total

    def _cell_wave(self, sums: tuple[float, ...]) -> float:
        """One cell's wave: the larger of the two horizons' (see `_wave_horizons`); 0 when
        nothing is left beyond the others' rates and their sampling."""
        best = 0.0
        for i in range(len(self._wave_horizons())):
            hits, events, expected = sums[1 + 3 * i : 4 + 3 * i]
            excess = hits - expected - self.p.wave_z * math.sqrt(expected + 1.0)
            if events >= 1.0 and excess > 0.0:
                best = max(best, excess / events)
        # a wave this far below an outage's share (as a usual rate is, see `_counts_burst`)
        # is the others' ordinary swing, and would only slow a thin key's outage
        return best if best * RATE_BELOW_SHARE > self.p.burst_share else 0.0

    def _rate(self) -> float:
        """The key's learned rate (its posterior mean)."""
        return (max(self.hits, 0.0) + 0.5) / (max(self.trials, 0.0) + 1.0)

    def _null_hits(self, wave: float) -> float:
        """The learned hits with the wave's share of the learned events added: the rate the
        window is judged against."""
        trials = max(self.trials, 0.0)
        return min(max(self.hits, 0.0) + wave * trials, trials)

    def _enough_subjects(self, x: RatePoint, t: float) -> bool:
        """Whether the hits of the window and the evidence's windows before it come from
        `min_subjects` distinct subjects at least (always, when none are watched), or, when
        the points say the subjects of all events, from every subject there: a team's only
        person at work failing is all the team there is to fail (see `EwmaParams`)."""
        _, names, _ = _split(x)
        least = self.p.min_subjects
        if least <= 0 or names is None:
            return True
        calm = _calm(x)
        seen, through = set(names), set(calm or ())
        for w in self._named_within(t):
            seen.update(w[1])
            if len(w) > 3:
                through.update(w[3])
            else:
                calm = None  # a window that did not say who else was there
        return len(seen) >= least or (calm is not None and bool(seen) and through <= seen)

    def _others_depart(
        self, x: float, n: int, t: float, names: tuple[str, ...] | None, counts: Counts
    ) -> bool:
        """Whether the hits of the window and the evidence's windows before it, without those
        of the `min_subjects` - 1 subjects with the most of them, are still improbable under
        the key's rate (`others_z`), joined window by window as `evidence` joins them. Of
        their calls only the failed ones leave the count (which others were theirs is not
        kept), so the rest is judged a little diluted: a cautious test. Not
        deflated by the key's usual spikes: those are mostly one person's, taken out here.
        Points that do not say their subjects' hits are left to the count of subjects."""
        p = self.p
        if p.others_z <= 0 or p.min_subjects <= 1 or names is None:
            return True  # off, or nothing to take out
        return not self._counts_evidence(n) or self._others_z(x, n, t, names, counts) >= p.others_z

    def _others_z(
        self, x: float, n: int, t: float, names: tuple[str, ...], counts: Counts
    ) -> float:
        """The evidence z of the hits without those of the subjects with the most of them
        (infinite when a point does not say its subjects' hits: the count of them decides)."""
        windows = [(round(x * n), n, names, counts)]
        named = {w[0]: w for w in self._named_within(t)}
        for w in reversed(self._within(t)):
            nw = named.get(w[0], (w[0], (), ()))
            windows.append((w[1], w[2], nw[1], nw[2] if len(nw) > 2 else None))
        per: dict[str, int] = {}
        for _, _, who, hits in windows:
            if hits is None or len(hits) != len(who):
                return math.inf
            for s, k in zip(who, hits, strict=True):
                per[s] = per.get(s, 0) + k
        top = set(sorted(per, key=lambda s: (-per[s], s))[: self.p.min_subjects - 1])
        rest = events = 0
        best = 0.0
        for k, m, who, hits in windows:
            theirs = sum(h for s, h in zip(who, hits or (), strict=True) if s in top)
            rest, events = rest + k - theirs, events + m - theirs
            best = max(best, evidence_z(rest, events, self.hits, self.trials))
        return best

    def _named_within(self, t: float) -> list[tuple[Any, ...]]:
        if self.p.step <= 0:
            return []
        horizon = (self.p.span - 0.5) * self.p.step
        return time_span.within(self.named, t, horizon)

    def _remember_named(self, point: RatePoint, t: float) -> float:
        """Keep the point's subjects (and those of its events with no hit, when it says them)
        for the evidence's span; the point's value."""
        value, names, counts = _split(point)
        calm = _calm(point)
        if self.p.min_subjects > 0 and names is not None:
            self.named = self._named_within(t + self.p.step)
            if calm is not None and (names or calm):
                time_span.remember(self.named, (t, names, counts or (), calm))
            elif names:
                time_span.remember(self.named, (t, names) if counts is None else (t, names, counts))
        return value

    def _sigma(self, n: int = 0, wave: float = 0.0) -> float:
        if self.p.noise == "binomial" and n > 0:
            # A share of a few events swings by sampling alone (one error in three calls is
            # 33%): its spread and usual spikes are measured in sampling sds of the window's
            # own size, so the quiet minutes of three calls do not hide a burst in a busy one
            # (one person failing often is a spike of their calls, not of the whole team's).
            floor = noise_floor("binomial", min(self.loc + wave, 1.0), n, self.unit)
            return floor * max(1.0, self.zscale, self.ztail / TAIL_Z)
        # recurring spikes are normal: sigma at least makes their usual size 2.33 sigmas
        sigma = max(self.scale, 1e-6 * (abs(self.loc) + 1e-6), self.tail / TAIL_Z)
        return max(sigma, noise_floor(self.p.noise, self.loc, n, self.unit))

    def _previous(self, t: float) -> float:
        """The chart statistic carried to the point at t: windows skipped since the last
        point count as in-control ones (weight (1 - lam) each), as if the chart had seen them."""
        gap = (t - self.t_last) / self.p.step if self.p.step > 0 else 1.0
        if not gap > 1.5:
            return self.ewma
        return self.loc + (1.0 - self.p.lam) ** (round(min(gap, 1e6)) - 1) * (self.ewma - self.loc)

    def _chart_sigma(self, n: int = 0, wave: float = 0.0) -> float:
        """The spread of the chart statistic around the baseline: what independent points
        would give, or what the statistic has shown, whichever is larger (real metrics are
        autocorrelated, and then the average of recent points wanders further)."""
        lam = self.p.lam
        theory = self._sigma(n, wave) * math.sqrt(lam / (2.0 - lam))
        return theory if theory > self.escale else self.escale

    def _winsorised(self, x: float, n: int = 0, wave: float = 0.0) -> float:
        """The point as the chart averages it: at most `winsor` sigmas from the baseline, so
        a lone spike (one busy minute, a nightly job) cannot carry the average across the
        alert line; a shift that lasts still does, a few points later."""
        if self.n < self.p.min_points:
            return x
        bound = self.p.winsor * self._sigma(n, wave)
        d = x - self.loc
        return self.loc + (bound if d > bound else (-bound if d < -bound else d))

    def chart_z(self, x: float, n: int = 0, t: float = -math.inf, wave: float = 0.0) -> float:
        """The chart's deviation with x as its newest point; within a `wave` across keys, of
        the point less the wave's share, in sds of a rate the wave's share higher."""
        lam = self.p.lam
        e = lam * self._winsorised(x - wave, n, wave) + (1.0 - lam) * self._previous(t)
        return (e - self.loc) / self._chart_sigma(n, wave)

    def score_one(self, x: RatePoint, t: float, n: int = 0) -> float:
        return unrepeated(self._score(x, t, n), self.quiet, (x, t, n))

    def score_in_alert(self, x: RatePoint, t: float, n: int = 0) -> float:
        return self._score(x, t, n)

    def _score(self, point: RatePoint, t: float, n: int) -> float:
        """The score before repeats are suppressed."""
        x, names, counts = _split(point)
        if self.n < self.p.min_points:
            return 0.0
        if self.p.transform == "log":
            x = log_scale(x)
        wave = self.wave()
        if not self._large_enough(x, n, t, wave) or not self._enough_subjects(point, t):
            return 0.0
        if not self._others_depart(x, n, t, names, counts):
            return 0.0
        score = 0.0
        if wave <= 0.0 or not self._counts_hits(n):
            # within a wave the window's hits are judged by the count tests alone: the
            # chart's normal sds understate how a few calls' share swings at a higher rate
            score = deviation_score(directed(self.chart_z(x, n, t), self.p.direction), self.p.z)
            if self.p.point_z > 0.0:
                score = max(score, deviation_score(self.point_z(x, n), self.p.point_z))
        if self._counts_evidence(n):
            score = max(score, deviation_score(self.evidence(x, n, t, wave), self.p.evidence))
        if self._counts_burst(n):
            # nats are half a z squared: 0.5 at `burst_nats`, as the z tests score theirs
            nats = max(self.burst_nats(x, n, t, wave), 0.0) / self._dispersion() ** 2
            score = max(score, deviation_score(math.sqrt(nats), math.sqrt(self.p.burst_nats)))
        return score

    def point_z(self, x: float, n: int = 0, wave: float = 0.0) -> float:
        """The point's own deviation from the baseline (and a `wave`'s share) in the watched
        direction, in sigmas."""
        return directed((x - wave - self.loc) / self._sigma(n, wave), self.p.direction)

    def _large_enough(self, x: float, n: int, t: float, wave: float = 0.0) -> bool:
        """Whether the departure is as large as `min_delta` and `min_hits` ask: the window's
        own, or (binomial) that of the window joined to the evidence's windows before it, so
        that one calmer window of an outage under way does not end its incident. A `wave`
        across keys raises the baseline the departure is measured from."""
        p = self.p
        hits, events = (round(x * n), n) if n > 0 else (0, 0)
        for w in self._within(t) if n > 0 else ():
            hits, events = hits + w[1], events + w[2]
        base = self.loc + wave
        if p.min_delta > 0.0 and directed(x - base, p.direction) < p.min_delta:
            joined = hits / events - base if events > n else 0.0
            if directed(joined, p.direction) < p.min_delta:
                return False
        return hits >= p.min_hits

    def _counts_evidence(self, n: int) -> bool:
        return self.p.evidence > 0.0 and self._counts_hits(n)

    def _counts_hits(self, n: int) -> bool:
        """Whether the key's hits and events are learned and judged by a count test (the
        tail's `evidence`, the likelihood ratio's `burst_nats`, or both)."""
        p = self.p
        return (p.evidence > 0.0 or p.burst_nats > 0.0) and p.noise == "binomial" and n > 0

    def evidence(self, x: float, n: int, t: float, wave: float = 0.0) -> float:
        """The binomial evidence of the window's hits against the key's learned rate, alone
        or joined to the windows of the steps before it (a burst gathers evidence window by
        window, over `span` steps at most), in sampling sds deflated by the key's
        usual spikes (a team whose share swings by more than sampling, one person's retry
        loop now and then, needs more). A window between with no failure, or no window at
        all (a lone person's pause), does not reset the count: a thin team's burst shows as a
        failure now and then among a few calls, and its evidence is their sum; the quiet
        windows' calls count against it. Against the learned rate plus a `wave`'s share."""
        k, null = round(x * n), self._null_hits(wave)
        z = evidence_z(k, n, null, self.trials)
        for _, hits, events, _ in reversed(self._within(t)):
            k, n = k + hits, n + events
            z = max(z, evidence_z(k, n, null, self.trials))
        return z / self._dispersion()

    def _counts_burst(self, n: int) -> bool:
        """Whether the likelihood ratio judges this key now: on, and the key's usual rate an
        order of magnitude below the outage's share. Against a rate that high (a team failing
        3% of its calls every day) the ratio's bound is no longer a rare event: ordinary runs
        of failures reach it every few hundred windows, and the count's tail decides alone."""
        if not (self.p.burst_nats > 0.0 and self._counts_hits(n)):
            return False
        return self._rate() * RATE_BELOW_SHARE <= self.p.burst_share

    def burst_nats(self, x: float, n: int, t: float, wave: float = 0.0) -> float:
        """The log-likelihood ratio of an outage (`burst_share` failing) against the key's
        learned rate, of the window's hits alone or joined to the windows of the steps before
        it within the span, the largest (a CUSUM over the span: the run of windows that says
        most). Divided by the square of the key's usual spikes, as `evidence` is by them.
        Within a `wave`, an outage of the key's own is on top of it: the wave's share is
        added to both the learned rate and the outage's share."""
        share, ordinary = min(self.p.burst_share + wave, MAX_SHARE), self.p.ordinary_share
        k = round(x * n)
        ratio = BurstRatio(self._null_hits(wave), self.trials, share, ordinary)
        best = ratio(k, n)
        for _, hits, events, _ in reversed(self._within(t)):
            k, n = k + hits, n + events
            best = max(best, ratio(k, n))
        return best

    def _alarmed_by(self, x: float, n: int, t: float) -> bool:
        """Whether the window's evidence (either test) reached its alert point."""
        wave = self.wave()
        if self._counts_evidence(n) and self.evidence(x, n, t, wave) >= self.p.evidence:
            return True
        if not self._counts_burst(n):
            return False
        limit = self.p.burst_nats * self._dispersion() ** 2
        share = min(self.p.burst_share + wave, MAX_SHARE)  # as burst_nats takes it
        if burst_below(share, self.p.ordinary_share, round(x * n), n, self._within(t), limit):
            return False  # no run can reach the alert point: the exact ratios are not needed
        return self.burst_nats(x, n, t, wave) >= limit

    def _within(self, t: float) -> list[tuple[float, int, int, bool]]:
        """The remembered windows of the steps before t that are within the evidence's span."""
        return self._split_span(t)[0]

    def _split_span(
        self, t: float
    ) -> tuple[list[tuple[float, int, int, bool]], list[tuple[float, int, int, bool]]]:
        """The remembered windows within the evidence's span of the steps before t, and the
        rest (those leaving it), in one pass."""
        horizon = (self.p.span - 0.5) * self.p.step if self.p.step > 0 else 0.0
        return time_span.split(self.recent, t, horizon)

    def _dispersion(self) -> float:
        return max(1.0, self.zscale, self.ztail / TAIL_Z)

    def describe(self, x: RatePoint, t: float, n: int = 0) -> dict[str, Any]:
        x, names, _ = _split(x)
        subjects = {}
        if names is not None:
            seen = set(names).union(*(w[1] for w in self._named_within(t)))
            subjects = {"subjects": sorted(seen)[:MAX_NAMED]}
        raw, wave = x, self.wave()
        if self.p.transform == "log":
            x = log_scale(x)
        return {
            "value": raw,
            "expected": round(math.expm1(self.loc) if self.p.transform == "log" else self.loc, 6),
            "sigma": round(self._sigma(n), 6),
            "chart_sigma": round(self._chart_sigma(n), 6),
            "z": round(self.chart_z(x, n, t, wave), 3) if self.n else 0.0,
            **({"wave": round(wave, 6)} if wave > 0.0 else {}),
            **(
                {"evidence_z": round(self.evidence(x, n, t, wave), 3)}
                if self._counts_evidence(n)
                else {}
            ),
            **(
                {"burst_nats": round(self.burst_nats(x, n, t, wave), 3)}
                if self._counts_burst(n)
                else {}
            ),
            **subjects,
        }

    def learn_one(self, x: RatePoint, t: float, n: int = 0) -> None:
        if self.quiet is not None:
            remember_scored(self.quiet, (x, t, n), lambda: self._score(x, t, n))
        x = self._remember_named(x, t)
        p = self.p
        if p.transform == "log":
            x = log_scale(x)
        wave = self.wave()
        if self._counts_hits(n):
            self._learn_counts(x, n, t, wave)
        x = max(x - wave, 0.0)  # the wave is the other keys' as much as this one's
        if n > 0 and x > 0.0 and p.noise == "compound":
            self.unit = x / n if self.unit <= 0.0 else self.unit + 0.02 * (x / n - self.unit)
        self.n += 1
        previous = self._previous(t)
        self.t_last = max(self.t_last, t)
        if self.n == 1:
            self.loc = self.ewma = x
            return
        learning = self.n <= p.min_points
        sigma = self._sigma(n)
        self._learn_spikes(x, n, learning, sigma)
        clip = math.inf if learning or self.run >= p.adapt_after else p.clip
        alpha = max(1.0 / self.n, p.alpha)
        chart_sigma = self._chart_sigma(n)
        self.loc, self.scale = robust_step(self.loc, self.scale, x, alpha, clip, sigma)
        self.ewma = p.lam * self._winsorised(x, n) + (1.0 - p.lam) * previous
        # The statistic's own spread: a long-run property, so learned four times slower
        # than the baseline, and only while the chart is in control (below its alert
        # point), so that an incident neither widens it nor hides itself.
        d = abs(self.ewma - self.loc)
        if d < p.z * chart_sigma:
            self.escale += max(1.0 / self.n, p.alpha / 4.0) * (MAD_TO_SIGMA * d - self.escale)

    def _learn_spikes(self, x: float, n: int, learning: bool, sigma: float) -> None:
        """Follow the key's usual spikes (their size, and in sampling sds for counts) and the
        run of outliers that would make them a shift rather than a spike."""
        p = self.p
        if not learning and abs(x - self.loc) > p.clip * sigma:
            self.run += 1
        else:
            self.run = 0
        if self.run > 2:  # a run of outliers past its second point is not a recurring spike
            return
        self.tail = tail_step(self.tail, abs(x - self.loc))
        if p.noise == "binomial" and n > 0:
            z = abs(x - self.loc) / noise_floor("binomial", self.loc, n, self.unit)
            self.ztail = tail_step(self.ztail, z)
            if self.run == 0:
                zc = min(z, p.clip)
                self.zscale += max(1.0 / self.n, p.alpha) * (MAD_TO_SIGMA * zc - self.zscale)

    def _learn_counts(self, x: float, n: int, t: float, wave: float = 0.0) -> None:
        """Teach the key's rate the window's hits and events. A window above the rate waits
        while its evidence is still gathering (`span` steps): if the evidence of the
        windows waiting reaches the alert point, none of them is taught (a burst must not
        teach that bursts are usual, nor its first windows dilute the rate it is judged by);
        a window that leaves the span without that is taught. While warming up, or once the
        chart has adopted a lasting shift as the new normal, every window is taught at once.
        A window within a `wave` across keys is taught without the wave's share of its hits."""
        k = round(x * n)
        own = max(k - wave * n, 0.0)
        if self.n < self.p.min_points or self.run >= self.p.adapt_after:
            self._settle(self.recent, alarmed=False)
            self.recent = []
            self._teach(own, n)
            return
        above = k > n * (self._rate() + wave)
        if not self.alarmed and self._alarmed_by(x, n, t):  # alarmed stays so: not asked
            self.alarmed = True
        kept, leaving = self._split_span(t + self.p.step)
        self._settle(leaving, alarmed=self.alarmed)
        self.recent = kept
        time_span.remember(self.recent, (t, k, n, above))
        if not above:
            self._teach(own, n)
        if not any(waiting for *_, waiting in self.recent):
            self.alarmed = False

    def _settle(self, windows: list[tuple[float, int, int, bool]], alarmed: bool) -> None:
        """Windows leaving the evidence's span: the waiting ones are taught unless the
        evidence they were part of reached the alert point."""
        if not alarmed:
            for _, hits, events, waiting in windows:
                if waiting:
                    self._teach(hits, events)

    def _teach(self, k: float, n: int) -> None:
        keep = 1.0 - self.p.alpha / 20.0  # the rate is a long-run property: ~1000 windows
        self.hits = keep * self.hits + k
        self.trials = keep * self.trials + n


def _split(x: RatePoint) -> tuple[float, tuple[str, ...] | None, Counts]:
    """A point as (value, subjects of its hits, their hits), None when the chart watches no
    subjects (or, for the hits, when the point does not say them)."""
    if isinstance(x, tuple):
        return x[0], x[1], (x[2] if len(x) > 2 else None)
    return x, None, None


def _calm(x: RatePoint) -> tuple[str, ...] | None:
    """The subjects of a point's events with no hit, None when the point does not say them."""
    return x[3] if isinstance(x, tuple) and len(x) > 3 else None


def _decayed(
    old: tuple[float, ...] | None,
    new: tuple[float, float, float],
    t: float,
    horizons: Sequence[float],
) -> tuple[float, ...]:
    """A cell's sums (time, then hits, events, expected per horizon) with a window at t added
    and what was there weighted by exp(-age / horizon)."""
    state = [t]
    for i, horizon in enumerate(horizons):
        keep = 0.0 if old is None else math.exp(-max(t - old[0], 0.0) / horizon)
        was = NO_PEERS if old is None else old[1 + 3 * i : 4 + 3 * i]
        state.extend(a + keep * b for a, b in zip(new, was, strict=True))
    return tuple(state)


def _bounded(
    cells: dict[str, tuple[float, ...]], mix: Mapping[str, float]
) -> dict[str, tuple[float, ...]]:
    """The cells worth keeping: those the key calls now, and those with an event left in the
    long horizon's sums; at most `MAX_CELLS`, the key's own first, then the busiest."""
    live = {c: s for c, s in cells.items() if c in mix or s[-2] >= 0.5}
    if len(live) <= MAX_CELLS:
        return live
    ranked = sorted(live, key=lambda c: (c not in mix, -live[c][-2], c))[:MAX_CELLS]
    return {c: live[c] for c in sorted(ranked)}
