"""Summarization benchmark: throughput of the offline engine on a 60-minute transcript and quality on
the shared eval meetings.

Throughput: the English eval meeting repeated with shifted times until it lasts 60 minutes, summarized
with every part through a real summarization server on loopback (segments/s, chars/s, wall time,
sentences, encoder tokens, chunks). Quality, per eval meeting (``../shared/eval/meeting_*.json``):

* chapters — count, and the mean / max distance in seconds between each reference boundary (start of
  chapter 2..) and the nearest predicted one;
* action items — each reference item is matched to the predicted item with the most similar text
  (MiniLM cosine); owner accuracy and due accuracy (dues compared without by/before/之前 and
  parentheses) over the reference items;
* key-point coverage — share of reference key points whose best-matching predicted key point has a
  MiniLM cosine >= ``COVERAGE_THRESHOLD`` (0.5: "same subject, clearly related"; all-MiniLM-L6-v2
  paraphrases score ~0.6-0.8, unrelated sentences < 0.2), and the mean best cosine. The encoder is
  English-trained, so Chinese cosines mean little (high for any pair of Chinese sentences); hence also
  ``key_point_rouge2_recall``, ROUGE-2 recall of the reference key points against the predicted ones
  (Han character bigrams for zh, word bigrams otherwise);
* keyword recall — share of reference keywords that a predicted keyword contains or is contained in.

LLM engine: ``--llm-plan`` runs the 60-minute transcript through the ``llm`` engine against the scripted
fault server (tests/integration/llm_fault_server.py: instant, minimal valid answers) at 8k and 32k contexts and
reports the map-reduce shape — chunks, requests, estimated prompt tokens per request. ``--llm-base-url URL
--llm-model NAME`` summarizes the 60-minute transcript and the eval meetings with a real endpoint instead
(wall time, chunks, tokens reported by the endpoint, and the quality figures above).

    python bench/summarize.py [--minutes 60] [--json] [--llm-plan] [--llm-base-url URL --llm-model NAME]

With ``--json`` the last line is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import itertools
import json
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from ting.audio.v1 import audio_pb2
from ting.summarization.v1 import summarization_service_pb2 as pb
from ting.summarization.v1 import summarization_service_pb2_grpc as pb_grpc
from ting_common.llm import LLMSettings, estimate_tokens
from ting_common.transcript import Segment
from ting_summarize.config import SummarizeSettings
from ting_summarize.engines import CallControl, Part, SummaryOptions
from ting_summarize.engines.encoder import SentenceEncoder
from ting_summarize.engines.extractive import ExtractiveEngine
from ting_summarize.engines.llm import LLMEngine
from ting_summarize.engines.text import split_sentences
from ting_summarize.server import create_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.integration.llm_fault_server for --llm-plan
EVAL = ROOT.parent / "shared" / "eval"
COVERAGE_THRESHOLD = 0.5
MEETING_DATE = "2025-03-12"
ALL_PARTS = [
    pb.SUMMARY_PART_OVERVIEW,
    pb.SUMMARY_PART_KEY_POINTS,
    pb.SUMMARY_PART_CHAPTERS,
    pb.SUMMARY_PART_ACTION_ITEMS,
    pb.SUMMARY_PART_KEYWORDS,
    pb.SUMMARY_PART_QUESTIONS_ANSWERS,
    pb.SUMMARY_PART_SPEAKER_SUMMARIES,
]


def request_for(segments: list[dict[str, Any]], language: str, names: dict[str, str]) -> pb.SummarizeRequest:
    return pb.SummarizeRequest(
        config=pb.SummaryConfig(parts=ALL_PARTS, speaker_names=names, reference_date=MEETING_DATE),
        segments=[
            audio_pb2.Segment(
                id=i,
                start_ms=round(s["start"] * 1000),
                end_ms=round(s["end"] * 1000),
                text=s["text"],
                speaker=s.get("speaker", ""),
            )
            for i, s in enumerate(segments)
        ],
        language_code=language,
    )


def long_transcript(meeting: dict[str, Any], minutes: float) -> list[dict[str, Any]]:
    """The meeting repeated back to back (times shifted) until it lasts ``minutes``."""
    segments: list[dict[str, Any]] = []
    offset = 0.0
    while offset < minutes * 60:
        segments.extend({**s, "start": s["start"] + offset, "end": s["end"] + offset} for s in meeting["segments"])
        offset += meeting["duration"]
    return segments


def normalize_due(due: str) -> str:
    due = re.sub(r"[()]", "", due.lower())
    due = re.sub(r"\b(?:by|before|until|the|afternoon|morning|evening)\b|之前|以前", "", due)
    return " ".join(due.split())


def bigrams(text: str, language: str) -> Counter[tuple[str, str]]:
    """Bigrams for ROUGE-2: of Han characters (zh), else of lowercased words (digits kept, punctuation dropped)."""
    if language.startswith("zh"):
        units = re.findall(r"[\u4e00-\u9fff0-9A-Za-z]", text)
    else:
        units = re.findall(r"[a-z0-9]+", text.lower())
    return Counter(itertools.pairwise(units))


def rouge2_recall(references: list[str], predicted: list[str], language: str) -> float:
    """ROUGE-2 recall of all reference key points against all predicted ones (clipped bigram counts): a
    lexical measure that, unlike MiniLM cosines, means the same in Chinese and English."""
    want: Counter[tuple[str, str]] = Counter()
    for text in references:
        want.update(bigrams(text, language))
    got: Counter[tuple[str, str]] = Counter()
    for text in predicted:
        got.update(bigrams(text, language))
    total = sum(want.values())
    return sum(min(n, got[g]) for g, n in want.items()) / total if total else 0.0


def quality(meeting: dict[str, Any], summary: pb.Summary, encoder: SentenceEncoder) -> dict[str, Any]:
    ref = meeting["reference"]
    lang = meeting["language"]
    figures: dict[str, Any] = {"chapters": len(summary.chapters), "reference_chapters": len(ref["chapters"])}
    predicted = [c.start_ms / 1000 for c in summary.chapters[1:]]
    errors = [
        min((abs(p - c["start"]) for p in predicted), default=float(meeting["duration"])) for c in ref["chapters"][1:]
    ]
    figures["boundary_error_mean_s"] = round(statistics.fmean(errors), 1) if errors else 0.0
    figures["boundary_error_max_s"] = round(max(errors), 1) if errors else 0.0

    items = list(summary.action_items)
    expected = ref["action_items"]
    owners = dues = 0
    if items:
        sims = encoder.encode([e["text"] for e in expected]) @ encoder.encode([i.text for i in items]).T
        for row, e in enumerate(expected):
            best = items[int(np.argmax(sims[row]))]
            owners += best.owner == e["owner"]
            dues += normalize_due(best.due) == normalize_due(e["due"])
    figures["action_items"] = len(items)
    figures["reference_action_items"] = len(expected)
    figures["owner_accuracy"] = round(owners / len(expected), 3)
    figures["due_accuracy"] = round(dues / len(expected), 3)

    points = [k.text for k in summary.key_points]
    best_cos = (encoder.encode(ref["key_points"]) @ encoder.encode(points).T).max(axis=1) if points else np.zeros(1)
    figures["key_points"] = len(points)
    figures["key_point_chars"] = sum(len(p) for p in points)
    figures["key_point_coverage"] = round(float((best_cos >= COVERAGE_THRESHOLD).mean()), 3)
    figures["key_point_mean_best_cosine"] = round(float(best_cos.mean()), 3)
    figures["key_point_rouge2_recall"] = round(rouge2_recall(ref["key_points"], points, lang), 3)

    got = [k.text.lower() for k in summary.keywords]
    hits = sum(1 for k in ref["keywords"] if any(k.lower() in g or g in k.lower() for g in got))
    figures["keyword_recall"] = round(hits / len(ref["keywords"]), 3)
    figures["language"] = lang
    return figures


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    encoder = SentenceEncoder()
    settings = SummarizeSettings(host="127.0.0.1", port=0, shutdown_delay_s=0.0, max_chars=10_000_000)
    app, port = create_server(settings, ExtractiveEngine(encoder))
    await app.start()
    result: dict[str, Any] = {}
    try:
        async with grpc.aio.insecure_channel(
            f"127.0.0.1:{port}", options=[("grpc.max_send_message_length", 1 << 28)]
        ) as channel:
            stub = pb_grpc.SummarizationServiceStub(channel)
            en_path = EVAL / "meeting_en.json"
            if not en_path.is_file():
                print(f"no eval meetings at {EVAL}; nothing to measure", file=sys.stderr)
                return result
            meeting = json.loads(en_path.read_text(encoding="utf-8"))
            names = {k: v["name"] for k, v in meeting["reference"]["speakers"].items()}
            segments = long_transcript(meeting, args.minutes)
            chars = sum(len(s["text"]) for s in segments)
            domain = tuple(
                Segment(i, s["start"], s["end"], s["text"], speaker=s["speaker"]) for i, s in enumerate(segments)
            )
            sentences = split_sentences(domain, "en")
            tokens = sum(encoder.token_counts([s.text for s in sentences]))
            await stub.Summarize(request_for(meeting["segments"], "en", names), timeout=600)  # warm-up
            started = time.perf_counter()
            reply = await stub.Summarize(request_for(segments, "en", names), timeout=600)
            wall = time.perf_counter() - started
            result["throughput"] = {
                "audio_minutes": round(segments[-1]["end"] / 60, 1),
                "segments": len(segments),
                "chars": chars,
                "sentences": len(sentences),
                "encoder_tokens": tokens,
                "chunks": reply.chunk_count,
                "wall_s": round(wall, 2),
                "server_ms": reply.processing_ms,
                "segments_per_s": round(len(segments) / wall, 1),
                "chars_per_s": round(chars / wall),
                "chapters": len(reply.summary.chapters),
            }
            print(
                f"60-minute transcript: {len(segments)} segments, {chars} chars, {len(sentences)} sentences, "
                f"{tokens} encoder tokens, {reply.chunk_count} chunk -> {wall:.2f} s "
                f"({len(segments) / wall:.0f} segments/s, {chars / wall:.0f} chars/s)"
            )
            for name in ("meeting_en.json", "meeting_zh.json"):
                path = EVAL / name
                if not path.is_file():
                    continue
                m = json.loads(path.read_text(encoding="utf-8"))
                names = {k: v["name"] for k, v in m["reference"]["speakers"].items()}
                r = await stub.Summarize(request_for(m["segments"], m["language"], names), timeout=600)
                q = quality(m, r.summary, encoder)
                result[name.removesuffix(".json")] = q
                print(f"{name}: " + ", ".join(f"{k}={v}" for k, v in q.items()))
    finally:
        await app.drain(0)
    return result


def minimal_answer(body: dict[str, Any]) -> str:
    """A valid, tiny answer for the fault server: every field the request's schema requires."""
    system = body["messages"][0]["content"]
    schema = json.loads(system.split("JSON schema:\n", 1)[1].split("\n", 1)[0])
    first = re.search(r"^\[(\d+) @ ", body["messages"][1]["content"], re.MULTILINE)
    values: dict[str, Any] = {"overview": "A meeting."}
    if first:
        values["chapters"] = [{"title": "Part", "start_segment_id": int(first.group(1)), "summary": "."}]
    return json.dumps({f: values.get(f, []) for f in schema["required"]})


async def llm_plan(segments: list[dict[str, Any]], names: dict[str, str]) -> dict[str, Any]:
    """Map-reduce shape of the 60-minute transcript at 8k and 32k contexts (scripted instant answers)."""
    fault_module: Any = importlib.import_module("tests.integration.llm_fault_server")
    fault = fault_module.FaultServer()
    await fault.start()
    domain = tuple(Segment(i, s["start"], s["end"], s["text"], speaker=s["speaker"]) for i, s in enumerate(segments))
    options = SummaryOptions(parts=tuple(Part), language="en", output_language="en", speaker_names=names)
    figures: dict[str, Any] = {}
    try:
        for context in (8192, 32768):
            fault.reset()
            fault.responder = minimal_answer
            engine = LLMEngine(LLMSettings(base_url=fault.base_url, model="plan"), context_tokens=context)
            started = time.perf_counter()
            summary = await asyncio.to_thread(engine.summarize, domain, options, CallControl())
            wall = time.perf_counter() - started
            prompts = [
                sum(estimate_tokens(m["content"]) for m in r.body["messages"])
                for r in fault.requests
                if r.path.endswith("/chat/completions")
            ]
            figures[f"context_{context}"] = row = {
                "chunks": summary.chunk_count,
                "requests": len(prompts),
                "prompt_tokens_per_request_mean": round(statistics.fmean(prompts)),
                "prompt_tokens_per_request_max": max(prompts),
                "engine_overhead_s": round(wall, 2),
            }
            print(f"llm plan, {context}-token context: " + ", ".join(f"{k}={v}" for k, v in row.items()))
    finally:
        await fault.stop()
    return figures


async def llm_real(args: argparse.Namespace, segments: list[dict[str, Any]], names: dict[str, str]) -> dict[str, Any]:
    """The 60-minute transcript and the eval meetings through a real endpoint's ``llm`` engine."""
    settings = SummarizeSettings(
        host="127.0.0.1",
        port=0,
        shutdown_delay_s=0.0,
        max_chars=10_000_000,
        default_engine="llm",
        llm_base_url=args.llm_base_url,
        llm_model=args.llm_model,
        llm_context_tokens=args.llm_context_tokens,
    )
    from ting_summarize.server import create_llm_engine

    app, port = create_server(settings, create_llm_engine(settings))
    await app.start()
    figures: dict[str, Any] = {}
    encoder = SentenceEncoder()
    try:
        async with grpc.aio.insecure_channel(
            f"127.0.0.1:{port}", options=[("grpc.max_send_message_length", 1 << 28)]
        ) as channel:
            stub = pb_grpc.SummarizationServiceStub(channel)
            started = time.perf_counter()
            reply = await stub.Summarize(request_for(segments, "en", names), timeout=3600)
            wall = time.perf_counter() - started
            figures["throughput"] = {
                "wall_s": round(wall, 1),
                "chunks": reply.chunk_count,
                "input_tokens": reply.input_token_count,
                "output_tokens": reply.output_token_count,
                "segments_per_s": round(len(segments) / wall, 1),
            }
            print("llm 60-minute transcript: " + ", ".join(f"{k}={v}" for k, v in figures["throughput"].items()))
            for name in ("meeting_en.json", "meeting_zh.json"):
                path = EVAL / name
                if path.is_file():
                    m = json.loads(path.read_text(encoding="utf-8"))
                    m_names = {k: v["name"] for k, v in m["reference"]["speakers"].items()}
                    r = await stub.Summarize(request_for(m["segments"], m["language"], m_names), timeout=3600)
                    figures[name.removesuffix(".json")] = q = quality(m, r.summary, encoder)
                    print(f"llm {name}: " + ", ".join(f"{k}={v}" for k, v in q.items()))
    finally:
        await app.drain(0)
    return figures


async def llm_async(args: argparse.Namespace) -> dict[str, Any]:
    """The LLM engine's figures (``--llm-plan`` and/or ``--llm-base-url``)."""
    en_path = EVAL / "meeting_en.json"
    if not en_path.is_file():
        print(f"no eval meetings at {EVAL}; nothing to measure", file=sys.stderr)
        return {}
    meeting = json.loads(en_path.read_text(encoding="utf-8"))
    names = {k: v["name"] for k, v in meeting["reference"]["speakers"].items()}
    segments = long_transcript(meeting, args.minutes)
    result: dict[str, Any] = {}
    if args.llm_plan:
        result["llm_plan"] = await llm_plan(segments, names)
    if args.llm_base_url:
        result["llm"] = await llm_real(args, segments, names)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=60.0, help="length of the throughput transcript")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the figures")
    parser.add_argument("--llm-plan", action="store_true", help="map-reduce shape of the llm engine (no model)")
    parser.add_argument("--llm-base-url", default="", help="OpenAI-compatible endpoint to benchmark the llm engine")
    parser.add_argument("--llm-model", default="", help="model name at --llm-base-url")
    parser.add_argument("--llm-context-tokens", type=int, default=8192, help="context window of --llm-model")
    args = parser.parse_args()
    if args.llm_plan or args.llm_base_url:
        result = asyncio.run(llm_async(args))
        if args.json:
            print(json.dumps(result, ensure_ascii=False))
        return 0
    result = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
