"""The embedded ``learned`` engine: vocals / accompaniment by a small mask network trained at set-up.

No registry ships separation weights, so ``make setup`` trains one (``python -m ting_separate.learned.train``,
a few minutes on two CPU cores) on songs it synthesizes itself (:mod:`ting_separate.learned.synth`) and writes
``<venv>/models/separate/mask_mlp.npz``. The network (:mod:`ting_separate.learned.model`) gives a soft vocal
mask on a 22.05 kHz STFT grid from the spectrum around each frame and the stereo panning per bin.

Per chunk (30 s, cross-faded as in the ``dsp`` engine):

1. the chunk is resampled to 22.05 kHz (when it is not already) and the mask computed there;
2. the mask is carried onto the chunk's own STFT (the ``dsp`` engine's ~93 ms window at the input's rate) by
   linear interpolation in time and frequency; bins above 11.025 kHz (44.1 / 48 kHz input) take the mean mask
   of the 5.5-11 kHz band of their frame;
3. vocals are the masked STFT, accompaniment the mixture minus vocals, so the stems sum back to the input.

Any channel count: the features see the first two channels (or the one), the mask applies to all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal

from ting_separate.engines import FloatArray, StemName
from ting_separate.engines.chunking import ChunkedEngine, ChunkSettings
from ting_separate.engines.dsp import istft, stft, stft_size, wiener
from ting_separate.learned.conv import ConvMaskNet
from ting_separate.learned.model import BINS, HOP, N_FFT, SAMPLE_RATE, MaskNet


@dataclass(frozen=True, kw_only=True)
class LearnedSettings(ChunkSettings):
    """Where the weights are and how chunks are cut."""

    model_path: Path
    window_ms: float = 93.0  # the output STFT at the input's rate (as the dsp engine)
    wiener_iterations: int = 0  # 0: the plain mask
    conv_model_path: Path | None = None  # the optional U-Net (:mod:`ting_separate.learned.conv`)
    conv_share: float = 0.5  # its weight in the averaged mask


def mask_on_grid(mask: FloatArray, sample_rate: int, n_fft: int, frames: int) -> FloatArray:
    """Carry a model-grid mask ``(BINS, T)`` onto an STFT of ``n_fft`` (hop ``n_fft // 4``) at ``sample_rate``
    with ``frames`` frames: ``(n_fft // 2 + 1, frames)``."""
    if sample_rate == SAMPLE_RATE and n_fft == N_FFT and mask.shape[1] == frames:
        return mask
    # time: frame j of the target sits at j * hop / sr seconds, frame i of the model at i * HOP / SAMPLE_RATE
    pos = np.arange(frames) * (n_fft // 4) / sample_rate * SAMPLE_RATE / HOP
    pos = np.clip(pos, 0, mask.shape[1] - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, mask.shape[1] - 1)
    w = (pos - lo).astype(np.float32)
    timed = mask[:, lo] * (1 - w) + mask[:, hi] * w  # (BINS, frames)
    # frequency
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    fpos = freqs / (SAMPLE_RATE / N_FFT)
    inside = fpos <= BINS - 1
    out = np.empty((n_fft // 2 + 1, frames), dtype=np.float32)
    flo = np.floor(fpos[inside]).astype(np.int64)
    fhi = np.minimum(flo + 1, BINS - 1)
    fw = (fpos[inside] - flo).astype(np.float32)[:, None]
    out[inside] = timed[flo] * (1 - fw) + timed[fhi] * fw
    if not inside.all():
        out[~inside] = timed[BINS // 2 :].mean(axis=0)[None]
    return out


def separate_chunk(
    audio: FloatArray, sample_rate: int, net: MaskNet, settings: LearnedSettings, conv: ConvMaskNet | None = None
) -> FloatArray:
    """The vocals of one chunk ``(channels, samples)`` (accompaniment: ``audio - vocals``); with ``conv``, the
    mask is the MLP's and the U-Net's averaged (``settings.conv_share``)."""
    head = audio[: min(2, audio.shape[0])]
    if sample_rate != SAMPLE_RATE:
        g = math.gcd(sample_rate, SAMPLE_RATE)
        head = signal.resample_poly(head, SAMPLE_RATE // g, sample_rate // g, axis=-1).astype(np.float32)
    grid = stft(head, N_FFT)
    model_mask = net.mask(grid)
    if conv is not None:
        share = np.float32(settings.conv_share)
        model_mask = (1 - share) * model_mask + share * conv.mask(grid)
    n_fft = N_FFT if sample_rate == SAMPLE_RATE else stft_size(sample_rate, settings.window_ms)
    spec = stft(audio, n_fft)
    mask = mask_on_grid(model_mask, sample_rate, n_fft, spec.shape[2])
    return istft(wiener(spec, mask, settings.wiener_iterations), n_fft, audio.shape[1])


class LearnedEngine(ChunkedEngine[LearnedSettings]):
    """The embedded mask-network separator (see the module docstring)."""

    name = "learned"

    def __init__(self, settings: LearnedSettings) -> None:
        super().__init__(settings)
        self.net = MaskNet.load(settings.model_path)
        self.conv = ConvMaskNet.load(settings.conv_model_path) if settings.conv_model_path is not None else None

    def describe(self) -> tuple[str, str]:
        """What :meth:`info` says of this engine, with the held-out SNR its training measured."""
        trained = self.net.meta.get("held_out_snr_db")
        text = (
            "Embedded mask network trained at set-up on synthesized songs (no download): vocals and "
            f"accompaniment from the spectrum and stereo panning; held-out SNR {trained} dB."
        )
        model = f"mask-mlp ({self.settings.model_path.name})"
        if self.conv is not None and self.settings.conv_model_path is not None:
            conv_snr = self.conv.meta.get("held_out_snr_db")
            text += f" Averaged with a U-Net mask (held-out SNR {conv_snr} dB)."
            model += f" + mask-unet ({self.settings.conv_model_path.name})"
        return text, model

    def separate_piece(
        self, piece: FloatArray, sample_rate: int, settings: LearnedSettings
    ) -> dict[StemName, FloatArray]:
        """Vocals of one chunk (:func:`separate_chunk`) and the rest as accompaniment."""
        vocals = separate_chunk(piece, sample_rate, self.net, settings, self.conv)
        return {"vocals": vocals, "accompaniment": (piece - vocals).astype(np.float32)}
