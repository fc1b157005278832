"""Spectral-envelope features of diarization windows: shape, level invariance, and that they tell envelopes apart."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from ting_asr.diarization.envelope import _DCT_T, DIM, N_CEPS, envelope_features

RATE = 16_000


def voiced(formants: tuple[float, ...], seconds: float, *, f0: float = 120.0, seed: int = 0) -> npt.NDArray[np.float32]:
    """A pulse train at ``f0`` (with a little jitter) through two-pole resonators at ``formants``: a crude vowel."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    source = np.zeros(n)
    t = 0.0
    while t < n:
        source[int(t)] = 1.0
        t += RATE / (f0 * (1.0 + 0.02 * rng.normal()))
    out = source
    for f in formants:
        r = np.exp(-np.pi * 80.0 / RATE)
        a1, a2 = -2 * r * np.cos(2 * np.pi * f / RATE), r * r
        y = np.zeros(n)
        for i in range(n):
            y[i] = out[i] - a1 * (y[i - 1] if i else 0.0) - a2 * (y[i - 2] if i > 1 else 0.0)
        out = y
    out = out / np.max(np.abs(out)) * 0.3
    result: npt.NDArray[np.float32] = (out + 1e-4 * rng.normal(size=n)).astype(np.float32)
    return result


def test_shape_dtype_and_empty_windows() -> None:
    audio = voiced((500.0, 1500.0), 1.0)
    features = envelope_features(audio, [(0, 16_000), (100, 100), (0, 8000)])
    assert features.shape == (3, DIM) and features.dtype == np.float32
    assert np.all(features[1] == 0.0)  # an empty window
    assert np.all(np.isfinite(features))
    assert np.all(envelope_features(np.zeros(16_000, dtype=np.float32), [(0, 16_000)]) == 0.0)  # digital silence
    assert envelope_features(audio, []).shape == (0, DIM)


def test_the_level_does_not_matter() -> None:
    audio = voiced((700.0, 1200.0), 1.0)
    loud, quiet = envelope_features(audio, [(0, 16_000)]), envelope_features(audio * 0.1, [(0, 16_000)])
    assert np.allclose(loud, quiet, atol=1e-3)


def test_a_different_envelope_is_farther_than_the_same_one_later() -> None:
    a = voiced((500.0, 1500.0, 2500.0), 2.0, seed=1)
    b = voiced((700.0, 1100.0, 2900.0), 2.0, seed=2)
    fa = envelope_features(a, [(0, 16_000), (16_000, 32_000)])
    fb = envelope_features(b, [(0, 16_000)])
    within = np.linalg.norm(fa[0, :N_CEPS] - fa[1, :N_CEPS])
    between = np.linalg.norm(fa[0, :N_CEPS] - fb[0, :N_CEPS])
    assert between > 5 * within


def test_windows_outside_the_audio_are_refused() -> None:
    with pytest.raises(ValueError, match="outside the audio"):
        envelope_features(np.zeros(100, dtype=np.float32), [(0, 200)])


def test_dct_matches_scipy() -> None:
    fft = pytest.importorskip("scipy.fft")
    x = np.random.default_rng(0).normal(size=(5, _DCT_T.shape[0])).astype(np.float32)
    expected = fft.dct(x, type=2, norm="ortho", axis=1)[:, 1 : N_CEPS + 1]
    assert np.allclose(x @ _DCT_T, expected, atol=1e-4)
