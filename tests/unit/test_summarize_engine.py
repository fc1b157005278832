"""The numpy MiniLM encoder (sanity against known similarities) and chapter segmentation on a
synthetic three-topic transcript."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ting_common.transcript import Segment
from ting_summarize.engines import ALL_PARTS, CallControl, Part, StopRequested, SummaryOptions
from ting_summarize.engines.encoder import SentenceEncoder
from ting_summarize.engines.extractive import ExtractiveEngine


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder()


@pytest.fixture(scope="module")
def engine(encoder: SentenceEncoder) -> ExtractiveEngine:
    return ExtractiveEngine(encoder)


def test_embeddings_are_unit_vectors_and_batching_does_not_change_them(encoder: SentenceEncoder) -> None:
    texts = ["A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby."]
    batch = encoder.encode(texts)
    assert batch.shape == (3, 384)
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    single = encoder.encode([texts[2]])
    assert np.allclose(single[0], batch[2], atol=1e-5)
    assert encoder.encode([]).shape == (0, 384)


def test_paraphrases_score_far_above_unrelated_pairs(encoder: SentenceEncoder) -> None:
    # Reference cosines of all-MiniLM-L6-v2 (sentence-transformers docs): 0.7553, 0.7369, 0.6433.
    pairs = [
        ("A man is eating food.", "A man is eating a piece of bread.", 0.7553),
        ("A man is riding a horse.", "A man is riding a white horse on an enclosed ground.", 0.7369),
        ("A monkey is playing drums.", "Someone in a gorilla costume is playing a set of drums.", 0.6433),
    ]
    for a, b, expected in pairs:
        va, vb = encoder.encode([a, b])
        assert float(va @ vb) == pytest.approx(expected, abs=2e-3)
    unrelated = encoder.encode(["A man is eating food.", "The quarterly tax report is due in April."])
    assert float(unrelated[0] @ unrelated[1]) < 0.2


def test_long_text_is_truncated_not_rejected(encoder: SentenceEncoder) -> None:
    long_text = "word " * 2000
    assert encoder.token_counts([long_text]) == [encoder.max_tokens]
    assert encoder.encode([long_text]).shape == (1, 384)


TOPICS = {
    "weather": [
        "The forecast says heavy rain will hit the coast tomorrow morning.",
        "Storm warnings are in place and the wind could reach ninety kilometres per hour.",
        "Temperatures will drop sharply after the rain passes through the region.",
        "Farmers are worried the storm will flood their fields again.",
        "The weather service expects snow in the mountains by the weekend.",
        "Sunny and dry weather should return next Tuesday.",
    ],
    "football": [
        "The home team won the football match three goals to one.",
        "Their striker scored twice in the first half of the game.",
        "The coach praised the defence after the final whistle.",
        "The league table now has them in second place.",
        "Fans filled the stadium and sang for the whole match.",
        "The goalkeeper saved a penalty in the last minute.",
    ],
    "cooking": [
        "To make the soup, chop two onions and fry them in butter.",
        "Add the carrots and potatoes and cook the vegetables for ten minutes.",
        "Pour in the stock and let the soup simmer gently.",
        "Season the soup with salt, pepper and fresh herbs.",
        "Blend everything until the soup is smooth and creamy.",
        "Serve the soup hot with fresh bread from the oven.",
    ],
}


def three_topic_transcript() -> tuple[Segment, ...]:
    segments: list[Segment] = []
    t = 0.0
    for lines in TOPICS.values():
        for line in lines:
            segments.append(Segment(id=len(segments), start=t, end=t + 9.0, text=line))
            t += 10.0
    return tuple(segments)


def test_chapters_follow_the_topics(engine: ExtractiveEngine) -> None:
    segments = three_topic_transcript()
    summary = engine.summarize(
        segments, SummaryOptions(parts=(Part.CHAPTERS,), language="en", max_chapters=5), CallControl()
    )
    chapters = summary.chapters
    assert [c.start_segment_id for c in chapters] == [0, 6, 12]
    assert [c.end_segment_id for c in chapters] == [5, 11, 17]
    assert chapters[0].start == 0.0 and chapters[-1].end == segments[-1].end
    assert all(a.end == b.start for a, b in itertools.pairwise(chapters))
    titles = " ".join(c.title.lower() for c in chapters)
    assert "soup" in titles
    assert all(c.summary for c in chapters)


def test_max_chapters_is_honoured(engine: ExtractiveEngine) -> None:
    summary = engine.summarize(
        three_topic_transcript(), SummaryOptions(parts=(Part.CHAPTERS,), language="en", max_chapters=2), CallControl()
    )
    assert len(summary.chapters) == 2


def test_all_parts_and_keywords(engine: ExtractiveEngine) -> None:
    summary = engine.summarize(
        three_topic_transcript(), SummaryOptions(parts=ALL_PARTS, language="en", max_keywords=5), CallControl()
    )
    assert summary.overview
    assert 1 <= len(summary.key_points) <= 10
    assert {kp.segment_ids[0] // 6 for kp in summary.key_points} == {0, 1, 2}  # points from every topic
    assert 1 <= len(summary.keywords) <= 5
    assert summary.keywords[0].score == pytest.approx(1.0)
    assert any("soup" in k.text.lower() for k in summary.keywords)


def test_stop_flag_is_honoured(engine: ExtractiveEngine) -> None:
    control = CallControl()
    control.stop.set()
    with pytest.raises(StopRequested):
        engine.summarize(three_topic_transcript(), SummaryOptions(language="en"), control)
