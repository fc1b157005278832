"""The embedded ``dsp`` engine: vocals / accompaniment by signal processing alone (no model download).

Cues, each a soft "this time-frequency bin is vocals" probability on an STFT of ~93 ms windows:

* **centre panning** (stereo only): lead vocals are mixed near the centre, instruments across the field;
  a bin whose left/right level ratio is near 1 is likely vocals (Avendano & Jot's panning index).
* **harmonic/percussive** (HPSS, median filtering): percussion is broadband and short, so the
  percussive share of each bin goes to the accompaniment.
* **repetition** (REPET-SIM): accompaniment repeats (bars, chord cycles); the median of the most similar
  frames models it, and what does not repeat is likely vocals.
* **vocal band**: voices carry almost nothing below ~80 Hz (kick, bass).

The cues are combined into a vocal mask, which seeds a multichannel Wiener filter (per-source power
spectra + 2x2 spatial covariances); its matrix gains sum to the identity, so the stems sum back to the
mixture. Which cues are on is :class:`DspSettings`; ``bench/separation.py --ablation`` measures each.
Long inputs run in overlapping chunks (:mod:`ting_separate.engines.chunking`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy import ndimage, signal

from ting_separate.engines import FloatArray, StemName
from ting_separate.engines.chunking import VOCALS_ACCOMPANIMENT, ChunkedEngine, ChunkSettings

ComplexArray = npt.NDArray[np.complex64]
SUPPORTED: Final = VOCALS_ACCOMPANIMENT
_EPS: Final = 1e-10


@dataclass(frozen=True)
class DspSettings(ChunkSettings):
    """Switches and constants of the DSP separator (principled defaults, not fitted to a test set)."""

    window_ms: float = 93.0  # STFT window; rounded to a power of two (2048 at 22.05 kHz, 4096 at 44.1 kHz)
    pan: bool = True
    pan_width: float = 0.25  # std-dev of the centre cue in panning-index units (hard left/right = +-1)
    hpss: bool = False  # measured: costs ~2.6 dB vocals SDR (speech onsets/consonants go to accompaniment)
    hpss_time_s: float = 0.2  # harmonic median filter length along time
    hpss_freq_hz: float = 500.0  # percussive median filter length along frequency
    repet: bool = True
    repet_neighbours: int = 20  # similar frames whose median models the repeating accompaniment
    repet_min_distance_s: float = 0.5  # neighbours must be at least this far apart (no self-similarity)
    band: bool = True
    band_low_hz: float = 80.0  # below: accompaniment; ramps to vocals-possible by 2x this
    combine: str = "product"  # "product" of cue probabilities or "logit" (naive Bayes)
    wiener_iterations: int = 0  # 0: plain soft mask (measured better than the Wiener refinement here)
    chunk_s: float = 30.0
    crossfade_s: float = 2.0


def stft_size(sample_rate: int, window_ms: float) -> int:
    """Power-of-two window closest to ``window_ms`` at ``sample_rate``."""
    return int(2 ** round(math.log2(max(window_ms / 1000 * sample_rate, 64))))


def stft(x: FloatArray, n_fft: int) -> ComplexArray:
    """``(channels, samples)`` -> ``(channels, bins, frames)`` with a Hann window and 75 % overlap.

    One channel at a time: scipy works in double precision, so this halves the peak working memory.
    """
    out: ComplexArray | None = None
    for channel in range(x.shape[0]):
        _, _, spec = signal.stft(
            x[channel], window="hann", nperseg=n_fft, noverlap=n_fft * 3 // 4, boundary="zeros", padded=True
        )
        if out is None:
            out = np.empty((x.shape[0], *spec.shape), dtype=np.complex64)
        out[channel] = spec
        del spec
    assert out is not None
    return out


def istft(spec: ComplexArray, n_fft: int, length: int) -> FloatArray:
    """Inverse of :func:`stft`, cut to ``length`` samples."""
    _, x = signal.istft(spec, window="hann", nperseg=n_fft, noverlap=n_fft * 3 // 4, boundary=True)
    out = np.zeros((spec.shape[0], length), dtype=np.float32)
    n = min(length, x.shape[-1])
    out[:, :n] = x[..., :n]
    return out


def centre_cue(spec: ComplexArray, width: float) -> FloatArray:
    """Probability that each bin is centre-panned, from the panning index (R - L) / (R + L)."""
    left, right = np.abs(spec[0]), np.abs(spec[1])
    index = (right - left) / (right + left + _EPS)
    cue: FloatArray = np.exp(-0.5 * (index / width) ** 2).astype(np.float32)
    return cue


def harmonic_cue(mag: FloatArray, frames_per_s: float, hz_per_bin: float, time_s: float, freq_hz: float) -> FloatArray:
    """Harmonic share H^2 / (H^2 + P^2) of each bin (Fitzgerald's median-filtering HPSS)."""
    time_len = max(3, round(time_s * frames_per_s) | 1)
    freq_len = max(3, round(freq_hz / hz_per_bin) | 1)
    harmonic = ndimage.median_filter(mag, size=(1, time_len), mode="reflect")
    percussive = ndimage.median_filter(mag, size=(freq_len, 1), mode="reflect")
    h2, p2 = harmonic.astype(np.float64) ** 2, percussive.astype(np.float64) ** 2
    share: FloatArray = (h2 / (h2 + p2 + _EPS)).astype(np.float32)
    return share


def repeating_cue(mag: FloatArray, neighbours: int, min_distance: int) -> FloatArray:
    """Share of each bin explained by repetition (REPET-SIM, Rafii & Pardo 2012).

    Frames are compared by cosine similarity; each frame's repeating model is the median of its most
    similar frames (at least ``min_distance`` frames away), capped by the frame itself.
    """
    frames = mag.shape[1]
    if frames < 3:
        return np.zeros_like(mag)
    unit = mag / (np.linalg.norm(mag, axis=0, keepdims=True) + _EPS)
    similarity = unit.T @ unit
    offsets = np.abs(np.arange(frames)[:, None] - np.arange(frames)[None, :])
    similarity[offsets < min_distance] = -np.inf
    k = max(1, min(neighbours, frames - 2 * min_distance + 1))
    if k >= frames:
        return np.zeros_like(mag)
    nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    model = np.empty_like(mag)
    block = max(1, (1 << 22) // max(1, k * mag.shape[0]))  # bound the (frames, k, bins) gather (16 MiB)
    for start in range(0, frames, block):
        idx = nearest[start : start + block]
        valid = np.take_along_axis(similarity[start : start + block], idx, axis=1) > -np.inf
        gathered = mag.T[idx].astype(np.float32)  # (block, k, bins)
        gathered[~valid] = np.nan
        gathered[~valid.any(axis=1)] = 0.0  # frames with no neighbour: model 0 (no all-NaN median warning)
        med = np.nanmedian(gathered, axis=1) if not valid.all() else np.median(gathered, axis=1)
        model[:, start : start + block] = np.nan_to_num(med).T
    model = np.minimum(model, mag)
    share: FloatArray = (model / (mag + _EPS)).astype(np.float32)
    return share


def band_cue(bins: int, hz_per_bin: float, low_hz: float) -> FloatArray:
    """0 below ``low_hz``, rising (raised cosine) to 1 at ``2 * low_hz``: where a voice can be."""
    freqs = np.arange(bins) * hz_per_bin
    ramp = np.clip((freqs - low_hz) / low_hz, 0.0, 1.0)
    cue: FloatArray = (np.sin(0.5 * np.pi * ramp) ** 2).astype(np.float32)[:, None]
    return cue


def combine_cues(cues: list[FloatArray], how: str) -> FloatArray:
    """Combine vocal probabilities: their product, or naive Bayes (sum of logits, equal priors)."""
    if not cues:
        return np.full((1, 1), 0.5, dtype=np.float32)
    if how == "logit":
        logit = np.zeros(np.broadcast_shapes(*(c.shape for c in cues)), dtype=np.float32)
        for cue in cues:
            p = np.clip(cue, 1e-4, 1 - 1e-4)
            logit = logit + np.log(p / (1 - p))
        return (1.0 / (1.0 + np.exp(-logit))).astype(np.float32)
    mask = np.ones(np.broadcast_shapes(*(c.shape for c in cues)), dtype=np.float32)
    for cue in cues:
        mask = mask * cue
    return mask


def vocal_mask(spec: ComplexArray, sample_rate: int, n_fft: int, settings: DspSettings) -> FloatArray:
    """The combined soft vocal mask ``(bins, frames)`` in [0, 1] for one chunk's STFT."""
    hop = n_fft // 4
    frames_per_s = sample_rate / hop
    hz_per_bin = sample_rate / n_fft
    mag = np.sqrt(np.mean(np.abs(spec) ** 2, axis=0)).astype(np.float32)
    cues: list[FloatArray] = []
    if settings.pan and spec.shape[0] == 2:
        cues.append(centre_cue(spec, settings.pan_width))
    if settings.hpss:
        cues.append(harmonic_cue(mag, frames_per_s, hz_per_bin, settings.hpss_time_s, settings.hpss_freq_hz))
    if settings.repet:
        min_distance = max(1, round(settings.repet_min_distance_s * frames_per_s))
        cues.append(1.0 - repeating_cue(mag, settings.repet_neighbours, min_distance))
    if settings.band:
        cues.append(band_cue(mag.shape[0], hz_per_bin, settings.band_low_hz))
    return np.broadcast_to(combine_cues(cues, settings.combine), mag.shape).astype(np.float32)


def wiener(spec: ComplexArray, mask: FloatArray, iterations: int) -> ComplexArray:
    """Vocal STFT by multichannel Wiener filtering seeded with ``mask`` (the rest is the accompaniment).

    Each source j has a power spectrum v_j(f, t) and a spatial covariance R_j(f) (channels x channels);
    the vocal estimate is v_v R_v (v_v R_v + v_a R_a)^-1 x. Both sources' gains sum to the identity.
    ``iterations`` re-estimates v and R from the filtered sources (EM without the posterior term).
    """
    vocals = spec * mask[None]
    if iterations <= 0:
        return vocals.astype(np.complex64)
    channels = spec.shape[0]
    x = spec.transpose(1, 2, 0).astype(np.complex128)  # (F, T, C)
    for _ in range(iterations):
        accomp = spec - vocals
        gains = []
        for est in (vocals, accomp):
            y = est.transpose(1, 2, 0).astype(np.complex128)
            power = np.mean(np.abs(y) ** 2, axis=2) + _EPS  # (F, T)
            cov = np.einsum("ftc,ftd->fcd", y / power[..., None], y.conj()) / y.shape[1]
            cov = cov + 1e-6 * np.eye(channels)[None]
            gains.append((power, cov))
        (pv, rv), (pa, ra) = gains
        cv = pv[..., None, None] * rv[:, None]  # (F, T, C, C)
        cx = cv + pa[..., None, None] * ra[:, None] + 1e-9 * np.eye(channels)
        w = cv @ np.linalg.inv(cx)
        vocals = np.einsum("ftcd,ftd->ftc", w, x).transpose(2, 0, 1)
    return vocals.astype(np.complex64)


def separate_chunk(audio: FloatArray, sample_rate: int, settings: DspSettings) -> dict[StemName, FloatArray]:
    """Vocals and accompaniment of one chunk ``(channels, samples)``; they sum to ``audio``."""
    n_fft = stft_size(sample_rate, settings.window_ms)
    spec = stft(audio, n_fft)
    mask = vocal_mask(spec, sample_rate, n_fft, settings)
    vocals = istft(wiener(spec, mask, settings.wiener_iterations), n_fft, audio.shape[1])
    return {"vocals": vocals, "accompaniment": (audio - vocals).astype(np.float32)}


class DspEngine(ChunkedEngine[DspSettings]):
    """The embedded vocals/accompaniment separator (see the module docstring)."""

    name = "dsp"

    def __init__(self, settings: DspSettings | None = None) -> None:
        super().__init__(settings or DspSettings())

    def describe(self) -> tuple[str, str]:
        """What :meth:`info` says of this engine."""
        return (
            "Embedded signal-processing separator (centre panning, vocal band, REPET-SIM repetition masking); "
            "needs no model. Best on stereo mixes with centred vocals.",
            "dsp-pan-band-repet",
        )

    def separate_piece(self, piece: FloatArray, sample_rate: int, settings: DspSettings) -> dict[StemName, FloatArray]:
        """Vocals and accompaniment of one chunk (:func:`separate_chunk`)."""
        return separate_chunk(piece, sample_rate, settings)
