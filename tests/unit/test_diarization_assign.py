"""Speakers onto transcripts: words and segments get the speaker whose turns cover them; talk-time stats."""

from __future__ import annotations

from ting_asr.diarization import Diarization, SpeakerTurn
from ting_asr.diarization.assign import assign_speakers, speaker_at, speaker_stats
from ting_common.transcript import Segment, Transcript, Word


def diarization(*turns: tuple[float, float, str]) -> Diarization:
    items = tuple(SpeakerTurn(s, e, spk) for s, e, spk in turns)
    return Diarization(turns=items, speakers=tuple(dict.fromkeys(t.speaker for t in items)))


def words(*spans: tuple[float, float, str]) -> tuple[Word, ...]:
    return tuple(Word(s, e, w, 0.9) for s, e, w in spans)


def transcript(*segments: Segment) -> Transcript:
    return Transcript(language="en", duration=20.0, segments=segments)


TURNS = diarization((0.0, 4.0, "S1"), (4.2, 8.0, "S2"), (9.0, 12.0, "S1"))


def test_segment_gets_the_speaker_of_its_words() -> None:
    seg = Segment(
        0, 0.5, 3.5, " Hello there all.", words((0.5, 1.0, " Hello"), (1.1, 2.0, " there"), (2.1, 3.5, " all."))
    )
    out = assign_speakers(transcript(seg), TURNS)
    assert [s.speaker for s in out.segments] == ["S1"]
    assert [w.word for w in out.segments[0].words] == [w.word for w in seg.words]
    assert {w.speaker for w in out.segments[0].words} == {"S1"}


def test_segment_is_split_where_the_speaker_changes() -> None:
    seg = Segment(
        3,
        2.0,
        6.0,
        " Fine. And you?",
        words((2.0, 2.6, " Fine."), (4.5, 5.0, " And"), (5.1, 6.0, " you?")),
    )
    after = Segment(4, 9.2, 11.0, " Good.", words((9.2, 11.0, " Good.")))
    out = assign_speakers(transcript(seg, after), TURNS)
    assert [(s.id, s.speaker, s.text) for s in out.segments] == [
        (3, "S1", " Fine."),
        (4, "S2", " And you?"),
        (5, "S1", " Good."),
    ]
    assert out.segments[0].start == 2.0 and out.segments[0].end == 2.6
    assert out.segments[1].start == 4.5 and out.segments[1].end == 6.0
    assert [w.speaker for s in out.segments for w in s.words] == ["S1", "S2", "S2", "S1"]


def test_without_split_the_majority_of_word_time_wins() -> None:
    seg = Segment(0, 3.0, 7.0, " a b", words((3.0, 3.5, " a"), (4.5, 7.0, " b")))
    out = assign_speakers(transcript(seg), TURNS, split=False)
    assert [s.speaker for s in out.segments] == ["S2"]
    assert [w.speaker for w in out.segments[0].words] == ["S1", "S2"]


def test_segment_without_words_uses_its_span() -> None:
    out = assign_speakers(transcript(Segment(0, 3.5, 7.5, " text")), TURNS)
    assert out.segments[0].speaker == "S2"


def test_word_outside_every_turn_goes_to_the_nearest() -> None:
    assert speaker_at(8.6, 8.9, TURNS) == "S1"  # 0.1 s before S1's turn at 9.0, 0.6 s after S2's end
    assert speaker_at(8.1, 8.3, TURNS) == "S2"
    assert speaker_at(30.0, 31.0, TURNS) == "S1"
    assert speaker_at(1.0, 2.0, ()) == ""


def test_overlapping_turns_pick_the_largest_overlap() -> None:
    turns = diarization((0.0, 5.0, "S1"), (4.0, 10.0, "S2"))
    assert speaker_at(3.5, 4.4, turns) == "S1"
    assert speaker_at(4.5, 6.0, turns) == "S2"


def test_no_turns_leaves_the_transcript_unchanged() -> None:
    t = transcript(Segment(0, 0.0, 1.0, " hi"))
    assert assign_speakers(t, Diarization(turns=(), speakers=())) is t


def test_speaker_stats_from_turns_in_first_appearance_order() -> None:
    turns = diarization((0.0, 2.0, "S2"), (2.5, 3.0, "S1"), (3.0, 6.0, "S2"), (7.0, 8.5, "S1"))
    assert speaker_stats(turns) == [("S2", 5.0, 2), ("S1", 2.0, 2)]
    assert speaker_stats(turns.turns) == speaker_stats(turns)
    assert speaker_stats(Diarization(turns=(), speakers=())) == []


def test_speaker_stats_from_a_transcript() -> None:
    segs = (
        Segment(0, 0.0, 2.0, " a", speaker="S1"),
        Segment(1, 2.0, 3.0, " b", speaker="S1"),
        Segment(2, 3.5, 5.0, " c", speaker="S2"),
        Segment(3, 5.0, 6.0, " d", speaker="S1"),
        Segment(4, 6.0, 7.0, " e"),
    )
    assert speaker_stats(transcript(*segs)) == [("S1", 4.0, 2), ("S2", 1.5, 1)]
