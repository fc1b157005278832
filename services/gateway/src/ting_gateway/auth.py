"""API keys and per-caller limits, shared by the gRPC servicer and the REST API.

Keys are compared in constant time (``hmac.compare_digest`` against every configured key, so the time taken
does not say which key or how much of it matched). Each caller (an API key, or "anonymous" when auth is off)
may run ``max_concurrent_per_key`` synchronous requests at once; the next one gets RESOURCE_EXHAUSTED / 429.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from collections.abc import Iterator

from ting_common.errors import TooManyRequestsError, UnauthenticatedError


class Auth:
    """Checks bearer keys and counts in-flight requests per caller."""

    def __init__(self, keys: list[str], max_concurrent: int) -> None:
        self._keys = [key.encode() for key in keys]
        self.max_concurrent = max_concurrent
        self._in_flight: dict[str, int] = {}

    @property
    def enabled(self) -> bool:
        """Whether keys are required."""
        return bool(self._keys)

    def caller(self, authorization: str | None) -> str:
        """The caller's identity for an ``Authorization`` value (``Bearer <key>``); UNAUTHENTICATED when keys
        are configured and it is missing or wrong. The identity is a hash prefix, never the key itself."""
        if not self._keys:
            return "anonymous"
        if not authorization:
            raise UnauthenticatedError("missing API key: send 'Authorization: Bearer <key>'")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthenticatedError("malformed Authorization header: use 'Bearer <key>'")
        candidate = token.strip().encode()
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(candidate, key)
        if not matched:
            raise UnauthenticatedError("invalid API key")
        return "key-" + hashlib.sha256(candidate).hexdigest()[:12]

    @contextlib.contextmanager
    def slot(self, caller: str) -> Iterator[None]:
        """Hold one of the caller's concurrent-request slots; 429 / RESOURCE_EXHAUSTED when none is free."""
        used = self._in_flight.get(caller, 0)
        if used >= self.max_concurrent:
            raise TooManyRequestsError(
                f"too many requests at once for this caller (limit {self.max_concurrent}); retry when one finishes"
            )
        self._in_flight[caller] = used + 1
        try:
            yield
        finally:
            self._in_flight[caller] -= 1
            if not self._in_flight[caller]:
                del self._in_flight[caller]
