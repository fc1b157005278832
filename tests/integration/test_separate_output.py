"""Output sample formats (16/24-bit PCM, 32-bit float WAV, 16/24-bit FLAC, another rate) and cancellation,
through the real server on loopback."""

from __future__ import annotations

import asyncio
import io
import os
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path

import av
import grpc
import numpy as np
import pytest

from ting.audio.v1 import audio_pb2
from ting.separation.v1 import separation_service_pb2 as pb
from ting.separation.v1 import separation_service_pb2_grpc as pb_grpc
from ting_common.audio import decode_audio_multichannel, encode_wav
from ting_separate.engines import CallControl, FloatArray, SeparationOptions, StemName, StopRequested
from ting_separate.engines.dsp import DspEngine
from ting_separate.server import create_server

from .test_separate_service import RATE, expect_error, separate, settings

pytestmark = pytest.mark.integration


def noise_mix(seconds: float) -> np.ndarray:
    """Stereo noise well inside full scale (no stem clips as integers)."""
    rng = np.random.default_rng(5)
    return np.clip(0.15 * rng.standard_normal((2, round(seconds * RATE))), -0.6, 0.6).astype(np.float32)


def float_wav(audio: np.ndarray) -> bytes:
    """A 32-bit float WAV of ``audio`` (no clipping on the way in)."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="wav") as container:
        stream = container.add_stream("pcm_f32le", rate=RATE, layout="stereo")
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio), format="fltp", layout="stereo")
        frame.sample_rate = RATE
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


class CountingDsp(DspEngine):
    """The real DSP engine, counting the chunks it hands out and how its calls end. Each chunk also takes at least
    ``chunk_s`` of wall time, so how long a call runs does not hang on how fast this machine is."""

    def __init__(self, chunk_s: float = 0.1) -> None:
        super().__init__()
        self.chunk_s = chunk_s
        self.chunks = self.stopped = self.finished = 0

    def separate_stream(
        self,
        blocks: Iterable[FloatArray],
        sample_rate: int,
        options: SeparationOptions,
        control: CallControl,
        total_hint: int = 0,
    ) -> Iterator[dict[StemName, FloatArray]]:
        try:
            started = time.monotonic()
            for block in super().separate_stream(blocks, sample_rate, options, control, total_hint):
                self.chunks += 1
                time.sleep(max(0.0, started + self.chunks * self.chunk_s - time.monotonic()))
                yield block
        except StopRequested:
            self.stopped += 1
            raise
        self.finished += 1


@pytest.fixture(scope="module")
async def address() -> AsyncIterator[str]:
    app, port = create_server(settings(), DspEngine())
    await app.start()
    yield f"127.0.0.1:{port}"
    await app.drain(0)


def codec_of(data: bytes) -> tuple[str, str]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        return stream.codec_context.name, stream.format.name


@pytest.mark.parametrize(
    ("fmt", "bits", "codec", "step"),
    [
        (pb.OUTPUT_AUDIO_FORMAT_WAV, 0, ("pcm_s16le", "s16"), 2**-15),
        (pb.OUTPUT_AUDIO_FORMAT_WAV, 24, ("pcm_s24le", "s32"), 2**-23),
        (pb.OUTPUT_AUDIO_FORMAT_WAV, 32, ("pcm_f32le", "flt"), 0.0),
        (pb.OUTPUT_AUDIO_FORMAT_FLAC, 16, ("flac", "s16"), 2**-15),
        (pb.OUTPUT_AUDIO_FORMAT_FLAC, 24, ("flac", "s32"), 2**-23),
    ],
)
async def test_sample_formats(
    address: str, fmt: pb.OutputAudioFormat, bits: int, codec: tuple[str, str], step: float
) -> None:
    audio = noise_mix(2.0)
    reply = await separate(address, float_wav(audio), output=pb.StemOutputConfig(format=fmt, bits_per_sample=bits))
    decoded = []
    for stem in reply.stems:
        assert stem.bits_per_sample == (bits or 16)
        assert codec_of(stem.content) == codec
        assert stem.size_bytes == len(stem.content)
        decoded.append(decode_audio_multichannel(stem.content).samples)
    # The stems sum back to the input to within their quantization step (float: to float rounding).
    np.testing.assert_allclose(decoded[0] + decoded[1], audio, atol=max(3 * step, 1e-6))
    if bits == 32:
        grid = decoded[0] * 2**23
        assert np.any(np.abs(grid - np.round(grid)) > 1e-3)  # not integers in disguise


async def test_output_rate_and_bad_sample_formats(address: str) -> None:
    data = encode_wav(noise_mix(2.0).T, RATE)
    reply = await separate(address, data, stems=[pb.STEM_VOCALS], output=pb.StemOutputConfig(sample_rate_hertz=16000))
    (stem,) = reply.stems
    decoded = decode_audio_multichannel(stem.content)
    assert decoded.sample_rate == stem.sample_rate_hertz == 16000
    assert abs(decoded.samples.shape[1] - 32000) <= 2 and stem.duration_ms == 2000
    code = grpc.StatusCode
    flac32 = pb.StemOutputConfig(format=pb.OUTPUT_AUDIO_FORMAT_FLAC, bits_per_sample=32)
    assert "use WAV for 32-bit float" in await expect_error(address, code.INVALID_ARGUMENT, data, output=flac32)
    odd = pb.StemOutputConfig(bits_per_sample=20)
    assert "16, 24 or 32" in await expect_error(address, code.OUT_OF_RANGE, data, output=odd)


def stored_files(root: Path) -> list[str]:
    """Every file under ``root``."""
    return [name for _, _, files in os.walk(root) for name in files]


async def wait_for(condition: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        await asyncio.sleep(0.02)


async def test_a_cancelled_call_stops_the_engine_between_chunks(tmp_path: Path) -> None:
    engine = CountingDsp()
    app, port = create_server(
        settings(
            concurrency=1, max_queue=0, max_inline_output_mb=64.0, max_audio_duration_s=300.0, storage_root=tmp_path
        ),
        engine,
    )
    await app.start()
    chunks = 120  # one-second chunks of at least 0.1 s each: 12 s or more of work if never stopped
    data = encode_wav(noise_mix(float(chunks)).T, RATE)
    config = pb.SeparationConfig(segment_ms=1000)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.SeparationServiceStub(channel)
            call = stub.SeparateStream(
                pb.SeparateStreamRequest(config=config, audio=audio_pb2.AudioSource(content=data)), timeout=60
            )
            separating = 0
            async for message in call:
                separating += message.progress.stage == pb.SEPARATION_STAGE_SEPARATING
                if separating >= 3:
                    call.cancel()
                    break
            await wait_for(lambda: engine.stopped == 1)
            assert engine.stopped == 1 and engine.finished == 0
            assert engine.chunks < chunks // 2, engine.chunks

            # A deadline stops it too, and drops the half-encoded stems; the one worker is then free at once.
            to_storage = pb.SeparationConfig(
                segment_ms=1000,
                output=pb.StemOutputConfig(uri_prefix=f"file://{tmp_path}/cut/", format=pb.OUTPUT_AUDIO_FORMAT_FLAC),
            )
            unary = pb.SeparateRequest(config=to_storage, audio=audio_pb2.AudioSource(content=data))
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.Separate(unary, timeout=1.0)
            assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            # The engine stops first; the worker then removes what it had written (no stem, no temporary file).
            await wait_for(lambda: engine.stopped == 2 and not stored_files(tmp_path))
            assert engine.stopped == 2 and engine.finished == 0
            assert stored_files(tmp_path) == []
            short = pb.SeparateRequest(audio=audio_pb2.AudioSource(content=encode_wav(noise_mix(1.0).T, RATE)))
            assert len((await stub.Separate(short, timeout=10)).stems) == 2
            assert engine.finished == 1
    finally:
        await app.drain(0)
