"""Plain domain types for transcripts, shared by engines, servicers, the CLI and the format writers.

Times are seconds (float) from the start of the audio. These types never import protobuf: servicers
translate them to and from ``ting.audio.v1`` messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Word:
    """One recognized word with its time span and confidence (0..1)."""

    start: float
    end: float
    word: str
    probability: float = 0.0
    speaker: str = ""


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of speech (roughly a sentence) with its words when word timestamps were asked for."""

    id: int
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    compression_ratio: float = 0.0
    temperature: float = 0.0
    speaker: str = ""


@dataclass(frozen=True, slots=True)
class Transcript:
    """A whole recognition result.

    ``language`` is an ISO 639-1 code ("en", "zh"); ``language_probability`` is the language-ID
    confidence (1.0 when the caller fixed the language). ``duration`` is the audio length in seconds.
    """

    language: str
    duration: float
    segments: tuple[Segment, ...] = ()
    language_probability: float = 0.0
    task: str = "transcribe"
    model: str = ""
    language_candidates: tuple[tuple[str, float], ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The full text: segment texts joined with single spaces (no spaces for zh/ja/th/lo/my/yue)."""
        sep = "" if self.language in _NO_SPACE_LANGUAGES else " "
        return sep.join(s.text.strip() for s in self.segments if s.text.strip()).strip()


_NO_SPACE_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "my", "yue"})
