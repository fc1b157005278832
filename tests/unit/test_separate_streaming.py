"""Streaming separation pieces: chunked stream == whole array, loudness meter, encoders, S3 prefixes."""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator

import numpy as np
import pytest

from ting_common.audio import decode_audio_multichannel
from ting_common.errors import FailedPreconditionError, InvalidArgumentError, PermissionDeniedError
from ting_common.loudness import loudness
from ting_separate.engines import CallControl, FloatArray, SeparationOptions, StemName
from ting_separate.engines.chunking import chunk_plan, separate_in_batches, stream_in_batches
from ting_separate.engines.dsp import DspEngine
from ting_separate.output import BlockResampler, LoudnessMeter, StemEncoder
from ting_separate.storage import S3Destination, S3Output, check_prefix

RATE = 8000
STEMS: tuple[StemName, ...] = ("vocals", "accompaniment")


def noise(channels: int, seconds: float, seed: int = 3) -> FloatArray:
    rng = np.random.default_rng(seed)
    return (0.2 * rng.standard_normal((channels, round(seconds * RATE)))).astype(np.float32)


def blocks_of(audio: FloatArray, seed: int) -> Iterator[FloatArray]:
    """``audio`` cut at random places (1 to 5000 samples), as a decoder hands it out."""
    rng = np.random.default_rng(seed)
    start = 0
    while start < audio.shape[1]:
        size = int(rng.integers(1, 5000))
        yield audio[:, start : start + size]
        start += size


def squash(pieces: list[FloatArray]) -> list[dict[StemName, FloatArray]]:
    """A non-linear stand-in separator: its output depends on the whole piece (sum), so seams would show."""
    return [{"vocals": np.tanh(p) * float(np.mean(np.abs(p))), "accompaniment": p * 0.5} for p in pieces]


@pytest.mark.parametrize(
    ("chunk", "overlap", "batch", "context"), [(3000, 500, 1, 0), (2500, 700, 3, 40), (900, 0, 2, 7)]
)
@pytest.mark.parametrize("seconds", [0.05, 1.0, 3.7])
def test_stream_equals_the_whole_array(chunk: int, overlap: int, batch: int, context: int, seconds: float) -> None:
    audio = noise(2, seconds)
    seen: list[tuple[int, int]] = []

    def record(pieces: list[FloatArray]) -> list[dict[StemName, FloatArray]]:
        seen.extend((p.shape[1], int(p.sum() * 1e6)) for p in pieces)
        return squash(pieces)

    whole = separate_in_batches(
        audio, STEMS, record, chunk=chunk, overlap=overlap, batch=batch, control=CallControl(), context=context
    )
    whole_pieces, seen = seen, []
    streamed = list(
        stream_in_batches(
            blocks_of(audio, 9),
            STEMS,
            record,
            chunk=chunk,
            overlap=overlap,
            batch=batch,
            control=CallControl(),
            context=context,
        )
    )
    assert seen == whole_pieces  # the very same chunks (with context) reach the separator
    assert len(whole_pieces) == len(chunk_plan(audio.shape[1], chunk, overlap))
    for stem in STEMS:
        joined = np.concatenate([block[stem] for block in streamed], axis=1)
        np.testing.assert_array_equal(joined, whole[stem])


def test_stream_reads_its_input_lazily_and_reports_progress() -> None:
    pulled = 0
    second = RATE

    def endless_ish() -> Iterator[FloatArray]:
        nonlocal pulled
        for _ in range(600):  # ten minutes, one second per block
            pulled += 1
            yield np.zeros((2, second), np.float32)

    reports: list[tuple[int, int]] = []
    control = CallControl(on_progress=lambda done, total: reports.append((done, total)))
    stream = stream_in_batches(
        endless_ish(),
        STEMS,
        squash,
        chunk=4 * second,
        overlap=second,
        batch=1,
        control=control,
        total_hint=600 * second,
    )
    first = next(stream)
    assert first["vocals"].shape == (2, 3 * second)  # final up to where the next chunk starts
    assert pulled <= 5  # one chunk and a sample beyond it, not the whole input
    for _ in range(10):
        next(stream)
    assert pulled <= 40
    assert reports[-1] == (11 * 3 * second + second, 600 * second)
    control.stop.set()
    from ting_separate.engines import StopRequested

    with pytest.raises(StopRequested):
        next(stream)


def test_dsp_stream_matches_whole_separation() -> None:
    audio = noise(2, 7.0)
    options = SeparationOptions(stems=("vocals",), segment_ms=2000)
    engine = DspEngine()
    whole = engine.separate(audio, RATE, options, CallControl())
    streamed = np.concatenate(
        [b["vocals"] for b in engine.separate_stream(blocks_of(audio, 2), RATE, options, CallControl())], axis=1
    )
    np.testing.assert_array_equal(streamed, whole["vocals"])


@pytest.mark.parametrize(
    ("channels", "seconds", "scale"), [(2, 5.0, 0.2), (1, 0.3, 0.2), (2, 3.0, 0.0), (1, 4.0, 1e-4)]
)
def test_loudness_meter_matches_the_one_shot_measure(channels: int, seconds: float, scale: float) -> None:
    audio = noise(channels, seconds) * scale
    meter = LoudnessMeter(RATE, channels)
    for block in blocks_of(audio, 4):
        meter.add(block)
    np.testing.assert_allclose(meter.result(), loudness(audio, RATE), atol=1e-6)


@pytest.mark.parametrize(("fmt", "bits", "bytes_per_sample"), [("wav", 16, 2), ("wav", 24, 3), ("wav", 32, 4)])
def test_wav_encoder_headers_and_samples(fmt: str, bits: int, bytes_per_sample: int) -> None:
    audio = noise(2, 1.0)
    out = io.BytesIO()
    encoder = StemEncoder(out, "wav", bits, RATE, 2)
    for block in blocks_of(audio, 5):
        encoder.write(block)
    encoder.close()
    data = out.getvalue()
    riff, wave = struct.unpack("<4sI4s", data[:12])[1], data[8:12]
    assert wave == b"WAVE" and riff == len(data) - 8
    tag, size = data.rindex(b"data"), audio.size * bytes_per_sample
    assert struct.unpack("<I", data[tag + 4 : tag + 8])[0] == size == len(data) - tag - 8
    assert struct.unpack("<H", data[20:22])[0] == (3 if bits == 32 else 1)  # IEEE float / PCM
    decoded = decode_audio_multichannel(data).samples
    np.testing.assert_allclose(
        decoded, audio, atol=0 if bits == 32 else 2 ** (2 - bits)
    )  # scale 2^n - 1, read back 2^n


def test_flac_holds_16_or_24_bits_only() -> None:
    with pytest.raises(InvalidArgumentError, match="WAV for 32-bit float"):
        StemEncoder(io.BytesIO(), "flac", 32, RATE, 2)
    out = io.BytesIO()
    encoder = StemEncoder(out, "flac", 24, RATE, 1)
    audio = noise(1, 0.5)
    encoder.write(audio)
    encoder.close()
    data = out.getvalue()
    assert data[:4] == b"fLaC" and ((data[20] & 1) << 4 | data[21] >> 4) + 1 == 24  # STREAMINFO bits per sample
    np.testing.assert_allclose(decode_audio_multichannel(data).samples, audio, atol=2**-23)


def test_block_resampler_is_seamless() -> None:
    t = np.arange(3 * RATE) / RATE
    tone = np.stack([np.sin(2 * np.pi * 440 * t)] * 2).astype(np.float32) * 0.5

    def run(blocks: Iterator[FloatArray]) -> FloatArray:
        resampler = BlockResampler(RATE, 16000, 2)
        return np.concatenate([resampler.push(b) for b in blocks] + [resampler.push(None)], axis=1)

    streamed, whole = run(blocks_of(tone, 6)), run(iter([tone]))
    assert abs(streamed.shape[1] - 6 * RATE) <= 2
    np.testing.assert_allclose(streamed, whole, atol=1e-5)  # where the blocks were cut does not show
    spectrum = np.abs(np.fft.rfft(streamed[0]))
    assert np.argmax(spectrum) * 16000 / streamed.shape[1] == pytest.approx(440, abs=1)


def test_s3_prefixes_are_checked() -> None:
    import boto3

    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    s3 = S3Output(client, frozenset({"stems"}))
    destination = check_prefix("s3://stems/jobs/7/song-", None, s3)
    assert isinstance(destination, S3Destination)
    assert (destination.bucket, destination.key_prefix) == ("stems", "jobs/7/song-")
    with pytest.raises(FailedPreconditionError, match="TING_SEPARATE_S3_BUCKETS"):
        check_prefix("s3://stems/x/", None, None)
    with pytest.raises(PermissionDeniedError, match="does not write to bucket 'other'"):
        check_prefix("s3://other/x/", None, s3)
    for bad in ("s3://stems/a/../b/", "s3://stems/a//b", "s3:///x/"):
        with pytest.raises(InvalidArgumentError):
            check_prefix(bad, None, s3)
