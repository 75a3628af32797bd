"""Random streams of hits, detector ends, acks, resolves, silences and clock moves (forwards and
backwards), checked against the promises of the incident stage by an oracle that sees only the
outputs: the incident log, the notifications and the control reports."""

import json
import pickle
from dataclasses import replace

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from engine.incidents.book import IncidentBook
from engine.incidents.config import IncidentsConfig
from engine.incidents.control import Ack, CreateSilence, ExpireSilence, Resolve
from engine.incidents.matchers import matches_all, parse_matcher
from engine.incidents.model import ControlReport, Hit, Transition, fingerprint
from engine.incidents.silences import Silence
from engine.timeutil import parse_time
from notifiers.model import Notification

from .helpers import T0, reports

LEVELS = (("oncall", 180.0), ("lead", 300.0))
REPEAT = 1
CONFIG = IncidentsConfig.model_validate(
    {
        "route": {
            "receiver": "chat",
            "group_by": ["rule_id", "team"],
            "group_wait": "30s",
            "group_interval": "2m",
            "repeat_interval": "10m",
            "escalation": "pager",
            "routes": [
                {
                    "matchers": ["severity=critical"],
                    "receiver": "direct",
                    "group_by": ["..."],
                    "group_wait": "0s",
                    "continue": True,
                },
                {
                    "matchers": ["team=search"],
                    "receiver": "search",
                    "mute_time_intervals": ["lunch"],
                },
            ],
        },
        "escalation_policies": [
            {
                "name": "pager",
                "repeat": REPEAT,
                "levels": [{"receivers": r, "timeout": t} for r, t in LEVELS],
            }
        ],
        "inhibit_rules": [
            {
                "source_matchers": ["severity=critical"],
                "target_matchers": ["severity=~low|medium|high"],
                "equal": ["team"],
            }
        ],
        "time_intervals": [
            {
                "name": "lunch",
                "time_intervals": [{"times": [{"start_time": "10:20", "end_time": "10:50"}]}],
            }
        ],
        "resolve_timeout": "15m",
        "update_interval": "1m",
    }
)
INHIBIT = CONFIG.inhibit_rules[0]
RULES = ("r1", "r2")
USERS = ("ann", "bob", "cat")
TEAMS = ("payments", "search")
SEVERITIES = ("low", "high", "critical")
SILENCE_MATCHERS = (
    ["team=payments"],
    ["user=~a.*"],
    ["severity!=critical", "team=search"],
    ["rule_id!~r1"],
)


def labels_of(incident: dict) -> dict[str, str]:
    return {
        **incident["labels"],
        **incident["group"],
        "rule_id": incident["rule_id"],
        "severity": incident["severity"],
        "source": incident["source"],
    }


def render(output) -> str:
    if isinstance(output, Transition):
        return json.dumps(output.to_log(), sort_keys=True)
    return json.dumps(output.to_dict(), sort_keys=True)


class IncidentStreams(RuleBasedStateMachine):
    @initialize()
    def start(self):
        self.book = IncidentBook(CONFIG)
        self.clock = T0
        self.stream: list[tuple[str, object]] = []
        self.rendered: list[str] = []
        self.open_by_fp: dict[str, str] = {}  # fingerprint -> open incident id
        self.latest: dict[str, dict] = {}  # incident id -> latest incident dict
        self.resolved: set[str] = set()
        self.acked: set[str] = set()
        self.silences: dict[str, Silence] = {}
        self.escalations: dict[str, tuple[int, float, int]] = {}  # id -> (level, at, rounds)
        self.resolved_told: set[tuple[str, str, str]] = set()
        self.silence_serial = 0

    # ------------------------------------------------------------------ inputs

    def feed(self, kind: str, item) -> list:
        self.stream.append((kind, item))
        out = self.apply(self.book, kind, item)
        self.rendered += [render(o) for o in out]
        for output in out:
            self.check(output)
        return out

    @staticmethod
    def apply(book: IncidentBook, kind: str, item) -> list:
        if kind == "hit":
            return book.on_hit(item)
        if kind == "control":
            return book.on_control(item)
        return book.advance(item)

    @rule(
        rule_id=st.sampled_from(RULES),
        user=st.sampled_from(USERS),
        team=st.sampled_from(TEAMS),
        severity=st.sampled_from(SEVERITIES),
        dt=st.integers(min_value=-60, max_value=240),
        resolve_after=st.sampled_from([None, 90.0, 400.0]),
    )
    def a_rule_fires(self, rule_id, user, team, severity, dt, resolve_after):
        self.clock = max(self.clock, self.clock + dt)
        hit = Hit(
            "rule", rule_id, "t", severity, self.clock + min(dt, 0), {"user": user},
            {"team": team}, {"dt": dt}, resolve_after=resolve_after,
        )  # fmt: skip
        self.feed("hit", hit)

    @rule(user=st.sampled_from(USERS), team=st.sampled_from(TEAMS), end=st.booleans())
    def a_detector_flaps(self, user, team, end):
        self.clock += 20
        hit = Hit(
            "detector", "latency", "slow", "high", self.clock, {"user": user}, {"team": team},
            {}, resolved=end,
        )  # fmt: skip
        self.feed("hit", hit)

    def target(self, data, unknown: bool) -> str:
        if unknown or not self.latest:
            return "no-such-incident"
        return data.draw(st.sampled_from(sorted(self.latest)))

    @rule(data=st.data(), unknown=st.booleans(), by_fp=st.booleans())
    def someone_acks(self, data, unknown, by_fp):
        ref = self.target(data, unknown)
        if by_fp and ref in self.latest:
            ref = self.latest[ref]["fingerprint"]
        self.feed("control", Ack(self.clock, ref, "oncall-human"))

    @rule(data=st.data(), unknown=st.booleans())
    def someone_resolves(self, data, unknown):
        self.feed("control", Resolve(self.clock, self.target(data, unknown), "oncall-human"))

    @rule(
        matchers=st.sampled_from(SILENCE_MATCHERS),
        delay=st.sampled_from([0, 60]),
        length=st.integers(min_value=30, max_value=1200),
    )
    def someone_silences(self, matchers, delay, length):
        self.silence_serial += 1
        silence = Silence(
            f"s{self.silence_serial}",
            tuple(parse_matcher(m) for m in matchers),
            self.clock + delay,
            self.clock + delay + length,
            "tester",
        )
        [report] = reports(self.feed("control", CreateSilence(self.clock, silence)))
        assert report.outcome == "applied"
        self.silences[silence.id] = silence

    @precondition(lambda self: self.silences)
    @rule(data=st.data())
    def someone_expires_a_silence(self, data):
        ident = data.draw(st.sampled_from(sorted(self.silences)))
        [report] = reports(self.feed("control", ExpireSilence(self.clock, ident)))
        old = self.silences[ident]
        if old.ends_at > self.clock:
            assert report.outcome == "applied"
            self.silences[ident] = replace(
                old, starts_at=min(old.starts_at, self.clock), ends_at=self.clock
            )
        else:
            assert report.outcome == "unchanged"

    @rule(dt=st.integers(min_value=0, max_value=1500))
    def time_passes(self, dt):
        self.clock += dt
        self.feed("advance", self.clock)

    @rule(back=st.integers(min_value=1, max_value=900))
    def the_clock_goes_backwards(self, back):
        # the book must neither move back nor fire anything again
        assert self.feed("advance", self.clock - back) == []

    @rule()
    def the_engine_restarts_from_a_snapshot(self):
        self.book = pickle.loads(pickle.dumps(self.book))

    # ------------------------------------------------------------------ oracle

    def check(self, output) -> None:
        if isinstance(output, Transition):
            self.check_transition(output)
        elif isinstance(output, Notification):
            self.check_notification(output)
        else:
            assert isinstance(output, ControlReport)
            self.check_report(output)

    def check_transition(self, t: Transition) -> None:
        incident = t.incident
        ident, fp = incident["id"], incident["fingerprint"]
        assert fp == fingerprint(incident["rule_id"], incident["group"])
        if t.type == "incident.opened":
            assert fp not in self.open_by_fp, "two open incidents for one fingerprint"
            assert ident not in self.latest
            self.open_by_fp[fp] = ident
        else:
            assert self.open_by_fp.get(fp) == ident, f"{t.type} for an incident that is not open"
        assert ident not in self.resolved
        if t.type == "incident.resolved":
            del self.open_by_fp[fp]
            self.resolved.add(ident)
        if t.type == "incident.acknowledged":
            assert ident not in self.acked
            self.acked.add(ident)
        if t.type == "incident.escalated":
            self.check_escalation(ident, incident["escalation_level"], t.at)
        self.latest[ident] = incident

    def check_escalation(self, ident: str, level: int, at: float) -> None:
        assert ident not in self.acked, "escalated after acknowledgement"
        # before the first step, the earliest the policy can have started is the opening
        opened_at = parse_time(self.latest[ident]["first_seen"])
        previous, since, rounds = self.escalations.get(ident, (0, opened_at, 0))
        expected = previous + 1 if previous + 1 < len(LEVELS) else 0
        assert level == expected, f"level {level} after {previous}"
        assert at >= since + LEVELS[previous][1], "escalated before the level's timeout"
        rounds += level == 0
        assert rounds <= REPEAT, "the policy went round more often than `repeat`"
        self.escalations[ident] = (level, at, rounds)

    def muted(self, incident: dict, at: float) -> bool:
        labels = labels_of(incident)
        if any(s.mutes(labels, at) for s in self.silences.values()):
            return True
        if not matches_all(INHIBIT.target_matchers, labels):
            return False
        both = matches_all(INHIBIT.source_matchers, labels)
        for other_id in self.open_by_fp.values():
            other = self.latest[other_id]
            other_labels = labels_of(other)
            if (
                other["fingerprint"] != incident["fingerprint"]
                and matches_all(INHIBIT.source_matchers, other_labels)
                and other_labels.get("team", "") == labels.get("team", "")
                and not (both and matches_all(INHIBIT.target_matchers, other_labels))
            ):
                return True
        return False

    def check_notification(self, n: Notification) -> None:
        at = parse_time(n.at)
        assert n.incidents, "an empty notification"
        for incident in n.incidents:
            ident = incident["id"]
            assert not self.muted(incident, at), f"notified a muted incident {ident}"
            if ident in self.resolved:
                assert incident["status"] == "resolved", "notified as firing after resolve"
                assert n.transition not in ("incident.escalated", "incident.acknowledged")
                told = (ident, n.receiver, json.dumps(n.group_labels, sort_keys=True))
                assert told not in self.resolved_told, "a resolution told twice"
                self.resolved_told.add(told)
            else:
                assert incident["status"] != "resolved"
            if n.transition == "incident.escalated":
                assert incident["status"] == "firing"
            if n.transition in ("incident.opened", "incident.updated"):
                assert incident["status"] != "acknowledged", "an acknowledged incident repeated"

    def check_report(self, report: ControlReport) -> None:
        assert report.outcome in ("applied", "unchanged", "not_found", "refused")
        if report.target == "no-such-incident":
            assert report.outcome == "not_found"
        if report.kind in ("silence", "expire_silence"):
            assert report.outcome != "not_found" or report.target not in self.silences

    @invariant()
    def the_book_agrees_with_the_log(self):
        if not hasattr(self, "book"):
            return
        held = self.book.open_incidents()
        assert sorted(i["fingerprint"] for i in held) == sorted(self.open_by_fp)
        assert {i["id"] for i in held} == set(self.open_by_fp.values())

    def teardown(self):
        if not hasattr(self, "book"):
            return
        fresh = IncidentBook(CONFIG)
        again: list[str] = []
        for kind, item in self.stream:
            again += [render(o) for o in self.apply(fresh, kind, item)]
        assert again == self.rendered, "the same stream gave different output"


IncidentStreams.TestCase.settings = settings(
    max_examples=100, stateful_step_count=40, deadline=None
)
test_incident_streams = IncidentStreams.TestCase
