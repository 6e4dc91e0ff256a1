"""The store against moto over real sockets: write-once, checksums, typed errors, listings."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
from minio import Minio

from mloop.artifacts import (
    SHA256_METADATA,
    ArtifactStore,
    BucketNotFound,
    ChecksumMismatch,
    ObjectExists,
    ObjectInfo,
    ObjectNotFound,
    RetryPolicy,
)
from tests.fixtures.s3 import S3Handle

MiB = 1024 * 1024


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def raw_put(raw: Minio, bucket: str, key: str, data: bytes, metadata: dict[str, str] | None = None) -> None:
    raw.put_object(bucket, key, io.BytesIO(data), len(data), metadata=metadata)  # type: ignore[arg-type]


def test_round_trip_carries_sha256(store: ArtifactStore, raw: Minio, bucket: str) -> None:
    data = b"onnx-model-bytes" * 100
    uri = f"s3://{bucket}/ns/proj/versions/proj-1/model.onnx"
    info = store.put_bytes(uri, data, content_type="application/octet-stream")
    assert info == ObjectInfo(uri, sha(data), len(data))
    assert store.get_bytes(uri) == data
    assert store.get_bytes(uri, expected_sha256=sha(data)) == data
    assert store.stat(uri) == info
    assert store.exists(uri)
    assert store.sha256_of(uri) == sha(data) == store.sha256_of(uri, verify=True)
    # The digest is plain S3 user metadata, visible to any client.
    metadata = raw.stat_object(bucket, "ns/proj/versions/proj-1/model.onnx").metadata
    assert metadata is not None
    assert metadata[SHA256_METADATA] == sha(data)


def test_empty_object(store: ArtifactStore, bucket: str) -> None:
    info = store.put_bytes(f"s3://{bucket}/empty", b"")
    assert info.size == 0
    assert store.get_bytes(f"s3://{bucket}/empty") == b""


def test_file_round_trip_single_and_multipart(s3_server: S3Handle, bucket: str, tmp_path: Path) -> None:
    store = ArtifactStore(s3_server.endpoint, "testing", "testing", part_size=5 * MiB)
    for name, size in (("small.bin", 1000), ("big.bin", 11 * MiB + 7)):
        data = os.urandom(size)
        src = tmp_path / name
        src.write_bytes(data)
        uri = f"s3://{bucket}/runs/r1/{name}"
        assert store.put_file(uri, src) == ObjectInfo(uri, sha(data), size)
        dest = tmp_path / "out" / "nested" / name
        assert store.download(uri, dest, expected_sha256=sha(data).upper()) == ObjectInfo(
            uri, sha(data), size
        )
        assert dest.read_bytes() == data
    assert not [p for p in (tmp_path / "out" / "nested").iterdir() if p.name.endswith(".part")]


def test_overwrite_is_refused(store: ArtifactStore, bucket: str, tmp_path: Path) -> None:
    uri = f"s3://{bucket}/versions/v1/model.onnx"
    store.put_bytes(uri, b"first")
    with pytest.raises(ObjectExists) as info:
        store.put_bytes(uri, b"second")
    assert info.value.reason == "ObjectExists"
    assert not info.value.transient
    src = tmp_path / "f"
    src.write_bytes(b"third")
    with pytest.raises(ObjectExists):
        store.put_file(uri, src)
    # Same content is refused too: a key is written once, whoever writes it.
    with pytest.raises(ObjectExists):
        store.put_bytes(uri, b"first")
    assert store.get_bytes(uri) == b"first"


def test_tampered_body_is_detected(store: ArtifactStore, raw: Minio, bucket: str, tmp_path: Path) -> None:
    uri = f"s3://{bucket}/versions/v1/model.onnx"
    original = store.put_bytes(uri, b"the real model")
    # Swap the body behind the store's back, keeping the original digest in the metadata.
    raw_put(raw, bucket, "versions/v1/model.onnx", b"a swapped model", {"sha256": original.sha256 or ""})
    with pytest.raises(ChecksumMismatch) as info:
        store.get_bytes(uri)
    assert info.value.reason == "ChecksumMismatch"
    dest = tmp_path / "model.onnx"
    with pytest.raises(ChecksumMismatch):
        store.download(uri, dest)
    assert list(tmp_path.iterdir()) == []  # neither the file nor a partial one
    with pytest.raises(ChecksumMismatch):
        store.sha256_of(uri, verify=True)


def test_tampered_metadata_is_detected(store: ArtifactStore, raw: Minio, bucket: str) -> None:
    raw_put(raw, bucket, "m", b"content", {"sha256": sha(b"other content")})
    with pytest.raises(ChecksumMismatch):
        store.get_bytes(f"s3://{bucket}/m")
    raw_put(raw, bucket, "garbage", b"content", {"sha256": "not-a-digest"})
    with pytest.raises(ChecksumMismatch):
        store.get_bytes(f"s3://{bucket}/garbage")


def test_expected_sha256_mismatch(store: ArtifactStore, bucket: str, tmp_path: Path) -> None:
    uri = f"s3://{bucket}/data.csv"
    store.put_bytes(uri, b"a,b\n1,2\n")
    wrong = sha(b"something else")
    with pytest.raises(ChecksumMismatch) as info:
        store.get_bytes(uri, expected_sha256=wrong)
    assert wrong in str(info.value)
    with pytest.raises(ChecksumMismatch):
        store.download(uri, tmp_path / "data.csv", expected_sha256=f"sha256:{wrong}")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="64 hexadecimal"):
        store.get_bytes(uri, expected_sha256="abc")


def test_foreign_object_without_digest(store: ArtifactStore, raw: Minio, bucket: str) -> None:
    """Data uploaded by other tools has no digest: readable, hashed on demand, checked if expected."""
    raw_put(raw, bucket, "incoming/train.csv", b"x,y\n")
    uri = f"s3://{bucket}/incoming/train.csv"
    assert store.stat(uri).sha256 is None
    assert store.get_bytes(uri) == b"x,y\n"
    assert store.sha256_of(uri) == sha(b"x,y\n")
    with pytest.raises(ChecksumMismatch):
        store.get_bytes(uri, expected_sha256=sha(b"nope"))


def test_missing_bucket(s3_server: S3Handle, store: ArtifactStore) -> None:
    with pytest.raises(BucketNotFound) as info:
        store.check_bucket("no-such-bucket-here")
    assert info.value.reason == "BucketNotFound"
    assert not info.value.transient
    with pytest.raises(BucketNotFound):
        store.get_bytes("s3://no-such-bucket-here/key")
    with pytest.raises(BucketNotFound):
        store.put_bytes("s3://no-such-bucket-here/key", b"x")
    # With a fixed region there is no location lookup; the write itself reports the missing bucket.
    regional = ArtifactStore(s3_server.endpoint, "testing", "testing", region="us-east-1")
    with pytest.raises(BucketNotFound):
        regional.put_bytes("s3://no-such-bucket-here/key", b"x")
    with pytest.raises(BucketNotFound):
        regional.list("s3://no-such-bucket-here/")


def test_existing_bucket_checks(store: ArtifactStore, bucket: str) -> None:
    store.check_bucket(bucket)


def test_missing_key(store: ArtifactStore, bucket: str, tmp_path: Path) -> None:
    uri = f"s3://{bucket}/nothing/here"
    for call in (
        lambda: store.get_bytes(uri),
        lambda: store.stat(uri),
        lambda: store.sha256_of(uri),
        lambda: store.download(uri, tmp_path / "x"),
    ):
        with pytest.raises(ObjectNotFound) as info:
            call()
        assert info.value.reason == "ObjectNotFound"
    assert not store.exists(uri)
    assert list(tmp_path.iterdir()) == []


def test_list_by_prefix(store: ArtifactStore, bucket: str) -> None:
    for key in ("b/4", "a/2/x", "ab/3", "a/1", "a/2/y"):
        store.put_bytes(f"s3://{bucket}/{key}", key.encode())
    assert [i.uri for i in store.list(f"s3://{bucket}/a/")] == [
        f"s3://{bucket}/a/1",
        f"s3://{bucket}/a/2/x",
        f"s3://{bucket}/a/2/y",
    ]
    # A prefix is a string prefix, as in S3: "a" also matches "ab/3".
    assert [i.uri.rsplit("/", 2)[-2:] for i in store.list(f"s3://{bucket}/a")][-1] == ["ab", "3"]
    everything = store.list(f"s3://{bucket}")
    assert [i.uri.removeprefix(f"s3://{bucket}/") for i in everything] == [
        "a/1",
        "a/2/x",
        "a/2/y",
        "ab/3",
        "b/4",
    ]
    assert everything[0] == ObjectInfo(f"s3://{bucket}/a/1", None, 3)
    assert store.list(f"s3://{bucket}/zzz/") == []


def test_from_env(s3_server: S3Handle, bucket: str) -> None:
    env = {
        "MLOOP_S3_ENDPOINT": s3_server.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "from-aws-vars",
        "MLOOP_S3_REGION": "us-east-1",
    }
    store = ArtifactStore.from_env(env, retry=RetryPolicy(attempts=2))
    assert store.endpoint == s3_server.endpoint
    assert not store.secure
    store.put_bytes(f"s3://{bucket}/k", b"v")
    assert "from-aws-vars" not in repr(store)
    assert ArtifactStore.from_env({"MLOOP_S3_ENDPOINT": "https://s3.example.com"}).secure
    assert ArtifactStore.from_env({"MLOOP_S3_ENDPOINT": "minio:9000", "MLOOP_S3_SECURE": "True"}).secure
    with pytest.raises(ValueError, match="MLOOP_S3_ENDPOINT"):
        ArtifactStore.from_env({})
    with pytest.raises(ValueError, match="MLOOP_S3_SECURE"):
        ArtifactStore.from_env({"MLOOP_S3_ENDPOINT": "h:1", "MLOOP_S3_SECURE": "maybe"})
    with pytest.raises(ValueError, match="both"):
        ArtifactStore.from_env({"MLOOP_S3_ENDPOINT": "h:1", "MLOOP_S3_ACCESS_KEY": "only-half"})
    with pytest.raises(ValueError, match="without a path or credentials"):
        ArtifactStore("http://user:pw@h:1/path", None, None)
