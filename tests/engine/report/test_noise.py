"""Per rule noise from an incident log: opened per day, resolved within half an hour."""

from __future__ import annotations

from detectors.recent import AlertSeries, ScoredPoint
from engine.report.incident_digest import digest, noise
from engine.report.svg import around, series_chart, timeline


def line(kind: str, at: str, iid: str, rule: str = "r", **extra) -> dict:
    incident = {"id": iid, "rule_id": rule, "source": "rule", "severity": "high", "group": {}}
    return {"type": f"incident.{kind}", "at": at, "incident": {**incident, **extra}}


def test_noise_counts_per_day_and_quick_resolutions():
    log = [
        line("opened", "2026-03-01T10:00:00+01:00", "a"),  # 09:00Z, another zone's spelling
        line("updated", "2026-03-01T09:05:00Z", "a"),
        line("resolved", "2026-03-01T09:20:00Z", "a"),  # 20 min: quick
        line("opened", "2026-03-02T09:00:00Z", "b"),
        line("resolved", "2026-03-02T11:00:00Z", "b"),  # 2 h
        line("opened", "2026-03-03T09:00:00Z", "c", rule="s", severity="critical"),  # never
        line("resolved", "2026-03-03T09:00:00Z", "unknown-id"),
    ]
    incidents = digest(log)
    assert [i.id for i in incidents] == ["a", "b", "c"]
    rows = {r.rule_id: r for r in noise(incidents, days=4.0)}
    assert rows["r"].opened == 2 and rows["r"].per_day == 0.5
    assert rows["r"].quick_share == 0.5 and rows["r"].durations == [1200.0, 7200.0]
    assert rows["s"].opened == 1 and rows["s"].quick_share == 0.0 and rows["s"].durations == []


def test_charts_cope_with_one_point_and_no_incident():
    assert "<svg" in timeline([], 0.0, 0.0)
    one = AlertSeries("d", ("k",), 0.5, [60.0], [ScoredPoint(60.0, 3.0, 0.9, None)])
    svg = series_chart(one)
    assert svg.count("<circle") >= 2 and "nan" not in svg.lower()
    assert series_chart(AlertSeries("d", ("k",), float("nan"), [60.0], [])) == ""


def test_a_sparse_keys_old_points_are_left_out_of_its_chart():
    old = [ScoredPoint(60.0 * n, 1.0, 0.0, 1.0) for n in range(3)]  # a day before the alert
    recent = [ScoredPoint(86_400.0 + 60.0 * n, float(n), n / 10, 1.0) for n in range(40)]
    series = AlertSeries("d", ("k",), 0.5, [86_400.0 + 60.0 * 20], old + recent)
    kept = around(series, before=5, after=3)
    assert [p.end for p in kept] == [86_400.0 + 60.0 * n for n in range(15, 24)]
