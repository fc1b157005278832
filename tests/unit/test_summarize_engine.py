"""The numpy MiniLM encoder (sanity against known similarities), chapter segmentation on synthetic English
(embeddings) and Chinese (lexical) transcripts, transition cues and key-point units."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ting_common.transcript import Segment
from ting_summarize.engines import ALL_PARTS, CallControl, Part, StopRequested, SummaryOptions
from ting_summarize.engines.encoder import SentenceEncoder
from ting_summarize.engines.extractive import ExtractiveEngine, is_filler, key_point_units
from ting_summarize.engines.ranking import pool_neighbours, snap_to_cues
from ting_summarize.engines.text import lexical_terms, split_sentences, transition_cue


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


# Two clearly different Chinese topics, no transition phrases: the boundary must come from the words alone.
TOPICS_ZH = {
    "weather": [
        "天气预报说明天早上沿海地区会有大暴雨。",
        "气象台已经发布暴雨预警，风力可能达到十级。",
        "暴雨过后气温会明显下降，大风还会持续两天。",
        "农民担心暴雨会再次淹没他们的农田。",
        "气象台预计周末山区还会下雪，气温降到零度以下。",
        "下周二以后天气转晴，气温慢慢回升。",
    ],
    "football": [
        "昨晚的足球比赛主队三比一赢了客队。",
        "主队的前锋在上半场打进了两个进球。",
        "主教练在比赛结束后表扬了后卫的防守。",
        "这场胜利让球队在联赛积分榜上升到第二名。",
        "球迷坐满了体育场，整场比赛都在为球队加油。",
        "守门员在最后一分钟扑出了一个点球，保住了胜利。",
    ],
}


class NoEncoder:
    """Stands in for MiniLM where it must not be used (it was trained on English)."""

    dimension = 384

    def encode(self, texts: object) -> np.ndarray:
        raise AssertionError("the English encoder was used for Chinese")


def test_chinese_chapters_come_from_lexical_topic_shift_without_the_english_encoder() -> None:
    segments: list[Segment] = []
    t = 0.0
    for topic, lines in TOPICS_ZH.items():
        for line in lines:
            segments.append(Segment(id=len(segments), start=t, end=t + 9.0, text=line, speaker=topic))
            t += 10.0
    engine = ExtractiveEngine(NoEncoder())  # type: ignore[arg-type]
    options = SummaryOptions(
        parts=(Part.CHAPTERS, Part.KEY_POINTS, Part.OVERVIEW), language="zh", output_language="zh", max_chapters=3
    )
    summary = engine.summarize(tuple(segments), options, CallControl())
    starts = [c.start for c in summary.chapters]
    assert len(starts) == 2 and abs(starts[1] - 60.0) <= 10.0, starts  # the topic changes at 60 s
    assert "暴雨" in summary.chapters[0].title or "气温" in summary.chapters[0].title, summary.chapters[0].title
    assert any(w in summary.chapters[1].title for w in ("比赛", "主队", "球队")), summary.chapters[1].title
    assert {kp.segment_ids[0] // 6 for kp in summary.key_points} == {0, 1}  # a key point from each topic
    assert summary.overview


def test_chapter_boundaries_snap_to_topic_transition_cues() -> None:
    assert transition_cue("Good. Then let's move on to hiring.") == 1
    assert transition_cue("Okay, let's move on to the last topic, the Northwind incident.") == 1
    assert transition_cue("这个想法很好。就这么定了，我们继续下一个议题。") == 1
    assert transition_cue("第二个议题是客户投诉。") == -1
    assert transition_cue("Anything else on the release before we move on?") == 0
    assert transition_cue("We moved the database to the new cluster.") == 0
    cues = [0, 0, 0, 1, 0, 0, 0, 0, -1, 0, 0]
    assert snap_to_cues([3, 7], cues) == [4, 8]  # after the closing cue, at the opening one
    assert snap_to_cues([7], cues) == [8] and snap_to_cues([6], cues) == [4]  # equally near: the earlier
    assert snap_to_cues([1], cues, reach=1) == [1]  # too far: kept
    assert snap_to_cues([3, 4], [0, 0, 0, 1, 0, 0]) == [3, 4]  # a move that would empty a chapter is not made


def test_lexical_terms_and_pooling() -> None:
    zh = lexical_terms("我们的发布会定在五月二十号", "zh")
    assert "发布" in zh and "我们" not in zh and "的发" not in zh
    en = lexical_terms("The release candidate was cut; the release slipped.", "en")
    assert en.count("release") == 2 and "release candidate" in en and "the" not in en
    vectors = np.eye(4, dtype=np.float32)
    pooled = pool_neighbours(vectors, 1)
    assert np.allclose(np.linalg.norm(pooled, axis=1), 1.0)
    assert pooled[0, 1] > 0 and pooled[0, 2] == 0 and pooled[1, 0] > 0 and pooled[1, 2] > 0


def test_key_point_units_merge_a_speakers_short_sentences_and_skip_questions_and_fillers() -> None:
    texts = [
        ("A", "Okay, thanks everyone."),
        ("A", "The first release candidate was cut on Monday."),
        ("A", "We found eleven bugs and nine of them are already fixed."),
        ("A", "Is that a blocker for the release next week?"),
        ("B", "The remaining two bugs are both in the export feature and corrupt CSV files."),
        ("C", "Good point."),
    ]
    segments = tuple(
        Segment(id=i, start=10.0 * i, end=10.0 * i + 9, text=t, speaker=s) for i, (s, t) in enumerate(texts)
    )
    sentences = split_sentences(segments, "en")
    assert is_filler("Okay, thanks everyone.") and is_filler("Good point.") and not is_filler(texts[1][1])
    assert key_point_units(sentences, cjk=False) == [(1, 2), (4,)]
