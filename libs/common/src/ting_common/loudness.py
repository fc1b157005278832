"""Loudness of audio: integrated loudness per ITU-R BS.1770-4 (LUFS), RMS and sample peak (dBFS).

The K-weighting filter (a +4 dB high shelf above ~1.7 kHz and the RLB high-pass at ~38 Hz, both designed
for the actual sample rate) is an IIR filter. ``ting_common`` depends on numpy only, so it is applied as
its impulse response, sampled over half a second (by then it has decayed by more than 100 dB), with FFT
overlap-add convolution block by block: the result matches a direct IIR filter to within float
rounding, and memory stays bounded by one block however long the audio is.

Gating follows BS.1770-4: 400 ms blocks every 100 ms, an absolute gate at -70 LUFS, then a relative gate
10 LU under the loudness of the blocks that passed. Every channel has weight 1 (mono, stereo, L/R/C;
surround channels are not given the standard's +1.5 dB).
"""

from __future__ import annotations

import math
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt

from ting_common.errors import InvalidArgumentError, OutOfRangeError

__all__ = ["SILENCE_DB", "Loudness", "k_weighting", "loudness", "summarize_energy"]

F64Array = npt.NDArray[np.float64]

SILENCE_DB: Final = -120.0
_ABSOLUTE_GATE_LUFS: Final = -70.0
_RELATIVE_GATE_LU: Final = -10.0
_IMPULSE_SECONDS: Final = 0.5


class Loudness(NamedTuple):
    """Loudness figures of one signal; silence reads :data:`SILENCE_DB` in each."""

    integrated_lufs: float
    rms_dbfs: float  # relative to a full-scale square wave: a full-scale sine reads -3 dBFS
    peak_dbfs: float  # sample peak


def k_weighting(sample_rate: int) -> tuple[F64Array, F64Array]:
    """BS.1770 K-weighting (high shelf, then RLB high-pass) as one 4th-order IIR ``(b, a)`` for ``sample_rate``.

    The analogue prototypes are re-derived for any rate (the standard tabulates 48 kHz only).
    """
    if sample_rate <= 0:
        raise OutOfRangeError(f"sample_rate must be positive, got {sample_rate}")
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / sample_rate)
    vh = 10 ** (gain_db / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf_b = np.array([(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0])
    shelf_a = np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    f1, q1 = 38.13547087602444, 0.5003270373238773
    k1 = math.tan(math.pi * f1 / sample_rate)
    a1 = 1 + k1 / q1 + k1 * k1
    hp_b = np.array([1.0, -2.0, 1.0])
    hp_a = np.array([1.0, 2 * (k1 * k1 - 1) / a1, (1 - k1 / q1 + k1 * k1) / a1])
    return np.convolve(shelf_b, hp_b), np.convolve(shelf_a, hp_a)


def _frequency_response(b: F64Array, a: F64Array, fft_size: int) -> npt.NDArray[np.complex128]:
    """``B(z) / A(z)`` on the ``rfft`` grid of ``fft_size`` points."""
    z_inv = np.exp(-2j * np.pi * np.arange(fft_size // 2 + 1) / fft_size)
    response: npt.NDArray[np.complex128] = np.polynomial.polynomial.polyval(
        z_inv, b
    ) / np.polynomial.polynomial.polyval(z_inv, a)
    return response


def _db(power: float) -> float:
    return max(SILENCE_DB, 10.0 * math.log10(power)) if power > 0 else SILENCE_DB


def loudness(samples: npt.NDArray[np.floating], sample_rate: int) -> Loudness:
    """Integrated loudness (BS.1770-4, gated), RMS and sample peak of ``samples``.

    ``samples`` is 1-D (mono) or ``(channels, n)``, floats in [-1, 1] (full scale).
    """
    x = np.asarray(samples)
    if x.ndim == 1:
        x = x[np.newaxis, :]
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.floating):
        raise InvalidArgumentError(f"samples must be float, 1-D or (channels, n); got {x.dtype} {x.shape}")
    b, a = k_weighting(sample_rate)
    channels, total = x.shape
    if total == 0 or channels == 0:
        return Loudness(SILENCE_DB, SILENCE_DB, SILENCE_DB)

    taps = 1 << max(6, math.ceil(math.log2(_IMPULSE_SECONDS * sample_rate)))
    fft_size = 2 * taps
    impulse = np.fft.irfft(_frequency_response(b, a, fft_size), fft_size)[:taps]
    kernel = np.fft.rfft(impulse, fft_size)
    step = max(1, round(0.1 * sample_rate))  # 100 ms: the hop between 400 ms gating blocks
    sub_energy = np.zeros(total // step + 1, dtype=np.float64)  # K-weighted energy per 100 ms, channels summed
    carry = np.zeros((channels, taps), dtype=np.float64)
    square_sum = 0.0
    peak = 0.0
    for start in range(0, total, taps):
        block = np.asarray(x[:, start : start + taps], dtype=np.float64)
        length = block.shape[1]
        square_sum += float(np.einsum("ij,ij->", block, block))
        peak = max(peak, float(np.max(np.abs(block))))
        full = np.fft.irfft(np.fft.rfft(block, fft_size, axis=1) * kernel, fft_size, axis=1)
        full[:, :taps] += carry
        weighted = full[:, :length]
        carry = full[:, length : length + taps]
        first = start // step
        per_sub = np.bincount(np.arange(start, start + length) // step - first, weights=np.sum(weighted**2, axis=0))
        sub_energy[first : first + per_sub.size] += per_sub

    return summarize_energy(sub_energy, step=step, channels=channels, samples=total, square_sum=square_sum, peak=peak)


def summarize_energy(
    sub_energy: F64Array, *, step: int, channels: int, samples: int, square_sum: float, peak: float
) -> Loudness:
    """The :class:`Loudness` of a signal from its running sums: ``sub_energy`` is its K-weighted energy per
    ``step`` samples (100 ms; channels summed, a trailing partial step allowed), ``samples`` its length per
    channel, ``square_sum`` the sum of its squared samples and ``peak`` its largest absolute sample. Shared by
    :func:`loudness` and meters that measure a signal block by block."""
    if samples == 0 or channels == 0:
        return Loudness(SILENCE_DB, SILENCE_DB, SILENCE_DB)
    rms_db = _db(square_sum / (channels * samples))
    peak_db = max(SILENCE_DB, 20 * math.log10(peak)) if peak > 0 else SILENCE_DB
    full_subs = samples // step
    if full_subs < 4:
        energies = np.array([sub_energy.sum() / samples])
    else:
        window = np.convolve(sub_energy[:full_subs], np.ones(4), mode="valid")  # 400 ms blocks
        energies = window / (4 * step)
    with np.errstate(divide="ignore"):
        block_lufs = -0.691 + 10 * np.log10(energies)
    gated = energies[block_lufs > _ABSOLUTE_GATE_LUFS]
    if gated.size == 0:
        return Loudness(SILENCE_DB, rms_db, peak_db)
    relative = -0.691 + 10 * math.log10(float(np.mean(gated))) + _RELATIVE_GATE_LU
    gated = energies[(block_lufs > _ABSOLUTE_GATE_LUFS) & (block_lufs > relative)]
    integrated = -0.691 + 10 * math.log10(float(np.mean(gated)))
    return Loudness(max(SILENCE_DB, integrated), rms_db, peak_db)
