"""History in S3 (moto's server on loopback): objects and prefixes read like files and directories."""

from __future__ import annotations

import gzip
import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from replay.readers import HistoryError, HistoryFile, expand_paths, read_lines
from replay.s3 import S3ObjectReader
from tests.replay.moto_s3 import (
    admin_client,
    aws_environment,
    moto_server,
    s3_admin,
    set_moto_auth,
    upload_tree,
)
from tests.replay.test_readers import EVENT_LINE, TREE

_buckets = itertools.count()


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


def use_environment(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for key in os.environ:
        if key.startswith("AWS_") and key not in env:
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def s3(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An admin client; the process environment is what a user of this S3 would set."""
    use_environment(monkeypatch, aws_environment(endpoint))
    return s3_admin(endpoint)


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"history-{os.getpid()}-{next(_buckets)}"
    s3.create_bucket(Bucket=name)
    return name


def lines(f: HistoryFile, start_line: int = 1) -> list[tuple[int, bytes]]:
    return list(read_lines(f, start_line))


def test_an_object_is_read_like_a_local_file(s3: Any, bucket: str, tmp_path: Path) -> None:
    body = b"\n" + EVENT_LINE + b"\r\n  \n" + b'{"n":2}'  # blank lines, CRLF, no final newline
    local = tmp_path / "events.jsonl"
    local.write_bytes(body)
    s3.put_object(Bucket=bucket, Key="2026/11/events.jsonl", Body=body)
    url = f"s3://{bucket}/2026/11/events.jsonl"
    [found] = expand_paths([url])
    assert found == HistoryFile(path=url, display=url)
    assert (
        lines(found)
        == lines(HistoryFile(str(local), "local"))
        == [(2, EVENT_LINE), (4, b'{"n":2}')]
    )
    assert lines(found, start_line=3) == [(4, b'{"n":2}')]


def test_gzip_objects_are_recognised_by_content(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="rotated", Body=gzip.compress(EVENT_LINE + b"\n\n{}\n"))
    [found] = expand_paths([f"s3://{bucket}/rotated"])
    assert lines(found) == [(1, EVENT_LINE), (3, b"{}")]


def make_tree(root: Path) -> None:
    """The local readers' export folder, with real gzip where the name says so (S3 reads it)."""
    for rel in TREE:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        body = EVENT_LINE + b"\n"
        (root / rel).write_bytes(gzip.compress(body) if rel.endswith(".gz") else body)


@pytest.mark.parametrize("spelling", ["s3://{b}/export", "s3://{b}/export/"])
def test_a_prefix_is_expanded_like_a_directory(
    s3: Any, bucket: str, tmp_path: Path, spelling: str
) -> None:
    make_tree(tmp_path / "export")
    upload_tree(s3, bucket, "export/", tmp_path / "export")
    s3.put_object(Bucket=bucket, Key="export/2026-11-04/", Body=b"")  # a console "folder"
    s3.put_object(Bucket=bucket, Key="export-old/x.json", Body=EVENT_LINE)  # not under export/
    given = spelling.format(b=bucket)
    found = expand_paths([given])
    local = expand_paths([str(tmp_path / "export")])
    relative = [os.path.relpath(f.path, tmp_path / "export") for f in local]
    assert [f.path for f in found] == [f"s3://{bucket}/export/{r}" for r in relative]
    assert [f.display for f in found] == [f"s3://{bucket}/export/{r}" for r in relative]
    assert len(found) == 5
    assert all(lines(f) == [(1, EVENT_LINE)] for f in found)


def test_a_whole_bucket_can_be_replayed_and_an_object_is_read_once(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="b.jsonl", Body=EVENT_LINE)
    s3.put_object(Bucket=bucket, Key="a/c.jsonl", Body=EVENT_LINE)
    found = expand_paths([f"s3://{bucket}/b.jsonl", f"s3://{bucket}"])
    assert [f.path for f in found] == [f"s3://{bucket}/b.jsonl", f"s3://{bucket}/a/c.jsonl"]


def test_parquet_objects_are_read_row_by_row(s3: Any, bucket: str, tmp_path: Path) -> None:
    table = pa.table({"time": [1.0 + i for i in range(3000)], "name": ["shell.run"] * 3000})
    local = tmp_path / "rows"
    pq.write_table(table, local, row_group_size=700)
    s3.put_object(Bucket=bucket, Key="lake/rows", Body=local.read_bytes())  # found by content
    [found] = expand_paths([f"s3://{bucket}/lake/"])
    from_s3 = lines(found)
    assert from_s3 == lines(HistoryFile(str(local), "local"))
    assert len(from_s3) == 3000
    assert from_s3[-1] == (3000, b'{"time":3000.0,"name":"shell.run"}')
    assert lines(found, start_line=2999) == from_s3[-2:]


def test_a_large_gzip_object_streams_every_line(s3: Any, bucket: str) -> None:
    body = b"".join(
        b'{"n":%d,"pad":"%s"}\n' % (i, os.urandom(40).hex().encode()) for i in range(60_000)
    )
    s3.put_object(Bucket=bucket, Key="big.jsonl.gz", Body=gzip.compress(body, compresslevel=1))
    [found] = expand_paths([f"s3://{bucket}/big.jsonl.gz"])
    got = lines(found)
    assert [n for n, _ in got] == list(range(1, 60_001))
    assert b"\n".join(line for _, line in got) + b"\n" == body


def test_an_object_replaced_while_being_read_is_an_error_not_a_mix(s3: Any, bucket: str) -> None:
    body = b"".join(b'{"n":%d,"pad":"%s"}\n' % (i, b"x" * 100) for i in range(40_000))
    s3.put_object(Bucket=bucket, Key="moving.jsonl", Body=body)
    [found] = expand_paths([f"s3://{bucket}/moving.jsonl"])
    reading = read_lines(found)
    assert next(reading) == (1, b'{"n":0,"pad":"%s"}' % (b"x" * 100))
    s3.put_object(Bucket=bucket, Key="moving.jsonl", Body=b'{"replaced":true}\n')
    with pytest.raises(HistoryError) as caught:
        for _ in reading:
            pass
    assert str(caught.value).startswith(f"s3://{bucket}/moving.jsonl: read failed after line ")
    assert str(caught.value).endswith("(the object changed while it was being read)")


@pytest.fixture(scope="module")
def sample_object(endpoint: str) -> tuple[str, bytes]:
    admin = s3_admin(endpoint)
    name = f"ranges-{os.getpid()}"
    admin.create_bucket(Bucket=name)
    data = os.urandom(700_000)
    admin.put_object(Bucket=name, Key="blob", Body=data)
    return f"s3://{name}/blob", data


reads = st.lists(
    st.tuples(st.integers(0, 720_000), st.sampled_from([0, 1, 2]), st.integers(-1, 400_000)),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=reads)
def test_an_object_reader_seeks_and_reads_like_a_local_file(
    sample_object: tuple[str, bytes],
    endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    steps: list[tuple[int, int, int]],
) -> None:
    use_environment(monkeypatch, aws_environment(endpoint))
    url, data = sample_object
    local = tmp_path / "blob"
    local.write_bytes(data)
    with S3ObjectReader(url) as remote, open(local, "rb") as expected:
        for target, whence, size in steps:
            base = {0: 0, 1: expected.tell(), 2: len(data)}[whence]
            offset = target - base
            assert remote.seek(offset, whence) == expected.seek(offset, whence) == target
            assert remote.read(size) == expected.read(size)
            assert remote.tell() == expected.tell()


# Errors: one line each, found when the paths are expanded, before anything is read.


def expand_error(paths: list[str]) -> str:
    with pytest.raises(HistoryError) as caught:
        expand_paths(paths)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_a_missing_bucket_is_named(s3: Any) -> None:
    assert expand_error(["s3://no-such-history-bucket/2026/"]) == (
        "s3://no-such-history-bucket/2026/: no such bucket"
    )


def test_a_missing_key_or_an_empty_prefix_is_named(s3: Any, bucket: str, tmp_path: Path) -> None:
    s3.put_object(Bucket=bucket, Key="2026/11/a.jsonl", Body=EVENT_LINE)
    s3.put_object(Bucket=bucket, Key="2026/12/.hidden.jsonl", Body=EVENT_LINE)
    good = tmp_path / "good.jsonl"
    good.write_bytes(EVENT_LINE)
    typo = f"s3://{bucket}/2026/11/b.jsonl"
    assert expand_error([str(good), typo]) == f"{typo}: no such key or prefix"
    assert expand_error([f"s3://{bucket}/2026/12/"]) == (
        f"s3://{bucket}/2026/12/: no objects under this prefix"
    )
    empty = f"history-empty-{os.getpid()}"
    s3.create_bucket(Bucket=empty)
    assert expand_error([f"s3://{empty}"]) == f"s3://{empty}: the bucket is empty"


def test_malformed_locations_are_named(s3: Any) -> None:
    assert (
        expand_error(["s3://"])
        == "s3://: no bucket name (use s3://bucket/key or s3://bucket/prefix/)"
    )
    assert expand_error(["s3://Not_A_Bucket!/x"]) == (
        "s3://Not_A_Bucket!/x: invalid bucket name 'Not_A_Bucket!'"
    )


def test_missing_credentials_are_named_without_looking_beyond_loopback(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = aws_environment(endpoint, AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None)
    use_environment(monkeypatch, env)
    message = expand_error(["s3://any-bucket/2026/"])
    assert message.startswith("s3://any-bucket/2026/: no AWS credentials found (")


@pytest.fixture
def iam_keys(endpoint: str, s3: Any, bucket: str) -> Iterator[dict[str, dict[str, str]]]:
    """Keys of two IAM users — one may list the bucket but not read, one may do nothing — and
    moto enforcing IAM policies while the test runs."""
    s3.put_object(Bucket=bucket, Key="2026/a.jsonl", Body=EVENT_LINE)
    iam = admin_client(endpoint, "iam")
    keys = {}
    for user, actions in (("lister", ["s3:ListBucket"]), ("nobody", [])):
        name = f"{user}-{bucket}"
        iam.create_user(UserName=name)
        if actions:
            policy = {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
            }
            iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
        keys[user] = iam.create_access_key(UserName=name)["AccessKey"]
    set_moto_auth(endpoint, 0)
    try:
        yield keys
    finally:
        set_moto_auth(endpoint, float("inf"))


@pytest.mark.parametrize("user", ["lister", "nobody"])
def test_access_denied_is_named_before_anything_is_read(
    endpoint: str,
    bucket: str,
    iam_keys: dict[str, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    user: str,
) -> None:
    key = iam_keys[user]
    use_environment(
        monkeypatch,
        aws_environment(
            endpoint,
            AWS_ACCESS_KEY_ID=key["AccessKeyId"],
            AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"],
        ),
    )
    assert expand_error([f"s3://{bucket}/2026/"]) == f"s3://{bucket}/2026/: access denied"
    assert expand_error([f"s3://{bucket}/2026/a.jsonl"]) == (
        f"s3://{bucket}/2026/a.jsonl: access denied"
    )
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNKEY000000")
    assert expand_error([f"s3://{bucket}/2026/"]) == (
        f"s3://{bucket}/2026/: AWS credentials rejected (InvalidAccessKeyId)"
    )
