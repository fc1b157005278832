"""Open the gateway's storage from one URL setting: a directory or ``s3://bucket/prefix``.

One string picks the backend so a deployment switches from a disk to a bucket by changing a setting; S3
connection details come as explicit arguments, each falling back to boto3's standard chain (``AWS_*``
environment variables, ``~/.aws``, instance roles) when left out.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from ting_common.errors import InvalidArgumentError
from ting_gateway.storage import Storage
from ting_gateway.storage.local import LocalStorage
from ting_gateway.storage.s3 import AddressingStyle, S3Settings, S3Storage

__all__ = ["open_storage"]


def open_storage(
    url: str,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    addressing_style: AddressingStyle = "auto",
    presign_expiry_s: int = 3600,
    max_attempts: int = 3,
) -> Storage:
    """The storage ``url`` names.

    - ``/var/lib/ting``, ``./data``, ``~/ting`` or ``file:///var/lib/ting``: a :class:`LocalStorage`; the
      directory is created.
    - ``s3://bucket`` or ``s3://bucket/prefix``: an :class:`S3Storage` (no I/O; call ``ensure_bucket()`` to
      create a missing bucket). The keyword arguments fill its :class:`S3Settings`.

    Raises ``InvalidArgumentError`` for any other scheme or a malformed URL.
    """
    if not url or not url.strip():
        raise InvalidArgumentError("the storage URL is empty")
    if url.startswith("s3://"):
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        return S3Storage(
            S3Settings(
                bucket=bucket,
                prefix=prefix,
                endpoint_url=endpoint_url,
                region=region,
                access_key_id=access_key_id,
                secret_access_key=secret_access_key,
                addressing_style=addressing_style,
                presign_expiry_s=presign_expiry_s,
                max_attempts=max_attempts,
            )
        )
    if url.startswith("file:"):
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/") or parts.query or parts.fragment:
            raise InvalidArgumentError(f"malformed storage URL {url!r}: expected file:///absolute/path")
        root = Path(unquote(parts.path))
    elif "://" in url:
        raise InvalidArgumentError(f"unsupported storage URL {url!r}: use a directory, file:///path or s3://bucket")
    else:
        root = Path(url).expanduser()
    storage = LocalStorage(root)
    try:
        storage.root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidArgumentError(f"cannot create the storage directory {storage.root}: {exc.strerror}") from exc
    return storage
