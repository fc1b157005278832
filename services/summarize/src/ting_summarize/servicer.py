"""``ting.summarization.v1.SummarizationService``: validation, proto <-> domain, scheduling, errors.

Summaries run on a bounded thread pool (``concurrency`` workers, at most ``max_queue`` waiting), off
the event loop. A call that is cancelled or runs past its deadline sets its stop flag; the engine
checks it between stages.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import grpc

from ting.summarization.v1 import summarization_service_pb2 as pb
from ting.summarization.v1 import summarization_service_pb2_grpc as pb_grpc
from ting_common.errors import (
    CancelledError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    OutOfRangeError,
    ResourceExhaustedError,
)
from ting_common.transcript import Segment
from ting_common.transcript_proto import segment_from_proto
from ting_common.workers import BoundedPool
from ting_summarize.config import SummarizeSettings
from ting_summarize.convert import engine_to_proto, summary_to_proto
from ting_summarize.engines import (
    DEFAULT_PARTS,
    CallControl,
    Length,
    Part,
    StopRequested,
    Summary,
    SummaryEngine,
    SummaryOptions,
)
from ting_summarize.engines.text import detect_language

logger = logging.getLogger(__name__)

T = TypeVar("T")

LLM_ENGINE = "llm"
LLM_HELP = (
    "set TING_SUMMARIZE_LLM_BASE_URL (an OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1), "
    "TING_SUMMARIZE_LLM_MODEL and, if needed, TING_SUMMARIZE_LLM_API_KEY; or use the offline engine 'extractive'"
)
MAX_CONTEXT_CHARS = 4000
MAX_INSTRUCTIONS_CHARS = 2000
DEFAULT_MAX_KEYWORDS = 10
MAX_KEYWORDS = 50
MAX_CHAPTERS = 100


def segments_from_proto(request: pb.SummarizeRequest, settings: SummarizeSettings) -> tuple[Segment, ...]:
    """Validated domain segments (seconds) of a request."""
    if not request.segments:
        raise InvalidArgumentError("no transcript: send at least one segment with text")
    if len(request.segments) > settings.max_segments:
        raise ResourceExhaustedError(
            f"the transcript has {len(request.segments)} segments; this server accepts at most {settings.max_segments}"
        )
    chars = sum(len(s.text) for s in request.segments)
    if chars > settings.max_chars:
        raise ResourceExhaustedError(
            f"the transcript has {chars} characters; this server accepts at most {settings.max_chars}"
        )
    if not any(s.text.strip() for s in request.segments):
        raise InvalidArgumentError("the transcript is empty: every segment's text is blank")
    seen: set[int] = set()
    previous_start = -1
    result: list[Segment] = []
    for s in request.segments:
        if s.id in seen:
            raise InvalidArgumentError(f"duplicate segment id {s.id}; segment ids must be distinct")
        seen.add(s.id)
        if s.start_ms < 0 or s.end_ms < s.start_ms:
            raise InvalidArgumentError(f"segment {s.id} has bad times ({s.start_ms} ms to {s.end_ms} ms)")
        if s.start_ms < previous_start:
            raise InvalidArgumentError(
                f"segment {s.id} starts before the segment ahead of it; send segments in time order"
            )
        previous_start = s.start_ms
        result.append(segment_from_proto(s))
    return tuple(result)


def default_parts_for(engine: SummaryEngine, options: SummaryOptions) -> SummaryOptions:
    """``options`` without the default parts ``engine`` refuses for the transcript's language."""
    kept = tuple(options.parts)
    for part in options.parts:
        trial = dataclasses.replace(options, parts=(part,))
        try:
            engine.validate(trial)
        except FailedPreconditionError:
            if len(kept) > 1:
                kept = tuple(p for p in kept if p != part)
    return dataclasses.replace(options, parts=kept)


def options_from_proto(config: pb.SummaryConfig, language: str) -> SummaryOptions:
    """Validated options with defaults filled in."""
    parts: list[Part] = []
    for value in config.parts:
        if value == pb.SUMMARY_PART_UNSPECIFIED or value not in Part._value2member_map_:
            raise InvalidArgumentError(f"unknown summary part {value}")
        if Part(value) in parts:
            raise InvalidArgumentError(f"summary part {pb.SummaryPart.Name(value)} is listed twice")
        parts.append(Part(value))
    if config.length == pb.SUMMARY_LENGTH_UNSPECIFIED:
        length = Length.MEDIUM
    elif config.length in Length._value2member_map_:
        length = Length(config.length)
    else:
        raise InvalidArgumentError(f"unknown summary length {config.length}")
    if config.max_keywords < 0 or config.max_keywords > MAX_KEYWORDS:
        raise OutOfRangeError(
            f"max_keywords must be 1..{MAX_KEYWORDS} (0 means {DEFAULT_MAX_KEYWORDS}), got {config.max_keywords}"
        )
    if config.max_chapters < 0 or config.max_chapters > MAX_CHAPTERS:
        raise OutOfRangeError(
            f"max_chapters must be 1..{MAX_CHAPTERS} (0 lets the engine decide), got {config.max_chapters}"
        )
    if len(config.context) > MAX_CONTEXT_CHARS:
        raise InvalidArgumentError(f"context is {len(config.context)} characters; the limit is {MAX_CONTEXT_CHARS}")
    if len(config.instructions) > MAX_INSTRUCTIONS_CHARS:
        raise InvalidArgumentError(
            f"instructions are {len(config.instructions)} characters; the limit is {MAX_INSTRUCTIONS_CHARS}"
        )
    reference = config.reference_date.strip()
    if reference:
        try:
            dt.date.fromisoformat(reference[:10])
        except ValueError as exc:
            raise InvalidArgumentError(
                f"reference_date must be an ISO date like 2025-03-14, got {reference!r}"
            ) from exc
    return SummaryOptions(
        parts=tuple(sorted(parts)) if parts else DEFAULT_PARTS,
        language=language,
        output_language=config.output_language_code or language,
        length=length,
        title=config.title,
        context=config.context,
        instructions=config.instructions,
        speaker_names=dict(config.speaker_names),
        reference_date=reference,
        max_keywords=config.max_keywords or DEFAULT_MAX_KEYWORDS,
        max_chapters=config.max_chapters,
    )


class SummarizationServicer(pb_grpc.SummarizationServiceServicer):
    """Implements the SummarizationService RPCs over named :class:`SummaryEngine` s."""

    def __init__(self, settings: SummarizeSettings, engines: Mapping[str, SummaryEngine]) -> None:
        if settings.default_engine not in engines:
            if settings.default_engine == LLM_ENGINE:
                raise FailedPreconditionError(f"TING_SUMMARIZE_DEFAULT_ENGINE is 'llm', but {LLM_HELP}")
            raise FailedPreconditionError(
                f"TING_SUMMARIZE_DEFAULT_ENGINE is {settings.default_engine!r}, which is not among this server's "
                f"engines: {', '.join(sorted(engines))}"
            )
        self.settings = settings
        self.engines = dict(engines)
        self._pool = BoundedPool(settings.concurrency, settings.max_queue, name="summarize", title="summarization")

    def close(self) -> None:
        """Stop the worker pool (after the server stopped)."""
        self._pool.shutdown()

    def engine(self, name: str) -> SummaryEngine:
        """The engine called ``name`` (the default for ""), or the domain error saying why not."""
        name = name or self.settings.default_engine
        if name in self.engines:
            return self.engines[name]
        if name == LLM_ENGINE:
            raise FailedPreconditionError(f"the llm engine is not configured on this server: {LLM_HELP}")
        raise NotFoundError(f"unknown engine {name!r}; this server has: {', '.join(sorted(self.engines))}")

    async def _run(self, fn: Callable[[], T], control: CallControl) -> T:
        """Run ``fn`` on the bounded pool; a stop requested by the caller surfaces as CANCELLED."""
        try:
            return await self._pool.run(fn, control)
        except StopRequested as exc:
            raise CancelledError("the summary was cancelled") from exc

    async def Summarize(
        self, request: pb.SummarizeRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.SummarizeResponse:
        started = time.perf_counter()
        engine = self.engine(request.config.engine)
        segments = segments_from_proto(request, self.settings)
        language = request.language_code or detect_language(" ".join(s.text for s in segments[:200]))
        options = options_from_proto(request.config, language)
        if not request.config.parts:
            # Default parts: a per-speaker summary when the transcript has speakers (diarized); leave out what
            # this engine cannot do in this language (an explicit request for such a part still gets
            # FAILED_PRECONDITION from validate()).
            if any(segment.speaker for segment in segments):
                options = dataclasses.replace(options, parts=tuple(sorted({*options.parts, Part.SPEAKER_SUMMARIES})))
            options = default_parts_for(engine, options)
        engine.validate(options)
        control = CallControl()
        summary: Summary = await self._run(lambda: engine.summarize(segments, options, control), control)
        return pb.SummarizeResponse(
            summary=summary_to_proto(summary),
            engine=engine.name,
            model=summary.model,
            processing_ms=round((time.perf_counter() - started) * 1000),
            chunk_count=summary.chunk_count,
            input_token_count=summary.input_token_count,
            output_token_count=summary.output_token_count,
            source_language_code=language,
        )

    async def ListEngines(
        self, request: pb.ListEnginesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListEnginesResponse:
        default = self.settings.default_engine
        names = [default, *sorted(n for n in self.engines if n != default)]
        ready = await asyncio.gather(*(self.engines[n].ready() for n in names))
        return pb.ListEnginesResponse(
            engines=[
                engine_to_proto(dataclasses.replace(self.engines[n].describe(), loaded=up), n == default)
                for n, up in zip(names, ready, strict=True)
            ]
        )
