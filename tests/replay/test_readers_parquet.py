"""Parquet history: one flat event per row, handed on as its JSON line numbered by row."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.otlp.aliases import AliasTable
from engine.otlp.line_decoder import decode_line
from replay.readers import HistoryError, HistoryFile, expand_paths, read_lines

UTC = dt.UTC
T0 = dt.datetime(2026, 11, 28, 3, 4, 5, 250000, tzinfo=UTC)


def rows_of(path: Path, start_line: int = 1, display: str | None = None) -> list[tuple[int, Any]]:
    f = HistoryFile(str(path), display or str(path))
    return [(n, orjson.loads(line)) for n, line in read_lines(f, start_line)]


def write(path: Path, table: pa.Table, **options: Any) -> Path:
    pq.write_table(table, path, **options)
    return path


def shell_runs(n: int, start: int = 0) -> pa.Table:
    return pa.table(
        {
            "time": pa.array(
                [T0 + dt.timedelta(seconds=i) for i in range(start, start + n)],
                pa.timestamp("us", tz="UTC"),
            ),
            "name": ["shell.run"] * n,
            "user": [f"user-{i}" for i in range(start, start + n)],
            "exit_code": list(range(start, start + n)),
        }
    )


def test_each_row_is_one_flat_json_line_numbered_by_row(tmp_path: Path) -> None:
    path = write(tmp_path / "events.parquet", shell_runs(3))
    assert rows_of(path) == [
        (1, {"time": T0.timestamp(), "name": "shell.run", "user": "user-0", "exit_code": 0}),
        (2, {"time": T0.timestamp() + 1, "name": "shell.run", "user": "user-1", "exit_code": 1}),
        (3, {"time": T0.timestamp() + 2, "name": "shell.run", "user": "user-2", "exit_code": 2}),
    ]


def test_the_engine_decodes_a_parquet_row_as_the_flat_event_it_holds(tmp_path: Path) -> None:
    table = pa.table(
        {
            "time": pa.array([T0], pa.timestamp("ns", tz="UTC")),
            "name": ["claude.invoke"],
            "user.email": ["ana@example.com"],
            "cost_estimate": [0.42],
            "cache_hit": [True],
            "status": ["error"],
        }
    )
    [(_, line)] = list(read_lines(HistoryFile(str(write(tmp_path / "e.parquet", table)), "e")))
    [event] = decode_line(line, AliasTable())
    assert event["time"] == T0.timestamp()
    assert (event["user"], event["cost"], event["cache_hit"]) == ("ana@example.com", 0.42, True)
    assert (event["name"], event["status"], event["kind"]) == ("claude.invoke", "error", "span")


def test_nulls_are_left_out_of_rows_and_nested_objects(tmp_path: Path) -> None:
    attributes = pa.struct([("repo", pa.string()), ("pr.base", pa.string())])
    table = pa.table(
        {
            "time": pa.array([T0, T0], pa.timestamp("ms", tz="UTC")),
            "command": ["ls", None],
            "attributes": pa.array([{"repo": "payments", "pr.base": None}, None], attributes),
            "labels": pa.array(
                [[("team", "core"), ("note", None)], []], pa.map_(pa.string(), pa.string())
            ),
            "tags": pa.array([["a", None, "b"], None], pa.list_(pa.string())),
        }
    )
    assert rows_of(write(tmp_path / "n.parquet", table)) == [
        (
            1,
            {
                "time": T0.timestamp(),
                "command": "ls",
                "attributes": {"repo": "payments"},
                "labels": {"team": "core"},
                "tags": ["a", None, "b"],  # inside a list a null keeps its place
            },
        ),
        (2, {"time": T0.timestamp(), "labels": {}}),
    ]


def test_column_types_become_what_a_flat_json_line_would_hold(tmp_path: Path) -> None:
    naive = dt.datetime(2026, 11, 28, 3, 4, 5)
    table = pa.table(
        {
            "time_ns": pa.array([1_795_835_045_123_456_789], pa.timestamp("ns", tz="UTC")),
            "time_naive": pa.array([naive], pa.timestamp("us")),
            "time_paris": pa.array([T0], pa.timestamp("s", tz="Europe/Paris")),
            "day": pa.array([dt.date(2026, 11, 28)]),
            "clock": pa.array([dt.time(3, 4, 5, 6)], pa.time64("us")),
            "took": pa.array([dt.timedelta(milliseconds=1500)], pa.duration("ms")),
            "price": pa.array([decimal.Decimal("0.125")], pa.decimal128(10, 3)),
            "ratio": pa.array([0.5], pa.float32()),
            "nan": pa.array([math.nan]),
            "trace_id": pa.array([bytes.fromhex("5b8efff798038103d269b633813fc60c")]),
            "team": pa.array(["core"]).dictionary_encode(),
            "big": pa.array([2**63 - 1], pa.int64()),
            "nested_time": pa.array(
                [{"at": 1_795_835_045_123_456_789}],
                pa.struct([("at", pa.timestamp("ns", tz="UTC"))]),
            ),
        }
    )
    [(number, row)] = rows_of(write(tmp_path / "t.parquet", table))
    assert number == 1
    assert row == {
        "time_ns": 1_795_835_045.123_456_789,
        "time_naive": naive.replace(tzinfo=UTC).timestamp(),  # no zone means UTC
        "time_paris": float(int(T0.timestamp())),
        "day": "2026-11-28",
        "clock": "03:04:05.000006",
        "took": 1.5,
        "price": 0.125,
        "ratio": 0.5,
        "trace_id": "5b8efff798038103d269b633813fc60c",
        "team": "core",
        "big": 2**63 - 1,
        "nested_time": {"at": 1_795_835_045.123456},  # nested: microseconds, as datetime holds
    }


def test_start_line_resumes_in_the_middle_of_a_later_row_group(tmp_path: Path) -> None:
    path = write(tmp_path / "groups.parquet", shell_runs(2500), row_group_size=1000)
    assert pq.ParquetFile(path).metadata.num_row_groups == 3
    rows = rows_of(path, start_line=1999)
    assert [n for n, _ in rows] == list(range(1999, 2501))
    assert [row["exit_code"] for _, row in rows] == list(range(1998, 2500))
    assert rows_of(path, start_line=2501) == []


def test_a_large_file_is_read_in_batches_with_every_row_in_order(tmp_path: Path) -> None:
    path = write(tmp_path / "big.parquet", shell_runs(20_000), row_group_size=7_000)
    numbers = [n for n, _ in read_lines(HistoryFile(str(path), "big"))]
    assert numbers == list(range(1, 20_001))


def test_parquet_is_recognised_by_content_and_inside_directories(tmp_path: Path) -> None:
    root = tmp_path / "export"
    root.mkdir()
    write(root / "part-0000", shell_runs(2))  # no extension, as some exporters name parts
    (root / "part-0001.jsonl").write_bytes(b'{"time": 1.0, "name": "x"}\n')
    files = expand_paths([str(root)])
    assert [Path(f.path).name for f in files] == ["part-0000", "part-0001.jsonl"]
    assert [row["user"] for _, row in rows_of(Path(files[0].path))] == ["user-0", "user-1"]


def test_a_truncated_parquet_file_is_one_line_naming_the_file(tmp_path: Path) -> None:
    whole = write(tmp_path / "whole.parquet", shell_runs(500)).read_bytes()
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(HistoryError) as caught:
        rows_of(cut, display="s3-export/cut.parquet")
    message = str(caught.value)
    assert message.startswith("s3-export/cut.parquet: not a readable Parquet file (")
    assert "\n" not in message


def test_damage_after_some_rows_is_reported_like_truncated_gzip(tmp_path: Path) -> None:
    path = write(
        tmp_path / "damaged.parquet", shell_runs(3000), row_group_size=1000, compression="snappy"
    )
    third = pq.ParquetFile(path).metadata.row_group(2).column(0)
    data = bytearray(path.read_bytes())
    start = third.data_page_offset
    data[start : start + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    seen: list[int] = []
    with pytest.raises(HistoryError) as caught:
        for number, line in read_lines(HistoryFile(str(path), "history/damaged.parquet")):
            assert orjson.loads(line)["exit_code"] == number - 1
            seen.append(number)
    assert seen == list(range(1, 2001)), "the rows before the damage are all delivered"
    message = str(caught.value)
    assert message.startswith(
        "history/damaged.parquet: truncated or corrupt Parquet data after row 2000 ("
    )
    assert "\n" not in message


def test_a_parquet_name_on_other_content_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    path.write_bytes(b'{"time": 1.0}\n')
    with pytest.raises(HistoryError, match=r"events\.parquet: not a readable Parquet file"):
        rows_of(path)


def test_a_file_without_rows_yields_nothing(tmp_path: Path) -> None:
    assert rows_of(write(tmp_path / "empty.parquet", shell_runs(0))) == []


# Round trip: values written by pyarrow come back as the JSON values they stand for.

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
moments = st.datetimes(
    min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=st.just(UTC)
)
attribute_values = st.one_of(st.none(), text)
COLUMNS: dict[str, tuple[pa.DataType, st.SearchStrategy[Any]]] = {
    "name": (pa.string(), text),
    "tokens_in": (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    "cost": (pa.float64(), finite),
    "cache_hit": (pa.bool_(), st.booleans()),
    "time": (pa.timestamp("us", tz="UTC"), moments),
    "attributes": (
        pa.map_(pa.string(), pa.string()),
        st.dictionaries(text, attribute_values, max_size=4),
    ),
    "resource": (
        pa.struct([("team", pa.string()), ("size", pa.int32())]),
        st.fixed_dictionaries(
            {"team": st.none() | text, "size": st.none() | st.integers(-(2**31), 2**31 - 1)}
        ),
    ),
    "scores": (pa.list_(pa.float64()), st.lists(st.none() | finite, max_size=4)),
}


def expected_json(value: Any) -> Any:
    """What a flat JSON line holds for a value: times as seconds, nulls left out of objects."""
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: expected_json(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [expected_json(v) for v in value]
    return value


@st.composite
def tables(draw: st.DrawFn) -> tuple[pa.Table, list[dict[str, Any]]]:
    names = draw(st.lists(st.sampled_from(sorted(COLUMNS)), min_size=1, unique=True))
    n = draw(st.integers(0, 6))
    columns = {}
    for name in names:
        values = COLUMNS[name][1]
        columns[name] = draw(st.lists(st.none() | values, min_size=n, max_size=n))
    table = pa.table({name: pa.array(vs, COLUMNS[name][0]) for name, vs in columns.items()})
    rows = [
        {name: expected_json(columns[name][i]) for name in names if columns[name][i] is not None}
        for i in range(n)
    ]
    return table, rows


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=tables(), row_group_size=st.integers(1, 4))
def test_parquet_rows_round_trip_to_the_json_values_they_hold(
    tmp_path: Path, case: tuple[pa.Table, list[dict[str, Any]]], row_group_size: int
) -> None:
    table, expected = case
    path = write(tmp_path / "case.parquet", table, row_group_size=row_group_size)
    assert rows_of(path) == list(enumerate(expected, 1))
