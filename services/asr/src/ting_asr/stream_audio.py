"""Audio of a streaming recognition: the chunks of one stream in, 16 kHz mono float32 out, as they arrive.

Two decoders behind one interface (:class:`StreamDecoder`), picked by :func:`stream_decoder`:

* :class:`PcmDecoder`: headerless LINEAR16 / FLOAT32 chunks (any rate in 8-48 kHz, interleaved channels),
  converted with numpy and resampled with libswresample, which keeps its filter state between chunks.
* :class:`ContainerStreamDecoder`: an Ogg/Opus or WebM/Opus stream cut anywhere (what a browser's
  MediaRecorder sends, one ``timeslice`` blob after another, or any slicing down to single bytes). FFmpeg's
  demuxers pull their input, so a dedicated thread runs PyAV's demux + decode + resample over a bounded
  blocking byte pipe (:class:`_BytePipe`). ``push`` writes a chunk into the pipe, waits until the thread has
  consumed it and is blocked for more, and returns the audio decoded so far: output grows with input, behind
  only the container's own look-ahead (one Ogg page, one Matroska block). Memory is bounded by the pipe, the
  AVIO buffer and the audio decoded from one chunk.

Only the declared container's demuxer runs (``format=`` on ``av.open``; no probing, no nested opens) and only
Opus (or Vorbis) audio is decoded. Bytes that are not that container become an :class:`InvalidArgumentError`
within a bounded number of bytes: the first bytes must carry the container's signature, a demuxer error ends
the stream, and a stream that yields no audio for ``_MAX_BYTES_WITHOUT_AUDIO`` bytes (a Matroska demuxer
resyncing through garbage) is refused. The thread ends with the stream: at its end (``flush``), when it is
closed or cancelled (``close``), and after an error.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import BinaryIO, ClassVar, Final, Protocol

import av
import av.error
import numpy as np
import numpy.typing as npt
from av.audio.frame import AudioFrame
from av.audio.resampler import AudioResampler
from av.audio.stream import AudioStream
from av.container import InputContainer

from ting_common.audio import AudioEncoding, FrameResampler
from ting_common.errors import InvalidArgumentError, UnimplementedError

__all__ = [
    "MAX_CHANNELS",
    "MAX_SAMPLE_RATE",
    "MIN_SAMPLE_RATE",
    "SAMPLE_RATE",
    "THREAD_PREFIX",
    "ContainerStreamDecoder",
    "PcmDecoder",
    "StreamDecoder",
    "stream_decoder",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
SAMPLE_RATE: Final = 16_000
MIN_SAMPLE_RATE: Final = 8_000
MAX_SAMPLE_RATE: Final = 48_000
MAX_CHANNELS: Final = 8

# The pipe holds at most this many bytes the demuxer has not read yet; a larger chunk is fed in pieces.
_PIPE_BYTES: Final = 64 * 1024
# FFmpeg's read size (AVIO buffer) on the pipe.
_AVIO_BUFFER: Final = 16 * 1024
# A stream that decodes no audio for this many bytes is not the declared container (or is damaged beyond use).
_MAX_BYTES_WITHOUT_AUDIO: Final = 1024 * 1024
# Undecodable packets skipped before the first decoded frame, after which the stream is refused.
_MAX_BAD_PACKETS: Final = 50
# How long push/flush wait for the decoder thread; it only computes (never waits on anything but the pipe), so
# reaching this means a demuxer or decoder is stuck.
_DECODER_TIMEOUT_S: Final = 30.0
# How long close waits for the thread to end after telling it to stop.
_CLOSE_TIMEOUT_S: Final = 5.0
THREAD_PREFIX: Final = "asr-stream-decode"

# Declared encoding -> (FFmpeg demuxer, name for messages, signature the first bytes must carry).
_CONTAINERS: Final[dict[AudioEncoding, tuple[str, str, bytes]]] = {
    AudioEncoding.OGG_OPUS: ("ogg", "Ogg/Opus", b"OggS"),
    AudioEncoding.WEBM_OPUS: ("webm", "WebM/Opus", b"\x1a\x45\xdf\xa3"),
}
_CODECS: Final = frozenset({"opus", "vorbis"})
# What a wrong stream most likely is, by its first bytes (for the error message).
_SIGNATURES: Final = (
    (b"OggS", "an Ogg stream (declare AUDIO_ENCODING_OGG_OPUS)"),
    (b"\x1a\x45\xdf\xa3", "a WebM/Matroska stream (declare AUDIO_ENCODING_WEBM_OPUS)"),
    (b"RIFF", "a WAV file"),
    (b"fLaC", "a FLAC file"),
    (b"ID3", "an MP3 file"),
)

# FFmpeg failures while opening, demuxing or decoding (as in ting_common.audio).
_AV_ERRORS: Final = (av.error.FFmpegError, ValueError, OSError, EOFError, RuntimeError)


def _empty() -> FloatArray:
    return np.zeros(0, dtype=np.float32)


def _join(pieces: list[FloatArray]) -> FloatArray:
    if not pieces:
        return _empty()
    return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)


class StreamDecoder(Protocol):
    """Chunks of one stream -> 16 kHz mono float32 in [-1, 1]; errors are :mod:`ting_common.errors`."""

    #: True when ``push`` and ``flush`` may wait for a decoder thread: call them off the event loop.
    blocking: ClassVar[bool]

    def push(self, data: bytes) -> FloatArray:
        """Decode one chunk; returns the samples it completed (possibly none)."""
        ...

    def flush(self) -> FloatArray:
        """The end of the stream: the samples still held back."""
        ...

    def close(self) -> None:
        """Release what the decoder holds (its thread); safe to call more than once, from any thread."""
        ...


def stream_decoder(encoding: AudioEncoding, sample_rate: int, channels: int) -> StreamDecoder:
    """The decoder for a stream's declared audio format. ``sample_rate`` and ``channels`` describe headerless PCM
    and are ignored for containers, which describe themselves."""
    if encoding in _CONTAINERS:
        return ContainerStreamDecoder(encoding)
    if encoding in (AudioEncoding.LINEAR16, AudioEncoding.FLOAT32):
        return PcmDecoder(encoding, sample_rate, channels or 1)
    raise UnimplementedError(
        f"streams accept LINEAR16 or FLOAT32 PCM chunks, or an Ogg/Opus or WebM/Opus stream; {encoding.name} is "
        "not served in streams (send the file to Recognize, or convert it to one of those)"
    )


# -- headerless PCM ---------------------------------------------------------------------------------------
class PcmDecoder:
    """Headerless PCM chunks -> 16 kHz mono float32, with state across chunks (partial frames, resampler)."""

    blocking: ClassVar[bool] = False

    def __init__(self, encoding: AudioEncoding, sample_rate: int, channels: int) -> None:
        if encoding not in (AudioEncoding.LINEAR16, AudioEncoding.FLOAT32):
            raise UnimplementedError(
                f"PcmDecoder decodes LINEAR16 or FLOAT32 PCM chunks, not {encoding.name}; use stream_decoder()"
            )
        if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
            raise InvalidArgumentError(
                f"audio_format.sample_rate_hertz must be between {MIN_SAMPLE_RATE} and {MAX_SAMPLE_RATE} for "
                f"streaming, got {sample_rate}"
            )
        if not 1 <= channels <= MAX_CHANNELS:
            raise InvalidArgumentError(f"audio_format.channel_count must be 1..{MAX_CHANNELS}, got {channels}")
        self._dtype = np.dtype("<i2") if encoding is AudioEncoding.LINEAR16 else np.dtype("<f4")
        self._frame_bytes = self._dtype.itemsize * channels
        self._channels = channels
        self._rate = sample_rate
        self._pending = b""
        self._pts = 0
        self._resampler = (
            None if sample_rate == SAMPLE_RATE else AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        )

    def push(self, data: bytes) -> FloatArray:
        """Decode one chunk; bytes of an incomplete sample frame wait for the next chunk."""
        data = self._pending + data
        usable = len(data) - len(data) % self._frame_bytes
        self._pending = data[usable:]
        if usable == 0:
            return _empty()
        raw = np.frombuffer(data[:usable], dtype=self._dtype).reshape(-1, self._channels)
        scale = 32768.0 if self._dtype.kind == "i" else 1.0
        mono = (raw.astype(np.float32).mean(axis=1) / scale).astype(np.float32)
        return self._resample(mono)

    def flush(self) -> FloatArray:
        """The resampler's last samples, at the end of the stream."""
        if self._resampler is None:
            return _empty()
        return self._collect(self._resampler.resample(None))

    def close(self) -> None:
        """Nothing to release."""

    def _resample(self, mono: FloatArray) -> FloatArray:
        if self._resampler is None:
            return np.clip(mono, -1.0, 1.0)
        frame = AudioFrame.from_ndarray(mono.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = self._rate
        frame.pts = self._pts
        self._pts += mono.size
        return self._collect(self._resampler.resample(frame))

    @staticmethod
    def _collect(frames: list[AudioFrame]) -> FloatArray:
        if not frames:
            return _empty()
        out = np.concatenate([np.asarray(f.to_ndarray(), dtype=np.float32).reshape(-1) for f in frames])
        clipped: FloatArray = np.clip(out, -1.0, 1.0)
        return clipped


# -- containers ---------------------------------------------------------------------------------------------
class _BytePipe:
    """A bounded byte pipe between the caller (``write``) and FFmpeg's reads on the decoder thread (``read``).

    ``read`` blocks until bytes arrive or the input ends; ``write`` blocks while the pipe is full. ``wait_idle``
    returns once the reader has taken every byte and is blocked for more (or has finished): at that point the
    decoder has turned everything it could into audio. All waits wake when the reader finishes.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._buffer = bytearray()
        self._cond = threading.Condition()
        self._eof = False  # the writer is done: reads drain the buffer, then return b""
        self._aborted = False  # stop now: reads return b"" at once
        self._reader_waiting = False
        self._reader_done = False
        self.consumed = 0  # bytes handed to the reader so far

    @property
    def lock(self) -> threading.Condition:
        return self._cond

    @property
    def aborted(self) -> bool:
        return self._aborted

    # -- reader (FFmpeg's AVIO, on the decoder thread) --
    def read(self, size: int = -1) -> bytes:
        with self._cond:
            while not self._buffer and not self._eof and not self._aborted:
                self._reader_waiting = True
                self._cond.notify_all()
                self._cond.wait()
            self._reader_waiting = False
            if self._aborted:
                return b""
            size = len(self._buffer) if size < 0 else size
            out = bytes(self._buffer[:size])
            del self._buffer[:size]
            self.consumed += len(out)
            self._cond.notify_all()
            return out

    def reader_done(self) -> None:
        with self._cond:
            self._reader_done = True
            self._cond.notify_all()

    # -- writer (the caller of push / flush) --
    def write(self, data: bytes, deadline: float) -> None:
        """Append ``data``, waiting for room; returns early when the reader has finished."""
        view = memoryview(data)
        with self._cond:
            while view:
                if self._reader_done or self._aborted:
                    return
                room = self._capacity - len(self._buffer)
                if room > 0:
                    self._buffer += view[:room]
                    view = view[room:]
                    self._cond.notify_all()
                    continue
                self._wait(deadline)

    def wait_idle(self, deadline: float) -> None:
        with self._cond:
            while not self._reader_done and not (self._reader_waiting and not self._buffer):
                self._wait(deadline)

    def wait_done(self, deadline: float) -> None:
        with self._cond:
            while not self._reader_done:
                self._wait(deadline)

    def end(self) -> None:
        """No more input: the reader drains what is buffered, then sees the end."""
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def abort(self) -> None:
        """Stop the reader at its next read, dropping buffered bytes."""
        with self._cond:
            self._aborted = True
            self._buffer.clear()
            self._cond.notify_all()

    def _wait(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        self._cond.wait(left)


def _refuse_nested_open(url: str, flags: int, options: dict[str, str]) -> BinaryIO:
    """io_open hook: the demuxer may not open other files or URLs."""
    raise PermissionError(f"opening {url!r} from inside an audio stream is not allowed")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, av.error.FFmpegError):
        return str(exc.strerror or type(exc).__name__)
    return str(exc) or type(exc).__name__


class ContainerStreamDecoder:
    """An Ogg/Opus or WebM/Opus stream, cut anywhere, -> 16 kHz mono float32 as it arrives (see the module doc).

    Not thread-safe except ``close``, which any thread may call at any time (e.g. while ``push`` waits).
    """

    blocking: ClassVar[bool] = True

    def __init__(self, encoding: AudioEncoding) -> None:
        if encoding not in _CONTAINERS:
            raise UnimplementedError(f"ContainerStreamDecoder decodes Ogg/Opus or WebM/Opus, not {encoding.name}")
        self._demuxer, self.name, self._signature = _CONTAINERS[encoding]
        self._pipe = _BytePipe(_PIPE_BYTES)
        self._head = b""  # the first bytes, until the signature is checked
        self._thread: threading.Thread | None = None
        # Written by the decoder thread under the pipe's lock.
        self._out: list[FloatArray] = []
        self._error: InvalidArgumentError | None = None
        self._consumed_at_audio = 0
        self._decoded = 0  # 16 kHz samples produced
        self._opened = False
        self._ended = False  # flush() or close() was called
        self.codec = ""

    # -- caller side ------------------------------------------------------------------------------
    def push(self, data: bytes) -> FloatArray:
        if self._ended:
            raise InvalidArgumentError(f"the {self.name} stream has already ended")
        self._raise_error()
        if not data:
            return _empty()
        if self._thread is None:
            self._head += data
            if len(self._head) < len(self._signature):
                return _empty()
            data, self._head = self._head, b""
            if not data.startswith(self._signature):
                self._ended = True
                raise self._signature_error(data)
            self._start()
        deadline = time.monotonic() + _DECODER_TIMEOUT_S
        try:
            self._pipe.write(data, deadline)
            self._pipe.wait_idle(deadline)
        except TimeoutError:
            self.close()
            raise InvalidArgumentError(
                f"could not decode the {self.name} stream: the decoder made no progress in {_DECODER_TIMEOUT_S:g} s"
            ) from None
        out = self._take()
        self._raise_error()
        if self._pipe.consumed - self._consumed_at_audio > _MAX_BYTES_WITHOUT_AUDIO:
            self.close()
            where = "since the last audio" if self._decoded else "from the start"
            raise InvalidArgumentError(
                f"audio chunks are not {self.name}: no audio in {self._pipe.consumed - self._consumed_at_audio} "
                f"bytes {where} (damaged, or another format)"
            )
        return out

    def flush(self) -> FloatArray:
        """End of the stream: decode what the pipe still holds, flush the codec and the resampler, stop the thread."""
        if self._ended:
            return _empty()
        self._ended = True
        if self._thread is None:
            if self._head:
                raise InvalidArgumentError(
                    f"audio chunks are not {self.name}: the stream ended after {len(self._head)} byte(s)"
                )
            return _empty()
        self._raise_error()
        self._pipe.end()
        try:
            self._pipe.wait_done(time.monotonic() + _DECODER_TIMEOUT_S)
        except TimeoutError:
            self.close()
            raise InvalidArgumentError(
                f"could not decode the end of the {self.name} stream in {_DECODER_TIMEOUT_S:g} s"
            ) from None
        self._join()
        out = self._take()
        self._raise_error()
        return out

    def close(self) -> None:
        """Stop the decoder thread (it ends at its next read) and wait for it."""
        self._ended = True
        self._pipe.abort()
        self._join()

    @property
    def alive(self) -> bool:
        """Whether the decoder thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def _signature_error(self, head: bytes) -> InvalidArgumentError:
        what = next((name for sig, name in _SIGNATURES if head.startswith(sig)), None)
        if what is None and len(head) >= 3 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
            what = "an MP3 or AAC stream"
        detail = f"the chunks look like {what}" if what else f"they start with {head[:8]!r}, not {self._signature!r}"
        return InvalidArgumentError(
            f"audio chunks are not {self.name}: {detail}; send the container stream from its first byte, or declare "
            "AUDIO_ENCODING_LINEAR16 with sample_rate_hertz for raw PCM"
        )

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"{THREAD_PREFIX}-{self._demuxer}", daemon=True)
        self._thread.start()

    def _join(self) -> None:
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return
        thread.join(_CLOSE_TIMEOUT_S)
        if thread.is_alive():  # pragma: no cover - a read returns at once after abort
            logger.warning("the %s decoder thread did not stop within %g s", self.name, _CLOSE_TIMEOUT_S)

    def _take(self) -> FloatArray:
        with self._pipe.lock:
            pieces, self._out = self._out, []
        return _join(pieces)

    def _raise_error(self) -> None:
        if self._error is not None:
            self._ended = True
            self._join()  # the thread has reported its error and is ending
            raise self._error

    # -- decoder thread ------------------------------------------------------------------------------
    def _run(self) -> None:
        container: InputContainer | None = None
        try:
            container = self._open()
            stream = self._pick_stream(container)
            self._decode(container, stream)
        except InvalidArgumentError as exc:
            self._fail(exc)
        except _AV_ERRORS as exc:
            self._fail(self._demux_error(exc))
        except Exception as exc:  # pragma: no cover - a bug, not the input; still end the stream cleanly
            logger.exception("the %s decoder failed", self.name)
            self._fail(InvalidArgumentError(f"could not decode the {self.name} stream: {_reason(exc)}"))
        finally:
            if container is not None:
                try:
                    container.close()
                except _AV_ERRORS as exc:  # pragma: no cover
                    logger.debug("closing the container failed: %s", exc)
            self._pipe.reader_done()

    def _open(self) -> InputContainer:
        try:
            container = av.open(
                self._pipe,
                mode="r",
                format=self._demuxer,
                buffer_size=_AVIO_BUFFER,
                metadata_errors="replace",
                io_open=_refuse_nested_open,
            )
        except EOFError:
            raise InvalidArgumentError(
                f"audio chunks are not {self.name}: the stream ended before its headers were complete"
            ) from None
        self._opened = True
        return container

    def _pick_stream(self, container: InputContainer) -> AudioStream:
        audio = container.streams.audio
        if not audio:
            raise InvalidArgumentError(f"audio chunks are not {self.name}: the stream has no audio track")
        stream = audio[0]
        context = stream.codec_context
        codec = str(context.name) if context is not None else "unknown"
        if codec not in _CODECS:
            raise InvalidArgumentError(
                f"audio chunks are not {self.name}: its audio codec is {codec}; streams accept Opus (or Vorbis)"
            )
        self.codec = codec
        return stream

    def _decode(self, container: InputContainer, stream: AudioStream) -> None:
        resampler = FrameResampler(SAMPLE_RATE)  # mono: (1, n) pieces
        bad_packets = 0
        frames = 0
        for packet in container.demux(stream):
            try:
                decoded = packet.decode()
            except _AV_ERRORS as exc:
                bad_packets += 1
                if frames == 0 and bad_packets >= _MAX_BAD_PACKETS:
                    raise InvalidArgumentError(
                        f"audio chunks are not {self.name}: {bad_packets} packets could not be decoded ({_reason(exc)})"
                    ) from None
                logger.debug("skipped an undecodable %s packet: %s", self.codec, exc)
                continue
            out: list[FloatArray] = []
            audio = [f for f in decoded if isinstance(f, AudioFrame) and f.samples > 0]
            for frame in audio:
                out.extend(piece.reshape(-1) for piece in resampler.push(frame))
            if audio:
                frames += len(audio)
                self._deliver(out, audio=True)
        if self._pipe.aborted:
            return
        self._deliver([piece.reshape(-1) for piece in resampler.flush()], audio=False)
        if bad_packets:
            logger.info("skipped %d undecodable %s packet(s)", bad_packets, self.codec)

    def _deliver(self, pieces: list[FloatArray], *, audio: bool) -> None:
        with self._pipe.lock:
            self._out.extend(pieces)
            self._decoded += sum(p.size for p in pieces)
            if audio:
                self._consumed_at_audio = self._pipe.consumed

    def _fail(self, error: InvalidArgumentError) -> None:
        with self._pipe.lock:
            if self._error is None and not self._pipe.aborted:
                self._error = error

    def _demux_error(self, exc: BaseException) -> InvalidArgumentError:
        if not self._opened:
            return InvalidArgumentError(f"audio chunks are not {self.name}: {_reason(exc)}")
        seconds = self._decoded / SAMPLE_RATE
        return InvalidArgumentError(
            f"audio chunks are not {self.name} after {seconds:.2f} s of audio (the stream is damaged or another "
            f"format follows): {_reason(exc)}"
        )
