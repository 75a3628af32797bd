"""A replay cluster whose ports another program takes first starts again on fresh ones.

The cluster's ports are chosen free and released before its processes bind them; on a busy
machine any outgoing connection may take one in between. Here a real socket holds the port a
process is given, so its Bytewax networking fails to listen exactly as it would then.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import bytewax.operators as op
import pytest
from bytewax.dataflow import Dataflow
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bytewax.run import cli_main
from bytewax.testing import TestingSource

from engine.flow.local_cluster import ClusterError, free_loopback_addresses, run_cluster


class _Discard(DynamicSink[int]):
    def build(self, step_id: str, worker_index: int, worker_count: int) -> _Nothing:
        return _Nothing()


class _Nothing(StatelessSinkPartition[int]):
    def write_batch(self, items: list[int]) -> None:
        return None


def counting_body(addresses: list[str]) -> Callable[[int], tuple[int, list[str]]]:
    """A Bytewax cluster over `addresses` that reports which addresses it ran on."""

    def body(process_id: int) -> tuple[int, list[str]]:
        flow = Dataflow("cluster-addresses")
        op.output("out", op.input("in", flow, TestingSource(range(10))), _Discard())
        cli_main(flow, process_id=process_id, addresses=addresses, workers_per_process=1)
        return process_id, addresses

    return body


@pytest.fixture
def taken() -> Iterator[str]:
    """A loopback address some other program holds (bound and listening)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(8)
        yield f"127.0.0.1:{holder.getsockname()[1]}"


@pytest.mark.parametrize("victim", [0, 1])
def test_a_taken_cluster_address_starts_the_cluster_again_on_fresh_ones(tmp_path, taken, victim):
    chosen: list[list[str]] = []

    def choose(count: int) -> list[str]:
        addresses = free_loopback_addresses(count)
        if len(chosen) < 2:  # the first two clusters find one of their ports taken
            addresses[victim] = taken
        chosen.append(addresses)
        return addresses

    results = run_cluster(2, tmp_path, counting_body, choose=choose)
    assert len(chosen) == 3
    assert results == [(0, chosen[2]), (1, chosen[2])]


def test_a_cluster_whose_ports_are_always_taken_fails_with_one_clear_line(tmp_path, taken):
    def choose(count: int) -> list[str]:
        return [*free_loopback_addresses(count - 1), taken]

    with pytest.raises(ClusterError) as caught:
        run_cluster(2, tmp_path, counting_body, choose=choose, attempts=3)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("replay process 1 of 2 failed (an error: cannot listen on its")
    assert "Address already in use" in message
    assert "took the cluster's ports 3 times in a row" in message


def test_other_errors_are_not_retried(tmp_path):
    calls: list[list[str]] = []

    def body_for(addresses: list[str]) -> Callable[[int], None]:
        calls.append(addresses)

        def body(process_id: int) -> None:
            raise ValueError("the partition file is gone")

        return body

    with pytest.raises(ClusterError, match="ValueError: the partition file is gone"):
        run_cluster(2, tmp_path, body_for)
    assert len(calls) == 1
