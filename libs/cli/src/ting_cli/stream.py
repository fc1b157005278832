"""``ting stream``: play an audio file into ``AsrService/StreamingRecognize`` and print results as they arrive.

    ting stream FILE [--realtime | --speed X] [--language L] [--task transcribe|translate]
                     [--interim | --no-interim] [--chunk-ms 100] [--format text|json] [--server HOST:PORT]

FILE (any format ``ting transcribe`` reads) is decoded to 16 kHz mono, converted to LINEAR16 and sent in
``--chunk-ms`` chunks after the streaming config. By default the chunks go out as fast as the server takes
them; ``--realtime`` paces them at real time and ``--speed X`` at X times real time.

``--format text``: each final prints as ``[mm:ss.s → mm:ss.s] text``. Interim results are shown when
``--interim`` is given or, by default, when stdout is a terminal: on a terminal they rewrite one line
(``\\r`` + clear) that the next final replaces; otherwise each prints as one ``~ text`` line.

``--format json``: one JSON object per line per server response. Results:
``{"type": "partial"|"final", "text", "start", "end", "stability", "utterance", "language"}`` (times in
seconds from the start of the stream; a partial's text is the whole hypothesis so far, its ``stability`` the
lowest of its parts and ``stable`` the prefix that is unlikely to change). Speech events:
``{"type": "speech_start"|"speech_end"|"end_of_utterance", "offset"}``. Partials are on by default
(``--no-interim`` drops them).

Errors are one line (``ting: error: ...``), exit status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ting_cli.main import DEFAULT_SERVER, CliError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ting.asr.v1 import asr_service_pb2 as asr_pb2

__all__ = ["add_parsers", "format_clock", "run_stream"]

SAMPLE_RATE = 16000
MIN_CHUNK_MS = 10
MAX_CHUNK_MS = 1000
CLEAR_LINE = "\r\x1b[K"
EVENT_TYPES = {1: "speech_start", 2: "speech_end", 3: "end_of_utterance"}


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``stream`` subcommand."""
    p = sub.add_parser(
        "stream",
        help="stream an audio file to an ASR server and print live (interim and final) results",
        description=(
            "Send an audio file to a Ting ASR server as a live stream (StreamingRecognize) and print the "
            "results as they arrive. Chunks go out as fast as possible unless --realtime or --speed is given."
        ),
    )
    p.add_argument("file", metavar="FILE", help="an audio or video file (wav, mp3, m4a, ogg, webm, mp4, ...)")
    pace = p.add_mutually_exclusive_group()
    pace.add_argument("--realtime", action="store_true", help="send the audio at real time (like a microphone)")
    pace.add_argument("--speed", type=float, default=None, metavar="X", help="send the audio at X times real time")
    p.add_argument("--language", "-l", default="", help="language code (en, zh, es, ...); default: detect")
    p.add_argument(
        "--task",
        choices=("transcribe", "translate"),
        default="transcribe",
        help="transcribe in the spoken language, or translate into English",
    )
    p.add_argument(
        "--interim",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show interim results (default: json always; text only when stdout is a terminal)",
    )
    p.add_argument(
        "--chunk-ms",
        type=int,
        default=100,
        metavar="MS",
        help=f"audio per request in milliseconds, {MIN_CHUNK_MS}..{MAX_CHUNK_MS} (default: 100)",
    )
    p.add_argument("--format", "-f", choices=("text", "json"), default="text", help="output format (default: text)")
    p.add_argument("--model", default="", help="model name (see `ting models`); default: the server's")
    p.add_argument(
        "--server",
        default=os.environ.get("TING_SERVER", DEFAULT_SERVER),
        help=f"ASR server address (default: $TING_SERVER or {DEFAULT_SERVER})",
    )


def format_clock(seconds: float) -> str:
    """``mm:ss.s`` (minutes keep counting past 59: ``75:03.2``)."""
    tenths = max(0, round(seconds * 10))
    minutes, tenths = divmod(tenths, 600)
    return f"{minutes:02d}:{tenths // 10:02d}.{tenths % 10}"


def _load_pcm16(path: Path) -> tuple[bytes, float]:
    if not path.exists():
        raise CliError(f"{path}: no such file")
    if path.is_dir():
        raise CliError(f"{path}: is a directory")
    import numpy as np

    from ting_common.audio import decode_audio
    from ting_common.errors import TingError

    try:
        audio = decode_audio(str(path), target_sample_rate=SAMPLE_RATE)
    except TingError as exc:
        raise CliError(f"{path}: {exc}") from exc
    except OSError as exc:
        raise CliError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    samples: npt.NDArray[np.float32] = audio.samples
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    return pcm, audio.duration_s


def _requests(
    config: asr_pb2.StreamingRecognizeRequest, pcm: bytes, chunk_ms: int, speed: float
) -> Iterator[asr_pb2.StreamingRecognizeRequest]:
    """The config, then ``chunk_ms`` chunks; with ``speed`` > 0 each chunk leaves no earlier than its audio time
    divided by ``speed`` (an absolute schedule, so slow sends do not accumulate drift)."""
    from ting.asr.v1 import asr_service_pb2 as asr_pb2

    yield config
    step = SAMPLE_RATE * 2 * chunk_ms // 1000
    start = time.monotonic()
    for pos in range(0, len(pcm), step):
        if speed > 0:
            due = start + (pos / (SAMPLE_RATE * 2)) / speed
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        yield asr_pb2.StreamingRecognizeRequest(audio_content=pcm[pos : pos + step])


class _Printer:
    """Writes responses as text or JSON lines; keeps track of a live (rewritable) interim line on a terminal."""

    def __init__(self, fmt: str, interim: bool, out: TextIO) -> None:
        self.fmt = fmt
        self.interim = interim
        self.out = out
        self.tty = out.isatty()
        self.live = False  # a rewritable interim line is on screen

    def clear(self) -> None:
        if self.live:
            self.out.write(CLEAR_LINE)
            self.out.flush()
            self.live = False

    def response(self, response: asr_pb2.StreamingRecognizeResponse) -> None:
        event = response.speech_event
        if self.fmt == "json" and response.HasField("speech_event") and event.type in EVENT_TYPES:
            self._json({"type": EVENT_TYPES[event.type], "offset": event.offset_ms / 1000})
        finals = [r for r in response.results if r.is_final]
        partials = [r for r in response.results if not r.is_final]
        if partials and self.interim:
            self._partial(partials)
        for result in finals:
            self._final(result)

    def _partial(self, parts: list[asr_pb2.StreamingRecognitionResult]) -> None:
        text = " ".join(r.text.strip() for r in parts if r.text.strip())
        first = parts[0]
        if self.fmt == "json":
            stable = " ".join(r.text.strip() for r in parts if r.stability >= 0.5 and r.text.strip())
            record = self._record("partial", first, text)
            record["end"] = max(r.end_ms for r in parts) / 1000
            record["stability"] = round(min(r.stability for r in parts), 3)
            record["stable"] = stable
            self._json(record)
        elif self.tty:
            width = shutil.get_terminal_size((80, 24)).columns
            line = f"{format_clock(first.start_ms / 1000)} … {text}"
            if len(line) >= width:  # keep it on one line so \r can rewrite it
                line = "…" + line[len(line) - width + 2 :]
            self.out.write(CLEAR_LINE + line)
            self.out.flush()
            self.live = True
        else:
            self.out.write(f"~ {text}\n")
            self.out.flush()

    def _final(self, result: asr_pb2.StreamingRecognitionResult) -> None:
        if self.fmt == "json":
            self._json(self._record("final", result, result.text.strip()))
            return
        self.clear()
        text = result.text.strip()
        if text:
            start, end = format_clock(result.start_ms / 1000), format_clock(result.end_ms / 1000)
            self.out.write(f"[{start} → {end}] {text}\n")
            self.out.flush()

    @staticmethod
    def _record(kind: str, result: asr_pb2.StreamingRecognitionResult, text: str) -> dict[str, Any]:
        return {
            "type": kind,
            "text": text,
            "start": result.start_ms / 1000,
            "end": result.end_ms / 1000,
            "stability": round(result.stability, 3),
            "utterance": result.utterance_index,
            "language": result.language_code,
        }

    def _json(self, record: dict[str, Any]) -> None:
        self.out.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.out.flush()


def run_stream(args: argparse.Namespace) -> int:
    """``ting stream FILE``: 0 when the stream ended normally, 1 (a :class:`CliError`) otherwise."""
    if not MIN_CHUNK_MS <= args.chunk_ms <= MAX_CHUNK_MS:
        raise CliError(f"--chunk-ms must be {MIN_CHUNK_MS}..{MAX_CHUNK_MS}, got {args.chunk_ms}")
    speed = 1.0 if args.realtime else (args.speed if args.speed is not None else 0.0)
    if args.speed is not None and not args.speed > 0:
        raise CliError(f"--speed must be a positive number, got {args.speed}")
    path = Path(args.file)
    pcm, _duration = _load_pcm16(path)

    import grpc

    from ting.asr.v1 import asr_service_pb2 as asr_pb2
    from ting.asr.v1 import asr_service_pb2_grpc as asr_grpc
    from ting.audio.v1 import audio_pb2
    from ting_cli.rpc import describe_rpc_error, open_channel

    out = sys.stdout
    interim = args.interim if args.interim is not None else (args.format == "json" or out.isatty())
    config = asr_pb2.StreamingRecognizeRequest(
        streaming_config=asr_pb2.StreamingRecognitionConfig(
            config=asr_pb2.RecognitionConfig(
                model=args.model,
                language_code=args.language,
                task=asr_pb2.TASK_TRANSLATE if args.task == "translate" else asr_pb2.TASK_TRANSCRIBE,
            ),
            audio_format=audio_pb2.AudioFormat(
                encoding=audio_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=SAMPLE_RATE, channel_count=1
            ),
            interim_results=interim,
        )
    )
    printer = _Printer(args.format, interim, out)
    metadata = (("x-request-id", uuid.uuid4().hex),)
    with open_channel(args.server) as channel:
        stub = asr_grpc.AsrServiceStub(channel)
        call = stub.StreamingRecognize(_requests(config, pcm, args.chunk_ms, speed), metadata=metadata)
        try:
            for response in call:
                printer.response(response)
        except grpc.RpcError as exc:
            printer.clear()
            raise CliError(f"{path}: " + describe_rpc_error(exc, args.server, title="ASR", service="asr")) from exc
        except BaseException:
            printer.clear()
            call.cancel()
            raise
    printer.clear()
    return 0
