"""The name index and the per-event sharing in `DetectorSet.route` never change routing:
for any detectors and any event, `route` gives what testing every detector gives."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors import DetectorsConfig, DetectorSet, Observation
from tests.detectors.reference_routing import route_each

NAMES = ["claude.invoke", "cache.lookup", "shell.run", "True", "true", "FALSE", "1", ""]
# Event names and filter values from one small pool, so that they often meet, in any form.
names = st.sampled_from([*NAMES, True, False, 1, 1.0, 2.5, 0])
FIELDS = ["user", "team", "model", "region", "status", "cost", "tokens_in", "cache_hit"]

# Values as decoded telemetry has them, and the odd ones (text numbers, booleans, NaN).
scalars = st.one_of(
    st.sampled_from([*NAMES, "ok", "error", "alice", "payments", "2", "-3", "lots"]),
    st.integers(min_value=-2, max_value=3),
    st.sampled_from([0.0, 1.0, 2.5, -1.0, float("nan"), float("inf")]),
    st.booleans(),
)
times = st.one_of(
    st.floats(min_value=0, max_value=4e9),
    st.integers(min_value=0, max_value=4_000_000_000),
    st.sampled_from([float("nan"), float("inf"), True, "2026-11-02T00:00:00Z", None]),
)


@st.composite
def events(draw) -> dict:
    arrays = st.lists(st.sampled_from(NAMES), max_size=2)  # OTLP array values
    event = draw(st.dictionaries(st.sampled_from(FIELDS), st.one_of(scalars, st.none(), arrays)))
    if draw(st.booleans()):
        event["name"] = draw(st.one_of(names, scalars, st.none(), arrays))
    event["time"] = draw(times)
    return event


matchers = st.one_of(
    st.fixed_dictionaries({"name": st.one_of(names, st.lists(names, max_size=3))}),
    st.dictionaries(
        st.sampled_from(["name", "status", "model", "cache_hit"]),
        st.one_of(scalars.filter(lambda v: v == v), st.lists(names, max_size=3)),
        max_size=2,
    ),
)
metrics = st.sampled_from(
    [
        {"aggregation": "count"},
        {"aggregation": "sum", "field": "cost"},
        {"aggregation": "avg", "field": ["tokens_in", "cost"]},
        {"aggregation": "p95", "field": "cost"},
        {"aggregation": "rate", "condition": {"status": "error"}},
        {"aggregation": "ratio", "field": "cache_hit"},
        {"aggregation": "ratio", "field": "status", "condition": {"status": ["ok", 1]}},
        {"aggregation": "distinct", "field": "region"},
    ]
)


@st.composite
def detector_specs(draw) -> list[dict]:
    specs = []
    for i in range(draw(st.integers(min_value=1, max_value=8))):
        labels = draw(st.lists(st.sampled_from(["user", "team", "model"]), unique=True))
        cut = draw(st.integers(min_value=0, max_value=len(labels)))
        spec = {
            "id": f"d{i}",
            "filter": draw(matchers),
            "exclude": draw(matchers),
            "group_by": labels[:cut],
            "parent_by": labels[cut:],
            "enabled": draw(st.booleans()) or i == 0,
        }
        if draw(st.booleans()):
            spec |= {"kind": "hst", "metrics": draw(st.lists(metrics, min_size=2, max_size=3))}
        else:
            spec |= {"kind": "ewma", **draw(metrics)}
        specs.append(spec)
    return specs


def comparable(observations: list[Observation]) -> list[tuple]:
    """Field by field, with values by repr (NaN equals NaN; 1 differs from 1.0)."""
    return [
        (o.detector_id, o.time, o.group, repr(o.value), o.parent, repr(o.values), o.dedup)
        for o in observations
    ]


DEFAULTS = DetectorSet.from_config(DetectorsConfig())


@settings(max_examples=300)
@given(event=events())
def test_the_default_detectors_route_like_testing_each_detector(event):
    assert comparable(DEFAULTS.route(event)) == comparable(route_each(DEFAULTS, event))


# Drawing detector specs is slow on a busy machine; how slow is no part of what is tested.
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(specs=detector_specs(), batch=st.lists(events(), min_size=1, max_size=15))
def test_any_detectors_route_like_testing_each_detector(specs, batch):
    ds = DetectorSet.from_config(DetectorsConfig.model_validate({"detectors": specs}))
    for event in batch:
        assert comparable(ds.route(event)) == comparable(route_each(ds, event))


def test_only_detectors_that_accept_the_name_are_tried_and_the_rest_still_are():
    ds = DetectorSet.from_config(
        DetectorsConfig.model_validate(
            {
                "detectors": [
                    {"id": "invoke", "kind": "ewma", "filter": {"name": "claude.invoke"}},
                    {"id": "both", "kind": "ewma", "filter": {"name": ["claude.invoke", 7]}},
                    {"id": "flag", "kind": "ewma", "filter": {"name": True}},
                    {"id": "any", "kind": "ewma", "exclude": {"name": "shell.run"}},
                ]
            }
        )
    )

    def fed(name: object) -> list[str]:
        return [o.detector_id for o in ds.route({"time": 1.0, "name": name})]

    assert fed("claude.invoke") == ["invoke", "both", "any"]
    assert fed(7.0) == fed("7") == ["both", "any"]
    assert fed("TRUE") == fed(True) == ["flag", "any"]
    assert fed("shell.run") == []
    assert fed(None) == fed("other") == ["any"]
