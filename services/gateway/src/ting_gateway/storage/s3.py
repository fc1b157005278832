"""Object storage in S3 or any S3-compatible store (SeaweedFS, MinIO, Ceph RGW), through boto3.

Objects live in one bucket under an optional prefix; the URI of key ``jobs/7/out.srt`` is
``s3://<bucket>/<prefix>/jobs/7/out.srt``. Uploads stream through boto3's transfer manager (multipart above
one part size, parts buffered a few at a time), so a multi-gigabyte upload never sits in memory; S3 makes an
object visible only once its upload completes, which gives :meth:`S3Storage.put` its atomicity. Every botocore
failure becomes a domain error whose message names the endpoint, so an operator can tell a missing object
from a wrong key from a store that is down.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ChecksumError,
    ClientError,
    ConnectionError,
    CredentialRetrievalError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
)

from ting_common.errors import (
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    TingError,
    UnavailableError,
)
from ting_gateway.storage import StoredObject
from ting_gateway.storage.local import check_content_type, check_key, check_key_prefix, iter_input

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["AddressingStyle", "S3Settings", "S3Storage"]

AddressingStyle = Literal["auto", "path", "virtual"]

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_MAX_PRESIGN_S = 7 * 24 * 3600  # the SigV4 limit
_NOT_FOUND = {"NoSuchKey", "NoSuchBucket", "NotFound", "404"}
_DENIED = {
    "AccessDenied",
    "Forbidden",
    "403",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AllAccessDisabled",
    "AccountProblem",
}
_TRANSIENT = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "ServiceUnavailable",
    "InternalError",
    "503",
    "500",
}


@dataclass(frozen=True)
class S3Settings:
    """Where and how to reach the bucket. ``None`` credentials, region and endpoint fall back to boto3's
    standard chain (``AWS_ACCESS_KEY_ID``, ``AWS_REGION``, ``AWS_ENDPOINT_URL_S3``, ``~/.aws``, instance roles)."""

    bucket: str
    """Bucket name (3-63 characters: lowercase letters, digits, ``.`` and ``-``)."""
    prefix: str = ""
    """Folder inside the bucket that holds every object (``ting/prod``); leading/trailing ``/`` are dropped."""
    endpoint_url: str | None = None
    """``http(s)://host:port`` of an S3-compatible store; ``None`` for AWS (or ``AWS_ENDPOINT_URL_S3``)."""
    region: str | None = None
    """Signing region; ``None`` reads the boto3 chain, then ``us-east-1``."""
    access_key_id: str | None = None
    """Access key; ``None`` reads the boto3 credential chain."""
    secret_access_key: str | None = None
    """Secret key, paired with ``access_key_id``."""
    addressing_style: AddressingStyle = "auto"
    """``path`` (``host/bucket/key``, what most self-hosted stores want), ``virtual`` (``bucket.host/key``)
    or ``auto`` (boto3 decides)."""
    presign_expiry_s: int = 3600
    """Default lifetime of the presigned download URLs the gateway hands out."""
    connect_timeout_s: float = 5.0
    """Seconds to open a connection before the store counts as unreachable."""
    read_timeout_s: float = 60.0
    """Seconds to wait for bytes on an open connection."""
    max_attempts: int = 3
    """Attempts per request, the first included (botocore ``standard`` retry mode: throttling, 5xx,
    connection errors); 1 disables retries."""
    part_size_bytes: int = 8 << 20
    """Multipart threshold and part size of uploads (S3 needs at least 5 MiB); memory per upload is about
    ``part_size_bytes * (max_concurrency + 1)``."""
    max_concurrency: int = 4
    """Parts uploaded in parallel per upload."""

    def __post_init__(self) -> None:
        if not _BUCKET.match(self.bucket) or ".." in self.bucket:
            raise InvalidArgumentError(f"{self.bucket!r} is not a valid S3 bucket name")
        prefix = self.prefix.strip("/")
        if prefix:
            check_key(prefix)
        object.__setattr__(self, "prefix", prefix)
        if self.addressing_style not in ("auto", "path", "virtual"):
            raise InvalidArgumentError(f"addressing_style must be auto, path or virtual, not {self.addressing_style!r}")
        if not 1 <= self.presign_expiry_s <= _MAX_PRESIGN_S:
            raise InvalidArgumentError(f"presign_expiry_s must lie in 1..{_MAX_PRESIGN_S}")
        if self.part_size_bytes < 5 << 20:
            raise InvalidArgumentError("part_size_bytes must be at least 5 MiB (the S3 minimum part size)")
        if self.max_attempts < 1 or self.max_concurrency < 1:
            raise InvalidArgumentError("max_attempts and max_concurrency must be at least 1")
        if self.connect_timeout_s <= 0 or self.read_timeout_s <= 0:
            raise InvalidArgumentError("timeouts must be positive")

    def __repr__(self) -> str:  # never print the secret
        secret = "***" if self.secret_access_key else None
        return (
            f"S3Settings(bucket={self.bucket!r}, prefix={self.prefix!r}, endpoint_url={self.endpoint_url!r}, "
            f"region={self.region!r}, access_key_id={self.access_key_id!r}, secret_access_key={secret!r}, "
            f"addressing_style={self.addressing_style!r})"
        )


def make_client(settings: S3Settings) -> S3Client:
    """A boto3 S3 client for ``settings``: SigV4, the addressing style, short timeouts, bounded retries."""
    session = boto3.session.Session(
        aws_access_key_id=settings.access_key_id,
        aws_secret_access_key=settings.secret_access_key,
        region_name=settings.region,
    )
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": settings.addressing_style},
        connect_timeout=settings.connect_timeout_s,
        read_timeout=settings.read_timeout_s,
        retries={"mode": "standard", "total_max_attempts": settings.max_attempts},
        region_name=settings.region or session.region_name or "us-east-1",
    )
    return session.client("s3", endpoint_url=settings.endpoint_url, config=config)


class _LimitedReader:
    """A non-seekable binary reader over the chunks of a :meth:`S3Storage.put` input that counts the bytes it
    hands out and raises ``ResourceExhaustedError`` as soon as they pass ``max_bytes``."""

    def __init__(self, chunks: Iterator[bytes], *, key: str, max_bytes: int | None) -> None:
        self._chunks = chunks
        self._buffer = bytearray()
        self._key = key
        self._max_bytes = max_bytes
        self.size = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        cut = len(self._buffer) if size < 0 else min(size, len(self._buffer))
        out = bytes(self._buffer[:cut])
        del self._buffer[:cut]
        self.size += len(out)
        if self._max_bytes is not None and self.size > self._max_bytes:
            raise ResourceExhaustedError(f"object {self._key!r} is larger than the limit of {self._max_bytes} bytes")
        return out


class S3Storage:
    """:class:`~ting_gateway.storage.Storage` in an S3 bucket. ``client`` overrides the boto3 client built
    from ``settings`` (its endpoint is then the client's). Thread-safe: boto3 clients are."""

    scheme: str = "s3"

    def __init__(self, settings: S3Settings, client: S3Client | None = None) -> None:
        self.settings = settings
        self._client: S3Client = client if client is not None else make_client(settings)
        self._transfer = TransferConfig(
            multipart_threshold=settings.part_size_bytes,
            multipart_chunksize=settings.part_size_bytes,
            max_concurrency=settings.max_concurrency,
            max_io_queue=settings.max_concurrency * 2,
        )
        self._root = f"s3://{settings.bucket}/" + (f"{settings.prefix}/" if settings.prefix else "")

    def __repr__(self) -> str:
        return f"S3Storage({self._root!r} at {self.endpoint})"

    @property
    def endpoint(self) -> str:
        """The URL requests go to (for messages and logs)."""
        return str(self._client.meta.endpoint_url)

    # -- addressing ---------------------------------------------------------------------------------------

    def _object_key(self, key: str) -> str:
        """The S3 object key of a storage key (the prefix joined in front)."""
        return f"{self.settings.prefix}/{key}" if self.settings.prefix else key

    def uri(self, key: str) -> str:
        return self._root + check_key(key)

    def key_of(self, uri: str) -> str:
        scheme, sep, rest = uri.partition("://")
        if not sep or not scheme:
            raise InvalidArgumentError(f"malformed URI {uri!r}: expected s3://bucket/key")
        if scheme != "s3":
            raise PermissionDeniedError(f"{uri!r} is not in this storage ({self._root})")
        bucket, _, path = rest.partition("/")
        if not bucket:
            raise InvalidArgumentError(f"malformed URI {uri!r}: no bucket")
        if bucket != self.settings.bucket:
            raise PermissionDeniedError(f"{uri!r} is in another bucket than this storage ({self._root})")
        if self.settings.prefix:
            if not path.startswith(f"{self.settings.prefix}/"):
                raise PermissionDeniedError(f"{uri!r} is outside this storage's prefix ({self._root})")
            path = path[len(self.settings.prefix) + 1 :]
        if ".." in path.split("/"):
            raise PermissionDeniedError(f"{uri!r} climbs out of this storage with '..'")
        if not path:
            raise InvalidArgumentError(f"{uri!r} names the storage root, not an object")
        return check_key(path)

    # -- errors -------------------------------------------------------------------------------------------

    def _error(self, exc: Exception, what: str) -> TingError:
        """The domain error for a botocore failure while doing ``what`` (``"reading s3://b/k"``)."""
        where = f"S3 at {self.endpoint}"
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            detail = str(error.get("Message") or code or status)
            if code in _NOT_FOUND or status == 404:
                missing = "bucket" if code == "NoSuchBucket" else "object"
                return NotFoundError(f"{what}: no such {missing} ({where})")
            if code in _DENIED or status == 403:
                return PermissionDeniedError(f"{what}: {where} refused access ({detail}); check the credentials")
            if code in _TRANSIENT or status >= 500 or status == 429:
                return UnavailableError(f"{what}: {where} is unavailable ({detail}); retry later")
            return InternalError(f"{what}: {where} answered {code or status}: {detail}")
        if isinstance(exc, NoCredentialsError | PartialCredentialsError):
            return InternalError(
                f"{what}: no S3 credentials for {where}; set access_key_id/secret_access_key or AWS_ACCESS_KEY_ID"
            )
        if isinstance(exc, CredentialRetrievalError):
            return UnavailableError(f"{what}: could not fetch S3 credentials for {where}: {exc}")
        if isinstance(exc, ConnectionError | HTTPClientError | IncompleteReadError | ChecksumError):
            return UnavailableError(f"{what}: cannot reach {where}: {exc}")
        return InternalError(f"{what}: S3 client error with {where}: {exc}")

    # -- writes -------------------------------------------------------------------------------------------

    def put(
        self,
        key: str,
        data: bytes | BinaryIO | Iterable[bytes],
        *,
        content_type: str = "application/octet-stream",
        max_bytes: int | None = None,
    ) -> StoredObject:
        uri = self.uri(key)
        check_content_type(content_type)
        if isinstance(data, bytes | bytearray | memoryview) and max_bytes is not None and len(data) > max_bytes:
            raise ResourceExhaustedError(f"object {key!r} is larger than the limit of {max_bytes} bytes")
        reader = _LimitedReader(iter_input(data), key=key, max_bytes=max_bytes)
        try:
            self._client.upload_fileobj(
                reader,  # type: ignore[arg-type]  # a readable, non-seekable file object is all it needs
                self.settings.bucket,
                self._object_key(key),
                ExtraArgs={"ContentType": content_type},
                Config=self._transfer,
            )
        except TingError:
            self._abort_uploads(key)
            raise
        except (BotoCoreError, ClientError) as exc:
            self._abort_uploads(key)
            raise self._error(exc, f"writing {uri}") from exc
        return StoredObject(uri=uri, key=key, size_bytes=reader.size, content_type=content_type)

    def _abort_uploads(self, key: str) -> None:
        """Best effort after a failed upload: the transfer manager aborts its multipart upload, but an abort
        that itself failed would leave parts billed and invisible; abort any still listed for this exact key.
        A previous object under ``key`` is left as it was."""
        object_key = self._object_key(key)
        try:
            listing = self._client.list_multipart_uploads(Bucket=self.settings.bucket, Prefix=object_key)
            for upload in listing.get("Uploads", []):
                if upload.get("Key") == object_key and "UploadId" in upload:
                    self._client.abort_multipart_upload(
                        Bucket=self.settings.bucket, Key=object_key, UploadId=upload["UploadId"]
                    )
        except (BotoCoreError, ClientError):
            pass  # the original failure is what the caller needs to see

    def delete_prefix(self, key_prefix: str) -> int:
        check_key_prefix(key_prefix)
        what = f"deleting {self._root}{key_prefix}*"
        deleted = 0
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.settings.bucket, Prefix=self._object_key(key_prefix)
            )
            for page in pages:
                keys = [item["Key"] for item in page.get("Contents", []) if "Key" in item]
                if not keys:
                    continue
                reply = self._client.delete_objects(
                    Bucket=self.settings.bucket,
                    Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True},
                )
                errors = reply.get("Errors", [])
                if errors:
                    first = errors[0]
                    raise ClientError(
                        {"Error": {"Code": first.get("Code", ""), "Message": first.get("Message", "")}},
                        "DeleteObjects",
                    )
                deleted += len(keys)
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, what) from exc
        return deleted

    def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist (start-up, tests); a no-op when it does."""
        bucket = self.settings.bucket
        try:
            self._client.head_bucket(Bucket=bucket)
            return
        except ClientError as exc:
            if not isinstance(self._error(exc, ""), NotFoundError):
                raise self._error(exc, f"checking bucket {bucket}") from exc
        except BotoCoreError as exc:
            raise self._error(exc, f"checking bucket {bucket}") from exc
        region = self._client.meta.region_name
        try:
            if region and region != "us-east-1":
                self._client.create_bucket(
                    Bucket=bucket,
                    CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
                )
            else:
                self._client.create_bucket(Bucket=bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise self._error(exc, f"creating bucket {bucket}") from exc
        except BotoCoreError as exc:
            raise self._error(exc, f"creating bucket {bucket}") from exc

    # -- reads --------------------------------------------------------------------------------------------

    def stat(self, uri: str) -> StoredObject:
        key = self.key_of(uri)
        try:
            head = self._client.head_object(Bucket=self.settings.bucket, Key=self._object_key(key))
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, f"reading {uri}") from exc
        return StoredObject(
            uri=self.uri(key),
            key=key,
            size_bytes=int(head.get("ContentLength", 0)),
            content_type=head.get("ContentType") or "application/octet-stream",
        )

    def _get(self, uri: str) -> tuple[str, Any]:
        key = self.key_of(uri)
        try:
            reply = self._client.get_object(Bucket=self.settings.bucket, Key=self._object_key(key))
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, f"reading {uri}") from exc
        return key, reply

    def read(self, uri: str, *, max_bytes: int) -> bytes:
        if max_bytes < 0:
            raise InvalidArgumentError("max_bytes must not be negative")
        key, reply = self._get(uri)
        body = reply["Body"]
        try:
            if int(reply.get("ContentLength", 0)) > max_bytes:
                raise ResourceExhaustedError(f"object {key!r} is larger than the limit of {max_bytes} bytes")
            data: bytes = body.read(max_bytes + 1)
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, f"reading {uri}") from exc
        finally:
            body.close()
        if len(data) > max_bytes:
            raise ResourceExhaustedError(f"object {key!r} is larger than the limit of {max_bytes} bytes")
        return data

    def iter_chunks(self, uri: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        if chunk_size <= 0:
            raise InvalidArgumentError("chunk_size must be positive")
        _, reply = self._get(uri)  # NotFoundError here, before the first next()
        return self._stream(uri, reply["Body"], chunk_size)

    def _stream(self, uri: str, body: Any, chunk_size: int) -> Iterator[bytes]:
        try:
            yield from body.iter_chunks(chunk_size)
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, f"reading {uri}") from exc
        finally:
            body.close()

    def presign(self, uri: str, expires_s: int) -> str | None:
        """A presigned GET URL (no I/O: signed locally with the client's credentials), valid 1 s to 7 days."""
        key = self.key_of(uri)
        if not 1 <= expires_s <= _MAX_PRESIGN_S:
            raise InvalidArgumentError(f"a presigned URL must expire within 1..{_MAX_PRESIGN_S} seconds")
        try:
            return self._client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.settings.bucket, "Key": self._object_key(key)},
                ExpiresIn=expires_s,
            )
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, f"presigning {uri}") from exc
