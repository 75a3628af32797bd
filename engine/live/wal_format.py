"""The intake log's frames: how one accepted request, control event or source tick is written.

    frame = header payload
    header = length (u32) · crc32 (u32) · kind (u8) · seq (u64) · time (f64), little-endian

`length` is the payload's size; the CRC covers everything after itself (kind, seq, time and the
payload), so a frame torn by a crash, or bytes that were never a frame, are told apart from a
whole one. `seq` numbers what was accepted (events, control events, Kafka messages) in the
order it was written; ticks carry 0. `time` is the wall time of acceptance (of the tick).

A tick's payload says what the live source took from the inbox at that instant, so that a
restart can hand the dataflow exactly the same chunks again (see `engine.live.intake`).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

EVENTS, CONTROL, TICK, KAFKA = 1, 2, 3, 4
KINDS = (EVENTS, CONTROL, TICK, KAFKA)

HEADER = struct.Struct("<IIBQd")
MAX_PAYLOAD = 1 << 30  # no request or message comes near; a larger length is damage
_TICK = struct.Struct("<QIQQ")


class FrameError(Exception):
    """Bytes that are not a whole frame where one should start."""


@dataclass(frozen=True, slots=True)
class Frame:
    pos: int  # where the frame starts in the log (bytes since the log's beginning)
    kind: int
    seq: int
    time: float
    payload: bytes

    @property
    def end(self) -> int:
        return self.pos + HEADER.size + len(self.payload)


@dataclass(frozen=True, slots=True)
class TickInfo:
    """What one tick took: events through (`ev_seq`, `ev_idx` events of it), every hit and
    control event of records through `vis_seq`; every record before `scan_from` was taken whole."""

    ev_seq: int
    ev_idx: int
    vis_seq: int
    scan_from: int


def encode(kind: int, seq: int, time: float, payload: bytes) -> bytes:
    rest = HEADER.pack(len(payload), 0, kind, seq, time)[8:] + payload
    return struct.pack("<II", len(payload), zlib.crc32(rest)) + rest


def encode_tick(time: float, info: TickInfo) -> bytes:
    payload = _TICK.pack(info.ev_seq, info.ev_idx, info.vis_seq, info.scan_from)
    return encode(TICK, 0, time, payload)


def tick_info(frame: Frame) -> TickInfo:
    return TickInfo(*_TICK.unpack(frame.payload))


def read_frame(f: BinaryIO, pos: int) -> Frame | None:
    """The frame at the reader's position (`pos` in log terms); None at a clean end of file.

    FrameError when the bytes there are torn or damaged."""
    head = f.read(HEADER.size)
    if not head:
        return None
    if len(head) < HEADER.size:
        raise FrameError(f"a header cut short ({len(head)} of {HEADER.size} bytes)")
    length, crc, kind, seq, time = HEADER.unpack(head)
    if length > MAX_PAYLOAD or kind not in KINDS:
        raise FrameError("not a frame header")
    payload = f.read(length)
    if len(payload) < length:
        raise FrameError(f"a payload cut short ({len(payload)} of {length} bytes)")
    if zlib.crc32(payload, zlib.crc32(head[8:])) != crc:
        raise FrameError("checksum mismatch")
    return Frame(pos, kind, seq, time, payload)


def iter_frames(f: BinaryIO, base: int) -> Iterator[Frame]:
    """Every whole frame of a segment that starts at log position `base`, in order; stops with
    FrameError at the first damaged one (its position is the error's `args[1]`)."""
    pos = base
    while True:
        try:
            frame = read_frame(f, pos)
        except FrameError as exc:
            raise FrameError(str(exc), pos) from None
        if frame is None:
            return
        yield frame
        pos = frame.end
