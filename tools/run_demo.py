"""``make run``: bring up the whole local stack, run the bundled Spanish meeting through
transcribe → translate → summarize, print the results and the web page's URL, and keep serving until Ctrl-C.

Offline, the English translation comes from Whisper's speech-translation task (no LLM needed) and the summary
from the embedded extractive engine. With an LLM endpoint configured for the translation service
(``TING_TRANSLATE_LLM_BASE_URL`` + ``TING_TRANSLATE_LLM_MODEL``), the same command also translates into Chinese.
``--once`` stops the stack after the sample (the end-to-end test uses it).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import grpc

from ting.audio.v1 import audio_pb2
from ting.gateway.v1 import pipeline_service_pb2 as pb
from ting.gateway.v1 import pipeline_service_pb2_grpc as pb_grpc
from ting.summarization.v1 import summarization_service_pb2 as sum_pb
from ting.translation.v1 import translation_service_pb2 as tr_pb
from ting_cli.stack import SERVICES, Stack, running_stack, wait_for_signal
from ting_common.formats import format_timestamp
from ting_common.scoring import error_rate

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "es_meeting.ogg"
REFERENCE = ROOT / "samples" / "es_meeting.txt"


def _clock(ms: int) -> str:
    return format_timestamp(ms / 1000, always_hours=False, decimal_marker=".").rsplit(".", 1)[0]


def process_sample(stack: Stack, sample: Path, targets: list[str]) -> pb.ProcessResponse:
    """One ``Process`` call through the gateway."""
    config = pb.PipelineConfig(
        translation=tr_pb.TranslationConfig(target_language_codes=targets),
        summary=sum_pb.SummaryConfig(),
        output=pb.OutputOptions(formats=[pb.TRANSCRIPT_FORMAT_TXT]),
    )
    request = pb.ProcessRequest(config=config, audio=audio_pb2.AudioSource(content=sample.read_bytes()))
    with grpc.insecure_channel(stack.address("gateway")) as channel:
        response: pb.ProcessResponse = pb_grpc.PipelineServiceStub(channel).Process(request, timeout=900)
    return response


def print_result(response: pb.ProcessResponse, elapsed: float, sample: Path) -> None:
    result = response.result
    print(f"=== transcript of {sample.name} ({result.transcript.language_code}) ===")
    for segment in result.transcript.segments:
        print(f"[{_clock(segment.start_ms)}] {segment.text.strip()}")
    for translation in result.translations:
        method = pb.TranslationMethod.Name(translation.method).removeprefix("TRANSLATION_METHOD_").lower()
        print(f"\n=== translation into {translation.language_code} ({method}, {translation.engine}) ===")
        for cue in translation.cues:
            print(f"[{_clock(cue.start_ms)}] {cue.text.strip()}")
    summary = next((a for a in result.artifacts if a.kind == pb.ARTIFACT_KIND_SUMMARY), None)
    if summary is not None:
        print("\n=== summary ===")
        print(summary.content.decode().rstrip())
    failed = [s for s in response.steps if s.state == pb.STEP_STATE_FAILED]
    for step in failed:
        stage = pb.PipelineStage.Name(step.stage).removeprefix("PIPELINE_STAGE_").lower()
        print(f"\n! {stage} {step.language_code} failed: {step.error.message}", file=sys.stderr)
    duration = response.audio_duration_ms / 1000
    print(
        f"\naudio {duration:.1f} s processed in {elapsed:.1f} s ({duration / elapsed:.1f}x real time), "
        f"state {pb.JobState.Name(response.state).removeprefix('JOB_STATE_')}"
    )
    if sample == SAMPLE and REFERENCE.exists():
        wer = error_rate(REFERENCE.read_text(encoding="utf-8"), result.transcript.text, "es")
        print(f"word error rate against samples/{REFERENCE.name}: {wer:.1%}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--once", action="store_true", help="stop the stack after processing the sample")
    parser.add_argument("--file", default=str(SAMPLE), help="audio to process (default: the bundled sample)")
    args = parser.parse_args()

    targets = ["en"]
    if os.environ.get("TING_TRANSLATE_LLM_BASE_URL"):
        targets.append("zh")
    stack = Stack()
    print("starting the Ting stack (ASR, translation, summarization, separation, gateway) ...", flush=True)
    t0 = time.perf_counter()
    try:
        with running_stack(stack):
            print(f"ready in {time.perf_counter() - t0:.1f} s\n", flush=True)
            sample = Path(args.file)
            t1 = time.perf_counter()
            try:
                response = process_sample(stack, sample, targets)
            except grpc.RpcError as exc:
                print(f"make run: {exc.code().name}: {exc.details()}", file=sys.stderr)
                return 1
            print_result(response, time.perf_counter() - t1, sample)
            print(f"\nweb page: {stack.url}/   (REST API docs: {stack.url}/docs)")
            print(f"gateway gRPC: {stack.address('gateway')}", end="; ")
            print(", ".join(f"{spec.name} {stack.address(spec.name)}" for spec in SERVICES))
            if args.once:
                return 0
            print("The stack keeps serving. Press Ctrl-C to stop.", flush=True)
            return wait_for_signal(stack)
    except KeyboardInterrupt:
        return 130
    except RuntimeError as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return 1
    finally:
        print("Ting stack stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
