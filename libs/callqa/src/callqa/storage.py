"""Object storage for call recordings: a thin, typed layer over the MinIO SDK.

Production runs MinIO (object lock for WORM retention); development and tests run ministack
or moto. The SDK is synchronous and thread-safe, so services call `ObjectStore` from worker
threads. Every failure surfaces as a `StorageError` subclass, so callers never need to know
about minio or urllib3 exceptions: `StorageUnavailable` means "retry later" (an API answers
503 + Retry-After), `ObjectNotFound` is a `KeyError`, `ObjectLocked` means retention or a
legal hold refused the change, `StorageFeatureUnsupported` means the bucket or server
cannot do what was asked (instead of silently doing nothing).
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import BinaryIO, Literal
from xml.etree.ElementTree import ParseError

import urllib3
from minio import Minio
from minio.commonconfig import ENABLED
from minio.deleteobjects import DeleteObject
from minio.error import InvalidResponseError, MinioException, S3Error, ServerError
from minio.objectlockconfig import ObjectLockConfig
from minio.retention import Retention
from minio.versioningconfig import VersioningConfig
from urllib3.exceptions import HTTPError as Urllib3HTTPError

from callqa.settings import S3Settings

__all__ = [
    "BucketNotFound",
    "ObjectInfo",
    "ObjectLocked",
    "ObjectNotFound",
    "ObjectStore",
    "RetentionMode",
    "StorageError",
    "StorageFeatureUnsupported",
    "StorageUnavailable",
    "StoredObject",
]

log = logging.getLogger(__name__)

MiB = 1024 * 1024
DEFAULT_PART_SIZE = 16 * MiB
DEFAULT_CHUNK_SIZE = 1 * MiB
_META_PREFIX = "x-amz-meta-"

RetentionMode = Literal["GOVERNANCE", "COMPLIANCE"]

# Error codes meaning "no such object (version)"; HEAD answers carry no body, so the SDK
# reports every 404 on a HEAD as NoSuchKey, even when the bucket is the missing part.
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "NoSuchObject"})
# Codes a server uses to refuse retention or legal hold on a bucket (or in general).
_UNSUPPORTED_CODES = frozenset(
    {"InvalidRequest", "NotImplemented", "MethodNotAllowed", "ObjectLockConfigurationNotFoundError"}
)
_ALREADY_EXISTS_CODES = frozenset({"BucketAlreadyOwnedByYou", "BucketAlreadyExists"})
_AUTH_CODES = frozenset({"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"})


class StorageError(Exception):
    """Base class of every error raised by this module."""


class StorageUnavailable(StorageError):
    """The object store cannot be reached or answered with a server error: retry later."""


class ObjectNotFound(StorageError, KeyError):
    """The object (or the requested version) does not exist."""

    def __init__(self, key: str, version_id: str | None = None) -> None:
        super().__init__(key)
        self.key = key
        self.version_id = version_id

    def __str__(self) -> str:
        # KeyError.__str__ would print the repr of the key; say what happened instead.
        suffix = f" (version {self.version_id})" if self.version_id else ""
        return f"object not found: {self.key}{suffix}"


class BucketNotFound(StorageError):
    """The configured bucket does not exist; `ensure_bucket()` has not run."""


class ObjectLocked(StorageError):
    """Retention or a legal hold protects the object version: the server refused the change."""


class StorageFeatureUnsupported(StorageError):
    """The bucket or server does not support the requested feature (object lock, retention, ...)."""


@dataclass(frozen=True)
class StoredObject:
    """What `put_*` wrote: `sha256` and `size` are computed from the bytes as they streamed past."""

    key: str
    size: int
    sha256: str
    etag: str
    version_id: str | None


@dataclass(frozen=True)
class ObjectInfo:
    """Object metadata from a HEAD request; `metadata` holds the user metadata, lower-case keys."""

    key: str
    size: int
    etag: str
    content_type: str
    metadata: dict[str, str] = field(default_factory=dict)
    version_id: str | None = None
    last_modified: datetime | None = None


class HashingReader:
    """File-like wrapper that hashes and counts the bytes the SDK pulls through it.

    `read(n)` keeps reading the source until it has `n` bytes or the source is exhausted:
    the SDK concatenates the result of each `read` call into its part buffer, which is
    quadratic when a source (a socket, a generator) hands out small chunks.
    """

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self._sha256 = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            data = bytes(self._source.read())
        else:
            buffer = bytearray()
            while len(buffer) < n:
                chunk = self._source.read(n - len(buffer))
                if not chunk:
                    break
                buffer += chunk
            data = bytes(buffer)
        self._sha256.update(data)
        self.size += len(data)
        return data

    def hexdigest(self) -> str:
        return self._sha256.hexdigest()


def _is_lock_refusal(code: str | None, message: str | None) -> bool:
    # AWS, moto and ministack answer AccessDenied "... protected by object lock" (moto's single-object
    # DELETE says only "Access Denied", hence version deletes go through the multi-object call);
    # MinIO speaks of WORM protection.
    text = (message or "").lower()
    # Not every InvalidRequest that mentions a lock is a refusal: "Bucket is missing Object Lock
    # Configuration" means the feature is unsupported, which callers handle differently.
    return (
        code == "ObjectLocked"
        or (code == "AccessDenied" and ("lock" in text or "worm" in text))
        or (code == "InvalidRequest" and "worm" in text)
    )


def _status(exc: S3Error) -> int:
    status = getattr(exc.response, "status", 0)
    return status if isinstance(status, int) else 0


@contextmanager
def _translated(key: str | None = None, version_id: str | None = None) -> Iterator[None]:
    """Turn SDK and transport exceptions into this module's exceptions."""
    try:
        yield
    except Urllib3HTTPError as exc:  # connection refused, timeouts, retries exhausted, broken streams
        raise StorageUnavailable(f"object store unreachable: {exc}") from exc
    except S3Error as exc:
        if exc.code in _NOT_FOUND_CODES and key is not None:
            raise ObjectNotFound(key, version_id) from exc
        if exc.code == "NoSuchBucket":
            raise BucketNotFound(str(exc)) from exc
        if _is_lock_refusal(exc.code, exc.message):
            raise ObjectLocked(f"{key}: {exc.message}") from exc
        if _status(exc) >= 500:
            raise StorageUnavailable(f"object store error: {exc.code}: {exc.message}") from exc
        raise StorageError(f"{exc.code}: {exc.message}") from exc
    except ServerError as exc:
        raise StorageUnavailable(str(exc)) from exc
    except InvalidResponseError as exc:
        # A non-XML error body comes from a proxy in front of the store (or from moto on a crash).
        status = getattr(exc, "_code", 0)  # the SDK keeps the HTTP status only in a private field
        if not isinstance(status, int) or status >= 500 or status == 429:
            raise StorageUnavailable(str(exc)) from exc
        raise StorageError(str(exc)) from exc
    except MinioException as exc:
        raise StorageError(str(exc)) from exc


def _http_client(connect_timeout: float, read_timeout: float, retries: int) -> urllib3.PoolManager:
    # The SDK default waits 5 minutes per connect and retries 5 times; a dead store must fail within
    # seconds so requests can answer 503. `raise_on_status=False` hands the last 5xx answer back to
    # the SDK, which then parses the server's error message instead of "too many 500 responses".
    retry = urllib3.Retry(
        total=retries + 1,
        connect=retries,
        read=min(retries, 1),
        status=retries,
        backoff_factor=0.2,
        status_forcelist=(500, 502, 503, 504),
        raise_on_status=False,
    )
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
        retries=retry,
        maxsize=32,
    )


class ObjectStore:
    """One bucket in an S3-compatible store.

    Thread-safe: the SDK client and its urllib3 pool are shared by all threads.
    """

    def __init__(
        self,
        settings: S3Settings,
        *,
        connect_timeout: float = 2.0,
        read_timeout: float = 30.0,
        retries: int = 1,
        upload_parallelism: int = 2,
    ) -> None:
        self.settings = settings
        self.bucket = settings.bucket
        self._upload_parallelism = upload_parallelism
        self._http = _http_client(connect_timeout, read_timeout, retries)
        self._client = self._make_client(self._http)
        # Readiness probes get their own client: no retries, tight timeouts.
        self._probe_http = _http_client(min(connect_timeout, 1.0), 2.0, 0)
        self._probe_client = self._make_client(self._probe_http)
        self._object_lock: bool | None = None

    @classmethod
    def from_settings(cls, settings: S3Settings) -> ObjectStore:
        return cls(settings)

    def _make_client(self, http: urllib3.PoolManager) -> Minio:
        s = self.settings
        # An explicit region stops the SDK from asking the server for the bucket location first.
        return Minio(
            s.endpoint,
            access_key=s.access_key,
            secret_key=s.secret_key.get_secret_value(),
            secure=s.secure,
            region=s.region,
            http_client=http,
        )

    def close(self) -> None:
        """Close pooled connections (the store stays usable; new connections open on demand)."""
        self._http.clear()
        self._probe_http.clear()

    @property
    def client(self) -> Minio:
        """The underlying SDK client, for operations this class does not cover."""
        return self._client

    # -- bucket ---------------------------------------------------------------------------

    def ensure_bucket(self) -> None:
        """Create the bucket if missing (idempotent) and make sure versioning is on.

        With `settings.object_lock` the bucket is created with object lock (which implies
        versioning); a server that refuses gets a plain versioned bucket and a warning.
        An existing bucket is never changed except for turning versioning on.
        """
        with _translated():
            if not self._client.bucket_exists(self.bucket):
                self._create_bucket()
            self._object_lock = self._query_object_lock()
            if self.settings.object_lock and not self._object_lock:
                log.warning("bucket %s has no object lock: retention and legal hold are unavailable", self.bucket)
            if self._client.get_bucket_versioning(self.bucket).status != ENABLED:
                self._client.set_bucket_versioning(self.bucket, VersioningConfig(ENABLED))

    def _create_bucket(self) -> None:
        if self.settings.object_lock:
            try:
                self._client.make_bucket(self.bucket, object_lock=True)
                return
            except S3Error as exc:
                if exc.code in _ALREADY_EXISTS_CODES:
                    return  # another instance won the race
                if exc.code in _AUTH_CODES:
                    raise
                log.warning(
                    "server refused object lock for bucket %s (%s: %s); creating a plain versioned bucket",
                    self.bucket,
                    exc.code,
                    exc.message,
                )
            except ServerError as exc:
                if exc.status_code != 501:
                    raise
                log.warning("server does not implement object lock; creating a plain versioned bucket")
        try:
            self._client.make_bucket(self.bucket)
        except S3Error as exc:
            if exc.code not in _ALREADY_EXISTS_CODES:
                raise

    def _query_object_lock(self) -> bool:
        try:
            self._client.get_object_lock_config(self.bucket)
        except S3Error as exc:
            if exc.code in _UNSUPPORTED_CODES:
                return False
            raise
        except ServerError as exc:
            if exc.status_code == 501:
                return False
            raise
        return True

    @property
    def object_lock_enabled(self) -> bool:
        """Whether the bucket has object lock (retention, legal hold); asked of the server once."""
        if self._object_lock is None:
            with _translated():
                self._object_lock = self._query_object_lock()
        return self._object_lock

    def refresh_object_lock(self) -> bool:
        """Ask the server again whether the bucket has object lock (a store may lose it on a restart)."""
        with _translated():
            self._object_lock = self._query_object_lock()
        return self._object_lock

    def enable_object_lock(self) -> bool:
        """Turn object lock on for an existing bucket, with no default retention; True when it is on.

        AWS and ministack allow this on a versioned bucket, moto on an empty one, MinIO only at creation;
        where refused it stays off and this answers False (and logs why). It cannot be turned off again.
        """
        with _translated():
            if self._client.get_bucket_versioning(self.bucket).status != ENABLED:
                self._client.set_bucket_versioning(self.bucket, VersioningConfig(ENABLED))
            try:
                self._client.set_object_lock_config(self.bucket, ObjectLockConfig(None, None, None))
            except S3Error as exc:
                if exc.code in _AUTH_CODES or _status(exc) >= 500:
                    raise
                log.error("the store refused to turn on object lock for %s: %s: %s", self.bucket, exc.code, exc.message)
            except ServerError as exc:
                if exc.status_code != 501:
                    raise
                log.error("the store does not implement object lock")
            self._object_lock = self._query_object_lock()
        return self._object_lock

    def ping(self) -> bool:
        """Readiness check: True if the store answers and the bucket exists. Never raises."""
        try:
            return bool(self._probe_client.bucket_exists(self.bucket))
        except Exception:  # a readiness probe reports, it does not fail
            log.debug("object store ping failed", exc_info=True)
            return False

    # -- writing --------------------------------------------------------------------------

    def put_stream(
        self,
        key: str,
        stream: BinaryIO,
        *,
        length: int = -1,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
        part_size: int = DEFAULT_PART_SIZE,
    ) -> StoredObject:
        """Stream `stream` into the store without holding it in memory.

        With `length=-1` (unknown size) the SDK uploads multipart in `part_size` pieces
        (at least 5 MiB); memory use is about `part_size * (upload_parallelism + 1)`.
        Exceptions raised by `stream.read` propagate unchanged (they are the caller's, not
        the store's); the multipart upload is aborted.
        """
        reader = HashingReader(stream)
        headers = _metadata_headers(metadata)
        with _translated(key):
            result = self._client.put_object(
                self.bucket,
                key,
                reader,  # type: ignore[arg-type]  # the SDK only calls read(n)
                length,
                content_type=content_type,
                metadata=headers,  # type: ignore[arg-type]  # dict is invariant; the SDK declares list values too
                part_size=part_size,
                num_parallel_uploads=self._upload_parallelism,
            )
        return StoredObject(
            key=key,
            size=reader.size,
            sha256=reader.hexdigest(),
            etag=str(result.etag or "").strip('"'),
            version_id=result.version_id,
        )

    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
    ) -> StoredObject:
        return self.put_stream(key, io.BytesIO(data), length=len(data), content_type=content_type, metadata=metadata)

    # -- reading --------------------------------------------------------------------------

    def stat(self, key: str, *, version_id: str | None = None) -> ObjectInfo:
        with _translated(key, version_id):
            obj = self._client.stat_object(self.bucket, key, version_id=version_id)
        user_metadata = {
            name.lower()[len(_META_PREFIX) :]: value
            for name, value in (obj.metadata or {}).items()
            if name.lower().startswith(_META_PREFIX)
        }
        return ObjectInfo(
            key=key,
            size=int(obj.size or 0),
            etag=str(obj.etag or ""),
            content_type=str(obj.content_type or "application/octet-stream"),
            metadata=user_metadata,
            version_id=obj.version_id,
            last_modified=obj.last_modified,
        )

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectNotFound:
            return False
        return True

    def get(
        self,
        key: str,
        *,
        version_id: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        offset: int = 0,
        length: int = 0,
    ) -> Generator[bytes, None, None]:
        """Stream the object (or `length` bytes from `offset`; 0 = to the end) in chunks.

        The request is sent now, so a missing object raises here rather than on the first
        `next()`. Exhaust or `close()` the generator to hand the connection back to the pool.
        """
        with _translated(key, version_id):
            response = self._client.get_object(self.bucket, key, offset=offset, length=length, version_id=version_id)
        return self._chunks(response, key, chunk_size)

    @staticmethod
    def _chunks(response: urllib3.BaseHTTPResponse, key: str, chunk_size: int) -> Generator[bytes, None, None]:
        try:
            with _translated(key):
                yield from response.stream(chunk_size)
        finally:
            response.close()
            response.release_conn()

    def get_bytes(self, key: str, *, version_id: str | None = None) -> bytes:
        return b"".join(self.get(key, version_id=version_id))

    def get_range(self, key: str, offset: int, length: int, *, version_id: str | None = None) -> bytes:
        """Read `length` bytes from `offset`; like a file, fewer (or none) past the end."""
        if offset < 0 or length < 0:
            raise ValueError("offset and length must not be negative")
        if length == 0:
            return b""
        try:
            with _translated(key, version_id):
                response = self._client.get_object(
                    self.bucket, key, offset=offset, length=length, version_id=version_id
                )
        except StorageError as exc:
            if isinstance(exc.__cause__, S3Error) and exc.__cause__.code == "InvalidRange":
                return b""  # offset at or past the end
            raise
        try:
            with _translated(key, version_id):
                return bytes(response.read())
        finally:
            response.close()
            response.release_conn()

    def presigned_get_url(self, key: str, expires: timedelta, *, version_id: str | None = None) -> str:
        """A URL that downloads the object without credentials until `expires` from now (max 7 days)."""
        with _translated(key):
            return str(self._client.presigned_get_object(self.bucket, key, expires=expires, version_id=version_id))

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        """Keys (latest versions, no delete markers) under `prefix`, lazily paged."""
        with _translated():
            for obj in self._client.list_objects(self.bucket, prefix=prefix or None, recursive=True):
                if obj.object_name is not None:
                    yield obj.object_name

    # -- deleting -------------------------------------------------------------------------

    def delete(self, key: str, *, version_id: str | None = None, bypass_governance: bool = False) -> None:
        """Delete the object (a delete marker in a versioned bucket) or one version of it.

        Deleting a missing key is not an error. A version under retention or legal hold
        raises `ObjectLocked`; `bypass_governance` lifts GOVERNANCE retention only.
        """
        if version_id is not None or bypass_governance:
            self._delete_versions(key, [version_id], bypass_governance=bypass_governance)
            return
        try:
            with _translated(key, version_id):
                self._client.remove_object(self.bucket, key, version_id=version_id)
        except ObjectNotFound:
            pass

    def delete_all_versions(self, key: str, *, bypass_governance: bool = False) -> int:
        """Remove every version and delete marker of `key` (erasure); returns how many were removed.

        Versions under retention or legal hold stay, and `ObjectLocked` names them.
        """
        with _translated(key):
            versions = [
                obj.version_id
                for obj in self._client.list_objects(self.bucket, prefix=key, include_version=True)
                if obj.object_name == key  # the prefix also matches longer keys
            ]
        if versions:
            self._delete_versions(key, versions, bypass_governance=bypass_governance)
        return len(versions)

    def _delete_versions(self, key: str, versions: list[str | None], *, bypass_governance: bool) -> None:
        # The multi-object delete is the SDK's only call that can send the bypass-governance header.
        with _translated(key):
            errors = list(
                self._client.remove_objects(
                    self.bucket,
                    [DeleteObject(key, version_id) for version_id in versions],
                    bypass_governance_mode=bypass_governance,
                )
            )
        locked = [e for e in errors if _is_lock_refusal(e.code, e.message)]
        if locked:
            ids = ", ".join(str(e.version_id) for e in locked)
            raise ObjectLocked(f"{key}: versions protected by object lock: {ids}")
        failed = [e for e in errors if e.code not in _NOT_FOUND_CODES]
        if failed:
            details = "; ".join(f"{e.version_id}: {e.code} {e.message}" for e in failed)
            raise StorageError(f"{key}: could not delete {details}")

    # -- retention and legal hold -----------------------------------------------------------

    def _require_object_lock(self, what: str) -> None:
        if not self.object_lock_enabled:
            raise StorageFeatureUnsupported(f"{what} needs a bucket with object lock; {self.bucket} has none")

    @contextmanager
    def _lock_call(self, key: str, version_id: str | None, what: str) -> Iterator[None]:
        try:
            with _translated(key, version_id):
                yield
        except StorageError as exc:
            cause = exc.__cause__
            if isinstance(cause, S3Error) and cause.code in _UNSUPPORTED_CODES:
                raise StorageFeatureUnsupported(f"{what}: {cause.code}: {cause.message}") from cause
            raise

    def set_retention(
        self,
        key: str,
        until: datetime,
        mode: RetentionMode = "GOVERNANCE",
        *,
        version_id: str | None = None,
    ) -> None:
        """Protect the object version from deletion and overwrite until `until` (timezone-aware)."""
        if until.tzinfo is None:
            raise ValueError("retention date must be timezone-aware")
        self._require_object_lock("retention")
        with self._lock_call(key, version_id, "retention"):
            self._client.set_object_retention(self.bucket, key, Retention(mode, until), version_id=version_id)

    def get_retention(self, key: str, *, version_id: str | None = None) -> datetime | None:
        """The retain-until date of the object version, or None without retention."""
        self._require_object_lock("retention")
        # HEAD carries the lock headers on every server we run; moto answers GET ?retention with the
        # object body instead of XML, so the dedicated call is only the fallback.
        with _translated(key, version_id):
            head = self._client.stat_object(self.bucket, key, version_id=version_id)
        header = (head.metadata or {}).get("x-amz-object-lock-retain-until-date")
        if header:
            until = datetime.fromisoformat(header)
            return until if until.tzinfo else until.replace(tzinfo=UTC)
        try:
            with self._lock_call(key, version_id, "retention"):
                retention = self._client.get_object_retention(self.bucket, key, version_id=version_id)
        except ParseError:
            return None  # moto, object without retention
        return retention.retain_until_date if retention is not None else None

    def set_legal_hold(self, key: str, on: bool, *, version_id: str | None = None) -> None:
        self._require_object_lock("legal hold")
        with self._lock_call(key, version_id, "legal hold"):
            if on:
                self._client.enable_object_legal_hold(self.bucket, key, version_id=version_id)
            else:
                self._client.disable_object_legal_hold(self.bucket, key, version_id=version_id)

    def legal_hold(self, key: str, *, version_id: str | None = None) -> bool:
        self._require_object_lock("legal hold")
        with self._lock_call(key, version_id, "legal hold"):
            return bool(self._client.is_object_legal_hold_enabled(self.bucket, key, version_id=version_id))


def _metadata_headers(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """User metadata as explicit x-amz-meta-* headers.

    Prefixing here keeps the SDK from treating keys like `content-type` as standard headers.
    Values must be ASCII: HTTP headers cannot carry anything else without an encoding that
    other readers of the bucket would not know about.
    """
    headers: dict[str, str] = {}
    for name, value in (metadata or {}).items():
        bare = name.lower().removeprefix(_META_PREFIX)
        if not bare or not (bare.isascii() and value.isascii()):
            raise ValueError(f"metadata must be non-empty ASCII: {name!r}={value!r}")
        headers[_META_PREFIX + bare] = value
    return headers
