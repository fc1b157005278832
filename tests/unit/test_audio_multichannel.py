"""Unit tests for the multichannel path of :mod:`ting_common.audio` and for ``encode_flac``.

``decode_audio_multichannel`` shares the opening, demuxer allow-list, limit checks and error messages of
``decode_audio``; these tests check what differs (rate and channels kept, resampling to a target, downmix
above ``max_channels``) and that the shared guards hold on this path too.
"""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest

from ting_common.audio import (
    AudioEncoding,
    AudioLimits,
    decode_audio,
    decode_audio_multichannel,
    encode_flac,
    encode_wav,
)
from ting_common.errors import InvalidArgumentError, OutOfRangeError, ResourceExhaustedError

FloatArray = npt.NDArray[np.float32]
RATE = 44100


def stereo(seconds: float = 1.0, rate: int = RATE) -> FloatArray:
    """(2, n): 440 Hz left, 660 Hz right, so a swapped or averaged channel shows."""
    t = np.arange(round(seconds * rate)) / rate
    return np.stack([0.4 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 660 * t)]).astype(np.float32)


def peak_hz(samples: FloatArray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.argmax(spectrum) * rate / samples.size)


def encode_with(codec: str, muxer: str, audio: FloatArray, rate: int) -> bytes:
    """Encode stereo ``audio`` with a lossy PyAV encoder (mp3, opus)."""
    if codec not in av.codecs_available:
        pytest.skip(f"this PyAV build has no {codec} encoder")
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=muxer) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "stereo"
        resampler = av.AudioResampler(
            format=stream.codec_context.format, layout="stereo", rate=rate, frame_size=stream.codec_context.frame_size
        )
        source = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio), format="fltp", layout="stereo")
        source.sample_rate = RATE
        source.pts = 0
        for frame in resampler.resample(source) + resampler.resample(None):
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buf.getvalue()


def test_wav_keeps_its_rate_and_both_channels() -> None:
    audio = stereo()
    decoded = decode_audio_multichannel(encode_wav(audio.T, RATE))
    assert decoded.sample_rate == RATE == decoded.source_sample_rate
    assert (decoded.channels, decoded.source_channels) == (2, 2)
    assert decoded.samples.dtype == np.float32
    assert decoded.duration_s == pytest.approx(1.0)
    assert (decoded.source_format, decoded.source_codec) == ("wav", "pcm_s16le")
    np.testing.assert_allclose(decoded.samples, audio, atol=1 / 32767)


def test_resamples_to_a_target_rate_keeping_channels() -> None:
    decoded = decode_audio_multichannel(encode_wav(stereo().T, RATE), target_sample_rate=22050)
    assert decoded.sample_rate == 22050
    assert decoded.source_sample_rate == RATE
    assert decoded.samples.shape == (2, 22050)
    assert peak_hz(decoded.samples[0], 22050) == pytest.approx(440, abs=2)
    assert peak_hz(decoded.samples[1], 22050) == pytest.approx(660, abs=2)


def test_mono_stays_mono_and_max_channels_one_is_the_asr_downmix() -> None:
    data = encode_wav(stereo().T, RATE)
    mono = decode_audio_multichannel(encode_wav(stereo()[0], RATE))
    assert mono.samples.shape == (1, RATE)
    downmix = decode_audio_multichannel(data, target_sample_rate=16000, max_channels=1)
    # The same opening and resampling as decode_audio: identical samples.
    np.testing.assert_array_equal(downmix.samples[0], decode_audio(data).samples)


def test_more_channels_than_max_are_downmixed_by_swresample() -> None:
    audio = np.concatenate([stereo(0.5)] * 3)  # 6 channels, FFmpeg reads a plain 6-channel WAV as 5.1
    data = encode_wav(audio.T, RATE)
    kept = decode_audio_multichannel(data, max_channels=6)
    assert kept.samples.shape == (6, RATE // 2)
    folded = decode_audio_multichannel(data)
    assert folded.samples.shape == (2, RATE // 2)
    assert folded.source_channels == 6
    assert np.all(np.abs(folded.samples) <= 1.0)
    assert np.abs(folded.samples).max() > 0.1


@pytest.mark.parametrize(("codec", "muxer", "rate"), [("libmp3lame", "mp3", RATE), ("libopus", "ogg", 48000)])
def test_lossy_stereo_containers_keep_two_channels(codec: str, muxer: str, rate: int) -> None:
    decoded = decode_audio_multichannel(encode_with(codec, muxer, stereo(), rate))
    assert decoded.sample_rate == rate
    assert decoded.channels == 2
    assert decoded.duration_s == pytest.approx(1.0, abs=0.1)
    assert peak_hz(decoded.samples[0], rate) == pytest.approx(440, abs=3)
    assert peak_hz(decoded.samples[1], rate) == pytest.approx(660, abs=3)


def test_headerless_interleaved_stereo() -> None:
    audio = stereo(0.5)
    pcm = (audio.T * 32767).round().astype("<i2").tobytes()
    decoded = decode_audio_multichannel(pcm, encoding=AudioEncoding.LINEAR16, sample_rate_hint=RATE, channels_hint=2)
    assert (decoded.sample_rate, decoded.source_format, decoded.source_codec) == (RATE, "raw", "pcm_s16le")
    np.testing.assert_allclose(decoded.samples, audio, atol=1 / 32767)
    resampled = decode_audio_multichannel(
        pcm, encoding=AudioEncoding.LINEAR16, sample_rate_hint=RATE, channels_hint=2, target_sample_rate=8000
    )
    assert resampled.samples.shape == (2, 4000)
    assert peak_hz(resampled.samples[1], 8000) == pytest.approx(660, abs=4)
    quad = np.concatenate([audio, audio]).T.astype("<f4").tobytes()
    folded = decode_audio_multichannel(quad, encoding=AudioEncoding.FLOAT32, sample_rate_hint=RATE, channels_hint=4)
    assert folded.samples.shape == (2, RATE // 2)


def test_decodes_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "song.flac"
    path.write_bytes(encode_flac(stereo().T, RATE))
    decoded = decode_audio_multichannel(path)
    assert (decoded.samples.shape, decoded.source_codec) == ((2, RATE), "flac")


@pytest.mark.parametrize("channels", [1, 2, 6])
def test_flac_round_trips(channels: int) -> None:
    audio = np.concatenate([stereo(0.7)] * 3)[:channels]
    data = encode_flac(audio.T if channels > 1 else audio[0], RATE)
    assert data[:4] == b"fLaC"
    with av.open(io.BytesIO(data)) as container:
        assert container.streams.audio[0].codec_context.name == "flac"
    decoded = decode_audio_multichannel(data, max_channels=8)
    assert decoded.samples.shape == audio.shape
    np.testing.assert_allclose(decoded.samples, audio, atol=1 / 32767)
    assert len(data) < len(encode_wav(audio.T, RATE))


def test_encode_flac_rejects_what_it_cannot_hold() -> None:
    with pytest.raises(InvalidArgumentError, match="at most 8 channels"):
        encode_flac(np.zeros((100, 9), np.float32), RATE)
    with pytest.raises(OutOfRangeError, match="sample_rate"):
        encode_flac(np.zeros(100, np.float32), 0)


def test_shared_guards_hold_on_this_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wav = encode_wav(stereo(2.0).T, RATE)
    with pytest.raises(InvalidArgumentError, match="empty"):
        decode_audio_multichannel(b"")
    with pytest.raises(InvalidArgumentError, match="could not read the audio"):
        decode_audio_multichannel(b"this is not audio at all" * 20)
    with pytest.raises(ResourceExhaustedError, match="limit"):
        decode_audio_multichannel(wav, limits=AudioLimits(max_duration_s=1.0))
    with pytest.raises(ResourceExhaustedError, match="MB limit"):
        decode_audio_multichannel(wav, limits=AudioLimits(max_bytes=1000))
    with pytest.raises(OutOfRangeError, match="max_channels"):
        decode_audio_multichannel(wav, max_channels=0)
    with pytest.raises(OutOfRangeError, match="target sample rate"):
        decode_audio_multichannel(wav, target_sample_rate=10_000_000)
    # Only media demuxers: a concat list may not make FFmpeg read a file next to the server.
    (tmp_path / "secret.wav").write_bytes(wav)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidArgumentError, match="not a supported container/codec"):
        decode_audio_multichannel(b"ffconcat version 1.0\nfile 'secret.wav'\n")


def test_a_lying_header_cannot_exceed_max_duration() -> None:
    patched = bytearray(encode_flac(stereo(2.0).T, RATE))
    total = RATE // 2  # STREAMINFO claims 0.5 s; the file holds 2 s
    patched[21] = (patched[21] & 0xF0) | ((total >> 32) & 0x0F)
    patched[22:26] = (total & 0xFFFFFFFF).to_bytes(4, "big")
    with pytest.raises(ResourceExhaustedError, match=r"runs past the 1\.0 s limit"):
        decode_audio_multichannel(bytes(patched), limits=AudioLimits(max_duration_s=1.0))
