"""ting_common's server backbone with a tiny real service: request-id propagation, metrics endpoint."""

from __future__ import annotations

import urllib.request
from typing import Any

import grpc
import pytest

from ting.asr.v1 import asr_service_pb2 as pb
from ting.asr.v1 import asr_service_pb2_grpc as pb_grpc
from ting_common.clients import create_channel
from ting_common.errors import NotFoundError
from ting_common.log import request_id_var
from ting_common.metrics import start_metrics_server
from ting_common.server import build_server
from ting_common.settings import ServiceSettings

from ..conftest import free_port

pytestmark = pytest.mark.integration


class EchoAsr(pb_grpc.AsrServiceServicer):  # type: ignore[misc]
    """Answers ListModels with the request id it sees; raises a domain error for an unknown model."""

    async def ListModels(self, request: Any, context: Any) -> Any:
        return pb.ListModelsResponse(models=[pb.ModelInfo(name=request_id_var.get())])

    async def Recognize(self, request: Any, context: Any) -> Any:
        raise NotFoundError(f"unknown model '{request.config.model}'")


async def test_request_id_propagates_and_domain_errors_map() -> None:
    settings = ServiceSettings(host="127.0.0.1", port=0, shutdown_delay_s=0)
    app = build_server(
        settings, [lambda s: pb_grpc.add_AsrServiceServicer_to_server(EchoAsr(), s)], ["ting.asr.v1.AsrService"]
    )
    await app.start()
    try:
        async with create_channel(f"127.0.0.1:{app.port}") as ch:
            stub = pb_grpc.AsrServiceStub(ch)
            token = request_id_var.set("upstream-7")
            try:
                reply = await stub.ListModels(pb.ListModelsRequest())
            finally:
                request_id_var.reset(token)
            assert reply.models[0].name == "upstream-7"
            # Without an upstream id the server makes one up.
            reply = await stub.ListModels(pb.ListModelsRequest())
            assert len(reply.models[0].name) == 32
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.Recognize(pb.RecognizeRequest(config=pb.RecognitionConfig(model="zz")))
            assert info.value.code() == grpc.StatusCode.NOT_FOUND
            assert info.value.details() == "unknown model 'zz'"
    finally:
        await app.drain(0)


def test_metrics_endpoint_serves_grpc_counters() -> None:
    port = free_port()
    server = start_metrics_server(port, host="127.0.0.1")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            body = response.read().decode()
        assert "ting_grpc_requests_total" in body
        assert "ting_grpc_request_duration_seconds_bucket" in body
    finally:
        server.shutdown()
