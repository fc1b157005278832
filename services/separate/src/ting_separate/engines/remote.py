"""Engines served by a model runner (NVIDIA Triton, BentoML): the chunking here, each batch of chunks there.

A :class:`RemoteSeparationEngine` stands for one engine a runner hosts (:mod:`ting_separate.runner`). Its
``separate_stream`` asks the runner for the engine's :class:`~ting_separate.engines.ChunkPlan`, cuts and cross-fades
the input with :func:`~ting_separate.engines.chunking.stream_in_batches` exactly as the in-process engine does, and
sends each batch of chunks to the runner, which runs the engine's own per-batch code. The stems are therefore those
of the in-process engine, and memory stays one batch whatever the input's length.

The transport (:class:`RunnerTransport`) carries one request (JSON header + float32 samples) and its answer,
raises the domain error a runner reports, retries an unreachable runner and fails with UNAVAILABLE after that.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any, Protocol

from ting_common.errors import InternalError
from ting_separate.engines import (
    CallControl,
    ChunkPlan,
    EngineInfo,
    FloatArray,
    SeparationOptions,
    StemName,
)
from ting_separate.engines.chunking import separate_whole, stream_planned
from ting_separate.runner import (
    EMPTY,
    info_from_wire,
    options_to_wire,
    pack_chunks,
    plan_from_wire,
    unpack_stems,
)


class RunnerTransport(Protocol):
    """One request to a model runner and its answer (:mod:`ting_separate.runner`'s wire format)."""

    where: str  # "Triton at 127.0.0.1:8001 (model separator)": for descriptions and error messages

    def call(
        self, header: dict[str, Any], samples: FloatArray, control: CallControl | None
    ) -> tuple[dict[str, Any], FloatArray]:
        """Send ``header`` and ``samples``; return the answer's header and samples or raise the runner's error
        (UNAVAILABLE once retries are spent, :class:`~ting_separate.engines.StopRequested` when ``control`` stops)."""
        ...

    def close(self) -> None:
        """Release connections (idempotent)."""
        ...


class RemoteSeparationEngine:
    """One engine of a model runner, behind the :class:`~ting_separate.engines.SeparationEngine` protocol."""

    def __init__(self, info: EngineInfo, transport: RunnerTransport) -> None:
        self.name = info.name
        self.transport = transport
        self._info = replace(info, description=f"{info.description} — served by {transport.where}")

    def info(self) -> EngineInfo:
        """The runner's description of the engine (``loaded``, ``device`` are the runner's), naming the runner."""
        return self._info

    def separate(
        self, audio: FloatArray, sample_rate: int, options: SeparationOptions, control: CallControl
    ) -> dict[StemName, FloatArray]:
        """Split ``audio`` ``(channels, samples)`` into ``options.stems`` on the runner."""
        return separate_whole(self, audio, sample_rate, options, control)

    def separate_stream(
        self,
        blocks: Iterable[FloatArray],
        sample_rate: int,
        options: SeparationOptions,
        control: CallControl,
        total_hint: int = 0,
    ) -> Iterator[dict[StemName, FloatArray]]:
        """:meth:`separate` over a stream of input blocks: chunked here, one runner request per batch.

        The runner checks the options (its ``plan`` answer), as the in-process engine would.
        """
        return stream_planned(
            blocks,
            options,
            control,
            total_hint,
            lambda channels: self.plan(sample_rate, channels, options, control),
            lambda pieces: self.separate_chunks(pieces, sample_rate, options, control),
        )

    def plan(
        self, sample_rate: int, channels: int, options: SeparationOptions, control: CallControl | None = None
    ) -> ChunkPlan:
        """The runner engine's chunking for this input (and its checks of the options)."""
        header, _ = self.transport.call(self._header("plan", sample_rate, channels, options), EMPTY, control)
        return plan_from_wire(header)

    def separate_chunks(
        self,
        chunks: Sequence[FloatArray],
        sample_rate: int,
        options: SeparationOptions,
        control: CallControl | None = None,
    ) -> list[dict[StemName, FloatArray]]:
        """``options.stems`` of each chunk, separated by the runner as one batch."""
        samples, channels, lengths = pack_chunks(chunks)
        header = {**self._header("separate", sample_rate, channels, options), "lengths": lengths}
        answer, stems = self.transport.call(header, samples, control)
        results = unpack_stems(answer, stems)
        if len(results) != len(chunks):
            raise InternalError(f"{self.transport.where} answered {len(results)} chunks for {len(chunks)}")
        return results

    def close(self) -> None:
        """Close the shared transport (closing it twice is harmless)."""
        self.transport.close()

    def _header(self, op: str, sample_rate: int, channels: int, options: SeparationOptions) -> dict[str, Any]:
        return {
            "op": op,
            "engine": self.name,
            "sample_rate": sample_rate,
            "channels": channels,
            **options_to_wire(options),
        }


def describe_runner(transport: RunnerTransport) -> list[EngineInfo]:
    """The engines a runner hosts, its default first."""
    header, _ = transport.call({"op": "describe"}, EMPTY, None)
    engines = header.get("engines")
    if not isinstance(engines, list) or not engines:
        raise InternalError(f"{transport.where} describes no engines")
    return [info_from_wire(item) for item in engines]
