"""A provider's trouble on a model in a region pages once: the error rate of that region or
that model departing (`slices-error-rate`) folds into the model and region's incident
(`failing-teams-per-model-region`, the default inhibit rules), while a team's slice, or
another region's, still pages."""

from __future__ import annotations

from engine.incidents.model import Hit
from tests.engine.incidents.helpers import T0, book, moves, notes, one_receiver

PROVIDER, SLICES = "failing-teams-per-model-region", "slices-error-rate"
SONNET = "anthropic.claude-sonnet-4-5"


def provider(t: float, region: str = "eu-central-1") -> Hit:
    return Hit("detector", PROVIDER, "Errors for many teams", "high", t,
               {"model": SONNET, "region": region}, {}, {"n": 1})  # fmt: skip


def error_slice(t: float, label: str, value: str) -> Hit:
    return Hit("detector", SLICES, "Error rate", "critical", t, {label: value}, {}, {"n": 1})


def told(hits: list[Hit]) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    b, out = book(**one_receiver()), []
    for h in sorted(hits, key=lambda h: h.time):
        out += b.on_hit(h)
    out += b.advance(T0 + 3 * 3600)
    assert len(moves(out, "incident.opened")) == len(hits)  # the log keeps every one
    return {
        (i["rule_id"], tuple(sorted(i["group"].items()))) for n in notes(out) for i in n.incidents
    }


def test_a_regional_outage_pages_once():
    hits = [provider(T0), error_slice(T0 + 120, "region", "eu-central-1"),
            error_slice(T0 + 180, "model", SONNET)]  # fmt: skip
    assert told(hits) == {(PROVIDER, (("model", SONNET), ("region", "eu-central-1")))}


def test_a_team_slice_and_another_region_still_page():
    hits = [provider(T0), error_slice(T0 + 120, "team", "kiln"),
            error_slice(T0 + 180, "region", "us-east-1")]  # fmt: skip
    assert {rule for rule, _ in told(hits)} == {PROVIDER, SLICES}
    assert len(told(hits)) == 3
