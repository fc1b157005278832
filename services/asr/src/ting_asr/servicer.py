"""``ting.asr.v1.AsrService``: protocol only — validation, proto <-> domain, scheduling, errors.

Inference runs on a bounded thread pool (``concurrency`` workers, at most ``max_queue`` waiting),
off the event loop. A call that is cancelled or runs past its deadline sets its stop flag; the
engine checks it between decoded windows, so the worker is freed within one window.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import numpy as np
import numpy.typing as npt
from prometheus_client import Counter, Gauge

from ting.asr.v1 import asr_service_pb2 as asr_pb2
from ting.asr.v1 import asr_service_pb2_grpc as asr_grpc
from ting.audio.v1 import audio_pb2
from ting_asr.config import AsrSettings
from ting_asr.convert import diarization_from_proto, model_to_proto, options_from_proto, task_to_proto
from ting_asr.diarization.assign import assign_speakers, speaker_stats
from ting_asr.diarization.slot import DiarizerSlot
from ting_asr.engines import AsrEngine, CallControl, RecognitionOptions, StopRequested
from ting_asr.stream_audio import StreamDecoder, stream_decoder
from ting_asr.streaming import (
    INTERIM_STABILITY,
    UNSTABLE_STABILITY,
    DecodeGate,
    SpeechEvent,
    StreamEvent,
    StreamingSession,
    StreamOptions,
    VadModel,
    silero_model,
)
from ting_common.audio import AudioEncoding, AudioLimits, DecodedAudio, decode_audio
from ting_common.errors import (
    CancelledError,
    InvalidArgumentError,
    OutOfRangeError,
    ResourceExhaustedError,
    UnimplementedError,
)
from ting_common.log import request_id_var
from ting_common.sources import read_audio_source
from ting_common.transcript import Segment, Transcript, Word
from ting_common.transcript_proto import segment_to_proto, to_ms, transcript_to_proto, word_to_proto
from ting_common.workers import BoundedPool

logger = logging.getLogger(__name__)


ACTIVE = Gauge("ting_asr_inference_active", "Recognitions running on the engine now.")
QUEUED = Gauge("ting_asr_inference_queued", "Recognitions waiting for an engine worker.")
AUDIO_SECONDS = Counter("ting_asr_audio_seconds_total", "Seconds of audio recognized.", ["task"])
STREAMS_ACTIVE = Gauge("ting_asr_streams_active", "StreamingRecognize calls open now.")
# A stream's audio chunk is decoded this many bytes at a time (64 KiB of Opus at 6 kb/s is ~90 s of audio).
_STREAM_PIECE_BYTES = 64 * 1024


class AsrServicer(asr_grpc.AsrServiceServicer):
    """Implements the AsrService RPCs over an :class:`~ting_asr.engines.AsrEngine`."""

    def __init__(self, settings: AsrSettings, engine: AsrEngine, diarizer: DiarizerSlot | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.diarizer = diarizer if diarizer is not None else DiarizerSlot(settings.diarization)
        self.limits = AudioLimits(
            max_bytes=int(settings.max_audio_mb * 1024 * 1024), max_duration_s=settings.max_audio_duration_s
        )
        self._inference = BoundedPool(
            settings.concurrency, settings.max_queue, name="asr-infer", title="ASR", queued=QUEUED, active=ACTIVE
        )
        self._decode = ThreadPoolExecutor(2, thread_name_prefix="asr-decode")
        self._running = 0
        self._streams = 0
        self._stream_gate = DecodeGate(settings.concurrency)
        self._vad: VadModel | None = None

    def close(self) -> None:
        """Stop the worker pools (after the server stopped)."""
        self._inference.shutdown()
        self._decode.shutdown(wait=False, cancel_futures=True)

    # -- helpers ----------------------------------------------------------------------------
    async def _load_audio(self, source: audio_pb2.AudioSource) -> DecodedAudio:
        fmt = source.format
        if not 0 <= fmt.sample_rate_hertz <= 192_000:
            raise InvalidArgumentError(
                f"audio.format.sample_rate_hertz must be between 8000 and 192000, got {fmt.sample_rate_hertz}"
            )
        if not 0 <= fmt.channel_count <= 32:
            raise InvalidArgumentError(f"audio.format.channel_count must be 1..32, got {fmt.channel_count}")

        def load() -> DecodedAudio:
            audio = read_audio_source(source, storage_root=self.settings.storage_root, max_bytes=self.limits.max_bytes)
            return decode_audio(
                audio.data,
                encoding=audio.encoding,
                sample_rate_hint=fmt.sample_rate_hertz,
                channels_hint=fmt.channel_count,
                limits=self.limits,
            )

        return await asyncio.get_running_loop().run_in_executor(self._decode, load)

    async def _prepare(
        self, config: asr_pb2.RecognitionConfig, audio: audio_pb2.AudioSource
    ) -> tuple[RecognitionOptions, DecodedAudio]:
        """Validate the options (cheap, first) and decode the audio."""
        options = options_from_proto(config, self.settings.default_beam_size)
        self.engine.validate(options)
        diarization = diarization_from_proto(config.diarization, self.settings.diarization_max_speakers)
        if diarization is not None:
            self.diarizer.check()
            options = dataclasses.replace(options, diarization=diarization)
        return options, await self._load_audio(audio)

    async def _infer(self, options: RecognitionOptions, decoded: DecodedAudio, control: CallControl) -> Transcript:
        """Run the engine (then the diarizer, when asked) on the pool; a stop requested by the caller surfaces as
        CANCELLED."""
        samples = decoded.samples
        try:
            transcript = await self._inference.run(lambda: self.engine.transcribe(samples, options, control), control)
            if options.diarization is not None:
                diarization_options = options.diarization
                diarizer = await asyncio.to_thread(self.diarizer.get)
                found = await self._inference.run(
                    lambda: diarizer.diarize(samples, diarization_options, control), control
                )
                transcript = assign_speakers(transcript, found)
        except StopRequested as exc:
            raise CancelledError("the recognition was cancelled") from exc
        AUDIO_SECONDS.labels(options.task).inc(decoded.duration_s)
        return transcript

    def _response(
        self, transcript: Transcript, options: RecognitionOptions, started: float
    ) -> asr_pb2.RecognizeResponse:
        speakers = (
            [
                asr_pb2.SpeakerSummary(label=label, talk_time_ms=to_ms(talk_s), turn_count=turns)
                for label, talk_s, turns in speaker_stats(transcript)
            ]
            if options.diarization is not None
            else []
        )
        return asr_pb2.RecognizeResponse(
            speakers=speakers,
            transcript=transcript_to_proto(transcript),
            metadata=asr_pb2.RecognitionMetadata(
                model=transcript.model,
                engine=self.engine.name,
                processing_ms=round((time.perf_counter() - started) * 1000),
                request_id=request_id_var.get(),
                task=task_to_proto(options.task),  # type: ignore[arg-type]
            ),
        )

    # -- RPCs --------------------------------------------------------------------------------
    async def Recognize(
        self, request: asr_pb2.RecognizeRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> asr_pb2.RecognizeResponse:
        started = time.perf_counter()
        options, decoded = await self._prepare(request.config, request.audio)
        transcript = await self._infer(options, decoded, CallControl())
        return self._response(transcript, options, started)

    async def LongRunningRecognize(
        self, request: asr_pb2.LongRunningRecognizeRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[asr_pb2.LongRunningRecognizeResponse]:
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        updates: asyncio.Queue[tuple[Segment, float]] = asyncio.Queue()

        def on_segment(seg: Segment, done_s: float) -> None:
            loop.call_soon_threadsafe(updates.put_nowait, (seg, done_s))

        # Validate and decode first so errors surface before any progress is sent.
        options, decoded = await self._prepare(request.config, request.audio)
        duration_ms = to_ms(decoded.duration_s)
        yield asr_pb2.LongRunningRecognizeResponse(
            progress=asr_pb2.RecognitionProgress(fraction=0.0, processed_ms=0, duration_ms=duration_ms)
        )
        control = CallControl(on_segment=on_segment)
        task = asyncio.ensure_future(self._infer(options, decoded, control))
        try:
            while not task.done() or not updates.empty():
                getter = asyncio.ensure_future(updates.get())
                await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    getter.cancel()
                    continue
                batch = [getter.result()]
                while not updates.empty():
                    batch.append(updates.get_nowait())
                processed = min(to_ms(batch[-1][1]), duration_ms)
                yield asr_pb2.LongRunningRecognizeResponse(
                    progress=asr_pb2.RecognitionProgress(
                        fraction=processed / duration_ms if duration_ms else 1.0,
                        processed_ms=processed,
                        duration_ms=duration_ms,
                        segments=[segment_to_proto(seg) for seg, _ in batch],
                    )
                )
            transcript = task.result()
        finally:
            if not task.done():
                control.stop.set()
                task.cancel()
        yield asr_pb2.LongRunningRecognizeResponse(result=self._response(transcript, options, started))

    async def StreamingRecognize(
        self,
        request_iterator: AsyncIterator[asr_pb2.StreamingRecognizeRequest],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[asr_pb2.StreamingRecognizeResponse]:
        """Config first, then LINEAR16/FLOAT32 chunks or an Ogg/WebM Opus stream in pieces; see
        :mod:`ting_asr.streaming` and :mod:`ting_asr.stream_audio`.

        Interim responses carry up to two results: the prefix two consecutive hypotheses agree on (stability 0.9),
        then the rest (stability 0.1); joined they are the hypothesis so far. A final carries one result. A stream
        that sends nothing for ``streaming_idle_timeout_s`` ends with OUT_OF_RANGE (like a stream over the
        duration limit: the input broke a stream limit; DEADLINE_EXCEEDED stays the caller's own deadline).
        """
        if self._streams >= self.settings.streaming_max_streams:
            raise ResourceExhaustedError(
                f"this server already serves {self._streams} streams (its limit); retry later or use another replica"
            )
        self._streams += 1
        STREAMS_ACTIVE.inc()
        audio_s = 0.0
        task = "transcribe"
        try:
            requests = aiter(request_iterator)
            first = await self._next_stream_request(requests)
            if first is None:
                return
            if not first.HasField("streaming_config"):
                raise InvalidArgumentError("the first StreamingRecognizeRequest must carry streaming_config, not audio")
            options, decoder = self._stream_setup(first.streaming_config)
            try:
                task = options.recognition.task
                if self._vad is None:
                    self._vad = await asyncio.to_thread(silero_model)
                session = StreamingSession(options, self._recognize_samples, self._stream_gate, self._vad)
                try:
                    async for event in session.run(self._stream_audio(requests, decoder)):
                        yield _stream_response(event)
                finally:
                    audio_s = session.stats.audio_s
            finally:
                decoder.close()
        finally:
            self._streams -= 1
            STREAMS_ACTIVE.dec()
            AUDIO_SECONDS.labels(task).inc(audio_s)

    # -- streaming helpers -------------------------------------------------------------------
    async def _next_stream_request(
        self, requests: AsyncIterator[asr_pb2.StreamingRecognizeRequest]
    ) -> asr_pb2.StreamingRecognizeRequest | None:
        timeout = self.settings.streaming_idle_timeout_s
        try:
            return await asyncio.wait_for(anext(requests), timeout)
        except StopAsyncIteration:
            return None
        except TimeoutError as exc:
            raise OutOfRangeError(
                f"no audio for {timeout:g} s; a stream must send audio at least that often (close it when done)"
            ) from exc

    def _stream_setup(self, config: asr_pb2.StreamingRecognitionConfig) -> tuple[StreamOptions, StreamDecoder]:
        """Validate a streaming config (recognition options, then the audio format)."""
        recognition = options_from_proto(config.config, self.settings.default_beam_size)
        self.engine.validate(recognition)
        if config.config.diarization.enable_speaker_diarization:
            raise UnimplementedError("speaker diarization is not served in streams yet; use Recognize for files")
        s = self.settings
        if config.max_utterance_ms and not 1000 <= config.max_utterance_ms <= s.streaming_max_utterance_ms:
            raise OutOfRangeError(
                f"max_utterance_ms must be between 1000 and {s.streaming_max_utterance_ms} (0 for the default), "
                f"got {config.max_utterance_ms}"
            )
        fmt = config.audio_format
        try:
            encoding = AudioEncoding(fmt.encoding)
        except ValueError as exc:
            raise InvalidArgumentError(f"unknown audio_format.encoding {fmt.encoding}") from exc
        if encoding is AudioEncoding.UNSPECIFIED:
            raise InvalidArgumentError(
                "audio_format.encoding is required for streams: AUDIO_ENCODING_LINEAR16 (or FLOAT32) with "
                "sample_rate_hertz, or AUDIO_ENCODING_OGG_OPUS / AUDIO_ENCODING_WEBM_OPUS"
            )
        decoder = stream_decoder(encoding, fmt.sample_rate_hertz, fmt.channel_count)
        vad = recognition.vad
        options = StreamOptions(
            recognition=recognition,
            interim_results=config.interim_results,
            max_utterance_s=(config.max_utterance_ms or s.streaming_max_utterance_ms) / 1000,
            single_utterance=config.single_utterance,
            interim_interval_s=s.streaming_interim_interval_ms / 1000,
            max_audio_s=s.max_audio_duration_s,
            # The request's VAD settings (RecognitionConfig.vad, range-checked above) over the server's.
            silence_s=(vad.min_silence_duration_ms or s.streaming_silence_ms) / 1000,
            vad_threshold=vad.threshold or s.streaming_vad_threshold,
            **({"speech_pad_s": vad.speech_pad_ms / 1000} if vad.speech_pad_ms else {}),
            **({"min_speech_s": vad.min_speech_duration_ms / 1000} if vad.min_speech_duration_ms else {}),
        )
        return options, decoder

    async def _stream_audio(
        self, requests: AsyncIterator[asr_pb2.StreamingRecognizeRequest], decoder: StreamDecoder
    ) -> AsyncIterator[npt.NDArray[np.float32]]:
        """The audio chunks after the config, as 16 kHz mono; errors for a second config and the idle timeout.

        A large chunk is decoded a piece at a time, so compressed audio expands in bounded steps. A decoder with a
        thread (Ogg/WebM Opus) is driven off the event loop; it is closed however the stream ends."""
        try:
            while (request := await self._next_stream_request(requests)) is not None:
                if request.HasField("streaming_config"):
                    raise InvalidArgumentError("streaming_config may only be sent once, in the first message")
                content = request.audio_content
                for start in range(0, len(content), _STREAM_PIECE_BYTES):
                    piece = content[start : start + _STREAM_PIECE_BYTES]
                    samples = await asyncio.to_thread(decoder.push, piece) if decoder.blocking else decoder.push(piece)
                    if samples.size:
                        yield samples
            tail = await asyncio.to_thread(decoder.flush) if decoder.blocking else decoder.flush()
            if tail.size:
                yield tail
        finally:
            decoder.close()

    async def _recognize_samples(
        self, samples: npt.NDArray[np.float32], options: RecognitionOptions, control: CallControl
    ) -> Transcript:
        try:
            return await self._inference.run(lambda: self.engine.transcribe(samples, options, control), control)
        except StopRequested as exc:
            raise CancelledError("the recognition was cancelled") from exc

    async def ListModels(
        self, request: asr_pb2.ListModelsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> asr_pb2.ListModelsResponse:
        diarization = self.diarizer.enabled
        return asr_pb2.ListModelsResponse(
            models=[model_to_proto(m, diarization=diarization) for m in self.engine.list_models()]
        )


_SPEECH_EVENTS = {
    "begin": asr_pb2.SPEECH_EVENT_TYPE_SPEECH_ACTIVITY_BEGIN,
    "end": asr_pb2.SPEECH_EVENT_TYPE_SPEECH_ACTIVITY_END,
    "end_of_utterance": asr_pb2.SPEECH_EVENT_TYPE_END_OF_UTTERANCE,
}


def _stream_response(event: StreamEvent) -> asr_pb2.StreamingRecognizeResponse:
    request_id = request_id_var.get()
    if isinstance(event, SpeechEvent):
        return asr_pb2.StreamingRecognizeResponse(
            speech_event=asr_pb2.SpeechEvent(type=_SPEECH_EVENTS[event.kind], offset_ms=to_ms(event.offset_s)),
            request_id=request_id,
        )

    def result(text: str, stability: float, words: tuple[Word, ...] = ()) -> asr_pb2.StreamingRecognitionResult:
        return asr_pb2.StreamingRecognitionResult(
            text=text,
            words=[word_to_proto(w) for w in words],
            is_final=event.is_final,
            stability=stability,
            start_ms=to_ms(event.start_s),
            end_ms=to_ms(event.end_s),
            language_code=event.language,
            utterance_index=event.utterance_index,
        )

    if event.is_final:
        results = [result(event.text, 1.0, event.words)]
    else:
        stable = event.stable_text
        rest = event.text.split()[len(stable.split()) :] if stable else event.text.split()
        results = [result(stable, INTERIM_STABILITY)] if stable else []
        if rest:
            results.append(result(" ".join(rest), UNSTABLE_STABILITY))
    return asr_pb2.StreamingRecognizeResponse(results=results, request_id=request_id)
