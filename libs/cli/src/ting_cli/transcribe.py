"""``ting transcribe`` and ``ting models``: gRPC calls to an ASR server with a progress bar."""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path

import grpc

from ting.asr.v1 import asr_service_pb2 as asr_pb2
from ting.asr.v1 import asr_service_pb2_grpc as asr_grpc
from ting.audio.v1 import audio_pb2
from ting_cli.main import CliError
from ting_cli.rpc import describe_rpc_error, open_channel, want_progress
from ting_common.formats import format_transcript
from ting_common.transcript import Transcript
from ting_common.transcript_proto import transcript_from_proto

PROGRESS_MIN_SECONDS = 60.0


def build_config(args: argparse.Namespace) -> asr_pb2.RecognitionConfig:
    config = asr_pb2.RecognitionConfig(
        model=args.model,
        language_code=args.language,
        task=asr_pb2.TASK_TRANSLATE if args.task == "translate" else asr_pb2.TASK_TRANSCRIBE,
        enable_word_time_offsets=args.word_timestamps,
        enable_vad_filter=args.vad,
        beam_size=args.beam_size,
        initial_prompt=args.initial_prompt,
    )
    if args.temperature is not None:
        config.temperature = args.temperature
    if getattr(args, "diarize", False) or getattr(args, "speakers", 0):
        config.diarization.enable_speaker_diarization = True
        config.diarization.speaker_count = args.speakers or 0
    return config


def transcribe_file(stub: asr_grpc.AsrServiceStub, path: Path, args: argparse.Namespace) -> Transcript:
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise CliError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise CliError(f"{path}: is a directory") from exc
    except OSError as exc:
        raise CliError(f"{path}: cannot read ({exc.strerror})") from exc
    request = asr_pb2.LongRunningRecognizeRequest(config=build_config(args), audio=audio_pb2.AudioSource(content=data))
    metadata = (("x-request-id", uuid.uuid4().hex),)
    bar = None
    try:
        for message in stub.LongRunningRecognize(request, timeout=args.timeout, metadata=metadata):
            if message.HasField("progress"):
                prog = message.progress
                if bar is None and want_progress(args.progress, prog.duration_ms / 1000, PROGRESS_MIN_SECONDS):
                    from tqdm import tqdm

                    bar = tqdm(
                        total=round(prog.duration_ms / 1000, 1),
                        unit="s",
                        desc=path.name,
                        file=sys.stderr,
                        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}]",
                    )
                if bar is not None:
                    bar.update(round(prog.processed_ms / 1000, 1) - bar.n)
            else:
                result = message.result
                if bar is not None:
                    bar.update(bar.total - bar.n)
                return transcript_from_proto(result.transcript, args.task, result.metadata.model)
    except grpc.RpcError as exc:
        raise CliError(f"{path}: " + describe_rpc_error(exc, args.server, title="ASR", service="asr")) from exc
    finally:
        if bar is not None:
            bar.close()
    raise CliError(f"{path}: the server closed the stream without a result")


def run_transcribe(args: argparse.Namespace) -> int:
    out_dir = Path(args.output_dir) if args.output_dir else None
    if out_dir is not None:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CliError(f"cannot create output directory {out_dir}: {exc.strerror}") from exc
    failures = 0
    with open_channel(args.server) as ch:
        stub = asr_grpc.AsrServiceStub(ch)
        for name in args.files:
            path = Path(name)
            try:
                transcript = transcribe_file(stub, path, args)
            except CliError as exc:
                print(f"ting: error: {exc}", file=sys.stderr)
                failures += 1
                if _is_unreachable(exc):
                    break
                continue
            text = format_transcript(transcript, args.format)
            if out_dir is not None:
                target = out_dir / f"{path.stem}.{args.format}"
                target.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
                print(f"{path} -> {target}", file=sys.stderr)
            else:
                sys.stdout.write(text if text.endswith("\n") else text + "\n")
                sys.stdout.flush()
    return 1 if failures else 0


def _is_unreachable(exc: CliError) -> bool:
    return "cannot reach the ASR server" in str(exc)


def run_models(args: argparse.Namespace) -> int:
    with open_channel(args.server) as ch:
        stub = asr_grpc.AsrServiceStub(ch)
        try:
            response = stub.ListModels(asr_pb2.ListModelsRequest(), timeout=10)
        except grpc.RpcError as exc:
            raise CliError(describe_rpc_error(exc, args.server, title="ASR", service="asr")) from exc
    for m in response.models:
        flags = ",".join(f for f, on in (("default", m.default), ("loaded", m.loaded)) if on)
        langs = "multilingual" if m.multilingual else "/".join(m.language_codes)
        print(f"{m.name:<10} {langs:<13} {m.engine}/{m.device}/{m.compute_type:<8} {flags:<15} {m.description}")
    return 0
