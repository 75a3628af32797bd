"""Small builders shared by the incident tests: hits, configs and output filters."""

from __future__ import annotations

from engine.incidents.book import IncidentBook
from engine.incidents.config import IncidentsConfig
from engine.incidents.control import parse_control
from engine.incidents.model import ControlReport, Hit, Transition
from engine.timeutil import parse_time
from notifiers.model import Notification

T0 = parse_time("2026-11-25T10:00:00Z")  # a Wednesday


def hit(
    t: float,
    *,
    rule: str = "shell-pipe-to-shell",
    user: str = "alice",
    team: str = "payments",
    severity: str = "high",
    source: str = "rule",
    resolve_after: float | None = None,
    resolved: bool = False,
    group: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    evidence: dict | None = None,
) -> Hit:
    return Hit(
        source=source,
        rule_id=rule,
        title=f"{rule} fired",
        severity=severity,
        time=t,
        group={"user": user} if group is None else group,
        labels={"team": team} if labels is None else labels,
        evidence={"n": 1} if evidence is None else evidence,
        resolve_after=resolve_after,
        resolved=resolved,
    )


def book(**config) -> IncidentBook:
    return IncidentBook(IncidentsConfig.model_validate(config))


def control(b: IncidentBook, **obj) -> list:
    return b.on_control(parse_control(obj))


def notes(outputs: list, receiver: str | None = None) -> list[Notification]:
    found = [o for o in outputs if isinstance(o, Notification)]
    return [n for n in found if receiver is None or n.receiver == receiver]


def moves(outputs: list, kind: str | None = None) -> list[Transition]:
    found = [o for o in outputs if isinstance(o, Transition)]
    return [t for t in found if kind is None or t.type == kind]


def reports(outputs: list) -> list[ControlReport]:
    return [o for o in outputs if isinstance(o, ControlReport)]


def one_receiver(**extra) -> dict:
    """A root route to receiver `page` with short, round timings."""
    route = {
        "receiver": "page",
        "group_by": ["rule_id"],
        "group_wait": "30s",
        "group_interval": "5m",
        "repeat_interval": "1h",
    }
    route.update(extra)
    return {"route": route}


def is_muted(b: IncidentBook, ref: str) -> bool:
    """Whether a silence or an inhibition mutes this incident at the book's current time."""
    incident = b._find(ref)
    return incident is not None and b._muting.mutes(incident.route_labels(), b.now)
