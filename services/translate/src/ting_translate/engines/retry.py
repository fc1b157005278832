"""Transport retry policy for remote engines (tenacity).

Retried: HTTP 408, 429 and 5xx answers, timeouts and connection errors. Never retried: every other 4xx (a bad
key, an unknown model or a rejected request does not get better by asking again). Waits grow exponentially
with jitter (``initial * 2**n + U(0, jitter)``, capped at ``max_backoff_s``); a ``Retry-After`` header
(``retry-after-ms``, delta-seconds or an HTTP date) replaces the computed wait. Attempts are bounded by
``max_attempts`` and by ``max_total_s`` of wall time: a wait that would cross that budget (e.g. a
``Retry-After: 3600``) ends the retries at once instead of sleeping.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import openai

__all__ = ["RetryPolicy", "is_retryable", "parse_retry_after", "retry_after_of"]

RETRYABLE_STATUS = frozenset({408, 429})


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of the transport retries."""

    max_attempts: int = 4
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 20.0
    jitter_s: float = 0.5
    max_total_s: float = 120.0

    def backoff(self, attempt: int) -> float:
        """Jittered exponential wait after failed attempt number ``attempt`` (1-based)."""
        # The formula of tenacity's wait_exponential_jitter, usable outside a retry loop (stop decisions).
        base = self.initial_backoff_s * 2 ** max(0, attempt - 1)
        return float(min(self.max_backoff_s, base + random.uniform(0, self.jitter_s)))  # noqa: S311 - jitter


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait according to ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date); None if absent.

    Past dates and negative values give 0; unparsable values are ignored (None).
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms is not None:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = datetime.now(UTC).timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)


def is_retryable(exc: BaseException) -> bool:
    """True for errors worth another attempt: 408/429/5xx, timeouts, connection failures."""
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRYABLE_STATUS or exc.status_code >= 500
    return isinstance(exc, openai.APITimeoutError | openai.APIConnectionError)


def retry_after_of(exc: BaseException | None) -> float | None:
    """The ``Retry-After`` wait an error's HTTP response asks for, if any."""
    if isinstance(exc, openai.APIStatusError):
        return parse_retry_after(dict(exc.response.headers.items()), time.time())
    return None
