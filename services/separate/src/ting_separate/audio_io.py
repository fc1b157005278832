"""Multichannel audio I/O for separation: decode keeping rate and channels, encode stems, measure loudness.

``ting_common.audio.decode_audio`` downmixes to 16 kHz mono (what ASR wants); separation needs the
original sample rate and the stereo image, so this module decodes with PyAV keeping both. It applies
the same rules as ``ting_common.audio``: every failure is a domain error with a message a person can act
on, limits are checked on the input size, the declared duration and the decoded duration, and only
media demuxers may run (no playlists, no nested opens). It belongs in ``ting_common`` next to
``decode_audio`` and should move there.
"""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass
from typing import BinaryIO, Final

import av
import av.error
import numpy as np
import numpy.typing as npt
from scipy import signal

from ting_common.audio import AudioEncoding, AudioLimits, encode_wav
from ting_common.errors import InvalidArgumentError, OutOfRangeError, ResourceExhaustedError

__all__ = ["MultichannelAudio", "decode_multichannel", "encode_flac", "encode_stem", "loudness"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]

_MB: Final = 1024 * 1024
_MAX_SAMPLE_RATE: Final = 192_000
_MAX_CHANNELS: Final = 2  # stereo engines; more channels are downmixed to stereo by libswresample
_AV_ERRORS: Final = (av.error.FFmpegError, ValueError, OSError, EOFError, RuntimeError)
_DEMUXERS: Final = ",".join(
    (
        "wav", "w64", "flac", "mp3", "ogg", "mov", "matroska", "aac", "aiff", "caf", "asf", "avi",
        "flv", "mpegts", "mpeg", "au", "ac3", "eac3", "dts", "wv", "ape", "tta", "mpc", "mpc8", "nut",
    )
)  # fmt: skip
SILENCE_DB: Final = -120.0


@dataclass(frozen=True)
class MultichannelAudio:
    """Decoded audio: float32 ``(channels, samples)`` in [-1, 1] at the source's own sample rate."""

    samples: FloatArray
    sample_rate: int
    source_format: str
    source_codec: str

    @property
    def channels(self) -> int:
        """Number of channels (1 or 2)."""
        return int(self.samples.shape[0])

    @property
    def duration_s(self) -> float:
        """Duration in seconds."""
        return float(self.samples.shape[1] / self.sample_rate)


def _refuse_nested_open(url: str, flags: int, options: dict[str, str]) -> BinaryIO:
    raise PermissionError(f"opening {url!r} from inside an audio file is not allowed")


def _too_long(seconds: float, limits: AudioLimits) -> ResourceExhaustedError:
    return ResourceExhaustedError(
        f"the audio lasts {seconds:.1f} s, over the {limits.max_duration_s:.0f} s limit; split it into shorter parts"
    )


def decode_multichannel(
    data: bytes,
    *,
    encoding: AudioEncoding = AudioEncoding.UNSPECIFIED,
    sample_rate_hint: int = 0,
    channels_hint: int = 0,
    limits: AudioLimits | None = None,
) -> MultichannelAudio:
    """Decode ``data`` to float32 ``(channels, samples)`` keeping its sample rate and (up to 2) channels.

    Headerless ``LINEAR16`` / ``FLOAT32`` need ``sample_rate_hint`` (and ``channels_hint`` when
    interleaved stereo). Raises :class:`InvalidArgumentError` for empty or unreadable audio and
    :class:`ResourceExhaustedError` over ``limits``.
    """
    limits = limits or AudioLimits()
    if not data:
        raise InvalidArgumentError("audio is empty: the request carried 0 bytes of audio")
    if len(data) > limits.max_bytes:
        raise ResourceExhaustedError(
            f"the audio is {len(data) / _MB:.1f} MiB, over the {limits.max_bytes / _MB:.1f} MiB limit; "
            "send a shorter or more compressed file"
        )
    if not 0 <= sample_rate_hint <= _MAX_SAMPLE_RATE:
        raise OutOfRangeError(f"sample_rate_hertz must lie in 8000..{_MAX_SAMPLE_RATE}, got {sample_rate_hint}")
    if not 0 <= channels_hint <= 32:
        raise OutOfRangeError(f"channel_count must lie in 1..32, got {channels_hint}")
    if encoding in (AudioEncoding.LINEAR16, AudioEncoding.FLOAT32) and data[:4] not in (b"RIFF", b"fLaC", b"OggS"):
        return _decode_raw(data, encoding, sample_rate_hint, channels_hint or 1, limits)
    if encoding in (AudioEncoding.MULAW, AudioEncoding.ALAW):
        raise InvalidArgumentError(
            f"{encoding.name} telephony audio is not supported for separation; send a WAV or FLAC file"
        )
    return _decode_container(data, limits)


def _decode_raw(
    data: bytes, encoding: AudioEncoding, sample_rate: int, channels: int, limits: AudioLimits
) -> MultichannelAudio:
    if sample_rate == 0:
        raise InvalidArgumentError(f"{encoding.name} audio has no header; set audio.format.sample_rate_hertz")
    if channels > _MAX_CHANNELS:
        raise InvalidArgumentError(f"headerless audio must be mono or stereo, got {channels} channels")
    width = 2 if encoding is AudioEncoding.LINEAR16 else 4
    if len(data) % (width * channels):
        raise InvalidArgumentError(
            f"{encoding.name} audio with {channels} channel(s) must be whole {width * channels}-byte frames"
        )
    frames = len(data) // (width * channels)
    if frames / sample_rate > limits.max_duration_s:
        raise _too_long(frames / sample_rate, limits)
    if encoding is AudioEncoding.LINEAR16:
        flat = np.frombuffer(data, dtype="<i2").astype(np.float32) / np.float32(32768.0)
    else:
        flat = np.frombuffer(data, dtype="<f4").astype(np.float32)
        if not np.isfinite(flat).all():
            raise InvalidArgumentError("FLOAT32 audio contains NaN or infinite samples")
    samples = np.ascontiguousarray(np.clip(flat.reshape(-1, channels).T, -1.0, 1.0))
    return MultichannelAudio(samples, sample_rate, "raw", encoding.name.lower())


def _decode_container(data: bytes, limits: AudioLimits) -> MultichannelAudio:
    try:
        container = av.open(
            io.BytesIO(data),
            mode="r",
            container_options={"format_whitelist": _DEMUXERS},
            metadata_errors="replace",
            io_open=_refuse_nested_open,
        )
    except _AV_ERRORS as exc:
        raise InvalidArgumentError(
            "the audio could not be read: not a supported audio file (wav, flac, mp3, ogg, m4a, webm) "
            f"({type(exc).__name__})"
        ) from None
    try:
        streams = container.streams.audio
        if not streams:
            raise InvalidArgumentError("the file has no audio stream")
        stream = streams[0]
        rate = int(stream.codec_context.sample_rate or 0)
        channels = int(stream.codec_context.channels or 0)
        if not 0 < rate <= _MAX_SAMPLE_RATE:
            raise InvalidArgumentError(f"unsupported sample rate {rate} Hz (8000..{_MAX_SAMPLE_RATE})")
        if stream.duration is not None and stream.time_base is not None:
            declared = float(stream.duration * stream.time_base)
            if declared > limits.max_duration_s:
                raise _too_long(declared, limits)
        out_channels = 1 if channels == 1 else 2
        resampler = av.AudioResampler(format="fltp", layout="mono" if out_channels == 1 else "stereo", rate=rate)
        max_samples = int(limits.max_duration_s * rate) + 1
        pieces: list[FloatArray] = []
        total = 0
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    piece = np.asarray(out.to_ndarray(), dtype=np.float32).reshape(out_channels, -1)
                    pieces.append(piece)
                    total += piece.shape[1]
                if total > max_samples:
                    raise _too_long(total / rate, limits)
            for out in resampler.resample(None):
                pieces.append(np.asarray(out.to_ndarray(), dtype=np.float32).reshape(out_channels, -1))
        except _AV_ERRORS as exc:
            if not pieces:
                raise InvalidArgumentError(f"the audio could not be decoded ({type(exc).__name__})") from None
            logger.info("decoding stopped early (%s); keeping what was read", type(exc).__name__)
        fmt = container.format.name
        codec = stream.codec_context.name
    finally:
        container.close()
    if not pieces or sum(p.shape[1] for p in pieces) == 0:
        raise InvalidArgumentError("the audio contains no samples; the file may be empty or cut off")
    samples = np.clip(np.concatenate(pieces, axis=1), -1.0, 1.0)
    return MultichannelAudio(np.ascontiguousarray(samples, dtype=np.float32), rate, fmt, codec)


def encode_flac(samples: FloatArray, sample_rate: int) -> bytes:
    """Encode float32 ``(channels, samples)`` as 16-bit FLAC (lossless) with PyAV."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype(np.int16)
    channels = pcm.shape[0]
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="flac") as container:
        stream = container.add_stream("flac", rate=sample_rate, layout="mono" if channels == 1 else "stereo")
        stream.format = "s16"
        step = 1 << 16
        for start in range(0, pcm.shape[1], step):
            block = np.ascontiguousarray(pcm[:, start : start + step].T.reshape(1, -1))
            frame = av.AudioFrame.from_ndarray(block, format="s16", layout="mono" if channels == 1 else "stereo")
            frame.sample_rate = sample_rate
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def encode_stem(samples: FloatArray, sample_rate: int, fmt: str) -> bytes:
    """Encode a ``(channels, samples)`` stem as ``"wav"`` or ``"flac"`` (16-bit PCM)."""
    if fmt == "flac":
        return encode_flac(samples, sample_rate)
    return encode_wav(samples.T, sample_rate)


def _db(power: float) -> float:
    return float(max(SILENCE_DB, 10.0 * math.log10(power))) if power > 0 else SILENCE_DB


def _k_weighting(sample_rate: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """BS.1770 K-weighting (high-shelf + RLB high-pass) as one SOS filter, designed for ``sample_rate``."""
    # Pre-filter: high shelf, +4 dB above ~1.68 kHz (BS.1770-4 coefficients, re-derived for any rate).
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / sample_rate)
    vh = 10 ** (gain_db / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf_b = np.array([(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0])
    shelf_a = np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    # RLB: second-order high-pass at ~38 Hz.
    f1, q1 = 38.13547087602444, 0.5003270373238773
    k1 = math.tan(math.pi * f1 / sample_rate)
    a1 = 1 + k1 / q1 + k1 * k1
    hp_b = np.array([1.0, -2.0, 1.0])
    hp_a = np.array([1.0, 2 * (k1 * k1 - 1) / a1, (1 - k1 / q1 + k1 * k1) / a1])
    return np.convolve(shelf_b, hp_b), np.convolve(shelf_a, hp_a)


def loudness(samples: FloatArray, sample_rate: int) -> tuple[float, float, float]:
    """(integrated LUFS per BS.1770-4 with absolute and relative gates, RMS dBFS, sample peak dBFS).

    RMS is relative to a full-scale square wave (a full-scale sine reads -3 dBFS). Silence reads -120.
    """
    x = np.asarray(samples, dtype=np.float64)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    peak_db = max(SILENCE_DB, 20 * math.log10(peak)) if peak > 0 else SILENCE_DB
    rms_db = _db(float(np.mean(x * x))) if x.size else SILENCE_DB
    b, a = _k_weighting(sample_rate)
    weighted = signal.lfilter(b, a, x, axis=-1)
    block, step = int(0.4 * sample_rate), int(0.1 * sample_rate)
    if weighted.shape[-1] < block:
        energies = np.array([np.sum(np.mean(weighted**2, axis=-1))])
    else:
        starts = np.arange(0, weighted.shape[-1] - block + 1, step)
        cumulative = np.concatenate([np.zeros((weighted.shape[0], 1)), np.cumsum(weighted**2, axis=-1)], axis=-1)
        per_channel = (cumulative[:, starts + block] - cumulative[:, starts]) / block
        energies = per_channel.sum(axis=0)  # channel weights are 1 for L/R/mono
    with np.errstate(divide="ignore"):
        block_lufs = -0.691 + 10 * np.log10(energies)
    gated = energies[block_lufs > -70.0]
    if gated.size == 0:
        return SILENCE_DB, rms_db, peak_db
    relative = -0.691 + 10 * math.log10(float(np.mean(gated))) - 10.0
    gated = energies[(block_lufs > -70.0) & (block_lufs > relative)]
    integrated = -0.691 + 10 * math.log10(float(np.mean(gated)))
    return max(SILENCE_DB, integrated), rms_db, peak_db
