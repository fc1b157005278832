"""The real separation server on loopback with the embedded DSP engine, called through a real channel.

The known mix is synthesized here (no data files needed): a centred, gliding harmonic "voice" with
syllable envelopes over a repeating, panned accompaniment (chord pad, bass, hi-hat noise).
"""

from __future__ import annotations

import argparse
import io
from collections.abc import AsyncIterator
from pathlib import Path

import av
import grpc
import mir_eval
import numpy as np
import pytest

from ting.audio.v1 import audio_pb2
from ting.separation.v1 import separation_service_pb2 as pb
from ting.separation.v1 import separation_service_pb2_grpc as pb_grpc
from ting_common.audio import decode_audio_multichannel, encode_wav
from ting_separate.config import SeparateSettings
from ting_separate.engines.dsp import DspEngine
from ting_separate.server import create_server

pytestmark = pytest.mark.integration

RATE = 22050
SECONDS = 6.0
# The DSP engine gains ~7 dB on this mix; the bound fails on a broken pipeline, not on small changes.
MIN_VOCAL_GAIN_DB = 3.0


def _pan(signal: np.ndarray, position: float) -> np.ndarray:
    """Constant-power pan, position in [-1 (left), 1 (right)]."""
    angle = (position + 1) * np.pi / 4
    return np.stack([np.cos(angle) * signal, np.sin(angle) * signal])


def synth_mix() -> tuple[np.ndarray, np.ndarray]:
    """(vocals, accompaniment), each float32 (2, samples)."""
    rng = np.random.default_rng(1234)
    n = int(SECONDS * RATE)
    t = np.arange(n) / RATE
    # Voice: f0 glides between notes with vibrato; 12 harmonics with a formant-like tilt; syllables.
    notes = 220 * 2 ** (np.array([0, 3, 5, 7, 5, 3, 0, -2, 0, 5, 7, 12]) / 12)
    f0 = np.repeat(notes, n // len(notes) + 1)[:n] * (1 + 0.01 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    voice = np.sum([np.sin(k * phase) / k**0.8 * (1.5 if 3 <= k <= 5 else 1.0) for k in range(1, 13)], axis=0)
    syllables = np.clip(np.sin(np.pi * t * 4), 0, None) ** 0.5
    vocals = _pan(0.25 * voice * syllables / 4, 0.05)
    # Accompaniment: a 2-second loop (pad chord left-ish, bass right-ish, hats wide right).
    beat = n // 3
    loop_t = t[:beat]
    pad = np.sum([np.sin(2 * np.pi * f * loop_t) for f in (261.6, 329.6, 392.0, 523.3)], axis=0) * 0.05
    bass = np.sin(2 * np.pi * 65.4 * loop_t) * 0.2
    hats = rng.standard_normal(beat) * np.exp(-((loop_t * 4) % 1) * 30) * 0.05
    accompaniment = np.tile(_pan(pad, -0.6) + _pan(bass, 0.3) + _pan(hats, 0.8), (1, 3))
    length = min(vocals.shape[1], accompaniment.shape[1])
    return vocals[:, :length].astype(np.float32), accompaniment[:, :length].astype(np.float32)


@pytest.fixture(scope="module")
def mix() -> tuple[np.ndarray, np.ndarray, bytes]:
    vocals, accompaniment = synth_mix()
    mixture = vocals + accompaniment
    return vocals, accompaniment, encode_wav(mixture.T, RATE)


def settings(**overrides: object) -> SeparateSettings:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": 0,
        "grace_period_s": 1.0,
        "shutdown_delay_s": 0.0,
        "concurrency": 2,
        "max_audio_duration_s": 30.0,
        "max_inline_output_mb": 3.0,
    }
    values.update(overrides)
    return SeparateSettings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
async def address() -> AsyncIterator[str]:
    app, port = create_server(settings(), DspEngine())
    await app.start()
    yield f"127.0.0.1:{port}"
    await app.drain(0)


async def separate(address: str, data: bytes, **config: object) -> pb.SeparateResponse:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.SeparationServiceStub(channel)
        request = pb.SeparateRequest(config=pb.SeparationConfig(**config), audio=audio_pb2.AudioSource(content=data))  # type: ignore[arg-type]
        reply: pb.SeparateResponse = await stub.Separate(request, timeout=60)
        return reply


async def expect_error(address: str, code: grpc.StatusCode, data: bytes, **config: object) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await separate(address, data, **config)
    assert info.value.code() == code, info.value.details()
    details = info.value.details() or ""
    assert "Traceback" not in details
    return details


def sdr(reference: list[np.ndarray], estimate: list[np.ndarray]) -> np.ndarray:
    ref = np.stack([r.mean(axis=0) for r in reference]).astype(np.float64)
    est = np.stack([e.mean(axis=0) for e in estimate]).astype(np.float64)
    values, _, _, _ = mir_eval.separation.bss_eval_sources(ref, est, compute_permutation=False)
    return np.asarray(values)


@pytest.mark.filterwarnings("ignore::FutureWarning")
async def test_separation_improves_sdr_and_stems_sum_back(
    address: str, mix: tuple[np.ndarray, np.ndarray, bytes]
) -> None:
    vocals, accompaniment, data = mix
    reply = await separate(address, data, stems=[pb.STEM_VOCALS, pb.STEM_ACCOMPANIMENT])
    assert [s.stem for s in reply.stems] == [pb.STEM_VOCALS, pb.STEM_ACCOMPANIMENT]
    decoded = []
    for stem in reply.stems:
        assert stem.format == pb.OUTPUT_AUDIO_FORMAT_WAV
        assert stem.sample_rate_hertz == RATE
        assert stem.channel_count == 2
        assert stem.size_bytes == len(stem.content)
        assert abs(stem.duration_ms - SECONDS * 1000) <= 1
        audio = decode_audio_multichannel(stem.content)
        assert audio.sample_rate == RATE
        assert audio.samples.shape == vocals.shape
        assert -60 < stem.loudness.integrated_lufs < 0
        assert stem.loudness.peak_dbfs <= 0.0
        decoded.append(audio.samples)
    mixture = vocals + accompaniment
    # 16-bit quantization of each stem is the only difference.
    np.testing.assert_allclose(decoded[0] + decoded[1], mixture, atol=3 / 32768)
    separated = sdr([vocals, accompaniment], decoded)
    floor = sdr([vocals, accompaniment], [mixture, mixture])
    assert separated[0] >= floor[0] + MIN_VOCAL_GAIN_DB, (separated, floor)
    assert separated[1] > floor[1], (separated, floor)
    assert reply.metadata.engine == "dsp"
    assert reply.metadata.request_id


async def test_default_stems_flac_and_mono(address: str, mix: tuple[np.ndarray, np.ndarray, bytes]) -> None:
    vocals, accompaniment, _ = mix
    mono = (vocals + accompaniment).mean(axis=0)[: RATE * 2]
    reply = await separate(
        address, encode_wav(mono, RATE), output=pb.StemOutputConfig(format=pb.OUTPUT_AUDIO_FORMAT_FLAC)
    )
    assert [s.stem for s in reply.stems] == [pb.STEM_VOCALS, pb.STEM_ACCOMPANIMENT]
    for stem in reply.stems:
        assert stem.channel_count == 1
        with av.open(io.BytesIO(stem.content)) as container:
            assert container.streams.audio[0].codec_context.name == "flac"
        assert decode_audio_multichannel(stem.content).samples.shape == (1, mono.size)


async def test_stream_reports_monotonic_progress_then_the_result(
    address: str, mix: tuple[np.ndarray, np.ndarray, bytes]
) -> None:
    _, _, data = mix
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.SeparationServiceStub(channel)
        request = pb.SeparateStreamRequest(
            config=pb.SeparationConfig(stems=[pb.STEM_VOCALS], segment_ms=2000),
            audio=audio_pb2.AudioSource(content=data),
        )
        messages = [m async for m in stub.SeparateStream(request, timeout=60)]
    progress = [m.progress for m in messages[:-1]]
    assert all(m.HasField("progress") for m in messages[:-1])
    assert messages[-1].HasField("result")
    fractions = [p.progress for p in progress]
    assert fractions == sorted(fractions)
    assert len([p for p in progress if p.stage == pb.SEPARATION_STAGE_SEPARATING]) >= 4  # one per chunk
    processed = [p.processed_ms for p in progress if p.stage == pb.SEPARATION_STAGE_SEPARATING]
    assert processed == sorted(processed)
    assert processed[-1] == pytest.approx(SECONDS * 1000, abs=1)
    assert [s.stem for s in messages[-1].result.stems] == [pb.STEM_VOCALS]


async def test_list_engines(address: str) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        reply = await pb_grpc.SeparationServiceStub(channel).ListEngines(pb.ListEnginesRequest(), timeout=10)
    (engine,) = reply.engines
    assert engine.name == "dsp"
    assert engine.default
    assert list(engine.supported_stems) == [pb.STEM_VOCALS, pb.STEM_ACCOMPANIMENT]


async def test_bad_requests_get_clear_statuses(address: str, mix: tuple[np.ndarray, np.ndarray, bytes]) -> None:
    _, _, data = mix
    code = grpc.StatusCode
    assert "empty" in await expect_error(address, code.INVALID_ARGUMENT, b"")
    assert "could not read" in await expect_error(address, code.INVALID_ARGUMENT, b"garbage, not audio" * 50)
    assert "unknown stem" in await expect_error(address, code.INVALID_ARGUMENT, data, stems=[99])
    assert "twice" in await expect_error(address, code.INVALID_ARGUMENT, data, stems=[1, 1])
    details = await expect_error(address, code.FAILED_PRECONDITION, data, stems=[pb.STEM_DRUMS])
    assert "vocals, accompaniment" in details
    assert "storage" in await expect_error(
        address, code.FAILED_PRECONDITION, data, output=pb.StemOutputConfig(uri_prefix="s3://bucket/x/")
    )
    assert "unknown engine" in await expect_error(address, code.NOT_FOUND, data, engine="htdemucs")
    assert "overlap_ratio" in await expect_error(address, code.OUT_OF_RANGE, data, overlap_ratio=0.95)
    silence = np.zeros((2, RATE * 40), np.float32)
    assert "limit" in await expect_error(address, code.RESOURCE_EXHAUSTED, encode_wav(silence.T, RATE))
    # 20 s of stereo: 2 stems x 1.7 MiB, over the 3 MiB inline limit, refused before separating.
    details = await expect_error(address, code.RESOURCE_EXHAUSTED, encode_wav(silence[:, : RATE * 20].T, RATE))
    assert "inline" in details and "output.uri_prefix" in details and "TING_SEPARATE_STORAGE_ROOT" in details


async def test_cli_writes_one_file_per_stem(
    address: str, mix: tuple[np.ndarray, np.ndarray, bytes], tmp_path: Path
) -> None:
    import asyncio

    from ting_cli.main import CliError
    from ting_cli.separate import run_separate

    source = tmp_path / "song.wav"
    source.write_bytes(mix[2])
    args = argparse.Namespace(
        file=str(source),
        stems="vocals,accompaniment",
        engine="",
        format="flac",
        output_dir=str(tmp_path / "out"),
        server=address,
        timeout=60.0,
        progress="never",
    )
    assert await asyncio.to_thread(run_separate, args) == 0
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["song-accompaniment.flac", "song-vocals.flac"]
    assert decode_audio_multichannel((tmp_path / "out" / "song-vocals.flac").read_bytes()).samples.shape == mix[0].shape
    args.stems = "vocals,kazoo"
    with pytest.raises(CliError, match="unknown stem 'kazoo'"):
        await asyncio.to_thread(run_separate, args)
    args.stems, args.file = "", str(tmp_path / "missing.wav")
    with pytest.raises(CliError, match="no such file"):
        await asyncio.to_thread(run_separate, args)
