"""The ingest gate on its own: who gets in, what start-up says, and how it is configured."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.config import load_config
from engine.live.ingest_auth import DISABLED, UNAUTHENTICATED, IngestGate
from engine.yamlfile import ConfigError

TOKEN_CHARS = string.ascii_letters + string.digits + "-._~+/="
tokens = st.text(TOKEN_CHARS, min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(token=tokens, scheme=st.sampled_from(["Bearer", "bearer", "BEARER"]))
def test_the_configured_token_after_the_bearer_scheme_in_any_case_gets_in(token, scheme):
    gate = IngestGate("bearer", token)
    assert gate.check(f"{scheme} {token}") is None
    assert gate.check(f"{scheme} {token}".encode()) is None
    assert gate.counts() == {"unauthenticated": 0, "disabled": 0}


def near_misses(token: str) -> list[str]:
    return [token, token[:-1], token + "x", "x" + token, token.swapcase(), "", f"{token} {token}"]


@settings(max_examples=100, deadline=None)
@given(
    token=tokens,
    scheme=st.sampled_from(["Bearer", "bearer", "Basic", "Token", "", "Bearer:"]),
    gap=st.sampled_from(["", " ", "   "]),
    pick=st.integers(0, 6),
)
def test_only_the_exact_token_after_the_bearer_scheme_gets_in(token, scheme, gap, pick):
    candidate = near_misses(token)[pick]
    gate = IngestGate("bearer", token)
    verdict = gate.check(f"{scheme}{gap}{candidate}")
    exact = scheme.lower() == "bearer" and gap != "" and candidate == token
    assert (verdict is None) == exact
    assert gate.counts()["unauthenticated"] == (0 if exact else 1)


@settings(max_examples=60, deadline=None)
@given(token=tokens, header=st.one_of(st.none(), st.text(max_size=60), st.binary(max_size=60)))
def test_arbitrary_header_values_are_refused_without_raising(token, header):
    gate = IngestGate("bearer", token)
    assert gate.check(header) is UNAUTHENTICATED


@pytest.mark.parametrize("unset", [None, "", "   "])
def test_without_a_token_bearer_mode_refuses_everything_as_disabled(unset):
    gate = IngestGate("bearer", unset)
    assert gate.check("Bearer anything") is DISABLED
    assert gate.check(None) is DISABLED
    assert gate.counts() == {"unauthenticated": 0, "disabled": 2}
    assert DISABLED.reason == (
        "ingest is disabled: set SPANWATCH_INGEST_TOKEN (or live.ingest_auth: none)"
    )


def test_none_mode_lets_everything_in_and_counts_nothing():
    gate = IngestGate("none", None)
    assert gate.check(None) is None
    assert gate.check("Bearer whatever") is None
    assert gate.counts() == {"unauthenticated": 0, "disabled": 0}


def test_a_wrong_token_is_refused_as_unauthenticated():
    assert IngestGate("bearer", "s3cret").check("Bearer s3cret-not") is UNAUTHENTICATED


def test_the_token_comes_from_the_environment_and_never_shows_in_repr_or_notices():
    gate = IngestGate.from_env("bearer", {"SPANWATCH_INGEST_TOKEN": "tok-81f2"})
    assert gate.check("Bearer tok-81f2") is None
    assert "tok-81f2" not in repr(gate)
    assert gate.startup_notice() is None
    opened = IngestGate.from_env("none", {"SPANWATCH_INGEST_TOKEN": "tok-81f2"})
    notice = opened.startup_notice()
    assert notice is not None and "tok-81f2" not in notice
    assert "accept unauthenticated data" in notice and "ignored" in notice


def test_start_up_says_when_ingest_is_disabled_or_open_in_one_line():
    disabled = IngestGate.from_env("bearer", {}).startup_notice()
    assert disabled is not None and "\n" not in disabled
    assert "ingest is disabled: set SPANWATCH_INGEST_TOKEN (or live.ingest_auth: none)" in disabled
    opened = IngestGate.from_env("none", {}).startup_notice()
    assert (
        opened
        == "spanwatch: live.ingest_auth is none: the OTLP receivers accept unauthenticated data"
    )


def test_ingest_auth_defaults_to_bearer_and_accepts_none(tmp_path):
    assert load_config(None).live.ingest_auth == "bearer"
    path = tmp_path / "spanwatch.yml"
    path.write_text("live:\n  ingest_auth: none\n")
    assert load_config(path).live.ingest_auth == "none"


def test_an_unknown_ingest_auth_names_the_file_and_line(tmp_path):
    path = tmp_path / "spanwatch.yml"
    path.write_text("state_dir: x\nlive:\n  api: 127.0.0.1:8080\n  ingest_auth: basic\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    (problem,) = [str(p) for p in info.value.problems]
    assert problem.startswith(f"{path}:4: live.ingest_auth")
    assert "'bearer'" in problem and "'none'" in problem
