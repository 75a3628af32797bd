"""Configuration errors say file, line and what to write instead: keys meant, addresses' form."""

from __future__ import annotations

import textwrap
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.cli import main
from engine.config import SpanwatchConfig, load_config
from engine.config_hints import known_keys
from engine.yamlfile import ConfigError


def run_with(tmp_path: Path, capsys, text: str) -> tuple[int, list[str]]:
    path = tmp_path / "spanwatch.yml"
    path.write_text(textwrap.dedent(text).lstrip())
    code = main(["run", "--config", str(path)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.err.splitlines()


def test_unknown_keys_get_a_did_you_mean_at_every_depth(tmp_path, capsys):
    code, lines = run_with(
        tmp_path,
        capsys,
        """
        strem: {tick: 5}
        live:
          apii: "127.0.0.1:8080"
        rules:
          pack: [claude_code]
        notifiers:
          receivers:
            - {name: s, type: slack, bot_tokn: {env: SLACK_BOT_TOKEN}, channel: "#a"}
        incidents:
          route:
            receiver: console
            group_wiat: 5m
            routes:
              - {matchers: ['team="a"'], receiver: console, contine: true}
        detectors:
          - {id: x, kind: ewma, field: cost, aggregation: sum, parms: {}}
        """,
    )
    path = tmp_path / "spanwatch.yml"
    assert code == 2
    expected = [
        f"{path}:1: strem: unknown key 'strem' (did you mean 'stream'?)",
        f"{path}:3: live.apii: unknown key 'apii' (did you mean 'api'?)",
        f"{path}:5: rules.pack: unknown key 'pack' (did you mean 'packs'?)",
        "unknown key 'bot_tokn' (did you mean 'bot_token'?)",
        f"{path}:12: incidents.route.group_wiat: unknown key 'group_wiat' (did you mean "
        "'group_wait'?)",
        "unknown key 'contine' (did you mean 'continue'?)",
        f"{path}:16: detectors.0.parms: unknown key 'parms' (did you mean 'params'?)",
    ]
    for want in expected:
        assert any(want in line for line in lines), (want, lines)
    assert len(lines) == len(expected)  # one line per problem, in the order of the file
    assert [int(line.split(":")[1]) for line in lines] == sorted(
        int(line.split(":")[1]) for line in lines
    )


def test_a_key_nothing_resembles_lists_the_keys_allowed(tmp_path, capsys):
    code, lines = run_with(tmp_path, capsys, "live:\n  zzz: 1\n")
    assert code == 2
    assert lines[0].endswith("live.zzz: unknown key 'zzz' (known keys: " + _keys("live") + ")")


def test_the_clock_skew_setting_of_the_live_section_points_to_its_new_place(tmp_path, capsys):
    code, lines = run_with(tmp_path, capsys, "stream:\n  tick: 30\nlive:\n  max_clock_skew: 60\n")
    assert code == 2 and len(lines) == 1
    assert ":3: live:" in lines[0] and "stream.max_future" in lines[0], lines


def _keys(section: str) -> str:
    return ", ".join(sorted(known_keys(SpanwatchConfig, [section])))


def test_addresses_that_are_not_host_port_say_the_form_expected(tmp_path, capsys):
    code, lines = run_with(
        tmp_path,
        capsys,
        """
        live:
          otlp_grpc: 4317
          otlp_http: localhost
          api: "::8080"
        """,
    )
    path = tmp_path / "spanwatch.yml"
    assert code == 2
    hint = "is not an address: use HOST:PORT, for example 0.0.0.0:4318"
    assert lines[0].startswith(f"{path}:2: live.otlp_grpc: 4317 {hint}")
    assert lines[1].startswith(f"{path}:3: live.otlp_http: 'localhost' {hint}")
    assert lines[2].startswith(f"{path}:4: live.api: '::8080' {hint}")


SECTIONS = [(), ("live",), ("stream",), ("rules",), ("notifiers", "delivery")]


def _typo(key: str, where: int, kind: str) -> str:
    i = where % len(key)
    if kind == "drop":
        return key[:i] + key[i + 1 :]
    if kind == "swap" and i + 1 < len(key):
        return key[:i] + key[i + 1] + key[i] + key[i + 2 :]
    return key[:i] + "x" + key[i:]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    section=st.sampled_from(SECTIONS),
    pick=st.integers(0, 1000),
    where=st.integers(0, 1000),
    kind=st.sampled_from(["drop", "swap", "insert"]),
)
def test_a_one_letter_typo_of_any_key_suggests_a_key_of_that_section(
    tmp_path, section, pick, where, kind
):
    keys = [k for k in known_keys(SpanwatchConfig, list(section)) if len(k) >= 4]
    key = keys[pick % len(keys)]
    typo = _typo(key, where, kind)
    if typo in keys:
        return
    text = "".join(f"{'  ' * depth}{name}:\n" for depth, name in enumerate(section))
    text += f"{'  ' * len(section)}{typo}: 1\n"
    path = tmp_path / "typo.yml"
    path.write_text(text)
    try:
        load_config(path)
    except ConfigError as exc:
        mine = [p for p in exc.problems if p.where.endswith(typo)]
    else:
        raise AssertionError(f"{typo!r} was accepted")
    assert len(mine) == 1
    assert mine[0].line == len(section) + 1
    suggested = mine[0].message.split("did you mean ")[1].strip("'?)")
    assert suggested in keys


def test_a_swapped_pair_of_letters_in_a_short_key_is_still_recognised():
    from engine.config_hints import unknown_key

    assert unknown_key("kfaka", ["api", "kafka"]) == "unknown key 'kfaka' (did you mean 'kafka'?)"
