"""Charts as inline SVG, drawn here rather than in the browser: the report opens anywhere,
offline, and prints as it shows. Every mark carries a `<title>` (the browser's tooltip)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from itertools import pairwise

from detectors.recent import AlertSeries, ScoredPoint
from engine.report.incident_digest import SEVERITY_ORDER, LoggedIncident, severity_rank
from engine.timeutil import iso

COLOURS = {
    "critical": "#b3261e",
    "high": "#e8710a",
    "medium": "#f2b600",
    "low": "#4a8ad6",
    "info": "#8a8a8a",
}


def _ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    if hi <= lo:
        return [lo]
    step = (hi - lo) / count
    return [lo + i * step for i in range(count + 1)]


def _short_time(t: float) -> str:
    return iso(t)[5:16].replace("T", " ")


def timeline(
    incidents: Sequence[LoggedIncident], start: float, end: float, width: int = 960
) -> str:
    """Incidents by the time they opened, a row per severity."""
    rows = [s for s in SEVERITY_ORDER if any(i.severity == s for i in incidents)] or ["info"]
    rows += sorted({i.severity for i in incidents} - set(rows), key=severity_rank)
    frame = _TimelineFrame(rows, start, max(end - start, 1.0), width)
    out = [
        f'<svg class="chart timeline" viewBox="0 0 {width} {frame.height}" width="{width}" '
        f'height="{frame.height}" role="img" aria-label="incidents on a timeline by severity">',
        *frame.rows(),
        *frame.time_axis(start, end),
        *(frame.incident(inc) for inc in incidents),
        "</svg>",
    ]
    return "".join(out)


@dataclass(frozen=True)
class _TimelineFrame:
    """Where a severity's row and a time fall on the timeline."""

    severities: list[str]
    start: float
    span: float
    width: int
    left: int = 90
    top: int = 10
    row_h: int = 34

    @property
    def height(self) -> int:
        return self.top + self.row_h * len(self.severities) + 30

    def x(self, t: float) -> float:
        return self.left + (self.width - self.left - 20) * (t - self.start) / self.span

    def y(self, severity: str) -> float:
        return self.top + self.severities.index(severity) * self.row_h + self.row_h / 2

    def rows(self) -> list[str]:
        out = []
        for severity in self.severities:
            y, left = self.y(severity), self.left
            out.append(
                f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{escape(severity)}</text>'
            )
            out.append(
                f'<line x1="{left}" x2="{self.width - 20}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            )
        return out

    def time_axis(self, start: float, end: float) -> list[str]:
        axis_y = self.top + self.row_h * len(self.severities)
        ticks = _ticks(start, end)
        out = []
        for n, t in enumerate(ticks):
            anchor = "start" if n == 0 else "end" if n == len(ticks) - 1 else "middle"
            out.append(
                f'<text x="{self.x(t):.1f}" y="{axis_y + 18}" text-anchor="{anchor}" class="tick">'
                f"{escape(_short_time(t))}</text>"
            )
        return out

    def incident(self, inc: LoggedIncident) -> str:
        colour = COLOURS.get(inc.severity, "#555")
        group = ", ".join(f"{k}={v}" for k, v in inc.group.items())
        tip = f"{iso(inc.opened)} {inc.rule_id} ({inc.severity}) {group}"
        return (
            f'<circle cx="{self.x(inc.opened):.1f}" cy="{self.y(inc.severity):.1f}" r="5" '
            f'fill="{colour}" fill-opacity="0.75"><title>{escape(tip)}</title></circle>'
        )


def series_chart(series: AlertSeries, width: int = 560) -> str:
    """A detector key's points around an alert: value and baseline above, score and the
    threshold below, the windows it fired shaded."""
    points = around(series)
    if not points:
        return ""
    frame = _SeriesFrame.fit(series, points, width)
    out = [
        f'<svg class="chart series" viewBox="0 0 {width} {frame.height}" width="{width}" '
        f'height="{frame.height}" role="img" aria-label="detector series">',
        *frame.fired_bands(series.fired),
        *frame.lines(points),
        *frame.value_dots(points),
        *frame.labels(),
        "</svg>",
    ]
    return "".join(out)


@dataclass(frozen=True)
class _SeriesFrame:
    """The series chart's scales: time across, value and baseline above, score below."""

    width: int
    t0: float
    t1: float
    step: float  # the windows' length, as the points' closest ends show it
    lo: float
    hi: float
    s_hi: float
    threshold: float
    left: int = 60
    right: int = 10
    gap: int = 16
    top_h: int = 110
    bottom_h: int = 60

    @classmethod
    def fit(cls, series: AlertSeries, points: list[ScoredPoint], width: int) -> _SeriesFrame:
        ends = [p.end for p in points]
        t0, t1 = min(ends), max(ends)
        step = min((b - a for a, b in pairwise(ends) if b > a), default=max(t1 - t0, 1.0))
        values = [v for p in points for v in (p.value, p.baseline) if v is not None]
        lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
        if hi - lo < 1e-12:
            lo, hi = lo - 1.0, hi + 1.0
        threshold = series.threshold if math.isfinite(series.threshold) else 1.0
        s_hi = max([*(p.score for p in points), threshold, 1e-9]) * 1.1
        return cls(width, t0, t1, step, lo, hi, s_hi, threshold)

    @property
    def height(self) -> int:
        return 10 + self.top_h + self.gap + self.bottom_h + 24

    @property
    def span(self) -> float:
        return max(self.t1 - self.t0, 1.0)

    @property
    def plot_w(self) -> int:
        return self.width - self.left - self.right

    def x(self, t: float) -> float:
        return self.left + self.plot_w * (t - self.t0) / self.span

    def y_value(self, v: float) -> float:
        return 10 + self.top_h * (1 - (v - self.lo) / (self.hi - self.lo))

    def y_score(self, s: float) -> float:
        return 10 + self.top_h + self.gap + self.bottom_h * (1 - s / self.s_hi)

    def fired_bands(self, fired: list[float]) -> list[str]:
        width = max(self.plot_w * self.step / self.span, 2)
        return [
            f'<rect x="{self.x(t - self.step):.1f}" y="10" width="{width:.1f}" '
            f'height="{self.top_h + self.gap + self.bottom_h}" class="fired"><title>fired, '
            f"window ending {escape(iso(t))}</title></rect>"
            for t in fired
        ]

    def lines(self, points: list[ScoredPoint]) -> list[str]:
        """Value, baseline and score as lines; the threshold across the score's band."""
        x, y_value, ty = self.x, self.y_value, self.y_score(self.threshold)
        return [
            _polyline(
                [(x(p.end), y_value(p.value)) for p in points if p.value is not None], "value"
            ),
            _polyline(
                [(x(p.end), y_value(p.baseline)) for p in points if p.baseline is not None],
                "baseline",
            ),
            _polyline([(x(p.end), self.y_score(p.score)) for p in points], "score"),
            f'<line x1="{self.left}" x2="{self.width - self.right}" y1="{ty:.1f}" y2="{ty:.1f}" '
            f'class="threshold"><title>threshold {self.threshold:g}</title></line>',
        ]

    def value_dots(self, points: list[ScoredPoint]) -> list[str]:
        out = []
        for p in points:
            if p.value is not None:
                tip = f"{iso(p.end)} value {p.value:g}" + (
                    f", baseline {p.baseline:g}" if p.baseline is not None else ""
                )
                out.append(
                    f'<circle cx="{self.x(p.end):.1f}" cy="{self.y_value(p.value):.1f}" r="2.5" '
                    f'class="value-dot"><title>{escape(tip)}</title></circle>'
                )
        return out

    def labels(self) -> list[str]:
        """The value scale's ends, the score band's name, the first and last times."""
        tick_x, ty = self.left - 6, self.y_score(self.threshold)
        end_x, bottom = self.width - self.right, self.height - 6
        return [
            f'<text x="{tick_x}" y="{self.y_value(self.hi) + 4:.1f}" text-anchor="end" '
            f'class="tick">{self.hi:.3g}</text>',
            f'<text x="{tick_x}" y="{self.y_value(self.lo) + 4:.1f}" text-anchor="end" '
            f'class="tick">{self.lo:.3g}</text>',
            f'<text x="{tick_x}" y="{ty + 4:.1f}" text-anchor="end" class="tick">score</text>',
            f'<text x="{self.left}" y="{bottom}" class="tick">{escape(_short_time(self.t0))}</text>'
            f'<text x="{end_x}" y="{bottom}" text-anchor="end" class="tick">'
            f"{escape(_short_time(self.t1))}</text>",
        ]


def around(series: AlertSeries, before: int = 30, after: int = 15) -> list[ScoredPoint]:
    """The series' points within `before` windows of its first alert and `after` of its
    last: a sparse key's older points would squeeze the alert into a sliver of the chart."""
    ends = [p.end for p in series.points]
    step = min((b - a for a, b in pairwise(ends) if b > a), default=0.0)
    if not step:
        return list(series.points)
    lo, hi = series.fired[0] - before * step, series.fired[-1] + after * step
    return [p for p in series.points if lo <= p.end <= hi]


def _polyline(points: list[tuple[float, float]], css: str) -> str:
    if not points:
        return ""
    if len(points) == 1:
        (px, py) = points[0]
        return f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" class="{css}-dot"/>'
    coords = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
    return f'<polyline points="{coords}" class="{css}"/>'
