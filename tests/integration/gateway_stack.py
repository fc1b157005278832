"""The whole stack on loopback for the gateway's tests: real summarize, separate and translate servers (the
translation engine talks to the scripted OpenAI-compatible :class:`FaultServer`, so translations are checkable
exactly), the session's real ASR server, and a real gateway (gRPC + REST) over a temporary data directory."""

from __future__ import annotations

import asyncio
import contextlib
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.integration.llm_fault_server import FaultServer
from ting.gateway.v1 import pipeline_service_pb2 as pb
from ting.gateway.v1 import pipeline_service_pb2_grpc as pb_grpc
from ting_common.server import GrpcServer


@dataclass
class Services:
    """Addresses of the downstream services."""

    asr: str
    translate: str
    summarize: str
    separate: str
    fault: FaultServer


@contextlib.asynccontextmanager
async def downstream_services(asr_address: str, *, translation_llm: bool = True) -> AsyncIterator[Services]:
    """Start summarize (extractive), separate (dsp) and translate (LLM engine on a fault server, or none)."""
    from ting_separate.config import SeparateSettings
    from ting_separate.engines.dsp import DspEngine
    from ting_separate.server import create_server as create_separate
    from ting_summarize.config import SummarizeSettings
    from ting_summarize.engines.extractive import ExtractiveEngine
    from ting_summarize.server import create_server as create_summarize
    from ting_translate.config import TranslateSettings
    from ting_translate.server import create_server as create_translate

    common: dict[str, Any] = {"host": "127.0.0.1", "port": 0, "grace_period_s": 1.0, "shutdown_delay_s": 0.0}
    fault = FaultServer()
    await fault.start()
    apps: list[GrpcServer] = []
    try:
        summarize, summarize_port = create_summarize(SummarizeSettings(**common), ExtractiveEngine())
        separate, separate_port = create_separate(SeparateSettings(**common), [DspEngine()])
        extra = (
            {"llm_base_url": fault.base_url, "llm_model": "fault", "retry_max_attempts": 2} if translation_llm else {}
        )
        translate, translate_port = create_translate(TranslateSettings(**common, **extra))
        for app in (summarize, separate, translate):
            await app.start()
            apps.append(app)
        yield Services(
            asr=asr_address,
            translate=f"127.0.0.1:{translate_port}",
            summarize=f"127.0.0.1:{summarize_port}",
            separate=f"127.0.0.1:{separate_port}",
            fault=fault,
        )
    finally:
        for app in apps:
            await app.drain(0, 0)
        await fault.stop()


def gateway_settings(services: Services, data_dir: Path, **overrides: Any) -> Any:
    """Gateway settings for tests: loopback, free ports, short leases and retries."""
    from ting_gateway.config import GatewaySettings

    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "http_host": "127.0.0.1",
        "http_port": 0,
        "grace_period_s": 1.0,
        "shutdown_delay_s": 0.0,
        "asr_address": services.asr,
        "translate_address": services.translate,
        "summarize_address": services.summarize,
        "separate_address": services.separate,
        "data_dir": data_dir,
        "workers": 2,
        "lease_s": 3.0,
        "poll_interval_s": 0.1,
        "retry_attempts": 4,
        "retry_initial_s": 0.2,
        "retry_max_s": 1.0,
        "link_secret": "test-link-secret-0123456789",
    }
    values.update(overrides)
    return GatewaySettings(**values)


@contextlib.asynccontextmanager
async def running_gateway(settings: Any) -> AsyncIterator[Any]:
    """A started :class:`~ting_gateway.server.GatewayApp`; drained on exit."""
    from ting_gateway.server import create_gateway

    app = create_gateway(settings)
    await app.start()
    try:
        yield app
    finally:
        await app.drain()


FINAL_STATES = frozenset(
    {pb.JOB_STATE_SUCCEEDED, pb.JOB_STATE_PARTIALLY_SUCCEEDED, pb.JOB_STATE_FAILED, pb.JOB_STATE_CANCELLED}
)


async def wait_final(stub: pb_grpc.PipelineServiceStub, job_id: str, timeout: float = 240) -> pb.Job:
    """Poll ``GetJob`` until the job is final; fail the test after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        job = (await stub.GetJob(pb.GetJobRequest(job_id=job_id))).job
        if job.state in FINAL_STATES:
            return job
        assert asyncio.get_running_loop().time() < deadline, f"job still {pb.JobState.Name(job.state)}"
        await asyncio.sleep(0.2)


def fetch(url: str) -> tuple[int, bytes]:
    """GET ``url`` (blocking): the status and body; an HTTP error status with an empty body."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback test URLs
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""
