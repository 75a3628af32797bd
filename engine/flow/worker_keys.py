"""Routing keys that put each keyed stage on the worker chosen for it.

Bytewax sends an item of a keyed step to worker `hash(key) % workers`, where the hash is Rust's
default hasher (SipHash-1-3 with zero keys) over the key string's bytes and a closing 0xff byte.
With a handful of keys such as "d0".."d3", that hash often puts most of them on one worker, and
the busiest shards then run one after the other. So instead of leaving the placement to chance,
the run decides which worker each stage runs on (`place`) and finds, for each, a key string that
Bytewax routes there (`key_on`): the stage's own name with a short suffix.

`bytewax_worker` mirrors Bytewax's hash; a test checks it against a running dataflow. Were a
future Bytewax to hash otherwise, the keys would still be distinct and the output the same: only
the balance would suffer.
"""

from __future__ import annotations

from collections.abc import Mapping

MASK = (1 << 64) - 1
MAX_SUFFIX = 100_000


def _rotl(x: int, bits: int) -> int:
    return ((x << bits) | (x >> (64 - bits))) & MASK


def _sip_round(v0: int, v1: int, v2: int, v3: int) -> tuple[int, int, int, int]:
    v0 = (v0 + v1) & MASK
    v1 = _rotl(v1, 13) ^ v0
    v0 = _rotl(v0, 32)
    v2 = (v2 + v3) & MASK
    v3 = _rotl(v3, 16) ^ v2
    v0 = (v0 + v3) & MASK
    v3 = _rotl(v3, 21) ^ v0
    v2 = (v2 + v1) & MASK
    v1 = _rotl(v1, 17) ^ v2
    v2 = _rotl(v2, 32)
    return v0, v1, v2, v3


def siphash13(data: bytes) -> int:
    """SipHash-1-3 with both keys zero: what Rust's `DefaultHasher::new()` computes."""
    v0, v1 = 0x736F6D6570736575, 0x646F72616E646F6D
    v2, v3 = 0x6C7967656E657261, 0x7465646279746573
    end = len(data) - len(data) % 8
    for i in range(0, end, 8):
        m = int.from_bytes(data[i : i + 8], "little")
        v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3 ^ m)
        v0 ^= m
    last = ((len(data) & 0xFF) << 56) | int.from_bytes(data[end:], "little")
    v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3 ^ last)
    v0 ^= last
    v2 ^= 0xFF
    for _ in range(3):
        v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


def bytewax_worker(key: str, workers: int) -> int:
    """The worker (0-based, over the whole cluster) that Bytewax routes `key` to."""
    return siphash13(key.encode() + b"\xff") % workers


def key_on(name: str, worker: int, workers: int) -> str:
    """`name` itself when Bytewax already routes it to `worker`, else `name@n` for the least n
    that is routed there."""
    if bytewax_worker(name, workers) == worker:
        return name
    for n in range(MAX_SUFFIX):
        key = f"{name}@{n}"
        if bytewax_worker(key, workers) == worker:
            return key
    raise ValueError(f"no key for {name!r} on worker {worker} of {workers}")  # pragma: no cover


def place(weights: Mapping[str, float], workers: int, pinned: Mapping[str, int]) -> dict[str, int]:
    """A worker for every stage: `pinned` ones where they are pinned (they count as weight 1),
    the others heaviest first, each on the least loaded worker (ties: the lowest index)."""
    load = [0.0] * workers
    out: dict[str, int] = {}
    for name, worker in pinned.items():
        out[name] = worker % workers
        load[worker % workers] += 1.0
    for name in sorted(weights, key=lambda n: (-weights[n], n)):
        worker = min(range(workers), key=lambda w: (load[w], w))
        out[name] = worker
        load[worker] += weights[name]
    return out


def routing_keys(
    weights: Mapping[str, float], workers: int, pinned: Mapping[str, int]
) -> dict[str, str]:
    """The key each stage is sent under so that it runs on the worker `place` chose."""
    if workers <= 1:
        return {name: name for name in [*pinned, *weights]}
    return {
        name: key_on(name, worker, workers)
        for name, worker in place(weights, workers, pinned).items()
    }
