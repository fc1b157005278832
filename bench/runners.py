"""Model runners vs in-process: throughput and latency of ASR through each engine at several concurrencies.

Engines (same packaged model, same options, same number of CTranslate2 workers):

* ``in-process`` — :class:`~ting_asr.engines.faster_whisper.FasterWhisperEngine` in this process;
* ``triton`` — the project's model repository on the real ``tritonserver`` (``.triton/``, CPU here), through
  :class:`~ting_asr.engines.triton.TritonAsrEngine` (KServe v2 gRPC);
* ``bento`` — ``bentoml serve services/asr/runners/bento/service.py:WhisperRunner``, through
  :class:`~ting_asr.engines.bento.BentoAsrEngine` (HTTP, audio as bytes).

All engines are started at once and warmed up. The overhead at concurrency 1 (target <= 10 %) is measured with the
engines taking turns, one request each per round (``--overhead-rounds``), so that drift in the machine's speed falls
on all alike: the median latency of each runner over the in-process one. Then for each engine and each concurrency
``c`` (default 1, 4, 16), ``c`` caller threads send ``--rounds`` requests each of the same clip (default: the first
30 s of ``samples/meeting_intro.wav``). Printed per level: throughput (audio seconds per second of wall time), p50
and p99 latency. On a GPU (``--device cuda``) the runners' batched throughput at 16 should
be >= 3x that at 1; on 2 CPU cores it cannot be (the cores are the limit at any concurrency).

    python bench/runners.py [--engines in-process,triton,bento] [--levels 1,4,16] [--rounds 2] [--model base]
                            [--audio FILE] [--seconds 30] [--concurrency 2] [--json]

With ``--json`` the last line is ``{"engines": {NAME: {"1": {...}, "4": {...}, "16": {...}}}, "overhead_c1": {...},
"turns_s": {NAME: [...]}}``,
each level ``{"requests", "wall_s", "audio_s_per_s", "p50_s", "p99_s", "errors"}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ting_asr.config import AsrSettings
from ting_asr.engines import AsrEngine, CallControl, RecognitionOptions
from ting_common.audio import decode_audio
from ting_common.local_runners import start_bento, start_triton

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_RATE = 16_000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


@contextmanager
def engine_for(name: str, args: argparse.Namespace, scratch: Path) -> Iterator[AsrEngine]:
    env = {
        "TING_ASR_MODEL": args.model,
        "TING_ASR_CONCURRENCY": str(args.concurrency),
        "TING_ASR_DEVICE": args.device,
        "TING_ASR_CPU_THREADS": str(args.cpu_threads),
    }
    if name == "in-process":
        from ting_asr.engines.faster_whisper import FasterWhisperEngine

        local = FasterWhisperEngine(
            args.model,
            cache_dir=AsrSettings().cache_dir,
            device=args.device,
            concurrency=args.concurrency,
            cpu_threads=args.cpu_threads,
        )
        try:
            yield local
        finally:
            local.close()
    elif name == "triton":
        from ting_asr.engines.triton import TritonAsrEngine

        # The model config's `concurrency` parameter is set; the environment fills only what it leaves empty.
        with start_triton(
            ROOT / ".triton", [ROOT / "services" / "asr" / "runners" / "triton"], scratch / "triton.log", env=env
        ) as runner:
            triton = TritonAsrEngine(runner.grpc_address, timeout_s=3600, retries=0)
            try:
                yield triton
            finally:
                triton.close()
    elif name == "bento":
        from ting_asr.engines.bento import BentoAsrEngine

        with start_bento(
            "services/asr/runners/bento/service.py:WhisperRunner", scratch / "bento.log", cwd=ROOT, env=env
        ) as runner:
            bento = BentoAsrEngine(runner.http_url, timeout_s=3600, retries=0)
            try:
                yield bento
            finally:
                bento.close()
    else:
        raise SystemExit(f"unknown engine {name!r}; use in-process, triton, bento")


def run_level(call: Callable[[], None], concurrency: int, rounds: int, audio_s: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def caller() -> None:
        for _ in range(rounds):
            started = time.perf_counter()
            try:
                call()
            except Exception as exc:
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                continue
            with lock:
                latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=caller) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {
        "requests": concurrency * rounds,
        "wall_s": round(wall, 3),
        "audio_s_per_s": round(len(latencies) * audio_s / wall, 2),
        "p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "p99_s": round(percentile(latencies, 0.99), 3) if latencies else None,
        "errors": len(errors),
        **({"first_error": errors[0]} if errors else {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="in-process,triton,bento")
    parser.add_argument("--levels", default="1,4,16")
    parser.add_argument("--rounds", type=int, default=2, help="requests per caller thread at each level")
    parser.add_argument(
        "--overhead-rounds", type=int, default=5, help="rounds of one request per engine, taking turns (overhead)"
    )
    parser.add_argument("--model", default="base")
    parser.add_argument("--audio", type=Path, default=ROOT / "samples" / "meeting_intro.wav")
    parser.add_argument("--seconds", type=float, default=30.0, help="clip length taken from the audio")
    parser.add_argument("--concurrency", type=int, default=2, help="CTranslate2 workers in every engine")
    parser.add_argument("--cpu-threads", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the figures")
    args = parser.parse_args()

    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
    audio = decode_audio(args.audio.read_bytes()).samples[: int(args.seconds * SAMPLE_RATE)].astype(np.float32)
    audio_s = audio.size / SAMPLE_RATE
    options = RecognitionOptions(model=args.model, language="en", beam_size=5)
    levels = [int(level) for level in args.levels.split(",")]
    results: dict[str, dict[str, Any]] = {}
    texts: dict[str, str] = {}
    print(
        f"clip {args.audio.name} {audio_s:.1f} s, model {args.model} on {args.device}, {args.concurrency} workers per "
        f"engine, {args.rounds} requests per caller; {os.cpu_count()} CPUs",
        file=sys.stderr,
    )
    names = args.engines.split(",")
    alternating: dict[str, list[float]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="bench-runners-") as tmp, ExitStack() as stack:
        engines = {name: stack.enter_context(engine_for(name, args, Path(tmp))) for name in names}
        for name, engine in engines.items():
            texts[name] = engine.transcribe(audio, options, CallControl()).text  # warm-up
        # Overhead at concurrency 1: the engines take turns, one request each per round, so that drift in the
        # machine's speed (other load, frequency) falls on all of them alike.
        for _ in range(args.overhead_rounds):
            for name, engine in engines.items():
                started = time.perf_counter()
                engine.transcribe(audio, options, CallControl())
                alternating[name].append(time.perf_counter() - started)
        for name, engine in engines.items():

            def call(engine: AsrEngine = engine) -> None:
                engine.transcribe(audio, options, CallControl())

            results[name] = {}
            for level in levels:
                figures = run_level(call, level, args.rounds, audio_s)
                results[name][str(level)] = figures
                print(
                    f"{name:>10} c={level:<3} {figures['audio_s_per_s']:>7.2f} audio s/s  "
                    f"p50 {figures['p50_s']} s  p99 {figures['p99_s']} s  errors {figures['errors']}",
                    file=sys.stderr,
                )
    overhead: dict[str, float] = {}
    base = statistics.median(alternating["in-process"]) if alternating.get("in-process") else None
    for name, times in alternating.items():
        if name != "in-process" and base and times:
            overhead[name] = round(statistics.median(times) / base - 1, 4)
    same = {name: text == texts.get("in-process") for name, text in texts.items() if name != "in-process"}
    print()
    print(f"{'engine':>10} " + " ".join(f"{'c=' + str(level):>24}" for level in levels))
    for name, levels_figures in results.items():
        cells = [
            f"{f['audio_s_per_s']:>7.2f} s/s p50 {f['p50_s']}/p99 {f['p99_s']}"
            for f in (levels_figures[str(level)] for level in levels)
        ]
        print(f"{name:>10} " + " ".join(f"{cell:>24}" for cell in cells))
    for name, value in overhead.items():
        verdict = "ok" if value <= 0.10 else "over the 10 % target"
        print(
            f"{name} overhead at concurrency 1 (median of {args.overhead_rounds} turns vs in-process): "
            f"{value * 100:+.1f} % ({verdict})"
        )
    for name, value in same.items():
        print(f"{name} transcript identical to in-process: {value}")
    for name, levels_figures in results.items():
        if "1" in levels_figures and "16" in levels_figures and levels_figures["1"]["audio_s_per_s"]:
            scale = levels_figures["16"]["audio_s_per_s"] / levels_figures["1"]["audio_s_per_s"]
            print(f"{name} throughput at 16 / at 1: {scale:.2f}x")
    if args.json:
        print(
            json.dumps(
                {
                    "engines": results,
                    "overhead_c1": overhead,
                    "turns_s": {name: [round(t, 3) for t in times] for name, times in alternating.items()},
                    "same_transcript": same,
                    "audio_s": audio_s,
                }
            )
        )


if __name__ == "__main__":
    main()
