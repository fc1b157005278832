"""Client side of the backbone: channels to other Ting services that carry the request id.

A service calling another (the gateway calling ASR, say) creates its channel with
:func:`create_channel`; every outgoing call then carries ``x-request-id`` of the call being served
(from :data:`ting_common.log.request_id_var`), so one id follows a request through all services' logs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from ting_common.interceptors import REQUEST_ID_KEY
from ting_common.log import request_id_var

DEFAULT_MAX_MESSAGE = 256 * 1024 * 1024


def _with_request_id(details: Any) -> Any:
    rid = request_id_var.get()
    metadata = list(details.metadata or ())
    if not rid or any(k == REQUEST_ID_KEY for k, _ in metadata):
        return details
    metadata.append((REQUEST_ID_KEY, rid))
    return grpc.aio.ClientCallDetails(
        method=details.method,
        timeout=details.timeout,
        metadata=grpc.aio.Metadata(*metadata),
        credentials=details.credentials,
        wait_for_ready=details.wait_for_ready,
    )


class _UnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[type-arg]
    async def intercept_unary_unary(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return await continuation(_with_request_id(details), request)


class _UnaryStream(grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[type-arg]
    async def intercept_unary_stream(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return await continuation(_with_request_id(details), request)


class _StreamUnary(grpc.aio.StreamUnaryClientInterceptor):  # type: ignore[type-arg]
    async def intercept_stream_unary(self, continuation: Callable[..., Any], details: Any, requests: Any) -> Any:
        return await continuation(_with_request_id(details), requests)


class _StreamStream(grpc.aio.StreamStreamClientInterceptor):  # type: ignore[type-arg]
    async def intercept_stream_stream(self, continuation: Callable[..., Any], details: Any, requests: Any) -> Any:
        return await continuation(_with_request_id(details), requests)


def create_channel(target: str, *, max_message_bytes: int = DEFAULT_MAX_MESSAGE) -> grpc.aio.Channel:
    """An insecure ``grpc.aio`` channel to ``target`` that propagates the current request id.

    Calls are spread round-robin over every address the target resolves to (a headless Kubernetes Service's pod
    IPs, or ``ipv4:host1:port,host2:port``), not pinned to the first one as gRPC's default ``pick_first`` does."""
    return grpc.aio.insecure_channel(
        target,
        options=[
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.lb_policy_name", "round_robin"),
        ],
        interceptors=[_UnaryUnary(), _UnaryStream(), _StreamUnary(), _StreamStream()],  # type: ignore[list-item]
    )
