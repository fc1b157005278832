"""The ``learned`` separator's network: a time-frequency vocal mask from a small multilayer perceptron.

It runs on a fixed grid: 22.05 kHz, a 2048-point Hann STFT with a 512 hop (the ``dsp`` engine's
:func:`~ting_separate.engines.dsp.stft`), 1025 bins up to 11.025 kHz. For frame ``t`` the input is

* the log magnitude of frame ``t`` at full resolution (1025 bins, channel-averaged magnitude),
* the stereo panning index (R - L) / (R + L) of frame ``t`` per bin (0 on mono input and in near-silent bins),
* how much each bin's log magnitude varies over the frames ``t - 4 .. t + 4`` (its standard deviation: a sung
  or spoken harmonic moves with vibrato and syllables, a pad or a held chord stays put),
* the log magnitude pooled into 96 mel-spaced bands for the frames ``t - 8 .. t + 8`` (context),

all relative to the mean magnitude over that context (so the level of the song does not matter), and
standardized by the training set's mean and deviation. Two hidden ReLU layers give one sigmoid per bin:
the share of the bin's magnitude that is vocals. Everything is float32 numpy (a few matrix products per
block of frames); the weights are an ``.npz`` file that ``python -m ting_separate.learned.train`` writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt

from ting_common.errors import FailedPreconditionError

F32 = npt.NDArray[np.float32]
C64 = npt.NDArray[np.complex64]

SAMPLE_RATE: Final = 22050
N_FFT: Final = 2048
HOP: Final = N_FFT // 4
BINS: Final = N_FFT // 2 + 1
CONTEXT: Final = 8
BANDS: Final = 96
FLUX: Final = 4  # frames either side for the per-bin variability
FEATURES: Final = 3 * BINS + (2 * CONTEXT + 1) * BANDS
_FLOOR: Final = 1e-3
_EPS: Final = 1e-8
FORMAT: Final = "ting-separate-mask-mlp/1"


def band_matrix(bins: int = BINS, bands: int = BANDS, sample_rate: int = SAMPLE_RATE) -> F32:
    """``(bands, bins)`` triangular mel-spaced pooling (each row sums to one)."""
    hz = np.linspace(0, sample_rate / 2, bins)
    mel = 2595 * np.log10(1 + hz / 700)
    edges = np.linspace(mel[1], mel[-1], bands + 2)
    out = np.zeros((bands, bins), dtype=np.float64)
    for b in range(bands):
        lo, mid, hi = edges[b], edges[b + 1], edges[b + 2]
        up = (mel - lo) / (mid - lo)
        down = (hi - mel) / (hi - mid)
        out[b] = np.clip(np.minimum(up, down), 0, None)
        if out[b].sum() == 0:  # bands narrower than a bin at the bottom: the nearest bin
            out[b, int(np.argmin(np.abs(mel - mid)))] = 1.0
    out /= out.sum(axis=1, keepdims=True)
    return out.astype(np.float32)


_BAND: Final = band_matrix()


def frame_features(spec: C64, with_level: bool = False) -> tuple[F32, ...]:
    """Unstandardized features ``(frames, FEATURES)`` and the mixture magnitude ``(frames, BINS)`` of a
    ``(channels, BINS, frames)`` STFT on the model grid (one or two channels); ``with_level`` adds the
    context level ``(frames, 1)`` the features are relative to."""
    if spec.shape[0] == 1:
        left = right = np.abs(spec[0])
    else:
        left, right = np.abs(spec[0]), np.abs(spec[1])
    mag = (0.5 * (left + right)).T.astype(np.float32)  # (T, B)
    frames = mag.shape[0]
    padded = np.pad(mag, ((CONTEXT, CONTEXT), (0, 0)))
    band = padded @ _BAND.T  # (T + 2C, bands)
    width = 2 * CONTEXT + 1
    level = context_level(mag)
    out = np.empty((frames, FEATURES), dtype=np.float32)
    log_mag, pan = level_and_pan(left, right, mag, level)
    out[:, :BINS] = log_mag
    out[:, BINS : 2 * BINS] = pan
    out[:, 2 * BINS : 3 * BINS] = moving_std(log_mag, FLUX)
    offset = 3 * BINS
    for k in range(width):
        out[:, offset + k * BANDS : offset + (k + 1) * BANDS] = np.log(band[k : k + frames] / level + _FLOOR)
    return (out, mag, level) if with_level else (out, mag)


def context_level(mag: F32) -> F32:
    """The level reference ``(frames, 1)`` of a magnitude spectrogram ``(frames, bins)``: the mean magnitude over
    each frame's context ``t - CONTEXT .. t + CONTEXT`` (zeros beyond the ends), from a running sum of frame means."""
    padded_mean = np.pad(mag.mean(axis=1, dtype=np.float64), (CONTEXT, CONTEXT))
    running = np.concatenate([[0.0], np.cumsum(padded_mean)])
    width = 2 * CONTEXT + 1
    level: F32 = ((running[width:] - running[:-width]) / width).astype(np.float32)[:, None] + _EPS
    return level


def level_and_pan(left: F32, right: F32, mag: F32, level: F32) -> tuple[F32, F32]:
    """``(frames, bins)`` log magnitude relative to the context ``level`` and the panning index (R - L) / (R + L)
    of the channel magnitudes ``left`` / ``right`` ``(bins, frames)`` (``mag``: their mean, ``(frames, bins)``);
    bins far below the context level (silence, filtered-out bands) count as centred."""
    log_mag: F32 = np.log(mag / level + _FLOOR)
    pan: F32 = ((right - left).T / ((right + left).T + _FLOOR * level)).astype(np.float32)
    return log_mag, pan


def moving_std(x: F32, half: int) -> F32:
    """Standard deviation of each column of ``x`` ``(frames, bins)`` over the rows ``t - half .. t + half``
    (fewer at the ends)."""
    padded = np.pad(x.astype(np.float64), ((half + 1, half), (0, 0)))
    s1, s2 = np.cumsum(padded, axis=0), np.cumsum(padded**2, axis=0)
    ones = np.pad(np.ones(x.shape[0]), (half + 1, half))
    count = np.cumsum(ones)
    width = 2 * half + 1
    n = (count[width:] - count[:-width])[:, None]
    mean = (s1[width:] - s1[:-width]) / n
    var = (s2[width:] - s2[:-width]) / n - mean**2
    return np.sqrt(np.maximum(var, 0)).astype(np.float32)


class MaskModel(Protocol):
    """A network that gives the vocal mask ``(BINS, frames)`` of a model-grid STFT ``(channels, BINS, frames)``."""

    def mask(self, spec: C64) -> F32: ...


@dataclass(frozen=True)
class MaskNet:
    """The trained weights (float32): input standardization, then dense layers, ReLU between, sigmoid out."""

    mean: F32
    scale: F32
    weights: tuple[F32, ...]
    biases: tuple[F32, ...]
    meta: dict[str, object]

    @classmethod
    def load(cls, path: Path) -> MaskNet:
        """Read an ``.npz`` written by :meth:`save`; a missing or foreign file is FAILED_PRECONDITION."""
        if not path.is_file():
            raise FailedPreconditionError(
                f"no learned separator weights at {path}; run `python -m ting_separate.learned.train` "
                "(`make setup` does)"
            )
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                layers = int(meta["layers"])
                net = cls(
                    mean=data["mean"].astype(np.float32),
                    scale=data["scale"].astype(np.float32),
                    weights=tuple(data[f"w{i}"].astype(np.float32) for i in range(layers)),
                    biases=tuple(data[f"b{i}"].astype(np.float32) for i in range(layers)),
                    meta=meta,
                )
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            raise FailedPreconditionError(f"unreadable learned separator weights {path}: {exc}") from exc
        if meta.get("format") != FORMAT or net.mean.shape != (FEATURES,) or net.weights[-1].shape[1] != BINS:
            raise FailedPreconditionError(f"{path} is not a {FORMAT} model for this version")
        return net

    def save(self, path: Path) -> None:
        """Write the weights and ``meta`` (training figures) as one ``.npz``."""
        arrays: dict[str, npt.NDArray[np.generic]] = {"mean": self.mean, "scale": self.scale}
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            arrays[f"w{i}"], arrays[f"b{i}"] = w, b
        meta = {**self.meta, "format": FORMAT, "layers": len(self.weights)}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, meta=np.array(json.dumps(meta)), **arrays)  # type: ignore[arg-type]
        tmp.replace(path)

    def forward(self, features: F32) -> F32:
        """Vocal mask ``(frames, BINS)`` of unstandardized ``features``."""
        h = (features - self.mean) / self.scale
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w + b
            if i < len(self.weights) - 1:
                np.maximum(h, 0, out=h)
        out: F32 = (1.0 / (1.0 + np.exp(-np.clip(h, -30, 30)))).astype(np.float32)
        return out

    def mask(self, spec: C64, block: int = 2048) -> F32:
        """Vocal mask ``(BINS, frames)`` of a model-grid STFT ``(channels, BINS, frames)``."""
        features = frame_features(spec)[0]
        out = np.empty((spec.shape[2], BINS), dtype=np.float32)
        for start in range(0, features.shape[0], block):
            out[start : start + block] = self.forward(features[start : start + block])
        return out.T
