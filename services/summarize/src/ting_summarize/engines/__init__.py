"""Summarization engines: the :class:`SummaryEngine` protocol and its domain types.

The servicer only speaks this protocol, so the offline extractive engine and an OpenAI-compatible
LLM engine (map-reduce over chunks, JSON-schema output) plug in side by side. Times are seconds,
as in :mod:`ting_common.transcript`; nothing here imports protobuf.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ting_common.transcript import Segment


class Part(enum.IntEnum):
    """Parts of a summary (values equal ``ting.summarization.v1.SummaryPart``)."""

    OVERVIEW = 1
    KEY_POINTS = 2
    CHAPTERS = 3
    ACTION_ITEMS = 4
    KEYWORDS = 5
    QUESTIONS_ANSWERS = 6
    SPEAKER_SUMMARIES = 7


ALL_PARTS: tuple[Part, ...] = tuple(Part)
DEFAULT_PARTS: tuple[Part, ...] = (Part.OVERVIEW, Part.KEY_POINTS, Part.ACTION_ITEMS)


class Length(enum.IntEnum):
    """How long the written parts are (values equal ``ting.summarization.v1.SummaryLength``)."""

    SHORT = 1
    MEDIUM = 2
    LONG = 3


@dataclass(frozen=True)
class SummaryOptions:
    """Validated options of one summary (the servicer fills defaults and checks ranges)."""

    parts: tuple[Part, ...] = DEFAULT_PARTS
    language: str = "en"
    output_language: str = "en"
    length: Length = Length.MEDIUM
    title: str = ""
    context: str = ""
    instructions: str = ""
    speaker_names: dict[str, str] = field(default_factory=dict)
    reference_date: str = ""  # ISO date or empty
    max_keywords: int = 10
    max_chapters: int = 0  # 0: the engine decides


@dataclass(frozen=True)
class KeyPoint:
    """A main point with the segments that support it."""

    text: str
    segment_ids: tuple[int, ...]
    start: float
    end: float


@dataclass(frozen=True)
class Chapter:
    """A topical section; chapters are consecutive and cover the transcript."""

    title: str
    start: float
    end: float
    summary: str
    start_segment_id: int
    end_segment_id: int


@dataclass(frozen=True)
class ActionItem:
    """A task someone agreed or was asked to do."""

    text: str
    owner: str = ""
    due: str = ""
    due_date: str = ""
    start: float = 0.0
    speaker: str = ""
    segment_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Keyword:
    """A keyword or key phrase with relevance in [0, 1] and its literal occurrence count."""

    text: str
    score: float
    occurrence_count: int


@dataclass(frozen=True)
class QuestionAnswer:
    """A question asked in the recording and the answer given (empty when unanswered)."""

    question: str
    answer: str
    start: float
    question_speaker: str = ""
    answer_speaker: str = ""
    segment_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class SpeakerSummary:
    """What one speaker said, with talk time and turns."""

    speaker: str
    name: str
    summary: str
    talk_time: float
    turn_count: int


@dataclass(frozen=True)
class Summary:
    """The result of one summarization; parts that were not requested stay empty."""

    language: str
    parts: tuple[Part, ...]
    overview: str = ""
    key_points: tuple[KeyPoint, ...] = ()
    chapters: tuple[Chapter, ...] = ()
    action_items: tuple[ActionItem, ...] = ()
    keywords: tuple[Keyword, ...] = ()
    questions_answers: tuple[QuestionAnswer, ...] = ()
    speaker_summaries: tuple[SpeakerSummary, ...] = ()
    model: str = ""
    chunk_count: int = 1
    input_token_count: int = 0
    output_token_count: int = 0


@dataclass(frozen=True)
class EngineDescription:
    """What ``ListEngines`` reports about one engine."""

    name: str
    description: str
    model: str
    loaded: bool
    device: str
    supported_parts: tuple[Part, ...]
    language_codes: tuple[str, ...]
    max_input_tokens: int


@dataclass(frozen=True)
class SpeakerStats:
    """Talk time (seconds) and turns of one speaker label."""

    speaker: str
    talk_time: float
    turn_count: int


def speaker_stats(segments: Sequence[Segment]) -> list[SpeakerStats]:
    """Talk time and turns (runs of consecutive segments) per speaker label, in order of first appearance."""
    talk: dict[str, float] = {}
    turns: dict[str, int] = {}
    previous = None
    for seg in segments:
        if seg.speaker:
            talk[seg.speaker] = talk.get(seg.speaker, 0.0) + max(0.0, seg.end - seg.start)
            if seg.speaker != previous:
                turns[seg.speaker] = turns.get(seg.speaker, 0) + 1
        previous = seg.speaker
    return [SpeakerStats(label, talk[label], turns[label]) for label in talk]


class StopRequested(Exception):
    """Raised inside an engine when the caller cancelled or its deadline passed."""


@dataclass
class CallControl:
    """Per-call hook an engine honours: a stop flag it checks between stages."""

    stop: threading.Event = field(default_factory=threading.Event)

    def check(self) -> None:
        """Raise :class:`StopRequested` when the caller has gone away."""
        if self.stop.is_set():
            raise StopRequested


class SummaryEngine(Protocol):
    """A summarizer. ``summarize`` is blocking; the servicer runs it in a worker thread.

    The offline ``extractive`` engine and the OpenAI-compatible ``llm`` engine (map-reduce for long
    transcripts, JSON-schema constrained output, bounded retries) implement it.
    """

    name: str

    def describe(self) -> EngineDescription:
        """What this engine is and can do."""
        ...

    def validate(self, options: SummaryOptions) -> None:
        """Raise a domain error when ``options`` cannot run (language, output language, parts)."""
        ...

    def summarize(self, segments: tuple[Segment, ...], options: SummaryOptions, control: CallControl) -> Summary:
        """Summarize ``segments`` (time order, distinct ids, seconds) into ``options.parts``."""
        ...

    async def ready(self) -> bool:
        """True when the engine can summarize now (model loaded, or remote endpoint reachable)."""
        ...

    def close(self) -> None:
        """Free models and connections."""
        ...
