"""The intake log's frames and segments: whole frames or none, torn tails cut off, one sync for
many requests, and segments deleted only wholly behind what is still needed."""

from __future__ import annotations

import io
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.live.wal import IntakeLog, WalError
from engine.live.wal_format import (
    CONTROL,
    EVENTS,
    Frame,
    FrameError,
    TickInfo,
    encode,
    encode_tick,
    iter_frames,
    tick_info,
)

frames = st.lists(
    st.tuples(
        st.sampled_from([EVENTS, CONTROL]),
        st.integers(1, 2**63),
        st.floats(allow_nan=False, allow_infinity=False),
        st.binary(max_size=300),
    ),
    max_size=8,
)


def written(items: list[tuple[int, int, float, bytes]]) -> tuple[bytes, list[Frame]]:
    data, out, pos = b"", [], 0
    for kind, seq, t, payload in items:
        raw = encode(kind, seq, t, payload)
        out.append(Frame(pos, kind, seq, t, payload))
        data += raw
        pos += len(raw)
    return data, out


def read_all(data: bytes) -> tuple[list[Frame], bool]:
    got: list[Frame] = []
    try:
        got.extend(iter_frames(io.BytesIO(data), 0))
    except FrameError:
        return got, False
    return got, True


@settings(max_examples=300, deadline=None)
@given(items=frames, cut=st.integers(0, 10**5))
def test_a_cut_anywhere_leaves_only_whole_frames_before_it(items, cut):
    data, expected = written(items)
    cut = min(cut, len(data))
    got, clean = read_all(data[:cut])
    assert got == [f for f in expected if f.end <= cut]
    assert clean == (cut in {0, *(f.end for f in expected)})


@settings(max_examples=300, deadline=None)
@given(items=frames.filter(bool), where=st.integers(0, 10**5), bit=st.integers(0, 7))
def test_a_flipped_bit_never_reads_as_a_frame(items, where, bit):
    data, expected = written(items)
    where %= len(data)
    damaged = bytearray(data)
    damaged[where] ^= 1 << bit
    got, _ = read_all(bytes(damaged))
    hit = next(f for f in expected if f.pos <= where < f.end)
    assert got == [f for f in expected if f.end <= hit.pos]


def test_ticks_round_trip():
    info = TickInfo(ev_seq=7, ev_idx=3, vis_seq=9, scan_from=1234)
    (frame,) = list(iter_frames(io.BytesIO(encode_tick(5.5, info)), 0))
    assert tick_info(frame) == info and frame.time == 5.5


@pytest.mark.parametrize("sync", [True, False], ids=["synced", "written-only"])
def test_concurrent_requests_share_syncs_and_keep_their_order(tmp_path, sync):
    log = IntakeLog(tmp_path, on_publish=lambda batch, end: published.extend(batch), sync=sync)
    published: list = []
    log.start()
    pending = []
    lock = threading.Lock()

    def client(n: int) -> None:
        for i in range(50):
            p = log.append(EVENTS, 1.0, f"{n}-{i}".encode())
            with lock:
                pending.append(p)
            p.wait(10)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    assert all(p.done.is_set() and p.error is None for p in pending)
    assert log.appended == 400 and log.commits <= 400
    if sync:  # group commit: requests waiting on a sync share it (written-only may not wait)
        assert log.commits < 400
    assert [p.seq for p in published] == sorted(p.seq for p in published)
    again = IntakeLog(tmp_path)
    assert [f.seq for f in again.frames(0)] == list(range(1, 401))
    assert [f.payload for f in again.frames(0)] == [p.payload for p in published]
    again.close()


def test_segments_rotate_and_go_only_when_wholly_behind_what_is_needed(tmp_path):
    log = IntakeLog(tmp_path, segment_bytes=100)
    log.start()
    for _ in range(12):
        log.append(EVENTS, 1.0, b"x" * 40).wait(10)
    positions = [f.pos for f in log.frames(0)]
    segments = [base for base, _ in log.segments()]
    assert len(segments) > 3 and segments[0] == 0
    needed = positions[7]
    log.delete_before(needed)
    kept = [base for base, _ in log.segments()]
    assert kept[0] <= needed < (kept[1] if len(kept) > 1 else 10**9)
    assert [f.pos for f in log.frames(kept[0])] == [p for p in positions if p >= kept[0]]
    log.delete_before(10**9)
    assert [base for base, _ in log.segments()] == [segments[-1]]  # the one being written stays
    log.close()


def test_damage_before_the_last_segment_stops_the_start_in_one_line(tmp_path):
    log = IntakeLog(tmp_path, segment_bytes=100)
    log.start()
    for _ in range(6):
        log.append(EVENTS, 1.0, b"y" * 60).wait(10)
    log.close()
    first = log.segments()[0][1]
    data = bytearray(first.read_bytes())
    data[30] ^= 0xFF
    first.write_bytes(bytes(data))
    with pytest.raises(WalError, match=r"is damaged at byte .*move the wal folder aside"):
        IntakeLog(tmp_path)
