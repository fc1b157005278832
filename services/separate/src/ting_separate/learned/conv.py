"""The ``learned`` engine's optional second network: a small convolutional U-Net mask, run with onnxruntime.

The MLP (:mod:`.model`) judges one frame at a time from a fixed set of features. A U-Net sees the spectrogram as an
image: its 3x3 filters, the same at every frequency, pick out harmonic stacks, vibrato and onsets wherever they are,
over about a second of context. It needs far more training than set-up can afford on two cores (45 minutes for
the figures in the README, against the MLP's few), so it is optional: ``python -m ting_separate.learned.train_conv``
(JAX, the ``train`` extra) writes ``<venv>/models/separate/mask_unet.onnx``, and the engine averages its mask
with the MLP's when that file is there.

Same grid as the MLP: 22.05 kHz, 2048-point STFT, hop 512; the lowest 1024 bins (the Nyquist bin takes the mask of
the one below it). The input has two channels over ``(frames, 1024)``: the log magnitude relative to the context
level and the panning index, exactly as the MLP's first two feature blocks (:func:`.model.level_and_pan`). The
output is the vocal share of each bin. Long inputs are run in blocks of frames with enough context on each side
that the result does not depend on the block size (the network's receptive field is under ``CONTEXT_FRAMES``).

The ``.onnx`` file holds the graph (opset 17: Conv, Relu, MaxPool, nearest Resize, Concat, Sigmoid; ``frames`` is a
dynamic axis that must be a multiple of ``2 ** levels``) and, in its metadata, ``format`` and the training figures
as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import numpy as np

from ting_common.errors import FailedPreconditionError
from ting_separate.learned.model import BINS, C64, F32, context_level, level_and_pan

FORMAT: Final = "ting-separate-mask-unet/1"
CONV_BINS: Final = BINS - 1
#: Frames of context on each side of a block (the receptive field of the default network is 44 frames).
CONTEXT_FRAMES: Final = 64


def conv_inputs_and_level(spec: C64) -> tuple[F32, F32, F32]:
    """The network input ``(2, frames, CONV_BINS)`` of a model-grid STFT ``(channels, BINS, frames)``, with the
    channel-mean magnitude ``(frames, BINS)`` and the context level ``(frames, 1)`` it is relative to."""
    if spec.shape[0] == 1:
        left = right = np.abs(spec[0])
    else:
        left, right = np.abs(spec[0]), np.abs(spec[1])
    mag = (0.5 * (left + right)).T.astype(np.float32)
    level = context_level(mag)
    log_mag, pan = level_and_pan(left, right, mag, level)
    return np.stack([log_mag[:, :CONV_BINS], pan[:, :CONV_BINS]]).astype(np.float32), mag, level


def conv_inputs(spec: C64) -> F32:
    """The network input ``(2, frames, CONV_BINS)`` of a model-grid STFT ``(channels, BINS, frames)``."""
    return conv_inputs_and_level(spec)[0]


class ConvMaskNet:
    """A U-Net mask in an onnxruntime session (see the module docstring)."""

    def __init__(self, session: Any, meta: dict[str, object], multiple: int) -> None:
        self.session = session
        self.meta = meta
        self.multiple = multiple
        self.input_name = str(session.get_inputs()[0].name)

    @classmethod
    def load(cls, path: Path, threads: int = 0) -> ConvMaskNet:
        """Open an ``.onnx`` written by ``train_conv``; a missing or foreign file is FAILED_PRECONDITION."""
        if not path.is_file():
            raise FailedPreconditionError(
                f"no convolutional mask at {path}; run `python -m ting_separate.learned.train_conv`"
            )
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads > 0:
            options.intra_op_num_threads = threads
        try:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            meta = json.loads(session.get_modelmeta().custom_metadata_map.get("ting", "{}"))
        except Exception as exc:  # onnxruntime raises its own exception types for unreadable graphs
            raise FailedPreconditionError(f"unreadable convolutional mask {path}: {exc}") from exc
        shape = session.get_inputs()[0].shape
        if meta.get("format") != FORMAT or len(shape) != 4 or shape[1] != 2 or shape[3] != CONV_BINS:
            raise FailedPreconditionError(f"{path} is not a {FORMAT} model for this version")
        return cls(session, meta, 2 ** int(meta.get("levels", 3)))

    def mask(self, spec: C64, block: int = 512) -> F32:
        """Vocal mask ``(BINS, frames)`` of a model-grid STFT ``(channels, BINS, frames)``, ``block`` frames (plus
        context) per run."""
        x = conv_inputs(spec)
        frames = x.shape[1]
        out = np.empty((frames, BINS), dtype=np.float32)
        for start in range(0, frames, block):
            stop = min(frames, start + block)
            lo, hi = max(0, start - CONTEXT_FRAMES), min(frames, stop + CONTEXT_FRAMES)
            piece = x[:, lo:hi]
            padded = -(-piece.shape[1] // self.multiple) * self.multiple
            piece = np.pad(piece, ((0, 0), (0, padded - piece.shape[1]), (0, 0)))
            result = self.session.run(None, {self.input_name: piece[None]})[0][0, 0]
            out[start:stop, :CONV_BINS] = result[start - lo : stop - lo]
        out[:, CONV_BINS] = out[:, CONV_BINS - 1]
        return out.T
