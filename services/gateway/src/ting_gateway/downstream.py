"""The gateway's clients of the four services, with retries.

One channel per service (request id propagated by :func:`ting_common.clients.create_channel`). Every call goes
through :meth:`Downstream.call` (unary) or :meth:`Downstream.stream` (server streaming), which retry with
``tenacity`` - exponential backoff with jitter, a bounded number of attempts - but only on statuses that say
"try again": UNAVAILABLE (the service is down, restarting, or was killed mid-call) and ABORTED. Every other
status is the service's answer and is raised at once as the matching domain error, message kept. The steps the
gateway runs are idempotent (recognition, translation, summarization and separation of the same input give the
same answer), so repeating a call that died half-way is safe.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import grpc
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from ting.asr.v1 import asr_service_pb2_grpc as asr_grpc
from ting.separation.v1 import separation_service_pb2_grpc as separation_grpc
from ting.summarization.v1 import summarization_service_pb2_grpc as summarization_grpc
from ting.translation.v1 import translation_service_pb2_grpc as translation_grpc
from ting_common import errors
from ting_common.clients import create_channel
from ting_gateway.config import GatewaySettings

logger = logging.getLogger(__name__)

T = TypeVar("T")

RETRYABLE: Final = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ABORTED})

_ERRORS: Final[dict[grpc.StatusCode, type[errors.TingError]]] = {
    grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidArgumentError,
    grpc.StatusCode.OUT_OF_RANGE: errors.OutOfRangeError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.ResourceExhaustedError,
    grpc.StatusCode.NOT_FOUND: errors.NotFoundError,
    grpc.StatusCode.FAILED_PRECONDITION: errors.FailedPreconditionError,
    grpc.StatusCode.UNAVAILABLE: errors.UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: errors.DeadlineExceededError,
    grpc.StatusCode.CANCELLED: errors.CancelledError,
    grpc.StatusCode.UNIMPLEMENTED: errors.UnimplementedError,
    grpc.StatusCode.PERMISSION_DENIED: errors.PermissionDeniedError,
    grpc.StatusCode.UNAUTHENTICATED: errors.UnauthenticatedError,
}


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, grpc.aio.AioRpcError) and exc.code() in RETRYABLE


def to_domain_error(exc: grpc.aio.AioRpcError, service: str) -> errors.TingError:
    """The domain error for a service's status; the message names the service."""
    code = exc.code()
    detail = exc.details() or code.name
    if code == grpc.StatusCode.UNAVAILABLE:
        return errors.UnavailableError(f"the {service} service is unavailable: {detail}")
    kind = _ERRORS.get(code, errors.InternalError)
    if kind is errors.InternalError:
        return errors.InternalError(f"the {service} service failed: {detail}")
    return kind(f"{service}: {detail}")


@dataclass(frozen=True)
class RetryConfig:
    """Bounded exponential backoff with jitter."""

    attempts: int = 6
    initial_s: float = 0.5
    max_s: float = 10.0


class Downstream:
    """Channels and stubs to the ASR, translation, summarization and separation services."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.retry = RetryConfig(settings.retry_attempts, settings.retry_initial_s, settings.retry_max_s)
        limit = settings.max_message_mb * 1024 * 1024
        self.addresses = {
            "asr": settings.asr_address,
            "translation": settings.translate_address,
            "summarization": settings.summarize_address,
            "separation": settings.separate_address,
        }
        self._channels = {name: create_channel(addr, max_message_bytes=limit) for name, addr in self.addresses.items()}
        self.asr = asr_grpc.AsrServiceStub(self._channels["asr"])
        self.translation = translation_grpc.TranslationServiceStub(self._channels["translation"])
        self.summarization = summarization_grpc.SummarizationServiceStub(self._channels["summarization"])
        self.separation = separation_grpc.SeparationServiceStub(self._channels["separation"])

    def channel(self, service: str) -> grpc.aio.Channel:
        """The channel to ``service`` (``asr``, ``translation``, ``summarization``, ``separation``)."""
        return self._channels[service]

    async def close(self) -> None:
        """Close every channel."""
        for channel in self._channels.values():
            await channel.close(None)

    def _retrying(self, service: str, method: str) -> AsyncRetrying:
        def log_retry(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            logger.warning(
                "%s.%s failed (%s); retrying in %.1f s (attempt %d of %d)",
                service,
                method,
                exc.code().name if isinstance(exc, grpc.aio.AioRpcError) else exc,
                wait,
                state.attempt_number + 1,
                self.retry.attempts,
            )

        return AsyncRetrying(
            retry=retry_if_exception(_is_retryable),
            stop=stop_after_attempt(self.retry.attempts),
            wait=wait_exponential_jitter(
                multiplier=self.retry.initial_s, max=self.retry.max_s, jitter=self.retry.initial_s
            ),
            before_sleep=log_retry,
            reraise=True,
        )

    async def call(
        self,
        service: str,
        method: str,
        fn: Callable[..., Awaitable[T]],
        request: Any,
        *,
        deadline_s: float | None = None,
    ) -> T:
        """Call a unary RPC with retries; a non-retryable status (or the last failure) raises a domain error."""
        try:
            async for attempt in self._retrying(service, method):
                with attempt:
                    return await fn(request, timeout=deadline_s or self.settings.step_timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise to_domain_error(exc, service) from None
        raise AssertionError("unreachable")  # pragma: no cover - tenacity either returns or raises

    async def stream(
        self,
        service: str,
        method: str,
        fn: Callable[..., Any],
        request: Any,
        *,
        deadline_s: float | None = None,
        on_restart: Callable[[], None] | None = None,
    ) -> AsyncIterator[Any]:
        """Call a server-streaming RPC with retries. A stream that breaks with a retryable status is started
        again from the beginning (``on_restart`` lets the caller forget partial progress); messages already
        yielded are not repeated in any other way, so callers must treat the stream's messages as idempotent
        updates (progress, then one result)."""
        try:
            async for attempt in self._retrying(service, method):
                with attempt:
                    if attempt.retry_state.attempt_number > 1 and on_restart is not None:
                        on_restart()
                    call = fn(request, timeout=deadline_s or self.settings.step_timeout_s)
                    try:
                        async for message in call:
                            yield message
                    finally:
                        call.cancel()
                    return
        except grpc.aio.AioRpcError as exc:
            raise to_domain_error(exc, service) from None
