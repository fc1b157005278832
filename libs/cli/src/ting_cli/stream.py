"""``ting stream``: play an audio file into a live recognition stream and print results as they arrive.

    ting stream FILE [--realtime | --speed X] [--language L] [--task transcribe|translate]
                     [--interim | --no-interim] [--chunk-ms 100] [--format text|json] [--server HOST:PORT]
                     [--gateway] [--translate LANG ...] [--summarize] [--save | --no-save] [--title NAME]
                     [--api-key KEY]

FILE (any format ``ting transcribe`` reads) is decoded to 16 kHz mono, converted to LINEAR16 and sent in
``--chunk-ms`` chunks after the streaming config. By default the chunks go out as fast as the server takes
them; ``--realtime`` paces them at real time and ``--speed X`` at X times real time.

Two servers can take the stream:

- **The ASR service** (the default): ``AsrService/StreamingRecognize``; ``--server`` is the ASR server
  (``$TING_SERVER``, default 127.0.0.1:50051).
- **The gateway**, when ``--gateway``, ``--translate``, ``--summarize``, ``--save``/``--no-save`` or ``--title`` is
  given: ``PipelineService/StreamProcess``, a live session that translates each final into the ``--translate``
  languages as it comes and, unless ``--no-save``, saves the session as a job at the end (with a summary when
  ``--summarize``). ``--server`` is then the gateway (``$TING_GATEWAY_ADDRESS``, default 127.0.0.1:50050), and
  ``--api-key`` (``$TING_API_KEY``) is sent as ``authorization: Bearer KEY``. The audio starts once the gateway
  has said the session is ready.

``--format text``: each final prints as ``[mm:ss.s → mm:ss.s] text``. Interim results are shown when
``--interim`` is given or, by default, when stdout is a terminal: on a terminal they rewrite one line
(``\\r`` + clear) that the next final replaces; otherwise each prints as one ``~ text`` line. Through the gateway,
each translation prints under its final, indented, as ``  [de] text`` (a final with translations waits for them,
so the lines stay together; a failed translation is a warning on stderr), and a saved session ends with the line
``saved as job ID (...)`` naming the ``ting jobs`` command that shows it.

``--format json``: one JSON object per line. Partials are on by default (``--no-interim`` drops them).

- From the ASR service, one object per server response. Results:
  ``{"type": "partial"|"final", "text", "start", "end", "stability", "utterance", "language"}`` (times in
  seconds from the start of the stream; a partial's text is the whole hypothesis so far, its ``stability`` the
  lowest of its parts and ``stable`` the prefix that is unlikely to change). Speech events:
  ``{"type": "speech_start"|"speech_end"|"end_of_utterance", "offset"}``.
- From the gateway, the events of its WebSocket protocol (README, "Live streaming"), exactly as ``/v1/stream``
  sends them: ``ready``, ``speech_start``/``speech_end`` (``offset_s``), ``partial`` (``text``, ``stable_text``,
  ``stability``, ``start_s``, ``end_s``), ``final`` (with ``words``), ``translation``, a non-fatal ``error``
  (``"fatal": false``), and ``done`` last (``job_id``/``job_url``, ``job_state``). The ASR-direct objects keep
  their older shape (``start``/``end``/``offset``) so that scripts reading them keep working.

Errors are one line (``ting: error: ...``), exit status 1. Through the gateway, a saved job that ended
PARTIALLY_SUCCEEDED exits 3 (a warning says so) and one that FAILED exits 1. Ctrl-C cancels the stream; the
gateway then saves nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ting_cli.gateway import DEFAULT_GATEWAY, EXIT_PARTIAL
from ting_cli.main import DEFAULT_SERVER, CliError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ting.asr.v1 import asr_service_pb2 as asr_pb2
    from ting.gateway.v1 import pipeline_service_pb2 as gw_pb2

__all__ = [
    "LivePrinter",
    "add_parsers",
    "format_clock",
    "live_event",
    "run_stream",
    "translate_targets",
    "uses_gateway",
]

SAMPLE_RATE = 16000
MIN_CHUNK_MS = 10
MAX_CHUNK_MS = 1000
CLEAR_LINE = "\r\x1b[K"
EVENT_TYPES = {1: "speech_start", 2: "speech_end", 3: "end_of_utterance"}


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``stream`` subcommand."""
    p = sub.add_parser(
        "stream",
        help="stream an audio file to an ASR server (or a gateway, with live translation) and print live results",
        description=(
            "Send an audio file as a live stream and print the results as they arrive: to a Ting ASR server "
            "(StreamingRecognize), or, with --gateway, --translate, --summarize, --save/--no-save or --title, to a "
            "Ting gateway (StreamProcess), which translates each final live and saves the session as a job. "
            "Chunks go out as fast as possible unless --realtime or --speed is given."
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
        default=None,
        metavar="HOST:PORT",
        help=(
            "address of the server the stream goes to: the gateway when it goes through one (default: "
            f"$TING_GATEWAY_ADDRESS or {DEFAULT_GATEWAY}), else the ASR server (default: $TING_SERVER or "
            f"{DEFAULT_SERVER})"
        ),
    )
    live = p.add_argument_group("through the gateway (any of these but --api-key selects the gateway)")
    live.add_argument(
        "--gateway",
        action="store_true",
        help="stream through the gateway's live session (StreamProcess) instead of to the ASR server",
    )
    live.add_argument(
        "--translate",
        "-t",
        action="append",
        default=[],
        metavar="LANG",
        help="translate each final into LANG as it comes (repeatable, or comma-separated: de,fr)",
    )
    live.add_argument("--summarize", "-s", action="store_true", help="summarize the transcript in the saved job")
    live.add_argument(
        "--save",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="save the session as a job at the end (the gateway's default: save)",
    )
    live.add_argument("--title", default=None, metavar="NAME", help="a human-readable name for the saved job")
    live.add_argument(
        "--api-key",
        default=None,
        metavar="KEY",
        help="API key for the gateway, sent as `authorization: Bearer KEY` (default: $TING_API_KEY)",
    )


def uses_gateway(args: argparse.Namespace) -> bool:
    """Whether the options send the stream through the gateway rather than to the ASR service."""
    return bool(args.gateway or args.translate or args.summarize or args.save is not None or args.title is not None)


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


def _chunks(pcm: bytes, chunk_ms: int, speed: float) -> Iterator[bytes]:
    """``chunk_ms`` pieces of ``pcm``; with ``speed`` > 0 each leaves no earlier than its audio time divided by
    ``speed`` after the first (an absolute schedule, so slow sends do not accumulate drift)."""
    step = SAMPLE_RATE * 2 * chunk_ms // 1000
    start = time.monotonic()
    for pos in range(0, len(pcm), step):
        if speed > 0:
            due = start + (pos / (SAMPLE_RATE * 2)) / speed
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        yield pcm[pos : pos + step]


def _requests(
    config: asr_pb2.StreamingRecognizeRequest, pcm: bytes, chunk_ms: int, speed: float
) -> Iterator[asr_pb2.StreamingRecognizeRequest]:
    """The config, then the paced chunks."""
    from ting.asr.v1 import asr_service_pb2 as asr_pb2

    yield config
    for chunk in _chunks(pcm, chunk_ms, speed):
        yield asr_pb2.StreamingRecognizeRequest(audio_content=chunk)


class _Printer:
    """Writes text or JSON lines; keeps track of a live (rewritable) interim line on a terminal."""

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

    def _partial_text(self, start_s: float, text: str) -> None:
        if self.tty:
            width = shutil.get_terminal_size((80, 24)).columns
            line = f"{format_clock(start_s)} … {text}"
            if len(line) >= width:  # keep it on one line so \r can rewrite it
                line = "…" + line[len(line) - width + 2 :]
            self.out.write(CLEAR_LINE + line)
            self.out.flush()
            self.live = True
        else:
            self.out.write(f"~ {text}\n")
            self.out.flush()

    @staticmethod
    def _final_line(start_s: float, end_s: float, text: str) -> str:
        return f"[{format_clock(start_s)} → {format_clock(end_s)}] {text}"

    def _lines(self, lines: Sequence[str]) -> None:
        self.clear()
        if lines:
            self.out.write("".join(line + "\n" for line in lines))
            self.out.flush()

    def _json(self, record: dict[str, Any]) -> None:
        self.out.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.out.flush()


class _AsrPrinter(_Printer):
    """The ASR service's ``StreamingRecognizeResponse``s."""

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
        else:
            self._partial_text(first.start_ms / 1000, text)

    def _final(self, result: asr_pb2.StreamingRecognitionResult) -> None:
        if self.fmt == "json":
            self._json(self._record("final", result, result.text.strip()))
            return
        text = result.text.strip()
        self._lines([self._final_line(result.start_ms / 1000, result.end_ms / 1000, text)] if text else [])

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


# -- through the gateway -------------------------------------------------------------------------------------


def live_event(response: gw_pb2.StreamProcessResponse) -> dict[str, Any]:
    """A ``StreamProcessResponse`` as the gateway's WebSocket sends the same event (times in seconds)."""
    kind = response.WhichOneof("event")
    if kind == "ready":
        ready = response.ready
        return {
            "type": "ready",
            "session_id": ready.session_id,
            "request_id": ready.request_id,
            "idle_timeout_s": ready.idle_timeout_ms / 1000,
            "max_duration_s": ready.max_duration_ms / 1000,
        }
    if kind in ("speech_start", "speech_end"):
        activity = response.speech_start if kind == "speech_start" else response.speech_end
        return {"type": kind, "offset_s": activity.offset_ms / 1000}
    if kind == "partial":
        partial = response.partial
        return {
            "type": "partial",
            "utterance": partial.utterance,
            "text": partial.text,
            "stable_text": partial.stable_text,
            "stability": round(partial.stability, 3),
            "start_s": partial.start_ms / 1000,
            "end_s": partial.end_ms / 1000,
        }
    if kind == "final":
        final = response.final
        return {
            "type": "final",
            "utterance": final.utterance,
            "text": final.text,
            "start_s": final.start_ms / 1000,
            "end_s": final.end_ms / 1000,
            "language": final.language_code,
            "words": [
                {
                    "word": w.word,
                    "start_s": w.start_ms / 1000,
                    "end_s": w.end_ms / 1000,
                    "probability": round(w.probability, 3),
                }
                for w in final.words
            ],
        }
    if kind == "translation":
        translation = response.translation
        record: dict[str, Any] = {
            "type": "translation",
            "utterance": translation.utterance,
            "language": translation.language_code,
            "text": translation.text,
        }
        if translation.same_language:
            record["same_language"] = True
        return record
    if kind == "error":
        error = response.error
        return {
            "type": "error",
            "code": error.code,
            "http_status": error.http_status,
            "message": error.message,
            "fatal": False,
            "utterance": error.utterance,
            "language": error.language_code,
        }
    if kind == "done":
        from ting.gateway.v1 import pipeline_service_pb2 as gw_pb2

        done = response.done
        record = {
            "type": "done",
            "job_id": done.job_id or None,
            "job_url": f"/v1/jobs/{done.job_id}" if done.job_id else None,
            "duration_s": done.duration_ms / 1000,
            "utterances": done.utterances,
            "reason": done.reason,
        }
        if done.job_id:
            record["job_state"] = gw_pb2.JobState.Name(done.job_state).removeprefix("JOB_STATE_")
        return record
    raise CliError(f"the gateway sent an event this ting does not know ({kind or 'empty'}); upgrade the CLI")


@dataclass
class _Held:
    """A final printed once its translations are in (or the stream ends)."""

    utterance: int
    line: str
    waiting: set[str]
    translations: dict[str, str] = field(default_factory=dict)


class LivePrinter(_Printer):
    """The gateway's live events: JSON lines as they come, or text with each final's translations under it."""

    def __init__(self, fmt: str, interim: bool, out: TextIO, targets: Sequence[str]) -> None:
        super().__init__(fmt, interim, out)
        self.targets = list(targets)
        self.held: list[_Held] = []
        self.done: dict[str, Any] | None = None

    def response(self, response: gw_pb2.StreamProcessResponse) -> None:
        event = live_event(response)
        kind = event["type"]
        if kind == "done":
            self.done = event
        if self.fmt == "json":
            if kind != "partial" or self.interim:
                self._json(event)
            return
        if kind == "error":
            language, utterance = event["language"], event["utterance"]
            print(
                f"ting: warning: the translation of utterance {utterance} into {language} failed: "
                f"{event['message']} [{event['code']}]",
                file=sys.stderr,
            )
        if kind == "partial" and self.interim:
            self._partial_text(event["start_s"], event["text"])
        elif kind == "final":
            text = event["text"].strip()
            line = self._final_line(event["start_s"], event["end_s"], text) if text else ""
            self.held.append(_Held(event["utterance"], line, set(self.targets) if text else set()))
            self._release()
        elif kind in ("translation", "error"):
            self._translated(event)
        elif kind == "done":
            self.flush()

    def _translated(self, event: dict[str, Any]) -> None:
        language = event["language"]
        held = next((h for h in self.held if h.utterance == event["utterance"]), None)
        if held is None:  # not expected: every final waits for all its targets
            if event["type"] == "translation":
                self._lines([f"  [{language}] {event['text']}"])
            return
        held.waiting.discard(language)
        if event["type"] == "translation":
            held.translations[language] = event["text"]
        self._release()

    def _release(self, everything: bool = False) -> None:
        """Print the finals at the head of the queue whose translations are all in (``everything``: all)."""
        lines: list[str] = []
        while self.held and (everything or not self.held[0].waiting):
            held = self.held.pop(0)
            if held.line:
                lines.append(held.line)
                order = [*self.targets, *(lang for lang in held.translations if lang not in self.targets)]
                lines.extend(f"  [{lang}] {held.translations[lang]}" for lang in order if lang in held.translations)
        if lines:
            self._lines(lines)

    def flush(self) -> None:
        """Print every final still waiting (the stream has ended)."""
        self._release(everything=True)
        self.clear()

    def saved(self) -> int:
        """After ``done``: the ``saved as job`` line (text) and the exit status for the saved job's state."""
        done = self.done
        if done is None or not done["job_id"]:
            return 0
        job_id, state = done["job_id"], done.get("job_state", "")
        if self.fmt == "text":
            if state in ("QUEUED", "RUNNING", "CANCELLING"):
                note = f"still {state.lower()}; `ting jobs watch {job_id}` follows it"
            elif state == "SUCCEEDED":
                note = f"`ting jobs get {job_id}` shows it"
            else:
                note = f"{state.lower().replace('_', ' ')}; `ting jobs get {job_id}` shows it"
            self._lines([f"saved as job {job_id} ({note})"])
        if state == "PARTIALLY_SUCCEEDED":
            print(
                f"ting: warning: the saved job {job_id} partially succeeded; `ting jobs get {job_id}` shows the "
                "failed steps",
                file=sys.stderr,
            )
            return EXIT_PARTIAL
        if state in ("FAILED", "CANCELLED"):
            raise CliError(f"the saved job {job_id} {state.lower()}; `ting jobs get {job_id}` says why")
        return 0


class _Gate:
    """Holds the audio back until the gateway's ``ready`` (or the end of the call)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.closed = False

    def open(self) -> None:
        self._event.set()

    def close(self) -> None:
        self.closed = True
        self._event.set()

    def wait(self) -> bool:
        """Whether to send audio: True once ready, False when the call has ended."""
        self._event.wait()
        return not self.closed


def _process_requests(
    config: gw_pb2.StreamProcessRequest, pcm: bytes, chunk_ms: int, speed: float, gate: _Gate
) -> Iterator[gw_pb2.StreamProcessRequest]:
    """The config; then, once the session is ready, the paced chunks (the end of them half-closes: the stop)."""
    from ting.gateway.v1 import pipeline_service_pb2 as gw_pb2

    yield config
    if not gate.wait():
        return
    for chunk in _chunks(pcm, chunk_ms, speed):
        if gate.closed:
            return
        yield gw_pb2.StreamProcessRequest(audio_content=chunk)


def translate_targets(values: Sequence[str]) -> list[str]:
    """The ``--translate`` codes, as the gateway spells them (``DE`` is ``de``, ``pt-BR`` keeps its region)."""
    targets: list[str] = []
    for value in values:
        for code in (c.strip() for c in value.split(",")):
            if code:
                head, sep, region = code.partition("-")
                targets.append(head.lower() + sep + region)
    if values and not targets:
        raise CliError("--translate needs a language code, e.g. --translate de")
    return list(dict.fromkeys(targets))


def _stream_gateway(args: argparse.Namespace, path: Path, pcm: bytes, speed: float, interim: bool) -> int:
    import grpc

    from ting.asr.v1 import asr_service_pb2 as asr_pb2
    from ting.audio.v1 import audio_pb2
    from ting.gateway.v1 import pipeline_service_pb2 as gw_pb2
    from ting.gateway.v1 import pipeline_service_pb2_grpc as gw_grpc
    from ting_cli.rpc import call_metadata, describe_rpc_error, open_channel

    server = args.server or os.environ.get("TING_GATEWAY_ADDRESS") or DEFAULT_GATEWAY
    api_key = args.api_key if args.api_key is not None else os.environ.get("TING_API_KEY", "")
    targets = translate_targets(args.translate)
    config = gw_pb2.StreamProcessConfig(
        audio_format=audio_pb2.AudioFormat(
            encoding=audio_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=SAMPLE_RATE, channel_count=1
        ),
        language_code=args.language,
        task=asr_pb2.TASK_TRANSLATE if args.task == "translate" else asr_pb2.TASK_TRANSCRIBE,
        model=args.model,
        interim_results=interim,
        translate_language_codes=targets,
        summarize=args.summarize,
        title=args.title or "",
    )
    if args.save is not None:
        config.save = args.save
    printer = LivePrinter(args.format, interim, sys.stdout, targets)
    gate = _Gate()
    requests = _process_requests(gw_pb2.StreamProcessRequest(config=config), pcm, args.chunk_ms, speed, gate)
    with open_channel(server) as channel:
        call = gw_grpc.PipelineServiceStub(channel).StreamProcess(requests, metadata=call_metadata(api_key))
        ready = False
        try:
            for response in call:
                if response.HasField("ready"):
                    ready = True
                    gate.open()
                printer.response(response)
        except grpc.RpcError as exc:
            printer.flush()
            if not ready and isinstance(exc, grpc.Call) and exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                raise CliError(
                    f"{path}: the gateway at {server} does not serve live sessions (StreamProcess): "
                    f"{exc.details()} [UNIMPLEMENTED]; is it an older version?"
                ) from exc
            raise CliError(f"{path}: " + describe_rpc_error(exc, server, title="gateway", service="gateway")) from exc
        except BaseException:
            printer.flush()
            call.cancel()
            raise
        finally:
            gate.close()
    printer.flush()
    if printer.done is None:
        raise CliError(f"{path}: the gateway ended the stream without its `done` event")
    return printer.saved()


def _stream_asr(args: argparse.Namespace, path: Path, pcm: bytes, speed: float, interim: bool) -> int:
    import grpc

    from ting.asr.v1 import asr_service_pb2 as asr_pb2
    from ting.asr.v1 import asr_service_pb2_grpc as asr_grpc
    from ting.audio.v1 import audio_pb2
    from ting_cli.rpc import describe_rpc_error, open_channel

    server = args.server or os.environ.get("TING_SERVER") or DEFAULT_SERVER
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
    printer = _AsrPrinter(args.format, interim, sys.stdout)
    metadata = (("x-request-id", uuid.uuid4().hex),)
    with open_channel(server) as channel:
        stub = asr_grpc.AsrServiceStub(channel)
        call = stub.StreamingRecognize(_requests(config, pcm, args.chunk_ms, speed), metadata=metadata)
        try:
            for response in call:
                printer.response(response)
        except grpc.RpcError as exc:
            printer.clear()
            raise CliError(f"{path}: " + describe_rpc_error(exc, server, title="ASR", service="asr")) from exc
        except BaseException:
            printer.clear()
            call.cancel()
            raise
    printer.clear()
    return 0


def run_stream(args: argparse.Namespace) -> int:
    """``ting stream FILE``: 0 when the stream ended normally (3: the saved job partially succeeded), 1 (a
    :class:`CliError`) otherwise."""
    if not MIN_CHUNK_MS <= args.chunk_ms <= MAX_CHUNK_MS:
        raise CliError(f"--chunk-ms must be {MIN_CHUNK_MS}..{MAX_CHUNK_MS}, got {args.chunk_ms}")
    speed = 1.0 if args.realtime else (args.speed if args.speed is not None else 0.0)
    if args.speed is not None and not args.speed > 0:
        raise CliError(f"--speed must be a positive number, got {args.speed}")
    gateway = uses_gateway(args)
    if gateway:
        translate_targets(args.translate)  # a bad --translate fails before the file is decoded
    path = Path(args.file)
    pcm, _duration = _load_pcm16(path)
    interim = args.interim if args.interim is not None else (args.format == "json" or sys.stdout.isatty())
    if gateway:
        return _stream_gateway(args, path, pcm, speed, interim)
    return _stream_asr(args, path, pcm, speed, interim)
