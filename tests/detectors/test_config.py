"""The detectors section of the configuration: defaults and precise errors."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from detectors.config import DetectorsConfig


def errors(data):
    with pytest.raises(ValidationError) as exc:
        DetectorsConfig.model_validate(data)
    return [(e["loc"], e["msg"]) for e in exc.value.errors()]


def test_the_embedded_default_set_covers_the_claude_code_use_cases():
    ids = {d.id: d for d in DetectorsConfig().detectors}
    assert ids["cost-per-team"].group_by == ["team"]
    assert ids["cost-per-user"].parent_by == ["team"]
    assert ids["invocations-per-user"].aggregation == "count"
    assert ids["failing-teams-per-model-region"].group_by == ["model", "region"]
    assert ids["error-rate-per-team"].severity == "critical"
    assert ids["latency-per-model-region"].kind == "slowdown"
    assert ids["cache-hit-ratio-per-team"].aggregation == "ratio"
    assert "cache-hit-ratio-per-workflow" not in ids  # a team's collapse, seen again by workflow
    assert ids["region-new-to-organisation"].params == {
        "generalize": "geography",
        "scope": "everyone",
        "hold": 3600.0,
        "adopted_by": 3,
        "warm_on": "weekdays",
        "warmup_news": "at_once",
    }
    assert ids["slices-error-rate"].params["recall"] == 1800.0
    assert ids["new-model-per-team"].field == "model"
    assert ids["team-silent"].kind == "absence"
    assert ids["team-monthly-budget"].kind == "budget"
    assert {"tokens-per-team", "tokens-per-user"} <= set(ids)


def test_a_bad_parameter_is_reported_at_its_own_location():
    errs = errors({"detectors": [{"id": "x", "kind": "seasonal", "params": {"z": -1, "zz": 1}}]})
    assert (("detectors", 0, "params", "z"), "Input should be greater than 0") in errs
    assert (("detectors", 0, "params", "zz"), "Extra inputs are not permitted") in errs


def test_a_bad_interval_names_the_field_and_how_to_write_it():
    errs = errors({"detectors": [{"id": "x", "kind": "ewma", "interval": "5 parsecs"}]})
    assert errs[0][0] == ("detectors", 0, "interval")
    assert "5m" in errs[0][1]


def test_aggregations_that_need_a_field_say_so():
    errs = errors({"detectors": [{"id": "x", "kind": "ewma", "aggregation": "p95"}]})
    assert errs[0][0] == ("detectors", 0)
    assert "needs a `field`" in errs[0][1]


def test_unknown_keys_and_duplicate_ids_are_refused():
    errs = errors({"detectors": [{"id": "x", "kind": "ewma", "tresh": 0.5}]})
    assert errs[0][0] == ("detectors", 0, "tresh")
    errs = errors({"detectors": [{"id": "x", "kind": "ewma"}, {"id": "x", "kind": "ewma"}]})
    assert "duplicate detector id 'x'" in errs[0][1]


def test_budget_needs_an_amount_and_hst_needs_several_metrics():
    errs = errors(
        {"detectors": [{"id": "b", "kind": "budget", "aggregation": "sum", "field": "cost"}]}
    )
    assert "needs `params.budget`" in errs[0][1]
    errs = errors({"detectors": [{"id": "h", "kind": "hst"}]})
    assert "several metrics" in errs[0][1]


def test_for_is_accepted_under_its_yaml_name_and_durations_as_text():
    cfg = DetectorsConfig.model_validate(
        {"detectors": [{"id": "x", "kind": "ewma", "for": 3, "warmup": "2h", "interval": "1m"}]}
    )
    d = cfg.detectors[0]
    assert (d.for_, d.warmup, d.interval) == (3, 7200.0, 60.0)


def test_the_default_set_is_the_shipped_yaml_file_validated_by_the_same_models():
    import yaml

    from detectors.config import DEFAULTS_FILE, default_detectors

    raw = yaml.safe_load(DEFAULTS_FILE.read_text())
    from_file = DetectorsConfig.model_validate(raw).detectors
    assert [d.model_dump() for d in from_file] == [
        d.model_dump() for d in DetectorsConfig().detectors
    ]
    assert [d.model_dump() for d in default_detectors()] == [d.model_dump() for d in from_file]
    assert len(from_file) == len(raw["detectors"]) >= 14


def test_the_default_specs_handed_out_are_copies_that_cannot_change_the_defaults():
    first = DetectorsConfig().detectors
    first[0].params["z"] = 99.0
    first[0].group_by.append("repo")
    again = DetectorsConfig().detectors[0]
    assert "z" not in again.params or again.params["z"] != 99.0
    assert "repo" not in again.group_by


def test_a_broken_detector_file_names_the_file_and_the_line(tmp_path):
    from detectors.config import DefaultsError, load_detector_file

    path = tmp_path / "detectors.yml"
    path.write_text(
        "detectors:\n"
        "  - id: ok\n"
        "    kind: ewma\n"
        "  - id: bad\n"
        "    kind: seasonal\n"
        "    params:\n"
        "      z: -1\n"
    )
    with pytest.raises(DefaultsError) as exc:
        load_detector_file(path)
    assert f"{path}:7: detectors.1.params.z: Input should be greater than 0" in str(exc.value)
    path.write_text("detectors:\n  - id: [unclosed\n")
    with pytest.raises(DefaultsError, match=rf"{path}:\d+: not valid YAML"):
        load_detector_file(path)


def test_a_detector_may_have_its_own_noise_budget_or_none():
    base = {"id": "x", "kind": "ewma"}
    specs = DetectorsConfig.model_validate(
        {"detectors": [{**base, "noise_budget": 3}, {**base, "id": "y", "noise_budget": "off"}]}
    ).detectors
    assert [s.noise_budget for s in specs] == [3, 0]
    errs = errors({"detectors": [{**base, "noise_budget": 0}]})
    assert errs[0][0] == ("detectors", 0, "noise_budget") and "or `off`" in errs[0][1]


def test_a_detectors_signals_carry_its_noise_budget():
    from detectors.detectorset import DetectorSet
    from detectors.model import Observation

    spec = {"id": "c", "kind": "ewma", "interval": "1m", "warmup": 0, "noise_budget": 2,
            "params": {"direction": "up"}}  # fmt: skip
    detectors = DetectorSet.from_config(DetectorsConfig.model_validate({"detectors": [spec]}))
    state = detectors.new_state("c")
    signals = []
    for minute in range(200):
        for _ in range(50 if minute == 199 else 2 + minute % 2):
            state.update(Observation("c", minute * 60.0 + 1, (), None))
        signals += state.advance((minute + 1) * 60.0)
    assert signals and all(s.noise_budget == 2 for s in signals)


@pytest.mark.parametrize(
    ("kind", "param", "value", "message"),
    [
        ("new_value", "hold", "0s", "greater than 0"),
        ("new_value", "hold", "soon", "duration"),
        ("new_value", "adopted_by", 0, "greater than or equal to 1"),
        ("slices", "recall", -5, "not a duration"),
        ("slices", "recall", "half an hour", "duration"),
    ],
)
def test_the_hold_adoption_and_recall_are_validated_where_they_are_written(
    tmp_path, kind, param, value, message
):
    """The region news' hold and adoption count and a slice's recall are each detector's own
    parameters: a bad one is refused with the file, the line and the parameter's path."""
    from detectors.config import DefaultsError, load_detector_file

    aggregation = (
        "distinct\n    field: region"
        if kind == "new_value"
        else "rate\n    condition: {status: error}"
    )
    path = tmp_path / "detectors.yml"
    path.write_text(
        "detectors:\n"
        "  - id: d\n"
        f"    kind: {kind}\n"
        f"    aggregation: {aggregation}\n"
        "    group_by: [team]\n"
        "    params:\n"
        f"      {param}: {value!r}\n"
    )
    with pytest.raises(DefaultsError) as exc:
        load_detector_file(path)
    text = str(exc.value)
    assert f"{path}:8: detectors.0.params.{param}" in text and message in text
    assert "\n" not in text.strip()
