"""History readers: files, gzip, directories, order, and paths that cannot be read."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from replay.readers import HistoryError, HistoryFile, expand_paths, read_lines

REPO_ROOT = Path(__file__).resolve().parents[2]
TRACE_LINE = b'{"resourceSpans":[]}'
EVENT_LINE = b'{"time":1793600000.0,"kind":"span","name":"shell.run","user":"a@example.com"}'


def lines_of(path: Path, start_line: int = 1) -> list[tuple[int, bytes]]:
    return list(read_lines(HistoryFile(str(path), str(path)), start_line))


def test_plain_file_yields_numbered_lines_without_newlines(tmp_path: Path) -> None:
    path = tmp_path / "traces.json"
    path.write_bytes(TRACE_LINE + b"\n" + EVENT_LINE + b"\n")
    assert lines_of(path) == [(1, TRACE_LINE), (2, EVENT_LINE)]


def test_blank_lines_are_skipped_but_counted(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n" + TRACE_LINE + b"\n  \n\t\n" + EVENT_LINE + b"\n\n")
    assert lines_of(path) == [(2, TRACE_LINE), (5, EVENT_LINE)]


def test_crlf_and_missing_final_newline_are_handled(tmp_path: Path) -> None:
    path = tmp_path / "windows.jsonl"
    path.write_bytes(TRACE_LINE + b"\r\n" + EVENT_LINE)
    assert lines_of(path) == [(1, TRACE_LINE), (2, EVENT_LINE)]


def test_start_line_skips_ahead_for_a_resumed_source(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(b'{"n":%d}\n' % i for i in range(1, 11)))
    assert lines_of(path, start_line=8) == [(8, b'{"n":8}'), (9, b'{"n":9}'), (10, b'{"n":10}')]
    assert lines_of(path, start_line=11) == []


def test_gzip_is_read_transparently(tmp_path: Path) -> None:
    path = tmp_path / "traces.json.gz"
    path.write_bytes(gzip.compress(TRACE_LINE + b"\n\n" + EVENT_LINE + b"\n"))
    assert lines_of(path) == [(1, TRACE_LINE), (3, EVENT_LINE)]


def test_gzip_is_recognised_by_content_not_name(tmp_path: Path) -> None:
    path = tmp_path / "rotated-traces.json"
    path.write_bytes(gzip.compress(EVENT_LINE + b"\n"))
    assert lines_of(path) == [(1, EVENT_LINE)]


def test_truncated_gzip_names_the_file_and_the_last_good_line(tmp_path: Path) -> None:
    body = b"".join(b'{"n":%d,"pad":"%s"}\n' % (i, b"x" * 50) for i in range(1, 2001))
    whole = gzip.compress(body)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    seen: list[int] = []
    with pytest.raises(HistoryError) as caught:
        for number, line in read_lines(HistoryFile(str(path), "history/cut.jsonl.gz")):
            assert line == b'{"n":%d,"pad":"%s"}' % (number, b"x" * 50)
            seen.append(number)
    message = str(caught.value)
    assert seen, "the readable beginning of the file is still delivered"
    assert seen == list(range(1, len(seen) + 1))
    assert "history/cut.jsonl.gz" in message
    assert f"after line {seen[-1]}" in message
    assert "\n" not in message


def test_corrupt_gzip_is_a_history_error_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.gz"
    whole = bytearray(gzip.compress(b"".join(b'{"n":%d}\n' % i for i in range(500))))
    whole[20:40] = b"\xff" * 20
    path.write_bytes(bytes(whole))
    with pytest.raises(HistoryError, match=r"bad\.gz: truncated or corrupt gzip"):
        lines_of(path)


def test_a_gz_name_on_plain_text_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "plain.jsonl.gz"
    path.write_bytes(EVENT_LINE + b"\n")
    with pytest.raises(HistoryError, match="not a gzip file"):
        lines_of(path)


# An export folder as a Collector leaves it: days, a late file, hidden leftovers.
TREE = (
    "2026-11-03/traces.json",
    "2026-11-02/traces-2.json.gz",
    "2026-11-02/traces-1.json",
    "2026-11-02/late/extra.jsonl",
    "2026-11-02/.traces.json.swp",
    ".staging/hidden.json",
    "a-top.jsonl",
)


def make_tree(root: Path) -> None:
    for rel in TREE:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(EVENT_LINE + b"\n")


def test_directories_are_expanded_recursively_in_sorted_order_skipping_hidden(
    tmp_path: Path,
) -> None:
    make_tree(tmp_path / "history")
    files = expand_paths([str(tmp_path / "history")])
    relative = [os.path.relpath(f.display, tmp_path / "history") for f in files]
    assert relative == [
        "2026-11-02/late/extra.jsonl",
        "2026-11-02/traces-1.json",
        "2026-11-02/traces-2.json.gz",
        "2026-11-03/traces.json",
        "a-top.jsonl",
    ]
    assert all(os.path.isabs(f.path) and os.path.exists(f.path) for f in files)


def test_paths_keep_the_order_given_and_a_file_is_read_once(tmp_path: Path) -> None:
    make_tree(tmp_path / "history")
    single = tmp_path / "history" / "2026-11-03" / "traces.json"
    files = expand_paths([str(single), str(tmp_path / "history")])
    assert files[0].display == str(single)
    assert [f.path for f in files].count(str(single)) == 1
    assert len(files) == 5


def test_an_explicit_hidden_file_is_read(tmp_path: Path) -> None:
    hidden = tmp_path / ".history.jsonl"
    hidden.write_bytes(EVENT_LINE + b"\n")
    assert [f.display for f in expand_paths([str(hidden)])] == [str(hidden)]


def test_expansion_is_deterministic(tmp_path: Path) -> None:
    make_tree(tmp_path / "h")
    assert expand_paths([str(tmp_path / "h")]) == expand_paths([str(tmp_path / "h")])


def test_a_missing_path_stops_everything_before_anything_is_read(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_bytes(EVENT_LINE + b"\n")
    with pytest.raises(HistoryError) as caught:
        expand_paths([str(good), str(tmp_path / "typo.jsonl")])
    assert str(caught.value) == f"{tmp_path / 'typo.jsonl'}: no such file or directory"


def test_a_path_that_is_neither_file_nor_directory_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(HistoryError, match="not a regular file or directory"):
        expand_paths([str(fifo)])


UNREADABLE_SCRIPT = """
import os, sys
from replay.readers import HistoryError, expand_paths
if os.geteuid() == 0:  # permissions do not apply to root: become `nobody` (imports done above)
    os.setgid(65534)
    os.setuid(65534)
try:
    expand_paths(sys.argv[1:])
except HistoryError as exc:
    print(exc)
    sys.exit(3)
"""


def run_as_unprivileged(paths: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", UNREADABLE_SCRIPT, *paths],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": os.environ.get("PATH", "")},
        check=False,
    )


@pytest.fixture
def world_readable_dir():
    # pytest's tmp_path lives in a directory only its owner may enter.
    path = Path(tempfile.mkdtemp(prefix="spanwatch-readers-"))
    path.chmod(0o755)
    yield path
    for child in sorted(path.rglob("*"), reverse=True):
        child.chmod(0o700)
        child.rmdir() if child.is_dir() else child.unlink()
    path.rmdir()


def test_an_unreadable_file_is_a_one_line_error(world_readable_dir: Path) -> None:
    secret = world_readable_dir / "secret.jsonl"
    secret.write_bytes(EVENT_LINE + b"\n")
    secret.chmod(0o000)
    result = run_as_unprivileged([str(secret)])
    assert result.returncode == 3, result.stderr
    assert result.stdout.strip() == f"{secret}: cannot read (Permission denied)"


def test_an_unreadable_directory_inside_history_is_reported(world_readable_dir: Path) -> None:
    (world_readable_dir / "ok.jsonl").write_bytes(EVENT_LINE + b"\n")
    locked = world_readable_dir / "locked"
    locked.mkdir()
    (locked / "inside.jsonl").write_bytes(EVENT_LINE + b"\n")
    locked.chmod(0o000)
    result = run_as_unprivileged([str(world_readable_dir)])
    assert result.returncode == 3, result.stderr
    assert result.stdout.strip() == f"{locked}: cannot read directory (Permission denied)"


line_text = st.binary(min_size=0, max_size=40).map(
    lambda b: b.replace(b"\n", b"").replace(b"\r", b"")
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=st.lists(line_text, max_size=30), compress=st.booleans(), start=st.integers(1, 35))
def test_reading_returns_every_non_blank_line_with_its_number(
    tmp_path: Path, lines: list[bytes], compress: bool, start: int
) -> None:
    data = b"".join(line + b"\n" for line in lines)
    # Gzip and Parquet are recognised by content: a plain file cannot begin with their magic
    # bytes (no JSON line can).
    assume(compress or not data.startswith((b"\x1f\x8b", b"PAR1")))
    path = tmp_path / ("h.jsonl.gz" if compress else "h.jsonl")
    path.write_bytes(gzip.compress(data) if compress else data)
    expected = [(i, line) for i, line in enumerate(lines, 1) if i >= start and not line.isspace()]
    expected = [(i, line) for i, line in expected if line]
    assert lines_of(path, start) == expected
