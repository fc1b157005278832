"""The ``onnx`` engine: a neural separator (Demucs / HTDemucs / MDX style) exported to ONNX, run in process.

**Model I/O convention** (waveform models). The model's first input is float32 ``[batch, channels,
samples]`` and its first output float32 ``[batch, stems, channels, samples]``, both at the model's sample
rate (``TING_SEPARATE_ONNX_SAMPLE_RATE``) and channel count (``..._ONNX_CHANNELS``), with the stems in the
order ``..._ONNX_STEMS`` names. ``batch`` and ``samples`` may be dynamic axes; where the graph fixes
them, the engine follows the graph (segments are zero-padded to the fixed length, batches with silent
segments to the fixed size). Models that take a spectrogram (UVR's MDX-Net exports) need a wrapper graph
that does the STFT / iSTFT; HTDemucs's spectral branch must be inside the export. The operator supplies
the weights; the tests use a tiny graph they build themselves.

**Pipeline** per call, in bounded memory (one batch of segments plus the requested output stems):

1. overlapping chunks of the input, at its own rate (:func:`~ting_separate.engines.chunking.separate_in_batches`,
   raised-cosine cross-fades summing to one), sized so that a chunk resampled to the model's rate fits one
   model segment; each chunk carries a few samples of its neighbours as context for the resampler;
2. per batch: polyphase resampling to the model's rate, mono upmixed to the model's channels (or, for a
   mono model, each input channel run as its own segment), one ``session.run`` for up to
   ``..._ONNX_BATCH_SIZE`` segments;
3. the model's stems mapped to the requested ones (``accompaniment`` is the sum of the non-vocal stems,
   or the mixture minus ``vocals`` for a vocals-only model), downmixed back to the input's channels,
   resampled back to the input's rate and cross-faded into the output.

The stop flag is checked and progress reported between batches.

**Failures.** The model is loaded when the server starts: a missing, unreadable or non-conforming file
(wrong input/output rank, stems or channels that disagree with the settings) raises
:class:`FailedPreconditionError`, which stops the service with that message, rather than serving an
engine that fails every call. A model that breaks the convention only at run time gets
FAILED_PRECONDITION; an onnxruntime failure while running is INTERNAL.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
from scipy import signal

from ting_common.errors import FailedPreconditionError, InternalError
from ting_separate.engines import (
    CallControl,
    ChunkPlan,
    EngineInfo,
    FloatArray,
    SeparationOptions,
    StemName,
    supported_text,
)
from ting_separate.engines.chunking import separate_whole, stream_planned

logger = logging.getLogger(__name__)

_CUDA: Final = "CUDAExecutionProvider"
_CPU: Final = "CPUExecutionProvider"


@dataclass(frozen=True)
class OnnxSettings:
    """How to load and feed one ONNX separator (``TING_SEPARATE_ONNX_*``)."""

    model_path: Path
    stems: tuple[StemName, ...]  # the model output's stem axis, in order
    sample_rate: int = 44100
    channels: int = 2
    segment_s: float = 7.8
    overlap: float = 0.25
    batch_size: int = 4
    intra_op_threads: int = 0  # 0: onnxruntime's default
    device: Literal["auto", "cpu", "cuda"] = "auto"


def _static(dim: Any) -> int | None:
    """A graph dimension when it is a fixed positive integer (not a symbolic or unknown one)."""
    return dim if isinstance(dim, int) and dim > 0 else None


class OnnxEngine:
    """A waveform separator exported to ONNX, run with onnxruntime (see the module docstring)."""

    name = "onnx"

    def __init__(self, settings: OnnxSettings) -> None:
        self.settings = settings
        if len(settings.stems) != len(set(settings.stems)) or not settings.stems:
            raise FailedPreconditionError(f"TING_SEPARATE_ONNX_STEMS must name each stem once, got {settings.stems}")
        self._session = self._load(settings)
        self._check_io()
        self._device = "cuda" if _CUDA in self._session.get_providers() else "cpu"
        stems = settings.stems
        self._supported: tuple[StemName, ...] = stems
        if "vocals" in stems and "accompaniment" not in stems:
            self._supported = (*stems, "accompaniment")
        if "vocals" in self._supported and "accompaniment" in self._supported:
            self._defaults: tuple[StemName, ...] = ("vocals", "accompaniment")
        else:
            self._defaults = stems
        logger.info(
            "onnx separator loaded",
            extra={
                "model": str(settings.model_path),
                "stems": list(stems),
                "device": self._device,
                "segment_samples": self._segment,
                "batch": self._batch,
            },
        )

    # -- loading -------------------------------------------------------------------------------
    @staticmethod
    def _load(settings: OnnxSettings) -> Any:
        import onnxruntime as ort

        path = settings.model_path
        if not path.is_file():
            raise FailedPreconditionError(
                f"TING_SEPARATE_ONNX_MODEL_PATH={path} is not a file; point it at a separator exported to ONNX"
            )
        available = ort.get_available_providers()
        if settings.device == "cuda" and _CUDA not in available:
            raise FailedPreconditionError(
                "TING_SEPARATE_ONNX_DEVICE=cuda but this onnxruntime has no CUDAExecutionProvider "
                "(install onnxruntime-gpu, or use auto/cpu)"
            )
        providers = [_CUDA, _CPU] if settings.device != "cpu" and _CUDA in available else [_CPU]
        options = ort.SessionOptions()
        options.intra_op_num_threads = settings.intra_op_threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only; onnxruntime's warnings go to stderr, not our log
        try:
            return ort.InferenceSession(str(path), sess_options=options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own pybind11 types (InvalidProtobuf, Fail, ...)
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise FailedPreconditionError(
                f"cannot load the ONNX separator TING_SEPARATE_ONNX_MODEL_PATH={path}: {reason[:300]}"
            ) from None

    def _check_io(self) -> None:
        """Check the graph against the I/O convention and the settings; take fixed batch/segment sizes."""
        settings = self.settings
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        where = f"the ONNX separator {settings.model_path.name}"
        if len(inputs) != 1:
            names = ", ".join(i.name for i in inputs)
            raise FailedPreconditionError(f"{where} has {len(inputs)} inputs ({names}); one waveform input is needed")
        model_in, model_out = inputs[0], outputs[0]
        if model_in.type != "tensor(float)":
            raise FailedPreconditionError(f"{where} takes {model_in.type}; float32 [batch, channels, samples] needed")
        if len(model_in.shape) != 3:
            raise FailedPreconditionError(
                f"{where} takes shape {model_in.shape}; [batch, channels, samples] (waveform) is needed"
            )
        if model_out.shape is not None and len(model_out.shape) != 4:
            raise FailedPreconditionError(
                f"{where} returns shape {model_out.shape}; [batch, stems, channels, samples] is needed"
            )
        channels = _static(model_in.shape[1])
        if channels is not None and channels != settings.channels:
            raise FailedPreconditionError(
                f"{where} takes {channels} channel(s) but TING_SEPARATE_ONNX_CHANNELS={settings.channels}"
            )
        stems = _static(model_out.shape[1])
        if stems is not None and stems != len(settings.stems):
            raise FailedPreconditionError(
                f"{where} returns {stems} stems but TING_SEPARATE_ONNX_STEMS names {len(settings.stems)} "
                f"({','.join(settings.stems)})"
            )
        self._input_name: str = model_in.name
        self._output_name: str = model_out.name
        self._fixed_batch = _static(model_in.shape[0])
        self._fixed_length = _static(model_in.shape[2])
        self._batch = self._fixed_batch or settings.batch_size
        self._segment = self._fixed_length or max(1, round(settings.segment_s * settings.sample_rate))

    # -- protocol ------------------------------------------------------------------------------
    def info(self) -> EngineInfo:
        """Stems, rate and segmenting of the loaded model."""
        settings = self.settings
        return EngineInfo(
            name=self.name,
            description=(
                f"Neural separator from ONNX ({', '.join(settings.stems)} at {settings.sample_rate} Hz, "
                f"{settings.channels} channel(s)), run in process with onnxruntime on {self._device}."
            ),
            model=settings.model_path.name,
            supported_stems=self._supported,
            default_stems=self._defaults,
            loaded=True,
            device=self._device,
            sample_rate=settings.sample_rate,
            channels=settings.channels,
            default_segment_ms=round(self._segment / settings.sample_rate * 1000),
        )

    def separate(
        self, audio: FloatArray, sample_rate: int, options: SeparationOptions, control: CallControl
    ) -> dict[StemName, FloatArray]:
        """Split ``audio`` ``(channels, samples)`` into ``options.stems`` (see the module docstring)."""
        return separate_whole(self, audio, sample_rate, options, control)

    def separate_stream(
        self,
        blocks: Iterable[FloatArray],
        sample_rate: int,
        options: SeparationOptions,
        control: CallControl,
        total_hint: int = 0,
    ) -> Iterator[dict[StemName, FloatArray]]:
        """:meth:`separate` over a stream of input blocks, yielding finished output blocks."""
        self._check_stems(options)
        return stream_planned(
            blocks,
            options,
            control,
            total_hint,
            lambda channels: self.plan(sample_rate, channels, options),
            lambda pieces: self.separate_chunks(pieces, sample_rate, options),
        )

    def plan(self, sample_rate: int, channels: int, options: SeparationOptions) -> ChunkPlan:
        """Chunks whose resampled length (with context) fits one model segment; as many per batch as fill the
        model's batch (a mono model takes each channel as its own segment)."""
        self._check_stems(options)
        model_channels = self.settings.channels
        if channels not in (1, model_channels) and model_channels != 1:
            raise FailedPreconditionError(
                f"the {self.name} engine's model takes {model_channels} channels; got {channels}"
            )
        model_rate = self.settings.sample_rate
        _, _, context, segment = self._geometry(sample_rate, options)
        # The largest input span (chunk plus context both sides) whose resampled length fits one segment.
        chunk = segment * sample_rate // model_rate - 2 * context
        if chunk < 1:
            raise FailedPreconditionError(
                f"the {self.name} engine's segment ({segment} samples at {model_rate} Hz) is too short for "
                f"{sample_rate} Hz input; raise TING_SEPARATE_ONNX_SEGMENT_S"
            )
        ratio = self.settings.overlap if options.overlap_ratio is None else options.overlap_ratio
        overlap = min(round(chunk * ratio), chunk - 1)
        items_per_chunk = channels if model_channels == 1 else 1
        return ChunkPlan(chunk=chunk, overlap=overlap, context=context, batch=max(1, self._batch // items_per_chunk))

    def separate_chunks(
        self, chunks: Sequence[FloatArray], sample_rate: int, options: SeparationOptions
    ) -> list[dict[StemName, FloatArray]]:
        """``options.stems`` of each chunk: one batch of segments through the model (see the module docstring)."""
        up, down, _, segment = self._geometry(sample_rate, options)
        return self._separate_batch(chunks, options.stems, up, down, segment)

    def _check_stems(self, options: SeparationOptions) -> None:
        unsupported = [s for s in options.stems if s not in self._supported]
        if unsupported:
            raise FailedPreconditionError(
                f"the {self.name} engine cannot produce {supported_text(unsupported)}; "
                f"its model gives {supported_text(self._supported)}"
            )

    def _geometry(self, sample_rate: int, options: SeparationOptions) -> tuple[int, int, int, int]:
        """``(up, down, context, segment)``: resampling ratio, resampler context (input samples) and model segment."""
        model_rate = self.settings.sample_rate
        divisor = math.gcd(model_rate, sample_rate)
        up, down = model_rate // divisor, sample_rate // divisor
        # resample_poly's filter reaches 10 * max(up, down) samples of the upsampled signal to either side;
        # twice that (in input samples) of real neighbouring audio keeps its edge effects out of the output.
        context = 0 if up == down else 2 * math.ceil(10 * max(up, down) / up) + 16
        segment = self._segment
        if options.segment_ms and self._fixed_length is None:
            segment = max(1, round(options.segment_ms / 1000 * model_rate))
        return up, down, context, segment

    def close(self) -> None:
        """Drop the session (onnxruntime frees its memory when the last reference goes)."""
        self._session = None

    # -- one batch -----------------------------------------------------------------------------
    def _separate_batch(
        self, pieces: Sequence[FloatArray], stems: Sequence[StemName], up: int, down: int, segment: int
    ) -> list[dict[StemName, FloatArray]]:
        """Run the model on ``pieces`` (input rate and channels) and return the requested stems of each."""
        model_channels = self.settings.channels
        resampled = [_resample(piece, up, down) for piece in pieces]
        items: list[FloatArray] = []
        for piece in resampled:
            if piece.shape[0] == model_channels:
                items.append(piece)
            elif piece.shape[0] == 1:
                items.append(np.repeat(piece, model_channels, axis=0))
            else:  # a mono model: each input channel is its own segment
                items.extend(piece[c : c + 1] for c in range(piece.shape[0]))
        length = self._fixed_length or max(item.shape[1] for item in items)  # <= segment by the chunk sizing
        separated = self._run(items, length)  # one (model stems, model channels, samples) per item
        results: list[dict[StemName, FloatArray]] = []
        cursor = 0
        for piece, source in zip(resampled, pieces, strict=True):
            channels, samples = piece.shape
            if channels == model_channels:
                out = separated[cursor][..., :samples]
                cursor += 1
            elif channels == 1:
                out = separated[cursor][..., :samples].mean(axis=1, keepdims=True)
                cursor += 1
            else:
                out = np.concatenate([s[..., :samples] for s in separated[cursor : cursor + channels]], axis=1)
                cursor += channels
            wanted = self._map_stems(out, piece, stems)  # (requested stems, channels, samples) at model rate
            back = _resample(wanted.reshape(-1, samples), down, up).reshape(len(stems), channels, -1)
            results.append({stem: _fit(back[index], source.shape[1]) for index, stem in enumerate(stems)})
        return results

    def _run(self, items: list[FloatArray], length: int) -> list[FloatArray]:
        """``session.run`` over ``items`` (model channels, <= ``length``) in batches of the model's size."""
        stems, model_channels = len(self.settings.stems), self.settings.channels
        outputs: list[FloatArray] = []
        for start in range(0, len(items), self._batch):
            group = items[start : start + self._batch]
            rows = self._fixed_batch or len(group)
            batch = np.zeros((rows, model_channels, length), dtype=np.float32)
            for row, item in enumerate(group):
                batch[row, :, : item.shape[1]] = item[:, :length]
            try:
                (result,) = self._session.run([self._output_name], {self._input_name: batch})
            except Exception as exc:  # onnxruntime's own pybind11 error types
                raise InternalError(f"the ONNX separator failed on a batch of {rows} segment(s): {exc}") from None
            result = np.asarray(result, dtype=np.float32)
            expected = (rows, stems, model_channels)
            if result.ndim != 4 or result.shape[:3] != expected or result.shape[3] < length:
                raise FailedPreconditionError(
                    f"the ONNX separator returned shape {list(result.shape)} for input {list(batch.shape)}; "
                    f"[batch, {stems} stems (TING_SEPARATE_ONNX_STEMS), {model_channels} channels, samples] "
                    "is needed"
                )
            outputs.extend(result[row, :, :, :length] for row in range(len(group)))
        return outputs

    def _map_stems(self, out: FloatArray, mixture: FloatArray, stems: Sequence[StemName]) -> FloatArray:
        """The requested stems from the model's: ``(len(stems), channels, samples)``."""
        model_stems = self.settings.stems
        picked = []
        for stem in stems:
            if stem in model_stems:
                picked.append(out[model_stems.index(stem)])
            else:  # accompaniment (the only derived stem)
                others = [index for index, name in enumerate(model_stems) if name != "vocals"]
                if others:
                    picked.append(out[others].sum(axis=0))
                else:
                    picked.append(mixture - out[model_stems.index("vocals")])
        return np.stack(picked).astype(np.float32, copy=False)


def _resample(samples: FloatArray, up: int, down: int) -> FloatArray:
    """Polyphase resampling along the last axis by ``up / down`` (a no-op when they are equal)."""
    if up == down:
        return samples
    return np.asarray(signal.resample_poly(samples, up, down, axis=-1), dtype=np.float32)


def _fit(samples: FloatArray, length: int) -> FloatArray:
    """Cut or zero-pad the last axis to ``length`` (resampling there and back can be off by a sample)."""
    if samples.shape[-1] >= length:
        return samples[..., :length]
    padded = np.zeros((*samples.shape[:-1], length), dtype=np.float32)
    padded[..., : samples.shape[-1]] = samples
    return padded
