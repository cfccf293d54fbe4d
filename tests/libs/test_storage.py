"""`callqa.storage` against real S3 servers: moto and ministack (see tests/conftest.py)."""

from __future__ import annotations

import hashlib
import io
import logging
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import urllib3
from minio.error import S3Error

from callqa.settings import S3Settings
from callqa.storage import (
    HashingReader,
    ObjectLocked,
    ObjectNotFound,
    ObjectStore,
    StorageError,
    StorageFeatureUnsupported,
    StorageUnavailable,
)
from callqa_stack import servers

MiB = 1024 * 1024


def make_store(endpoint: str, bucket: str, *, object_lock: bool = True, **kwargs: Any) -> ObjectStore:
    settings = S3Settings(
        endpoint=endpoint,
        access_key="test",
        secret_key="test",
        region="us-east-1",
        bucket=bucket,
        object_lock=object_lock,
    )
    return ObjectStore(settings, **kwargs)


@pytest.fixture
def store(s3_endpoint: str, unique: str) -> ObjectStore:
    """A bucket with object lock on moto or ministack."""
    store = make_store(s3_endpoint, f"rec-{unique}")
    store.ensure_bucket()
    return store


@pytest.fixture
def ministack_store(ministack_server: servers.Server, unique: str) -> ObjectStore:
    store = make_store(f"127.0.0.1:{ministack_server.port}", f"rec-{unique}")
    store.ensure_bucket()
    return store


def chunk(i: int) -> bytes:
    """64 KiB of deterministic, position-dependent bytes (catches reordered or repeated parts)."""
    return hashlib.sha256(i.to_bytes(8, "big")).digest() * 2048


def chunks(total: int) -> Iterator[bytes]:
    i = 0
    while total > 0:
        data = chunk(i)[:total]
        total -= len(data)
        i += 1
        yield data


class GeneratorStream(io.RawIOBase):
    """A read-only stream fed by a generator, handing out at most one chunk per read like a socket."""

    def __init__(self, source: Iterator[bytes]) -> None:
        self._source = source
        self._pending = b""
        self.max_read = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.max_read = max(self.max_read, size)
        if not self._pending:
            self._pending = next(self._source, b"")
        if size < 0:
            size = len(self._pending)
        data, self._pending = self._pending[:size], self._pending[size:]
        return data


def versions_of(store: ObjectStore, key: str) -> list[str | None]:
    return [
        obj.version_id
        for obj in store.client.list_objects(store.bucket, prefix=key, include_version=True)
        if obj.object_name == key
    ]


def in_an_hour() -> datetime:
    return (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)


# -- bucket bootstrap ---------------------------------------------------------------------


def test_ensure_bucket_is_idempotent(s3_endpoint: str, unique: str) -> None:
    first = make_store(s3_endpoint, f"boot-{unique}")
    first.ensure_bucket()
    first.put_bytes("kept", b"data")
    first.ensure_bucket()
    # A second service instance starting against the same bucket.
    second = make_store(s3_endpoint, f"boot-{unique}")
    second.ensure_bucket()
    assert second.object_lock_enabled
    assert second.get_bytes("kept") == b"data"
    assert second.client.get_bucket_versioning(second.bucket).status == "Enabled"


def test_plain_bucket_is_versioned_and_refuses_lock_features(s3_endpoint: str, unique: str) -> None:
    store = make_store(s3_endpoint, f"plain-{unique}", object_lock=False)
    store.ensure_bucket()
    assert not store.object_lock_enabled
    assert store.client.get_bucket_versioning(store.bucket).status == "Enabled"
    store.put_bytes("k", b"x")
    with pytest.raises(StorageFeatureUnsupported):
        store.set_retention("k", in_an_hour())
    with pytest.raises(StorageFeatureUnsupported):
        store.get_retention("k")
    with pytest.raises(StorageFeatureUnsupported):
        store.set_legal_hold("k", True)
    with pytest.raises(StorageFeatureUnsupported):
        store.legal_hold("k")
    # A fresh instance learns the bucket's capability from the server.
    assert not make_store(s3_endpoint, f"plain-{unique}").object_lock_enabled
    # And if it believed otherwise, the server's refusal still reads as "unsupported", not "locked".
    stale = make_store(s3_endpoint, f"plain-{unique}")
    stale._object_lock = True
    with pytest.raises(StorageFeatureUnsupported):
        stale.set_retention("k", in_an_hour())
    with pytest.raises(StorageFeatureUnsupported):
        stale.set_legal_hold("k", True)


def test_falls_back_to_versioned_bucket_when_object_lock_is_refused(
    s3_endpoint: str, unique: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store(s3_endpoint, f"nolock-{unique}")
    real_make_bucket = store.client.make_bucket

    def refuse_object_lock(bucket_name: str, location: str | None = None, object_lock: bool = False) -> None:
        if object_lock:
            response = urllib3.HTTPResponse(status=501)
            raise S3Error(response, "NotImplemented", "object lock is not implemented", bucket_name, None, None)
        real_make_bucket(bucket_name, location)

    monkeypatch.setattr(store.client, "make_bucket", refuse_object_lock)
    with caplog.at_level(logging.WARNING, logger="callqa.storage"):
        store.ensure_bucket()
    assert "refused object lock" in caplog.text
    assert not store.object_lock_enabled
    assert store.client.get_bucket_versioning(store.bucket).status == "Enabled"
    store.put_bytes("k", b"x")
    with pytest.raises(StorageFeatureUnsupported):
        store.set_retention("k", in_an_hour())


def test_object_lock_can_be_turned_on_for_an_existing_bucket_or_says_it_cannot(
    s3_endpoint: str, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_store(s3_endpoint, f"later-{unique}", object_lock=False).ensure_bucket()
    store = make_store(s3_endpoint, f"later-{unique}")
    assert not store.refresh_object_lock()
    refusing = make_store(s3_endpoint, f"later-{unique}")

    def refuse(bucket_name: str, config: object) -> None:  # MinIO: only when the bucket is created
        message = "Object Lock configuration cannot be enabled on existing buckets"
        raise S3Error(urllib3.HTTPResponse(status=409), "InvalidBucketState", message, bucket_name, None, None)

    monkeypatch.setattr(refusing.client, "set_object_lock_config", refuse)
    assert not refusing.enable_object_lock()
    with pytest.raises(StorageFeatureUnsupported):
        refusing.set_legal_hold("k", True)

    assert store.enable_object_lock()  # AWS and ministack allow it on a versioned bucket, moto on an empty one
    assert store.refresh_object_lock() and store.object_lock_enabled
    store.put_bytes("k", b"x")
    store.set_retention("k", in_an_hour())
    store.set_legal_hold("k", True)
    assert store.legal_hold("k")
    assert store.get_retention("k") is not None
    store.set_legal_hold("k", False)


# -- writing and reading ------------------------------------------------------------------


def test_streaming_multipart_put(store: ObjectStore) -> None:
    size = 40 * MiB + 12345  # three parts of 16 MiB, the last one short
    expected = hashlib.sha256()
    for data in chunks(size):
        expected.update(data)
    stream = GeneratorStream(chunks(size))

    stored = store.put_stream(
        "calls/2024/big.wav",
        stream,  # type: ignore[arg-type]  # typeshed: RawIOBase is not typing.BinaryIO
        content_type="audio/wav",
        metadata={"Call-Id": "c-1", "x-amz-meta-agent": "a7"},
        part_size=16 * MiB,
    )

    assert stored.size == size
    assert stored.sha256 == expected.hexdigest()
    assert stored.etag.endswith("-3")  # a multipart ETag: the upload really went in parts
    assert stored.version_id
    info = store.stat("calls/2024/big.wav")
    assert info.size == size
    assert info.etag == stored.etag
    assert info.content_type == "audio/wav"
    assert info.metadata == {"call-id": "c-1", "agent": "a7"}
    assert info.version_id == stored.version_id
    assert info.last_modified is not None

    streamed = hashlib.sha256()
    for piece in store.get("calls/2024/big.wav", chunk_size=MiB):
        assert len(piece) <= MiB
        streamed.update(piece)
    assert streamed.hexdigest() == expected.hexdigest()

    everything = b"".join(chunks(size))
    boundary = 16 * MiB
    assert store.get_range("calls/2024/big.wav", boundary - 10, 20) == everything[boundary - 10 : boundary + 10]
    assert store.get_range("calls/2024/big.wav", size - 5, 100) == everything[-5:]
    assert store.get_range("calls/2024/big.wav", size, 10) == b""


def test_put_bytes_get_and_ranges(store: ObjectStore) -> None:
    data = bytes(range(256)) * 10
    stored = store.put_bytes("small.bin", data, metadata={"Language": "de"})
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.etag == hashlib.md5(data).hexdigest()  # noqa: S324 - a single-part S3 ETag is the MD5
    assert store.get_bytes("small.bin") == data
    assert store.get_range("small.bin", 0, 1) == data[:1]
    assert store.get_range("small.bin", 300, 17) == data[300:317]
    assert store.get_range("small.bin", 5, 0) == b""
    assert store.exists("small.bin")
    assert store.stat("small.bin").metadata == {"language": "de"}


def test_empty_object(store: ObjectStore) -> None:
    stored = store.put_stream("empty", io.BytesIO(b""))
    assert stored.size == 0
    assert stored.sha256 == hashlib.sha256(b"").hexdigest()
    assert store.get_bytes("empty") == b""


def test_failing_source_stream_propagates_and_leaves_nothing(store: ObjectStore) -> None:
    def broken() -> Iterator[bytes]:
        yield from chunks(20 * MiB)  # past the first part, so a multipart upload is under way
        raise ConnectionResetError("uploader went away")

    with pytest.raises(ConnectionResetError):
        store.put_stream("broken", GeneratorStream(broken()), part_size=5 * MiB)  # type: ignore[arg-type]
    assert not store.exists("broken")


def test_hashing_reader_fills_each_read() -> None:
    source = GeneratorStream(iter([b"ab", b"cde", b"f"]))
    reader = HashingReader(source)  # type: ignore[arg-type]
    assert reader.read(4) == b"abcd"
    assert reader.read(4) == b"ef"
    assert reader.read(4) == b""
    assert reader.size == 6
    assert reader.hexdigest() == hashlib.sha256(b"abcdef").hexdigest()


def test_metadata_must_be_ascii(store: ObjectStore) -> None:
    with pytest.raises(ValueError, match="ASCII"):
        store.put_bytes("k", b"x", metadata={"agent": "Jürgen"})


def test_missing_object(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFound) as exc_info:
        store.stat("no/such/key")
    assert isinstance(exc_info.value, KeyError)
    assert "no/such/key" in str(exc_info.value)
    assert not store.exists("no/such/key")
    with pytest.raises(ObjectNotFound):
        store.get("no/such/key")  # raises on the call, not on the first chunk
    with pytest.raises(ObjectNotFound):
        store.get_bytes("no/such/key")
    with pytest.raises(ObjectNotFound):
        store.get_range("no/such/key", 0, 10)


def test_presigned_url_downloads_the_object(store: ObjectStore) -> None:
    store.put_bytes("presigned.wav", b"RIFF....WAVE", content_type="audio/wav")
    url = store.presigned_get_url("presigned.wav", timedelta(minutes=5))
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200
    assert response.content == b"RIFF....WAVE"


def test_list_keys(store: ObjectStore) -> None:
    for key in ("calls/a/1", "calls/a/2", "calls/b/1", "other/1"):
        store.put_bytes(key, b"x")
    store.delete("calls/a/2")
    assert sorted(store.list_keys("calls/")) == ["calls/a/1", "calls/b/1"]
    assert sorted(store.list_keys()) == ["calls/a/1", "calls/b/1", "other/1"]


def test_concurrent_puts_from_threads(store: ObjectStore) -> None:
    def put(i: int) -> str:
        return store.put_bytes(f"threads/{i}", chunk(i)).sha256

    with ThreadPoolExecutor(8) as pool:
        digests = list(pool.map(put, range(24)))
    assert digests == [hashlib.sha256(chunk(i)).hexdigest() for i in range(24)]
    assert len(list(store.list_keys("threads/"))) == 24


# -- deleting -----------------------------------------------------------------------------


def test_delete_missing_key_is_fine(store: ObjectStore) -> None:
    store.delete("never/written")
    store.delete("never/written", bypass_governance=True)
    # ministack (like S3) leaves a delete marker per call even for a missing key; moto leaves none.
    store.delete_all_versions("never/written")
    assert versions_of(store, "never/written") == []
    assert store.delete_all_versions("never/written") == 0


def test_delete_and_delete_all_versions(store: ObjectStore) -> None:
    first = store.put_bytes("rec", b"1")
    store.put_bytes("rec", b"2")
    store.put_bytes("rec-other", b"keep me")  # shares the prefix, must survive
    store.delete("rec")  # a delete marker: the data is still there
    assert not store.exists("rec")
    assert len(versions_of(store, "rec")) == 3
    assert store.get_bytes("rec", version_id=first.version_id) == b"1"

    store.delete("rec", version_id=first.version_id)
    assert len(versions_of(store, "rec")) == 2

    assert store.delete_all_versions("rec") == 2
    assert versions_of(store, "rec") == []
    assert store.get_bytes("rec-other") == b"keep me"


# -- retention and legal hold ---------------------------------------------------------------


def test_retention_round_trip_and_deletion_refused(store: ObjectStore) -> None:
    until = in_an_hour()
    stored = store.put_bytes("locked", b"evidence")
    assert store.get_retention("locked") is None
    store.set_retention("locked", until)
    assert store.get_retention("locked") == until
    assert store.get_retention("locked", version_id=stored.version_id) == until

    with pytest.raises(ObjectLocked):
        store.delete("locked", version_id=stored.version_id)
    with pytest.raises(ObjectLocked):
        store.delete_all_versions("locked")
    assert store.get_bytes("locked", version_id=stored.version_id) == b"evidence"

    # GOVERNANCE retention can be lifted explicitly.
    store.delete("locked", version_id=stored.version_id, bypass_governance=True)
    with pytest.raises(ObjectNotFound):
        store.stat("locked", version_id=stored.version_id)


def test_compliance_retention_cannot_be_bypassed(store: ObjectStore) -> None:
    stored = store.put_bytes("compliance", b"evidence")
    store.set_retention("compliance", in_an_hour(), mode="COMPLIANCE")
    with pytest.raises(ObjectLocked):
        store.delete("compliance", version_id=stored.version_id, bypass_governance=True)


def test_retention_needs_an_aware_datetime(store: ObjectStore) -> None:
    store.put_bytes("k", b"x")
    with pytest.raises(ValueError, match="timezone"):
        store.set_retention("k", datetime.now() + timedelta(hours=1))  # naive on purpose


def test_retention_cannot_be_shortened_on_ministack(ministack_store: ObjectStore) -> None:
    # moto accepts shortening (and past dates); ministack enforces GOVERNANCE like S3 does.
    until = in_an_hour()
    ministack_store.put_bytes("k", b"x")
    ministack_store.set_retention("k", until)
    with pytest.raises(ObjectLocked):
        ministack_store.set_retention("k", until - timedelta(minutes=30))
    assert ministack_store.get_retention("k") == until
    with pytest.raises(ObjectNotFound):
        ministack_store.set_retention("missing", until)  # moto answers 500 here


def test_legal_hold_round_trip(store: ObjectStore) -> None:
    stored = store.put_bytes("held", b"evidence")
    assert store.legal_hold("held") is False
    store.set_legal_hold("held", True)
    assert store.legal_hold("held") is True
    with pytest.raises(ObjectLocked):
        store.delete("held", version_id=stored.version_id)
    with pytest.raises(ObjectLocked):  # a legal hold is not governance retention
        store.delete("held", version_id=stored.version_id, bypass_governance=True)
    store.set_legal_hold("held", False)
    assert store.legal_hold("held") is False
    assert store.delete_all_versions("held") == 1
    assert not store.exists("held")


def test_lock_features_on_missing_object(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFound):
        store.get_retention("missing")
    with pytest.raises(ObjectNotFound):
        store.legal_hold("missing")


# -- availability -------------------------------------------------------------------------


def test_dead_server_raises_storage_unavailable_quickly(unique: str) -> None:
    store = make_store(f"127.0.0.1:{servers.free_port()}", f"dead-{unique}")
    started = time.monotonic()
    with pytest.raises(StorageUnavailable):
        store.ensure_bucket()
    with pytest.raises(StorageUnavailable):
        store.put_bytes("k", b"x")
    with pytest.raises(StorageUnavailable):
        store.stat("k")
    with pytest.raises(StorageUnavailable):
        list(store.list_keys())
    assert store.ping() is False
    assert time.monotonic() - started < 10
    assert issubclass(StorageUnavailable, StorageError)


def test_hanging_server_times_out(unique: str) -> None:
    """A server that accepts connections but never answers must not hang the caller."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        store = make_store(f"127.0.0.1:{listener.getsockname()[1]}", f"hang-{unique}", read_timeout=0.5)
        started = time.monotonic()
        with pytest.raises(StorageUnavailable):
            store.stat("k")
        assert store.ping() is False
        assert time.monotonic() - started < 10
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()


def test_ping(store: ObjectStore, s3_endpoint: str, unique: str) -> None:
    assert store.ping() is True
    assert make_store(s3_endpoint, f"absent-{unique}").ping() is False
