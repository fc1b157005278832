"""ASR service overhead: the same audio and settings through the gRPC service vs bare faster-whisper.

Prints the median wall time of a ``Recognize`` through a real ASR service process (loopback gRPC,
audio sent as file bytes) and of bare ``WhisperModel.transcribe`` on the same file in this process,
their ratio (target <= 1.05), the service's real-time factor (RTFx = audio seconds per second), its
peak resident memory (VmHWM; target <= 600 MB), and — when ``../shared/eval/asr`` exists — the word
error rate of the service on that set (mean over non-Chinese clips; Chinese is scored as CER and
reported apart, see the eval README).

    python bench/asr_overhead.py [--audio FILE] [--repeats N] [--model base] [--json]

With ``--json`` the last line is one JSON object with keys service_s, bare_s, ratio, rtfx, rss_mb, wer.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc

from ting.asr.v1 import asr_service_pb2 as pb
from ting.asr.v1 import asr_service_pb2_grpc as pb_grpc
from ting.audio.v1 import audio_pb2
from ting_common.probe import free_port, wait_until_serving
from ting_common.scoring import error_rate

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "eval" / "asr"
MAX_MESSAGE = 256 * 1024 * 1024


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_service(model: str, beam: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(
        os.environ,
        TING_ASR_HOST="127.0.0.1",
        TING_ASR_PORT=str(port),
        TING_ASR_MODEL=model,
        TING_ASR_DEFAULT_BEAM_SIZE=str(beam),
        TING_ASR_LOG_LEVEL="WARNING",
        TING_ASR_SHUTDOWN_DELAY_S="0",
    )
    proc = subprocess.Popen([sys.executable, "-m", "ting_asr"], env=env)
    address = f"127.0.0.1:{port}"
    try:
        wait_until_serving(address, timeout_s=300, process=proc)
    except (RuntimeError, TimeoutError) as exc:
        raise SystemExit(str(exc)) from exc
    return proc, address


def service_call(stub: Any, data: bytes, language: str = "") -> tuple[float, Any]:
    started = time.perf_counter()
    reply = stub.Recognize(
        pb.RecognizeRequest(
            config=pb.RecognitionConfig(language_code=language), audio=audio_pb2.AudioSource(content=data)
        ),
        timeout=600,
    )
    return time.perf_counter() - started, reply


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--audio", default=str(ROOT / "samples" / "meeting_intro.wav"))
    parser.add_argument("--model", default="base")
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-eval", action="store_true", help="skip the WER pass over ../shared/eval/asr")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the figures")
    args = parser.parse_args()

    from faster_whisper import WhisperModel

    from ting_asr.config import AsrSettings
    from ting_asr.models import resolve_model

    settings = AsrSettings()
    _, model_dir, _ = resolve_model(args.model, settings.cache_dir)
    audio_path = Path(args.audio)
    data = audio_path.read_bytes()

    proc, address = start_service(args.model, args.beam_size)
    try:
        bare_model = WhisperModel(str(model_dir), device="cpu", compute_type="int8")

        def bare_call() -> tuple[float, float, str]:
            started = time.perf_counter()
            segments, info = bare_model.transcribe(str(audio_path), beam_size=args.beam_size)
            text = " ".join(s.text.strip() for s in segments)
            return time.perf_counter() - started, float(info.duration), text

        with grpc.insecure_channel(
            address,
            options=[("grpc.max_send_message_length", MAX_MESSAGE), ("grpc.max_receive_message_length", MAX_MESSAGE)],
        ) as ch:
            stub = pb_grpc.AsrServiceStub(ch)
            # Warm both paths once (first-call allocations), then interleave the timed runs.
            service_call(stub, data)
            _, duration, bare_text = bare_call()
            service_times, bare_times = [], []
            service_text = ""
            for _ in range(args.repeats):
                elapsed, reply = service_call(stub, data)
                service_times.append(elapsed)
                service_text = reply.transcript.text
                bare_times.append(bare_call()[0])

            wer: float | None = None
            details: list[dict[str, Any]] = []
            if EVAL.is_dir() and not args.no_eval:
                for line in (EVAL / "manifest.jsonl").read_text().splitlines():
                    item = json.loads(line)
                    elapsed, reply = service_call(stub, (EVAL / item["audio"]).read_bytes())
                    score = error_rate(item["text"], reply.transcript.text, item["language"])
                    details.append(
                        {
                            "audio": item["audio"],
                            "language": item["language"],
                            "detected": reply.transcript.language_code,
                            "error_rate": round(score, 4),
                            "metric": "cer" if item["language"] == "zh" else "wer",
                            "seconds": round(elapsed, 2),
                        }
                    )
                scored = [d["error_rate"] for d in details if d["metric"] == "wer"]
                wer = statistics.fmean(scored) if scored else None
        rss_mb = peak_rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=60)

    service_s = statistics.median(service_times)
    bare_s = statistics.median(bare_times)
    figures: dict[str, Any] = {
        "service_s": round(service_s, 3),
        "bare_s": round(bare_s, 3),
        "ratio": round(service_s / bare_s, 3),
        "rtfx": round(duration / service_s, 2),
        "rss_mb": round(rss_mb, 1),
        "wer": None if wer is None else round(wer, 4),
    }
    print(f"audio: {audio_path.name}, {duration:.1f} s; model {args.model} int8, beam {args.beam_size}, cpu")
    runs = {"service": [round(t, 3) for t in service_times], "bare": [round(t, 3) for t in bare_times]}
    print(f"service Recognize (median of {args.repeats}): {service_s:.3f} s   runs: {runs['service']}")
    print(f"bare faster-whisper (median of {args.repeats}): {bare_s:.3f} s   runs: {runs['bare']}")
    print(f"ratio service/bare: {figures['ratio']:.3f} (target <= 1.05)")
    print(f"RTFx (service): {figures['rtfx']:.2f}x real time")
    print(f"service peak RSS: {rss_mb:.0f} MB (target <= 600 MB)")
    print(f"same transcript as bare: {service_text == bare_text}")
    if details:
        print(f"eval set {EVAL}:")
        for d in details:
            print(
                f"  {d['audio']:<30} {d['language']} -> {d['detected']:<3} {d['metric']} {d['error_rate']:.3f}"
                f"  ({d['seconds']} s)"
            )
        lid = sum(d["language"] == d["detected"] for d in details)
        print(
            f"  mean WER over {sum(d['metric'] == 'wer' for d in details)} non-zh clips: {wer:.3f}; "
            f"language ID {lid}/{len(details)}"
        )
    else:
        print("eval set: not found (../shared/eval/asr), WER not measured")
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
