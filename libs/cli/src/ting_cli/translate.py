"""``ting translate`` and ``ting serve translate``: subtitle and text translation through a Ting translation server.

    ting translate FILE(.srt|.vtt|.txt) --to LANG[,LANG2] [--from LANG] [--output-dir DIR] [--server HOST:PORT]

One target without ``--output-dir`` prints to stdout; otherwise each target is written as ``STEM.LANG.EXT``
in ``--output-dir`` (or next to FILE). A ``.txt`` file is translated paragraph by paragraph (blank-line
separated), so its layout survives. Errors are one line (``ting: error: ...``), exit status 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import grpc

from ting_cli.main import CliError, serve_service
from ting_cli.rpc import describe_rpc_error, open_channel

DEFAULT_TRANSLATE_SERVER = "127.0.0.1:50052"
SUFFIXES = (".srt", ".vtt", ".txt")
MAX_MESSAGE = 64 * 1024 * 1024

__all__ = ["add_parsers", "run_translate", "serve_translate"]


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``translate`` subcommand."""
    p = sub.add_parser(
        "translate",
        help="translate subtitles (.srt, .vtt) or text (.txt) through a Ting translation server",
        description="Translate subtitles or text, keeping every cue's number, timing, speaker and markup.",
    )
    p.add_argument("file", metavar="FILE", help="an .srt, .vtt or .txt file (UTF-8)")
    p.add_argument("--to", "-t", required=True, help="target language code(s), comma-separated: es or es,fr,zh")
    p.add_argument("--from", "-f", dest="source", default="", help="source language code (default: detect)")
    p.add_argument("--output-dir", "-o", default=None, help="write STEM.LANG.EXT files here instead of stdout")
    p.add_argument(
        "--server",
        default=os.environ.get("TING_TRANSLATE_SERVER", DEFAULT_TRANSLATE_SERVER),
        help=f"translation server (default: $TING_TRANSLATE_SERVER or {DEFAULT_TRANSLATE_SERVER})",
    )
    p.add_argument("--engine", default="", help="engine name (see the server's ListEngines); default: the server's")
    p.add_argument("--format", choices=("srt", "vtt"), default=None, help="subtitle output format (default: input's)")
    p.add_argument("--max-line-length", type=int, default=0, help="re-wrap cue lines (20..200; default: keep)")
    p.add_argument("--timeout", type=float, default=None, help="give up after this many seconds")


def _targets(value: str) -> list[str]:
    targets = [t.strip() for t in value.split(",") if t.strip()]
    if not targets:
        raise CliError("--to needs at least one language code, e.g. --to es or --to es,fr")
    return targets


def _write(outputs: dict[str, str], path: Path, suffix: str, out_dir: Path | None) -> None:
    if out_dir is None and len(outputs) == 1:
        text = next(iter(outputs.values()))
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
        return
    folder = out_dir if out_dir is not None else path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for lang, text in outputs.items():
            target = folder / f"{path.stem}.{lang}{suffix}"
            target.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
            print(f"{path} -> {target}", file=sys.stderr)
    except OSError as exc:
        raise CliError(f"cannot write to {folder}: {exc.strerror or exc}") from exc


def run_translate(args: argparse.Namespace) -> int:
    """``ting translate``: returns the exit status (errors raise :class:`CliError`)."""
    from ting.translation.v1 import translation_service_pb2 as pb
    from ting.translation.v1 import translation_service_pb2_grpc as pb_grpc

    path = Path(args.file)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise CliError(f"{path}: unsupported file type {suffix or '(none)'}; use .srt, .vtt or .txt")
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from exc
    config = pb.TranslationConfig(
        source_language_code=args.source, target_language_codes=_targets(args.to), engine=args.engine
    )
    outputs: dict[str, str] = {}
    out_suffix = suffix
    with open_channel(args.server, MAX_MESSAGE) as ch:
        stub = pb_grpc.TranslationServiceStub(ch)
        try:
            if suffix == ".txt":
                try:
                    text = content.decode("utf-8-sig")
                except UnicodeDecodeError as exc:
                    raise CliError(f"{path}: not UTF-8 text") from exc
                paragraphs = text.replace("\r\n", "\n").split("\n\n")
                reply = stub.TranslateText(
                    pb.TranslateTextRequest(texts=paragraphs, config=config), timeout=args.timeout
                )
                for target in reply.translations:
                    outputs[target.target_language_code] = "\n\n".join(t.text for t in target.translations)
            else:
                fmt = {"srt": pb.SUBTITLE_FORMAT_SRT, "vtt": pb.SUBTITLE_FORMAT_VTT}.get(args.format or "", 0)
                out_suffix = f".{args.format}" if args.format else suffix
                subtitles = stub.TranslateSubtitles(
                    pb.TranslateSubtitlesRequest(
                        document=pb.SubtitleDocument(content=content),
                        config=config,
                        output_format=fmt,  # type: ignore[arg-type]
                        max_line_length=args.max_line_length,
                    ),
                    timeout=args.timeout,
                )
                for result in subtitles.translations:
                    outputs[result.target_language_code] = result.document.content.decode("utf-8")
                    missing = list(result.report.untranslated_cue_indices)
                    if missing:
                        print(
                            f"ting: warning: {result.target_language_code}: cues {missing} kept their source text",
                            file=sys.stderr,
                        )
        except grpc.RpcError as exc:
            raise CliError(
                f"{path}: {describe_rpc_error(exc, args.server, title='translation', service='translate')}"
            ) from exc
    _write(outputs, path, out_suffix, Path(args.output_dir) if args.output_dir else None)
    return 0


def serve_translate(host: str | None, port: int | None) -> int:
    """``ting serve translate``: run the translation service in the foreground (TING_TRANSLATE_* plus overrides)."""
    return serve_service("ting_translate", "TranslateSettings", "translation", host, port)
