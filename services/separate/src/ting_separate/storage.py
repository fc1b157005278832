"""Writing stems to storage: ``file://`` URIs under ``TING_SEPARATE_STORAGE_ROOT``.

Each stem goes to ``<uri_prefix><stem>.<ext>`` (the proto's rule): written to a hidden temporary file in
the target folder, flushed, then renamed over the target, so a reader never sees half a stem and a
failed write leaves no temporary file behind. Paths are resolved and must stay inside the storage root
(no ``..`` or symlink escapes). ``s3://`` is FAILED_PRECONDITION until object storage arrives with the
gateway.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

from ting_common.errors import FailedPreconditionError, InternalError, InvalidArgumentError


@dataclass(frozen=True)
class Destination:
    """Where a request's stems go: ``folder / (name_prefix + "<stem>.<ext>")``, inside ``root``."""

    folder: Path
    name_prefix: str
    root: Path

    def write(self, name: str, data: bytes) -> str:
        """Write one stem (``name`` like ``"vocals.wav"``) atomically; return its ``file://`` URI."""
        return write_stem(self.folder, self.name_prefix + name, data, self.root)


def check_prefix(uri_prefix: str, storage_root: Path | None) -> Destination:
    """The :class:`Destination` that ``uri_prefix`` names under the storage root, or a domain error.

    ``file:///data/out/`` writes ``/data/out/vocals.wav``; ``file:///data/out/song-`` ``/data/out/song-vocals.wav``.
    """
    parsed = urlparse(uri_prefix)
    if parsed.scheme == "s3":
        raise FailedPreconditionError(
            f"object storage is not configured on this server, so stems cannot be written to '{uri_prefix}'; "
            "use a file:// prefix under the server's storage root, or leave output.uri_prefix empty for inline stems"
        )
    if parsed.scheme != "file":
        raise InvalidArgumentError(f"unsupported output.uri_prefix '{uri_prefix}'; use file:///path/prefix/")
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
    return Destination(resolved, name_prefix, root)


def write_stem(folder: Path, name: str, data: bytes, storage_root: Path) -> str:
    """Write ``data`` to ``folder / name`` atomically (temporary file, then rename); return its ``file://`` URI."""
    target = folder / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not folder.resolve().is_relative_to(storage_root.resolve()):  # a symlink made since the check
            raise InvalidArgumentError(f"'{folder}' is outside the storage root of this server")
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError as exc:
        raise InternalError(f"could not write the stem to {target}: {exc.strerror or exc}") from None
    return "file://" + quote(str(target))
