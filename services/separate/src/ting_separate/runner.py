"""The separation model runner: what NVIDIA Triton's python backend and the BentoML service host, and its wire format.

A runner hosts the engines the in-process server would build (:func:`ting_separate.server.create_engines`: ``dsp``
always, ``onnx`` when ``TING_SEPARATE_ONNX_*`` is set in the runner's environment). The caller keeps the chunking
(:class:`ting_separate.engines.remote.RemoteSeparationEngine` runs
:func:`~ting_separate.engines.chunking.stream_in_batches` with the runner's :class:`~ting_separate.engines.ChunkPlan`)
and sends one batch of chunks per request, so the stems are those of the in-process engine.

**Requests** are a JSON header plus float32 samples (little-endian; an FP32 tensor on Triton, a file part on
BentoML, never JSON number lists). The header's ``op``:

* ``describe``: the hosted engines, default first: ``{"engines": [EngineInfo as JSON, ...]}``;
* ``plan``: ``engine``, ``sample_rate``, ``channels`` and the options (``stems``, ``segment_ms``,
  ``overlap_ratio``) -> ``{"plan": {"chunk", "overlap", "context", "batch"}}``;
* ``separate``: the same fields plus ``lengths`` (samples of each chunk); the samples are the chunks one after the
  other, each ``(channels, length)`` in row-major order -> ``{"stems": [...], "channels": c, "lengths": [...]}`` and
  the samples of each chunk's stems, chunk by chunk, stem by stem, each ``(channels, length)`` row-major.

**Errors** travel as ``{"error": {"code", "message"}}`` (:func:`ting_common.runners.error_to_wire`) in the answer's
header, with no samples; the caller raises the same domain error (:func:`ting_common.runners.parse_answer`).

Over HTTP (BentoML) a header and its samples are framed as one body: a 4-byte little-endian header length, the
UTF-8 JSON header, then the samples (:func:`frame` / :func:`unframe`).
"""

from __future__ import annotations

import json
import logging
import struct
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, Final, Literal, cast

import numpy as np

from ting_common.errors import InternalError, InvalidArgumentError, NotFoundError, TingError
from ting_common.runners import error_to_wire
from ting_separate.config import SeparateSettings
from ting_separate.engines import (
    ALL_STEMS,
    ChunkedSeparationEngine,
    ChunkPlan,
    EngineInfo,
    FloatArray,
    SeparationEngine,
    SeparationOptions,
    StemName,
)

logger = logging.getLogger(__name__)

WIRE_DTYPE: Final = np.dtype("<f4")
EMPTY: Final[FloatArray] = np.zeros(0, dtype=np.float32)
_LENGTH = struct.Struct("<I")


# -- samples --------------------------------------------------------------------------------------
def pack_chunks(chunks: Sequence[FloatArray]) -> tuple[FloatArray, int, list[int]]:
    """``(samples, channels, lengths)``: the chunks ``(channels, n_i)`` one after the other, as one flat array."""
    if not chunks:
        return EMPTY, 0, []
    channels = chunks[0].shape[0]
    if any(chunk.ndim != 2 or chunk.shape[0] != channels for chunk in chunks):
        raise ValueError("every chunk must be (channels, samples) with the same channel count")
    flat = np.concatenate([np.ascontiguousarray(chunk, dtype=np.float32).ravel() for chunk in chunks])
    return flat, channels, [chunk.shape[1] for chunk in chunks]


def unpack_chunks(samples: FloatArray, channels: int, lengths: Sequence[int]) -> list[FloatArray]:
    """Inverse of :func:`pack_chunks`; INVALID_ARGUMENT when the sizes disagree."""
    expected = channels * sum(lengths)
    if samples.size != expected or channels < 0 or any(n < 0 for n in lengths):
        raise InvalidArgumentError(
            f"the request carries {samples.size} samples, but {channels} channel(s) x lengths {list(lengths)} "
            f"need {expected}"
        )
    chunks: list[FloatArray] = []
    offset = 0
    for length in lengths:
        size = channels * length
        chunks.append(samples[offset : offset + size].reshape(channels, length))
        offset += size
    return chunks


def pack_stems(
    results: Sequence[dict[StemName, FloatArray]], stems: Sequence[StemName]
) -> tuple[dict[str, Any], FloatArray]:
    """The ``separate`` answer: header and flat samples (chunk by chunk, stem by stem)."""
    channels = results[0][stems[0]].shape[0] if results and stems else 0
    lengths = [result[stems[0]].shape[1] if stems else 0 for result in results]
    parts = [np.ascontiguousarray(result[stem], dtype=np.float32).ravel() for result in results for stem in stems]
    flat = np.concatenate(parts) if parts else EMPTY
    return {"stems": list(stems), "channels": channels, "lengths": lengths}, flat


def unpack_stems(header: dict[str, Any], samples: FloatArray) -> list[dict[StemName, FloatArray]]:
    """Inverse of :func:`pack_stems`; INTERNAL when the runner's answer does not add up."""
    try:
        stems = [cast(StemName, str(stem)) for stem in header["stems"]]
        channels = int(header["channels"])
        lengths = [int(n) for n in header["lengths"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise InternalError(f"the model runner's answer lacks its layout: {exc!r}") from None
    expected = channels * sum(lengths) * len(stems)
    if samples.size != expected:
        raise InternalError(f"the model runner answered {samples.size} samples where its header promises {expected}")
    results: list[dict[StemName, FloatArray]] = []
    offset = 0
    for length in lengths:
        result: dict[StemName, FloatArray] = {}
        for stem in stems:
            size = channels * length
            result[stem] = samples[offset : offset + size].reshape(channels, length)
            offset += size
        results.append(result)
    return results


def to_samples(raw: bytes | memoryview | np.ndarray[Any, Any]) -> FloatArray:
    """Flat float32 samples from wire bytes or an array of any float type."""
    if isinstance(raw, np.ndarray):
        return np.ascontiguousarray(raw, dtype=np.float32).reshape(-1)
    if len(raw) % WIRE_DTYPE.itemsize:
        raise InvalidArgumentError(f"{len(raw)} bytes of samples is not a whole number of float32 values")
    return np.frombuffer(raw, dtype=WIRE_DTYPE).astype(np.float32, copy=False)


def frame(header: dict[str, Any], samples: FloatArray) -> bytes:
    """One HTTP body: header length (4 bytes, little-endian), the JSON header, the float32 samples."""
    encoded = json.dumps(header, separators=(",", ":")).encode()
    return _LENGTH.pack(len(encoded)) + encoded + np.asarray(samples, dtype=WIRE_DTYPE).tobytes()


def unframe(body: bytes) -> tuple[bytes, FloatArray]:
    """Inverse of :func:`frame`: the raw JSON header (for :func:`~ting_common.runners.parse_answer`) and samples."""
    if len(body) < _LENGTH.size:
        raise InternalError(f"the model runner answered {len(body)} bytes, too short for a framed answer")
    (size,) = _LENGTH.unpack_from(body)
    end = _LENGTH.size + size
    if end > len(body) or (len(body) - end) % WIRE_DTYPE.itemsize:
        raise InternalError("the model runner's framed answer is truncated or malformed")
    return body[_LENGTH.size : end], np.frombuffer(body, dtype=WIRE_DTYPE, offset=end).astype(np.float32, copy=False)


# -- headers --------------------------------------------------------------------------------------
def options_to_wire(options: SeparationOptions) -> dict[str, Any]:
    """The options' JSON fields."""
    return {"stems": list(options.stems), "segment_ms": options.segment_ms, "overlap_ratio": options.overlap_ratio}


def options_from_wire(header: dict[str, Any]) -> SeparationOptions:
    """:class:`SeparationOptions` from a request header; INVALID_ARGUMENT when malformed."""
    stems = header.get("stems")
    if not isinstance(stems, list) or any(stem not in ALL_STEMS for stem in stems):
        raise InvalidArgumentError(f"'stems' must be a list of {', '.join(ALL_STEMS)}; got {stems!r}")
    overlap = header.get("overlap_ratio")
    try:
        return SeparationOptions(
            stems=tuple(cast(StemName, stem) for stem in stems),
            segment_ms=int(header.get("segment_ms") or 0),
            overlap_ratio=None if overlap is None else float(overlap),
        )
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"malformed separation options: {exc}") from None


def info_to_wire(info: EngineInfo) -> dict[str, Any]:
    """An :class:`EngineInfo` as JSON."""
    return asdict(info)


def info_from_wire(payload: dict[str, Any]) -> EngineInfo:
    """Inverse of :func:`info_to_wire`; INTERNAL when the runner's description is malformed."""
    try:
        return EngineInfo(
            name=str(payload["name"]),
            description=str(payload["description"]),
            model=str(payload["model"]),
            supported_stems=tuple(cast(StemName, s) for s in payload["supported_stems"] if s in ALL_STEMS),
            default_stems=tuple(cast(StemName, s) for s in payload["default_stems"] if s in ALL_STEMS),
            loaded=bool(payload["loaded"]),
            device=str(payload["device"]),
            sample_rate=int(payload["sample_rate"]),
            channels=int(payload["channels"]),
            default_segment_ms=int(payload["default_segment_ms"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InternalError(f"the model runner described an engine without {exc}") from None


def plan_from_wire(header: dict[str, Any]) -> ChunkPlan:
    """The :class:`ChunkPlan` of a ``plan`` answer."""
    try:
        plan = header["plan"]
        return ChunkPlan(
            chunk=int(plan["chunk"]),
            overlap=int(plan["overlap"]),
            context=int(plan["context"]),
            batch=int(plan["batch"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InternalError(f"the model runner's plan is malformed: {exc!r}") from None


def _int_field(header: dict[str, Any], name: str, low: int) -> int:
    value = header.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise InvalidArgumentError(f"'{name}' must be an integer >= {low}; got {value!r}")
    return value


# -- the host -------------------------------------------------------------------------------------
class RunnerHost:
    """The engines a runner serves, behind :meth:`handle` (never raises: errors become answers)."""

    def __init__(self, engines: Sequence[SeparationEngine]) -> None:
        chunked: dict[str, ChunkedSeparationEngine] = {}
        for engine in engines:
            if not isinstance(engine, ChunkedSeparationEngine):
                raise TypeError(f"the {engine.name} engine has no plan/separate_chunks; a runner cannot host it")
            chunked[engine.name] = engine
        self.engines = chunked

    @classmethod
    def from_settings(
        cls, settings: SeparateSettings, *, device: Literal["auto", "cpu", "cuda"] | None = None
    ) -> RunnerHost:
        """Host the in-process engines ``settings`` describe (a runner never forwards to another runner);
        ``device`` overrides ``TING_SEPARATE_ONNX_DEVICE`` (Triton's ``instance_group`` kind decides it)."""
        from ting_separate.server import create_engines

        update: dict[str, Any] = {"runner": "in-process"}
        if device is not None:
            update["onnx_device"] = device
        return cls(create_engines(settings.model_copy(update=update)))

    def describe(self) -> dict[str, Any]:
        """The ``describe`` answer."""
        return {"engines": [info_to_wire(engine.info()) for engine in self.engines.values()]}

    def handle(self, header: dict[str, Any], samples: FloatArray | bytes) -> tuple[dict[str, Any], FloatArray]:
        """Answer one request (``samples`` as an array or wire bytes): ``(header, samples)``; any failure is an
        error header with no samples."""
        try:
            return self._handle(header, to_samples(samples))
        except Exception as exc:
            if not isinstance(exc, TingError):
                logger.exception("separation runner request failed")
            return error_to_wire(exc), EMPTY

    def handle_raw(self, raw_header: bytes | str, samples: FloatArray | bytes) -> tuple[bytes, FloatArray]:
        """:meth:`handle_json` with the answer's header encoded as JSON bytes (Triton's ``RESULT``)."""
        answer, out = self.handle_json(raw_header, samples)
        return json.dumps(answer, separators=(",", ":")).encode(), out

    def handle_json(self, raw_header: bytes | str, samples: FloatArray | bytes) -> tuple[dict[str, Any], FloatArray]:
        """:meth:`handle` for a header still in JSON; a header that is not a JSON object is INVALID_ARGUMENT."""
        try:
            header = json.loads(raw_header)
        except (ValueError, UnicodeDecodeError) as exc:
            return error_to_wire(InvalidArgumentError(f"the request header is not JSON: {exc}")), EMPTY
        if not isinstance(header, dict):
            return error_to_wire(InvalidArgumentError("the request header must be a JSON object")), EMPTY
        return self.handle(header, samples)

    def _handle(self, header: dict[str, Any], samples: FloatArray) -> tuple[dict[str, Any], FloatArray]:
        op = header.get("op")
        if op == "describe":
            return self.describe(), EMPTY
        if op not in ("plan", "separate"):
            raise InvalidArgumentError(f"unknown op {op!r}; use describe, plan or separate")
        name = header.get("engine")
        engine = self.engines.get(str(name))
        if engine is None:
            raise NotFoundError(f"this runner has no engine {name!r}; it has {', '.join(self.engines)}")
        sample_rate = _int_field(header, "sample_rate", 1)
        channels = _int_field(header, "channels", 1)
        options = options_from_wire(header)
        if op == "plan":
            return {"plan": asdict(engine.plan(sample_rate, channels, options))}, EMPTY
        lengths = header.get("lengths")
        if not isinstance(lengths, list) or not all(isinstance(n, int) for n in lengths):
            raise InvalidArgumentError(f"'lengths' must be a list of integers; got {lengths!r}")
        chunks = unpack_chunks(samples, channels, lengths)
        return pack_stems(engine.separate_chunks(chunks, sample_rate, options), options.stems)

    def close(self) -> None:
        """Close the engines."""
        for engine in self.engines.values():
            engine.close()


__all__ = [
    "EMPTY",
    "RunnerHost",
    "frame",
    "info_from_wire",
    "info_to_wire",
    "options_from_wire",
    "options_to_wire",
    "pack_chunks",
    "pack_stems",
    "plan_from_wire",
    "to_samples",
    "unframe",
    "unpack_chunks",
    "unpack_stems",
]
