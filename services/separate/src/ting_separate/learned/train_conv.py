"""``python -m ting_separate.learned.train_conv``: train the ``learned`` engine's optional U-Net mask with JAX.

Optional and slow on a CPU (the defaults, 3000 steps, take about 45 minutes on two cores; a GPU with ``jax[cuda12]``
takes minutes), so ``make setup`` does not run it: ``make separator-unet`` does. Needs the ``train`` extra
(``jax``, ``onnx``); the service itself only needs onnxruntime to run the result (:mod:`.conv`).

The songs come from :mod:`.synth`, each mixed twice as for the MLP (:func:`.train.song_frames`'s variants: as made,
then the vocals at a random -8..+8 dB, one time in ten in mono). Their network input is computed on the whole song
exactly as the engine does on a chunk (:func:`.conv.conv_inputs`), kept as float16 with the mixture / vocal /
accompaniment magnitudes relative to the context level. Every step takes ``batch`` random patches of
``patch_frames`` frames (left and right swapped half of the time: the panning index changes sign) and one Adam step
on the MLP's signal-approximation loss. The network: per level two 3x3 convolutions with ReLU, then 2x2 max
pooling; a bottleneck; per level nearest 2x upsampling, the level's skip joined, two 3x3 convolutions; a 1x1
convolution and a sigmoid. It is written to ONNX (:func:`export_onnx`) with the training figures in its metadata.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import multiprocessing
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ting_separate.config import SeparateSettings
from ting_separate.learned.conv import CONV_BINS, FORMAT, ConvMaskNet, conv_inputs_and_level
from ting_separate.learned.train import held_out_snr, song_mixes, training_arguments

Params = dict[str, dict[str, Any]]


def default_conv_path() -> Path:
    """Where the service looks for the U-Net (``TING_SEPARATE_LEARNED_CONV_MODEL_PATH``, else
    ``<venv>/models/separate/mask_unet.onnx``)."""
    return SeparateSettings().learned_conv_weights


def song_patches(seed: int, seconds: float, variants: int = 2) -> list[np.ndarray]:
    """Per mix of one song (:func:`.train.song_mixes`) a float16 ``(5, frames, CONV_BINS)``: the two input
    channels, then the mixture, vocal and accompaniment magnitudes relative to the context level."""
    out = []
    for voc, acc, v_mag, a_mag in song_mixes(seed, seconds, variants):
        inputs, mag, level = conv_inputs_and_level(voc + acc)
        targets = np.stack([mag / level, v_mag / level, a_mag / level])[:, :, :CONV_BINS]
        out.append(np.concatenate([inputs, targets]).astype(np.float16))
    return out


def _song_job(job: tuple[int, float]) -> list[np.ndarray]:
    return song_patches(*job)


def build_corpus(songs: int, seconds: float, seed: int, workers: int = 0) -> np.ndarray:
    """``(songs * 2, 5, frames, CONV_BINS)`` float16 for songs ``seed * 100_000 + i`` (``workers`` processes)."""
    jobs = [(seed * 100_000 + i, seconds) for i in range(songs)]
    workers = workers or os.cpu_count() or 1
    if workers > 1:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            parts = [p for song in pool.imap(_song_job, jobs, chunksize=2) for p in song]
    else:
        parts = [p for job in jobs for p in _song_job(job)]
    frames = min(p.shape[1] for p in parts)
    return np.stack([p[:, :frames] for p in parts])


def init_params(key: Any, channels: Sequence[int]) -> Params:
    """He-initialized weights (HWIO) and zero biases of the U-Net with ``channels`` per level (the last: the
    bottleneck)."""
    import jax

    keys = iter(jax.random.split(key, 4 * len(channels) + 2))

    def conv(k: int, cin: int, cout: int) -> dict[str, Any]:
        w = jax.random.normal(next(keys), (k, k, cin, cout)) * math.sqrt(2.0 / (k * k * cin))
        return {"w": w, "b": jax.numpy.zeros(cout)}

    params: Params = {}
    cin = 2
    for i, c in enumerate(channels[:-1]):
        params[f"e{i}a"], params[f"e{i}b"] = conv(3, cin, c), conv(3, c, c)
        cin = c
    params["ma"], params["mb"] = conv(3, cin, channels[-1]), conv(3, channels[-1], channels[-1])
    cin = channels[-1]
    for i in reversed(range(len(channels) - 1)):
        c = channels[i]
        params[f"d{i}a"], params[f"d{i}b"] = conv(3, cin + c, c), conv(3, c, c)
        cin = c
    params["out"] = conv(1, cin, 1)
    return params


def levels_of(params: Params) -> int:
    return sum(1 for name in params if name.startswith("e") and name.endswith("a"))


def forward(params: Params, x: Any) -> Any:
    """The mask ``(batch, frames, CONV_BINS)`` of inputs ``(batch, frames, CONV_BINS, 2)`` (NHWC)."""
    import jax
    import jax.numpy as jnp

    def conv(p: dict[str, Any], h: Any) -> Any:
        y = jax.lax.conv_general_dilated(h, p["w"], (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return y + p["b"]

    relu = jax.nn.relu
    skips = []
    h = x
    levels = levels_of(params)
    for i in range(levels):
        h = relu(conv(params[f"e{i}b"], relu(conv(params[f"e{i}a"], h))))
        skips.append(h)
        b, t, f, c = h.shape
        h = h.reshape(b, t // 2, 2, f // 2, 2, c).max(axis=(2, 4))
    h = relu(conv(params["mb"], relu(conv(params["ma"], h))))
    for i in reversed(range(levels)):
        h = jnp.concatenate([jnp.repeat(jnp.repeat(h, 2, axis=1), 2, axis=2), skips[i]], axis=-1)
        h = relu(conv(params[f"d{i}b"], relu(conv(params[f"d{i}a"], h))))
    return jax.nn.sigmoid(conv(params["out"], h)[..., 0])


def train(
    songs: int = 240,
    seconds: float = 8.0,
    steps: int = 3000,
    batch_size: int = 4,
    patch_frames: int = 64,
    channels: Sequence[int] = (16, 32, 64, 128),
    learning_rate: float = 1e-3,
    seed: int = 1234,
    log_every: int = 100,
) -> tuple[Params, dict[str, object]]:
    """Train the U-Net (see the module docstring); its weights as numpy arrays and the training figures."""
    import jax
    import jax.numpy as jnp

    levels = len(channels) - 1
    if patch_frames % 2**levels:
        raise ValueError(f"patch_frames must be a multiple of {2**levels}")
    t0 = time.monotonic()
    corpus = build_corpus(songs, seconds, seed)
    count, _, frames, _ = corpus.shape
    if frames < patch_frames:
        raise ValueError(f"songs of {seconds} s have {frames} frames, fewer than patch_frames={patch_frames}")
    print(f"corpus: {songs} songs, {count} mixes of {frames} frames, {time.monotonic() - t0:.0f} s", flush=True)
    params = init_params(jax.random.PRNGKey(seed), channels)

    def loss_fn(p: Params, batch: Any) -> Any:
        mask = forward(p, jnp.moveaxis(batch[:, :2], 1, -1))
        mix, voc, acc = batch[:, 2], batch[:, 3], batch[:, 4]
        return jnp.mean((mask * mix - voc) ** 2 + ((1 - mask) * mix - acc) ** 2)

    beta1, beta2 = 0.9, 0.999

    @jax.jit
    def step(p: Params, m1: Params, m2: Params, batch: Any, k: Any) -> tuple[Params, Params, Params, Any]:
        loss, grads = jax.value_and_grad(loss_fn)(p, batch)
        lr = learning_rate * (0.05 + 0.95 * 0.5 * (1 + jnp.cos(jnp.pi * k / steps)))
        m1 = jax.tree.map(lambda a, g: beta1 * a + (1 - beta1) * g, m1, grads)
        m2 = jax.tree.map(lambda a, g: beta2 * a + (1 - beta2) * g * g, m2, grads)
        scale = lr * jnp.sqrt(1 - beta2**k) / (1 - beta1**k)
        p = jax.tree.map(lambda w, a, b: w - scale * a / (jnp.sqrt(b) + 1e-8), p, m1, m2)
        return p, m1, m2, loss

    m1 = jax.tree.map(jnp.zeros_like, params)
    m2 = jax.tree.map(jnp.zeros_like, params)
    rng = np.random.default_rng(seed + 1)
    running = first = 0.0
    for k in range(1, steps + 1):
        rows = rng.integers(0, count, batch_size)
        starts = rng.integers(0, frames - patch_frames + 1, batch_size)
        batch = np.stack([corpus[r, :, s : s + patch_frames] for r, s in zip(rows, starts, strict=True)])
        batch = batch.astype(np.float32)
        batch[:, 1] *= np.where(rng.random(batch_size) < 0.5, -1.0, 1.0).astype(np.float32)[:, None, None]
        params, m1, m2, loss = step(params, m1, m2, jnp.asarray(batch), jnp.float32(k))
        value = float(loss)
        running = value if k == 1 else 0.98 * running + 0.02 * value
        first = running if k == 1 else first
        if k % log_every == 0 or k == steps:
            print(f"step {k}/{steps}: loss {running:.5f}, {time.monotonic() - t0:.0f} s", flush=True)
    meta: dict[str, object] = {
        "songs": songs,
        "seconds": seconds,
        "steps": steps,
        "batch": batch_size,
        "patch_frames": patch_frames,
        "channels": list(channels),
        "levels": levels,
        "seed": seed,
        "first_loss": round(first, 5),
        "final_loss": round(running, 5),
        "train_s": round(time.monotonic() - t0, 1),
    }
    return jax.tree.map(np.asarray, params), meta


def export_onnx(params: Params, meta: dict[str, object], path: Path) -> None:
    """Write the U-Net as an ONNX graph (NCHW, ``frames`` dynamic) with ``meta`` as its ``ting`` metadata."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[Any] = []
    initializers: list[Any] = []

    def conv(name: str, source: str, relu: bool = True) -> str:
        w, b = np.asarray(params[name]["w"], np.float32), np.asarray(params[name]["b"], np.float32)
        size = int(w.shape[0])
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(w.transpose(3, 2, 0, 1)), f"{name}_w"))
        initializers.append(numpy_helper.from_array(b, f"{name}_b"))
        nodes.append(
            helper.make_node(
                "Conv", [source, f"{name}_w", f"{name}_b"], [name], kernel_shape=[size, size], pads=[size // 2] * 4
            )
        )
        if not relu:
            return name
        nodes.append(helper.make_node("Relu", [name], [f"{name}_relu"]))
        return f"{name}_relu"

    levels = levels_of(params)
    h = "x"
    skips = []
    for i in range(levels):
        h = conv(f"e{i}b", conv(f"e{i}a", h))
        skips.append(h)
        nodes.append(helper.make_node("MaxPool", [h], [f"pool{i}"], kernel_shape=[2, 2], strides=[2, 2]))
        h = f"pool{i}"
    h = conv("mb", conv("ma", h))
    initializers.append(numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"))
    for i in reversed(range(levels)):
        nodes.append(
            helper.make_node(
                "Resize",
                [h, "", "scales"],
                [f"up{i}"],
                mode="nearest",
                coordinate_transformation_mode="asymmetric",
                nearest_mode="floor",
            )
        )
        nodes.append(helper.make_node("Concat", [f"up{i}", skips[i]], [f"join{i}"], axis=1))
        h = conv(f"d{i}b", conv(f"d{i}a", f"join{i}"))
    nodes.append(helper.make_node("Sigmoid", [conv("out", h, relu=False)], ["mask"]))
    graph = helper.make_graph(
        nodes,
        "ting_separate_unet",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, "frames", CONV_BINS])],
        [helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 1, "frames", CONV_BINS])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, {"ting": json.dumps({**meta, "format": FORMAT, "levels": levels})})
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.onnx")
    onnx.save(model, str(tmp))
    tmp.replace(path)


def cli() -> argparse.ArgumentParser:
    """The command line of ``python -m ting_separate.learned.train_conv``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    training_arguments(parser, train, "model")
    channels = inspect.signature(train).parameters["channels"].default
    parser.add_argument(
        "--channels", default=",".join(str(c) for c in channels), help="channels per level, the last the bottleneck's"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = cli().parse_args(argv)
    out = args.out or default_conv_path()
    if out.is_file() and not args.force:
        print(f"convolutional mask already at {out}")
        return 0
    channels = tuple(int(c) for c in args.channels.split(","))
    params, meta = train(args.songs, args.seconds, args.steps, args.batch, channels=channels, seed=args.seed)
    export_onnx(params, meta, out)
    figures = held_out_snr(ConvMaskNet.load(out))
    export_onnx(params, {**meta, "held_out_snr_db": figures}, out)
    print(f"convolutional mask written to {out}: held-out SNR {figures}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
