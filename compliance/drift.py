"""Compliance drift: a team's adherence this week significantly below its own recent weeks.

No fixed threshold: each team is compared with its trailing baseline (the pooled sessions of
up to `baseline_weeks` earlier weeks with sessions), by a one-sided Fisher exact test on the
2x2 table (clean / with a hit) x (this week / baseline). Exact, so a team of five is judged
on what five sessions can show: one bad session out of five is no evidence against a 95%
baseline, while the same share over four hundred sessions is.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_lower_tail(clean: int, n: int, base_clean: int, base_n: int) -> float:
    """P(this week has at most `clean` clean sessions | the table's margins), i.e. the one-sided
    p-value of "this week is less clean than the baseline".

    Summed from `clean` downwards: below the expected count the terms only shrink, so the sum
    stops once they no longer change it (a large team's tail costs a few dozen terms, not one
    per session)."""
    total, clean_total = n + base_n, clean + base_clean
    lo = max(0, n - (total - clean_total))
    denom = _log_choose(total, n)
    p = 0.0
    for k in range(clean, lo - 1, -1):
        term = math.exp(
            _log_choose(clean_total, k) + _log_choose(total - clean_total, n - k) - denom
        )
        p += term
        if term < 1e-17 * p and k * total < n * clean_total:
            break
    return min(1.0, p)


@dataclass(frozen=True)
class DriftParams:
    baseline_weeks: int = 4
    alpha: float = 0.01
    min_baseline_sessions: int = 20


def find_drift(
    rows: Iterable[Mapping[str, Any]], categories: Iterable[str], params: DriftParams | None = None
) -> list[dict[str, Any]]:
    """One finding per team, category and week whose adherence fell significantly."""
    p = params or DriftParams()
    by_team: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["sessions"]:
            by_team[row["team"]].append(row)
    out = []
    for team, weeks in sorted(by_team.items()):
        weeks.sort(key=lambda r: r["week_start"])
        for i, row in enumerate(weeks):
            base = weeks[max(0, i - p.baseline_weeks) : i]
            base_n = sum(r["sessions"] for r in base)
            if base_n < p.min_baseline_sessions:
                continue
            for category in categories:
                clean, n = row["clean_sessions"][category], row["sessions"]
                base_clean = sum(r["clean_sessions"][category] for r in base)
                if clean / n >= base_clean / base_n:
                    continue
                pvalue = fisher_lower_tail(clean, n, base_clean, base_n)
                if pvalue < p.alpha:
                    out.append(
                        {
                            "team": team,
                            "category": category,
                            "week": row["week"],
                            "week_start": row["week_start"],
                            "adherence": round(clean / n, 4),
                            "sessions": n,
                            "baseline_adherence": round(base_clean / base_n, 4),
                            "baseline_sessions": base_n,
                            "baseline_weeks": [r["week"] for r in base],
                            "p_value": float(f"{pvalue:.3g}"),
                        }
                    )
    return out
