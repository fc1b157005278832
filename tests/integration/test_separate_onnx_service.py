"""The separation server on loopback with the ``onnx`` engine loaded from a tiny model built by the test.

The model (see ``tests/unit/test_separate_onnx.py``) runs at 16 kHz and returns drums / other / vocals as
0.2 / 0.5 / 0.3 x its input; the audio is 22.05 kHz, so the server resamples there and back.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import grpc
import numpy as np
import pytest

from ting.audio.v1 import audio_pb2
from ting.separation.v1 import separation_service_pb2 as pb
from ting.separation.v1 import separation_service_pb2_grpc as pb_grpc
from ting_common.audio import decode_audio_multichannel, encode_flac, encode_wav
from ting_common.loudness import loudness
from ting_separate.engines.dsp import DspEngine
from ting_separate.server import create_engines, create_server

from ..unit.test_separate_onnx import EDGE, MODEL_RATE, RATE, build_separator, music
from .test_separate_service import expect_error, separate, settings

pytestmark = pytest.mark.integration

SECONDS = 4.0
QUANTUM = 2 / 32768  # each stem is written as 16-bit PCM


@pytest.fixture(scope="module")
async def onnx_address(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    model = build_separator(tmp_path_factory.mktemp("onnx-model") / "tiny.onnx")
    config = settings(
        onnx_model_path=model,
        onnx_stems="drums,other,vocals",
        onnx_sample_rate=MODEL_RATE,
        onnx_segment_s=1.0,
        onnx_batch_size=2,
        onnx_intra_op_threads=1,
        learned=False,
    )
    app, port = create_server(config, create_engines(config))
    await app.start()
    yield f"127.0.0.1:{port}"
    await app.drain(0)


@pytest.fixture(scope="module")
async def dsp_only_address() -> AsyncIterator[str]:
    app, port = create_server(settings(), DspEngine())
    await app.start()
    yield f"127.0.0.1:{port}"
    await app.drain(0)


async def test_separate_returns_the_stems_at_the_input_rate_length_and_channels(onnx_address: str) -> None:
    audio = music(SECONDS)
    reply = await separate(
        onnx_address,
        encode_wav(audio.T, RATE),
        engine="onnx",
        stems=[pb.STEM_VOCALS, pb.STEM_ACCOMPANIMENT, pb.STEM_DRUMS],
    )
    assert [s.stem for s in reply.stems] == [pb.STEM_VOCALS, pb.STEM_ACCOMPANIMENT, pb.STEM_DRUMS]
    stems = {}
    for stem in reply.stems:
        assert (stem.sample_rate_hertz, stem.channel_count) == (RATE, 2)
        assert abs(stem.duration_ms - SECONDS * 1000) <= 1
        decoded = decode_audio_multichannel(stem.content)
        assert decoded.sample_rate == RATE
        assert decoded.samples.shape == audio.shape
        stems[stem.stem] = decoded.samples
    inner = slice(EDGE, -EDGE)
    vocals, accompaniment = stems[pb.STEM_VOCALS], stems[pb.STEM_ACCOMPANIMENT]
    np.testing.assert_allclose(vocals[:, inner], 0.3 * audio[:, inner], atol=5e-4 + QUANTUM)
    np.testing.assert_allclose(stems[pb.STEM_DRUMS][:, inner], 0.2 * audio[:, inner], atol=5e-4 + QUANTUM)
    np.testing.assert_allclose((vocals + accompaniment)[:, inner], audio[:, inner], atol=1e-3 + QUANTUM)
    expected_lufs = loudness(audio, RATE).integrated_lufs + 20 * math.log10(0.3)
    assert reply.stems[0].loudness.integrated_lufs == pytest.approx(expected_lufs, abs=0.05)
    assert (reply.metadata.engine, reply.metadata.model, reply.metadata.device) == ("onnx", "tiny.onnx", "cpu")


async def test_mono_flac_stays_mono(onnx_address: str) -> None:
    audio = music(2.0, channels=1)
    reply = await separate(
        onnx_address,
        encode_flac(audio[0], RATE),
        engine="onnx",
        output=pb.StemOutputConfig(format=pb.OUTPUT_AUDIO_FORMAT_FLAC),
    )
    assert [s.stem for s in reply.stems] == [pb.STEM_VOCALS, pb.STEM_ACCOMPANIMENT]  # the engine's defaults
    accompaniment = decode_audio_multichannel(reply.stems[1].content).samples
    assert accompaniment.shape == audio.shape
    np.testing.assert_allclose(accompaniment[:, EDGE:-EDGE], 0.7 * audio[:, EDGE:-EDGE], atol=5e-4 + QUANTUM)


async def test_stream_reports_progress_per_batch(onnx_address: str) -> None:
    async with grpc.aio.insecure_channel(onnx_address) as channel:
        request = pb.SeparateStreamRequest(
            config=pb.SeparationConfig(engine="onnx", stems=[pb.STEM_VOCALS]),
            audio=audio_pb2.AudioSource(content=encode_wav(music(SECONDS).T, RATE)),
        )
        messages = [m async for m in pb_grpc.SeparationServiceStub(channel).SeparateStream(request, timeout=60)]
    assert messages[-1].HasField("result")
    separating = [m.progress for m in messages[:-1] if m.progress.stage == pb.SEPARATION_STAGE_SEPARATING]
    fractions = [p.progress for p in separating]
    assert fractions == sorted(fractions)
    assert len(separating) >= 3  # ~5 one-second chunks, 2 per batch, plus the start
    assert separating[-1].processed_ms == pytest.approx(SECONDS * 1000, abs=1)


async def test_list_engines_names_the_model_stems(onnx_address: str) -> None:
    async with grpc.aio.insecure_channel(onnx_address) as channel:
        reply = await pb_grpc.SeparationServiceStub(channel).ListEngines(pb.ListEnginesRequest(), timeout=10)
    assert [e.name for e in reply.engines] == ["dsp", "onnx"]
    onnx = reply.engines[1]
    assert list(onnx.supported_stems) == [pb.STEM_DRUMS, pb.STEM_OTHER, pb.STEM_VOCALS, pb.STEM_ACCOMPANIMENT]
    assert list(onnx.default_stems) == [pb.STEM_VOCALS, pb.STEM_ACCOMPANIMENT]
    assert (onnx.sample_rate_hertz, onnx.channel_count, onnx.default_segment_ms) == (MODEL_RATE, 2, 1000)
    assert onnx.loaded and not onnx.default


async def test_stems_the_model_lacks_are_refused(onnx_address: str) -> None:
    details = await expect_error(
        onnx_address, grpc.StatusCode.FAILED_PRECONDITION, encode_wav(music(1.0).T, RATE), engine="onnx", stems=[4]
    )
    assert "bass" in details and "drums, other, vocals, accompaniment" in details


async def test_onnx_on_a_server_without_it_is_a_failed_precondition(dsp_only_address: str) -> None:
    details = await expect_error(
        dsp_only_address, grpc.StatusCode.FAILED_PRECONDITION, encode_wav(music(1.0).T, RATE), engine="onnx"
    )
    assert "not configured" in details
    assert "TING_SEPARATE_ONNX_MODEL_PATH" in details
