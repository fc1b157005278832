"""Unit tests for :mod:`ting_common.formats`: exact txt/json/srt/vtt/tsv output for small transcripts."""

from __future__ import annotations

import json

import pytest

from ting_common.errors import InvalidArgumentError, OutOfRangeError
from ting_common.formats import FORMATS, format_timestamp, format_transcript, transcript_to_dict
from ting_common.transcript import Segment, Transcript, Word


def _words(spec: list[tuple[str, float, float]]) -> tuple[Word, ...]:
    return tuple(Word(start=s, end=e, word=w, probability=0.9) for w, s, e in spec)


@pytest.fixture
def transcript() -> Transcript:
    """Two timed segments (one by speaker S1), a blank one, and one without words by S2."""
    fox = [
        (" The", 2.5, 2.7),
        (" quick", 2.8, 3.0),
        (" brown", 3.1, 3.3),
        (" fox", 3.4, 3.6),
        (" jumps", 3.7, 4.0),
        (" over", 4.1, 4.3),
        (" the", 4.4, 4.5),
        (" lazy", 4.6, 4.9),
        (" dog.", 5.0, 5.9),
    ]
    return Transcript(
        language="en",
        duration=8.25,
        language_probability=0.97,
        segments=(
            Segment(
                id=0,
                start=0.0,
                end=2.5,
                text=" Hello world.",
                words=_words([(" Hello", 0.0, 0.5), (" world.", 0.6, 2.5)]),
                avg_logprob=-0.25,
                no_speech_prob=0.01,
            ),
            Segment(
                id=1,
                start=2.5,
                end=6.0,
                text=" The quick brown fox jumps over the lazy dog.",
                words=_words(fox),
                speaker="S1",
            ),
            Segment(id=2, start=6.0, end=6.5, text="   "),
            Segment(id=3, start=6.5, end=8.25, text="No words\there", speaker="S2"),
        ),
    )


def test_srt(transcript: Transcript) -> None:
    assert format_transcript(transcript, "srt", max_line_width=20) == (
        "1\n"
        "00:00:00,000 --> 00:00:02,500\n"
        "Hello world.\n"
        "\n"
        "2\n"
        "00:00:02,500 --> 00:00:04,500\n"
        "[S1] The quick brown\n"
        "fox jumps over the\n"
        "\n"
        "3\n"
        "00:00:04,600 --> 00:00:05,900\n"
        "lazy dog.\n"
        "\n"
        "4\n"
        "00:00:06,500 --> 00:00:08,250\n"
        "[S2] No words here\n"
    )


def test_srt_default_width_keeps_a_short_segment_in_one_cue(transcript: Transcript) -> None:
    out = format_transcript(transcript, "srt")
    assert "2\n00:00:02,500 --> 00:00:05,900\n[S1] The quick brown fox jumps over the\nlazy dog.\n" in out
    assert out.count(" --> ") == 3


def test_vtt(transcript: Transcript) -> None:
    assert format_transcript(transcript, "vtt", max_line_width=20) == (
        "WEBVTT\n"
        "\n"
        "00:00:00.000 --> 00:00:02.500\n"
        "Hello world.\n"
        "\n"
        "00:00:02.500 --> 00:00:04.900\n"
        "<v S1>The quick brown fox\n"
        "jumps over the lazy\n"
        "\n"
        "00:00:05.000 --> 00:00:05.900\n"
        "<v S1>dog.\n"
        "\n"
        "00:00:06.500 --> 00:00:08.250\n"
        "<v S2>No words here\n"
    )


def test_tsv(transcript: Transcript) -> None:
    assert format_transcript(transcript, "tsv") == (
        "start\tend\ttext\n"
        "0\t2500\tHello world.\n"
        "2500\t6000\t[S1] The quick brown fox jumps over the lazy dog.\n"
        "6500\t8250\t[S2] No words here\n"
    )


def test_txt(transcript: Transcript) -> None:
    assert format_transcript(transcript, "txt") == (
        "Hello world.\n[S1] The quick brown fox jumps over the lazy dog.\n[S2] No words here\n"
    )


def test_json_shape(transcript: Transcript) -> None:
    data = json.loads(format_transcript(transcript, "json"))
    assert list(data) == ["language", "language_probability", "duration", "text", "segments"]
    assert data["language"] == "en"
    assert data["language_probability"] == 0.97
    assert data["duration"] == 8.25
    assert data["text"] == transcript.text
    first = data["segments"][0]
    assert first == {
        "id": 0,
        "start": 0.0,
        "end": 2.5,
        "text": " Hello world.",
        "avg_logprob": -0.25,
        "no_speech_prob": 0.01,
        "words": [
            {"start": 0.0, "end": 0.5, "word": " Hello", "probability": 0.9},
            {"start": 0.6, "end": 2.5, "word": " world.", "probability": 0.9},
        ],
    }
    assert "speaker" not in first
    assert data["segments"][1]["speaker"] == "S1"
    assert data == transcript_to_dict(transcript)


def test_json_exact_text_rounds_times_and_keeps_unicode() -> None:
    t = Transcript(
        language="fr",
        duration=1.23456,
        language_probability=0.5,
        segments=(
            Segment(id=0, start=0.0004, end=1.2345678, text="Café", words=(Word(0.0004, 1.2345678, "Café", 1.0),)),
        ),
    )
    assert format_transcript(t, "json") == (
        "{\n"
        '  "language": "fr",\n'
        '  "language_probability": 0.5,\n'
        '  "duration": 1.235,\n'
        '  "text": "Café",\n'
        '  "segments": [\n'
        "    {\n"
        '      "id": 0,\n'
        '      "start": 0.0,\n'
        '      "end": 1.235,\n'
        '      "text": "Café",\n'
        '      "avg_logprob": 0.0,\n'
        '      "no_speech_prob": 0.0,\n'
        '      "words": [\n'
        "        {\n"
        '          "start": 0.0,\n'
        '          "end": 1.235,\n'
        '          "word": "Café",\n'
        '          "probability": 1.0\n'
        "        }\n"
        "      ]\n"
        "    }\n"
        "  ]\n"
        "}\n"
    )


def test_transcript_to_dict_without_words_and_non_finite_numbers() -> None:
    t = Transcript(
        language="en",
        duration=1.0,
        segments=(Segment(id=0, start=0, end=1, text="x", words=_words([("x", 0, 1)]), avg_logprob=float("-inf")),),
    )
    data = transcript_to_dict(t, words=False)
    assert data["segments"][0]["words"] == []
    assert data["segments"][0]["avg_logprob"] is None
    json.loads(format_transcript(t, "json"))  # strict JSON: no -Infinity


# --------------------------------------------------------------------------------------------------
# CJK and wrapping
# --------------------------------------------------------------------------------------------------


def test_cjk_text_wraps_by_characters_at_display_width() -> None:
    text = "我们今天讨论的是语音识别技术，它可以把声音转换成文字。"
    t = Transcript(language="zh", duration=5.0, segments=(Segment(id=0, start=0.0, end=5.0, text=text),))
    # Width 20 columns = 10 CJK characters; without word times the segment stays one cue.
    assert format_transcript(t, "srt", max_line_width=20) == (
        "1\n00:00:00,000 --> 00:00:05,000\n我们今天讨论的是语音\n识别技术，它可以把声\n音转换成文字。\n"
    )


def test_cjk_closing_punctuation_never_starts_a_line() -> None:
    t = Transcript(
        language="zh", duration=2.0, segments=(Segment(id=0, start=0, end=2, text="一二三四五六七八九十。"),)
    )
    out = format_transcript(t, "vtt", max_line_width=20)
    assert out.endswith("一二三四五六七八九\n十。\n")


def test_cjk_words_are_joined_without_spaces_and_split_into_cues() -> None:
    words = _words(
        [
            ("我们", 0.0, 0.5),
            ("今天", 0.5, 1.0),
            ("讨论", 1.0, 1.5),
            ("语音", 1.5, 2.0),
            ("识别", 2.0, 2.5),
            ("。", 2.5, 2.6),
        ]
    )
    t = Transcript(
        language="zh",
        duration=3.0,
        segments=(Segment(id=0, start=0, end=3, text="我们今天讨论语音识别。", words=words),),
    )
    assert format_transcript(t, "srt", max_line_width=8, max_lines=1) == (
        "1\n00:00:00,000 --> 00:00:01,000\n我们今天\n\n"
        "2\n00:00:01,000 --> 00:00:02,000\n讨论语音\n\n"
        "3\n00:00:02,000 --> 00:00:02,600\n识别。\n"
    )


def test_words_without_leading_spaces_get_spaces_in_latin_text() -> None:
    words = _words([("Hello", 0.0, 0.4), (",", 0.4, 0.4), ("world", 0.5, 1.0)])
    t = Transcript(
        language="en",
        duration=1.0,
        segments=(Segment(id=0, start=0, end=1, text="Hello, world", words=words),),
    )
    assert format_transcript(t, "srt").splitlines()[2] == "Hello, world"


def test_a_word_wider_than_a_line_is_cut() -> None:
    t = Transcript(language="en", duration=1.0, segments=(Segment(id=0, start=0, end=1, text="a " + "x" * 25),))
    lines = format_transcript(t, "txt").splitlines()
    assert lines == ["a " + "x" * 25]  # txt never wraps
    cue = format_transcript(t, "srt", max_line_width=10).splitlines()[2:]
    assert cue == ["a", "xxxxxxxxxx", "xxxxxxxxxx", "xxxxx"]


# --------------------------------------------------------------------------------------------------
# Timing rules and escaping
# --------------------------------------------------------------------------------------------------


def test_cue_times_never_go_backwards_and_never_end_before_start() -> None:
    t = Transcript(
        language="en",
        duration=6.0,
        segments=(
            Segment(id=0, start=0.0, end=3.0, text="first"),
            Segment(id=1, start=2.0, end=4.0, text="overlaps"),
            Segment(id=2, start=5.0, end=4.5, text="inverted"),
        ),
    )
    timings = [line for line in format_transcript(t, "srt").splitlines() if " --> " in line]
    assert timings == [
        "00:00:00,000 --> 00:00:03,000",
        "00:00:03,000 --> 00:00:04,000",
        "00:00:05,000 --> 00:00:05,000",
    ]


def test_vtt_escapes_markup_and_arrows() -> None:
    t = Transcript(language="en", duration=1.0, segments=(Segment(id=0, start=0, end=1, text="a <b> & c --> d"),))
    assert format_transcript(t, "vtt").splitlines()[-1] == "a &lt;b&gt; &amp; c -&gt; d"
    assert format_transcript(t, "srt").splitlines()[-1] == "a <b> & c -> d"


def test_empty_transcript() -> None:
    t = Transcript(language="en", duration=0.0)
    assert format_transcript(t, "srt") == ""
    assert format_transcript(t, "vtt") == "WEBVTT\n"
    assert format_transcript(t, "txt") == ""
    assert format_transcript(t, "tsv") == "start\tend\ttext\n"
    assert json.loads(format_transcript(t, "json"))["segments"] == []


# --------------------------------------------------------------------------------------------------
# API edges
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "always_hours", "marker", "expected"),
    [
        (62.345, True, ",", "00:01:02,345"),
        (62.345, False, ".", "01:02.345"),
        (3723.5, False, ",", "01:02:03,500"),
        (1.9996, True, ",", "00:00:02,000"),
        (-0.2, True, ",", "00:00:00,000"),
        (360000.25, True, ",", "100:00:00,250"),
    ],
)
def test_format_timestamp(seconds: float, always_hours: bool, marker: str, expected: str) -> None:
    assert format_timestamp(seconds, always_hours=always_hours, decimal_marker=marker) == expected


def test_format_timestamp_rejects_nan() -> None:
    with pytest.raises(InvalidArgumentError):
        format_timestamp(float("nan"))


def test_unknown_format(transcript: Transcript) -> None:
    with pytest.raises(InvalidArgumentError, match="unknown transcript format 'docx'; use one of: txt, json"):
        format_transcript(transcript, "docx")


def test_format_names_are_case_insensitive(transcript: Transcript) -> None:
    assert format_transcript(transcript, "SRT") == format_transcript(transcript, "srt")
    assert set(FORMATS) == {"txt", "json", "srt", "vtt", "tsv"}


@pytest.mark.parametrize("kwargs", [{"max_line_width": 0}, {"max_lines": 0}])
def test_bad_wrap_options(transcript: Transcript, kwargs: dict[str, int]) -> None:
    with pytest.raises(OutOfRangeError):
        format_transcript(transcript, "srt", **kwargs)
