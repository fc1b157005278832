"""Where stems go: ``file://`` prefixes under ``TING_SEPARATE_STORAGE_ROOT``, ``s3://bucket/prefix`` through boto3.

Each stem goes to ``<uri_prefix><stem>.<ext>`` (the proto's rule). A stem is encoded while it is separated
into a staging file (:meth:`Destination.stage`) and only published once complete (:meth:`Staged.commit`), so
a reader never sees half a stem and a failed or cancelled call leaves nothing behind:

* ``file://``: a hidden temporary file in the target folder, flushed and renamed over the target. Paths are
  resolved and must stay inside the storage root (no ``..`` or symlink escapes).
* ``s3://``: an anonymous temporary file (``TING_SEPARATE_SPOOL_DIR``), then one upload through boto3's
  transfer manager (multipart above 8 MiB, a few parts in memory at a time); S3 shows an object only once
  its upload completes. Buckets must be listed in ``TING_SEPARATE_S3_BUCKETS``; credentials come from the
  standard AWS chain (``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, profiles, instance roles) and
  ``TING_SEPARATE_S3_ENDPOINT_URL`` points at an S3-compatible store (SeaweedFS, MinIO, Ceph RGW).

Input URIs (``audio.uri``) are resolved here too, to a path the decoder streams from (``file://``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal, Protocol
from urllib.parse import quote, unquote, urlparse

from ting.audio.v1 import audio_pb2
from ting_common.audio import AudioEncoding
from ting_common.errors import (
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    PermissionDeniedError,
    TingError,
    UnavailableError,
)
from ting_common.sources import read_audio_source, resolve_file_uri

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_CONTENT_TYPES = {"wav": "audio/wav", "flac": "audio/flac"}
_DENIED = {"AccessDenied", "Forbidden", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"}


class Staged(Protocol):
    """A stem being written: ``file`` takes the bytes, ``commit`` publishes them, ``discard`` drops them."""

    file: BinaryIO

    def commit(self) -> str:
        """Publish the stem; return its URI."""
        ...

    def discard(self) -> None:
        """Drop the staged bytes (idempotent; nothing is published)."""
        ...


class Destination(Protocol):
    """Where a request's stems go."""

    def stage(self, name: str) -> Staged:
        """Start writing the stem ``name`` (like ``"vocals.wav"``)."""
        ...


# -- file:// ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileDestination:
    """``folder / (name_prefix + "<stem>.<ext>")``, inside ``root``."""

    folder: Path
    name_prefix: str
    root: Path

    def stage(self, name: str) -> Staged:
        """A hidden temporary file next to the target."""
        return _StagedFile(self.folder, self.name_prefix + name, self.root)


class _StagedFile:
    def __init__(self, folder: Path, name: str, root: Path) -> None:
        self.target = folder / name
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if not folder.resolve().is_relative_to(root.resolve()):  # a symlink made since the check
                raise InvalidArgumentError(f"'{folder}' is outside the storage root of this server")
            handle, self.temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
        except OSError as exc:
            raise InternalError(f"could not write the stem to {self.target}: {exc.strerror or exc}") from None
        self.file: BinaryIO = os.fdopen(handle, "w+b")

    def commit(self) -> str:
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            os.replace(self.temporary, self.target)
        except OSError as exc:
            self.discard()
            raise InternalError(f"could not write the stem to {self.target}: {exc.strerror or exc}") from None
        return "file://" + quote(str(self.target))

    def discard(self) -> None:
        self.file.close()
        with contextlib.suppress(OSError):
            os.unlink(self.temporary)


def write_stem(folder: Path, name: str, data: bytes, storage_root: Path) -> str:
    """Write ``data`` to ``folder / name`` atomically (temporary file, then rename); return its ``file://`` URI."""
    staged = _StagedFile(folder, name, storage_root)
    try:
        staged.file.write(data)
    except BaseException:
        staged.discard()
        raise
    return staged.commit()


# -- s3:// --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Output:
    """The object storage this server may write stems to: a boto3 client and the buckets it may use."""

    client: S3Client
    buckets: frozenset[str]
    spool_dir: Path | None = None
    endpoint: str = "AWS S3"

    @classmethod
    def create(
        cls,
        buckets: Sequence[str],
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        addressing_style: Literal["auto", "path", "virtual"] = "auto",
        spool_dir: Path | None = None,
    ) -> S3Output:
        """A client for ``endpoint_url`` (``None``: AWS, or ``AWS_ENDPOINT_URL_S3``), credentials from the AWS chain."""
        import boto3
        from botocore.config import Config

        session = boto3.session.Session(region_name=region)
        client = session.client(
            "s3",
            endpoint_url=endpoint_url,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": addressing_style},
                connect_timeout=5,
                read_timeout=60,
                retries={"mode": "standard", "total_max_attempts": 3},
                region_name=region or session.region_name or "us-east-1",
            ),
        )
        return cls(client, frozenset(buckets), spool_dir, endpoint_url or "AWS S3")


@dataclass(frozen=True)
class S3Destination:
    """``s3://bucket/<key_prefix><stem>.<ext>``."""

    output: S3Output
    bucket: str
    key_prefix: str

    def stage(self, name: str) -> Staged:
        """An anonymous spool file, uploaded on commit."""
        return _StagedUpload(self.output, self.bucket, self.key_prefix + name)


class _StagedUpload:
    def __init__(self, output: S3Output, bucket: str, key: str) -> None:
        self.output, self.bucket, self.key = output, bucket, key
        try:
            self.file: BinaryIO = tempfile.TemporaryFile(dir=output.spool_dir)  # noqa: SIM115 -- closed in commit/discard
        except OSError as exc:
            raise InternalError(f"could not spool the stem for s3://{bucket}/{key}: {exc.strerror or exc}") from None

    def commit(self) -> str:
        from boto3.s3.transfer import TransferConfig

        uri = f"s3://{self.bucket}/{self.key}"
        extension = self.key.rsplit(".", 1)[-1]
        try:
            self.file.flush()
            self.file.seek(0)
            self.output.client.upload_fileobj(
                self.file,
                self.bucket,
                self.key,
                ExtraArgs={"ContentType": _CONTENT_TYPES.get(extension, "application/octet-stream")},
                Config=TransferConfig(multipart_threshold=8 << 20, multipart_chunksize=8 << 20, max_concurrency=4),
            )
        except Exception as exc:
            raise _s3_error(exc, uri, self.output.endpoint) from None
        finally:
            self.file.close()
        return uri

    def discard(self) -> None:
        self.file.close()


def _s3_error(exc: Exception, uri: str, endpoint: str) -> TingError:
    """A botocore failure as a domain error that says what to fix."""
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError

    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return FailedPreconditionError(
            f"no S3 credentials on this server, so {uri} cannot be written; set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or a profile / instance role)"
        )
    text = str(exc)
    code = ""
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
    elif isinstance(exc, S3UploadFailedError):  # boto3 wraps the ClientError's text in its message
        code = next((c for c in (*_DENIED, "NoSuchBucket") if c in text), "")
    if code in _DENIED:
        return PermissionDeniedError(f"{endpoint} refused to store {uri} ({code}); check the server's S3 credentials")
    if code == "NoSuchBucket":
        return FailedPreconditionError(f"the bucket of {uri} does not exist at {endpoint}; create it first")
    if isinstance(exc, ClientError | S3UploadFailedError | BotoCoreError):
        return UnavailableError(f"could not store {uri} at {endpoint}: {text[:300]}")
    return InternalError(f"could not store {uri}: {text[:300]}")


# -- prefixes -----------------------------------------------------------------------------------------------


def check_prefix(uri_prefix: str, storage_root: Path | None, s3: S3Output | None = None) -> Destination:
    """The :class:`Destination` that ``uri_prefix`` names, or a domain error saying how to fix it.

    ``file:///data/out/`` writes ``/data/out/vocals.wav``; ``file:///data/out/song-`` ``/data/out/song-vocals.wav``;
    ``s3://bucket/jobs/7/`` the object ``jobs/7/vocals.wav``.
    """
    parsed = urlparse(uri_prefix)
    if parsed.scheme == "s3":
        return _check_s3(uri_prefix, parsed.netloc, unquote(parsed.path).lstrip("/"), s3)
    if parsed.scheme != "file":
        raise InvalidArgumentError(
            f"unsupported output.uri_prefix '{uri_prefix}'; use file:///path/prefix/ or s3://bucket/prefix/"
        )
    if storage_root is None:
        raise FailedPreconditionError(
            "file:// output is disabled on this server (TING_SEPARATE_STORAGE_ROOT is unset); "
            "leave output.uri_prefix empty to get the stems inline"
        )
    if parsed.netloc not in ("", "localhost"):
        raise InvalidArgumentError(f"'{uri_prefix}' names host '{parsed.netloc}'; use file:///path/prefix/")
    raw = unquote(parsed.path)
    if not raw.startswith("/"):
        raise InvalidArgumentError(f"'{uri_prefix}' is not an absolute file:/// URI")
    folder, name_prefix = os.path.split(raw)
    root = storage_root.resolve()
    resolved = Path(folder).resolve()
    if not resolved.is_relative_to(root):
        raise InvalidArgumentError(f"'{uri_prefix}' is outside the storage root of this server")
    return FileDestination(resolved, name_prefix, root)


def _check_s3(uri_prefix: str, bucket: str, key_prefix: str, s3: S3Output | None) -> S3Destination:
    if s3 is None:
        raise FailedPreconditionError(
            f"object storage is not configured on this server, so stems cannot be written to '{uri_prefix}'; "
            "set TING_SEPARATE_S3_BUCKETS (and TING_SEPARATE_S3_ENDPOINT_URL for an S3-compatible store), "
            "use a file:// prefix under the server's storage root, or leave output.uri_prefix empty for inline stems"
        )
    if not bucket:
        raise InvalidArgumentError(f"'{uri_prefix}' names no bucket; use s3://bucket/prefix/")
    if bucket not in s3.buckets:
        raise PermissionDeniedError(
            f"this server does not write to bucket '{bucket}'; it writes to {', '.join(sorted(s3.buckets))} "
            "(TING_SEPARATE_S3_BUCKETS)"
        )
    parts = key_prefix.split("/")
    if any(part in (".", "..") for part in parts) or "//" in key_prefix or "\\" in key_prefix:
        raise InvalidArgumentError(f"'{uri_prefix}' has an empty, '.' or '..' path segment")
    if len(key_prefix.encode()) > 900:
        raise InvalidArgumentError(f"'{uri_prefix}' is too long for an S3 key prefix")
    return S3Destination(s3, bucket, key_prefix)


# -- input --------------------------------------------------------------------------------------------------


def open_input(
    source: audio_pb2.AudioSource, *, storage_root: Path | None, max_bytes: int
) -> tuple[bytes | str, AudioEncoding]:
    """What the decoder reads for ``source``: the inline bytes, or the path a ``file://`` URI names (decoded
    straight from disk, so a long file is never read into memory whole), with the encoding hint."""
    if source.WhichOneof("source") != "uri" or urlparse(source.uri).scheme != "file":
        audio = read_audio_source(source, storage_root=storage_root, max_bytes=max_bytes)  # its checks, its errors
        return audio.data, audio.encoding
    path = resolve_file_uri(
        source.uri, storage_root=storage_root, max_bytes=max_bytes, setting="TING_SEPARATE_STORAGE_ROOT"
    )
    try:
        encoding = AudioEncoding(source.format.encoding)
    except ValueError as exc:
        raise InvalidArgumentError(f"unknown audio encoding {source.format.encoding}") from exc
    return str(path), encoding
