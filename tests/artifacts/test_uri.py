"""URI parsing: what we accept, and errors that name the problem."""

from __future__ import annotations

import pytest

from mloop.artifacts import (
    ArtifactStore,
    InvalidUri,
    RetryPolicy,
    S3Uri,
    format_uri,
    parse_prefix_uri,
    parse_uri,
)


def test_parse_and_format_round_trip() -> None:
    uri = "s3://mloop-artifacts/ns/proj/versions/proj-1/model.onnx"
    parsed = parse_uri(uri)
    assert parsed == S3Uri("mloop-artifacts", "ns/proj/versions/proj-1/model.onnx")
    assert str(parsed) == uri == format_uri(parsed.bucket, parsed.key)
    assert parsed.bucket == "mloop-artifacts"


def test_prefixes() -> None:
    assert parse_prefix_uri("s3://bkt") == S3Uri("bkt", "")
    assert parse_prefix_uri("s3://bkt/") == S3Uri("bkt", "")
    assert parse_prefix_uri("s3://bkt/a/b/") == S3Uri("bkt", "a/b/")
    assert parse_prefix_uri("s3://bkt/a/b").child("c.json") == S3Uri("bkt", "a/b/c.json")


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("http://bkt/key", "must start with 's3://' (got http://)"),
        ("bkt/key", "no scheme"),
        ("s3://", "missing bucket name"),
        ("s3:///key", "missing bucket name"),
        ("s3://ab/key", "3 to 63 characters"),
        ("s3://" + "a" * 64 + "/key", "3 to 63 characters"),
        ("s3://My_Bucket/key", "lowercase letters"),
        ("s3://-bkt/key", "start and end with a letter or digit"),
        ("s3://a..b/key", "adjacent"),
        ("s3://192.168.1.10/key", "IP address"),
        ("s3://bkt", "no object key"),
        ("s3://bkt/", "no object key"),
        ("s3://bkt/dir/", "must not end with '/'"),
        ("s3://bkt/a//b", "empty segment"),
        ("s3://bkt//a", "empty segment"),
        ("s3://bkt/a/../b", "'..' segment"),
        ("s3://bkt/./b", "'.' segment"),
        ("s3://bkt/a\nb", "control character"),
        ("s3://bkt/a\\b", "backslash"),
        ("s3://bkt/" + "k" * 1025, "longer than 1024 bytes"),
    ],
)
def test_invalid_uris_name_the_problem(uri: str, problem: str) -> None:
    with pytest.raises(InvalidUri) as info:
        parse_uri(uri)
    assert problem in str(info.value)
    assert info.value.reason == "InvalidUri"
    assert info.value.transient is False
    assert isinstance(info.value, ValueError)


def test_credentials_in_uri_are_refused_and_not_echoed() -> None:
    with pytest.raises(InvalidUri) as info:
        parse_uri("s3://AKIAXYZ:topsecret@bkt/key")
    assert "topsecret" not in str(info.value)
    assert "topsecret" not in repr(info.value)


def test_store_rejects_bad_uris_before_any_request() -> None:
    # Port 9 (discard) is not listening: a network call would raise StorageUnavailable, not InvalidUri.
    store = ArtifactStore("127.0.0.1:9", "k", "s", region="us-east-1", retry=RetryPolicy(attempts=1))
    for call in (
        lambda: store.get_bytes("s3://bkt/"),
        lambda: store.put_bytes("gs://bkt/key", b""),
        lambda: store.stat("s3://BKT/key"),
        lambda: store.list("s3://b"),
        lambda: store.check_bucket("Not_A_Bucket"),
    ):
        with pytest.raises(InvalidUri):
            call()
