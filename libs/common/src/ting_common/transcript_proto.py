"""Transcript domain types <-> ``ting.audio.v1`` messages (seconds <-> integer milliseconds).

One conversion for every service and client, so a transcript looks the same wherever it travels.
"""

from __future__ import annotations

from ting.audio.v1 import audio_pb2
from ting_common.transcript import Segment, Transcript, Word


def to_ms(seconds: float) -> int:
    """Seconds → integer milliseconds (rounded)."""
    return round(seconds * 1000)


def word_to_proto(word: Word) -> audio_pb2.Word:
    return audio_pb2.Word(
        start_ms=to_ms(word.start),
        end_ms=to_ms(word.end),
        word=word.word,
        probability=word.probability,
        speaker=word.speaker,
    )


def segment_to_proto(seg: Segment) -> audio_pb2.Segment:
    return audio_pb2.Segment(
        id=seg.id,
        start_ms=to_ms(seg.start),
        end_ms=to_ms(seg.end),
        text=seg.text,
        words=[word_to_proto(w) for w in seg.words],
        avg_logprob=seg.avg_logprob,
        no_speech_prob=seg.no_speech_prob,
        compression_ratio=seg.compression_ratio,
        temperature=seg.temperature,
        speaker=seg.speaker,
    )


def transcript_to_proto(t: Transcript) -> audio_pb2.Transcript:
    return audio_pb2.Transcript(
        language_code=t.language,
        language_probability=t.language_probability,
        duration_ms=to_ms(t.duration),
        text=t.text,
        segments=[segment_to_proto(s) for s in t.segments],
        language_candidates=[
            audio_pb2.LanguageProbability(language_code=code, probability=p) for code, p in t.language_candidates
        ],
    )


def segment_from_proto(s: audio_pb2.Segment) -> Segment:
    """The inverse of :func:`segment_to_proto`."""
    return Segment(
        id=s.id,
        start=s.start_ms / 1000,
        end=s.end_ms / 1000,
        text=s.text,
        words=tuple(Word(w.start_ms / 1000, w.end_ms / 1000, w.word, w.probability, w.speaker) for w in s.words),
        avg_logprob=s.avg_logprob,
        no_speech_prob=s.no_speech_prob,
        compression_ratio=s.compression_ratio,
        temperature=s.temperature,
        speaker=s.speaker,
    )


def transcript_from_proto(p: audio_pb2.Transcript, task: str = "transcribe", model: str = "") -> Transcript:
    """The inverse of :func:`transcript_to_proto` (used by clients such as the CLI)."""
    return Transcript(
        language=p.language_code,
        language_probability=p.language_probability,
        duration=p.duration_ms / 1000,
        segments=tuple(segment_from_proto(s) for s in p.segments),
        task=task,
        model=model,
        language_candidates=tuple((c.language_code, c.probability) for c in p.language_candidates),
    )
