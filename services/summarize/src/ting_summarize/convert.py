"""``ting.summarization.v1`` messages <-> engine domain types (seconds <-> integer milliseconds)."""

from __future__ import annotations

from ting.summarization.v1 import summarization_service_pb2 as pb
from ting_common.transcript_proto import to_ms
from ting_summarize.engines import EngineDescription, Summary


def summary_to_proto(summary: Summary) -> pb.Summary:
    """The domain summary as a ``Summary`` message."""
    return pb.Summary(
        overview=summary.overview,
        key_points=[
            pb.KeyPoint(text=k.text, segment_ids=k.segment_ids, start_ms=to_ms(k.start), end_ms=to_ms(k.end))
            for k in summary.key_points
        ],
        chapters=[
            pb.Chapter(
                title=c.title,
                start_ms=to_ms(c.start),
                end_ms=to_ms(c.end),
                summary=c.summary,
                start_segment_id=c.start_segment_id,
                end_segment_id=c.end_segment_id,
            )
            for c in summary.chapters
        ],
        action_items=[
            pb.ActionItem(
                text=a.text,
                owner=a.owner,
                due=a.due,
                due_date=a.due_date,
                start_ms=to_ms(a.start),
                speaker=a.speaker,
                segment_ids=a.segment_ids,
            )
            for a in summary.action_items
        ],
        keywords=[
            pb.Keyword(text=k.text, score=k.score, occurrence_count=k.occurrence_count) for k in summary.keywords
        ],
        questions_answers=[
            pb.QuestionAnswer(
                question=q.question,
                answer=q.answer,
                start_ms=to_ms(q.start),
                question_speaker=q.question_speaker,
                answer_speaker=q.answer_speaker,
                segment_ids=q.segment_ids,
            )
            for q in summary.questions_answers
        ],
        speaker_summaries=[
            pb.SpeakerSummary(
                speaker=s.speaker,
                name=s.name,
                summary=s.summary,
                talk_time_ms=to_ms(s.talk_time),
                turn_count=s.turn_count,
            )
            for s in summary.speaker_summaries
        ],
        language_code=summary.language,
        parts=sorted(int(p) for p in summary.parts),  # type: ignore[misc]
    )


def engine_to_proto(info: EngineDescription, default: bool) -> pb.EngineInfo:
    """An engine description as an ``EngineInfo`` message."""
    return pb.EngineInfo(
        name=info.name,
        description=info.description,
        model=info.model,
        loaded=info.loaded,
        default=default,
        device=info.device,
        supported_parts=[int(p) for p in info.supported_parts],  # type: ignore[misc]
        language_codes=info.language_codes,
        max_input_tokens=info.max_input_tokens,
    )
