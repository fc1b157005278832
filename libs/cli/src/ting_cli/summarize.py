"""``ting summarize TRANSCRIPT.json`` and ``ting serve summarize``.

TRANSCRIPT.json is what ``ting transcribe --format json`` prints (``{"language", "duration", "text",
"segments": [{"id", "start", "end", "text", "speaker"?}]}``, times in seconds); segments without ids
are numbered. Speaker names come from ``--speaker A=Maria`` or, when the file has one, a top-level
``speakers`` map (``{"A": "Maria"}`` or ``{"A": {"name": "Maria"}}``, also under ``reference``).
The summary is printed as JSON with times in seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import grpc

from ting.audio.v1 import audio_pb2
from ting.summarization.v1 import summarization_service_pb2 as pb
from ting.summarization.v1 import summarization_service_pb2_grpc as pb_grpc
from ting_cli.main import CliError, serve_service
from ting_cli.rpc import describe_rpc_error, open_channel

DEFAULT_SUMMARIZE_SERVER = "127.0.0.1:50053"
PARTS = {
    "overview": pb.SUMMARY_PART_OVERVIEW,
    "key_points": pb.SUMMARY_PART_KEY_POINTS,
    "chapters": pb.SUMMARY_PART_CHAPTERS,
    "action_items": pb.SUMMARY_PART_ACTION_ITEMS,
    "keywords": pb.SUMMARY_PART_KEYWORDS,
    "questions": pb.SUMMARY_PART_QUESTIONS_ANSWERS,
    "speakers": pb.SUMMARY_PART_SPEAKER_SUMMARIES,
}
LENGTHS = {"short": pb.SUMMARY_LENGTH_SHORT, "medium": pb.SUMMARY_LENGTH_MEDIUM, "long": pb.SUMMARY_LENGTH_LONG}


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``summarize`` command."""
    p = sub.add_parser(
        "summarize",
        help="summarize a transcript through a Ting summarization server",
        description=(
            "Summarize a transcript (the JSON of `ting transcribe --format json`) into an overview, key points, "
            "chapters, action items and keywords, printed as JSON."
        ),
    )
    p.add_argument("transcript", metavar="TRANSCRIPT.json", help="transcript JSON file, or - for stdin")
    p.add_argument(
        "--server",
        default=os.environ.get("TING_SUMMARIZE_SERVER", DEFAULT_SUMMARIZE_SERVER),
        help=f"summarization server (default: $TING_SUMMARIZE_SERVER or {DEFAULT_SUMMARIZE_SERVER})",
    )
    p.add_argument("--language", "-l", default="", help="transcript language (en, zh, ...); default: the file's")
    p.add_argument(
        "--parts",
        nargs="+",
        choices=sorted(PARTS),
        default=["overview", "key_points", "chapters", "action_items", "keywords"],
        help="parts to produce (default: overview key_points chapters action_items keywords)",
    )
    p.add_argument("--length", choices=sorted(LENGTHS), default="medium", help="length of the written parts")
    p.add_argument("--engine", default="", help="engine name (default: the server's)")
    p.add_argument("--max-keywords", type=int, default=0, help="1..50 (default 10)")
    p.add_argument("--max-chapters", type=int, default=0, help="1..100 (default: decided from the content)")
    p.add_argument("--reference-date", default="", help="recording date (YYYY-MM-DD) to resolve due dates")
    p.add_argument("--title", default="", help="title of the recording")
    p.add_argument(
        "--speaker",
        action="append",
        default=[],
        metavar="LABEL=NAME",
        help="name of a diarization label (repeatable): --speaker A=Maria",
    )
    p.add_argument("--timeout", type=float, default=None, help="give up after this many seconds")


def _read(path: str) -> dict[str, Any]:
    try:
        raw = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise CliError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise CliError(f"{path}: is a directory") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{path}: cannot read ({exc})") from exc
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CliError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("segments"), list):
        raise CliError(f"{path}: expected a transcript object with a 'segments' list (ting transcribe --format json)")
    return data


def _segments(data: dict[str, Any], path: str) -> list[audio_pb2.Segment]:
    segments: list[audio_pb2.Segment] = []
    for i, seg in enumerate(data["segments"]):
        if not isinstance(seg, dict) or not isinstance(seg.get("text", ""), str):
            raise CliError(f"{path}: segment {i} is not an object with a text")
        try:
            start = float(seg.get("start") or 0.0)
            end = float(seg.get("end") or start)
            seg_id = int(seg.get("id", i))
        except (TypeError, ValueError) as exc:
            raise CliError(f"{path}: segment {i} has a non-numeric id/start/end") from exc
        segments.append(
            audio_pb2.Segment(
                id=seg_id,
                start_ms=round(start * 1000),
                end_ms=round(end * 1000),
                text=seg.get("text", ""),
                speaker=str(seg.get("speaker", "") or ""),
            )
        )
    return segments


def _speaker_names(data: dict[str, Any], pairs: list[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for source in (data.get("speakers"), (data.get("reference") or {}).get("speakers")):
        if isinstance(source, dict):
            for label, value in source.items():
                name = value.get("name", "") if isinstance(value, dict) else value
                if isinstance(name, str) and name and str(label) not in names:
                    names[str(label)] = name
    for pair in pairs:
        label, sep, name = pair.partition("=")
        if not sep or not label.strip() or not name.strip():
            raise CliError(f"--speaker wants LABEL=NAME, got {pair!r}")
        names[label.strip()] = name.strip()
    return names


def build_request(args: argparse.Namespace) -> pb.SummarizeRequest:
    """The request for ``args`` (reads the transcript file)."""
    data = _read(args.transcript)
    segments = _segments(data, args.transcript)
    if not segments:
        raise CliError(f"{args.transcript}: the transcript has no segments")
    language = args.language or (data.get("language") if isinstance(data.get("language"), str) else "") or ""
    config = pb.SummaryConfig(
        parts=[PARTS[p] for p in dict.fromkeys(args.parts)],
        length=LENGTHS[args.length],
        engine=args.engine,
        title=args.title,
        speaker_names=_speaker_names(data, args.speaker),
        reference_date=args.reference_date,
        max_keywords=args.max_keywords,
        max_chapters=args.max_chapters,
    )
    return pb.SummarizeRequest(config=config, segments=segments, language_code=language)


def _seconds(ms: int) -> float:
    return round(ms / 1000, 3)


def response_to_json(reply: pb.SummarizeResponse) -> dict[str, Any]:
    """The printed JSON: times in seconds; ``keywords`` as plain strings (scores in ``keyword_scores``)."""
    s = reply.summary
    return {
        "language": s.language_code or reply.source_language_code,
        "engine": reply.engine,
        "model": reply.model,
        "overview": s.overview,
        "key_points": [
            {
                "text": k.text,
                "start": _seconds(k.start_ms),
                "end": _seconds(k.end_ms),
                "segment_ids": list(k.segment_ids),
            }
            for k in s.key_points
        ],
        "chapters": [
            {"title": c.title, "start": _seconds(c.start_ms), "end": _seconds(c.end_ms), "summary": c.summary}
            for c in s.chapters
        ],
        "action_items": [
            {
                "text": a.text,
                "owner": a.owner,
                "due": a.due,
                "due_date": a.due_date,
                "speaker": a.speaker,
                "start": _seconds(a.start_ms),
            }
            for a in s.action_items
        ],
        "keywords": [k.text for k in s.keywords],
        "keyword_scores": {k.text: round(k.score, 4) for k in s.keywords},
        "questions_answers": [
            {"question": q.question, "answer": q.answer, "start": _seconds(q.start_ms)} for q in s.questions_answers
        ],
        "speaker_summaries": [
            {
                "speaker": p.speaker,
                "name": p.name,
                "summary": p.summary,
                "talk_time": _seconds(p.talk_time_ms),
                "turns": p.turn_count,
            }
            for p in s.speaker_summaries
        ],
        "processing_ms": reply.processing_ms,
    }


def run_summarize(args: argparse.Namespace) -> int:
    """``ting summarize``: print the summary of a transcript file as JSON."""
    if not 0 <= args.max_keywords <= 50:
        raise CliError(f"--max-keywords must be 1..50, got {args.max_keywords}")
    if not 0 <= args.max_chapters <= 100:
        raise CliError(f"--max-chapters must be 1..100, got {args.max_chapters}")
    request = build_request(args)
    with open_channel(args.server) as channel:
        stub = pb_grpc.SummarizationServiceStub(channel)
        try:
            reply = stub.Summarize(request, timeout=args.timeout, metadata=(("x-request-id", uuid.uuid4().hex),))
        except grpc.RpcError as exc:
            raise CliError(describe_rpc_error(exc, args.server, title="summarization", service="summarize")) from exc
    json.dump(response_to_json(reply), sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0


def serve_summarize(host: str | None, port: int | None) -> int:
    """``ting serve summarize``: run the summarization service in the foreground (TING_SUMMARIZE_* plus overrides)."""
    return serve_service("ting_summarize", "SummarizeSettings", "summarization", host, port)
