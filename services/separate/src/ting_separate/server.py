"""Wiring: build the separation gRPC server from settings and engines."""

from __future__ import annotations

from collections.abc import Sequence

from ting.separation.v1 import separation_service_pb2 as pb
from ting.separation.v1 import separation_service_pb2_grpc as pb_grpc
from ting_common.errors import FailedPreconditionError
from ting_common.server import GrpcServer, build_server
from ting_separate.config import SeparateSettings
from ting_separate.engines import OPTIONAL_ENGINES, SeparationEngine
from ting_separate.servicer import SeparationServicer

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["SeparationService"].full_name


def create_engines(settings: SeparateSettings) -> list[SeparationEngine]:
    """The engines this server runs, the configured default first.

    ``dsp`` always; ``learned`` when its weights are there (a configured ``learned_model_path`` must be);
    ``onnx`` when ``TING_SEPARATE_ONNX_MODEL_PATH`` is set. Models load here, so that a missing or broken one
    stops the service at startup (:class:`FailedPreconditionError`) instead of failing calls.
    With ``TING_SEPARATE_RUNNER=triton`` or ``bento`` the engines are those the model runner reports it hosts
    (its own ``TING_SEPARATE_ONNX_*`` decide them), each a client of the runner; an unreachable runner stops the
    service at startup with UNAVAILABLE (after ``runner_retries``).
    """
    if settings.runner != "in-process":
        if settings.runner == "triton":
            from ting_separate.engines.triton import triton_engines

            remote = triton_engines(settings)
        else:
            from ting_separate.engines.bento import bento_engines

            remote = bento_engines(settings)
        default = settings.default_for([engine.name for engine in remote])
        if default not in {engine.name for engine in remote}:
            for engine in remote[:1]:
                engine.close()
            hosted = ", ".join(engine.name for engine in remote)
            how = OPTIONAL_ENGINES.get(settings.default_engine, "")
            raise FailedPreconditionError(
                f"TING_SEPARATE_DEFAULT_ENGINE={settings.default_engine}, but the {settings.runner} runner hosts "
                f"only {hosted}: {how} (in the runner's environment)"
            )
        return sorted(remote, key=lambda engine: engine.name != default)
    from ting_separate.engines.dsp import DspEngine

    engines: list[SeparationEngine] = [DspEngine()]
    # A configured path must load; the set-up default may be missing (then the engine is left out).
    if settings.learned and (settings.learned_model_path is not None or settings.learned_weights.is_file()):
        from ting_separate.engines.learned import LearnedEngine, LearnedSettings

        engines.append(
            LearnedEngine(
                LearnedSettings(
                    model_path=settings.learned_weights,
                    conv_model_path=settings.learned_conv_in_use,
                    conv_share=settings.learned_conv_share,
                )
            )
        )
    elif settings.default_engine == "learned":
        raise FailedPreconditionError(
            "TING_SEPARATE_DEFAULT_ENGINE=learned, but the learned engine has no weights: "
            + OPTIONAL_ENGINES["learned"]
        )
    if settings.onnx_model_path is not None:
        from ting_separate.engines.onnx import OnnxEngine, OnnxSettings

        engines.append(
            OnnxEngine(
                OnnxSettings(
                    model_path=settings.onnx_model_path,
                    stems=settings.onnx_stem_names,
                    sample_rate=settings.onnx_sample_rate,
                    channels=settings.onnx_channels,
                    segment_s=settings.onnx_segment_s,
                    overlap=settings.onnx_overlap,
                    batch_size=settings.onnx_batch_size,
                    intra_op_threads=settings.onnx_intra_op_threads,
                    device=settings.onnx_device,
                )
            )
        )
    elif settings.default_engine == "onnx":
        raise FailedPreconditionError(
            f"TING_SEPARATE_DEFAULT_ENGINE=onnx, but the onnx engine is not configured: {OPTIONAL_ENGINES['onnx']}"
        )
    default = settings.default_for([engine.name for engine in engines])
    return sorted(engines, key=lambda engine: engine.name != default)


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
