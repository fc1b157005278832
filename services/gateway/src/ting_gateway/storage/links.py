"""Signed, expiring download links for objects the gateway serves itself (local storage).

S3 hands out presigned URLs; a local directory cannot, so the gateway signs ``(key, expiry)`` with a server
secret and checks the signature when the link is fetched. The link needs no session or API key, and it
only opens the one object until its expiry. The signature is HMAC-SHA256 over a versioned, NUL-separated
message (keys never contain NUL), written in URL-safe base64 without padding.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from ting_common.errors import InvalidArgumentError, PermissionDeniedError

__all__ = ["MIN_SECRET_BYTES", "link_query", "sign", "verify"]

MIN_SECRET_BYTES = 16
"""The shortest secret accepted; generate one with ``secrets.token_bytes(32)``."""

_DOMAIN = b"ting-link-v1\x00"


def _digest(key: str, expires_at: int, secret: bytes) -> str:
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the link secret must be at least {MIN_SECRET_BYTES} bytes")
    message = _DOMAIN + key.encode("utf-8", "surrogatepass") + b"\x00" + str(int(expires_at)).encode()
    mac = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def sign(key: str, expires_at: int, secret: bytes) -> str:
    """The signature of a link to ``key`` valid until ``expires_at`` (Unix seconds)."""
    return _digest(key, expires_at, secret)


def verify(key: str, expires_at: int, signature: str, secret: bytes, now: float | None = None) -> None:
    """Accept a link or raise ``PermissionDeniedError``: ``"bad signature"`` when the signature does not
    match ``(key, expires_at)``, ``"link expired"`` when it does but ``now`` (default: the clock) has
    reached ``expires_at``. The signature is checked first, in constant time."""
    expected = _digest(key, expires_at, secret)
    if not signature.isascii() or not hmac.compare_digest(expected, signature):
        raise PermissionDeniedError("bad signature")
    if (time.time() if now is None else now) >= expires_at:
        raise PermissionDeniedError("link expired")


def link_query(key: str, expires_s: int, secret: bytes, now: float | None = None) -> dict[str, str]:
    """The query parameters of a link to ``key`` valid for ``expires_s`` seconds from ``now``:
    ``{"expires": "<unix seconds>", "sig": "<signature>"}``."""
    if expires_s <= 0:
        raise InvalidArgumentError("a link must be valid for at least one second")
    expires_at = int(time.time() if now is None else now) + int(expires_s)
    return {"expires": str(expires_at), "sig": sign(key, expires_at, secret)}
