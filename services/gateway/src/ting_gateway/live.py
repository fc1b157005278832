"""Live streams: audio in, recognition events out, the session saved as a job at the end.

One core serves both transports - the WebSocket ``GET /v1/stream`` (:mod:`ting_gateway.http.live_ws`) and the gRPC
``StreamProcess`` (:mod:`ting_gateway.servicer`). A transport parses the client's start message into
:class:`LiveOptions` (:func:`parse_start`), holds one of the replica's stream slots (:meth:`LiveService.slot`) and
iterates :meth:`LiveSession.events` over the client's audio chunks; the chunks end when the client says ``stop``,
and raise :class:`ClientGone` when it vanished. Events are JSON-ready dicts, exactly the WebSocket protocol's
(``ready``, ``speech_start``, ``speech_end``, ``partial``, ``final``, ``translation``, a non-fatal ``error``, ``done``);
a fatal error is raised as a domain error and the transport reports it.

Inside a session the audio goes to the ASR service's ``StreamingRecognize`` (one bidi call: a writer task feeds it,
a reader task maps its responses), each final is translated into the requested languages through the translation
service (:meth:`Pipeline.translate_cues`; a failure is a non-fatal ``error``), and the audio is recorded - PCM as a
WAV file (header + samples, FLOAT32 converted to 16-bit), Ogg/WebM as received - in a spooled temporary file, capped
at ``live.max_duration_s`` (at the cap the stream stops as if the client had said ``stop``).

Saving: the recording becomes a job's input and the job is submitted already transcribed - its transcription step
SUCCEEDED with the live finals as the transcript, and each target translated without a failure SUCCEEDED with the
live translations - so a worker runs only what is left through the ordinary pipeline (fetch and probe the input,
translate what failed live, summarize, render the files into storage) and finishes the job as any other. ``done``
follows once the job is final (or after ``live.save_wait_s``).

Bounds: the replica serves at most ``live.max_streams`` streams; a client that sends nothing for
``live.idle_timeout_s`` gets DEADLINE_EXCEEDED; audio frames are at most ``live.max_frame_kb``; the recording is
capped; the event queue is bounded (a slow client slows the ASR reads, gRPC flow control does the rest). Leaving
the event iterator (a vanished client, an error, the transport closing) cancels the ASR call at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import math
import struct
import tempfile
import uuid
from collections import Counter as Tally
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Final, cast

import grpc
import numpy as np
from prometheus_client import Counter, Gauge

from ting.asr.v1 import asr_service_pb2 as asr_pb
from ting.audio.v1 import audio_pb2
from ting.gateway.v1 import pipeline_service_pb2 as pb
from ting.translation.v1 import translation_service_pb2 as tr_pb
from ting_common.errors import (
    DeadlineExceededError,
    InvalidArgumentError,
    OutOfRangeError,
    TingError,
    TooManyRequestsError,
)
from ting_gateway.downstream import to_domain_error
from ting_gateway.pipeline import join_text, normalize_language, now_ts, same_language
from ting_gateway.service import Gateway

logger = logging.getLogger(__name__)

Event = dict[str, Any]

ENCODINGS: Final[dict[str, int]] = {
    "linear16": audio_pb2.AUDIO_ENCODING_LINEAR16,
    "float32": audio_pb2.AUDIO_ENCODING_FLOAT32,
    "ogg_opus": audio_pb2.AUDIO_ENCODING_OGG_OPUS,
    "webm_opus": audio_pb2.AUDIO_ENCODING_WEBM_OPUS,
}
CONTENT_TYPES: Final[dict[int, str]] = {
    audio_pb2.AUDIO_ENCODING_OGG_OPUS: "audio/ogg",
    audio_pb2.AUDIO_ENCODING_WEBM_OPUS: "audio/webm",
}
PCM_WIDTH: Final[dict[int, int]] = {audio_pb2.AUDIO_ENCODING_LINEAR16: 2, audio_pb2.AUDIO_ENCODING_FLOAT32: 4}
TASKS: Final[dict[str, int]] = {"transcribe": asr_pb.TASK_TRANSCRIBE, "translate": asr_pb.TASK_TRANSLATE}
MAX_TARGETS: Final = 10
SAVED_FORMATS: Final = (
    pb.TRANSCRIPT_FORMAT_SRT,
    pb.TRANSCRIPT_FORMAT_VTT,
    pb.TRANSCRIPT_FORMAT_TXT,
    pb.TRANSCRIPT_FORMAT_JSON,
)
SPOOL_BYTES: Final = 8 * 1024 * 1024  # a recording stays in memory up to this size, then goes to a temporary file
TRANSLATIONS_AT_ONCE: Final = 2  # per stream
QUEUE_EVENTS: Final = 64
SETUP_WAIT_S: Final = 0.25  # see LiveSession._write
EOF: Final[object] = grpc.aio.EOF  # type: ignore[attr-defined]  # the end of a call's reads (not in the stubs)

LIVE_STREAMS = Gauge("ting_gateway_live_streams", "Live streams this replica serves now.")
LIVE_AUDIO_SECONDS = Counter("ting_gateway_live_audio_seconds_total", "Seconds of PCM audio received in live streams.")


class ClientGone(Exception):
    """The client went away mid-stream (closed the socket, cancelled the call): nothing is saved or sent."""


# -- the start message ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveOptions:
    """A validated start message (see the protocol in the README, "Live streaming")."""

    encoding: int = audio_pb2.AUDIO_ENCODING_LINEAR16
    sample_rate: int = 16_000
    channels: int = 1
    language: str = ""
    task: int = asr_pb.TASK_TRANSCRIBE
    model: str = ""
    interim_results: bool = True
    translate: tuple[str, ...] = ()
    summarize: bool = False
    save: bool = True
    title: str = ""
    silence_s: float | None = None
    max_utterance_s: float | None = None
    vad_threshold: float | None = None

    @property
    def pcm(self) -> bool:
        """Whether the audio is headerless PCM (LINEAR16 / FLOAT32)."""
        return self.encoding in PCM_WIDTH


def _get(message: Mapping[str, Any], name: str, kinds: type | tuple[type, ...], default: Any) -> Any:
    value = message.get(name)
    if value is None:
        return default
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        raise InvalidArgumentError(f"start.{name}: expected a number, got {value!r}")
    if not isinstance(value, kinds):
        raise InvalidArgumentError(f"start.{name}: {value!r} has the wrong type")
    return value


def _number(message: Mapping[str, Any], name: str, low: float, high: float) -> float | None:
    value = _get(message, name, (int, float), None)
    if value is None:
        return None
    if not (math.isfinite(value) and low <= value <= high):
        raise OutOfRangeError(f"start.{name} must be between {low:g} and {high:g}, got {value!r}")
    return float(value)


def parse_start(message: Mapping[str, Any]) -> LiveOptions:
    """The options of a start message (a parsed JSON object); INVALID_ARGUMENT / OUT_OF_RANGE when it is not
    one. Unknown fields are ignored; the sample rate and channel count are checked by the ASR service."""
    if message.get("type") != "start":
        raise InvalidArgumentError(
            f'the first message must be a start message ({{"type": "start", ...}}), not type {message.get("type")!r}'
        )
    encoding_name = _get(message, "encoding", str, "linear16").strip().lower()
    if encoding_name not in ENCODINGS:
        raise InvalidArgumentError(f"start.encoding: '{encoding_name}' is not one of {', '.join(ENCODINGS)}")
    task_name = _get(message, "task", str, "transcribe").strip().lower()
    if task_name not in TASKS:
        raise InvalidArgumentError(f"start.task: '{task_name}' is not one of {', '.join(TASKS)}")
    model = _get(message, "model", str, "").strip()
    if len(model) > 128:
        raise InvalidArgumentError("start.model: at most 128 characters")
    title = _get(message, "title", str, "").strip()
    if len(title) > 256:
        raise InvalidArgumentError("start.title: at most 256 characters")
    targets: list[str] = []
    for code in _get(message, "translate", list, []):
        if not isinstance(code, str) or not code.strip():
            raise InvalidArgumentError(f"start.translate: {code!r} is not a language code")
        normalized = normalize_language(code, "start.translate")
        if normalized in targets:
            raise InvalidArgumentError(f"start.translate: '{code}' is listed twice")
        targets.append(normalized)
    if len(targets) > MAX_TARGETS:
        raise InvalidArgumentError(f"start.translate: at most {MAX_TARGETS} languages")
    channels = _get(message, "channels", int, 1)
    if channels < 1:
        raise InvalidArgumentError(f"start.channels must be at least 1, got {channels}")
    language = _get(message, "language", str, "").strip()
    return LiveOptions(
        encoding=ENCODINGS[encoding_name],
        sample_rate=_get(message, "sample_rate", int, 16_000),
        channels=channels,
        language="" if language.lower() == "auto" else normalize_language(language, "start.language"),
        task=TASKS[task_name],
        model=model,
        interim_results=_get(message, "interim_results", bool, True),
        translate=tuple(targets),
        summarize=_get(message, "summarize", bool, False),
        save=_get(message, "save", bool, True),
        title=title,
        silence_s=_number(message, "silence_s", 0.1, 10.0),
        max_utterance_s=_number(message, "max_utterance_s", 1.0, 30.0),
        vad_threshold=_number(message, "vad_threshold", 0.01, 0.99),
    )


def streaming_config(options: LiveOptions) -> asr_pb.StreamingRecognitionConfig:
    """The ASR service's streaming config for ``options`` (finals always carry word times)."""
    recognition = asr_pb.RecognitionConfig(
        model=options.model,
        language_code=options.language,
        task=options.task,  # type: ignore[arg-type]
        enable_word_time_offsets=True,
    )
    if options.silence_s is not None:
        recognition.vad.min_silence_duration_ms = round(options.silence_s * 1000)
    if options.vad_threshold is not None:
        recognition.vad.threshold = options.vad_threshold
    fmt = audio_pb2.AudioFormat(encoding=options.encoding)  # type: ignore[arg-type]
    if options.pcm:
        fmt.sample_rate_hertz = options.sample_rate
        fmt.channel_count = options.channels
    return asr_pb.StreamingRecognitionConfig(
        config=recognition,
        audio_format=fmt,
        interim_results=options.interim_results,
        max_utterance_ms=round(options.max_utterance_s * 1000) if options.max_utterance_s else 0,
    )


# -- the recording -------------------------------------------------------------------------------------------


class Recording:
    """What the client streamed, kept for the saved job in a spooled temporary file, up to ``max_bytes`` of
    input: PCM as a 16-bit WAV file (the header is patched with the sizes at the end), containers as received."""

    def __init__(self, options: LiveOptions, max_duration_s: float, max_container_bytes: int) -> None:
        self.options = options
        self.file = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - closed in close()
        self.received = 0  # input bytes kept
        self._pending = b""  # FLOAT32 bytes of an incomplete frame
        if options.pcm:
            frame = PCM_WIDTH[options.encoding] * options.channels
            self.frame_bytes = frame
            self.max_bytes = int(max_duration_s * options.sample_rate) * frame
            self.file.write(b"\0" * 44)
        else:
            self.frame_bytes = 1
            self.max_bytes = max_container_bytes

    @property
    def full(self) -> bool:
        """Whether the cap is reached."""
        return self.received >= self.max_bytes

    @property
    def duration_s(self) -> float:
        """Seconds of PCM kept (0 for containers: their duration is probed when the job runs)."""
        if not self.options.pcm:
            return 0.0
        return self.received / self.frame_bytes / self.options.sample_rate

    def add(self, chunk: bytes) -> bytes:
        """Keep ``chunk``, or as much of it as fits under the cap (whole frames); returns what was kept."""
        room = self.max_bytes - self.received
        if len(chunk) > room:
            chunk = chunk[: room - room % self.frame_bytes]
        self.received += len(chunk)
        if self.options.encoding == audio_pb2.AUDIO_ENCODING_FLOAT32:
            data = self._pending + chunk
            usable = len(data) - len(data) % 4
            self._pending = data[usable:]
            samples = np.frombuffer(data[:usable], dtype="<f4")
            self.file.write((np.clip(np.nan_to_num(samples), -1.0, 1.0) * 32767).astype("<i2").tobytes())
        else:
            self.file.write(chunk)
        return chunk

    def finish(self) -> tuple[BinaryIO, str]:
        """The file to store, rewound, and its content type."""
        if self.options.pcm:
            size = self.file.seek(0, io.SEEK_END) - 44
            size -= size % (2 * self.options.channels)
            self.file.truncate(44 + size)
            rate, channels = self.options.sample_rate, self.options.channels
            header = b"RIFF" + struct.pack("<I", 36 + size) + b"WAVE"
            header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * 2 * channels, 2 * channels, 16)
            header += b"data" + struct.pack("<I", size)
            self.file.seek(0)
            self.file.write(header)
        self.file.seek(0)
        return cast(BinaryIO, self.file), CONTENT_TYPES.get(self.options.encoding, "audio/wav")

    def pcm_slice(self, start_s: float, end_s: float) -> bytes:
        """The 16-bit PCM recorded between ``start_s`` and ``end_s`` (PCM streams; the write position is kept)."""
        frame = 2 * self.options.channels
        rate = self.options.sample_rate
        begin = 44 + max(int(start_s * rate), 0) * frame
        end = 44 + max(int(end_s * rate), 0) * frame
        position = self.file.tell()
        try:
            self.file.seek(begin)
            return self.file.read(max(min(end, position) - begin, 0))
        finally:
            self.file.seek(position)

    def close(self) -> None:
        """Drop the recording."""
        self.file.close()


# -- sessions --------------------------------------------------------------------------------------------------


class LiveService:
    """The replica's live streams: the concurrency limit, and new sessions over the gateway's core."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.settings = gateway.settings.live
        self.active = 0

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the replica's ``live.max_streams`` slots; RESOURCE_EXHAUSTED (429) when none is free."""
        if self.active >= self.settings.max_streams:
            raise TooManyRequestsError(
                f"this gateway already serves {self.active} live streams (its limit); try again later"
            )
        self.active += 1
        LIVE_STREAMS.inc()
        try:
            yield
        finally:
            self.active -= 1
            LIVE_STREAMS.dec()

    def session(self, options: LiveOptions, request_id: str) -> LiveSession:
        """A new session (start it by iterating :meth:`LiveSession.events`)."""
        return LiveSession(self, options, request_id)


@dataclass
class _Final:
    index: int
    segment: audio_pb2.Segment
    language: str


@dataclass
class _Target:
    cues: dict[int, tr_pb.Cue] = field(default_factory=dict)
    failed: bool = False
    engine: str = ""
    model: str = ""
    method: pb.TranslationMethod = pb.TRANSLATION_METHOD_TEXT


class LiveSession:
    """One live stream: :meth:`events` runs it."""

    def __init__(self, live: LiveService, options: LiveOptions, request_id: str) -> None:
        self.live = live
        self.gateway = live.gateway
        self.options = options
        self.request_id = request_id
        self.session_id = uuid.uuid4().hex
        self.finals: list[_Final] = []
        self.targets = {code: _Target() for code in options.translate}
        self.reason = "stop"
        self.last_offset_ms = 0
        self._failure: Exception | None = None
        self._translations: set[asyncio.Task[None]] = set()
        self._translate_gate = asyncio.Semaphore(TRANSLATIONS_AT_ONCE)
        self._queue: asyncio.Queue[Event | BaseException | None] = asyncio.Queue(QUEUE_EVENTS)
        settings = self.gateway.settings
        self.recording = Recording(options, settings.live.max_duration_s, settings.max_upload_bytes)

    async def events(self, audio: AsyncIterator[bytes]) -> AsyncGenerator[Event, None]:
        """Run the session over the client's audio chunks and yield its events: ``ready`` first, ``done`` last.
        A fatal error is raised (a domain error; :class:`ClientGone` when the audio iterator says so). Closing
        the iterator early cancels the ASR call and saves nothing."""
        settings = self.live.settings
        yield {
            "type": "ready",
            "session_id": self.session_id,
            "request_id": self.request_id,
            "idle_timeout_s": settings.idle_timeout_s,
            "max_duration_s": settings.max_duration_s,
        }
        started = now_ts()
        call = self.gateway.downstream.asr.StreamingRecognize(timeout=settings.max_duration_s * 2 + 300)
        queue = self._queue
        tasks = [
            asyncio.create_task(self._write(call, audio, queue), name=f"live-{self.session_id}-write"),
            asyncio.create_task(self._read(call, queue), name=f"live-{self.session_id}-read"),
        ]
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
            yield await self._done(started)
        finally:
            call.cancel()
            pending = [*tasks, *self._translations]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            self.recording.close()

    # -- the two halves of the ASR call --------------------------------------------------------------------

    async def _write(
        self,
        call: Any,
        audio: AsyncIterator[bytes],
        queue: asyncio.Queue[Event | BaseException | None],
    ) -> None:
        """Config, then the client's chunks (recorded on the way), then half-close; a client error or the idle
        timeout cancels the call and is queued for the consumer."""
        settings = self.live.settings
        max_frame = settings.max_frame_kb * 1024
        try:
            await call.write(asr_pb.StreamingRecognizeRequest(streaming_config=streaming_config(self.options)))
            # The ASR service answers a config it refuses with a status at once. Audio written while that status is
            # on its way makes grpc replace it with INTERNAL "Internal error from Core", so give it a moment first.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(call.code(), SETUP_WAIT_S)
                return  # the call has ended: the reader reports how
            chunks = aiter(audio)
            while True:
                try:
                    chunk = await asyncio.wait_for(anext(chunks), settings.idle_timeout_s)
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    raise DeadlineExceededError(
                        f"no audio for {settings.idle_timeout_s:g} s; send audio frames at least that often, "
                        "or stop the stream"
                    ) from None
                if len(chunk) > max_frame:
                    raise InvalidArgumentError(
                        f"an audio frame of {len(chunk)} bytes; frames are limited to {settings.max_frame_kb} KiB"
                    )
                kept = self.recording.add(chunk)
                if kept:
                    await call.write(asr_pb.StreamingRecognizeRequest(audio_content=kept))
                if self.recording.full:
                    self.reason = "max_duration"
                    logger.info("live stream %s reached its duration limit; stopping it", self.session_id)
                    break
            await call.done_writing()
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError, grpc.aio.UsageError):
            return  # the call has ended: the reader reports how
        except Exception as exc:  # the client's error (or ClientGone), the idle timeout
            self._failure = exc
            call.cancel()
            await queue.put(exc)

    async def _read(self, call: Any, queue: asyncio.Queue[Event | BaseException | None]) -> None:
        """The ASR responses as events; at the end of the call, the translations still running, then the end."""
        try:
            while (response := await call.read()) is not EOF:
                for event in self._map(response):
                    await queue.put(event)
        except grpc.aio.AioRpcError as exc:
            if self._failure is None:
                await queue.put(to_domain_error(exc, "asr"))
            return
        if self._translations:
            await asyncio.gather(*self._translations, return_exceptions=True)
        await queue.put(None)

    def _map(self, response: asr_pb.StreamingRecognizeResponse) -> list[Event]:
        events: list[Event] = []
        if response.HasField("speech_event"):
            kind = response.speech_event.type
            offset_ms = response.speech_event.offset_ms
            self.last_offset_ms = max(self.last_offset_ms, offset_ms)
            if kind == asr_pb.SPEECH_EVENT_TYPE_SPEECH_ACTIVITY_BEGIN:
                events.append({"type": "speech_start", "offset_s": offset_ms / 1000})
            elif kind == asr_pb.SPEECH_EVENT_TYPE_SPEECH_ACTIVITY_END:
                events.append({"type": "speech_end", "offset_s": offset_ms / 1000})
        partial = [r for r in response.results if not r.is_final]
        if partial:
            first = partial[0]
            events.append(
                {
                    "type": "partial",
                    "utterance": first.utterance_index,
                    "text": " ".join(r.text.strip() for r in partial if r.text.strip()),
                    "stable_text": " ".join(r.text.strip() for r in partial if r.stability >= 0.5 and r.text.strip()),
                    "stability": round(min(r.stability for r in partial), 3),
                    "start_s": first.start_ms / 1000,
                    "end_s": max(r.end_ms for r in partial) / 1000,
                }
            )
        for result in response.results:
            if result.is_final:
                events.append(self._final(result))
        return events

    def _final(self, result: asr_pb.StreamingRecognitionResult) -> Event:
        self.last_offset_ms = max(self.last_offset_ms, result.end_ms)
        segment = audio_pb2.Segment(
            id=len(self.finals),
            start_ms=result.start_ms,
            end_ms=result.end_ms,
            text=result.text,
            words=result.words,
        )
        language = result.language_code or self.options.language
        final = _Final(result.utterance_index, segment, language)
        self.finals.append(final)
        if self.targets and result.text.strip():
            task = asyncio.create_task(self._translate(final))
            self._translations.add(task)
            task.add_done_callback(self._translations.discard)
        return {
            "type": "final",
            "utterance": result.utterance_index,
            "text": result.text.strip(),
            "start_s": result.start_ms / 1000,
            "end_s": result.end_ms / 1000,
            "language": language,
            "words": [
                {
                    "word": w.word.strip(),
                    "start_s": w.start_ms / 1000,
                    "end_s": w.end_ms / 1000,
                    "probability": round(w.probability, 3),
                }
                for w in result.words
            ],
        }

    # -- translations ----------------------------------------------------------------------------------------

    async def _translate(self, final: _Final) -> None:
        """Each target's translation of one final, as ``translation`` events (a failure: a non-fatal error)."""
        text_language = "en" if self.options.task == asr_pb.TASK_TRANSLATE else final.language
        segment = final.segment
        cue = tr_pb.Cue(index=segment.id, start_ms=segment.start_ms, end_ms=segment.end_ms, text=segment.text.strip())
        async with self._translate_gate:
            for code, target in self.targets.items():
                event: Event = {"type": "translation", "utterance": final.index, "language": code}
                if same_language(text_language, code):
                    event.update(text=cue.text, same_language=True)
                    await self._emit(event)
                    continue
                try:
                    translated = await self._speech_to_english(final, code)
                    if translated is None:
                        translated = await self.gateway.pipeline.translate_cues(
                            tr_pb.TranslationConfig(), code, text_language, [cue]
                        )
                except TingError as exc:
                    logger.warning("live translation into %s failed: %s", code, exc)
                    target.failed = True
                    await self._emit(
                        {
                            "type": "error",
                            "code": exc.grpc_code.name,
                            "http_status": exc.http_code,
                            "message": exc.message,
                            "fatal": False,
                            "utterance": final.index,
                            "language": code,
                        }
                    )
                    continue
                for piece in translated.cues:
                    target.cues[segment.id] = piece
                target.engine, target.model = translated.engine, translated.model
                target.method = translated.method or pb.TRANSLATION_METHOD_TEXT
                event["text"] = translated.text
                await self._emit(event)

    async def _speech_to_english(self, final: _Final, code: str) -> pb.TranscriptTranslation | None:
        """English from the utterance's own audio through Whisper's translate task, as the offline pipeline does
        (it works with no text-translation engine); ``None`` where it does not apply (another target, English
        speech, a container stream, a model without the task) or fails, so the text path takes over."""
        if code != "en" or not self.options.pcm or self.options.task == asr_pb.TASK_TRANSLATE:
            return None
        if final.language == "en" or not await self.gateway.pipeline.speech_translation_supported(self.options.model):
            return None
        segment = final.segment
        pcm = self.recording.pcm_slice(segment.start_ms / 1000, segment.end_ms / 1000)
        if not pcm:
            return None
        audio = audio_pb2.AudioSource(
            content=pcm,
            format=audio_pb2.AudioFormat(
                encoding=audio_pb2.AUDIO_ENCODING_LINEAR16,
                sample_rate_hertz=self.options.sample_rate,
                channel_count=self.options.channels,
            ),
        )
        try:
            translated = await self.gateway.pipeline.translate_speech(
                asr_pb.RecognitionConfig(model=self.options.model), final.language, audio
            )
        except TingError as exc:
            logger.info("live speech translation failed (%s); using the translation service", exc)
            return None
        # One cue for the utterance, on the final's times (Whisper may split it).
        text = translated.text.strip()
        del translated.cues[:]
        translated.cues.add(index=segment.id, start_ms=segment.start_ms, end_ms=segment.end_ms, text=text)
        translated.text = text
        return translated

    async def _emit(self, event: Event) -> None:
        # The reader waits for running translations before it ends the queue, so this put always has a reader.
        await self._queue.put(event)

    # -- the end -------------------------------------------------------------------------------------------------

    async def _done(self, started: Any) -> Event:
        duration_s = self.recording.duration_s or self.last_offset_ms / 1000
        LIVE_AUDIO_SECONDS.inc(self.recording.duration_s)
        event: Event = {
            "type": "done",
            "job_id": None,
            "job_url": None,
            "duration_s": round(duration_s, 3),
            "utterances": len(self.finals),
            "reason": self.reason,
        }
        if self.options.save and self.recording.received:
            job = await self._save(started, duration_s)
            event.update(job_id=job.id, job_url=f"/v1/jobs/{job.id}", job_state=await self._settle(job))
        return event

    def _job_config(self) -> pb.PipelineConfig:
        config = pb.PipelineConfig(
            recognition=asr_pb.RecognitionConfig(
                model=self.options.model,
                language_code=self.options.language,
                task=self.options.task,  # type: ignore[arg-type]
                enable_word_time_offsets=True,
            )
        )
        if self.options.translate:
            config.translation.target_language_codes.extend(self.options.translate)
        if self.options.summarize:
            config.summary.SetInParent()
        config.output.formats.extend(SAVED_FORMATS)
        return config

    async def _save(self, started: Any, duration_s: float) -> pb.Job:
        """Store the recording and submit the job, transcribed (and translated where that worked)."""
        gateway = self.gateway
        job_id = str(uuid.uuid4())
        file, content_type = self.recording.finish()
        stored = await asyncio.to_thread(gateway.storage.put, f"jobs/{job_id}/input", file, content_type=content_type)
        request = pb.CreateJobRequest(
            config=self._job_config(), display_name=self.options.title, labels={"source": "live"}
        )
        job = gateway.new_job(request, job_id, stored.uri, f"jobs/{job_id}/")
        job.start_time.CopyFrom(started)
        job.audio_duration_ms = round(duration_s * 1000)
        languages = Tally(f.language for f in self.finals if f.language and f.segment.text.strip())
        language = self.options.language or (languages.most_common(1)[0][0] if languages else "")
        segments = [f.segment for f in self.finals]
        job.result.transcript.CopyFrom(
            audio_pb2.Transcript(
                language_code=language,
                language_probability=1.0 if self.options.language else 0.0,
                duration_ms=job.audio_duration_ms,
                text=join_text([s.text for s in segments], language),
                segments=segments,
            )
        )
        now = now_ts()
        for step in job.steps:
            if step.stage == pb.PIPELINE_STAGE_TRANSCRIBING:
                step.model = self.options.model
                step.message = f"{len(segments)} utterances, streamed live"
            elif step.stage == pb.PIPELINE_STAGE_TRANSLATING:
                target = self.targets.get(step.language_code)
                if target is None or target.failed or not target.cues:
                    continue  # the worker translates the whole transcript (or skips a target in its language)
                cues = [target.cues[i] for i in sorted(target.cues)]
                job.result.translations.append(
                    pb.TranscriptTranslation(
                        language_code=step.language_code,
                        cues=cues,
                        text=join_text([c.text for c in cues], step.language_code),
                        method=target.method,
                        engine=target.engine,
                        model=target.model,
                    )
                )
                step.engine, step.model, step.message = target.engine, target.model, "translated live"
            else:
                continue
            step.state = pb.STEP_STATE_SUCCEEDED
            step.progress = 1.0
            step.start_time.CopyFrom(started)
            step.finish_time.CopyFrom(now)
        saved, _ = await gateway.submit(job)
        logger.info("live stream %s saved as job %s", self.session_id, saved.id)
        return saved

    async def _settle(self, job: pb.Job) -> str:
        """Wait (at most ``live.save_wait_s``) until a worker has finished the saved job; its state's name."""
        state = job.state
        if self.gateway.settings.workers > 0:
            events = self.gateway.watch_job(job.id)
            try:
                async with asyncio.timeout(self.live.settings.save_wait_s):
                    async for event in events:
                        state = event.state
            except TimeoutError:
                logger.info("live stream %s: job %s not finished yet; done sent anyway", self.session_id, job.id)
            finally:
                aclose = getattr(events, "aclose", None)
                if aclose is not None:
                    await aclose()
        return pb.JobState.Name(state).removeprefix("JOB_STATE_")
