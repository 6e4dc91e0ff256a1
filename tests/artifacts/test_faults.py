"""Outages, throttling, rejected credentials and races, injected by a proxy in front of moto."""

from __future__ import annotations

import socket
import time
import traceback
from collections.abc import Callable

import pytest

from mloop.artifacts import (
    AccessDenied,
    ArtifactError,
    ArtifactStore,
    ObjectExists,
    RetryPolicy,
    StorageUnavailable,
)
from tests.artifacts.conftest import fast_policy
from tests.support.faults import Fault, FaultProxy

SECRET = "s3cr3t-NEVER-PRINT"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_endpoint_gives_up_after_the_configured_attempts() -> None:
    sleeps: list[float] = []
    store = ArtifactStore(f"127.0.0.1:{closed_port()}", "k", SECRET, retry=fast_policy(3, sleeps))
    started = time.monotonic()
    with pytest.raises(StorageUnavailable) as info:
        store.check_bucket("some-bucket")
    assert time.monotonic() - started < 2
    assert len(sleeps) == 2  # three attempts, two waits
    assert info.value.transient
    assert info.value.reason == "StorageUnavailable"
    assert "gave up after 3 attempts" in str(info.value)
    assert "cannot reach S3 endpoint 127.0.0.1:" in str(info.value)


@pytest.mark.parametrize(
    "fault",
    [
        Fault(503, "ServiceUnavailable"),
        Fault(503, "SlowDown"),
        Fault(500, "InternalError"),
        Fault(429, "TooManyRequests"),
        Fault(502, xml=False),  # a load balancer's HTML page
        Fault(reset=True),
    ],
    ids=["503", "SlowDown", "500", "429", "502-html", "reset"],
)
def test_transient_failures_are_retried_then_succeed(
    proxy: FaultProxy, proxied: ArtifactStore, bucket: str, sleeps: list[float], fault: Fault
) -> None:
    proxy.fail_next(2, fault)
    uri = f"s3://{bucket}/k"
    assert proxied.put_bytes(uri, b"payload").size == 7
    proxy.fail_next(2, fault)
    assert proxied.get_bytes(uri) == b"payload"
    assert len(sleeps) == 4


def test_head_requests_failing_without_body_are_transient(
    proxy: FaultProxy, proxied: ArtifactStore, bucket: str
) -> None:
    proxied.put_bytes(f"s3://{bucket}/k", b"v")
    proxy.fail_next(2, Fault(500, method="HEAD"))
    assert proxied.stat(f"s3://{bucket}/k").size == 1


def test_persistent_outage_costs_exactly_the_configured_requests(
    proxy: FaultProxy, proxied: ArtifactStore, bucket: str
) -> None:
    proxy.fail_always(Fault(503))
    with pytest.raises(StorageUnavailable, match="gave up after 4 attempts"):
        proxied.get_bytes(f"s3://{bucket}/k")
    # No hidden urllib3 or minio retries under our policy.
    assert proxy.count() == 4


@pytest.mark.parametrize("code", ["InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied"])
def test_rejected_credentials_are_access_denied_without_retry_or_secret(
    proxy: FaultProxy, proxied: ArtifactStore, bucket: str, code: str
) -> None:
    proxy.fail_always(Fault(403, code))
    with pytest.raises(AccessDenied) as info:
        proxied.check_bucket(bucket)
    assert info.value.reason == "AccessDenied"
    assert not info.value.transient
    # A HEAD answer has no body, so minio can only report the status: "AccessDenied" for any 403.
    assert proxy.count() == 1
    calls: list[Callable[[], object]] = [
        lambda: proxied.put_bytes(f"s3://{bucket}/k", b"v"),
        lambda: proxied.stat(f"s3://{bucket}/k"),
    ]
    for call in calls:
        with pytest.raises(AccessDenied) as info:
            call()
        shown = [str(info.value), repr(info.value), "".join(traceback.format_exception(info.value))]
        assert not [text for text in shown if SECRET in text]
    assert SECRET not in repr(proxied)


def test_secret_never_appears_in_unavailable_errors() -> None:
    store = ArtifactStore(f"127.0.0.1:{closed_port()}", "k", SECRET, retry=RetryPolicy(attempts=1))
    with pytest.raises(ArtifactError) as info:
        store.get_bytes("s3://bkt/key")
    assert SECRET not in "".join(traceback.format_exception(info.value))


def test_conditional_write_refuses_when_the_existence_check_races(
    proxy: FaultProxy, s3_server: object, bucket: str
) -> None:
    """stat says "absent" (another writer wins the race): If-None-Match still stops the overwrite."""
    for part_size, size in ((5 * 1024 * 1024, 100), (5 * 1024 * 1024, 6 * 1024 * 1024)):
        store = ArtifactStore(
            proxy.endpoint, "k", "s", region="us-east-1", part_size=part_size, retry=fast_policy()
        )
        uri = f"s3://{bucket}/race-{size}"
        store.put_bytes(uri, b"winner")
        proxy.hide_objects = True
        with pytest.raises(ObjectExists):
            store.put_bytes(uri, b"L" * size)
        proxy.hide_objects = False
        assert store.get_bytes(uri) == b"winner"


def test_lost_acknowledgement_of_our_own_write_is_success(
    proxy: FaultProxy, proxied: ArtifactStore, bucket: str
) -> None:
    """The PUT lands but its answer is lost: the retry's 412 finds our own digest and succeeds."""
    proxy.fail_next(1, Fault(drop_response=True, method="PUT"))
    uri = f"s3://{bucket}/once"
    assert proxied.put_bytes(uri, b"mine").sha256 is not None
    assert proxied.get_bytes(uri) == b"mine"
    assert [s for m, _, s in proxy.requests if m == "PUT"] == [0, 412]


def test_lost_acknowledgement_but_someone_else_wrote_it(
    proxy: FaultProxy, proxied: ArtifactStore, bucket: str
) -> None:
    proxied.put_bytes(f"s3://{bucket}/taken", b"theirs")
    proxy.hide_objects = True
    proxy.fail_next(1, Fault(reset=True, method="PUT"))
    with pytest.raises(ObjectExists):
        proxied.put_bytes(f"s3://{bucket}/taken", b"mine")


def test_retry_policy_backoff_is_capped_jittered_and_seeded() -> None:
    policy = RetryPolicy(attempts=8, base_delay=0.2, max_delay=1.0, seed=42)
    delays = [policy.delay(n) for n in range(1, 8)]
    caps = [min(1.0, 0.2 * 2 ** (n - 1)) for n in range(1, 8)]
    assert all(cap / 2 <= d <= cap for d, cap in zip(delays, caps, strict=True))
    assert max(delays) <= 1.0
    again = RetryPolicy(attempts=8, base_delay=0.2, max_delay=1.0, seed=42)
    assert delays == [again.delay(n) for n in range(1, 8)]
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)


def test_retry_policy_does_not_retry_permanent_errors() -> None:
    calls: list[int] = []

    def fail() -> None:
        calls.append(1)
        raise AccessDenied("no")

    with pytest.raises(AccessDenied):
        fast_policy(5).run(fail, what="op")
    assert calls == [1]
