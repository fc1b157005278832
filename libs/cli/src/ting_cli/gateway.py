"""``ting process``, ``ting jobs ...`` and ``ting serve gateway``: the pipeline of a Ting gateway
(``ting.gateway.v1.PipelineService``: transcribe -> translate / summarize -> render) from the command line.

    ting process FILE [--translate LANG ...] [--summarize] [--separate] [--format txt|json|srt|vtt|tsv]
                      [--output-dir DIR]
    ting jobs create FILE [pipeline options] [--name NAME] [--label K=V ...] [--request-id ID] [--watch]
    ting jobs get ID [--format txt|json]
    ting jobs list [--state STATE ...] [--label K[=V] ...] [--limit N]
    ting jobs watch ID
    ting jobs cancel ID

Every command takes ``--server`` (``$TING_GATEWAY_ADDRESS``, default 127.0.0.1:50050) and ``--api-key``
(``$TING_API_KEY``, sent as ``authorization: Bearer KEY``). The gateway renders every text output (transcript,
translations, summary): the CLI prints the files it returns and never imports the gateway's code. JSON output is
the proto3 JSON of the response with audio and file bytes left out (their ``sizeBytes`` stay); ``--output-dir``
saves them. ``jobs watch`` exits 0 on SUCCEEDED, 3 on PARTIALLY_SUCCEEDED and 1 on FAILED or CANCELLED.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from ting.asr.v1 import asr_service_pb2 as asr_pb
from ting.audio.v1 import audio_pb2
from ting.gateway.v1 import pipeline_service_pb2 as pb
from ting.gateway.v1 import pipeline_service_pb2_grpc as pb_grpc
from ting.separation.v1 import separation_service_pb2 as sep_pb
from ting.summarization.v1 import summarization_service_pb2 as sum_pb
from ting.translation.v1 import translation_service_pb2 as tr_pb
from ting_cli.main import CliError, serve_service
from ting_cli.rpc import call_metadata, describe_rpc_error, open_channel, want_progress

__all__ = ["EXIT_PARTIAL", "add_parsers", "run_gateway", "serve_gateway"]

DEFAULT_GATEWAY = "127.0.0.1:50050"
MAX_MESSAGE = 512 * 1024 * 1024  # inline audio in, inline stems out
EXIT_PARTIAL = 3
UNARY_TIMEOUT_S = 30.0
FORMATS: dict[str, pb.TranscriptFormat] = {
    "txt": pb.TRANSCRIPT_FORMAT_TXT,
    "json": pb.TRANSCRIPT_FORMAT_JSON,
    "srt": pb.TRANSCRIPT_FORMAT_SRT,
    "vtt": pb.TRANSCRIPT_FORMAT_VTT,
    "tsv": pb.TRANSCRIPT_FORMAT_TSV,
}
STATES: dict[str, pb.JobState] = {
    "queued": pb.JOB_STATE_QUEUED,
    "running": pb.JOB_STATE_RUNNING,
    "cancelling": pb.JOB_STATE_CANCELLING,
    "succeeded": pb.JOB_STATE_SUCCEEDED,
    "partially_succeeded": pb.JOB_STATE_PARTIALLY_SUCCEEDED,
    "failed": pb.JOB_STATE_FAILED,
    "cancelled": pb.JOB_STATE_CANCELLED,
}
FINAL_STATES = frozenset(
    {pb.JOB_STATE_SUCCEEDED, pb.JOB_STATE_PARTIALLY_SUCCEEDED, pb.JOB_STATE_FAILED, pb.JOB_STATE_CANCELLED}
)
STATUS_NAMES = {code.value[0]: code.name for code in grpc.StatusCode}
STEM_EXTENSIONS = {sep_pb.OUTPUT_AUDIO_FORMAT_FLAC: "flac"}


# -- parsers -------------------------------------------------------------------------------------------------


def _connection_options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument(
        "--server",
        default=os.environ.get("TING_GATEWAY_ADDRESS", DEFAULT_GATEWAY),
        help=f"gateway address (default: $TING_GATEWAY_ADDRESS or {DEFAULT_GATEWAY})",
    )
    p.add_argument(
        "--api-key",
        default=os.environ.get("TING_API_KEY", ""),
        help="API key, sent as `authorization: Bearer KEY` (default: $TING_API_KEY)",
    )
    p.add_argument("--timeout", type=float, default=None, help="give up after this many seconds")
    return p


def _pipeline_options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("file", metavar="FILE", help="audio or video file (wav, mp3, m4a, ogg, webm, mp4, ...), - for stdin")
    p.add_argument(
        "--translate",
        "-t",
        action="append",
        default=[],
        metavar="LANG",
        help="translate the transcript into LANG (repeatable, or comma-separated: de,fr)",
    )
    p.add_argument(
        "--english-from-text",
        action="store_true",
        help="make an English translation by text translation instead of a speech-translation pass",
    )
    p.add_argument("--summarize", "-s", action="store_true", help="summarize the transcript")
    p.add_argument("--separate", action="store_true", help="separate stems (vocals, accompaniment)")
    p.add_argument("--language", "-l", default="", help="spoken language (en, es, zh, ...); default: detect")
    p.add_argument("--model", default="", help="ASR model name (see `ting models`); default: the gateway's")
    p.add_argument(
        "--task",
        choices=("transcribe", "translate"),
        default="transcribe",
        help="transcribe in the spoken language, or make the transcript English",
    )
    p.add_argument(
        "--speaker",
        action="append",
        default=[],
        metavar="LABEL=NAME",
        help="name of a diarization label, used in outputs and the summary (repeatable): --speaker S1=Maria",
    )
    p.add_argument("--diarize", action="store_true", help="label who speaks (S1, S2, ... in order of appearance)")
    p.add_argument(
        "--speakers", type=int, default=0, metavar="N", help="the number of speakers when known (implies --diarize)"
    )
    return p


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``process`` and ``jobs`` commands."""
    connection = _connection_options()
    pipeline = _pipeline_options()

    p = sub.add_parser(
        "process",
        parents=[pipeline, connection],
        help="transcribe, translate and summarize a short recording through a Ting gateway",
        description=(
            "Run the gateway's pipeline over a short recording (up to the gateway's limit, 10 minutes by default) "
            "and print the result; use `ting jobs create` for long audio."
        ),
    )
    p.add_argument(
        "--format",
        "-f",
        choices=tuple(FORMATS),
        default="txt",
        help="txt: transcript, translations and summary as text; json: the whole result; srt|vtt|tsv: the "
        "transcript (default: txt)",
    )
    p.add_argument(
        "--output-dir",
        "-o",
        default=None,
        help="also write every rendered file (all formats of the transcript and translations, the summary) and "
        "the stems here",
    )

    jobs = sub.add_parser(
        "jobs",
        help="background jobs on a Ting gateway (create, get, list, watch, cancel)",
        description="Run the gateway's pipeline in the background: long audio, progress, stored results.",
    )
    actions = jobs.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")

    create = actions.add_parser(
        "create",
        parents=[pipeline, connection],
        help="create a job; prints its id",
        description="Create a job over FILE (uploaded to the gateway) and print its id, or follow it with --watch.",
    )
    create.add_argument(
        "--formats",
        default="txt,json,srt,vtt,tsv",
        help="comma-separated formats to render the transcript and translations in (default: all)",
    )
    create.add_argument("--name", default="", help="a human-readable name for the job")
    create.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a label to filter jobs by (repeatable; lowercase letters, digits, _ and -)",
    )
    create.add_argument("--request-id", default="", help="idempotency key: a retry with the same key returns the job")
    create.add_argument("--watch", "-w", action="store_true", help="follow the job until it finishes (as `jobs watch`)")
    _add_progress(create)

    get = actions.add_parser(
        "get", parents=[connection], help="show a job", description="Show a job's state, steps and artifacts."
    )
    get.add_argument("job_id", metavar="ID", help="the job's id")
    get.add_argument(
        "--format", "-f", choices=("txt", "json"), default="txt", help="readable text or proto3 JSON (default: txt)"
    )

    listing = actions.add_parser(
        "list", parents=[connection], help="list jobs, newest first", description="List jobs, newest first."
    )
    listing.add_argument(
        "--state",
        action="append",
        default=[],
        choices=tuple(STATES),
        help="only jobs in this state (repeatable)",
    )
    listing.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="KEY[=VALUE]",
        help="only jobs with this label (repeatable; KEY alone matches any value)",
    )
    listing.add_argument("--limit", "-n", type=int, default=50, help="show at most N jobs (default: 50)")

    watch = actions.add_parser(
        "watch",
        parents=[connection],
        help="follow a job until it finishes",
        description="Follow a job with a progress bar; exit 0 on SUCCEEDED, 3 on PARTIALLY_SUCCEEDED, 1 otherwise.",
    )
    watch.add_argument("job_id", metavar="ID", help="the job's id")
    _add_progress(watch)

    cancel = actions.add_parser(
        "cancel", parents=[connection], help="cancel a job", description="Cancel a queued or running job."
    )
    cancel.add_argument("job_id", metavar="ID", help="the job's id")

    rename = actions.add_parser(
        "rename",
        parents=[connection],
        help="name a finished job's speakers",
        description="Name a finished job's speakers (S1=Alice S2=Bob; S1= removes a name); its subtitles, text "
        "and JSON are written again with the names.",
    )
    rename.add_argument("job_id", metavar="ID", help="the job's id")
    rename.add_argument("names", nargs="+", metavar="LABEL=NAME", help="a speaker label and its name")


def _add_progress(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--progress",
        choices=("auto", "always", "never"),
        default="auto",
        help="progress bar on stderr (auto: on a terminal; otherwise one line per change of stage)",
    )


# -- requests ------------------------------------------------------------------------------------------------


def _read_audio(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    path = Path(name)
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise CliError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise CliError(f"{path}: is a directory") from exc
    except OSError as exc:
        raise CliError(f"{path}: cannot read ({exc.strerror})") from exc


def _pairs(values: Sequence[str], option: str, *, value_required: bool) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not key.strip() or (value_required and not sep):
            want = "KEY=VALUE" if value_required else "KEY[=VALUE]"
            raise CliError(f"{option} wants {want}, got {item!r}")
        pairs[key.strip()] = value.strip()
    return pairs


def build_config(args: argparse.Namespace, formats: Sequence[pb.TranscriptFormat]) -> pb.PipelineConfig:
    """The pipeline of the ``process`` / ``jobs create`` options, rendering ``formats``."""
    config = pb.PipelineConfig(
        recognition=asr_pb.RecognitionConfig(
            model=args.model,
            language_code=args.language,
            task=asr_pb.TASK_TRANSLATE if args.task == "translate" else asr_pb.TASK_TRANSCRIBE,
        ),
        translate_english_from_text=args.english_from_text,
        output=pb.OutputOptions(formats=list(dict.fromkeys(formats))),
        speaker_names=_pairs(args.speaker, "--speaker", value_required=True),
    )
    if args.diarize or args.speakers:
        config.recognition.enable_word_time_offsets = True  # word times place speaker changes better
        config.recognition.diarization.enable_speaker_diarization = True
        config.recognition.diarization.speaker_count = max(0, args.speakers)
    targets = [lang.strip() for value in args.translate for lang in value.split(",") if lang.strip()]
    if args.translate and not targets:
        raise CliError("--translate needs a language code, e.g. --translate de")
    if targets:
        config.translation.CopyFrom(tr_pb.TranslationConfig(target_language_codes=list(dict.fromkeys(targets))))
    if args.summarize:
        config.summary.CopyFrom(sum_pb.SummaryConfig())
    if args.separate:
        config.separation.CopyFrom(sep_pb.SeparationConfig())
    return config


def _metadata(args: argparse.Namespace) -> tuple[tuple[str, str], ...]:
    return call_metadata(args.api_key)


def _rpc_error(exc: grpc.RpcError, args: argparse.Namespace) -> CliError:
    return CliError(describe_rpc_error(exc, args.server, title="gateway", service="gateway"))


# -- output helpers ------------------------------------------------------------------------------------------


def _state(state: int) -> str:
    return pb.JobState.Name(state).removeprefix("JOB_STATE_")


def _stage(stage: int) -> str:
    return pb.PipelineStage.Name(stage).removeprefix("PIPELINE_STAGE_").lower()


def _step_name(step: pb.StepStatus) -> str:
    return f"{_stage(step.stage)} ({step.language_code})" if step.language_code else _stage(step.stage)


def _error_text(error: pb.Status) -> str:
    return f"{error.message} [{STATUS_NAMES.get(error.code, str(error.code))}]"


def _time(ts: Timestamp) -> str:
    if not ts.seconds and not ts.nanos:
        return "-"
    return datetime.fromtimestamp(ts.seconds).strftime("%Y-%m-%d %H:%M:%S")


def _duration(ms: int) -> str:
    seconds = ms / 1000
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def _without_bytes(result: pb.PipelineResult) -> pb.PipelineResult:
    """A copy of ``result`` with inline stem and file contents dropped (their ``size_bytes`` stay)."""
    kept = pb.PipelineResult()
    kept.CopyFrom(result)
    for stem in kept.stems:
        if stem.WhichOneof("audio") == "content":
            stem.ClearField("content")
    for artifact in kept.artifacts:
        if artifact.WhichOneof("location") == "content":
            artifact.ClearField("content")
    return kept


def _print_json(message: Message) -> None:
    sys.stdout.write(json_format.MessageToJson(message, indent=2, ensure_ascii=False) + "\n")


def _print_text(text: str) -> None:
    sys.stdout.write(text if not text or text.endswith("\n") else text + "\n")


def _warn_failed_steps(steps: Sequence[pb.StepStatus], what: str) -> None:
    for step in steps:
        if step.state == pb.STEP_STATE_FAILED:
            print(f"ting: warning: {what}: step {_step_name(step)} failed: {_error_text(step.error)}", file=sys.stderr)
    print(f"ting: warning: {what} partially succeeded; the results lack the failed steps", file=sys.stderr)


# -- process -------------------------------------------------------------------------------------------------


def _artifact(result: pb.PipelineResult, kind: int, fmt: int, language: str = "") -> pb.Artifact | None:
    for artifact in result.artifacts:
        if artifact.kind == kind and artifact.format == fmt and (not language or artifact.language_code == language):
            return artifact
    return None


def _text_of(artifact: pb.Artifact | None, fallback: str) -> str:
    return artifact.content.decode("utf-8", errors="replace") if artifact is not None else fallback


def _print_txt(result: pb.PipelineResult) -> None:
    txt = pb.TRANSCRIPT_FORMAT_TXT
    _print_text(_text_of(_artifact(result, pb.ARTIFACT_KIND_TRANSCRIPT, txt), result.transcript.text))
    for translation in result.translations:
        lang = translation.language_code
        sys.stdout.write(f"\n== translation ({lang}) ==\n")
        _print_text(_text_of(_artifact(result, pb.ARTIFACT_KIND_TRANSLATION, txt, lang), translation.text))
    summary = _artifact(result, pb.ARTIFACT_KIND_SUMMARY, txt)
    if summary is not None or result.HasField("summary"):
        sys.stdout.write("\n== summary ==\n")
        _print_text(_text_of(summary, result.summary.overview))


def _save_outputs(result: pb.PipelineResult, out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for artifact in result.artifacts:
            target = out_dir / Path(artifact.filename).name
            target.write_bytes(artifact.content)
            print(f"-> {target}", file=sys.stderr)
        for stem in result.stems:
            name = sep_pb.Stem.Name(stem.stem).removeprefix("STEM_").lower()
            target = out_dir / f"{name}.{STEM_EXTENSIONS.get(stem.format, 'wav')}"
            target.write_bytes(stem.content)
            print(f"-> {target}", file=sys.stderr)
    except OSError as exc:
        raise CliError(f"cannot write to {out_dir}: {exc.strerror or exc}") from exc


def run_process(args: argparse.Namespace) -> int:
    """``ting process``: one ``Process`` call; prints the result in ``--format``."""
    out_dir = Path(args.output_dir) if args.output_dir else None
    chosen = FORMATS[args.format]
    if out_dir is not None:
        formats = list(FORMATS.values())
    elif chosen == pb.TRANSCRIPT_FORMAT_JSON:
        formats = []  # the structured result is the output
    else:
        formats = [chosen]
    request = pb.ProcessRequest(
        config=build_config(args, formats), audio=audio_pb2.AudioSource(content=_read_audio(args.file))
    )
    with open_channel(args.server, MAX_MESSAGE) as channel:
        try:
            response = pb_grpc.PipelineServiceStub(channel).Process(
                request, timeout=args.timeout, metadata=_metadata(args)
            )
        except grpc.RpcError as exc:
            raise _rpc_error(exc, args) from exc
    result = response.result
    if chosen == pb.TRANSCRIPT_FORMAT_JSON:
        shown = pb.ProcessResponse()
        shown.CopyFrom(response)
        shown.result.CopyFrom(_without_bytes(result))
        _print_json(shown)
    elif chosen == pb.TRANSCRIPT_FORMAT_TXT:
        _print_txt(result)
    else:
        _print_text(_text_of(_artifact(result, pb.ARTIFACT_KIND_TRANSCRIPT, chosen), ""))
        if result.translations and out_dir is None:
            langs = ", ".join(t.language_code for t in result.translations)
            print(f"ting: translations ({langs}) are not printed in {args.format}; use --output-dir", file=sys.stderr)
    sys.stdout.flush()
    if out_dir is not None:
        _save_outputs(result, out_dir)
    elif result.stems:
        print("ting: the stems were not saved; use --output-dir", file=sys.stderr)
    if response.state == pb.JOB_STATE_PARTIALLY_SUCCEEDED:
        _warn_failed_steps(response.steps, "the pipeline")
    return 0


# -- jobs ----------------------------------------------------------------------------------------------------


def _formats(text: str) -> list[pb.TranscriptFormat]:
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in FORMATS]
    if unknown:
        raise CliError(f"unknown format '{unknown[0]}'; choose from {', '.join(FORMATS)}")
    return [FORMATS[name] for name in names]


def _create(stub: pb_grpc.PipelineServiceStub, args: argparse.Namespace) -> int:
    request = pb.CreateJobRequest(
        config=build_config(args, _formats(args.formats)),
        audio=audio_pb2.AudioSource(content=_read_audio(args.file)),
        request_id=args.request_id,
        display_name=args.name,
        labels=_pairs(args.label, "--label", value_required=True),
    )
    job = stub.CreateJob(request, timeout=args.timeout, metadata=_metadata(args)).job
    if not args.watch:
        print(job.id)
        return 0
    print(f"ting: created job {job.id}", file=sys.stderr)
    return _watch(stub, job.id, args)


def _describe_job(job: pb.Job) -> Iterator[str]:
    """The lines of ``jobs get`` (txt)."""
    yield f"job       {job.id}" + (f"  ({job.display_name})" if job.display_name else "")
    stage = f", {_stage(job.stage)}" if job.stage else ""
    note = f" - {job.message}" if job.message else ""
    yield f"state     {_state(job.state)}{stage}, {job.progress * 100:.0f}%{note}"
    if job.HasField("error"):
        yield f"error     {_error_text(job.error)}"
    yield f"created   {_time(job.create_time)}   started {_time(job.start_time)}"
    if job.HasField("finish_time"):
        yield f"finished  {_time(job.finish_time)}"
    if job.audio_duration_ms:
        yield f"audio     {_duration(job.audio_duration_ms)}"
    if job.labels:
        yield "labels    " + " ".join(f"{k}={v}" for k, v in sorted(job.labels.items()))
    if job.input_uri:
        yield f"input     {job.input_uri}"
    if job.steps:
        yield "steps"
        width = max(len(_step_name(step)) for step in job.steps)
        for step in job.steps:
            state = pb.StepState.Name(step.state).removeprefix("STEP_STATE_").lower()
            if step.state == pb.STEP_STATE_RUNNING:
                state += f" {step.progress * 100:.0f}%"
            details = [f"{step.engine}/{step.model}" if step.model else step.engine, step.message]
            if step.HasField("error"):
                details.append(_error_text(step.error))
            extra = "   ".join(d for d in details if d)
            yield f"  {_step_name(step):<{width}}  {state:<11} {extra}".rstrip()
    yield from _describe_outputs(job.result)


def _describe_outputs(result: pb.PipelineResult) -> Iterator[str]:
    if result.artifacts:
        yield "artifacts"
        width = max(len(a.filename) for a in result.artifacts)
        for artifact in result.artifacts:
            yield f"  {artifact.filename:<{width}}  {artifact.url or artifact.uri}"
    for stem in result.stems:
        if stem.uri:
            yield f"stem      {sep_pb.Stem.Name(stem.stem).removeprefix('STEM_').lower()}  {stem.uri}"


def _get(stub: pb_grpc.PipelineServiceStub, args: argparse.Namespace) -> int:
    job = stub.GetJob(
        pb.GetJobRequest(job_id=args.job_id, view=pb.JOB_VIEW_FULL),
        timeout=args.timeout or UNARY_TIMEOUT_S,
        metadata=_metadata(args),
    ).job
    if args.format == "json":
        job.result.CopyFrom(_without_bytes(job.result))
        _print_json(job)
    else:
        for line in _describe_job(job):
            print(line)
    return 0


def _list(stub: pb_grpc.PipelineServiceStub, args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise CliError(f"--limit must be at least 1, got {args.limit}")
    job_filter = pb.JobFilter(
        states=[STATES[s] for s in dict.fromkeys(args.state)],
        labels=_pairs(args.label, "--label", value_required=False),
    )
    jobs: list[pb.Job] = []
    token = ""
    total = 0
    while len(jobs) < args.limit:
        page = stub.ListJobs(
            pb.ListJobsRequest(page_size=min(args.limit - len(jobs), 1000), page_token=token, filter=job_filter),
            timeout=args.timeout or UNARY_TIMEOUT_S,
            metadata=_metadata(args),
        )
        jobs.extend(page.jobs[: args.limit - len(jobs)])
        total = page.total_size
        token = page.next_page_token
        if not token or not page.jobs:
            break
    id_width = max([len("ID"), *(len(job.id) for job in jobs)])
    print(f"{'ID':<{id_width}}  {'STATE':<19}  {'PROGRESS':>8}  {'CREATED':<19}  NAME")
    for job in jobs:
        print(
            f"{job.id:<{id_width}}  {_state(job.state):<19}  {job.progress * 100:>7.0f}%  "
            f"{_time(job.create_time):<19}  {job.display_name}".rstrip()
        )
    if total > len(jobs):
        print(f"ting: showing {len(jobs)} of {total} jobs; use --limit to see more", file=sys.stderr)
    return 0


def _cancel(stub: pb_grpc.PipelineServiceStub, args: argparse.Namespace) -> int:
    job = stub.CancelJob(
        pb.CancelJobRequest(job_id=args.job_id), timeout=args.timeout or UNARY_TIMEOUT_S, metadata=_metadata(args)
    ).job
    note = ""
    if job.state == pb.JOB_STATE_CANCELLING:
        note = " (the running step is stopping; `ting jobs watch` follows it)"
    elif job.state in FINAL_STATES and job.state != pb.JOB_STATE_CANCELLED:
        note = " (already finished; nothing to cancel)"
    print(f"{job.id} {_state(job.state)}{note}")
    return 0


def _rename(stub: pb_grpc.PipelineServiceStub, args: argparse.Namespace) -> int:
    names: dict[str, str] = {}
    for pair in args.names:
        label, sep, name = pair.partition("=")
        if not sep or not label.strip():
            raise CliError(f"'{pair}' is not LABEL=NAME (e.g. S1=Alice; S1= removes the name)")
        names[label.strip()] = name.strip()
    job = stub.RenameSpeakers(
        pb.RenameSpeakersRequest(job_id=args.job_id, speaker_names=names),
        timeout=args.timeout or UNARY_TIMEOUT_S,
        metadata=_metadata(args),
    ).job
    shown = ", ".join(f"{label}={name}" for label, name in sorted(job.config.speaker_names.items())) or "none"
    print(f"{job.id} speakers: {shown}")
    for line in _describe_outputs(job.result):
        print(line)
    return 0


def _event_label(event: pb.JobEvent) -> str:
    label = _stage(event.stage) if event.stage else _state(event.state).lower()
    if event.state == pb.JOB_STATE_CANCELLING:
        label = "cancelling"
    if event.message.startswith(label):  # "transcribing 12:30 of 58:00"
        label = event.message
    elif event.message:
        label += f": {event.message}"
    return label if len(label) <= 48 else label[:47] + "…"


def _watch(stub: pb_grpc.PipelineServiceStub, job_id: str, args: argparse.Namespace) -> int:
    """Follow ``job_id`` to its end; prints the final state and artifacts, returns the exit code."""
    show_bar = want_progress(args.progress, 1.0, 0.0)
    bar: Any = None
    last = ""
    final: pb.Job | None = None
    try:
        for message in stub.WatchJob(pb.WatchJobRequest(job_id=job_id), timeout=args.timeout, metadata=_metadata(args)):
            event = message.event
            if event.HasField("job"):  # the last event; the stream ends after it (read to its end, not cut)
                final = event.job
                if bar is not None and final.state in (pb.JOB_STATE_SUCCEEDED, pb.JOB_STATE_PARTIALLY_SUCCEEDED):
                    bar.update(100 - bar.n)
                continue
            label = _event_label(event)
            percent = round(event.progress * 100)
            if show_bar:
                if bar is None:
                    from tqdm import tqdm

                    bar = tqdm(
                        total=100,
                        desc=label,
                        unit="%",
                        file=sys.stderr,
                        bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}]",
                    )
                bar.set_description_str(label, refresh=False)
                bar.update(max(0, percent - bar.n))
            elif label != last:
                print(f"ting: {job_id}: {label} ({percent}%)", file=sys.stderr)
            last = label
    except grpc.RpcError as exc:
        if final is None:  # an error after the last event changes nothing
            raise _rpc_error(exc, args) from exc
    finally:
        if bar is not None:
            bar.close()
    if final is None:
        raise CliError(f"the gateway ended the watch of job {job_id} before it finished; try `ting jobs watch` again")
    return _report_final(final)


def _report_final(job: pb.Job) -> int:
    took = ""
    if job.HasField("start_time") and job.HasField("finish_time"):
        seconds = job.finish_time.ToDatetime().timestamp() - job.start_time.ToDatetime().timestamp()
        took = f" in {seconds:.1f} s"
    audio = f" ({_duration(job.audio_duration_ms)} of audio)" if job.audio_duration_ms else ""
    print(f"{job.id} {_state(job.state)}{took}{audio}")
    for line in _describe_outputs(job.result):
        print(line)
    sys.stdout.flush()
    if job.state == pb.JOB_STATE_SUCCEEDED:
        return 0
    if job.state == pb.JOB_STATE_PARTIALLY_SUCCEEDED:
        _warn_failed_steps(job.steps, f"job {job.id}")
        return EXIT_PARTIAL
    if job.state == pb.JOB_STATE_FAILED:
        print(f"ting: error: job {job.id} failed: {_error_text(job.error)}", file=sys.stderr)
    return 1


def run_jobs(args: argparse.Namespace) -> int:
    """``ting jobs ACTION``."""
    actions = {"create": _create, "get": _get, "list": _list, "cancel": _cancel, "rename": _rename}
    with open_channel(args.server, MAX_MESSAGE) as channel:
        stub = pb_grpc.PipelineServiceStub(channel)
        try:
            if args.jobs_command == "watch":
                return _watch(stub, args.job_id, args)
            return actions[args.jobs_command](stub, args)
        except grpc.RpcError as exc:
            raise _rpc_error(exc, args) from exc


def run_gateway(args: argparse.Namespace) -> int:
    """``ting process`` or ``ting jobs ...``: returns the exit status (errors raise :class:`CliError`)."""
    if args.command == "process":
        return run_process(args)
    return run_jobs(args)


def serve_gateway(host: str | None, port: int | None) -> int:
    """``ting serve gateway``: run the gateway in the foreground (TING_GATEWAY_* plus overrides)."""
    return serve_service("ting_gateway", "GatewaySettings", "gateway", host, port)
