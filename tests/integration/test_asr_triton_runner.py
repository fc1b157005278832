"""ASR on a real NVIDIA Triton server: the project's model repository (``services/asr/runners/triton``) served by the
``tritonserver`` binary from PyPI's nvidia-pytriton (CPU), called by the ``triton`` engine over KServe v2 gRPC.

Checked: the same transcript as the in-process engine (same packaged model, same options); the ASR gRPC service
answers the same whichever engine it runs; errors keep their status; requests from many callers batched together
each get their own answer; a runner killed mid-request gives UNAVAILABLE, and a restarted one serves again.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import numpy as np
import pytest

from ting.asr.v1 import asr_service_pb2 as pb
from ting.asr.v1 import asr_service_pb2_grpc as pb_grpc
from ting.audio.v1 import audio_pb2
from ting_asr.engines import CallControl, RecognitionOptions, StopRequested
from ting_common.audio import decode_audio
from ting_common.errors import InvalidArgumentError, NotFoundError, UnavailableError
from ting_common.local_runners import RunnerProcess, start_triton

from ..conftest import ROOT, asr_settings

pytestmark = pytest.mark.integration

TRITON_DIR = ROOT / ".triton"
REPOSITORY = ROOT / "services" / "asr" / "runners" / "triton"


def _start(log: Path, ports: dict[str, int] | None = None) -> RunnerProcess:
    return start_triton(TRITON_DIR, [REPOSITORY], log, env={"TING_ASR_MODEL": "base"}, ports=ports)


@pytest.fixture(scope="module")
def triton(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunnerProcess]:
    if not (TRITON_DIR / "pytriton" / "tritonserver" / "bin" / "tritonserver").is_file():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("the Triton server is missing: `make setup` fetches it into .triton/")
        pytest.skip("the Triton server is missing: run `make setup` (tools/fetch_tritonserver.py)")
    runner = _start(tmp_path_factory.mktemp("triton") / "tritonserver.log")
    yield runner
    runner.stop()


@pytest.fixture(scope="module")
def engine(triton: RunnerProcess) -> Iterator[object]:
    from ting_asr.engines.triton import TritonAsrEngine

    remote = TritonAsrEngine(triton.grpc_address, timeout_s=120, retries=1)
    yield remote
    remote.close()


@pytest.fixture(scope="module")
def clips(samples: Path) -> dict[str, np.ndarray]:
    out = {}
    for name in ("meeting_intro.wav", "es_weather.wav"):
        out[name] = decode_audio((samples / name).read_bytes()).samples
    return out


def same_transcript(a: object, b: object) -> None:
    assert a.text == b.text  # type: ignore[attr-defined]
    assert a.language == b.language  # type: ignore[attr-defined]
    assert len(a.segments) == len(b.segments)  # type: ignore[attr-defined]
    for x, y in zip(a.segments, b.segments, strict=True):  # type: ignore[attr-defined]
        assert (x.start, x.end, x.text) == pytest.approx((y.start, y.end, y.text), abs=1e-6)
        assert [(w.word, w.start, w.end) for w in x.words] == [(w.word, w.start, w.end) for w in y.words]


def test_same_transcript_as_in_process(engine: object, asr_engine: object, clips: dict[str, np.ndarray]) -> None:
    audio = clips["es_weather.wav"]
    for options in (
        RecognitionOptions(model="base", word_timestamps=True, language="es"),
        RecognitionOptions(model="base"),  # language detected
        RecognitionOptions(model="base", task="translate", beam_size=1),
    ):
        local = asr_engine.transcribe(audio, options, CallControl())  # type: ignore[attr-defined]
        remote = engine.transcribe(audio, options, CallControl())  # type: ignore[attr-defined]
        same_transcript(remote, local)
        assert remote.language_probability == pytest.approx(local.language_probability, abs=1e-5)


def test_list_models_names_the_runner(engine: object, triton: RunnerProcess) -> None:
    models = engine.list_models()  # type: ignore[attr-defined]
    assert [m.name for m in models][:2] == ["base", "tiny.en"]
    assert all(m.engine == "triton" for m in models)
    assert triton.grpc_address in models[0].description
    assert models[0].default and models[0].loaded and models[0].device == "cpu"


def test_errors_keep_their_status(engine: object, clips: dict[str, np.ndarray]) -> None:
    audio = clips["meeting_intro.wav"][:16000]
    with pytest.raises(NotFoundError, match="unknown model 'nope'"):
        engine.transcribe(audio, RecognitionOptions(model="nope"), CallControl())  # type: ignore[attr-defined]
    with pytest.raises(InvalidArgumentError, match="English-only"):
        engine.validate(RecognitionOptions(model="tiny.en", language="es"))  # type: ignore[attr-defined]
    with pytest.raises(InvalidArgumentError, match="NaN"):
        engine.transcribe(np.full(1600, np.nan, np.float32), RecognitionOptions(), CallControl())  # type: ignore[attr-defined]


def test_concurrent_callers_batched_each_get_their_own(
    engine: object, asr_engine: object, clips: dict[str, np.ndarray]
) -> None:
    """Six calls at once (the dynamic batcher hands them to the model together): each answer is its own clip's."""
    pieces = [
        (clips["meeting_intro.wav"] if i % 2 == 0 else clips["es_weather.wav"])[i * 16000 : i * 16000 + 3 * 16000]
        for i in range(6)
    ]
    options = RecognitionOptions(model="base", beam_size=1, language=None)
    expected = [asr_engine.transcribe(p, options, CallControl()).text for p in pieces]  # type: ignore[attr-defined]
    with ThreadPoolExecutor(len(pieces)) as pool:
        got = list(pool.map(lambda p: engine.transcribe(p, options, CallControl()).text, pieces))  # type: ignore[attr-defined]
    assert got == expected


def test_stop_cancels_the_call(engine: object, clips: dict[str, np.ndarray]) -> None:
    control = CallControl()
    audio = np.concatenate([clips["meeting_intro.wav"]] * 2)
    threading.Timer(0.5, control.stop.set).start()
    started = time.monotonic()
    with pytest.raises(StopRequested):
        engine.transcribe(audio, RecognitionOptions(model="base"), control)  # type: ignore[attr-defined]
    assert time.monotonic() - started < 3


@pytest.fixture(scope="module")
async def triton_asr_address(engine: object) -> AsyncIterator[str]:
    from ting_asr.server import create_server

    app, port = create_server(asr_settings(engine="triton", diarization=False), engine)  # type: ignore[arg-type]
    await app.start()
    yield f"127.0.0.1:{port}"
    await app.drain(0)


async def _recognize(address: str, data: bytes, **config: object) -> pb.RecognizeResponse:
    async with grpc.aio.insecure_channel(address) as channel:
        return await pb_grpc.AsrServiceStub(channel).Recognize(
            pb.RecognizeRequest(config=pb.RecognitionConfig(**config), audio=audio_pb2.AudioSource(content=data)),
            timeout=120,
        )


async def test_grpc_service_answers_the_same(triton_asr_address: str, asr_address: str, samples: Path) -> None:
    data = (samples / "es_weather.wav").read_bytes()
    config = {"language_code": "es", "enable_word_time_offsets": True}
    remote, local = await asyncio.gather(
        _recognize(triton_asr_address, data, **config), _recognize(asr_address, data, **config)
    )
    assert remote.transcript == local.transcript
    assert remote.metadata.model == local.metadata.model == "base"
    async with grpc.aio.insecure_channel(triton_asr_address) as channel:
        models = await pb_grpc.AsrServiceStub(channel).ListModels(pb.ListModelsRequest(), timeout=30)
    assert {m.engine for m in models.models} == {"triton"}
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _recognize(triton_asr_address, data, model="tiny.en", language_code="es")
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_runner_killed_mid_request_then_recovers(
    triton: RunnerProcess, clips: dict[str, np.ndarray], tmp_path: Path
) -> None:
    """SIGKILL the server during a long recognition: the call fails UNAVAILABLE (after its retries), not a hang; a
    server restarted on the same ports serves the same engine object again."""
    from ting_asr.engines.triton import TritonAsrEngine

    remote = TritonAsrEngine(triton.grpc_address, timeout_s=60, retries=3)
    audio = np.concatenate([clips["meeting_intro.wav"]] * 2)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            remote.transcribe(audio, RecognitionOptions(model="base"), CallControl())
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    time.sleep(1.0)
    triton.kill()
    worker.join(30)
    assert not worker.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], UnavailableError), errors
    assert triton.grpc_address in str(errors[0])

    restarted = _start(tmp_path / "restarted.log", ports=triton.ports)
    try:
        text = remote.transcribe(
            clips["meeting_intro.wav"][: 5 * 16000], RecognitionOptions(model="base"), CallControl()
        )
        assert text.text.strip()
    finally:
        remote.close()
        # the module's later users (if any) get the restarted server
        triton.process = restarted.process
        triton.log_path = restarted.log_path
