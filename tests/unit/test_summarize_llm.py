"""The llm summary engine's pure parts: chunk packing, prompt lines, the answer schema, answer -> domain mapping."""

from __future__ import annotations

import json

import pytest

from ting_common.errors import FailedPreconditionError, InvalidArgumentError
from ting_common.llm import LLMSettings
from ting_common.transcript import Segment
from ting_summarize.engines import Length, Part, SummaryOptions
from ting_summarize.engines.llm import (
    LLMEngine,
    SummaryAnswer,
    answer_schema,
    clock,
    pack_chunks,
    to_summary,
    transcript_line,
)
from ting_summarize.engines.structured import SchemaSupport, json_schema_format

SEGMENTS = (
    Segment(id=10, start=0.0, end=4.0, text="Welcome. Today we plan the launch.", speaker="S1"),
    Segment(id=11, start=4.0, end=9.0, text="The launch is on May 5. Is the budget approved?", speaker="S1"),
    Segment(id=12, start=9.5, end=14.0, text="Yes, the budget is approved.", speaker="S2"),
    Segment(id=13, start=14.0, end=20.0, text="Next topic: hiring. Tom will post the job ad by Friday.", speaker="S1"),
    Segment(id=14, start=20.0, end=26.0, text="I will, and the budget for hiring is fine.", speaker="S2"),
)


def test_pack_chunks_keeps_items_whole_within_budget_and_balanced() -> None:
    costs = [30, 30, 30, 30, 30, 30, 30]
    chunks = pack_chunks(costs, 100)
    assert [list(c) for c in chunks] == [[0, 1, 2], [3, 4, 5], [6]]  # as few as the budget allows
    assert pack_chunks([40, 10, 10, 40, 40, 10, 10, 40], 120) == [range(0, 4), range(4, 8)]  # 100 + 100, not 120 + 80
    assert all(sum(costs[i] for i in c) <= 100 for c in chunks)
    assert [i for c in chunks for i in c] == list(range(7))
    assert pack_chunks([10, 500, 10], 100) == [range(0, 1), range(1, 2), range(2, 3)]  # an oversize item alone
    assert pack_chunks([10, 20], 100) == [range(0, 2)]
    assert pack_chunks([], 100) == []


def test_transcript_lines_carry_id_time_and_speaker() -> None:
    assert transcript_line(SEGMENTS[2], {"S2": "Tom"}) == "[12 @ 00:09] Tom (S2): Yes, the budget is approved."
    assert transcript_line(SEGMENTS[2], {}) == "[12 @ 00:09] S2: Yes, the budget is approved."
    plain = Segment(id=3, start=3725.0, end=3726.0, text="  two\nlines ")
    assert transcript_line(plain, {}) == "[3 @ 1:02:05] two lines"
    assert clock(59.9) == "00:59"


def test_answer_schema_is_inlined_and_requires_exactly_the_fields() -> None:
    schema = answer_schema(["overview", "chapters"])
    assert schema["required"] == ["overview", "chapters"] and list(schema["properties"]) == ["overview", "chapters"]
    chapter = schema["properties"]["chapters"]["items"]
    assert chapter["required"] == ["title", "start_segment_id"]
    assert list(chapter["properties"]) == ["title", "start_segment_id", "summary"]
    assert chapter["properties"]["title"] == {"type": "string"}
    assert "$ref" not in json.dumps(schema) and "$defs" not in json.dumps(schema)


def test_answer_maps_to_domain_with_times_from_segment_ids() -> None:
    answer = SummaryAnswer.model_validate(
        {
            "overview": " Launch and hiring. ",
            "key_points": [{"text": "Budget approved", "segment_ids": [12, 11, 999]}, {"text": " "}],
            "chapters": [
                {"title": "Hiring", "start_segment_id": 13, "summary": "Tom posts the ad."},
                {"title": "Launch", "start_segment_id": 11, "summary": "May 5."},
                {"title": "Ghost", "start_segment_id": 999},
                {"title": "Again", "start_segment_id": 13},
            ],
            "action_items": [{"text": "Post the job ad", "owner": "S2", "due": "by Friday", "segment_ids": [13, 14]}],
            "keywords": ["budget", "Budget", "launch", "hiring", "job ad", "unsaid"],
            "questions_answers": [{"question": "Budget approved?", "answer": "Yes", "segment_ids": [11, 12]}],
            "speaker_summaries": [{"speaker": "Tom (S2)", "summary": "Confirms the budget."}],
        }
    )
    options = SummaryOptions(
        parts=tuple(Part),
        language="en",
        output_language="en",
        speaker_names={"S2": "Tom"},
        reference_date="2025-03-12",
        max_keywords=4,
    )
    summary = to_summary(answer, SEGMENTS, options, model="m", chunk_count=2, input_tokens=5, output_tokens=7)
    assert summary.overview == "Launch and hiring." and (summary.model, summary.chunk_count) == ("m", 2)
    (point,) = summary.key_points
    assert (point.segment_ids, point.start, point.end) == ((11, 12), 4.0, 14.0)
    # Ordered by first segment, unknown ids and repeats dropped, consecutive, covering the transcript.
    assert [(c.title, c.start_segment_id, c.end_segment_id, c.start, c.end) for c in summary.chapters] == [
        ("Launch", 10, 12, 0.0, 14.0),
        ("Hiring", 13, 14, 14.0, 26.0),
    ]
    (item,) = summary.action_items
    assert (item.owner, item.due, item.due_date, item.start, item.speaker) == (
        "Tom",
        "by Friday",
        "2025-03-14",
        14.0,
        "S1",
    )
    assert [(k.text, k.occurrence_count) for k in summary.keywords] == [
        ("budget", 3),
        ("launch", 2),
        ("hiring", 2),
        ("job ad", 1),
    ]
    assert summary.keywords[0].score == 1.0 and summary.keywords[-1].score < summary.keywords[0].score
    (qa,) = summary.questions_answers
    assert (qa.question_speaker, qa.answer_speaker, qa.start) == ("S1", "S2", 4.0)
    assert [(s.speaker, s.name, s.summary, s.turn_count) for s in summary.speaker_summaries] == [
        ("S1", "", "", 2),
        ("S2", "Tom", "Confirms the budget.", 2),
    ]
    assert summary.speaker_summaries[1].talk_time == pytest.approx(10.5)


def test_only_requested_parts_and_chapter_limit() -> None:
    answer = SummaryAnswer(
        overview="x",
        keywords=["budget"],
        chapters=[
            {"title": "A", "start_segment_id": 10},  # type: ignore[list-item]
            {"title": "B", "start_segment_id": 12},  # type: ignore[list-item]
            {"title": "C", "start_segment_id": 14},  # type: ignore[list-item]
        ],
    )
    summary = to_summary(answer, SEGMENTS, SummaryOptions(parts=(Part.CHAPTERS,), max_chapters=2, length=Length.SHORT))
    assert not summary.overview and not summary.keywords
    assert [(c.title, c.end_segment_id) for c in summary.chapters] == [("A", 11), ("B", 14)]


def test_engine_settings_are_checked() -> None:
    with pytest.raises(FailedPreconditionError, match="TING_SUMMARIZE_LLM_MODEL"):
        LLMEngine(LLMSettings(base_url="http://127.0.0.1:9/v1", model="", env_prefix="TING_SUMMARIZE_LLM_"))
    with pytest.raises(FailedPreconditionError, match="TING_SUMMARIZE_LLM_CONTEXT_TOKENS"):
        LLMEngine(
            LLMSettings(base_url="http://127.0.0.1:9/v1", model="m", env_prefix="TING_SUMMARIZE_LLM_"),
            context_tokens=1024,
            max_output_tokens=1000,
        )
    engine = LLMEngine(LLMSettings(base_url="http://127.0.0.1:9/v1", model="m"))
    engine.validate(SummaryOptions(output_language="pt-BR"))
    with pytest.raises(InvalidArgumentError, match="output_language_code"):
        engine.validate(SummaryOptions(output_language="French please"))
    assert engine.describe().device == "remote" and engine.describe().max_input_tokens == 8192


def test_response_format_is_the_strict_answer_schema_with_list_limits() -> None:
    schema = answer_schema(["overview", "keywords", "chapters"], {"keywords": 5, "chapters": 3, "overview": 9})
    assert schema["properties"]["keywords"]["maxItems"] == 5 and schema["properties"]["chapters"]["maxItems"] == 3
    assert "maxItems" not in schema["properties"]["overview"]  # only lists get a limit
    assert "maxItems" not in answer_schema(["keywords"])["properties"]["keywords"]  # no limit unless asked
    response_format = json_schema_format("summary", schema)
    assert response_format["type"] == "json_schema"
    spec = response_format["json_schema"]
    assert (spec["name"], spec["strict"]) == ("summary", True)
    strict = spec["schema"]
    # OpenAI's strict mode: every object requires all its properties and allows no others, nested ones too.
    assert strict["required"] == ["overview", "keywords", "chapters"] and strict["additionalProperties"] is False
    chapter = strict["properties"]["chapters"]["items"]
    assert chapter["required"] == ["title", "start_segment_id", "summary"] and chapter["additionalProperties"] is False
    assert schema["properties"]["chapters"]["items"]["required"] == ["title", "start_segment_id"]  # input untouched
    # Answers with the optional fields left out still validate with the pydantic model.
    assert SummaryAnswer.model_validate({"chapters": [{"title": "A", "start_segment_id": 1}]}).chapters[0].summary == ""


def test_schema_support_is_unknown_until_told() -> None:
    support = SchemaSupport()
    assert support.value is None
    support.set(False)
    assert support.value is False
