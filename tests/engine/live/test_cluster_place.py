"""A process's place in a live cluster: its configuration, its recovery partition, its options."""

from __future__ import annotations

import subprocess
import sys

import pytest

from engine.config import SpanwatchConfig
from engine.live.cluster import ClusterPlace, prepare_cluster_recovery_dir
from engine.live.recovery_dir import RecoveryDirError


def test_each_process_gets_a_state_directory_and_on_one_machine_ports_of_its_own(tmp_path):
    config = SpanwatchConfig(state_dir=str(tmp_path / "st"))
    addresses = ("127.0.0.1:2101", "127.0.0.1:2102", "127.0.0.1:2103")
    first, third = ClusterPlace(0, addresses, True), ClusterPlace(2, addresses, True)
    assert (first.partition, third.partitions) == ("live-0", ["live-0", "live-1", "live-2"])
    own = first.own_config(config), third.own_config(config)
    assert [str(c.state_dir) for c in own] == [
        f"{tmp_path}/st/process-0",
        f"{tmp_path}/st/process-2",
    ]
    assert own[0].live.api == config.live.api  # process 0 serves the configured API
    assert {own[1].live.api, own[1].live.otlp_http, own[1].live.otlp_grpc} == {"127.0.0.1:0"}
    apart = ClusterPlace(2, addresses).own_config(config)  # one machine each: as configured
    assert apart.live.otlp_http == config.live.otlp_http
    with pytest.raises(ValueError, match="--process-id 3 is not one of the 3 processes"):
        ClusterPlace(3, addresses)


def test_a_recovery_partition_is_made_once_and_refused_to_another_cluster(tmp_path):
    three = ("a:1", "b:1", "c:1")
    made = prepare_cluster_recovery_dir(tmp_path / "recovery", ClusterPlace(1, three))
    assert [p.name for p in made.glob("part-*.sqlite3")] == ["part-1.sqlite3"]
    assert prepare_cluster_recovery_dir(made, ClusterPlace(1, three)) == made  # kept
    with pytest.raises(RecoveryDirError, match="made for a cluster of 3 processes, not 2"):
        prepare_cluster_recovery_dir(made, ClusterPlace(1, ("a:1", "b:1")))
    with pytest.raises(RecoveryDirError, match="not process 0's partition alone"):
        prepare_cluster_recovery_dir(made, ClusterPlace(0, three))
    (made / "part-1.sqlite3").write_bytes(b"")  # an interrupted start: made again
    assert prepare_cluster_recovery_dir(made, ClusterPlace(1, three)) == made
    assert (made / "part-1.sqlite3").stat().st_size > 0


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--process-id", "1"], "--process-id and --addresses go together"),
        (["--addresses", "h:1,h:2"], "--process-id and --addresses go together"),
        (["-i", "2", "-a", "h:1,h:2"], "--process-id 2 is not one of the 2 processes"),
        (["-i", "0", "-a", "h:1,nowhere"], "'nowhere' is not HOST:PORT"),
        (["--processes", "2", "-a", "h:1,h:2"], "not allowed with argument"),
        (["-i", "-1", "-a", "h:1"], "is not a whole number of 0 or more"),
    ],
)
def test_cluster_options_that_do_not_fit_are_refused_in_one_line(tmp_path, args, said):
    config = tmp_path / "c.yml"
    config.write_text(f"state_dir: {tmp_path / 'st'}\n")
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "run", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert said in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "st").exists() or not any((tmp_path / "st").iterdir())
