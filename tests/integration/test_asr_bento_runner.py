"""The ``bento`` ASR engine against a real ``bentoml serve`` of ``services/asr/runners/bento/service.py:WhisperRunner``
on loopback, hosting the same packaged Whisper base as the session's in-process engine."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
import numpy as np
import numpy.typing as npt
import pytest

from ting.asr.v1 import asr_service_pb2 as pb
from ting.asr.v1 import asr_service_pb2_grpc as pb_grpc
from ting_asr.engines import CallControl, RecognitionOptions, StopRequested
from ting_asr.engines.bento import BentoAsrEngine
from ting_common.audio import decode_audio, encode_wav
from ting_common.errors import InvalidArgumentError, NotFoundError
from ting_common.local_runners import RunnerProcess, start_bento
from ting_common.runners import RunnerUnavailableError
from ting_common.transcript import Transcript

from ..conftest import ROOT, SAMPLES, asr_settings
from .test_asr_service import recognize

pytestmark = pytest.mark.integration

TARGET = "services/asr/runners/bento/service.py:WhisperRunner"
RATE = 16_000


def clip(name: str, seconds: float) -> npt.NDArray[np.float32]:
    samples = decode_audio(str(SAMPLES / name)).samples
    return np.ascontiguousarray(samples[: int(seconds * RATE)], dtype=np.float32)


@dataclass
class BentoRunner:
    """A ``bentoml serve`` of the Whisper runner that a test may kill and start again on the same port."""

    log_dir: Path
    env: dict[str, str]
    port: int = 0
    process: RunnerProcess | None = None
    starts: int = field(default=0)

    def start(self) -> None:
        self.starts += 1
        self.process = start_bento(
            TARGET, self.log_dir / f"whisper-runner-{self.starts}.log", cwd=ROOT, port=self.port, env=self.env
        )
        self.port = self.process.ports["http"]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL the server and its workers (which run in sessions of their own): a crash."""
        assert self.process is not None
        self.process.kill()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


@pytest.fixture(scope="module")
def bento_runner(tmp_path_factory: pytest.TempPathFactory, model_cache_dir: Path) -> Iterator[BentoRunner]:
    # The same model and settings as the session's in-process engine (tests/conftest.py: base, auto device and
    # compute type, 2 workers, CTranslate2's default threads).
    env = {
        "TING_ASR_MODEL": "base",
        "TING_ASR_PRELOAD": "[]",
        "TING_ASR_CACHE_DIR": str(model_cache_dir),
        "TING_ASR_DEVICE": "auto",
        "TING_ASR_COMPUTE_TYPE": "auto",
        "TING_ASR_CONCURRENCY": "2",
        "TING_ASR_CPU_THREADS": "0",
    }
    runner = BentoRunner(tmp_path_factory.mktemp("bento"), env)
    runner.start()
    yield runner
    runner.stop()


@pytest.fixture(scope="module")
def bento_engine(bento_runner: BentoRunner) -> Iterator[BentoAsrEngine]:
    engine = BentoAsrEngine(bento_runner.url, timeout_s=120, retries=1)
    yield engine
    engine.close()


def assert_same_transcript(remote: Transcript, local: Transcript) -> None:
    assert remote.text == local.text
    assert remote.text.strip()
    assert (remote.language, remote.model, remote.task) == (local.language, local.model, local.task)
    assert remote.language_probability == pytest.approx(local.language_probability, abs=1e-6)
    assert remote.duration == pytest.approx(local.duration, abs=1e-6)
    assert len(remote.segments) == len(local.segments)
    for r, s in zip(remote.segments, local.segments, strict=True):
        assert (r.id, r.text) == (s.id, s.text)
        assert r.start == pytest.approx(s.start, abs=1e-6)
        assert r.end == pytest.approx(s.end, abs=1e-6)
        assert [w.word for w in r.words] == [w.word for w in s.words]
        for rw, sw in zip(r.words, s.words, strict=True):
            assert (rw.start, rw.end) == pytest.approx((sw.start, sw.end), abs=1e-6)
            assert rw.probability == pytest.approx(sw.probability, abs=1e-6)


# -- the engine ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "seconds", "options"),
    [
        (
            "meeting_intro.wav",
            6.0,
            RecognitionOptions(language="en", word_timestamps=True, beam_size=5, temperature=0.0),
        ),
        ("es_weather.wav", 4.0, RecognitionOptions(language=None, beam_size=1, temperature=0.0)),
    ],
    ids=["en-words-fixed-language", "es-detected-language"],
)
def test_same_transcript_in_process_and_on_bento(
    bento_engine: BentoAsrEngine, asr_engine: Any, name: str, seconds: float, options: RecognitionOptions
) -> None:
    audio = clip(name, seconds)
    progress: list[float] = []
    remote = bento_engine.transcribe(audio, options, CallControl(on_segment=lambda _s, done: progress.append(done)))
    local = asr_engine.transcribe(audio, options, CallControl())
    assert_same_transcript(remote, local)
    assert len(progress) == len(remote.segments)
    if options.word_timestamps:
        assert sum(len(s.words) for s in remote.segments) > 5
    if options.language is None:
        assert remote.language == "es"


def test_list_models_says_which_runner_answers(bento_engine: BentoAsrEngine, bento_runner: BentoRunner) -> None:
    models = bento_engine.list_models()
    assert models[0].name == "base"
    assert models[0].default
    assert {m.name for m in models} >= {"base", "tiny.en"}
    assert all(m.engine == "bento" for m in models)
    assert all(f"BentoML at {bento_runner.url}" in m.description for m in models)


def test_runner_errors_arrive_as_the_in_process_engines_errors(bento_engine: BentoAsrEngine) -> None:
    audio = clip("es_weather.wav", 2.0)
    with pytest.raises(NotFoundError, match="large-v9"):
        bento_engine.transcribe(audio, RecognitionOptions(model="large-v9"), CallControl())
    english_only = RecognitionOptions(model="tiny.en", language="es")
    # Checked locally from the runner's model list, and by the runner itself when a caller skips validate().
    with pytest.raises(InvalidArgumentError, match="English-only"):
        bento_engine.validate(english_only)
    with pytest.raises(InvalidArgumentError, match="English-only"):
        bento_engine.transcribe(audio, english_only, CallControl())


def test_runner_error_keeps_its_json_body_and_sets_the_http_status(bento_runner: BentoRunner) -> None:
    reply = httpx.post(
        f"{bento_runner.url}/transcribe",
        data={"request": '{"op": "transcribe", "options": {"model": "large-v9"}}'},
        files={"audio": ("audio.f32", np.zeros(1600, "<f4").tobytes(), "application/octet-stream")},
        timeout=30,
    )
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "NOT_FOUND"
    odd = httpx.post(
        f"{bento_runner.url}/transcribe",
        data={"request": '{"op": "transcribe"}'},
        files={"audio": ("audio.f32", b"\x00" * 7, "application/octet-stream")},
        timeout=30,
    )
    assert odd.status_code == 400
    assert odd.json()["error"]["code"] == "INVALID_ARGUMENT"


def test_unreachable_runner_is_unavailable_naming_its_url() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        engine = BentoAsrEngine(f"http://127.0.0.1:{port}", timeout_s=5, retries=1)
        try:
            with pytest.raises(RunnerUnavailableError, match=f"127.0.0.1:{port}"):
                engine.transcribe(clip("es_weather.wav", 1.0), RecognitionOptions(), CallControl())
        finally:
            engine.close()


def test_stop_ends_a_call_waiting_on_the_runner() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts (backlog), never answers
        engine = BentoAsrEngine(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout_s=60, retries=0)
        control = CallControl()
        threading.Timer(0.3, control.stop.set).start()
        started = time.monotonic()
        try:
            with pytest.raises(StopRequested):
                engine._call(b'{"op": "transcribe"}', clip("es_weather.wav", 1.0), control)
        finally:
            engine.close()
        assert time.monotonic() - started < 3


# -- the ASR gRPC service ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
async def bento_asr_address(bento_runner: BentoRunner) -> AsyncIterator[str]:
    """The ASR gRPC server with the ``bento`` engine (one retry, so a dead runner fails fast)."""
    from ting_asr.server import create_server

    engine = BentoAsrEngine(bento_runner.url, timeout_s=120, retries=1)
    engine.connect()
    app, port = create_server(asr_settings(engine="bento", bento_url=bento_runner.url), engine)  # type: ignore[arg-type]
    await app.start()
    yield f"127.0.0.1:{port}"
    await app.drain(0)
    engine.close()


async def test_grpc_service_answers_the_same_with_either_engine(asr_address: str, bento_asr_address: str) -> None:
    data = encode_wav(clip("meeting_intro.wav", 6.0), RATE)
    config: dict[str, Any] = {"language_code": "en", "enable_word_time_offsets": True, "temperature": 0.0}
    local = await recognize(asr_address, data, **config)
    remote = await recognize(bento_asr_address, data, **config)
    assert remote.transcript == local.transcript
    assert remote.transcript.text.strip()
    assert (remote.metadata.model, remote.metadata.task) == (local.metadata.model, local.metadata.task)
    assert (remote.metadata.engine, local.metadata.engine) == ("bento", "faster-whisper")

    async with grpc.aio.insecure_channel(bento_asr_address) as channel:
        listed = await pb_grpc.AsrServiceStub(channel).ListModels(pb.ListModelsRequest(), timeout=30)
    assert {m.engine for m in listed.models} == {"bento"}
    assert listed.models[0].name == "base"
    assert "BentoML at http://127.0.0.1:" in listed.models[0].description

    refused: list[tuple[dict[str, Any], grpc.StatusCode]] = [
        ({"model": "large-v9"}, grpc.StatusCode.NOT_FOUND),
        ({"model": "tiny.en", "language_code": "es"}, grpc.StatusCode.INVALID_ARGUMENT),
    ]
    for bad, code in refused:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await recognize(bento_asr_address, data, **bad)
        assert info.value.code() == code, info.value.details()


async def transcribe_in_progress(url: str) -> float:
    """BentoML's in-progress gauge for ``/transcribe``."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{url}/metrics", timeout=5)).text
    for line in text.splitlines():
        if line.startswith("bentoml_service_request_in_progress{") and 'endpoint="/transcribe"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_runner_killed_mid_request_is_unavailable_then_recovers(
    bento_runner: BentoRunner, bento_asr_address: str
) -> None:
    long_audio = encode_wav(clip("meeting_intro.wav", 20.0), RATE)
    call = asyncio.create_task(recognize(bento_asr_address, long_audio, language_code="en", timeout=90))
    deadline = time.monotonic() + 20
    while await transcribe_in_progress(bento_runner.url) < 1:
        assert time.monotonic() < deadline, "the runner never started the recognition"
        assert not call.done(), "the call ended before the runner was killed"
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # inside the decode of 20 s of audio (seconds on a CPU)
    assert not call.done(), "the runner answered before it could be killed"
    killed = time.monotonic()
    bento_runner.kill()
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE, info.value.details()
    assert bento_runner.url.removeprefix("http://") in (info.value.details() or "")
    assert "Traceback" not in (info.value.details() or "")
    assert time.monotonic() - killed < 15

    bento_runner.start()  # the same port: the engine finds it again without being told
    reply = await recognize(bento_asr_address, encode_wav(clip("es_weather.wav", 3.0), RATE), beam_size=1)
    assert reply.transcript.text.strip()
    assert reply.metadata.engine == "bento"
