"""``ting separate`` and ``ting serve separate``: split audio into stems through a Ting separation server."""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import grpc

from ting.audio.v1 import audio_pb2
from ting.separation.v1 import separation_service_pb2 as pb
from ting.separation.v1 import separation_service_pb2_grpc as pb_grpc
from ting_cli.main import CliError, serve_service
from ting_cli.rpc import describe_rpc_error, open_channel, want_progress

DEFAULT_SEPARATE_SERVER = "127.0.0.1:50054"
MAX_MESSAGE = 512 * 1024 * 1024
PROGRESS_MIN_SECONDS = 30.0
STEMS: dict[str, pb.Stem] = {
    "vocals": pb.STEM_VOCALS,
    "accompaniment": pb.STEM_ACCOMPANIMENT,
    "drums": pb.STEM_DRUMS,
    "bass": pb.STEM_BASS,
    "other": pb.STEM_OTHER,
    "piano": pb.STEM_PIANO,
    "guitar": pb.STEM_GUITAR,
}
STEM_NAMES = {value: name for name, value in STEMS.items()}


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``separate`` subcommand."""
    p = sub.add_parser(
        "separate",
        help="split a song into stems (vocals, accompaniment, ...) through a Ting separation server",
        description="Split audio into stems; writes FILE-STEM.EXT per stem.",
    )
    p.add_argument("file", metavar="FILE", help="audio file (wav, flac, mp3, m4a, ogg, ...)")
    p.add_argument(
        "--stems", default="", help="comma-separated stems, e.g. vocals,accompaniment (default: the engine's)"
    )
    p.add_argument("--engine", default="", help="engine name (default: the server's)")
    p.add_argument("--format", "-f", choices=("wav", "flac"), default="wav", help="output format (default: wav)")
    p.add_argument("--output-dir", "-o", default=".", help="where to write the stems (default: .)")
    p.add_argument(
        "--bits", type=int, choices=(16, 24, 32), default=16, help="bits per sample (32: float, WAV only; default 16)"
    )
    p.add_argument(
        "--output-uri",
        default="",
        metavar="PREFIX",
        help="have the server write the stems to storage instead (s3://bucket/prefix/ or file:///dir/prefix under "
        "its storage root; needed for long audio) and print their URIs",
    )
    p.add_argument(
        "--server",
        default=os.environ.get("TING_SEPARATE_SERVER", DEFAULT_SEPARATE_SERVER),
        help=f"separation server address (default: $TING_SEPARATE_SERVER or {DEFAULT_SEPARATE_SERVER})",
    )
    p.add_argument("--timeout", type=float, default=None, help="give up after this many seconds")
    p.add_argument(
        "--progress",
        choices=("auto", "always", "never"),
        default="auto",
        help="progress bar on stderr (auto: for files over 30 s on a terminal)",
    )


def parse_stems(text: str) -> list[pb.Stem]:
    """``"vocals,accompaniment"`` -> proto stem values; raises :class:`CliError` for unknown names."""
    values: list[pb.Stem] = []
    for name in (part.strip().lower() for part in text.split(",")):
        if not name:
            continue
        if name not in STEMS:
            raise CliError(f"unknown stem '{name}'; choose from {', '.join(STEMS)}")
        values.append(STEMS[name])
    return values


def run_separate(args: argparse.Namespace) -> int:
    """Send FILE to the server with ``SeparateStream`` and write one file per stem (or print the URIs the server
    wrote them to, with ``--output-uri``)."""
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise CliError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise CliError(f"{path}: is a directory") from exc
    except OSError as exc:
        raise CliError(f"{path}: cannot read ({exc.strerror})") from exc
    out_dir = Path(args.output_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create output directory {out_dir}: {exc.strerror}") from exc
    fmt = pb.OUTPUT_AUDIO_FORMAT_FLAC if args.format == "flac" else pb.OUTPUT_AUDIO_FORMAT_WAV
    request = pb.SeparateStreamRequest(
        config=pb.SeparationConfig(
            stems=parse_stems(args.stems),
            engine=args.engine,
            output=pb.StemOutputConfig(
                format=fmt, bits_per_sample=getattr(args, "bits", 16), uri_prefix=getattr(args, "output_uri", "")
            ),
        ),
        audio=audio_pb2.AudioSource(content=data),
    )
    result: pb.SeparationResult | None = None
    bar: Any = None
    with open_channel(args.server, MAX_MESSAGE) as channel:
        stub = pb_grpc.SeparationServiceStub(channel)
        try:
            for message in stub.SeparateStream(
                request, timeout=args.timeout, metadata=(("x-request-id", uuid.uuid4().hex),)
            ):
                if message.HasField("result"):
                    result = message.result
                    if bar is not None:
                        bar.update(100 - bar.n)
                    break
                progress = message.progress
                if (
                    bar is None
                    and progress.duration_ms
                    and want_progress(args.progress, progress.duration_ms / 1000, PROGRESS_MIN_SECONDS)
                ):
                    from tqdm import tqdm

                    bar = tqdm(
                        total=100,
                        unit="%",
                        desc=path.name,
                        file=sys.stderr,
                        bar_format="{l_bar}{bar}| [{elapsed}<{remaining}]",
                    )
                if bar is not None:
                    bar.update(round(progress.progress * 100) - bar.n)
        except grpc.RpcError as exc:
            raise CliError(
                f"{path}: {describe_rpc_error(exc, args.server, title='separation', service='separate')}"
            ) from exc
        finally:
            if bar is not None:
                bar.close()
    if result is None:
        raise CliError(f"{path}: the server closed the stream without a result")
    for stem in result.stems:
        if stem.WhichOneof("audio") == "uri":
            print(f"{path} -> {stem.uri} ({stem.loudness.integrated_lufs:.1f} LUFS)", file=sys.stderr)
            continue
        target = out_dir / f"{path.stem}-{STEM_NAMES.get(stem.stem, 'stem')}.{args.format}"
        try:
            target.write_bytes(stem.content)
        except OSError as exc:
            raise CliError(f"cannot write {target}: {exc.strerror}") from exc
        print(f"{path} -> {target} ({stem.loudness.integrated_lufs:.1f} LUFS)", file=sys.stderr)
    return 0


def serve_separate(host: str | None, port: int | None) -> int:
    """``ting serve separate``: run the separation service in the foreground (TING_SEPARATE_* plus overrides)."""
    return serve_service("ting_separate", "SeparateSettings", "separation", host, port)
