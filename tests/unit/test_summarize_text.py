"""Sentence splitting (en, zh), language guess and deadline parsing of the summarization engine."""

from __future__ import annotations

import datetime as dt

import pytest

from ting_common.transcript import Segment
from ting_summarize.engines.dates import find_due, resolve_due
from ting_summarize.engines.text import detect_language, split_sentences, split_text


def test_english_split_keeps_abbreviations_and_decimals() -> None:
    text = "Dr. Lee shipped version 2.4 today. Is it stable? Yes! We ship on Friday."
    assert split_text(text, "en") == [
        "Dr. Lee shipped version 2.4 today.",
        "Is it stable?",
        "Yes!",
        "We ship on Friday.",
    ]


def test_chinese_split_on_full_width_terminators() -> None:
    text = "大家好，我们开始吧。今天有两个议题！预计会来多少人？大概四百个"
    assert split_text(text, "zh") == ["大家好，我们开始吧。", "今天有两个议题！", "预计会来多少人？", "大概四百个"]


def test_sentences_map_back_to_segments_and_continue_across_segments() -> None:
    segments = (
        Segment(id=1, start=0.0, end=2.0, text="We found eleven bugs", speaker="A"),
        Segment(id=2, start=2.0, end=4.0, text="during the smoke tests. Nine are fixed.", speaker="A"),
        Segment(id=3, start=4.5, end=6.0, text="Great", speaker="B"),
    )
    sentences = split_sentences(segments, "en")
    assert [s.text for s in sentences] == [
        "We found eleven bugs during the smoke tests.",
        "Nine are fixed.",
        "Great",
    ]
    assert sentences[0].segment_ids == (1, 2)
    assert (sentences[0].start, sentences[0].end) == (0.0, 4.0)
    assert sentences[1].segment_ids == (2,)
    assert sentences[2].speaker == "B"  # a change of speaker ends the sentence


def test_language_guess() -> None:
    assert detect_language("今天有两个议题，第一个是发布会。") == "zh"
    assert detect_language("We have three things on the agenda.") == "en"


@pytest.mark.parametrize(
    ("text", "due", "iso"),
    [
        ("I will send it by Friday.", "Friday", "2025-03-14"),
        ("before next Tuesday", "next Tuesday", "2025-03-18"),
        ("by the end of the month", "the end of the month", "2025-03-31"),
        ("next Monday afternoon", "next Monday afternoon", "2025-03-17"),
        ("we turn it off on June 30th", "June 30th", "2025-06-30"),
        ("李明下周二之前确认酒店报价", "下周二之前", "2025-03-18"),
        ("我周五之前发报告", "周五之前", "2025-03-14"),
        ("张伟月底之前完成回访", "月底之前", "2025-03-31"),
        ("在五月五号之前发出去", "五月五号之前", "2025-05-05"),
    ],
)
def test_deadlines_found_and_resolved_against_the_meeting_date(text: str, due: str, iso: str) -> None:
    found = find_due(text)
    assert found is not None
    assert found.text == due
    assert resolve_due(found, dt.date(2025, 3, 12)) == iso  # a Wednesday


def test_relative_deadline_without_reference_date_stays_unresolved() -> None:
    found = find_due("by Friday")
    assert found is not None
    assert resolve_due(found, None) == ""
    absolute = find_due("due 2025-04-01")
    assert absolute is not None and resolve_due(absolute, None) == "2025-04-01"
    assert find_due("We found eleven bugs.") is None
