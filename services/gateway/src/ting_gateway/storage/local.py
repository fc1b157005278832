"""Object storage in a local directory: the default for a single machine, with ``file://`` URIs.

An object with key ``jobs/7/out.srt`` is the file ``<root>/jobs/7/out.srt``, so other Ting services that share
the disk read it by its URI. Writes go to a temporary file in the target's directory and are renamed over it
(``os.replace``), so a reader sees the old object or the whole new one. The content type given to :meth:`put`
is kept in a sidecar file ``<root>/.meta/<key>``: no key part may start with ``.``, so the sidecar tree and the
temporary files (``.tmp-*``) can never be mistaken for, or collide with, an object. Objects written by hand
(no sidecar) get a content type guessed from their extension.
"""

from __future__ import annotations

import contextlib
import errno
import mimetypes
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from ting_common.errors import (
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
)
from ting_gateway.storage import StoredObject

__all__ = ["MAX_KEY_BYTES", "LocalStorage", "check_content_type", "check_key", "check_key_prefix", "iter_input"]

MAX_KEY_BYTES = 1024
"""The longest key in UTF-8 bytes (S3's limit, kept for both backends so a key works everywhere)."""

_MAX_PART_BYTES = 255  # NAME_MAX on common file systems
_META_DIR = ".meta"
_TMP_PREFIX = ".tmp-"
_DEFAULT_TYPE = "application/octet-stream"
_WRITE_CHUNK = 1 << 20


def check_key(key: str) -> str:
    """Return ``key`` when it is a valid object key, else raise ``InvalidArgumentError``.

    A key is a relative POSIX path of non-empty parts: no leading ``/``, no ``//``, no trailing ``/``, no part
    starting with ``.`` (which rules out ``.`` and ``..``, and keeps names free for the local backend's
    sidecars and temporary files), no backslash, NUL or other control character, at most
    :data:`MAX_KEY_BYTES` bytes. Both backends apply the same rule so a key valid in one is valid in the other.
    """
    if not isinstance(key, str) or not key:
        raise InvalidArgumentError("an object key must be a non-empty string")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise InvalidArgumentError(f"object key is longer than {MAX_KEY_BYTES} bytes")
    if any(ord(c) < 0x20 or c == "\x7f" for c in key) or "\\" in key:
        raise InvalidArgumentError(f"object key {key!r} contains a backslash or a control character")
    if key.startswith("/"):
        raise InvalidArgumentError(f"object key {key!r} must be relative (no leading '/')")
    for part in key.split("/"):
        if not part:
            raise InvalidArgumentError(f"object key {key!r} has an empty part ('//' or a trailing '/')")
        if part.startswith("."):
            raise InvalidArgumentError(f"object key {key!r} has a part starting with '.' ({part!r})")
        if len(part.encode("utf-8", "surrogatepass")) > _MAX_PART_BYTES:
            raise InvalidArgumentError(f"object key {key!r} has a part longer than {_MAX_PART_BYTES} bytes")
    return key


def check_key_prefix(key_prefix: str) -> str:
    """Return ``key_prefix`` when it can start a valid key (``jobs/7/`` or ``jobs/7/stem-``), else raise
    ``InvalidArgumentError``. The empty prefix is refused: deleting a whole store is never a retention step."""
    if not key_prefix:
        raise InvalidArgumentError("a key prefix must not be empty")
    check_key(key_prefix.removesuffix("/"))
    return key_prefix


def check_content_type(content_type: str) -> str:
    """Return ``content_type`` when it can be stored as a header (printable ASCII, at most 255 characters),
    else raise ``InvalidArgumentError``."""
    if (
        not content_type
        or len(content_type) > 255
        or not content_type.isascii()
        or not all(" " <= c <= "~" for c in content_type)
    ):
        raise InvalidArgumentError(f"content type {content_type!r} is not a printable ASCII media type")
    return content_type


def iter_input(data: bytes | BinaryIO | Iterable[bytes], chunk_size: int = _WRITE_CHUNK) -> Iterator[bytes]:
    """The chunks of a :meth:`Storage.put` input: bytes as one chunk, a binary file object read
    ``chunk_size`` at a time, an iterable of bytes as it comes. Empty chunks are skipped."""
    if isinstance(data, bytes | bytearray | memoryview):
        if data:
            yield bytes(data)
        return
    if isinstance(data, str):
        raise TypeError("put() takes bytes, a binary file object or an iterable of bytes, not str")
    read = getattr(data, "read", None)
    if callable(read):
        while chunk := read(chunk_size):
            if not isinstance(chunk, bytes | bytearray):
                raise TypeError(f"the file object returned {type(chunk).__name__}, not bytes (open it in binary mode)")
            yield bytes(chunk)
        return
    for chunk in data:
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise TypeError(f"an input chunk is {type(chunk).__name__}, not bytes")
        if chunk:
            yield bytes(chunk)


def _too_big(key: str, max_bytes: int) -> ResourceExhaustedError:
    return ResourceExhaustedError(f"object {key!r} is larger than the limit of {max_bytes} bytes")


class LocalStorage:
    """:class:`~ting_gateway.storage.Storage` in a directory. ``root`` need not exist yet: writes create it.

    Symbolic links inside ``root`` are followed as the operating system does; keys themselves can never
    leave the root.
    """

    scheme: str = "file"

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.abspath(root.expanduser()))
        self._meta = self.root / _META_DIR

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    # -- addressing ---------------------------------------------------------------------------------------

    def path(self, key: str) -> Path:
        """The file that holds ``key`` (no I/O)."""
        return self.root.joinpath(*check_key(key).split("/"))

    def uri(self, key: str) -> str:
        return self.path(key).as_uri()

    def key_of(self, uri: str) -> str:
        try:
            parts = urlsplit(uri)
        except ValueError as exc:
            raise InvalidArgumentError(f"malformed URI {uri!r}: {exc}") from None
        if not parts.scheme:
            raise InvalidArgumentError(f"malformed URI {uri!r}: expected file:///absolute/path")
        if parts.scheme != "file":
            raise PermissionDeniedError(f"{uri!r} is not in this storage (a {self.root.as_uri()} URI)")
        if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
            raise InvalidArgumentError(f"malformed file URI {uri!r}: expected file:///absolute/path")
        path = PurePosixPath(unquote(parts.path))
        if not path.is_absolute():
            raise InvalidArgumentError(f"malformed file URI {uri!r}: the path must be absolute")
        if ".." in path.parts:
            raise PermissionDeniedError(f"{uri!r} climbs out of the storage root with '..'")
        try:
            key = path.relative_to(PurePosixPath(self.root.as_posix())).as_posix()
        except ValueError:
            raise PermissionDeniedError(f"{uri!r} is outside this storage ({self.root.as_uri()})") from None
        if key == ".":
            raise InvalidArgumentError(f"{uri!r} names the storage root, not an object")
        return check_key(key)

    def _meta_path(self, key: str) -> Path:
        return self._meta.joinpath(*key.split("/"))

    # -- writes -------------------------------------------------------------------------------------------

    def put(
        self,
        key: str,
        data: bytes | BinaryIO | Iterable[bytes],
        *,
        content_type: str = _DEFAULT_TYPE,
        max_bytes: int | None = None,
    ) -> StoredObject:
        target = self.path(key)
        check_content_type(content_type)
        if isinstance(data, bytes | bytearray | memoryview) and max_bytes is not None and len(data) > max_bytes:
            raise _too_big(key, max_bytes)
        size = self._write_atomic(target, iter_input(data), key=key, max_bytes=max_bytes)
        self._write_meta(key, content_type)
        return StoredObject(uri=target.as_uri(), key=key, size_bytes=size, content_type=content_type)

    def _write_meta(self, key: str, content_type: str) -> None:
        """Record the content type of ``key``. A sidecar left behind by an object removed by hand may stand
        in the way (``a`` when ``a/b`` is written): the object tree just accepted the key, so clear it."""
        meta = self._meta_path(key)
        try:
            self._write_atomic(meta, [content_type.encode()], key=key, max_bytes=None)
        except FailedPreconditionError:
            with _mapped(key):
                for stale in [*reversed(meta.parents[: len(key.split("/")) - 1]), meta]:
                    if stale.is_file():
                        stale.unlink()
                    elif stale == meta and stale.is_dir():
                        shutil.rmtree(stale)
            self._write_atomic(meta, [content_type.encode()], key=key, max_bytes=None)

    def _write_atomic(self, target: Path, chunks: Iterable[bytes], *, key: str, max_bytes: int | None) -> int:
        """Stream ``chunks`` into a temporary file next to ``target``, then rename it over ``target``.
        File-system errors become domain errors; the input's own errors pass through unchanged."""
        tmp = target.with_name(f"{_TMP_PREFIX}{secrets.token_hex(8)}")
        with _mapped(key):
            target.parent.mkdir(parents=True, exist_ok=True)
            out = open(tmp, "xb")  # noqa: SIM115 -- closed by the `with out` below
        size = 0
        try:
            with out:
                for chunk in chunks:
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise _too_big(key, max_bytes)
                    with _mapped(key):
                        out.write(chunk)
                with _mapped(key):
                    out.flush()
                    os.fsync(out.fileno())
            with _mapped(key):
                os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise
        return size

    def delete_prefix(self, key_prefix: str) -> int:
        check_key_prefix(key_prefix)
        folder, _, _ = key_prefix.rpartition("/")
        start = self.root.joinpath(*folder.split("/")) if folder else self.root
        if not start.is_dir():
            return 0
        deleted = 0
        emptied: list[str] = []  # folders wholly under the prefix, removed when left empty
        try:
            for dirpath, dirnames, filenames in os.walk(start):
                rel = Path(dirpath).relative_to(self.root).as_posix()
                base = "" if rel == "." else f"{rel}/"
                if base and base.startswith(key_prefix):
                    emptied.append(rel)
                # Never descend into the sidecar tree or temporary files; skip folders that cannot match.
                dirnames[:] = [
                    d
                    for d in dirnames
                    if not d.startswith(".")
                    and (f"{base}{d}/".startswith(key_prefix) or key_prefix.startswith(f"{base}{d}/"))
                ]
                for name in filenames:
                    key = f"{base}{name}"
                    if name.startswith(".") or not key.startswith(key_prefix):
                        continue
                    (Path(dirpath) / name).unlink(missing_ok=True)
                    self._meta_path(key).unlink(missing_ok=True)
                    deleted += 1
        except OSError as exc:
            raise _os_error(key_prefix, exc) from exc
        for rel in sorted(emptied, key=len, reverse=True):
            for tree in (self.root, self._meta):
                with contextlib.suppress(OSError):  # not empty (a concurrent writer) or already gone
                    tree.joinpath(*rel.split("/")).rmdir()
        return deleted

    # -- reads --------------------------------------------------------------------------------------------

    def stat(self, uri: str) -> StoredObject:
        key = self.key_of(uri)
        path = self.path(key)
        try:
            info = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise NotFoundError(f"no object at {uri}") from None
        except OSError as exc:
            raise _os_error(key, exc) from exc
        if not path.is_file():
            raise NotFoundError(f"no object at {uri} (it is a folder)")
        return StoredObject(uri=path.as_uri(), key=key, size_bytes=info.st_size, content_type=self._content_type(key))

    def _content_type(self, key: str) -> str:
        try:
            return self._meta_path(key).read_text(encoding="utf-8").strip() or _DEFAULT_TYPE
        except (FileNotFoundError, NotADirectoryError):
            guessed, _ = mimetypes.guess_type(key, strict=False)
            return guessed or _DEFAULT_TYPE

    def _open(self, uri: str) -> tuple[str, BinaryIO]:
        key = self.key_of(uri)
        try:
            return key, open(self.path(key), "rb")  # the caller closes it
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise NotFoundError(f"no object at {uri}") from None
        except OSError as exc:
            raise _os_error(key, exc) from exc

    def read(self, uri: str, *, max_bytes: int) -> bytes:
        if max_bytes < 0:
            raise InvalidArgumentError("max_bytes must not be negative")
        key, f = self._open(uri)
        with f:
            data = f.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise _too_big(key, max_bytes)
        return data

    def iter_chunks(self, uri: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        if chunk_size <= 0:
            raise InvalidArgumentError("chunk_size must be positive")
        _, f = self._open(uri)  # NotFoundError here, before the first next()
        return _read_chunks(f, chunk_size)

    def presign(self, uri: str, expires_s: int) -> str | None:
        """Always ``None``: the gateway serves local objects itself behind a signed link
        (:mod:`ting_gateway.storage.links`)."""
        self.key_of(uri)
        return None


def _read_chunks(f: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    with f:
        while chunk := f.read(chunk_size):
            yield chunk


@contextlib.contextmanager
def _mapped(key: str) -> Iterator[None]:
    """Turn a file-system error around ``key`` into a domain error."""
    try:
        yield
    except OSError as exc:
        raise _os_error(key, exc) from exc


def _os_error(key: str, exc: OSError) -> Exception:
    """A domain error for a file-system failure around ``key``."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return ResourceExhaustedError(f"local storage is full while writing {key!r}")
    if isinstance(exc, NotADirectoryError | IsADirectoryError | FileExistsError):
        return FailedPreconditionError(f"key {key!r} clashes with an existing object or folder of the same name")
    return InternalError(f"local storage failed on {key!r}: {exc.strerror or exc}")
