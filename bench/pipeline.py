"""Gateway overhead: one recording through ``PipelineService.Process`` vs the sum of direct calls to each service.

The pipeline is transcribe → translate into English (Whisper's speech-translation task, a second ASR pass) and
summarize. Direct: ``AsrService.Recognize`` (transcribe), ``AsrService.Recognize`` (task TRANSLATE) and
``SummarizationService.Summarize`` one after the other, the audio sent as file bytes each time. Through the
gateway: one ``Process`` call with the same options (the gateway runs translation and summary in parallel, so the
ratio can fall below 1). Prints medians over ``--repeats`` runs and the ratio (target <= 1.10).

    python bench/pipeline.py [--audio FILE] [--repeats N] [--json]

With ``--json`` the last line is one JSON object: audio_s, gateway_s, direct_s, ratio, transcribe_s,
translate_s, summarize_s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import grpc

from ting.asr.v1 import asr_service_pb2 as asr_pb
from ting.asr.v1 import asr_service_pb2_grpc as asr_grpc
from ting.audio.v1 import audio_pb2
from ting.gateway.v1 import pipeline_service_pb2 as pb
from ting.gateway.v1 import pipeline_service_pb2_grpc as pb_grpc
from ting.summarization.v1 import summarization_service_pb2 as sum_pb
from ting.summarization.v1 import summarization_service_pb2_grpc as sum_grpc
from ting.translation.v1 import translation_service_pb2 as tr_pb
from ting_cli.stack import private_stack

ROOT = Path(__file__).resolve().parent.parent
OPTIONS = [("grpc.max_send_message_length", 256 << 20), ("grpc.max_receive_message_length", 256 << 20)]


def direct(addresses: dict[str, str], audio: bytes) -> tuple[float, float, float]:
    with (
        grpc.insecure_channel(addresses["asr"], options=OPTIONS) as asr_ch,
        grpc.insecure_channel(addresses["summarize"], options=OPTIONS) as sum_ch,
    ):
        asr = asr_grpc.AsrServiceStub(asr_ch)
        summarize = sum_grpc.SummarizationServiceStub(sum_ch)
        source = audio_pb2.AudioSource(content=audio)
        t0 = time.perf_counter()
        transcript = asr.Recognize(asr_pb.RecognizeRequest(config=asr_pb.RecognitionConfig(), audio=source))
        t1 = time.perf_counter()
        config = asr_pb.RecognitionConfig(task=asr_pb.TASK_TRANSLATE, language_code=transcript.transcript.language_code)
        asr.Recognize(asr_pb.RecognizeRequest(config=config, audio=source))
        t2 = time.perf_counter()
        summarize.Summarize(
            sum_pb.SummarizeRequest(
                config=sum_pb.SummaryConfig(),
                segments=transcript.transcript.segments,
                language_code=transcript.transcript.language_code,
            )
        )
        t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2


def through_gateway(address: str, audio: bytes) -> tuple[float, pb.ProcessResponse]:
    config = pb.PipelineConfig(
        translation=tr_pb.TranslationConfig(target_language_codes=["en"]), summary=sum_pb.SummaryConfig()
    )
    with grpc.insecure_channel(address, options=OPTIONS) as channel:
        t0 = time.perf_counter()
        response: pb.ProcessResponse = pb_grpc.PipelineServiceStub(channel).Process(
            pb.ProcessRequest(config=config, audio=audio_pb2.AudioSource(content=audio)), timeout=900
        )
        return time.perf_counter() - t0, response


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--audio", type=Path, default=ROOT / "samples" / "es_meeting.ogg")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print a JSON line last")
    args = parser.parse_args()
    audio = args.audio.read_bytes()
    print(f"starting the stack; audio {args.audio.name}", flush=True)
    with private_stack() as stack:
        addresses = {name: stack.address(name) for name in ("asr", "summarize", "gateway")}
        through_gateway(addresses["gateway"], audio)  # warm-up: first-call costs on every service
        gateway_runs: list[float] = []
        direct_runs: list[tuple[float, float, float]] = []
        response: pb.ProcessResponse | None = None
        for i in range(args.repeats):
            # Alternate the order so neither side always runs on a warmer machine.
            if i % 2:
                direct_runs.append(direct(addresses, audio))
                elapsed, response = through_gateway(addresses["gateway"], audio)
            else:
                elapsed, response = through_gateway(addresses["gateway"], audio)
                direct_runs.append(direct(addresses, audio))
            gateway_runs.append(elapsed)
            print(f"run {i + 1}: gateway {elapsed:.2f} s, direct {sum(direct_runs[-1]):.2f} s", flush=True)
    assert response is not None
    audio_s = response.audio_duration_ms / 1000
    failed = [pb.PipelineStage.Name(s.stage) for s in response.steps if s.state == pb.STEP_STATE_FAILED]
    gateway_s = statistics.median(gateway_runs)
    direct_s = statistics.median(sum(run) for run in direct_runs)
    parts = [statistics.median(run[i] for run in direct_runs) for i in range(3)]
    ratio = gateway_s / direct_s
    print(f"audio {audio_s:.1f} s; failed steps: {failed or 'none'}")
    print(
        f"direct calls (median): transcribe {parts[0]:.2f} s + translate {parts[1]:.2f} s + summarize {parts[2]:.2f} s"
    )
    print(f"sum of direct calls {direct_s:.2f} s; through the gateway {gateway_s:.2f} s")
    print(f"ratio gateway / direct = {ratio:.3f} (target <= 1.10)")
    if args.json:
        result: dict[str, Any] = {
            "audio_s": round(audio_s, 2),
            "gateway_s": round(gateway_s, 3),
            "direct_s": round(direct_s, 3),
            "ratio": round(ratio, 3),
            "transcribe_s": round(parts[0], 3),
            "translate_s": round(parts[1], 3),
            "summarize_s": round(parts[2], 3),
        }
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
