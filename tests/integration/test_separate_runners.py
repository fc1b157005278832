"""Separation served by real model runners on loopback: the project's Triton model repository under the real
``tritonserver`` binary (CPU) and ``bentoml serve`` of the project's BentoML service.

The same audio through the in-process, Triton and BentoML engines gives the same stems (the chunking stays on
the caller's side; the runners run the engine's own per-batch code); the gRPC service answers the same with a
runner behind it and ListEngines names the runner; a runner's error arrives with its status; a runner killed
mid-request gives UNAVAILABLE, and a runner restarted on the same ports serves the next call.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from ting.audio.v1 import audio_pb2
from ting.separation.v1 import separation_service_pb2 as pb
from ting.separation.v1 import separation_service_pb2_grpc as pb_grpc
from ting_common.audio import decode_audio_multichannel, encode_wav
from ting_common.local_runners import RunnerProcess, start_bento, start_triton, triton_root
from ting_separate.config import SeparateSettings
from ting_separate.engines import CallControl, SeparationEngine, SeparationOptions
from ting_separate.engines.dsp import DspEngine
from ting_separate.engines.onnx import OnnxEngine
from ting_separate.engines.remote import RemoteSeparationEngine
from ting_separate.engines.triton import TritonSeparationEngine
from ting_separate.server import create_engines, create_server

from ..unit.test_separate_onnx import GAINS, MODEL_RATE, build_separator, music

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TRITON_DIR = ROOT / ".triton"
TRITON_REPO = ROOT / "services/separate/runners/triton"
BENTO_TARGET = "services/separate/runners/bento/service.py:SeparatorRunner"
RATE = 44100
# The runners host what a server with their environment would: dsp (the default, first) and a tiny ONNX
# separator at 16 kHz (so 22.05 kHz input is resampled with context and segments are batched three at a time).
ONNX_SETTINGS: dict[str, object] = {
    "onnx_stems": ",".join(GAINS),
    "onnx_sample_rate": MODEL_RATE,
    "onnx_channels": 2,
    "onnx_segment_s": 0.5,
    "onnx_batch_size": 3,
    "onnx_intra_op_threads": 1,
}


@pytest.fixture(scope="module")
def runner_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    model = build_separator(tmp_path_factory.mktemp("onnx-model") / "tiny.onnx")
    env = {f"TING_SEPARATE_{key.upper()}": str(value) for key, value in ONNX_SETTINGS.items()}
    # The runners' learned engine is left out here: these tests compare dsp / onnx stems across runners.
    env |= {"TING_SEPARATE_LEARNED": "false"}
    return {**env, "TING_SEPARATE_ONNX_MODEL_PATH": str(model), "TING_SEPARATE_DEFAULT_ENGINE": "dsp"}


def mix(seconds: float) -> np.ndarray:
    """Stereo float32 at 44.1 kHz: a centred vibrato voice over panned chords and noise."""
    rng = np.random.default_rng(2024)
    t = np.arange(round(seconds * RATE)) / RATE
    f0 = 220 * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))
    voice = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / RATE) / k for k in range(1, 8)) * 0.15
    pad = sum(np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0)) * 0.05
    noise = rng.standard_normal(t.size) * 0.02
    return np.stack([voice + 0.9 * pad + 0.2 * noise, voice + 0.3 * pad + 0.8 * noise]).astype(np.float32)


@dataclass
class Served:
    """A runner process and how to start it again on the same ports."""

    process: RunnerProcess
    restart: Callable[[], RunnerProcess]

    def settings(self, **overrides: object) -> SeparateSettings:
        values: dict[str, object] = {
            "host": "127.0.0.1",
            "port": 0,
            "grace_period_s": 1.0,
            "shutdown_delay_s": 0.0,
            "concurrency": 2,
            "runner_retries": 2,
            "runner_timeout_s": 60,
        }
        if self.process.grpc_address:
            values.update(runner="triton", triton_url=self.process.grpc_address)
        else:
            values.update(runner="bento", bento_url=self.process.http_url)
        values.update(overrides)
        return SeparateSettings(**values)  # type: ignore[arg-type]


def _triton_binary_or_skip() -> None:
    binary = triton_root(TRITON_DIR) / "bin" / "tritonserver"
    if binary.is_file():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{binary} is missing; CI must run `make setup` (tools/fetch_tritonserver.py)")
    pytest.skip(f"{binary} is missing; run `make setup` to fetch tritonserver")


@pytest.fixture(scope="module")
def triton(tmp_path_factory: pytest.TempPathFactory, runner_env: dict[str, str]) -> Iterator[Served]:
    _triton_binary_or_skip()
    logs = tmp_path_factory.mktemp("triton")
    first = start_triton(TRITON_DIR, [TRITON_REPO], logs / "triton-0.log", env=runner_env)

    def restart() -> RunnerProcess:
        log = logs / f"triton-{time.monotonic_ns()}.log"
        return start_triton(TRITON_DIR, [TRITON_REPO], log, env=runner_env, ports=first.ports)

    served = Served(first, restart)
    yield served
    served.process.stop()


@pytest.fixture(scope="module")
def bento(tmp_path_factory: pytest.TempPathFactory, runner_env: dict[str, str]) -> Iterator[Served]:
    logs = tmp_path_factory.mktemp("bento")
    first = start_bento(BENTO_TARGET, logs / "bento-0.log", cwd=ROOT, env=runner_env)

    def restart() -> RunnerProcess:
        log = logs / f"bento-{time.monotonic_ns()}.log"
        return start_bento(BENTO_TARGET, log, cwd=ROOT, env=runner_env, port=first.ports["http"])

    served = Served(first, restart)
    yield served
    served.process.stop()


@pytest.fixture(params=["triton", "bento"])
def runner(request: pytest.FixtureRequest) -> Served:
    served: Served = request.getfixturevalue(request.param)
    return served


@contextlib.asynccontextmanager
async def service(settings: SeparateSettings, engines: Sequence[SeparationEngine] | None = None) -> AsyncIterator[str]:
    """The separation gRPC server on loopback over ``engines`` (default: what ``settings`` builds)."""
    built = list(engines) if engines is not None else await asyncio.to_thread(create_engines, settings)
    app, port = create_server(settings, built)
    await app.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await app.drain(0)


async def separate(address: str, audio: np.ndarray, timeout: float = 60, **config: object) -> pb.SeparateResponse:
    request = pb.SeparateRequest(
        config=pb.SeparationConfig(output=pb.StemOutputConfig(bits_per_sample=32), **config),  # type: ignore[arg-type]
        audio=audio_pb2.AudioSource(content=encode_wav(audio.T, RATE)),
    )
    async with grpc.aio.insecure_channel(address) as channel:
        reply: pb.SeparateResponse = await pb_grpc.SeparationServiceStub(channel).Separate(request, timeout=timeout)
        return reply


def record(sink: list[int], done: int, total: int) -> None:
    sink.append(done)


def test_same_stems_in_process_triton_and_bento(triton: Served, bento: Served) -> None:
    audio = mix(4.0)
    options = SeparationOptions(stems=("vocals", "accompaniment"), segment_ms=1500, overlap_ratio=0.25)
    want = DspEngine().separate(audio, RATE, options, CallControl())
    for served, where in ((triton, "Triton at"), (bento, "BentoML at")):
        engines = create_engines(served.settings())
        try:
            assert engines[0].name == "dsp"
            info = engines[0].info()
            assert where in info.description and info.device == "cpu" and info.loaded
            progress: list[int] = []
            control = CallControl(on_progress=functools.partial(record, progress))
            got = engines[0].separate(audio, RATE, options, control)
        finally:
            for engine in engines:
                engine.close()
        for stem in options.stems:
            np.testing.assert_allclose(got[stem], want[stem], atol=1e-6, rtol=0, err_msg=f"{where} {stem}")
        assert len(progress) >= 3 and progress[-1] == audio.shape[1]


def test_onnx_engine_same_stems_through_the_runners(triton: Served, bento: Served, runner_env: dict[str, str]) -> None:
    """The ONNX engine hosted by the runners (resampling context, batches of three segments) matches in process."""
    rate = 22050
    audio = music(2.5, rate=rate)
    options = SeparationOptions(stems=("vocals", "accompaniment", "drums"))
    model = Path(runner_env["TING_SEPARATE_ONNX_MODEL_PATH"])
    local = create_engines(SeparateSettings(onnx_model_path=model, learned=False, **ONNX_SETTINGS))  # type: ignore[arg-type]
    try:
        onnx = next(engine for engine in local if isinstance(engine, OnnxEngine))
        plan = onnx.plan(rate, 2, options)
        assert plan.context > 0 and plan.batch == 3
        want = onnx.separate(audio, rate, options, CallControl())
    finally:
        for engine in local:
            engine.close()
    for served in (triton, bento):
        engines = create_engines(served.settings())
        try:
            assert [engine.name for engine in engines] == ["dsp", "onnx"]
            remote = engines[1]
            assert remote.info().device == "cpu" and remote.info().sample_rate == MODEL_RATE
            got = remote.separate(audio, rate, options, CallControl())
        finally:
            for engine in engines:
                engine.close()
        for stem in options.stems:
            np.testing.assert_allclose(
                got[stem], want[stem], atol=1e-6, rtol=0, err_msg=f"{served.process.name} {stem}"
            )


async def test_service_answers_the_same_through_a_runner(runner: Served) -> None:
    audio = mix(3.0)
    config: dict[str, Any] = {"stems": [pb.STEM_VOCALS, pb.STEM_ACCOMPANIMENT], "segment_ms": 1000}
    async with service(runner.settings(runner="in-process", learned=False)) as address:
        local = await separate(address, audio, **config)
    async with service(runner.settings()) as address:
        remote = await separate(address, audio, **config)
        async with grpc.aio.insecure_channel(address) as channel:
            listed = await pb_grpc.SeparationServiceStub(channel).ListEngines(pb.ListEnginesRequest(), timeout=10)
    assert [stem.stem for stem in remote.stems] == [pb.STEM_VOCALS, pb.STEM_ACCOMPANIMENT]
    for got, want in zip(remote.stems, local.stems, strict=True):
        assert got.content == want.content  # 32-bit float WAV, byte for byte
    assert remote.metadata.engine == "dsp"
    engine = listed.engines[0]
    where = runner.process.grpc_address if runner.process.grpc_address else runner.process.http_url
    assert engine.name == "dsp" and engine.default and engine.device == "cpu"
    assert f"served by {'Triton' if runner.process.grpc_address else 'BentoML'} at {where}" in engine.description


async def test_runner_error_arrives_as_failed_precondition(runner: Served) -> None:
    """A runner redeployed behind a running service (so the service's cached description is stale) refuses a
    stem its engine cannot produce: the runner's FAILED_PRECONDITION reaches the caller as such."""
    settings = runner.settings()
    engines = await asyncio.to_thread(create_engines, settings)
    dsp = engines[0]
    assert isinstance(dsp, RemoteSeparationEngine)
    stale_info = replace(dsp.info(), supported_stems=(*dsp.info().supported_stems, "drums"))
    stale = TritonSeparationEngine(stale_info, dsp.transport)  # the class only names the runner kind
    async with service(settings, [stale]) as address:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await separate(address, mix(1.5), stems=[pb.STEM_DRUMS])
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION, info.value.details()
    assert "the dsp engine cannot produce drums" in (info.value.details() or "")


async def test_killed_runner_gives_unavailable_then_recovers(runner: Served) -> None:
    """Killed while the service is part-way through the batches of a call: UNAVAILABLE once the retries are
    spent; restarted on the same ports, the next call succeeds without restarting the service. Runs last in this
    module (it replaces the module's runner process)."""
    settings = runner.settings(runner_retries=2)
    where = settings.triton_url if settings.runner == "triton" else settings.bento_url
    long_request = pb.SeparateStreamRequest(
        config=pb.SeparationConfig(segment_ms=6000),
        audio=audio_pb2.AudioSource(content=encode_wav(mix(20.0).T, RATE)),
    )
    async with service(settings) as address:
        async with grpc.aio.insecure_channel(address) as channel:
            stream = pb_grpc.SeparationServiceStub(channel).SeparateStream(long_request, timeout=60)
            with pytest.raises(grpc.aio.AioRpcError) as info:  # noqa: PT012 (the crash happens while reading)
                async for message in stream:
                    # The first batch is back, the next one is on its way to (or in) the runner: crash it.
                    if message.HasField("progress") and message.progress.processed_ms > 0 and runner.process.alive():
                        await asyncio.to_thread(runner.process.kill)  # SIGKILL, workers included
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE, info.value.details()
        assert where in (info.value.details() or "")
        assert not runner.process.alive()
        runner.process = await asyncio.to_thread(runner.restart)
        short = mix(2.0)
        reply = await separate(address, short, segment_ms=1000)
    assert [stem.stem for stem in reply.stems] == [pb.STEM_VOCALS, pb.STEM_ACCOMPANIMENT]
    sent = decode_audio_multichannel(encode_wav(short.T, RATE)).samples  # the service saw 16-bit input
    want = DspEngine().separate(sent, RATE, SeparationOptions(segment_ms=1000), CallControl())
    vocals = decode_audio_multichannel(reply.stems[0].content).samples
    np.testing.assert_allclose(vocals, want["vocals"], atol=1e-6, rtol=0)
