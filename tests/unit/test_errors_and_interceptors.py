"""Domain-error mapping and the request-id rules of the shared interceptor."""

from __future__ import annotations

import grpc
import pytest

from ting_common import errors
from ting_common.interceptors import request_id_from_metadata


@pytest.mark.parametrize(
    ("exc", "code", "http"),
    [
        (errors.InvalidArgumentError("bad"), grpc.StatusCode.INVALID_ARGUMENT, 400),
        (errors.OutOfRangeError("bad"), grpc.StatusCode.OUT_OF_RANGE, 400),
        (errors.ResourceExhaustedError("big"), grpc.StatusCode.RESOURCE_EXHAUSTED, 413),
        (errors.NotFoundError("gone"), grpc.StatusCode.NOT_FOUND, 404),
        (errors.FailedPreconditionError("no"), grpc.StatusCode.FAILED_PRECONDITION, 409),
        (errors.UnavailableError("later"), grpc.StatusCode.UNAVAILABLE, 503),
        (errors.DeadlineExceededError("slow"), grpc.StatusCode.DEADLINE_EXCEEDED, 504),
        (errors.CancelledError("stop"), grpc.StatusCode.CANCELLED, 499),
        (errors.UnimplementedError("todo"), grpc.StatusCode.UNIMPLEMENTED, 501),
    ],
)
def test_domain_errors_keep_code_and_message(exc: errors.TingError, code: grpc.StatusCode, http: int) -> None:
    assert errors.grpc_status(exc) == (code, exc.message)
    assert errors.http_status(exc) == (http, exc.message)


def test_unexpected_errors_are_internal_without_details() -> None:
    code, message = errors.grpc_status(ZeroDivisionError("secret path /etc/x"))
    assert code == grpc.StatusCode.INTERNAL
    assert "secret" not in message and "request id" in message
    assert errors.http_status(KeyError("k"))[0] == 500


def test_request_id_taken_from_metadata_when_valid() -> None:
    assert request_id_from_metadata((("x-request-id", "abc-123"),)) == "abc-123"
    assert request_id_from_metadata((("x-request-id", b"bytes-id"),)) == "bytes-id"


@pytest.mark.parametrize("bad", ["", "has space", "x" * 200, "semi;colon", "new\nline"])
def test_invalid_request_ids_are_replaced(bad: str) -> None:
    rid = request_id_from_metadata((("x-request-id", bad),))
    assert rid != bad
    assert len(rid) == 32 and all(c in "0123456789abcdef" for c in rid)


def test_missing_request_id_is_generated_and_unique() -> None:
    assert request_id_from_metadata(None) != request_id_from_metadata(())
