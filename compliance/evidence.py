"""The evidence document for an audit period: assembled as JSON, rendered as Markdown or HTML."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from compliance.metrics import ANY

RESOLVED_TYPE = "incident.resolved"


def incident_records(
    lines: Iterable[Mapping[str, Any]],
    start: float,
    end: float,
    parse_time: Callable[[str], float],
) -> list[dict[str, Any]]:
    """The final state of each incident of the log seen in [start, end), with how long it took
    to be acknowledged and resolved (seconds from its first hit)."""
    final: dict[str, Mapping[str, Any]] = {}
    for line in lines:
        inc = line.get("incident")
        if isinstance(inc, Mapping) and isinstance(inc.get("id"), str):
            final[inc["id"]] = inc
    out = []
    for ident, inc in final.items():
        first, last = parse_time(inc["first_seen"]), parse_time(inc["last_seen"])
        if first >= end or last < start:
            continue
        ack = inc.get("acknowledged") or {}
        res = inc.get("resolution") or {}
        out.append(
            {
                "id": ident,
                "rule_id": inc.get("rule_id"),
                "title": inc.get("title"),
                "severity": inc.get("severity"),
                "group": inc.get("group", {}),
                "status": inc.get("status"),
                "first_seen": inc["first_seen"],
                "acknowledged_at": ack.get("at"),
                "acknowledged_by": ack.get("by"),
                "seconds_to_acknowledge": _since(first, ack.get("at"), parse_time),
                "resolved_at": res.get("at"),
                "resolved_by": res.get("by"),
                "seconds_to_resolve": _since(first, res.get("at"), parse_time),
            }
        )
    out.sort(key=lambda r: (r["first_seen"], r["id"]))
    return out


def _since(first: float, at: object, parse_time: Callable[[str], float]) -> float | None:
    return round(parse_time(at) - first, 3) if isinstance(at, str) else None


def rule_counts(
    rows: Iterable[Mapping[str, Any]], categories: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Hits per team and rule over the whole period."""
    totals: dict[tuple[str, str], int] = {}
    for row in rows:
        for rule, n in row["rule_hits"].items():
            totals[(row["team"], rule)] = totals.get((row["team"], rule), 0) + n
    return [
        {"team": team, "rule_id": rule, "category": categories.get(rule), "hits": n}
        for (team, rule), n in sorted(totals.items())
    ]


def _pct(x: Any) -> str:
    return "-" if x is None else f"{100.0 * x:.1f}%"


def _num(x: Any) -> str:
    return "-" if x is None else f"{x:g}"


Table = tuple[str, list[str], list[list[str]]]  # title, header, rows of text


def _tables(doc: Mapping[str, Any]) -> list[Table]:
    """The document's sections as (title, header, rows) of text, for either rendering."""
    tables = [_weekly(doc), _drift(doc), _rule_hits(doc), _incidents(doc)]
    return [*tables, _findings(doc), _silences(doc)]


def finding_counts(
    lines: Iterable[Mapping[str, Any]],
    start: float,
    end: float,
    parse_time: Callable[[str], float],
) -> list[dict[str, Any]]:
    """Per rule that produces findings (quality indicators, never paged): the findings the
    log recorded in [start, end) and how many people they came from."""
    by_rule: dict[str, dict[str, Any]] = {}
    for line in lines:
        found = line.get("finding")
        if line.get("type") != "finding.recorded" or not isinstance(found, Mapping):
            continue
        if not start <= parse_time(str(line.get("at"))) < end:
            continue
        row = by_rule.setdefault(str(found.get("rule_id")), {"findings": 0, "people": set()})
        row["findings"] += 1
        row["people"].add(str((found.get("group") or {}).get("user", "")))
    return [
        {"rule_id": rule, "findings": row["findings"], "people": len(row["people"] - {""})}
        for rule, row in sorted(by_rule.items(), key=lambda kv: (-kv[1]["findings"], kv[0]))
    ]


def _findings(doc: Mapping[str, Any]) -> Table:
    header = ["rule", "findings", "people"]
    rows = [[f["rule_id"], str(f["findings"]), str(f["people"])] for f in doc.get("findings", [])]
    return "Findings (quality indicators, digested, never paged)", header, rows


def _weekly(doc: Mapping[str, Any]) -> Table:
    columns = [ANY, *doc["categories"]]
    header = [
        "team",
        "week",
        "sessions",
        *(f"adherence: {c}" for c in columns),
        "PRs with a passing assertion",
        "credential hits / 1000 sessions",
        "dangerous commands / 1000 sessions",
    ]
    rows = [
        [
            r["team"],
            r["week"],
            str(r["sessions"]),
            *(_pct(r["adherence"][c]) for c in columns),
            f"{r['pull_requests_with_passing_assertion']}/{r['pull_requests']}",
            _num(r["credential_hits_per_1000_sessions"]),
            _num(r["dangerous_command_hits_per_1000_sessions"]),
        ]
        for r in doc["weekly"]
    ]
    return "Weekly adherence per team", header, rows


def _drift(doc: Mapping[str, Any]) -> Table:
    header = ["team", "category", "week", "adherence", "baseline", "sessions", "p-value"]
    rows = [
        [
            d["team"],
            d["category"],
            d["week"],
            _pct(d["adherence"]),
            _pct(d["baseline_adherence"]),
            f"{d['sessions']} vs {d['baseline_sessions']}",
            f"{d['p_value']:.3g}",
        ]
        for d in doc["drift"]
    ]
    return "Compliance drift", header, rows


def _rule_hits(doc: Mapping[str, Any]) -> Table:
    rows = [[c["team"], c["rule_id"], c["category"] or "-", str(c["hits"])] for c in doc["rules"]]
    return "Hits per team and rule", ["team", "rule", "category", "hits"], rows


def _incidents(doc: Mapping[str, Any]) -> Table:
    header = ["id", "rule", "severity", "opened", "acknowledged (by)", "resolved (by)"]
    rows = [
        [
            i["id"],
            i["rule_id"] or "",
            i["severity"] or "",
            i["first_seen"],
            f"{i['acknowledged_at'] or '-'} ({i['acknowledged_by'] or '-'})",
            f"{i['resolved_at'] or '-'} ({i['resolved_by'] or '-'})",
        ]
        for i in doc["incidents"]
    ]
    return "Incidents", header, rows


def _silences(doc: Mapping[str, Any]) -> Table:
    header = ["id", "matchers", "starts", "ends", "author", "comment"]
    rows = [
        [s["id"], "; ".join(s["matchers"]), s["starts_at"], s["ends_at"], s["created_by"],
         s["comment"]]
        for s in doc["silences"]
    ]  # fmt: skip
    return "Silences", header, rows


def _intro(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    rs, hist = doc["ruleset"], doc["history"]
    return [
        ("Period", f"{doc['period']['from']} to {doc['period']['to']}"),
        ("Rule set version", f"sha256:{rs['version']} ({len(rs['files'])} files)"),
        (
            "History",
            f"{hist['events']:,} events from {hist['files']} file(s); "
            f"{hist['bad_lines']:,} bad line(s), {hist['outside_period']:,} event(s) outside",
        ),
        ("Generated", doc["generated_at"]),
    ]


def render_markdown(doc: Mapping[str, Any]) -> str:
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    out = ["# Compliance evidence", ""]
    out += [f"- **{k}:** {cell(v)}" for k, v in _intro(doc)]
    for title, header, rows in _tables(doc):
        out += ["", f"## {title}", ""]
        if not rows:
            out.append("None.")
            continue
        out.append("| " + " | ".join(cell(h) for h in header) + " |")
        out.append("|" + "---|" * len(header))
        out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    problems = doc["history"]["problems"]
    if problems:
        out += ["", "## History problems", ""]
        out += [f"- {cell(p)}" for p in problems]
    return "\n".join(out) + "\n"


def render_html(doc: Mapping[str, Any]) -> str:
    e = html.escape
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8"><title>Compliance evidence</title>',
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #bbb;padding:.25em .5em;text-align:left}</style>",
        "</head><body>",
        "<h1>Compliance evidence</h1>",
        "<dl>",
    ]
    out += [f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in _intro(doc)]
    out.append("</dl>")
    for title, header, rows in _tables(doc):
        out.append(f"<h2>{e(title)}</h2>")
        if not rows:
            out.append("<p>None.</p>")
            continue
        out.append("<table><thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in header))
        out.append("</tr></thead><tbody>")
        out += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows]
        out.append("</tbody></table>")
    problems = doc["history"]["problems"]
    if problems:
        out.append("<h2>History problems</h2><ul>")
        out += [f"<li>{e(p)}</li>" for p in problems]
        out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
