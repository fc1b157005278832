"""Parsing of the translation LLM's JSON cue answer (the transport and retry policy are in test_llm_retry.py)."""

from __future__ import annotations

import pytest

from ting_translate.engines import MalformedAnswerError
from ting_translate.engines.openai_chat import parse_answer


def test_parse_answer() -> None:
    assert parse_answer('{"cues": [{"i": 1, "text": "Hola"}, {"i": 2, "text": "Adiós"}], "source_language": "en"}') == (
        {1: "Hola", 2: "Adiós"},
        "en",
    )
    fenced = '```json\n{"cues": [{"i": "1", "translation": "Hola"}]}\n```'
    assert parse_answer(fenced) == ({1: "Hola"}, "")
    assert parse_answer('Here you go: {"cues": [{"id": 1, "text": "x"}]} Enjoy!')[0] == {1: "x"}
    assert parse_answer('[{"i": 1, "text": "x"}]')[0] == {1: "x"}
    for bad in (
        "no json here",
        '{"cues": "x"}',
        '{"cues": [{"i": 1}]}',
        '{"cues": [{"i": 1, "text": "a"}, {"i": 1, "text": "b"}]}',
        '{"cues": [{"i": true, "text": "a"}]}',
        '{"cues": [1, 2]}',
        '{"cues": [{"i": 1, "text": "a"}',
    ):
        with pytest.raises(MalformedAnswerError):
            parse_answer(bad)
