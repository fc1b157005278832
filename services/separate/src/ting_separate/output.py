"""Stems written as they are separated: streaming WAV / FLAC encoders, loudness meter and resampler.

A long input never has its whole stems in memory: each finished block of a stem is resampled (when asked),
measured and encoded straight into a file object (a temporary file in storage, or a buffer when the stems
are returned inline). WAV is written with a provisional header that is patched once the length is known.
"""

from __future__ import annotations

import contextlib
import struct
from typing import BinaryIO, Final, Literal

import av
import numpy as np
from av.audio.frame import AudioFrame
from av.audio.resampler import AudioResampler
from scipy import signal

from ting_common.errors import InvalidArgumentError, ResourceExhaustedError
from ting_common.loudness import Loudness, k_weighting, summarize_energy
from ting_separate.engines import FloatArray

Format = Literal["wav", "flac"]
BITS: Final = (16, 24, 32)
_WAVE_PCM: Final = 1
_WAVE_FLOAT: Final = 3
_MAX_WAV_BYTES: Final = 0xFFFFFFFF


def check_bits(fmt: Format, bits: int) -> None:
    """Refuse sample formats a container cannot hold (32-bit float is WAV only)."""
    if bits not in BITS:
        raise InvalidArgumentError(f"bits_per_sample must be 16, 24 or 32, got {bits}")
    if fmt == "flac" and bits == 32:
        raise InvalidArgumentError("FLAC holds 16- or 24-bit integer samples; use WAV for 32-bit float stems")


def _integers(block: FloatArray, bits: int) -> np.ndarray:
    """``(channels, n)`` floats in [-1, 1] as interleaved little-endian integers of ``bits`` (16 or 24)."""
    scale = float((1 << (bits - 1)) - 1)
    return (np.clip(block.T, -1.0, 1.0) * scale).round().astype("<i4")


class StemEncoder:
    """Encode consecutive ``(channels, n)`` float blocks of one stem into ``out`` as WAV or FLAC.

    WAV: 16/24-bit integer PCM or 32-bit IEEE float (which keeps samples above full scale). FLAC: 16 or 24
    bit. ``close`` finishes the file (patches the WAV header, flushes the FLAC encoder).
    """

    def __init__(self, out: BinaryIO, fmt: Format, bits: int, sample_rate: int, channels: int) -> None:
        check_bits(fmt, bits)
        self.out, self.fmt, self.bits, self.rate, self.channels = out, fmt, bits, sample_rate, channels
        self.frames = 0
        self._data_bytes = 0
        if fmt == "wav":
            self._header_at = out.tell()
            out.write(self._wav_header())
            return
        layout = "mono" if channels == 1 else "stereo"
        self._container = av.open(out, mode="w", format="flac")
        options = {"bits_per_raw_sample": "24"} if bits == 24 else {}
        self._stream = self._container.add_stream("flac", rate=sample_rate, layout=layout, options=options)
        self._stream.format = "s32" if bits == 24 else "s16"
        self._layout = layout

    def _wav_header(self) -> bytes:
        float_ = self.bits == 32
        block_align = self.channels * self.bits // 8
        fmt = struct.pack(
            "<HHIIHH",
            _WAVE_FLOAT if float_ else _WAVE_PCM,
            self.channels,
            self.rate,
            self.rate * block_align,
            block_align,
            self.bits,
        )
        if float_:  # non-PCM formats carry cbSize and a fact chunk with the frame count
            fmt += struct.pack("<H", 0)
        chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
        if float_:
            chunks += b"fact" + struct.pack("<II", 4, self.frames)
        chunks += b"data" + struct.pack("<I", self._data_bytes)
        return b"RIFF" + struct.pack("<I", 4 + len(chunks) + self._data_bytes) + b"WAVE" + chunks

    def write(self, block: FloatArray) -> None:
        """Append ``block`` (``(channels, n)`` float32)."""
        n = block.shape[1]
        if n == 0:
            return
        if self.fmt == "wav":
            if self.bits == 32:
                payload = np.ascontiguousarray(block.T, dtype="<f4").tobytes()
            elif self.bits == 24:
                payload = np.ascontiguousarray(_integers(block, 24)).view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
            else:
                payload = _integers(block, 16).astype("<i2").tobytes()
            if self._data_bytes + len(payload) > _MAX_WAV_BYTES - 64:
                raise ResourceExhaustedError("a WAV stem cannot exceed 4 GiB; ask for FLAC or a lower sample rate")
            self.out.write(payload)
            self._data_bytes += len(payload)
        else:
            values = _integers(block, self.bits)
            if self.bits == 24:
                values = values << 8  # s32 with the 24 significant bits on top
            samples = values.astype("<i4" if self.bits == 24 else "<i2").reshape(1, -1)
            frame = AudioFrame.from_ndarray(samples, format=self._stream.format.name, layout=self._layout)
            frame.sample_rate = self.rate
            frame.pts = self.frames
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        self.frames += n

    def close(self) -> None:
        """Finish the file; ``out`` stays open."""
        if self.fmt == "wav":
            end = self.out.tell()
            self.out.seek(self._header_at)
            self.out.write(self._wav_header())
            self.out.seek(end)
            return
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()

    def abort(self) -> None:
        """Give up on the file (its bytes are discarded by the caller); frees the FLAC encoder."""
        if self.fmt == "flac":
            with contextlib.suppress(Exception):  # PyAV's own error types; nothing to report on a discarded file
                self._container.close()


class LoudnessMeter:
    """Integrated loudness (BS.1770-4), RMS and peak of a signal fed block by block, in constant memory.

    The same measure as :func:`ting_common.loudness.loudness` (K-weighting, 400 ms blocks every 100 ms,
    absolute and relative gates), with the K-weighting run as an IIR filter whose state carries over between
    blocks; only one float per 100 ms is kept.
    """

    def __init__(self, sample_rate: int, channels: int) -> None:
        self._b, self._a = k_weighting(sample_rate)
        self._state = np.zeros((channels, len(self._a) - 1), dtype=np.float64)
        self._step = max(1, round(0.1 * sample_rate))
        self._subs: list[float] = []  # K-weighted energy per 100 ms, channels summed (the last one partial)
        self._total = 0
        self._squares = 0.0
        self._peak = 0.0
        self._channels = channels

    def add(self, block: FloatArray) -> None:
        """Measure the next ``(channels, n)`` block."""
        n = block.shape[1]
        if n == 0:
            return
        x = np.asarray(block, dtype=np.float64)
        self._squares += float(np.einsum("ij,ij->", x, x))
        self._peak = max(self._peak, float(np.max(np.abs(x))))
        weighted, self._state = signal.lfilter(self._b, self._a, x, axis=1, zi=self._state)
        energy = np.sum(weighted**2, axis=0)
        first = self._total // self._step
        per_sub = np.bincount(np.arange(self._total, self._total + n) // self._step - first, weights=energy)
        if len(self._subs) <= first:
            self._subs.append(0.0)
        for offset, value in enumerate(per_sub.tolist()):
            if first + offset < len(self._subs):
                self._subs[first + offset] += value
            else:
                self._subs.append(value)
        self._total += n

    def result(self) -> Loudness:
        """The loudness of everything added so far; silence reads ``SILENCE_DB``."""
        return summarize_energy(
            np.asarray(self._subs, dtype=np.float64),
            step=self._step,
            channels=self._channels,
            samples=self._total,
            square_sum=self._squares,
            peak=self._peak,
        )


class BlockResampler:
    """Resample consecutive ``(channels, n)`` float blocks to another rate with libswresample (stateful,
    so block edges leave no seams); no clipping, so stems above full scale stay so."""

    def __init__(self, source_rate: int, target_rate: int, channels: int) -> None:
        self._layout = "mono" if channels == 1 else "stereo"
        self._source_rate, self._channels = source_rate, channels
        self._resampler = AudioResampler(format="fltp", layout=self._layout, rate=target_rate)
        self._pts = 0

    def push(self, block: FloatArray | None) -> FloatArray:
        """Resample ``block``; ``None`` flushes what the filter still holds."""
        frame: AudioFrame | None = None
        if block is not None:
            if block.shape[1] == 0:
                return np.zeros((self._channels, 0), np.float32)
            frame = AudioFrame.from_ndarray(
                np.ascontiguousarray(block, dtype=np.float32), format="fltp", layout=self._layout
            )
            frame.sample_rate = self._source_rate
            frame.pts = self._pts
            self._pts += block.shape[1]
        out = [
            np.asarray(f.to_ndarray(), dtype=np.float32).reshape(self._channels, -1)
            for f in self._resampler.resample(frame)
        ]
        return np.concatenate(out, axis=1) if out else np.zeros((self._channels, 0), np.float32)


class StemWriter:
    """One stem on its way out: resampled to the output rate (when it differs), measured and encoded into
    ``file`` block by block."""

    def __init__(
        self, file: BinaryIO, fmt: Format, bits: int, source_rate: int, sample_rate: int, channels: int
    ) -> None:
        self.file = file
        self.sample_rate = sample_rate
        self.channels = channels
        self._start = file.tell()
        self._resampler = BlockResampler(source_rate, sample_rate, channels) if source_rate != sample_rate else None
        self._meter = LoudnessMeter(sample_rate, channels)
        self._encoder = StemEncoder(file, fmt, bits, sample_rate, channels)

    @property
    def size_bytes(self) -> int:
        """Bytes written so far."""
        return self.file.tell() - self._start

    def write(self, block: FloatArray) -> None:
        """Append the next ``(channels, n)`` block at the source rate."""
        if self._resampler is not None:
            block = self._resampler.push(block)
        self._meter.add(block)
        self._encoder.write(block)

    def finish(self) -> Loudness:
        """Flush the resampler and finish the file; return the stem's loudness."""
        if self._resampler is not None:
            tail = self._resampler.push(None)
            self._meter.add(tail)
            self._encoder.write(tail)
        self._encoder.close()
        return self._meter.result()

    def abort(self) -> None:
        """Stop without finishing the file (on an error or a cancelled call)."""
        self._encoder.abort()
