"""Read the bytes behind an audio URI (``ting.audio.v1.AudioSource.uri``).

``file://`` URIs are served only from inside a configured storage root (no path escapes);
``s3://`` needs object storage, which arrives with the gateway's storage layer; until a service
configures it, such URIs answer FAILED_PRECONDITION with a message saying so.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlparse

from ting.audio.v1 import audio_pb2
from ting_common.audio import AudioEncoding
from ting_common.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    ResourceExhaustedError,
)


class AudioBytes(NamedTuple):
    """Audio as received: the bytes and the caller's encoding hint."""

    data: bytes
    encoding: AudioEncoding


def resolve_file_uri(
    uri: str, *, storage_root: Path | None, max_bytes: int, setting: str = "the service's STORAGE_ROOT setting"
) -> Path:
    """The file a ``file://`` audio ``uri`` names, checked: file URIs enabled (``setting`` names how), inside
    ``storage_root``, an existing file, at most ``max_bytes``."""
    if storage_root is None:
        raise FailedPreconditionError(
            f"file:// audio URIs are disabled on this server; send the audio inline or set {setting}"
        )
    path = Path(unquote(urlparse(uri).path)).resolve()
    if not path.is_relative_to(storage_root.resolve()):
        raise InvalidArgumentError(f"'{uri}' is outside the storage root of this server")
    if not path.is_file():
        raise NotFoundError(f"no such audio object: {uri}")
    size = path.stat().st_size
    if size > max_bytes:
        raise ResourceExhaustedError(f"audio is {size / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.0f} MiB")
    return path


def read_uri(uri: str, *, storage_root: Path | None, max_bytes: int) -> bytes:
    """Return the bytes at ``uri`` or raise a domain error a caller can act on."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return resolve_file_uri(uri, storage_root=storage_root, max_bytes=max_bytes).read_bytes()
    if parsed.scheme == "s3":
        raise FailedPreconditionError(
            f"object storage is not configured on this server, so '{uri}' cannot be read; send the audio inline"
        )
    raise InvalidArgumentError(f"unsupported audio URI '{uri}'; use file:// or s3://, or send the audio inline")


def read_audio_source(source: audio_pb2.AudioSource, *, storage_root: Path | None, max_bytes: int) -> AudioBytes:
    """The bytes and encoding hint behind a ``ting.audio.v1.AudioSource`` (inline content or a URI).

    Raises INVALID_ARGUMENT when neither is set or the encoding is unknown, RESOURCE_EXHAUSTED over
    ``max_bytes``. Reading a URI does I/O: call it off the event loop.
    """
    kind = source.WhichOneof("source")
    if kind is None:
        raise InvalidArgumentError("no audio: set audio.content (bytes) or audio.uri")
    try:
        encoding = AudioEncoding(source.format.encoding)
    except ValueError as exc:
        raise InvalidArgumentError(f"unknown audio encoding {source.format.encoding}") from exc
    if kind == "uri":
        return AudioBytes(read_uri(source.uri, storage_root=storage_root, max_bytes=max_bytes), encoding)
    if len(source.content) > max_bytes:
        raise ResourceExhaustedError(
            f"audio is {len(source.content) / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.0f} MiB"
        )
    return AudioBytes(source.content, encoding)
