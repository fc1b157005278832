"""Audio I/O for every Ting service: decode whatever a caller sends to float32, encode WAV / FLAC.

Containers and codecs are read with PyAV (the FFmpeg libraries, no ``ffmpeg`` binary): WAV, FLAC, MP3,
Ogg/Opus, M4A/AAC, WebM/Opus and the soundtrack of video files (MP4, MKV, WebM). Headerless PCM
(``LINEAR16``, ``FLOAT32``, G.711 ``MULAW`` / ``ALAW``) is decoded with numpy and needs the caller to say
its sample rate. :func:`decode_audio` resamples (libswresample) to the target rate and downmixes to mono,
what speech models want; :func:`decode_audio_multichannel` keeps the source's rate (or resamples to a
target) and up to ``max_channels`` channels, what stem separation wants. Both go through the same
opening, limit checks and error translation below.

Every failure is a :mod:`ting_common.errors` domain error whose message a person can act on; no FFmpeg
exception or traceback leaves this module. Limits (:class:`AudioLimits`) are checked on the input size,
on the duration the container declares, and again on the samples actually decoded, so a lying header
cannot make the decoder use unbounded memory.

Paths are opened by Python and handed to FFmpeg as a file object, only media demuxers are allowed (no
playlists or concat lists) and nested opens are refused, so neither a caller-supplied name nor the
content of an upload makes FFmpeg fetch a URL or read another file.
"""

from __future__ import annotations

import enum
import io
import logging
import math
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Final

import av
import av.error
import numpy as np
import numpy.typing as npt
from av.audio.frame import AudioFrame
from av.audio.resampler import AudioResampler
from av.audio.stream import AudioStream
from av.container import InputContainer

from ting_common.errors import InvalidArgumentError, OutOfRangeError, ResourceExhaustedError

__all__ = [
    "AudioEncoding",
    "AudioLimits",
    "AudioReader",
    "DecodedAudio",
    "FrameResampler",
    "MultichannelAudio",
    "decode_audio",
    "decode_audio_multichannel",
    "encode_flac",
    "encode_wav",
    "iter_decode_audio",
    "open_audio",
    "probe_duration",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
AudioSource = bytes | bytearray | memoryview | str | os.PathLike[str]

_MB: Final = 1024 * 1024
_MAX_SAMPLE_RATE: Final = 768_000
_MAX_CHANNELS: Final = 64
# Raw PCM is converted this many source seconds at a time, which bounds the float copies held at once.
_RAW_BLOCK_SECONDS: Final = 10
# Without this swresample sums channels when downmixing to float (stereo at 0.8 became 1.13); with it the
# downmix matrix is normalized so mono stays within [-1, 1] like an average of the channels.
_RESAMPLER_OPTIONS: Final = {"rematrix_maxval": "1.0"}
_SUPPORTED: Final = "wav, flac, mp3, ogg/opus, m4a/aac, webm, mp4/mkv soundtracks"
# Demuxers FFmpeg may pick. Meta-formats that open other files (concat, hls, dash, image sequences, ...)
# stay out: an uploaded "ffconcat" list would otherwise read files next to the server's working directory.
_DEMUXERS: Final = ",".join(
    (
        "wav", "w64", "flac", "mp3", "ogg", "mov", "matroska", "aac", "aiff", "caf", "amr", "amrnb",
        "amrwb", "asf", "avi", "flv", "mpegts", "mpeg", "au", "voc", "ac3", "eac3", "dts", "wv",
        "ape", "tta", "mpc", "mpc8", "gsm", "rm", "mxf", "nut", "loas", "truehd", "mlp",
    )
)  # fmt: skip


class AudioEncoding(enum.Enum):
    """How the caller says the bytes are encoded; values mirror proto ``ting.audio.v1.AudioEncoding``.

    ``UNSPECIFIED`` and the container values are auto-detected (a container hint is only used when
    detection fails). The headerless encodings need ``sample_rate_hint`` (and ``channels_hint`` for more
    than one interleaved channel).
    """

    UNSPECIFIED = 0
    LINEAR16 = 1
    FLOAT32 = 2
    MULAW = 3
    ALAW = 4
    WAV = 5
    FLAC = 6
    MP3 = 7
    OGG_OPUS = 8
    WEBM_OPUS = 9
    MP4_AAC = 10


@dataclass(frozen=True)
class AudioLimits:
    """Upper bounds on one input: its size in bytes and its duration in seconds."""

    max_bytes: int = 100 * 1024 * 1024
    max_duration_s: float = 4 * 3600.0


@dataclass(frozen=True)
class DecodedAudio:
    """Decoded audio: mono float32 samples in [-1, 1] at ``sample_rate``, plus what the source was."""

    samples: FloatArray
    sample_rate: int
    duration_s: float
    source_format: str
    source_codec: str
    source_sample_rate: int
    source_channels: int


@dataclass(frozen=True)
class MultichannelAudio:
    """Decoded audio: float32 ``(channels, samples)`` in [-1, 1] at ``sample_rate``, plus what the source was.

    ``samples`` may be a view into a slightly larger buffer (no copy is made just to trim it).
    """

    samples: FloatArray
    sample_rate: int
    source_format: str
    source_codec: str
    source_sample_rate: int
    source_channels: int

    @property
    def channels(self) -> int:
        """Number of channels in ``samples``."""
        return int(self.samples.shape[0])

    @property
    def duration_s(self) -> float:
        """Duration in seconds."""
        return float(self.samples.shape[1] / self.sample_rate)


@dataclass
class AudioReaderInfo:
    """What was learned about the input while opening and decoding it."""

    format: str = ""
    codec: str = ""
    sample_rate: int = 0
    channels: int = 0


# Headerless encodings: bytes per sample and FFmpeg's codec name (reported as ``source_codec``).
_RAW: Final[dict[AudioEncoding, tuple[int, str]]] = {
    AudioEncoding.LINEAR16: (2, "pcm_s16le"),
    AudioEncoding.FLOAT32: (4, "pcm_f32le"),
    AudioEncoding.MULAW: (1, "pcm_mulaw"),
    AudioEncoding.ALAW: (1, "pcm_alaw"),
}

# Demuxer to force when auto-detection fails and the caller named the container.
_CONTAINER_HINTS: Final[dict[AudioEncoding, str]] = {
    AudioEncoding.WAV: "wav",
    AudioEncoding.FLAC: "flac",
    AudioEncoding.MP3: "mp3",
    AudioEncoding.OGG_OPUS: "ogg",
    AudioEncoding.WEBM_OPUS: "webm",
    AudioEncoding.MP4_AAC: "mp4",
}

# FFmpeg failures while opening, demuxing or decoding. FFmpegError subclasses also derive from builtins
# (InvalidDataError is a ValueError, EOFError an EOFError); ValueError/OSError cover bad metadata text and
# resampler setup, RuntimeError the odd PyAV internal check.
_AV_ERRORS: Final = (av.error.FFmpegError, ValueError, OSError, EOFError, RuntimeError)


def _g711_mulaw_table() -> FloatArray:
    """The 256 G.711 mu-law code words as floats in [-1, 1] (ITU-T G.711, as FFmpeg's pcm_mulaw)."""
    table = np.empty(256, dtype=np.float32)
    for code in range(256):
        u = ~code & 0xFF
        exponent = (u >> 4) & 0x07
        mantissa = u & 0x0F
        magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
        table[code] = (-magnitude if u & 0x80 else magnitude) / 32768.0
    return table


def _g711_alaw_table() -> FloatArray:
    """The 256 G.711 A-law code words as floats in [-1, 1] (ITU-T G.711, as FFmpeg's pcm_alaw)."""
    table = np.empty(256, dtype=np.float32)
    for code in range(256):
        a = code ^ 0x55
        exponent = (a >> 4) & 0x07
        mantissa = a & 0x0F
        magnitude = (mantissa << 4) + 8 if exponent == 0 else ((mantissa << 4) + 0x108) << (exponent - 1)
        table[code] = (magnitude if a & 0x80 else -magnitude) / 32768.0
    return table


_MULAW_TABLE: Final = _g711_mulaw_table()
_ALAW_TABLE: Final = _g711_alaw_table()


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


def decode_audio(
    data: AudioSource,
    *,
    encoding: AudioEncoding = AudioEncoding.UNSPECIFIED,
    sample_rate_hint: int = 0,
    channels_hint: int = 0,
    target_sample_rate: int = 16000,
    limits: AudioLimits | None = None,
) -> DecodedAudio:
    """Decode ``data`` (bytes or a file path) to mono float32 samples at ``target_sample_rate``.

    ``sample_rate_hint`` and ``channels_hint`` describe headerless encodings and are ignored for
    containers, which say their own rate and channels.

    Raises :class:`InvalidArgumentError` for empty, unreadable or unsupported input,
    :class:`ResourceExhaustedError` when the input is over ``limits`` and :class:`OutOfRangeError` for a
    hint outside its range. A truncated file decodes to whatever could be read, as ``ffmpeg`` does.
    """
    source = _open(data, encoding, sample_rate_hint, channels_hint, target_sample_rate, limits, max_channels=1)
    try:
        samples = _collect(source.pieces(), source.expected_seconds() * target_sample_rate)[0]
    finally:
        source.close()
    if samples.size == 0:
        raise InvalidArgumentError(_no_samples_message(source.info))
    info = source.info
    logger.debug(
        "decoded %s/%s %d Hz x%d to %.3f s at %d Hz",
        info.format,
        info.codec,
        info.sample_rate,
        info.channels,
        samples.size / target_sample_rate,
        target_sample_rate,
    )
    return DecodedAudio(
        samples=samples,
        sample_rate=target_sample_rate,
        duration_s=samples.size / target_sample_rate,
        source_format=info.format,
        source_codec=info.codec,
        source_sample_rate=info.sample_rate,
        source_channels=info.channels,
    )


def decode_audio_multichannel(
    data: AudioSource,
    *,
    encoding: AudioEncoding = AudioEncoding.UNSPECIFIED,
    sample_rate_hint: int = 0,
    channels_hint: int = 0,
    target_sample_rate: int | None = None,
    max_channels: int = 2,
    limits: AudioLimits | None = None,
) -> MultichannelAudio:
    """Decode ``data`` (bytes or a file path) to float32 ``(channels, samples)``, keeping the stereo image.

    The sample rate is the source's own unless ``target_sample_rate`` is given (if the rate changes
    mid-stream, everything is resampled to the first one). Sources with up to ``max_channels`` channels
    keep them; more are downmixed to ``max_channels`` by libswresample (e.g. 5.1 to stereo). Hints, limits
    and errors are those of :func:`decode_audio`.
    """
    if not 1 <= max_channels <= _MAX_CHANNELS:
        raise OutOfRangeError(f"max_channels must lie in 1..{_MAX_CHANNELS}, got {max_channels}")
    source = _open(
        data, encoding, sample_rate_hint, channels_hint, target_sample_rate, limits, max_channels=max_channels
    )
    try:
        rate = target_sample_rate or source.info.sample_rate
        samples = _collect(source.pieces(), source.expected_seconds() * rate)
    finally:
        source.close()
    info = source.info
    if samples.shape[1] == 0:
        raise InvalidArgumentError(_no_samples_message(info))
    rate = target_sample_rate or info.sample_rate
    logger.debug(
        "decoded %s/%s %d Hz x%d to %.3f s at %d Hz x%d",
        info.format,
        info.codec,
        info.sample_rate,
        info.channels,
        samples.shape[1] / rate,
        rate,
        samples.shape[0],
    )
    return MultichannelAudio(
        samples=samples,
        sample_rate=rate,
        source_format=info.format,
        source_codec=info.codec,
        source_sample_rate=info.sample_rate,
        source_channels=info.channels,
    )


def iter_decode_audio(
    data: AudioSource,
    *,
    encoding: AudioEncoding = AudioEncoding.UNSPECIFIED,
    sample_rate_hint: int = 0,
    channels_hint: int = 0,
    target_sample_rate: int = 16000,
    limits: AudioLimits | None = None,
    chunk_seconds: float = 30.0,
) -> Iterator[FloatArray]:
    """Decode like :func:`decode_audio`, yielding mono float32 chunks of ``chunk_seconds`` (the last shorter).

    The input is opened and checked (empty, format, size, declared duration) before this returns, so those
    errors are raised by the call itself; decoding errors and the decoded-duration limit are raised while
    iterating. Memory stays bounded by about one chunk plus one codec frame.
    """
    if not (math.isfinite(chunk_seconds) and chunk_seconds > 0):
        raise OutOfRangeError(f"chunk_seconds must be a positive number of seconds, got {chunk_seconds}")
    chunk_samples = max(1, round(chunk_seconds * target_sample_rate))
    source = _open(data, encoding, sample_rate_hint, channels_hint, target_sample_rate, limits, max_channels=1)
    return _iter_chunks(source, chunk_samples)


def open_audio(
    data: AudioSource,
    *,
    encoding: AudioEncoding = AudioEncoding.UNSPECIFIED,
    sample_rate_hint: int = 0,
    channels_hint: int = 0,
    target_sample_rate: int | None = None,
    limits: AudioLimits | None = None,
    max_channels: int = 1,
) -> AudioReader:
    """Open and check ``data`` (empty, format, size, declared duration) without decoding it; the reader's
    ``pieces()`` then decodes ``(channels, n)`` float32 pieces at ``target_sample_rate`` (the source's own rate when
    ``None``), at most ``max_channels`` channels (1: a mono downmix). Close it when done."""
    return _open(data, encoding, sample_rate_hint, channels_hint, target_sample_rate, limits, max_channels=max_channels)


def probe_duration(
    data: AudioSource,
    *,
    encoding: AudioEncoding = AudioEncoding.UNSPECIFIED,
    sample_rate_hint: int = 0,
    channels_hint: int = 0,
) -> float:
    """Return the duration of ``data`` in seconds, cheaply.

    Uses the duration the container declares when there is one (an estimate for some MP3s), the byte
    count for headerless PCM, and otherwise decodes the stream without resampling. No limits apply.
    """
    unlimited = AudioLimits(max_bytes=2**62, max_duration_s=math.inf)
    source = _open(data, encoding, sample_rate_hint, channels_hint, 16000, unlimited, max_channels=1)
    try:
        return source.probe_duration()
    finally:
        source.close()


def encode_wav(samples: npt.NDArray[Any], sample_rate: int) -> bytes:
    """Encode samples as a 16-bit PCM WAV file.

    ``samples`` is 1-D (mono) or ``(n, channels)``; floats are taken as [-1, 1] and clipped, integer
    arrays as int16 values.
    """
    pcm = _pcm16(samples, sample_rate)
    channels = pcm.shape[1]
    payload = np.ascontiguousarray(pcm).tobytes()
    block_align = 2 * channels
    header = b"RIFF" + struct.pack("<I", 36 + len(payload)) + b"WAVE"
    byte_rate = sample_rate * block_align
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, sample_rate, byte_rate, block_align, 16)
    header += b"data" + struct.pack("<I", len(payload))
    return header + payload


def encode_flac(samples: npt.NDArray[Any], sample_rate: int) -> bytes:
    """Encode samples as 16-bit FLAC (lossless; about half the size of WAV for music), with PyAV.

    ``samples`` is laid out as for :func:`encode_wav`: 1-D (mono) or ``(n, channels)``, up to 8 channels.
    """
    pcm = _pcm16(samples, sample_rate)
    channels = pcm.shape[1]
    if channels > 8:
        raise InvalidArgumentError(f"FLAC holds at most 8 channels, got {channels}")
    layout = _layout(channels)
    buffer = io.BytesIO()
    try:
        with av.open(buffer, mode="w", format="flac") as container:
            stream = container.add_stream("flac", rate=sample_rate, layout=layout)
            stream.format = "s16"
            step = 1 << 16
            for start in range(0, pcm.shape[0], step):
                block = np.ascontiguousarray(pcm[start : start + step]).reshape(1, -1)
                frame = AudioFrame.from_ndarray(block, format="s16", layout=layout)
                frame.sample_rate = sample_rate
                frame.pts = start
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
    except _AV_ERRORS as exc:
        raise InvalidArgumentError(
            f"could not encode {channels}-channel FLAC at {sample_rate} Hz: {_reason(exc)}"
        ) from None
    return buffer.getvalue()


def _pcm16(samples: npt.NDArray[Any], sample_rate: int) -> npt.NDArray[np.int16]:
    """Samples as little-endian int16 shaped ``(n, channels)``: floats in [-1, 1] are clipped and scaled."""
    if sample_rate <= 0 or sample_rate > _MAX_SAMPLE_RATE:
        raise OutOfRangeError(f"sample_rate must lie in 1..{_MAX_SAMPLE_RATE} Hz, got {sample_rate}")
    array = np.asarray(samples)
    if array.ndim == 1:
        array = array[:, np.newaxis]
    if array.ndim != 2 or array.shape[1] < 1:
        raise InvalidArgumentError(
            f"samples must be 1-D (mono) or shaped (n, channels), got shape {np.asarray(samples).shape}"
        )
    pcm: npt.NDArray[np.int16]
    if np.issubdtype(array.dtype, np.floating):
        pcm = (np.clip(array, -1.0, 1.0) * 32767.0).round().astype("<i2")
    elif np.issubdtype(array.dtype, np.integer):
        pcm = np.clip(array, -32768, 32767).astype("<i2")
    else:
        raise InvalidArgumentError(f"samples must be a float or integer array, got dtype {array.dtype}")
    return pcm


def _layout(channels: int) -> str:
    """FFmpeg's default channel layout for a channel count ("mono", "stereo", "5.1" for 6, ...)."""
    if channels == 1:
        return "mono"
    if channels == 2:
        return "stereo"
    return str(av.AudioLayout(f"{channels}c").name)


# --------------------------------------------------------------------------------------------------
# Opening: argument checks, limits, raw vs container
# --------------------------------------------------------------------------------------------------


class AudioReader:
    """An opened input that yields converted ``(channels, n)`` pieces of arbitrary length.

    The output rate is the target (or the source's own when there is none); the output channel count is
    the source's, capped at ``max_channels`` (1: a mono downmix).
    """

    info: AudioReaderInfo

    def pieces(self) -> Iterator[FloatArray]:
        raise NotImplementedError

    def probe_duration(self) -> float:
        raise NotImplementedError

    def expected_seconds(self) -> float:
        """The duration known before decoding (0 when unknown); only used to size buffers."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the source holds (nothing by default)."""


def _open(
    data: AudioSource,
    encoding: AudioEncoding,
    sample_rate_hint: int,
    channels_hint: int,
    target_sample_rate: int | None,
    limits: AudioLimits | None,
    *,
    max_channels: int,
) -> AudioReader:
    """Check the arguments and the limits that are known up front, then open the right kind of source."""
    limits = limits or AudioLimits()
    if not isinstance(encoding, AudioEncoding):
        raise InvalidArgumentError(f"unknown audio encoding {encoding!r}")
    if target_sample_rate is not None and not 0 < target_sample_rate <= _MAX_SAMPLE_RATE:
        raise OutOfRangeError(f"the target sample rate must lie in 1..{_MAX_SAMPLE_RATE} Hz, got {target_sample_rate}")
    if not 0 <= sample_rate_hint <= _MAX_SAMPLE_RATE:
        raise OutOfRangeError(
            f"sample_rate_hertz must lie in 1..{_MAX_SAMPLE_RATE} Hz (or 0 to detect it), got {sample_rate_hint}"
        )
    if not 0 <= channels_hint <= _MAX_CHANNELS:
        raise OutOfRangeError(
            f"the channel count must lie in 1..{_MAX_CHANNELS} (or 0 for the default), got {channels_hint}"
        )

    path: str | None = None
    if isinstance(data, bytes | bytearray | memoryview):
        size = memoryview(data).nbytes
    elif isinstance(data, str | os.PathLike):
        path = os.fspath(data)
        size = _file_size(path)
    else:
        raise InvalidArgumentError(f"audio must be bytes or a file path, got {type(data).__name__}")

    if size == 0:
        raise InvalidArgumentError("audio is empty: the request carried 0 bytes of audio")
    if size > limits.max_bytes:
        raise ResourceExhaustedError(
            f"the audio is {size / _MB:.1f} MB, over the {limits.max_bytes / _MB:.1f} MB limit; "
            "send a shorter or more compressed file (e.g. opus or mp3)"
        )

    # bytes are used as they are; a bytearray or memoryview is copied (after the size check), since the
    # caller could change it while we decode.
    blob: bytes | None = None
    if isinstance(data, bytes):
        blob = data
    elif isinstance(data, bytearray | memoryview):
        blob = bytes(data)
    if encoding in _RAW:
        raw = blob if blob is not None else _read_file(path or "")
        if _looks_like_container(raw[:16]):
            logger.info("audio was declared %s but carries a container header; auto-detecting", encoding.name)
            return _ContainerSource(raw, None, AudioEncoding.UNSPECIFIED, target_sample_rate, max_channels, limits)
        return _RawSource(raw, encoding, sample_rate_hint, channels_hint, target_sample_rate, max_channels, limits)
    return _ContainerSource(blob, path, encoding, target_sample_rate, max_channels, limits)


def _file_size(path: str) -> int:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        raise InvalidArgumentError(f"no such file: {path}") from None
    except OSError as exc:
        raise InvalidArgumentError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not os.path.isfile(path):
        raise InvalidArgumentError(f"not a regular file: {path}")
    return stat.st_size


def _read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise InvalidArgumentError(f"cannot read {path}: {exc.strerror or exc}") from None


def _looks_like_container(head: bytes) -> bool:
    """True when bytes declared headerless PCM start with a container signature (a WAV sent as LINEAR16)."""
    return (
        (head[:4] == b"RIFF" and head[8:12] == b"WAVE")
        or head[:4] in (b"fLaC", b"OggS", b"\x1aE\xdf\xa3")
        or head[:3] == b"ID3"
        or head[4:8] == b"ftyp"
    )


def _no_samples_message(info: AudioReaderInfo) -> str:
    what = f" ({info.format}/{info.codec})" if info.format and info.codec else ""
    return f"the audio{what} contains no audio samples; the file may be empty or cut off"


def _duration_exceeded(seconds: float, limits: AudioLimits, *, declared: bool) -> ResourceExhaustedError:
    if declared:
        what = f"the audio lasts {_hms(seconds)}, over the {_hms(limits.max_duration_s)} limit"
    else:
        what = f"the audio runs past the {_hms(limits.max_duration_s)} limit (decoding stopped at {_hms(seconds)})"
    return ResourceExhaustedError(f"{what}; split it into shorter parts")


def _hms(seconds: float) -> str:
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    frac = seconds - total
    if hours:
        return f"{hours} h {minutes:02d} min {secs:02d} s"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs + frac:.1f} s"


def _collect(pieces: Iterable[FloatArray], expected_samples: float) -> FloatArray:
    """Concatenate ``(channels, n)`` pieces into one ``(channels, total)`` array without holding them all plus a copy.

    The buffer starts at the expected size (plus slack for codec padding) and grows by half when needed,
    so decoding a long file peaks near one copy of the result instead of two. Each row of the result is
    contiguous (the result itself may be a view of a slightly longer buffer).
    """
    capacity = int(expected_samples * 1.01) + 16000 if expected_samples > 0 else 60 * 16000
    buffer: FloatArray | None = None
    used = 0
    for piece in pieces:
        if buffer is None:
            buffer = np.empty((piece.shape[0], capacity), dtype=np.float32)
        end = used + piece.shape[1]
        if end > buffer.shape[1]:
            grown = np.empty((buffer.shape[0], max(end, buffer.shape[1] + buffer.shape[1] // 2)), dtype=np.float32)
            grown[:, :used] = buffer[:, :used]
            buffer = grown
        buffer[:, used:end] = piece
        used = end
    if buffer is None:
        return np.empty((1, 0), dtype=np.float32)
    if used < buffer.shape[1] * 0.9:
        return buffer[:, :used].copy()  # do not keep a mostly empty buffer alive behind a view
    return buffer[:, :used]


def _iter_chunks(source: AudioReader, chunk_samples: int) -> Iterator[FloatArray]:
    """Regroup a source's pieces into fixed-size chunks; closes the source when done or abandoned."""
    try:
        produced = 0
        for chunk in _rechunk((piece[0] for piece in source.pieces()), chunk_samples):
            produced += chunk.size
            yield chunk
        if produced == 0:
            raise InvalidArgumentError(_no_samples_message(source.info))
    finally:
        source.close()


def _rechunk(pieces: Iterable[FloatArray], size: int) -> Iterator[FloatArray]:
    pending: list[FloatArray] = []
    held = 0
    for piece in pieces:
        if piece.size == 0:
            continue
        pending.append(piece)
        held += piece.size
        if held < size:
            continue
        joined = np.concatenate(pending)
        full = held // size
        for index in range(full):
            yield joined[index * size : (index + 1) * size]
        rest = joined[full * size :]
        pending = [rest.copy()] if rest.size else []
        held = rest.size
    if held:
        yield np.concatenate(pending)


# --------------------------------------------------------------------------------------------------
# Resampling (both paths)
# --------------------------------------------------------------------------------------------------


class FrameResampler:
    """libswresample to float32 ``channels`` at the target rate, rebuilt when the input layout/rate changes.

    One channel is a mono downmix (packed ``flt``); more are planar ``fltp`` in FFmpeg's default layout.
    """

    def __init__(self, target_sample_rate: int, channels: int = 1) -> None:
        self._target = target_sample_rate
        self._channels = channels
        self._resampler: AudioResampler | None = None
        self._key: tuple[str, str, int] | None = None

    def push(self, frame: AudioFrame) -> list[FloatArray]:
        key = (frame.format.name, frame.layout.name, frame.sample_rate)
        out: list[FloatArray] = []
        if key != self._key:
            if self._resampler is not None:
                logger.debug("audio parameters changed mid-stream from %s to %s", self._key, key)
                out.extend(self.flush())
            self._resampler = AudioResampler(
                format="flt" if self._channels == 1 else "fltp",
                layout=_layout(self._channels),
                rate=self._target,
                options=dict(_RESAMPLER_OPTIONS),
            )
            self._key = key
        assert self._resampler is not None
        out.extend(self._samples(f) for f in self._resampler.resample(frame))
        return out

    def flush(self) -> list[FloatArray]:
        if self._resampler is None:
            return []
        resampler, self._resampler, self._key = self._resampler, None, None
        return [self._samples(f) for f in resampler.resample(None)]

    def _samples(self, frame: AudioFrame) -> FloatArray:
        """The ``(channels, n)`` float samples of a resampled frame, copied out and clipped to [-1, 1]."""
        samples = np.asarray(frame.to_ndarray(), dtype=np.float32).reshape(self._channels, -1)
        clipped: FloatArray = np.clip(samples, -1.0, 1.0)
        return clipped


# --------------------------------------------------------------------------------------------------
# Headerless PCM
# --------------------------------------------------------------------------------------------------


class _RawSource(AudioReader):
    def __init__(
        self,
        raw: bytes,
        encoding: AudioEncoding,
        sample_rate: int,
        channels: int,
        target_sample_rate: int | None,
        max_channels: int,
        limits: AudioLimits,
    ) -> None:
        width, codec = _RAW[encoding]
        name = encoding.name
        if sample_rate == 0:
            raise InvalidArgumentError(
                f"{name} audio has no header, so its sample rate is unknown; "
                "set sample_rate_hertz (e.g. 16000, or 8000 for telephony)"
            )
        channels = channels or 1
        frame_bytes = width * channels
        if len(raw) % frame_bytes:
            detail = "an odd number of bytes" if width == 2 and channels == 1 else f"{len(raw)} bytes"
            raise InvalidArgumentError(
                f"{name} audio with {channels} channel(s) must be a whole number of {frame_bytes}-byte "
                f"sample frames, got {detail}; check the encoding and the channel count"
            )
        frames = len(raw) // frame_bytes
        duration = frames / sample_rate
        if duration > limits.max_duration_s:
            raise _duration_exceeded(duration, limits, declared=True)
        self.info = AudioReaderInfo(format="raw", codec=codec, sample_rate=sample_rate, channels=channels)
        self._raw = raw
        self._encoding = encoding
        self._width = width
        self._target = target_sample_rate or sample_rate
        self._channels = min(channels, max_channels)
        self._duration = duration

    def probe_duration(self) -> float:
        return self._duration

    def expected_seconds(self) -> float:
        return self._duration

    def pieces(self) -> Iterator[FloatArray]:
        rate = self.info.sample_rate
        channels = self.info.channels
        block = self._width * channels * rate * _RAW_BLOCK_SECONDS
        # numpy converts the channels when it is trivial (keep them all, or average them to mono);
        # libswresample does the rest (e.g. 6 channels to stereo) and any rate change.
        in_numpy = self._channels in (1, channels)
        resampler = None if rate == self._target and in_numpy else FrameResampler(self._target, self._channels)
        raw = memoryview(self._raw)
        for offset in range(0, len(self._raw), block):
            flat = self._to_float(raw[offset : offset + block])
            if channels == 1:
                planar = flat[np.newaxis, :]
            elif self._channels == 1:
                planar = flat.reshape(-1, channels).mean(axis=1, dtype=np.float32)[np.newaxis, :]
            else:
                planar = np.ascontiguousarray(flat.reshape(-1, channels).T)
            if resampler is None:
                yield np.clip(planar, -1.0, 1.0)
                continue
            layout = _layout(planar.shape[0])
            frame = AudioFrame.from_ndarray(planar, format="fltp", layout=layout)
            frame.sample_rate = rate
            try:
                yield from resampler.push(frame)
            except _AV_ERRORS as exc:
                raise InvalidArgumentError(
                    f"could not resample the {self._encoding.name} audio: {_reason(exc)}"
                ) from None
        if resampler is not None:
            yield from resampler.flush()

    def _to_float(self, chunk: memoryview) -> FloatArray:
        """Interleaved float32 samples of a block of whole frames."""
        samples: FloatArray
        if self._encoding is AudioEncoding.LINEAR16:
            samples = np.frombuffer(chunk, dtype="<i2").astype(np.float32) / np.float32(32768.0)
        elif self._encoding is AudioEncoding.FLOAT32:
            samples = np.frombuffer(chunk, dtype="<f4").astype(np.float32)
            if not np.isfinite(samples).all():
                raise InvalidArgumentError(
                    "FLOAT32 audio contains NaN or infinite samples; send finite values in [-1, 1]"
                )
        elif self._encoding is AudioEncoding.MULAW:
            samples = _MULAW_TABLE[np.frombuffer(chunk, dtype=np.uint8)]
        else:
            samples = _ALAW_TABLE[np.frombuffer(chunk, dtype=np.uint8)]
        return samples


# --------------------------------------------------------------------------------------------------
# Containers (PyAV)
# --------------------------------------------------------------------------------------------------


def _refuse_nested_open(url: str, flags: int, options: dict[str, str]) -> BinaryIO:
    """io_open hook: a demuxer (HLS, DASH, concat, ...) may not open other files or URLs."""
    raise PermissionError(f"opening {url!r} from inside an audio file is not allowed")


class _ContainerSource(AudioReader):
    def __init__(
        self,
        data: bytes | None,
        path: str | None,
        encoding: AudioEncoding,
        target_sample_rate: int | None,
        max_channels: int,
        limits: AudioLimits,
    ) -> None:
        self._target = target_sample_rate
        self._max_channels = max_channels
        self._limits = limits
        self._file: BinaryIO | None = None
        self._container = self._open_container(data, path, encoding)
        try:
            self._stream = self._pick_stream(self._container)
            context = self._stream.codec_context
            self.info = AudioReaderInfo(
                format=self._container.format.name,
                codec=_codec_name(self._stream),
                sample_rate=int(context.sample_rate or 0),
                channels=int(context.channels or 0),
            )
            declared = self._declared_duration()
            if declared is not None and declared > limits.max_duration_s:
                raise _duration_exceeded(declared, limits, declared=True)
            self._declared = declared
        except BaseException:
            self.close()
            raise

    # -- opening --

    def _open_container(self, data: bytes | None, path: str | None, encoding: AudioEncoding) -> InputContainer:
        forced = _CONTAINER_HINTS.get(encoding)
        try:
            return self._try_open(data, path, None)
        except _AV_ERRORS as exc:
            if forced is None:
                raise _open_error(exc) from None
            logger.debug("auto-detection failed (%s); retrying as %s as the caller said", exc, forced)
            try:
                return self._try_open(data, path, forced)
            except _AV_ERRORS as forced_exc:
                raise _open_error(forced_exc, hint=encoding) from None

    def _try_open(self, data: bytes | None, path: str | None, forced: str | None) -> InputContainer:
        self._close_file()
        handle: BinaryIO
        if data is not None:
            handle = io.BytesIO(data)
        else:
            try:
                handle = open(path or "", "rb")  # noqa: SIM115 - closed in close()
            except OSError as exc:
                raise InvalidArgumentError(f"cannot read {path}: {exc.strerror or exc}") from None
        self._file = handle
        return av.open(
            handle,
            mode="r",
            format=forced,
            container_options={"format_whitelist": _DEMUXERS},
            metadata_errors="replace",
            io_open=_refuse_nested_open,
        )

    @staticmethod
    def _pick_stream(container: InputContainer) -> AudioStream:
        audio = container.streams.audio
        if not audio:
            kinds = sorted({s.type for s in container.streams})
            what = f" (it has {', '.join(kinds)} only)" if kinds else ""
            raise InvalidArgumentError(f"the file has no audio stream{what}; send a file with a soundtrack")
        stream = audio[0]
        if stream.codec_context is None:
            raise InvalidArgumentError(
                f"the audio codec of this {container.format.name} file is not supported; use one of: {_SUPPORTED}"
            )
        return stream

    def _declared_duration(self) -> float | None:
        stream = self._stream
        if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
            return float(stream.duration * stream.time_base)
        if self._container.duration is not None and self._container.duration > 0:
            return self._container.duration / av.time_base
        return None

    # -- decoding --

    def expected_seconds(self) -> float:
        return min(self._declared or 0.0, self._limits.max_duration_s)

    def probe_duration(self) -> float:
        if self._declared is not None:
            return self._declared
        total = 0.0
        for frame in self._frames():
            if frame.sample_rate:
                total += frame.samples / frame.sample_rate
        if total == 0.0:
            raise InvalidArgumentError(_no_samples_message(self.info))
        return total

    def pieces(self) -> Iterator[FloatArray]:
        resampler: FrameResampler | None = None
        target = max_samples = 0.0
        produced = 0
        for frame in self._frames():
            if not self.info.sample_rate or not self.info.channels:
                self.info.sample_rate = self.info.sample_rate or frame.sample_rate
                self.info.channels = self.info.channels or frame.layout.nb_channels
            if resampler is None:
                target = self._target or self.info.sample_rate
                max_samples = self._limits.max_duration_s * target
                resampler = FrameResampler(target, min(self.info.channels, self._max_channels))
            try:
                pieces = resampler.push(frame)
            except _AV_ERRORS as exc:
                raise InvalidArgumentError(
                    f"could not convert the {self.info.codec} audio "
                    f"({frame.layout.name}, {frame.sample_rate} Hz): {_reason(exc)}"
                ) from None
            for piece in pieces:
                produced += piece.shape[1]
                if produced > max_samples:
                    raise _duration_exceeded(produced / target, self._limits, declared=False)
                yield piece
        if resampler is None:
            return
        try:
            tail = resampler.flush()
        except _AV_ERRORS as exc:
            logger.warning("could not flush the resampler: %s", exc)
            tail = []
        for piece in tail:
            produced += piece.shape[1]
            if produced > max_samples:
                raise _duration_exceeded(produced / target, self._limits, declared=False)
            yield piece

    def _frames(self) -> Iterator[AudioFrame]:
        """Decoded frames of the chosen stream; corrupt packets are skipped, a broken tail ends the stream."""
        stream = self._stream
        packets = self._container.demux(stream)
        decoded = 0
        bad_packets = 0
        first_error: BaseException | None = None
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except _AV_ERRORS as exc:
                # Like ffmpeg: a demuxer error (a truncated or damaged tail) ends the input.
                logger.info("stopped reading %s after a demuxer error: %s", self.info.format, exc)
                first_error = first_error or exc
                break
            try:
                frames = packet.decode()
            except av.error.DecoderNotFoundError:
                raise InvalidArgumentError(
                    f"the {self.info.codec} codec is not supported by this server; use one of: {_SUPPORTED}"
                ) from None
            except _AV_ERRORS as exc:
                if decoded == 0 and isinstance(exc, av.error.ArgumentError | av.error.PatchWelcomeError):
                    raise InvalidArgumentError(
                        f"the {self.info.codec} audio in this file cannot be decoded ({_reason(exc)}); "
                        f"use one of: {_SUPPORTED}"
                    ) from None
                bad_packets += 1
                first_error = first_error or exc
                continue
            for frame in frames:
                if isinstance(frame, AudioFrame) and frame.samples > 0:
                    decoded += 1
                    yield frame
        if bad_packets:
            logger.info("skipped %d undecodable %s packet(s)", bad_packets, self.info.codec)
        if decoded == 0 and first_error is not None:
            raise InvalidArgumentError(
                f"could not decode any audio from this {self.info.format}/{self.info.codec} file "
                f"({_reason(first_error)}); it may be truncated or damaged"
            )

    # -- cleanup --

    def close(self) -> None:
        container = getattr(self, "_container", None)
        if container is not None:
            try:
                container.close()
            except _AV_ERRORS as exc:  # pragma: no cover - closing an input does not fail in practice
                logger.debug("closing the container failed: %s", exc)
        self._close_file()

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _codec_name(stream: AudioStream) -> str:
    """The codec's canonical FFmpeg name ("mp3", not the decoder "mp3float")."""
    context = stream.codec_context
    try:
        return str(context.codec.canonical_name)
    except _AV_ERRORS:  # pragma: no cover - every codec has a descriptor
        return str(context.name)


def _reason(exc: BaseException) -> str:
    """A short human reason for an FFmpeg error, without errno numbers or file names."""
    if isinstance(exc, av.error.FFmpegError):
        text = exc.strerror or type(exc).__name__
        return str(text)
    return str(exc) or type(exc).__name__


def _open_error(exc: BaseException, *, hint: AudioEncoding | None = None) -> InvalidArgumentError:
    """Translate a failure to open a container into an actionable message."""
    if isinstance(exc, InvalidArgumentError):
        return exc
    declared = f" even as {hint.name}" if hint is not None else ""
    if isinstance(exc, EOFError):
        return InvalidArgumentError(
            f"could not read the audio{declared}: the data ends before any audio (truncated upload?)"
        )
    return InvalidArgumentError(
        f"could not read the audio{declared}: not a supported container/codec ({_SUPPORTED}), "
        f"or the file is damaged ({_reason(exc)}); for headerless PCM set the encoding and sample_rate_hertz"
    )
