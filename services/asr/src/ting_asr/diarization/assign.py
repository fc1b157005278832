"""Speakers onto a transcript: who said each word and each segment, and how much each speaker talked.

Every word (``Word.speaker``) goes to the speaker whose turns overlap it most, or to the nearest turn when none
overlaps (a word in a pause the VAD left out). With ``split=True`` (the default) a segment whose words change
speaker is cut at each change, every piece holding one speaker's run of words; segment ids are then renumbered so
that they stay unique and increasing. With ``split=False`` (or for a segment without words) a segment takes the
speaker that covers most of its words' time (of its own span when it has no words).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import replace

from ting_asr.diarization import Diarization, SpeakerTurn
from ting_common.transcript import Segment, Transcript, Word

__all__ = ["assign_speakers", "speaker_at", "speaker_stats"]


class _Turns:
    """Turns sorted by start, with a running maximum of ends for overlap queries."""

    def __init__(self, turns: Sequence[SpeakerTurn]) -> None:
        self.turns = sorted((t for t in turns if t.end > t.start), key=lambda t: (t.start, t.end))
        self.starts = [t.start for t in self.turns]

    def speaker(self, start: float, end: float) -> str:
        """The speaker overlapping ``[start, end]`` most; the nearest turn's when none overlaps; "" without turns."""
        if not self.turns:
            return ""
        totals: dict[str, float] = {}
        hi = bisect_left(self.starts, end) if end > start else bisect_left(self.starts, start + 1e-9)
        for t in self.turns[:hi]:
            overlap = min(end, t.end) - max(start, t.start)
            if overlap > 0:
                totals[t.speaker] = totals.get(t.speaker, 0.0) + overlap
        if totals:
            return max(totals, key=lambda s: totals[s])
        centre = (start + end) / 2
        nearest = min(self.turns, key=lambda t: (max(t.start - centre, centre - t.end, 0.0), t.start))
        return nearest.speaker


def speaker_at(start: float, end: float, turns: Diarization | Sequence[SpeakerTurn]) -> str:
    """The speaker of the stretch ``[start, end]`` (seconds): most overlap, else the nearest turn; "" when there
    are no turns."""
    return _Turns(turns.turns if isinstance(turns, Diarization) else turns).speaker(start, end)


def assign_speakers(transcript: Transcript, diarization: Diarization, *, split: bool = True) -> Transcript:
    """``transcript`` with a speaker on every segment (see the module docstring). Without turns (silence, or
    diarization found nobody) the transcript comes back unchanged."""
    index = _Turns(diarization.turns)
    if not index.turns:
        return transcript
    segments: list[Segment] = []
    for segment in transcript.segments:
        if not segment.words:
            segments.append(replace(segment, speaker=index.speaker(segment.start, segment.end)))
            continue
        speakers = [index.speaker(w.start, w.end) for w in segment.words]
        labelled = [replace(w, speaker=spk) for w, spk in zip(segment.words, speakers, strict=True)]
        if not split or len(set(speakers)) == 1:
            segments.append(replace(segment, words=tuple(labelled), speaker=_majority(segment.words, speakers)))
            continue
        runs: list[tuple[str, list[Word]]] = []
        for word, speaker in zip(labelled, speakers, strict=True):
            if runs and runs[-1][0] == speaker:
                runs[-1][1].append(word)
            else:
                runs.append((speaker, [word]))
        for speaker, words in runs:
            segments.append(
                replace(
                    segment,
                    start=words[0].start if words[0] is not labelled[0] else segment.start,
                    end=words[-1].end if words[-1] is not labelled[-1] else segment.end,
                    text="".join(w.word for w in words),
                    words=tuple(words),
                    speaker=speaker,
                )
            )
    if segments and len(segments) != len(transcript.segments):
        first = transcript.segments[0].id
        segments = [replace(s, id=first + i) for i, s in enumerate(segments)]
    return replace(transcript, segments=tuple(segments))


def _majority(words: Sequence[Word], speakers: Sequence[str]) -> str:
    """The speaker holding most of the words' time (ties: the first to speak)."""
    totals: dict[str, float] = {}
    for word, speaker in zip(words, speakers, strict=True):
        totals[speaker] = totals.get(speaker, 0.0) + max(word.end - word.start, 1e-3)
    return max(totals, key=lambda s: totals[s])


def speaker_stats(source: Transcript | Diarization | Sequence[SpeakerTurn]) -> list[tuple[str, float, int]]:
    """``(speaker, talk time in seconds, number of turns)`` per speaker, in order of first appearance.

    From a transcript, talk time is the length of the speaker's segments and a turn is a run of consecutive
    segments of one speaker; from turns, the turns' lengths and count (consecutive turns of one speaker count once).
    Segments or turns without a speaker are left out."""
    if isinstance(source, Transcript):
        spans = [(s.start, s.end, s.speaker) for s in source.segments]
    else:
        turns = source.turns if isinstance(source, Diarization) else source
        spans = [(t.start, t.end, t.speaker) for t in sorted(turns, key=lambda t: (t.start, t.end))]
    talk: dict[str, float] = {}
    count: dict[str, int] = {}
    previous = ""
    for start, end, speaker in spans:
        if not speaker:
            continue
        talk[speaker] = talk.get(speaker, 0.0) + max(end - start, 0.0)
        if speaker != previous:
            count[speaker] = count.get(speaker, 0) + 1
        previous = speaker
    return [(speaker, round(talk[speaker], 3), count[speaker]) for speaker in talk]
