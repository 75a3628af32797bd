"""`spanwatch incidents …` against the engine's real API on loopback, as on-call runs it."""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.cli import main
from engine.incidents.control import CreateSilence
from engine.live.api import make_api_app
from engine.live.client import SEVERITY_ORDER, by_severity_then_newest
from engine.live.intake import Intake
from engine.live.run import _listen, _Server
from engine.live.views import Views
from engine.timeutil import iso, parse_time
from tests.patience import PATIENCE

from .intakes import temporary_intake

TOKEN = "api-token-5e1d"
T0 = parse_time("2026-03-02T09:00:00Z")


def incident(n: int, severity: str, first_seen: float) -> dict:
    return {
        "id": f"inc-{n:03d}",
        "fingerprint": f"fp-{n:03d}",
        "source": "rule",
        "rule_id": "a-much-longer-rule-identifier-than-usual-for-width" if n == 7 else f"rule-{n}",
        "title": "t",
        "severity": severity,
        "status": "firing",
        "group": {"team": f"team-{n % 3}", "user": f"user-{n}"},
        "first_seen": iso(first_seen),
        "last_seen": iso(first_seen + 60),
        "count": n + 1,
        "escalation_level": 0,
        "labels": {},
        "evidence": {},
    }


class Api:
    def __init__(self, views: Views, intake: Intake, server: _Server) -> None:
        self.views, self.intake, self.server = views, intake, server

    def controls(self) -> list:
        """The control events the API wrote to the intake log and handed to the inbox."""
        return self.intake.inbox.peek().controls

    @property
    def url(self) -> str:
        return f"http://{self.server.address}"


@pytest.fixture
def api(monkeypatch) -> Iterator[Api]:
    monkeypatch.setenv("SPANWATCH_API_TOKEN", TOKEN)
    views = Views()
    with temporary_intake() as intake:
        # no dataflow answers here: writes are accepted (202) once the short wait is over
        app = make_api_app(views, intake, token=TOKEN, control_wait=0.2)
        server = _Server(app, _listen("127.0.0.1:0"))
        server.start()
        deadline = time.monotonic() + PATIENCE
        while not server.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        try:
            yield Api(views, intake, server)
        finally:
            server.stop()


def eighty_one_incidents(views: Views) -> None:
    """80 routine incidents and, opened first of all, the one critical incident."""
    rng = random.Random(81)
    made = [incident(0, "critical", T0)]
    for n in range(1, 81):
        severity = rng.choice(["info", "low", "medium", "high"])
        made.append(incident(n, severity, T0 + 600 + rng.randrange(0, 86400)))
    rng.shuffle(made)
    for item in made:
        views.apply({"type": "incident.opened", "incident": item})


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_has_a_header_and_puts_the_critical_incident_first(api, capsys):
    eighty_one_incidents(api.views)
    code, out, _ = cli(capsys, "incidents", "--api", api.url, "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "ID", "STATUS", "SEVERITY", "RULE", "FIRST", "SEEN", "LAST", "SEEN", "COUNT", "GROUP"
    ]  # fmt: skip
    assert len(lines) == 82
    assert lines[1].split()[:3] == ["inc-000", "firing", "critical"]
    severities = [line.split()[2] for line in lines[1:]]
    ranks = [SEVERITY_ORDER.index(s) for s in severities]
    assert ranks == sorted(ranks)
    # columns line up under the header, however long a rule id is
    column = lines[0].index("FIRST SEEN")
    assert all(line[column : column + 4] == "2026" for line in lines[1:])


def test_list_as_json_is_the_same_incidents_in_the_same_order(api, capsys):
    eighty_one_incidents(api.views)
    code, out, _ = cli(capsys, "incidents", "list", "--api", api.url, "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["id"] for r in rows] == [r["id"] for r in by_severity_then_newest(rows)]
    assert rows[0]["severity"] == "critical" and len(rows) == 81
    _, text, _ = cli(capsys, "incidents", "list", "--api", api.url)
    assert [line.split()[0] for line in text.splitlines()[1:]] == [r["id"] for r in rows]


def test_api_is_accepted_before_and_after_the_action(api, capsys):
    api.views.apply({"type": "incident.opened", "incident": incident(1, "high", T0)})
    before = cli(capsys, "incidents", "--api", api.url, "list")
    after = cli(capsys, "incidents", "list", "--api", api.url)
    # given at both places, the one after the action wins
    both = cli(capsys, "incidents", "--api", "http://127.0.0.1:9", "list", "--api", api.url)
    assert before == after == both
    assert before[0] == 0 and "inc-001" in before[1]


def test_an_empty_list_says_so(api, capsys):
    code, out, _ = cli(capsys, "incidents", "list", "--api", api.url)
    assert (code, out) == (0, "no open incidents\n")


def test_silence_for_a_duration_prints_the_id_the_engine_will_use(api, capsys):
    before = time.time()
    code, out, err = cli(
        capsys, "incidents", "silence", "--api", api.url, "team=payments", "--for", "1h30m"
    )
    assert code == 0, err
    controls = api.controls()
    assert len(controls) == 1 and isinstance(controls[0][1], CreateSilence)
    created = controls[0][1].silence
    assert created.id and out.startswith(f"silence {created.id} accepted, until ")
    assert before + 5400 <= created.ends_at <= time.time() + 5400
    assert out.strip().endswith(iso(created.ends_at))


def test_silence_until_an_absolute_time(api, capsys):
    end = iso(time.time() + 7200)
    code, out, _ = cli(
        capsys, "incidents", "silence", "--api", api.url, "--until", end, "user=~al.*", "--id", "s1"
    )
    assert (code, out) == (0, f"silence s1 accepted, until {end}\n")
    controls = api.controls()
    assert controls[0][1].silence.id == "s1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--until", "2h"], "'2h' is a duration, not a time: use --for 2h"),
        (["--until", "tomorrow"], "'tomorrow' is not a time: use RFC 3339"),
        (["--for", "2 hours"], "not a duration"),
        (["--for", "0s"], "must last longer than 0s"),
        ([], "one of the arguments --for --until is required"),
        (["--for", "2h", "--until", "2026-01-01T00:00:00Z"], "not allowed with argument"),
    ],
)
def test_bad_silence_times_are_one_usage_line(api, capsys, args, message):
    with pytest.raises(SystemExit) as info:
        main(["incidents", "silence", "--api", api.url, "team=a", *args])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert message in err.splitlines()[-1], err
    assert "Traceback" not in err
    assert api.controls() == []


def test_a_silence_the_engine_refuses_prints_its_reason(api, capsys):
    code, _, err = cli(capsys, "incidents", "silence", "--api", api.url, "team=~.*", "--for", "1h")
    assert code == 1
    assert err.startswith("spanwatch: HTTP 400:") and "every incident" in err


def test_ack_says_it_was_accepted(api, capsys):
    api.views.apply({"type": "incident.opened", "incident": incident(3, "high", T0)})
    code, out, _ = cli(capsys, "incidents", "ack", "fp-003", "--api", api.url, "--by", "ann")
    assert (code, out) == (0, "acknowledgement of inc-003 accepted\n")


@pytest.fixture
def not_the_engine() -> Iterator[str]:
    """A local HTTP server that answers every request 200 with JSON that is no API answer
    (a proxy or another service on the engine's port)."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            body = b'["not", "the", "engine"]'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    "action",
    [("list",), ("ack", "inc-1", "--by", "ann"), ("silence", "team=a", "--for", "1h")],
)
def test_an_answer_that_is_not_the_apis_is_one_line_not_a_traceback(not_the_engine, capsys, action):
    code, out, err = cli(capsys, "incidents", *action, "--api", not_the_engine)
    assert (code, out) == (2, "")
    assert err.startswith("spanwatch: /v1/") and "not a JSON object" in err
    assert err.count("\n") == 1


@given(
    st.lists(
        st.tuples(st.sampled_from([*SEVERITY_ORDER, "weird"]), st.integers(0, 10**9)),
        max_size=40,
    )
)
def test_order_is_severity_then_newest_whatever_the_input_order(specs):
    rows = [incident(n, sev, float(t)) for n, (sev, t) in enumerate(specs)]
    ordered = by_severity_then_newest(rows)
    assert sorted(r["id"] for r in ordered) == sorted(r["id"] for r in rows)
    assert by_severity_then_newest(list(reversed(rows))) == ordered

    def rank(r):
        sev = r["severity"]
        return SEVERITY_ORDER.index(sev) if sev in SEVERITY_ORDER else len(SEVERITY_ORDER)

    for a, b in itertools.pairwise(ordered):
        assert rank(a) <= rank(b)
        if rank(a) == rank(b):
            assert a["first_seen"] >= b["first_seen"]
