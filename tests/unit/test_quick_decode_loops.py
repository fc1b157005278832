"""Repetition loops in quick (short-window) decodes are cut after their first round; real repeats are kept."""

from __future__ import annotations

import pytest

from ting_asr.engines.faster_whisper import cut_loop


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Go tomorrow morning. Go tomorrow morning. Go", ("Go tomorrow morning.", True)),
        ("First, the first, the first.", ("First, the", True)),
        ("Good Good Good", ("Good", True)),
        ("Thank you. Thank you. Thank you.", ("Thank you.", True)),
        ("no no, I mean it", ("no no, I mean it", False)),  # one word twice is speech
        ("very very good", ("very very good", False)),
        ("a b c a b d", ("a b c a b d", False)),  # a phrase again later, not at once
        ("Good morning everyone", ("Good morning everyone", False)),
        ("", ("", False)),
        ("... ... ...", ("... ... ...", False)),  # punctuation only: nothing to compare
    ],
)
def test_cut_loop(text: str, expected: tuple[str, bool]) -> None:
    assert cut_loop(text) == expected
