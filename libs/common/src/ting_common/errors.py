"""Domain errors shared by every Ting service.

Engines and helpers raise these; exactly one place maps them to a transport status: :func:`grpc_status`
for gRPC (used by :mod:`ting_common.interceptors`) and :func:`http_status` for REST. The message of a
domain error is written for a person: it says what was wrong and what to do about it.
"""

from __future__ import annotations

from typing import ClassVar

import grpc


class TingError(Exception):
    """Base class of all domain errors. ``message`` is shown to the caller as is."""

    grpc_code: ClassVar[grpc.StatusCode] = grpc.StatusCode.INTERNAL
    http_code: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidArgumentError(TingError):
    """The request is malformed: bad audio, unknown language, a field out of its allowed set."""

    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    http_code = 400


class OutOfRangeError(TingError):
    """A numeric option lies outside its documented range (beam size, temperature, offsets)."""

    grpc_code = grpc.StatusCode.OUT_OF_RANGE
    http_code = 400


class ResourceExhaustedError(TingError):
    """The input exceeds a configured limit (bytes, duration) or the server is at capacity."""

    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    http_code = 413


class NotFoundError(TingError):
    """A named thing (model, job, stored object) does not exist."""

    grpc_code = grpc.StatusCode.NOT_FOUND
    http_code = 404


class FailedPreconditionError(TingError):
    """The system is not in a state to do this (e.g. no engine configured)."""

    grpc_code = grpc.StatusCode.FAILED_PRECONDITION
    http_code = 409


class UnavailableError(TingError):
    """A dependency is temporarily unreachable; retrying later may succeed."""

    grpc_code = grpc.StatusCode.UNAVAILABLE
    http_code = 503


class DeadlineExceededError(TingError):
    """The work did not finish before the caller's deadline."""

    grpc_code = grpc.StatusCode.DEADLINE_EXCEEDED
    http_code = 504


class CancelledError(TingError):
    """The caller cancelled the work."""

    grpc_code = grpc.StatusCode.CANCELLED
    http_code = 499


class UnimplementedError(TingError):
    """The RPC or option is part of the contract but not implemented by this server yet."""

    grpc_code = grpc.StatusCode.UNIMPLEMENTED
    http_code = 501


class InternalError(TingError):
    """A bug or an unexpected engine failure. The message never carries a traceback."""

    grpc_code = grpc.StatusCode.INTERNAL
    http_code = 500


class PermissionDeniedError(TingError):
    """The caller may not do this (a URI outside the server's storage roots, a key without the right)."""

    grpc_code = grpc.StatusCode.PERMISSION_DENIED
    http_code = 403


class UnauthenticatedError(TingError):
    """No valid credentials (a missing or wrong API key)."""

    grpc_code = grpc.StatusCode.UNAUTHENTICATED
    http_code = 401


class UnsupportedMediaError(InvalidArgumentError):
    """The upload's content type or container is not audio/video the server can read (HTTP 415)."""

    http_code = 415


class TooManyRequestsError(ResourceExhaustedError):
    """A per-caller limit (concurrency, rate) is reached; retry later (HTTP 429)."""

    http_code = 429


def grpc_status(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """Map any exception to a gRPC status code and a human message.

    Domain errors keep their own code and message; anything else is INTERNAL with a generic message
    (details go to the log, not to the caller).
    """
    if isinstance(exc, TingError):
        return exc.grpc_code, exc.message
    return grpc.StatusCode.INTERNAL, "internal error; the server log has the details (see the request id)"


def http_status(exc: BaseException) -> tuple[int, str]:
    """Map any exception to an HTTP status code and a human message (the REST twin of :func:`grpc_status`)."""
    if isinstance(exc, TingError):
        return exc.http_code, exc.message
    return 500, "internal error; the server log has the details (see the request id)"
