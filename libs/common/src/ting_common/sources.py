"""Read the bytes behind an audio URI (``ting.audio.v1.AudioSource.uri``).

``file://`` URIs are served only from inside a configured storage root (no path escapes);
``s3://`` needs object storage, which arrives with the gateway's storage layer; until a service
configures it, such URIs answer FAILED_PRECONDITION with a message saying so.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from ting_common.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    ResourceExhaustedError,
)


def read_uri(uri: str, *, storage_root: Path | None, max_bytes: int) -> bytes:
    """Return the bytes at ``uri`` or raise a domain error a caller can act on."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        if storage_root is None:
            raise FailedPreconditionError(
                "file:// audio URIs are disabled on this server; send the audio inline or set the "
                "service's STORAGE_ROOT setting"
            )
        root = storage_root.resolve()
        path = Path(unquote(parsed.path)).resolve()
        if not path.is_relative_to(root):
            raise InvalidArgumentError(f"'{uri}' is outside the storage root of this server")
        if not path.is_file():
            raise NotFoundError(f"no such audio object: {uri}")
        size = path.stat().st_size
        if size > max_bytes:
            raise ResourceExhaustedError(f"audio is {size / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.0f} MiB")
        return path.read_bytes()
    if parsed.scheme == "s3":
        raise FailedPreconditionError(
            f"object storage is not configured on this server, so '{uri}' cannot be read; send the audio inline"
        )
    raise InvalidArgumentError(f"unsupported audio URI '{uri}'; use file:// or s3://, or send the audio inline")
