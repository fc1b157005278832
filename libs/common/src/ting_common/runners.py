"""What every model-runner engine shares: errors on the wire and the retry policy.

Runners (NVIDIA Triton's python backend, BentoML services) answer with JSON. A failure the caller caused or
can act on travels as ``{"error": {"code": "INVALID_ARGUMENT", "message": "..."}}``, named like the gRPC status
it maps to, and the engine raises the same :class:`~ting_common.errors.TingError` the in-process engine would
have raised, so callers see the same status whichever engine answers.

A runner that cannot be reached (connection refused, reset, UNAVAILABLE, HTTP 502/503/504) is retried with
exponential backoff and jitter (:func:`runner_retrying`); when the attempts run out the call fails with
UNAVAILABLE. Nothing else is retried: a runner that answered has done (or refused) the work.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from tenacity import AsyncRetrying, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from ting_common.errors import (
    CancelledError,
    DeadlineExceededError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    OutOfRangeError,
    ResourceExhaustedError,
    TingError,
    UnavailableError,
    UnimplementedError,
)

T = TypeVar("T")

_BY_CODE: dict[str, type[TingError]] = {
    cls.grpc_code.name: cls
    for cls in (
        InvalidArgumentError,
        OutOfRangeError,
        ResourceExhaustedError,
        NotFoundError,
        FailedPreconditionError,
        UnavailableError,
        DeadlineExceededError,
        CancelledError,
        UnimplementedError,
        InternalError,
    )
}


# HTTP answers that mean "not now" (busy: BentoML's traffic.max_concurrency answers 429; a proxy or a restarting
# runner: 502/503/504): retried like an unreachable runner.
RETRY_HTTP_STATUSES = frozenset({429, 502, 503, 504})


class RunnerUnavailableError(UnavailableError):
    """The runner could not be reached or said it cannot serve now; retried, then surfaced as UNAVAILABLE."""


def error_to_wire(exc: BaseException) -> dict[str, Any]:
    """``{"error": {"code", "message"}}`` for ``exc``: its gRPC status name for domain errors, else INTERNAL."""
    if isinstance(exc, TingError):
        return {"error": {"code": exc.grpc_code.name, "message": exc.message}}
    return {"error": {"code": "INTERNAL", "message": f"the model runner failed: {type(exc).__name__}: {exc}"}}


def error_from_wire(payload: Any) -> TingError | None:
    """The domain error a runner's answer carries, or ``None`` when it is not an error answer."""
    if not isinstance(payload, dict) or not isinstance(payload.get("error"), dict):
        return None
    error = payload["error"]
    message = str(error.get("message") or "the model runner reported an error without a message")
    cls = _BY_CODE.get(str(error.get("code", "")).upper(), InternalError)
    return cls(message)


def parse_answer(raw: bytes | str, what: str) -> dict[str, Any]:
    """Decode a runner's JSON answer; raise its carried error, or INTERNAL when it is not a JSON object."""
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InternalError(f"{what} answered with something that is not JSON: {exc}") from exc
    error = error_from_wire(payload)
    if error is not None:
        raise error
    if not isinstance(payload, dict):
        raise InternalError(f"{what} answered with JSON that is not an object")
    return payload


def _retry_policy(retries: int) -> dict[str, Any]:
    """``retries`` more attempts after the first, exponential backoff with jitter (0.25 s up to 2 s), only when the
    runner was unreachable (:class:`RunnerUnavailableError`; the clients map their transport's failures to it)."""
    return {
        "retry": retry_if_exception_type(RunnerUnavailableError),
        "stop": stop_after_attempt(retries + 1),
        "wait": wait_exponential_jitter(multiplier=0.25, max=2.0, jitter=0.25),
        "reraise": True,
    }


def runner_retrying(retries: int) -> Retrying:
    """A tenacity loop with the runner retry policy (:func:`_retry_policy`)."""
    return Retrying(**_retry_policy(retries))


def async_runner_retrying(retries: int) -> AsyncRetrying:
    """:func:`runner_retrying` for coroutines."""
    return AsyncRetrying(**_retry_policy(retries))


class LoopThread:
    """An asyncio loop in a daemon thread, for runner clients whose engines are called from blocking worker threads:
    the client lives on the loop, each call is a coroutine submitted to it, and the waiting thread can give up."""

    POLL_S = 0.05

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(
        self,
        coro: Coroutine[Any, Any, T],
        stop: threading.Event | None = None,
        stopped: Callable[[], BaseException] | None = None,
    ) -> T:
        """Run ``coro`` on the loop and wait for it. When ``stop`` is set while waiting, the coroutine is cancelled
        (closing what it had open) and ``stopped()`` is raised."""
        future = self.submit(coro)
        while True:
            try:
                return future.result(timeout=self.POLL_S)
            except concurrent.futures.TimeoutError:
                if stop is not None and stop.is_set():
                    future.cancel()
                    raise (stopped() if stopped is not None else CancelledError("the call was cancelled")) from None

    def close(self, final: Coroutine[Any, Any, Any] | None = None) -> None:
        """Run ``final`` (closing the client, at most 5 s), then stop the loop and its thread. Idempotent."""
        if self.loop.is_closed():
            if final is not None:
                final.close()
            return
        if final is not None:
            with contextlib.suppress(Exception):
                self.submit(final).result(timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.loop.close()


__all__ = [
    "RETRY_HTTP_STATUSES",
    "LoopThread",
    "RunnerUnavailableError",
    "async_runner_retrying",
    "error_from_wire",
    "error_to_wire",
    "parse_answer",
    "runner_retrying",
]
