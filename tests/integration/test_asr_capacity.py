"""Scheduling rules of the ASR servicer, with a slow engine plugged in through the AsrEngine Protocol."""

from __future__ import annotations

import asyncio
import threading
import time

import grpc
import numpy as np
import numpy.typing as npt
import pytest

from ting.asr.v1 import asr_service_pb2 as pb
from ting.asr.v1 import asr_service_pb2_grpc as pb_grpc
from ting.audio.v1 import audio_pb2
from ting_asr.engines import CallControl, ModelDescription, RecognitionOptions
from ting_asr.server import create_server
from ting_common.audio import encode_wav
from ting_common.transcript import Segment, Transcript

from ..conftest import asr_settings

pytestmark = pytest.mark.integration


class SlowEngine:
    """Decodes nothing; takes `window_s` per 'window' and honours the stop flag between windows."""

    name = "slow-test"

    def __init__(self, window_s: float = 0.2, windows: int = 10) -> None:
        self.window_s = window_s
        self.windows = windows
        self.finished = 0
        self.stopped = 0
        self.lock = threading.Lock()

    def list_models(self) -> list[ModelDescription]:
        return [ModelDescription("slow", "test", False, ("en",), True, True, self.name, "cpu", "none")]

    def validate(self, options: RecognitionOptions) -> None:
        return None

    def transcribe(
        self, audio: npt.NDArray[np.float32], options: RecognitionOptions, control: CallControl
    ) -> Transcript:
        for i in range(self.windows):
            if control.stop.is_set():
                with self.lock:
                    self.stopped += 1
                control.check()
            time.sleep(self.window_s)
            if control.on_segment is not None:
                control.on_segment(Segment(i, i, i + 1, f"w{i}"), float(i + 1))
        with self.lock:
            self.finished += 1
        return Transcript(language="en", duration=len(audio) / 16000, model="slow")


WAV = encode_wav(np.zeros(16000, np.float32), 16000)


async def call(stub: pb_grpc.AsrServiceStub, timeout: float = 30) -> pb.RecognizeResponse:
    return await stub.Recognize(pb.RecognizeRequest(audio=audio_pb2.AudioSource(content=WAV)), timeout=timeout)


async def test_full_queue_answers_resource_exhausted() -> None:
    engine = SlowEngine(window_s=0.1, windows=10)
    app, port = create_server(asr_settings(concurrency=1, max_queue=1), engine)  # type: ignore[arg-type]
    await app.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
            stub = pb_grpc.AsrServiceStub(ch)
            running = asyncio.ensure_future(call(stub))
            await asyncio.sleep(0.2)
            queued = asyncio.ensure_future(call(stub))
            await asyncio.sleep(0.2)
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await call(stub)
            assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "capacity" in (info.value.details() or "")
            assert (await running).metadata.engine == "slow-test"
            assert (await queued).metadata.model == "slow"
        assert engine.finished == 2
    finally:
        await app.drain(0)


async def test_client_cancel_stops_the_engine_between_windows() -> None:
    from ting_asr.servicer import ACTIVE

    engine = SlowEngine(window_s=0.2, windows=50)  # 10 s if never stopped
    app, port = create_server(asr_settings(concurrency=1), engine)  # type: ignore[arg-type]
    await app.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
            stub = pb_grpc.AsrServiceStub(ch)
            stream = stub.LongRunningRecognize(
                pb.LongRunningRecognizeRequest(audio=audio_pb2.AudioSource(content=WAV)), timeout=30
            )
            seen = 0
            async for message in stream:
                if message.HasField("progress") and message.progress.segments:
                    seen += 1
                if seen >= 2:
                    stream.cancel()
                    break
        deadline = time.monotonic() + 3
        while (engine.stopped == 0 or ACTIVE._value.get() > 0) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert engine.stopped == 1 and engine.finished == 0
        assert ACTIVE._value.get() == 0
    finally:
        await app.drain(0)
