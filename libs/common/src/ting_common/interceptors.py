"""The server interceptor every Ting service installs.

One interceptor does four jobs around each call, in this order:

1. **Request id**: taken from the ``x-request-id`` metadata (or generated), stored in
   :data:`ting_common.log.request_id_var` for the logs, and echoed to the caller as initial metadata.
2. **Errors**: a :class:`ting_common.errors.TingError` becomes its gRPC status with its message; any
   other exception becomes INTERNAL with a generic message (the traceback goes to the log only).
3. **Metrics**: call count by status code, latency histogram, in-flight gauge.
4. **Access log**: one JSON line per call with method, code and duration.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from ting_common.errors import grpc_status
from ting_common.log import request_id_var
from ting_common.metrics import GRPC_IN_FLIGHT, GRPC_LATENCY, GRPC_REQUESTS

logger = logging.getLogger(__name__)

REQUEST_ID_KEY = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")

# Methods whose access-log line is DEBUG (probes would flood the log otherwise).
_QUIET_SERVICES = frozenset(
    {
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
        "grpc.reflection.v1.ServerReflection",
    }
)


def request_id_from_metadata(metadata: Any) -> str:
    """Return a valid caller-supplied request id, or a new random one."""
    for key, value in metadata or ():
        if key == REQUEST_ID_KEY:
            text = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
            if _VALID_REQUEST_ID.match(text):
                return text
    return uuid.uuid4().hex


def _split_method(full: str) -> tuple[str, str]:
    parts = full.lstrip("/").split("/", 1)
    return (parts[0], parts[1]) if len(parts) == 2 else (full, "")


class _CallScope:
    """Bookkeeping for one call: request id, metrics, the final status code, the access log."""

    def __init__(self, full_method: str, metadata: Any) -> None:
        self.service, self.method = _split_method(full_method)
        self.request_id = request_id_from_metadata(metadata)
        self.start = time.perf_counter()
        self.peer = ""
        self.deadline: float | None = None
        self.token = request_id_var.set(self.request_id)
        GRPC_IN_FLIGHT.labels(self.service, self.method).inc()

    async def begin(self, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        # Read the peer now: after a streaming call has ended, the C-core call behind the context may
        # be freed, and context.peer() would touch it (a segfault seen under load). The deadline is
        # read now for the same reason; code() is plain Python state and stays safe in finish().
        self.peer = context.peer()
        remaining = context.time_remaining()
        self.deadline = None if remaining is None else time.monotonic() + remaining
        try:
            await context.send_initial_metadata(((REQUEST_ID_KEY, self.request_id),))
        except Exception:
            logger.debug("could not send initial metadata", exc_info=True)

    async def fail(self, context: grpc.aio.ServicerContext[Any, Any], exc: Exception) -> None:
        code, message = grpc_status(exc)
        if code == grpc.StatusCode.INTERNAL:
            logger.error("unhandled error in %s/%s", self.service, self.method, exc_info=exc)
        await context.abort(code, message)

    def finish(self, context: grpc.aio.ServicerContext[Any, Any], cancelled: bool = False) -> None:
        code: grpc.StatusCode | None
        if cancelled:
            code = (
                grpc.StatusCode.DEADLINE_EXCEEDED
                if self.deadline is not None and time.monotonic() >= self.deadline
                else grpc.StatusCode.CANCELLED
            )
        else:
            code = context.code() or grpc.StatusCode.OK
            if isinstance(code, int):  # older grpc returns the raw integer
                code = next((c for c in grpc.StatusCode if c.value[0] == code), grpc.StatusCode.UNKNOWN)
        elapsed = time.perf_counter() - self.start
        GRPC_IN_FLIGHT.labels(self.service, self.method).dec()
        GRPC_REQUESTS.labels(self.service, self.method, code.name).inc()
        GRPC_LATENCY.labels(self.service, self.method).observe(elapsed)
        level = logging.DEBUG if self.service in _QUIET_SERVICES else logging.INFO
        logger.log(
            level,
            "rpc finished",
            extra={
                "grpc_service": self.service,
                "grpc_method": self.method,
                "grpc_code": code.name,
                "duration_ms": round(elapsed * 1000, 1),
                "peer": self.peer,
            },
        )
        # An async generator closed by a client that went away is finalized in another context, where the
        # token is not valid; the value then simply dies with its context.
        with contextlib.suppress(ValueError):
            request_id_var.reset(self.token)


class TingServerInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Request id + error mapping + metrics + access log for every RPC kind."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler: Any = await continuation(handler_call_details)
        if handler is None:
            return handler
        full_method = handler_call_details.method
        metadata = handler_call_details.invocation_metadata

        if handler.unary_unary or handler.stream_unary:
            inner = handler.unary_unary or handler.stream_unary

            async def unary_response(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                scope = _CallScope(full_method, metadata)
                cancelled = False
                try:
                    await scope.begin(context)
                    return await inner(request, context)
                except grpc.aio.AbortError:
                    raise
                except asyncio.CancelledError:
                    cancelled = True
                    raise
                except Exception as exc:
                    await scope.fail(context, exc)
                finally:
                    scope.finish(context, cancelled)

            factory = (
                grpc.unary_unary_rpc_method_handler if handler.unary_unary else grpc.stream_unary_rpc_method_handler
            )
            return factory(
                unary_response,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )

        inner_stream = handler.unary_stream or handler.stream_stream

        async def stream_response(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            scope = _CallScope(full_method, metadata)
            cancelled = False
            try:
                await scope.begin(context)
                async for item in inner_stream(request, context):
                    yield item
            except grpc.aio.AbortError:
                raise
            except (asyncio.CancelledError, GeneratorExit):
                cancelled = True
                raise
            except Exception as exc:
                await scope.fail(context, exc)
            finally:
                scope.finish(context, cancelled)

        factory = (
            grpc.unary_stream_rpc_method_handler if handler.unary_stream else grpc.stream_stream_rpc_method_handler
        )
        return factory(
            stream_response,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
