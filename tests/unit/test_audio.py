"""Unit tests for :mod:`ting_common.audio`: every container we promise, raw PCM, limits and error paths.

Test audio is made here with PyAV's encoders from a 440 Hz sine (44.1 kHz stereo, amplitude 0.5), so the
tests need no fixture files and no ffmpeg binary.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import psutil
import pytest

from ting_common.audio import (
    AudioEncoding,
    AudioLimits,
    DecodedAudio,
    decode_audio,
    encode_wav,
    iter_decode_audio,
    probe_duration,
)
from ting_common.errors import InvalidArgumentError, OutOfRangeError, ResourceExhaustedError, TingError

SOURCE_RATE = 44100
SECONDS = 2.0
TONE_HZ = 440.0
AMPLITUDE = 0.5


@dataclass(frozen=True)
class Kind:
    """One test file kind: muxer, audio encoder, its rate, and an optional video encoder."""

    name: str
    muxer: str
    audio_codec: str | None
    rate: int = SOURCE_RATE
    video_codec: str | None = None


KINDS = {
    "wav": Kind("wav", "wav", "pcm_s16le"),
    "flac": Kind("flac", "flac", "flac"),
    "mp3": Kind("mp3", "mp3", "libmp3lame"),
    "ogg_opus": Kind("ogg_opus", "ogg", "libopus", rate=48000),
    "m4a_aac": Kind("m4a_aac", "mp4", "aac"),
    "webm_opus": Kind("webm_opus", "webm", "libopus", rate=48000),
    "mp4_video_aac": Kind("mp4_video_aac", "mp4", "aac", video_codec="mpeg4"),
    "mkv_video_opus": Kind("mkv_video_opus", "matroska", "libopus", rate=48000, video_codec="mpeg4"),
    "mp4_video_only": Kind("mp4_video_only", "mp4", None, video_codec="mpeg4"),
}
AUDIO_KINDS = [k for k, v in KINDS.items() if v.audio_codec]


def _stereo_sine(seconds: float = SECONDS, rate: int = SOURCE_RATE) -> npt.NDArray[np.float32]:
    """(2, n) float32: a 440 Hz sine on both channels."""
    t = np.arange(round(seconds * rate)) / rate
    tone = (AMPLITUDE * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
    return np.stack([tone, tone])


def _encode(kind: Kind) -> bytes:
    for codec in (kind.audio_codec, kind.video_codec):
        if codec and codec not in av.codecs_available:
            pytest.skip(f"this PyAV build has no {codec} encoder")
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=kind.muxer) as out:
        video = None
        if kind.video_codec:
            video = out.add_stream(kind.video_codec, rate=10)
            video.width, video.height, video.pix_fmt = 32, 32, "yuv420p"
        if kind.audio_codec:
            audio = out.add_stream(kind.audio_codec, rate=kind.rate)
            audio.layout = "stereo"
            resampler = av.AudioResampler(
                format=audio.codec_context.format,
                layout="stereo",
                rate=kind.rate,
                frame_size=audio.codec_context.frame_size or 1024,
            )
            source = av.AudioFrame.from_ndarray(_stereo_sine(), format="fltp", layout="stereo")
            source.sample_rate = SOURCE_RATE
            source.pts = 0
            for frame in resampler.resample(source) + resampler.resample(None):
                out.mux(audio.encode(frame))
            out.mux(audio.encode(None))
        if video is not None:
            for index in range(round(SECONDS * 10)):
                picture = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
                picture.pts = index
                out.mux(video.encode(picture))
            out.mux(video.encode(None))
    return buf.getvalue()


@pytest.fixture(scope="module")
def encoded() -> dict[str, bytes]:
    """Every kind, encoded once per module (kinds whose encoder is missing are left out)."""
    files: dict[str, bytes] = {}
    for name, kind in KINDS.items():
        try:
            files[name] = _encode(kind)
        except pytest.skip.Exception:
            continue
    return files


def _get(encoded: dict[str, bytes], name: str) -> bytes:
    if name not in encoded:
        pytest.skip(f"no encoder for {name} in this PyAV build")
    return encoded[name]


def _decode_or_error(data: bytes) -> DecodedAudio | TingError:
    try:
        return decode_audio(data)
    except TingError as exc:
        return exc


def _consume(chunks: Iterator[npt.NDArray[np.float32]], sizes: list[int]) -> None:
    for chunk in chunks:
        sizes.append(chunk.size)


def _peak_hz(samples: npt.NDArray[np.float32], rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.argmax(spectrum) * rate / samples.size)


# --------------------------------------------------------------------------------------------------
# Containers
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", AUDIO_KINDS)
def test_decodes_every_container_to_16k_mono_float32(encoded: dict[str, bytes], name: str) -> None:
    decoded = decode_audio(_get(encoded, name))
    samples = decoded.samples
    assert decoded.sample_rate == 16000
    assert samples.dtype == np.float32
    assert samples.ndim == 1
    assert samples.flags.c_contiguous
    assert abs(decoded.duration_s - SECONDS) < 0.05
    assert decoded.duration_s == pytest.approx(samples.size / 16000)
    assert abs(_peak_hz(samples, 16000) - TONE_HZ) < 2.0
    # Stereo is averaged to mono, not summed: the tone keeps its 0.5 amplitude.
    middle = samples[4000:-4000]
    assert 0.45 < float(np.abs(middle).max()) < 0.55
    assert float(np.abs(samples).max()) <= 1.0
    assert decoded.source_channels == 2
    assert decoded.source_sample_rate == KINDS[name].rate


@pytest.mark.parametrize(
    ("name", "fmt", "codec"),
    [
        ("wav", "wav", "pcm_s16le"),
        ("flac", "flac", "flac"),
        ("mp3", "mp3", "mp3"),
        ("ogg_opus", "ogg", "opus"),
        ("webm_opus", "matroska,webm", "opus"),
        ("m4a_aac", "mov,mp4,m4a,3gp,3g2,mj2", "aac"),
    ],
)
def test_reports_the_source_format_and_codec(encoded: dict[str, bytes], name: str, fmt: str, codec: str) -> None:
    decoded = decode_audio(_get(encoded, name))
    assert (decoded.source_format, decoded.source_codec) == (fmt, codec)


def test_decodes_from_a_path_like_from_bytes(encoded: dict[str, bytes], tmp_path: Path) -> None:
    data = _get(encoded, "flac")
    path = tmp_path / "tone.flac"
    path.write_bytes(data)
    from_path = decode_audio(path)
    from_str = decode_audio(str(path))
    from_bytes = decode_audio(bytearray(data))
    np.testing.assert_array_equal(from_path.samples, from_bytes.samples)
    np.testing.assert_array_equal(from_str.samples, from_bytes.samples)


def test_other_target_rates(encoded: dict[str, bytes]) -> None:
    decoded = decode_audio(_get(encoded, "wav"), target_sample_rate=8000)
    assert decoded.sample_rate == 8000
    assert decoded.samples.size == round(SECONDS * 8000)
    assert abs(_peak_hz(decoded.samples, 8000) - TONE_HZ) < 2.0


def test_a_wrong_container_hint_does_not_stop_detection(encoded: dict[str, bytes]) -> None:
    decoded = decode_audio(_get(encoded, "mp3"), encoding=AudioEncoding.WAV)
    assert decoded.source_codec == "mp3"
    assert abs(decoded.duration_s - SECONDS) < 0.05


def test_iter_decode_yields_fixed_chunks_equal_to_decode(encoded: dict[str, bytes]) -> None:
    data = _get(encoded, "ogg_opus")
    chunks = list(iter_decode_audio(data, chunk_seconds=0.75))
    assert [c.size for c in chunks[:-1]] == [12000] * (len(chunks) - 1)
    assert 0 < chunks[-1].size <= 12000
    assert all(c.dtype == np.float32 and c.ndim == 1 for c in chunks)
    np.testing.assert_allclose(np.concatenate(chunks), decode_audio(data).samples, atol=1e-6)


def test_iter_decode_raises_open_errors_at_call_time() -> None:
    with pytest.raises(InvalidArgumentError, match="could not read the audio"):
        iter_decode_audio(b"this is plain text, not audio")


@pytest.mark.parametrize("name", ["wav", "mp3", "ogg_opus", "m4a_aac", "webm_opus"])
def test_probe_duration(encoded: dict[str, bytes], name: str) -> None:
    assert abs(probe_duration(_get(encoded, name)) - SECONDS) < 0.05


def test_probe_duration_of_raw_pcm_counts_bytes() -> None:
    raw = bytes(2 * 8000 * 3)
    assert probe_duration(raw, encoding=AudioEncoding.LINEAR16, sample_rate_hint=8000) == pytest.approx(3.0)


# --------------------------------------------------------------------------------------------------
# Headerless PCM
# --------------------------------------------------------------------------------------------------


def _tone(rate: int, seconds: float, hz: float = 1000.0) -> npt.NDArray[np.float32]:
    t = np.arange(round(rate * seconds)) / rate
    return (AMPLITUDE * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_linear16_at_8k_is_resampled_with_the_right_duration() -> None:
    pcm = (_tone(8000, 1.5) * 32767).astype("<i2").tobytes()
    decoded = decode_audio(pcm, encoding=AudioEncoding.LINEAR16, sample_rate_hint=8000)
    assert decoded.duration_s == pytest.approx(1.5, abs=1e-3)
    assert decoded.samples.size == 24000
    assert abs(_peak_hz(decoded.samples, 16000) - 1000.0) < 2.0
    assert (decoded.source_format, decoded.source_codec, decoded.source_sample_rate) == (
        "raw",
        "pcm_s16le",
        8000,
    )


def test_linear16_stereo_is_averaged() -> None:
    left = _tone(16000, 0.5)
    pcm = (np.stack([left, np.zeros_like(left)], axis=1) * 32767).astype("<i2").tobytes()
    decoded = decode_audio(pcm, encoding=AudioEncoding.LINEAR16, sample_rate_hint=16000, channels_hint=2)
    assert decoded.source_channels == 2
    assert decoded.samples.size == 8000
    np.testing.assert_allclose(decoded.samples, left / 2, atol=1e-4)


def test_float32_raw_passes_through_at_the_target_rate() -> None:
    tone = _tone(16000, 0.25)
    decoded = decode_audio(tone.tobytes(), encoding=AudioEncoding.FLOAT32, sample_rate_hint=16000)
    np.testing.assert_array_equal(decoded.samples, tone)


@pytest.mark.parametrize(("encoding", "demuxer"), [(AudioEncoding.MULAW, "mulaw"), (AudioEncoding.ALAW, "alaw")])
def test_g711_matches_ffmpeg(encoding: AudioEncoding, demuxer: str) -> None:
    every_code = bytes(range(256)) * 4
    with av.open(io.BytesIO(every_code), format=demuxer, options={"sample_rate": "16000"}) as reference:
        expected = np.concatenate([f.to_ndarray().reshape(-1) for f in reference.decode(audio=0)]) / 32768.0
    decoded = decode_audio(every_code, encoding=encoding, sample_rate_hint=16000)
    np.testing.assert_allclose(decoded.samples, expected.astype(np.float32), atol=1e-7)


def test_mulaw_at_8k_has_the_right_duration_and_tone() -> None:
    x = _tone(8000, 1.0)
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mulaw") as out:
        stream = out.add_stream("pcm_mulaw", rate=8000, layout="mono")
        frame = av.AudioFrame.from_ndarray((x * 32767).astype(np.int16)[np.newaxis, :], format="s16", layout="mono")
        frame.sample_rate = 8000
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    mulaw = buf.getvalue()
    assert len(mulaw) == 8000
    decoded = decode_audio(mulaw, encoding=AudioEncoding.MULAW, sample_rate_hint=8000)
    assert decoded.duration_s == pytest.approx(1.0, abs=1e-3)
    assert abs(_peak_hz(decoded.samples, 16000) - 1000.0) < 2.0
    assert 0.45 < float(np.abs(decoded.samples).max()) < 0.55


def test_a_wav_sent_as_linear16_is_read_as_wav() -> None:
    wav = encode_wav(_tone(16000, 0.5), 16000)
    decoded = decode_audio(wav, encoding=AudioEncoding.LINEAR16, sample_rate_hint=16000)
    assert decoded.samples.size == 8000  # the 44-byte header did not become samples
    assert decoded.source_format == "wav"


def test_linear16_without_a_sample_rate_is_rejected() -> None:
    with pytest.raises(InvalidArgumentError, match="set sample_rate_hertz"):
        decode_audio(bytes(3200), encoding=AudioEncoding.LINEAR16)


def test_linear16_with_an_odd_byte_count_is_rejected() -> None:
    with pytest.raises(InvalidArgumentError, match="odd number of bytes"):
        decode_audio(bytes(3201), encoding=AudioEncoding.LINEAR16, sample_rate_hint=16000)


def test_float32_with_nan_is_rejected() -> None:
    samples = np.array([0.0, np.nan, 0.1, np.inf], dtype=np.float32)
    with pytest.raises(InvalidArgumentError, match="NaN"):
        decode_audio(samples.tobytes(), encoding=AudioEncoding.FLOAT32, sample_rate_hint=16000)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sample_rate_hint": -1},
        {"sample_rate_hint": 10**7},
        {"channels_hint": 1000},
        {"target_sample_rate": 0},
    ],
)
def test_hints_out_of_range(kwargs: dict[str, int]) -> None:
    with pytest.raises(OutOfRangeError):
        decode_audio(bytes(320), encoding=AudioEncoding.LINEAR16, **kwargs)


# --------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------


def test_empty_audio(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="audio is empty"):
        decode_audio(b"")
    empty = tmp_path / "empty.wav"
    empty.touch()
    with pytest.raises(InvalidArgumentError, match="audio is empty"):
        decode_audio(empty)


@pytest.mark.parametrize(
    "garbage",
    [
        np.random.default_rng(7).integers(0, 256, 20_000, dtype=np.uint8).tobytes(),
        b"hello, this is a text file and not audio at all\n" * 50,
        bytes(4096),
        b"\x89PNG\r\n\x1a\n" + bytes(200),
    ],
    ids=["random", "text", "zeros", "png"],
)
def test_garbage_is_a_clear_invalid_argument(garbage: bytes) -> None:
    with pytest.raises(InvalidArgumentError, match="not a supported container/codec"):
        decode_audio(garbage)


def test_a_concat_list_cannot_read_other_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "secret.wav").write_bytes(encode_wav(_tone(16000, 0.5), 16000))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidArgumentError, match="not a supported container/codec"):
        decode_audio(b"ffconcat version 1.0\nfile 'secret.wav'\n")


@pytest.mark.parametrize("name", ["wav", "mp3", "flac", "ogg_opus", "webm_opus", "m4a_aac"])
@pytest.mark.parametrize("keep", [0.02, 0.3, 0.6])
def test_truncated_files_decode_partially_or_fail_cleanly(encoded: dict[str, bytes], name: str, keep: float) -> None:
    data = _get(encoded, name)
    cut = data[: max(1, int(len(data) * keep))]
    outcome = _decode_or_error(cut)
    if isinstance(outcome, TingError):
        assert isinstance(outcome, InvalidArgumentError)
        assert outcome.message
        assert "Traceback" not in outcome.message
    else:
        decoded = outcome
        assert 0 < decoded.duration_s < SECONDS
        assert abs(_peak_hz(decoded.samples, 16000) - TONE_HZ) < 5.0 or decoded.duration_s < 0.2


def test_half_a_wav_decodes_half_the_audio(encoded: dict[str, bytes]) -> None:
    data = _get(encoded, "wav")
    decoded = decode_audio(data[: len(data) // 2])
    assert abs(decoded.duration_s - SECONDS / 2) < 0.05


def test_a_wav_header_without_samples(encoded: dict[str, bytes]) -> None:
    with pytest.raises(InvalidArgumentError, match="contains no audio samples"):
        decode_audio(encode_wav(np.zeros(0, dtype=np.float32), 16000))


def test_video_without_audio(encoded: dict[str, bytes]) -> None:
    with pytest.raises(InvalidArgumentError, match="the file has no audio stream"):
        decode_audio(_get(encoded, "mp4_video_only"))


def test_unknown_codec_is_named_as_unsupported(encoded: dict[str, bytes]) -> None:
    wav = bytearray(_get(encoded, "wav"))
    wav[20:22] = struct.pack("<H", 0x7777)  # a WAVE format tag no codec claims
    with pytest.raises(InvalidArgumentError, match="not supported"):
        decode_audio(bytes(wav))


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="no such file"):
        decode_audio(tmp_path / "nope.wav")
    with pytest.raises(InvalidArgumentError, match="not a regular file"):
        decode_audio(tmp_path)


def test_over_max_bytes(encoded: dict[str, bytes]) -> None:
    data = _get(encoded, "wav")
    with pytest.raises(ResourceExhaustedError, match=r"0\.3 MB, over the 0\.1 MB limit"):
        decode_audio(data, limits=AudioLimits(max_bytes=100 * 1024))


def test_over_max_duration_from_the_header(encoded: dict[str, bytes]) -> None:
    with pytest.raises(ResourceExhaustedError, match=r"lasts 2\.0 s, over the 1\.0 s limit"):
        decode_audio(_get(encoded, "mp3"), limits=AudioLimits(max_duration_s=1.0))
    with pytest.raises(ResourceExhaustedError):
        iter_decode_audio(_get(encoded, "webm_opus"), limits=AudioLimits(max_duration_s=1.0))


def test_raw_over_max_duration() -> None:
    with pytest.raises(ResourceExhaustedError, match=r"over the 1\.0 s limit"):
        decode_audio(
            bytes(2 * 8000 * 2),
            encoding=AudioEncoding.LINEAR16,
            sample_rate_hint=8000,
            limits=AudioLimits(max_duration_s=1.0),
        )


def _flac_claiming(data: bytes, total_samples: int) -> bytes:
    """Rewrite the FLAC STREAMINFO sample count (36 bits at file bytes 21.5..25) to lie about duration."""
    patched = bytearray(data)
    assert patched[:4] == b"fLaC"
    patched[21] = (patched[21] & 0xF0) | ((total_samples >> 32) & 0x0F)
    patched[22:26] = (total_samples & 0xFFFFFFFF).to_bytes(4, "big")
    return bytes(patched)


def test_a_lying_header_cannot_exceed_max_duration(encoded: dict[str, bytes]) -> None:
    lying = _flac_claiming(_get(encoded, "flac"), SOURCE_RATE // 2)  # claims 0.5 s, holds 2 s
    assert probe_duration(lying) == pytest.approx(0.5)
    limits = AudioLimits(max_duration_s=1.0)
    with pytest.raises(ResourceExhaustedError, match=r"runs past the 1\.0 s limit"):
        decode_audio(lying, limits=limits)
    sizes: list[int] = []
    with pytest.raises(ResourceExhaustedError):
        _consume(iter_decode_audio(lying, limits=limits, chunk_seconds=0.25), sizes)
    assert 0 < sum(sizes) <= 16000  # chunks up to the limit came out, nothing past it


# --------------------------------------------------------------------------------------------------
# encode_wav
# --------------------------------------------------------------------------------------------------


def test_encode_wav_round_trips_mono_and_stereo() -> None:
    tone = _tone(16000, 0.5)
    mono = decode_audio(encode_wav(tone, 16000))
    np.testing.assert_allclose(mono.samples, tone, atol=1e-4)
    stereo = encode_wav(np.stack([tone, tone], axis=1), 16000)
    assert stereo[22:24] == struct.pack("<H", 2)
    decoded = decode_audio(stereo)
    assert decoded.source_channels == 2
    np.testing.assert_allclose(decoded.samples, tone, atol=1e-4)


def test_encode_wav_clips_and_accepts_int16() -> None:
    loud = np.array([2.0, -2.0, 0.5], dtype=np.float32)
    pcm = np.frombuffer(encode_wav(loud, 8000)[44:], dtype="<i2")
    assert pcm.tolist() == [32767, -32767, 16384]
    ints = np.array([1, -2, 3], dtype=np.int16)
    assert np.frombuffer(encode_wav(ints, 8000)[44:], dtype="<i2").tolist() == [1, -2, 3]


def test_the_file_is_closed_after_decoding(tmp_path: Path, encoded: dict[str, bytes]) -> None:
    path = tmp_path / "a.wav"
    path.write_bytes(_get(encoded, "wav"))
    decode_audio(path)
    list(iter_decode_audio(path, chunk_seconds=0.5))
    with pytest.raises(ResourceExhaustedError):
        decode_audio(path, limits=AudioLimits(max_duration_s=0.1))
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"not audio " * 100)
    with pytest.raises(InvalidArgumentError):
        decode_audio(garbage)
    open_paths = {f.path for f in psutil.Process().open_files()}
    assert str(path) not in open_paths
    assert str(garbage) not in open_paths
