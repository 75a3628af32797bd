"""Parquet history: every row is one flat event, handed on as its JSON line with its row number.

Exports to a data lake (the Collector or Firehose writing Parquet to S3) hold one event per row.
The engine's flat-event decoder reads JSON, so each row becomes the JSON object a flat JSON line
would hold, and its 1-based row number takes the place of a line number in messages. Files are
read one row batch at a time through a bounded read buffer, never whole.

Values, so that the engine sees what a flat JSON line would give it:
timestamps -> float seconds since the epoch (a timestamp without a zone is UTC, as in the
engine); dates and times of day -> ISO 8601 strings; durations -> float seconds; decimals ->
floats; binary -> lowercase hex (as OTLP/JSON writes ids); structs and maps -> JSON objects,
lists -> arrays; nulls (and NaN or infinities, which JSON cannot hold) are left out of rows,
structs and maps, and kept as `null` inside lists, where positions matter.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import math
from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from replay.history import HistoryError, StorageReadError, one_line

BATCH_ROWS = 2048
READ_BUFFER = 1 << 20  # bytes read from storage at a time per column, instead of whole row groups
UNIT_SCALE = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_UTC = _dt.UTC


def parquet_rows(
    source: str | BinaryIO, display: str, start_row: int = 1
) -> Iterator[tuple[int, bytes]]:
    """Yield `(row number, JSON line)` from `start_row` on; numbers are 1-based.

    `source` is a local path or a seekable binary file. A file that is not Parquet, or whose
    footer is gone (a truncated upload), raises `HistoryError` before any row; damage found
    later raises it naming the last row delivered, as truncated gzip does for lines.
    """
    try:
        parquet = pq.ParquetFile(source, buffer_size=READ_BUFFER, pre_buffer=False)
    except StorageReadError as exc:
        raise HistoryError(f"{display}: read failed ({one_line(exc)})") from None
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise HistoryError(f"{display}: not a readable Parquet file ({one_line(exc)})") from None
    number = 0
    try:
        groups, skip = _groups_from(parquet.metadata, start_row)
        number = start_row - 1
        for group in groups:  # one group at a time: damage in one keeps the rows before it
            for batch in parquet.iter_batches(batch_size=BATCH_ROWS, row_groups=[group]):
                if skip:
                    dropped = min(skip, batch.num_rows)
                    batch, skip = batch.slice(dropped), skip - dropped
                for line in batch_lines(batch):
                    number += 1
                    yield number, line
    except StorageReadError as exc:
        raise HistoryError(f"{display}: read failed after row {number} ({one_line(exc)})") from None
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise HistoryError(
            f"{display}: truncated or corrupt Parquet data after row {number} ({one_line(exc)})"
        ) from None


def _groups_from(metadata: pq.FileMetaData, start_row: int) -> tuple[list[int], int]:
    """Row groups that hold `start_row` and after, and how many rows of the first to skip."""
    before = 0
    for index in range(metadata.num_row_groups):
        rows = metadata.row_group(index).num_rows
        if before + rows >= start_row:
            return list(range(index, metadata.num_row_groups)), start_row - 1 - before
        before += rows
    return [], 0


def batch_lines(batch: pa.RecordBatch) -> list[bytes]:
    """One JSON object per row, columns in schema order, null columns left out."""
    if batch.num_columns == 0:
        return [b"{}"] * batch.num_rows  # still one line per row: the engine reports them
    names = batch.schema.names
    columns = [column_values(batch.column(i)) for i in range(batch.num_columns)]
    dumps = orjson.dumps
    return [
        dumps({name: v for name, v in zip(names, row, strict=True) if v is not None}, default=str)
        for row in zip(*columns, strict=True)
    ]


def column_values(array: pa.Array) -> list[Any]:
    """A column as plain JSON-ready Python values, None where the row has no value."""
    kind = array.type
    if pa.types.is_dictionary(kind):
        array = array.dictionary_decode()
        kind = array.type
    if pa.types.is_timestamp(kind):
        return _seconds(array.cast(pa.int64()), UNIT_SCALE[kind.unit])
    if _is_json_native(kind):
        native: list[Any] = array.to_pylist()
        return native
    if pa.types.is_floating(kind):
        return [v if v is None or math.isfinite(v) else None for v in array.to_pylist()]
    micro = _microsecond_type(kind)
    if micro != kind:
        array = array.cast(micro, safe=False)  # nested nanoseconds: Python holds microseconds
    return [plain(v) for v in array.to_pylist(maps_as_pydicts="lossy")]


def _seconds(ticks: pa.Array, scale: int) -> list[float | None]:
    """Ticks of 1/scale s -> float seconds, vectorised; whole seconds and the fraction apart,
    so that the float is as close as a float can be (ticks in nanoseconds exceed 2**53)."""
    whole = pc.divide(ticks, scale)  # integer division, towards zero
    fraction = pc.subtract(ticks, pc.multiply(whole, scale)).cast(pa.float64())
    seconds: list[float | None] = pc.add(
        whole.cast(pa.float64()), pc.divide(fraction, float(scale))
    ).to_pylist()
    return seconds


def _is_json_native(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_boolean(kind)
    )


def _microsecond_type(kind: pa.DataType) -> pa.DataType:
    """The same type with nanosecond temporal parts at microseconds (what `datetime` holds)."""
    if pa.types.is_timestamp(kind) and kind.unit == "ns":
        return pa.timestamp("us", kind.tz)
    if pa.types.is_duration(kind) and kind.unit == "ns":
        return pa.duration("us")
    if pa.types.is_time64(kind) and kind.unit == "ns":
        return pa.time64("us")
    if pa.types.is_struct(kind):
        fields = [kind.field(i) for i in range(kind.num_fields)]
        return pa.struct([f.with_type(_microsecond_type(f.type)) for f in fields])
    if pa.types.is_map(kind):
        return pa.map_(
            kind.key_field.with_type(_microsecond_type(kind.key_type)),
            kind.item_field.with_type(_microsecond_type(kind.item_type)),
        )
    if pa.types.is_list(kind):
        return pa.list_(kind.value_field.with_type(_microsecond_type(kind.value_type)))
    if pa.types.is_large_list(kind):
        return pa.large_list(kind.value_field.with_type(_microsecond_type(kind.value_type)))
    if pa.types.is_fixed_size_list(kind):
        return pa.list_(
            kind.value_field.with_type(_microsecond_type(kind.value_type)), kind.list_size
        )
    if pa.types.is_dictionary(kind):
        return _microsecond_type(kind.value_type)
    return kind


def plain(value: Any) -> Any:
    """A Python value from Arrow -> the value a flat JSON line would hold (None: leave it out)."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            item = plain(item)
            if item is not None:
                out[_key(key)] = item
        return out
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, _dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=_UTC)).timestamp()
    if isinstance(value, _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return plain(float(value))
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    converted = plain(key)
    return converted if isinstance(converted, str) else orjson.dumps(converted).decode()
