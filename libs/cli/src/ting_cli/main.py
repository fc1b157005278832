"""The ``ting`` command.

    ting transcribe FILE... [--language L] [--task transcribe|translate] [--format txt|json|srt|vtt|tsv]
                            [--word-timestamps] [--output-dir DIR] [--server HOST:PORT]
    ting models [--server HOST:PORT]
    ting stream FILE [--realtime | --speed X] [--format text|json]   (live results from an ASR server or,
                     [--translate LANG ...] [--gateway] [--no-save]   with these, a gateway's live session)
    ting serve asr|translate|summarize|separate|gateway [--host H] [--port N]
    ting up                                     (the whole local stack until Ctrl-C)
    ting process FILE / ting jobs create|get|list|watch|cancel   (through the gateway)
    ting translate / summarize / separate ...   (see `ting COMMAND --help`)

Errors print one line on stderr (``ting: error: ...``) and exit non-zero; never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from ting_cli import __version__

DEFAULT_SERVER = "127.0.0.1:50051"
EXIT_USAGE = 2
EXIT_FAILED = 1


class CliError(Exception):
    """An error the user can act on; printed as one line."""


def _add_transcribe(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ting_common.formats import FORMATS

    p = sub.add_parser(
        "transcribe",
        help="transcribe audio/video files through a Ting ASR server",
        description="Transcribe (or translate to English) audio and video files through a Ting ASR server.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="audio or video files (wav, mp3, m4a, ogg, webm, mp4, ...)")
    p.add_argument("--language", "-l", default="", help="language code (en, zh, es, ...); default: detect")
    p.add_argument(
        "--task",
        choices=("transcribe", "translate"),
        default="transcribe",
        help="transcribe in the spoken language, or translate into English",
    )
    p.add_argument("--format", "-f", choices=FORMATS, default="txt", help="output format (default: txt)")
    p.add_argument("--word-timestamps", action="store_true", help="return word-level times")
    p.add_argument("--diarize", action="store_true", help="label who speaks (S1, S2, ... in order of appearance)")
    p.add_argument(
        "--speakers", type=int, default=0, metavar="N", help="the number of speakers when known (implies --diarize)"
    )
    p.add_argument(
        "--output-dir",
        "-o",
        default=None,
        help="write FILE-STEM.FORMAT files here instead of printing to stdout",
    )
    p.add_argument(
        "--server",
        default=os.environ.get("TING_SERVER", DEFAULT_SERVER),
        help=f"ASR server address (default: $TING_SERVER or {DEFAULT_SERVER})",
    )
    p.add_argument("--model", default="", help="model name (see `ting models`); default: the server's")
    p.add_argument("--vad", action="store_true", help="skip silence with voice activity detection")
    p.add_argument("--beam-size", type=int, default=0, help="beam size 1..20 (default: server's, 5)")
    p.add_argument("--initial-prompt", default="", help="text that primes spelling and style")
    p.add_argument("--temperature", type=float, default=None, help="sampling temperature 0..1")
    p.add_argument("--timeout", type=float, default=None, help="give up after this many seconds per file")
    p.add_argument(
        "--progress",
        choices=("auto", "always", "never"),
        default="auto",
        help="progress bar on stderr (auto: for files over a minute on a terminal)",
    )


# Commands of the other services live in their own modules (ting_cli.<name>), each with
# `add_parsers(sub)`, `run_<name>(args) -> int` and `serve_<name>(host, port) -> int`.
SERVICE_COMMANDS = ("translate", "summarize", "separate", "gateway")
# The gateway module adds `process` and `jobs` (not a `gateway` command); both run through `run_gateway`.
GATEWAY_COMMANDS = ("process", "jobs")
# Client-only commands (ting_cli.<name> with `add_parsers(sub)` and `run_<name>(args)`, no service to serve).
CLIENT_COMMANDS = ("stream",)


def _service_modules() -> dict[str, ModuleType]:
    found: dict[str, ModuleType] = {}
    for name in SERVICE_COMMANDS:
        try:
            found[name] = importlib.import_module(f"ting_cli.{name}")
        except ModuleNotFoundError as exc:  # only a missing command module is skipped, not its bugs
            if exc.name != f"ting_cli.{name}":
                raise
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ting", description="Ting (听): self-hosted audio intelligence.")
    parser.add_argument("--version", action="version", version=f"ting {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_transcribe(sub)
    modules = _service_modules()
    for module in modules.values():
        module.add_parsers(sub)
    for name in CLIENT_COMMANDS:
        importlib.import_module(f"ting_cli.{name}").add_parsers(sub)

    from ting_cli.stack import add_up_parser

    add_up_parser(sub)

    m = sub.add_parser("models", help="list the models an ASR server can run")
    m.add_argument("--server", default=os.environ.get("TING_SERVER", DEFAULT_SERVER), help="ASR server address")

    s = sub.add_parser("serve", help="run a Ting service in the foreground")
    s.add_argument("service", choices=("asr", *modules), help="which service to run")
    s.add_argument("--host", default=None, help="interface to bind (default: $TING_<SVC>_HOST or 0.0.0.0)")
    s.add_argument("--port", type=int, default=None, help="port (default: $TING_<SVC>_PORT)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="ting: %(levelname)s: %(message)s")
    try:
        if args.command == "transcribe":
            from ting_cli.transcribe import run_transcribe

            return run_transcribe(args)
        if args.command == "models":
            from ting_cli.transcribe import run_models

            return run_models(args)
        if args.command == "serve":
            if args.port is not None and not 0 <= args.port <= 65535:
                raise CliError(f"--port must be 0..65535, got {args.port}")
            if args.service == "asr":
                return serve_asr(args.host, args.port)
            serve: Callable[[str | None, int | None], int] = getattr(
                _service_modules()[args.service], f"serve_{args.service}"
            )
            return serve(args.host, args.port)
        if args.command == "up":
            from ting_cli.stack import run_up

            return run_up(args)
        if args.command in GATEWAY_COMMANDS:
            from ting_cli.gateway import run_gateway

            return run_gateway(args)
        if args.command in CLIENT_COMMANDS:
            run_client: Callable[[argparse.Namespace], int] = getattr(
                importlib.import_module(f"ting_cli.{args.command}"), f"run_{args.command}"
            )
            return run_client(args)
        if args.command in SERVICE_COMMANDS:
            run: Callable[[argparse.Namespace], int] = getattr(_service_modules()[args.command], f"run_{args.command}")
            return run(args)
    except CliError as exc:
        print(f"ting: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("ting: interrupted", file=sys.stderr)
        return 130
    parser.error(f"unknown command {args.command}")
    return EXIT_USAGE  # pragma: no cover


def serve_service(package: str, settings_class: str, title: str, host: str | None, port: int | None) -> int:
    """`ting serve <svc>`: run ``package`` (``ting_<svc>``) in the foreground with its settings from the
    environment (``TING_<SVC>_*``) plus the --host/--port overrides."""
    try:
        service_main = importlib.import_module(f"{package}.__main__").main
        settings_type = getattr(importlib.import_module(f"{package}.config"), settings_class)
    except ImportError as exc:  # a client-only install
        raise CliError(f"the {title} service is not installed here (pip install {package.replace('_', '-')})") from exc
    overrides: dict[str, object] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    try:
        settings = settings_type(**overrides)
    except ValueError as exc:  # pydantic's ValidationError: show the first problem in one line
        raise CliError(f"invalid {title} settings: {str(exc).splitlines()[:3]}") from exc
    code: int = service_main(settings)
    return code


def serve_asr(host: str | None, port: int | None) -> int:
    """`ting serve asr`: run the ASR service in the foreground."""
    return serve_service("ting_asr", "AsrSettings", "ASR", host, port)


if __name__ == "__main__":
    sys.exit(main())
