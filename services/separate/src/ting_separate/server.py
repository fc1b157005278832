"""Wiring: build the separation gRPC server from settings and engines."""

from __future__ import annotations

from collections.abc import Sequence

from ting.separation.v1 import separation_service_pb2 as pb
from ting.separation.v1 import separation_service_pb2_grpc as pb_grpc
from ting_common.server import GrpcServer, build_server
from ting_separate.config import SeparateSettings
from ting_separate.engines import SeparationEngine
from ting_separate.servicer import SeparationServicer

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["SeparationService"].full_name


def create_engines(settings: SeparateSettings) -> list[SeparationEngine]:
    """The engines this server runs, the configured default first."""
    from ting_separate.engines.dsp import DspEngine

    return [DspEngine()]


def create_server(
    settings: SeparateSettings, engine: SeparationEngine | Sequence[SeparationEngine]
) -> tuple[GrpcServer, int]:
    """Build (not start) the separation server over one engine or several; returns it and the bound port."""
    engines = list(engine) if isinstance(engine, Sequence) else [engine]
    servicer = SeparationServicer(settings, engines)
    app = build_server(
        settings,
        [lambda server: pb_grpc.add_SeparationServiceServicer_to_server(servicer, server)],
        [SERVICE_NAME],
    )

    async def _close() -> None:
        servicer.close()
        for item in engines:
            item.close()

    app.on_stop.append(_close)
    return app, app.port
