"""Unit tests for :mod:`ting_common.loudness` (BS.1770-4 integrated loudness, RMS, sample peak)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from ting_common.errors import InvalidArgumentError
from ting_common.loudness import SILENCE_DB, Loudness, k_weighting, loudness

rng = np.random.default_rng(3)


def sine(seconds: float, rate: int, amplitude: float = 0.1, hz: float = 997.0) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def reference_integrated(x: np.ndarray, rate: int) -> float:
    """BS.1770-4 with scipy's direct IIR filter and explicit 400 ms / 100 ms blocks."""
    b, a = k_weighting(rate)
    weighted = signal.lfilter(b, a, x.astype(np.float64), axis=-1)
    step = round(0.1 * rate)
    starts = range(0, weighted.shape[1] - 4 * step + 1, step)
    energies = np.array([np.sum(np.mean(weighted[:, s : s + 4 * step] ** 2, axis=1)) for s in starts])
    lufs = -0.691 + 10 * np.log10(energies)
    gated = energies[lufs > -70]
    relative = -0.691 + 10 * np.log10(gated.mean()) - 10
    return float(-0.691 + 10 * np.log10(energies[(lufs > -70) & (lufs > relative)].mean()))


def test_a_997_hz_sine_at_minus_20_dbfs_reads_minus_20_lufs() -> None:
    tone = sine(5.0, 48000)
    # K-weighting is ~0 dB at 997 Hz, the two channels add 3 dB, the sine's RMS is 3 dB under its peak.
    result = loudness(np.stack([tone, tone]), 48000)
    assert isinstance(result, Loudness)
    assert result.integrated_lufs == pytest.approx(-20.0, abs=0.05)
    assert result.rms_dbfs == pytest.approx(-23.01, abs=0.02)
    assert result.peak_dbfs == pytest.approx(-20.0, abs=0.01)
    assert loudness(tone, 48000).integrated_lufs == pytest.approx(-23.0, abs=0.05)  # 1-D is mono


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_matches_a_direct_iir_filter(rate: int) -> None:
    x = (0.1 * rng.standard_normal((2, round(3.7 * rate)))).astype(np.float32)
    x[:, : rate // 2] *= 0.001  # a quiet start that the gates drop
    assert loudness(x, rate).integrated_lufs == pytest.approx(reference_integrated(x, rate), abs=1e-6)


def test_gates_ignore_silence() -> None:
    tone = sine(3.0, 44100)
    padded = np.concatenate([np.zeros(44100 * 6, np.float32), tone])
    alone, with_silence = loudness(tone, 44100), loudness(padded, 44100)
    # Ungated, two thirds of silence would cost 4.8 dB; gated, only the blocks straddling the edge count.
    assert with_silence.integrated_lufs == pytest.approx(alone.integrated_lufs, abs=0.3)
    assert with_silence.rms_dbfs == pytest.approx(alone.rms_dbfs - 4.77, abs=0.05)


def test_silence_and_empty_read_the_floor() -> None:
    assert loudness(np.zeros((2, 48000), np.float32), 48000) == (SILENCE_DB, SILENCE_DB, SILENCE_DB)
    assert loudness(np.zeros((2, 0), np.float32), 48000) == (SILENCE_DB, SILENCE_DB, SILENCE_DB)


def test_shorter_than_one_block_is_measured_whole() -> None:
    assert loudness(sine(0.2, 48000), 48000).integrated_lufs == pytest.approx(-23.0, abs=0.3)


def test_rejects_integers() -> None:
    with pytest.raises(InvalidArgumentError, match="float"):
        loudness(np.zeros(100, np.int16), 48000)
