"""Object storage for the gateway: uploads, job inputs, rendered artifacts and stems.

One interface (:class:`Storage`), two implementations: a local directory (the default, ``file://`` URIs)
and S3 or any S3-compatible store through boto3 (``s3://bucket/prefix/...`` URIs). Objects are addressed by
a *key* relative to the storage's root (``jobs/<id>/transcript.srt``); :meth:`Storage.uri` turns a key into
the URI the rest of Ting sees. Every method does blocking I/O: call it from a worker thread
(``asyncio.to_thread``), never on the event loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol, runtime_checkable


@dataclass(frozen=True)
class StoredObject:
    """What is known about a stored object."""

    uri: str
    key: str
    size_bytes: int
    content_type: str


@runtime_checkable
class Storage(Protocol):
    """Where the gateway keeps its objects. Implementations: ``LocalStorage``, ``S3Storage``."""

    scheme: str
    """``file`` or ``s3``."""

    def uri(self, key: str) -> str:
        """The URI of ``key`` (no I/O). Raises ``InvalidArgumentError`` for a key that escapes the root
        (``..``, absolute paths, empty parts) or is otherwise invalid: both backends apply one rule,
        :func:`ting_gateway.storage.local.check_key` (no part starting with ``.``, no backslash or control
        character, at most 1024 UTF-8 bytes)."""
        ...

    def key_of(self, uri: str) -> str:
        """The key of a URI inside this storage. Raises ``PermissionDeniedError`` for a URI outside it
        (another bucket or prefix, a path outside the root) and ``InvalidArgumentError`` for a malformed one."""
        ...

    def put(
        self,
        key: str,
        data: bytes | BinaryIO | Iterable[bytes],
        *,
        content_type: str = "application/octet-stream",
        max_bytes: int | None = None,
    ) -> StoredObject:
        """Write an object, streaming (a file object or an iterable of chunks is never read whole into
        memory). Atomic: readers see the old object or the whole new one, never a partial write. Over
        ``max_bytes`` it stops, removes what was written and raises ``ResourceExhaustedError``."""
        ...

    def stat(self, uri: str) -> StoredObject:
        """Size and content type; ``NotFoundError`` when absent."""
        ...

    def read(self, uri: str, *, max_bytes: int) -> bytes:
        """The whole object; ``NotFoundError`` when absent, ``ResourceExhaustedError`` over ``max_bytes``."""
        ...

    def iter_chunks(self, uri: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The object as a stream of chunks (downloads); ``NotFoundError`` when absent (raised on the first
        ``next``, or before)."""
        ...

    def delete_prefix(self, key_prefix: str) -> int:
        """Delete every object whose key starts with ``key_prefix`` (retention, cancelled uploads); returns
        how many. A missing prefix deletes nothing; the empty prefix is refused (``InvalidArgumentError``)."""
        ...

    def presign(self, uri: str, expires_s: int) -> str | None:
        """A time-limited HTTPS(S) GET URL for the object when the store can make one (S3), else ``None``
        (the gateway then serves a signed link itself; see :mod:`ting_gateway.storage.links`)."""
        ...
