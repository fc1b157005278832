"""Translation engines behind one :class:`TranslationEngine` protocol, over plain domain types.

An engine translates one *chunk*: a numbered list of segments (cue texts or text pieces, already masked by
:mod:`ting_translate.protect`) plus a few preceding segments as read-only context, and answers a mapping from
segment number to translation. It does not judge the answer: :mod:`ting_translate.pipeline` checks that the
numbers match, that every placeholder came back, retries and splits. Transport retries (429, 5xx, timeouts)
are the engine's business and are reported back in :attr:`EngineReply.attempts`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "EngineDescription",
    "EngineReply",
    "GlossaryTerm",
    "MalformedAnswerError",
    "TranslationEngine",
    "TranslationOptions",
    "TranslationRequest",
]


@dataclass(frozen=True)
class GlossaryTerm:
    """A required translation of ``term`` (do-not-translate terms are masked before the engine sees them)."""

    term: str
    translation: str
    case_sensitive: bool = False


@dataclass(frozen=True)
class TranslationOptions:
    """Per-request hints; engines that cannot use one ignore it (see :class:`EngineDescription`)."""

    glossary: Sequence[GlossaryTerm] = ()
    context: str = ""
    domain: str = ""
    formality: str = ""  # "", "formal" or "informal"
    subtitles: bool = False  # segments are subtitle cues (keep them short, keep line breaks)


@dataclass(frozen=True)
class TranslationRequest:
    """One chunk to translate: ``segments`` are numbered from 1 in the prompt and in the answer."""

    segments: Sequence[str]
    source_language: str  # "" = detect
    target_language: str
    context: Sequence[str] = ()
    options: TranslationOptions = field(default_factory=TranslationOptions)


@dataclass(frozen=True)
class EngineReply:
    """An engine's answer: segment number (1-based) -> translation, as the engine gave it."""

    translations: Mapping[int, str]
    attempts: int = 1  # transport attempts it took (1 = no retry)
    detected_language: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0


class MalformedAnswerError(Exception):
    """The engine answered, but not in the agreed format (not JSON, wrong shape). The pipeline retries."""

    def __init__(self, message: str, *, attempts: int = 1) -> None:
        super().__init__(message)
        self.attempts = attempts


@dataclass(frozen=True)
class EngineDescription:
    """What ``ListEngines`` reports for an engine."""

    name: str
    description: str
    model: str
    device: str
    source_languages: Sequence[str]
    target_languages: Sequence[str]
    supports_language_detection: bool
    supports_glossary: bool
    supports_context: bool
    supports_formality: bool
    default_cues_per_chunk: int


class TranslationEngine(Protocol):
    """A translation backend."""

    @property
    def name(self) -> str:
        """Name clients pass as ``TranslationConfig.engine``."""
        ...

    @property
    def model(self) -> str:
        """The model it runs."""
        ...

    @property
    def chunk_token_budget(self) -> int:
        """Tokens of segments (context included) one request may carry, so prompt + answer fit the model."""
        ...

    def describe(self) -> EngineDescription:
        """Static facts for ``ListEngines``."""
        ...

    def supports(self, source: str, target: str) -> bool:
        """True when the engine translates ``source`` ("" = detect) into ``target``."""
        ...

    async def ready(self) -> bool:
        """True when the model is loaded or the remote endpoint answers."""
        ...

    async def translate(self, request: TranslationRequest) -> EngineReply:
        """Translate one chunk; raises :class:`MalformedAnswerError` or a ``ting_common`` domain error."""
        ...

    async def close(self) -> None:
        """Release connections / models."""
        ...
