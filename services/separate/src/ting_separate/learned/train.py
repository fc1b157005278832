"""``python -m ting_separate.learned.train``: train the ``learned`` separator's mask network from scratch.

The training songs come from :mod:`ting_separate.learned.synth` (synthesized from a seed; no download and
no evaluation file). Each song is mixed twice (as made, and with the vocals at a random -8..+8 dB, sometimes
in mono), its frames' input features computed exactly as the engine does, and kept (float16). Every step
takes random frames and one Adam step on the signal-approximation loss

    | m * |X| - |V| |^2 + | (1 - m) * |X| - |A| |^2      (relative to the frame's context level)

that is, the mask is judged by the magnitudes it produces, not by the mask itself. A few held-out songs
are separated at the end and their SNR written into the weights file's metadata. Deterministic for a
seed on one machine (numpy's BLAS may round differently elsewhere). ``make setup`` runs it once; it
takes a few minutes on two cores.
"""

from __future__ import annotations

import argparse
import inspect
import itertools
import math
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ting_separate.config import SeparateSettings
from ting_separate.engines.dsp import istft, stft
from ting_separate.learned.model import BINS, C64, F32, FEATURES, N_FFT, MaskModel, MaskNet, frame_features
from ting_separate.learned.synth import SongMaker


def default_weights_path() -> Path:
    """Where the service reads the weights (``TING_SEPARATE_LEARNED_MODEL_PATH``, else ``<venv>/models/...``),
    so that by default this writes them there."""
    return SeparateSettings().learned_weights


@dataclass
class Corpus:
    """Training frames of many songs: the network's input features and the mixture / vocal / accompaniment
    magnitudes relative to each frame's context level (what the loss compares), float16 to halve memory."""

    features: np.ndarray  # (frames, FEATURES)
    mixture: np.ndarray  # (frames, BINS)
    vocals: np.ndarray
    accompaniment: np.ndarray

    @property
    def frames(self) -> int:
        return int(self.features.shape[0])


def song_mixes(seed: int, seconds: float, variants: int = 2) -> Iterator[tuple[C64, C64, F32, F32]]:
    """One song mixed ``variants`` times: as synthesized, then with the vocals a random -8..+8 dB louder and, one
    time in ten, in mono. Per mix its vocal and accompaniment STFTs and their channel-mean magnitudes
    ``(frames, BINS)``."""
    song = SongMaker(seed=seed).song(seconds)
    rng = np.random.default_rng(seed + 17)
    voc_spec, acc_spec = stft(song.vocals, N_FFT), stft(song.accompaniment, N_FFT)
    for variant in range(variants):
        gain = np.float32(1.0 if variant == 0 else 10 ** (rng.uniform(-8, 8) / 20))
        voc, acc = voc_spec * gain, acc_spec
        if variant > 0 and rng.random() < 0.1:
            voc = np.repeat(voc.mean(axis=0, keepdims=True), 2, axis=0)
            acc = np.repeat(acc.mean(axis=0, keepdims=True), 2, axis=0)
        v_mag = (0.5 * (np.abs(voc[0]) + np.abs(voc[1]))).T
        a_mag = (0.5 * (np.abs(acc[0]) + np.abs(acc[1]))).T
        yield voc, acc, v_mag, a_mag


def song_frames(seed: int, seconds: float, variants: int = 2) -> tuple[np.ndarray, ...]:
    """The training frames of one song (see :class:`Corpus`) for each of its mixes (:func:`song_mixes`). The
    features are :func:`~ting_separate.learned.model.frame_features` of the whole song, exactly as the engine
    computes them on a chunk."""
    parts: list[list[np.ndarray]] = [[], [], [], []]
    for voc, acc, v_mag, a_mag in song_mixes(seed, seconds, variants):
        feats, mag, level = frame_features(voc + acc, with_level=True)
        for store, value in zip(parts, (feats, mag / level, v_mag / level, a_mag / level), strict=True):
            store.append(value.astype(np.float16))
    return tuple(np.concatenate(p) for p in parts)


def _song_job(job: tuple[int, float, int]) -> tuple[np.ndarray, ...]:
    return song_frames(*job)


def build_corpus(songs: int, seconds: float, seed: int, workers: int = 0, variants: int = 2) -> Corpus:
    """Synthesize ``songs`` songs (song ``i`` from seed ``seed * 100_000 + i``, in ``workers`` processes,
    0: one per CPU) and keep their training frames."""
    jobs = [(seed * 100_000 + i, seconds, variants) for i in range(songs)]
    workers = workers or os.cpu_count() or 1
    arrays: list[np.ndarray] = []
    row = 0

    def keep(parts: tuple[np.ndarray, ...]) -> None:
        # Filled in place as songs arrive: peak memory is the corpus plus a few songs.
        nonlocal row
        n = parts[0].shape[0]
        if not arrays:
            arrays.extend(np.empty((n * songs, p.shape[1]), dtype=np.float16) for p in parts)
        for array, part in zip(arrays, parts, strict=True):
            array[row : row + n] = part
        row += n

    if workers > 1:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            for parts in pool.imap(_song_job, jobs, chunksize=2):
                keep(parts)
    else:
        for job in jobs:
            keep(_song_job(job))
    return Corpus(*(array[:row] for array in arrays))


def batch(corpus: Corpus, rng: np.random.Generator, size: int) -> tuple[F32, F32, F32, F32]:
    """Features and relative mixture / vocal / accompaniment magnitudes of ``size`` random frames."""
    rows = np.sort(rng.integers(0, corpus.frames, size))
    return (
        corpus.features[rows].astype(np.float32),
        corpus.mixture[rows].astype(np.float32),
        corpus.vocals[rows].astype(np.float32),
        corpus.accompaniment[rows].astype(np.float32),
    )


def fixed_loss(mean: F32, scale: F32, weights: list[F32], biases: list[F32], data: tuple[F32, F32, F32, F32]) -> float:
    """The training loss of the network on one fixed batch (before and after training)."""
    net = MaskNet(mean, scale, tuple(weights), tuple(biases), {})
    feats, mx, vx, ax = data
    m = net.forward(feats)
    return float(np.mean((m * mx - vx) ** 2 + ((1 - m) * mx - ax) ** 2))


def train(
    songs: int = 360,
    seconds: float = 8.0,
    steps: int = 6000,
    batch_size: int = 256,
    hidden: int = 768,
    learning_rate: float = 1e-3,
    seed: int = 1234,
    log_every: int = 1000,
) -> MaskNet:
    """Train a mask network on freshly synthesized songs (see the module docstring)."""
    t0 = time.monotonic()
    corpus = build_corpus(songs, seconds, seed)
    print(f"corpus: {songs} songs, {corpus.frames} frames, {time.monotonic() - t0:.0f} s", flush=True)
    rng = np.random.default_rng(seed + 1)
    # Input standardization from a large sample of frames.
    sample = batch(corpus, rng, min(8192, corpus.frames))[0]
    mean = sample.mean(axis=0).astype(np.float32)
    scale = (sample.std(axis=0) + 1e-3).astype(np.float32)
    sizes = [FEATURES, hidden, hidden, BINS]
    weights = [
        (rng.standard_normal((i, o)) * math.sqrt(2.0 / i)).astype(np.float32) for i, o in itertools.pairwise(sizes)
    ]
    biases = [np.zeros(o, dtype=np.float32) for o in sizes[1:]]
    params = weights + biases
    m1 = [np.zeros_like(p) for p in params]
    m2 = [np.zeros_like(p) for p in params]
    beta1, beta2 = 0.9, 0.999
    running = 0.0
    fixed = batch(corpus, np.random.default_rng(seed + 2), 512)
    first = fixed_loss(mean, scale, weights, biases, fixed)
    for step in range(1, steps + 1):
        lr = learning_rate * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        feats, mx, vx, ax = batch(corpus, rng, batch_size)
        x = (feats - mean) / scale
        # forward
        h1 = np.maximum(x @ weights[0] + biases[0], 0)
        h2 = np.maximum(h1 @ weights[1] + biases[1], 0)
        z = h2 @ weights[2] + biases[2]
        m = 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
        ev = m * mx - vx
        ea = (1 - m) * mx - ax
        loss = float(np.mean(ev**2 + ea**2))
        running = loss if step == 1 else 0.98 * running + 0.02 * loss
        # backward
        dm = 2 * (ev - ea) * mx / ev.size
        dz = (dm * m * (1 - m)).astype(np.float32)
        g_w2, g_b2 = h2.T @ dz, dz.sum(axis=0)
        dh2 = (dz @ weights[2].T) * (h2 > 0)
        g_w1, g_b1 = h1.T @ dh2, dh2.sum(axis=0)
        dh1 = (dh2 @ weights[1].T) * (h1 > 0)
        g_w0, g_b0 = x.T @ dh1, dh1.sum(axis=0)
        grads = [g_w0, g_w1, g_w2, g_b0, g_b1, g_b2]
        for p, g, a, b in zip(params, grads, m1, m2, strict=True):
            a *= beta1
            a += (1 - beta1) * g
            b *= beta2
            b += (1 - beta2) * g * g
            p -= (lr * math.sqrt(1 - beta2**step) / (1 - beta1**step)) * a / (np.sqrt(b) + 1e-8)
        if step % log_every == 0 or step == steps:
            print(f"step {step}/{steps}: loss {running:.5f}, {time.monotonic() - t0:.0f} s", flush=True)
    meta: dict[str, object] = {
        "songs": songs,
        "seconds": seconds,
        "steps": steps,
        "batch": batch_size,
        "hidden": hidden,
        "seed": seed,
        "first_loss": first,
        "final_loss": fixed_loss(mean, scale, weights, biases, fixed),
        "train_s": round(time.monotonic() - t0, 1),
    }
    return MaskNet(mean, scale, tuple(weights), tuple(biases), meta)


def held_out_snr(net: MaskModel, songs: int = 8, seconds: float = 8.0, seed: int = 99_999) -> dict[str, float]:
    """Mean vocal / accompaniment SNR (dB) of the mask on songs not trained on, and of the mixture itself."""
    maker = SongMaker(seed=seed)
    out: dict[str, list[float]] = {"vocals": [], "accompaniment": [], "mixture_vocals": []}

    def snr(ref: np.ndarray, est: np.ndarray) -> float:
        return float(10 * np.log10(np.sum(ref**2) / (np.sum((ref - est) ** 2) + 1e-12) + 1e-12))

    for _ in range(songs):
        song = maker.song(seconds)
        mix = song.vocals + song.accompaniment
        spec = stft(mix, N_FFT)
        vocals = istft(spec * net.mask(spec)[None], N_FFT, mix.shape[1])
        out["vocals"].append(snr(song.vocals, vocals))
        out["accompaniment"].append(snr(song.accompaniment, mix - vocals))
        out["mixture_vocals"].append(snr(song.vocals, mix))
    return {k: round(float(np.mean(v)), 2) for k, v in out.items()}


def training_arguments(parser: argparse.ArgumentParser, train_fn: Callable[..., object], what: str) -> None:
    """The options both training CLIs share, their defaults read from ``train_fn``'s keywords (so the two cannot
    drift apart): ``--out``, ``--songs``, ``--seconds``, ``--steps``, ``--batch``, ``--seed``, ``--force``."""
    defaults = {name: p.default for name, p in inspect.signature(train_fn).parameters.items()}
    parser.add_argument("--out", type=Path, default=None, help=f"{what} file (default: the engine's default path)")
    parser.add_argument("--songs", type=int, default=defaults["songs"])
    parser.add_argument("--seconds", type=float, default=defaults["seconds"])
    parser.add_argument("--steps", type=int, default=defaults["steps"])
    parser.add_argument("--batch", type=int, default=defaults["batch_size"])
    parser.add_argument("--seed", type=int, default=defaults["seed"])
    parser.add_argument("--force", action="store_true", help=f"train even when the {what} file exists")


def cli() -> argparse.ArgumentParser:
    """The command line of ``python -m ting_separate.learned.train``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    training_arguments(parser, train, "weights")
    parser.add_argument("--hidden", type=int, default=inspect.signature(train).parameters["hidden"].default)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = cli().parse_args(argv)
    out = args.out or default_weights_path()
    if out.is_file() and not args.force:
        print(f"learned separator weights already at {out}")
        return 0
    net = train(args.songs, args.seconds, args.steps, args.batch, args.hidden, seed=args.seed)
    figures = held_out_snr(net)
    net = MaskNet(net.mean, net.scale, net.weights, net.biases, {**net.meta, "held_out_snr_db": figures})
    net.save(out)
    print(f"learned separator weights written to {out}: held-out SNR {figures}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
