"""Streaming recognition: one :class:`StreamingSession` per ``StreamingRecognize`` call.

Audio arrives as headerless PCM chunks (LINEAR16 or FLOAT32, 8-48 kHz, interleaved channels) or as an Ogg/Opus or
WebM/Opus stream cut anywhere (a browser's MediaRecorder blobs); :mod:`ting_asr.stream_audio` decodes either to 16 kHz
mono as it arrives, so chunk boundaries leave no clicks and chunk sizes do not matter. The session sees only samples.

Voice activity: Silero VAD (the ONNX model shipped in the faster-whisper wheel, on onnxruntime) scores every 32 ms
frame once, as it arrives, carrying the model's state from frame to frame as a whole-file pass does (so the scores do
not depend on how the audio was chunked); a small state machine with hysteresis (speech at ``threshold``, silence
below ``threshold - 0.15``) turns the scores into utterances, each starting ``preroll_s`` before its first voiced
frame. An utterance ends after ``silence_s`` of silence (less as it grows long: ``min_silence_s`` from
``long_utterance_s`` on, so long speech is cut at its sentence pauses), or is cut at ``max_utterance_s`` (at the
quietest frame of its last two seconds). Its final decode starts early, after ``speculate_s`` of silence, and is
kept if the silence goes on to end the utterance (dropped if speech resumes).

While an utterance grows, every ``interim_interval_s`` the utterance so far is re-decoded cheaply (greedy, no word
times, the encoder run over the utterance's own length rather than Whisper's 30 s window) and sent as an interim
result. Its stable prefix is the words two consecutive hypotheses agree on
(LocalAgreement-2). Interims only run when an engine slot is free and no final waits for one; otherwise they are
dropped (never audio). When the utterance ends it is decoded once with the caller's full settings, conditioned on the
previous final's text, and sent as the final result. When the caller leaves the language to detection, the first
confident final's language is kept for the rest of the stream.

Nothing here imports protobuf: the servicer translates the events below to ``StreamingRecognizeResponse``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Literal, Protocol

import numpy as np
import numpy.typing as npt

from ting_asr.engines import CallControl, RecognitionOptions
from ting_asr.stream_audio import SAMPLE_RATE
from ting_common.errors import OutOfRangeError
from ting_common.transcript import Transcript, Word

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
FRAME: Final = 512  # Silero's frame at 16 kHz (32 ms)
_CONTEXT: Final = 64  # samples of the previous frame Silero sees
# Language detection locks onto the language of the first final at least this long and this sure.
LOCK_LANGUAGE_MIN_S: Final = 1.5
LOCK_LANGUAGE_MIN_PROBABILITY: Final = 0.6
FIRST_INTERIM_VOICE_S: Final = 0.4  # voice before the first interim (Whisper makes up words on less)
INTERIM_STABILITY: Final = 0.9
UNSTABLE_STABILITY: Final = 0.1

Recognizer = Callable[[FloatArray, RecognitionOptions, CallControl], Awaitable[Transcript]]


# -- domain types -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StreamOptions:
    """Validated options of one stream (the servicer fills them from the config and the server settings)."""

    recognition: RecognitionOptions
    interim_results: bool = True
    max_utterance_s: float = 15.0
    single_utterance: bool = False
    silence_s: float = 0.6  # the pause that ends a short utterance ...
    min_silence_s: float = 0.3  # ... and, shortening with the utterance's length, the one that ends a long one
    long_utterance_s: float = 8.0  # the length from which ``min_silence_s`` is enough
    interim_interval_s: float = 0.7
    vad_threshold: float = 0.5
    speech_pad_s: float = 0.2  # audio kept after the last voiced frame
    preroll_s: float = 0.5  # audio kept before the first voiced frame: Whisper mishears a word cut at its onset
    speculate_s: float = 0.25  # silence after which the final decode starts, before the utterance is known to end
    min_speech_s: float = 0.25
    max_audio_s: float = 4 * 3600.0


@dataclass(frozen=True)
class SpeechEvent:
    """Voice activity: ``begin`` / ``end`` of speech, or ``end_of_utterance`` (a forced cut, or single utterance)."""

    kind: Literal["begin", "end", "end_of_utterance"]
    offset_s: float


@dataclass(frozen=True)
class StreamResult:
    """An interim or final hypothesis of one utterance; times are seconds from the start of the stream."""

    text: str
    is_final: bool
    start_s: float
    end_s: float
    utterance_index: int
    language: str
    stable_text: str = ""  # interims: the prefix two consecutive hypotheses agree on
    words: tuple[Word, ...] = ()


StreamEvent = SpeechEvent | StreamResult


@dataclass
class StreamStats:
    """Counters of one stream (logged at its end, read by tests)."""

    interims: int = 0
    dropped_interims: int = 0
    finals: int = 0
    audio_s: float = 0.0


class OnnxSession(Protocol):
    """The part of ``onnxruntime.InferenceSession`` the VAD uses."""

    def run(self, output_names: None, input_feed: dict[str, FloatArray]) -> list[FloatArray]: ...


class VadModel(Protocol):
    """Silero VAD as faster-whisper loads it (``SileroVADModel``): one ONNX session shared by every stream."""

    session: OnnxSession


def silero_model() -> VadModel:
    """The Silero VAD model inside the faster-whisper wheel (loaded once per process)."""
    from faster_whisper.vad import get_vad_model

    model: VadModel = get_vad_model()
    return model


class SileroStream:
    """Speech probability of each ``FRAME``-sample frame of one stream.

    The model's LSTM state and the 64-sample context of the previous frame are carried from call to call, so a
    frame's score is the one a whole-file pass gives it, however the audio was chunked. (faster-whisper's
    ``SileroVADModel.__call__`` starts from a zero state on every call: fine for a file, wrong for a stream.)
    """

    def __init__(self, model: VadModel) -> None:
        self._session = model.session
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)

    def __call__(self, frames: FloatArray) -> FloatArray:
        """Score ``frames`` (a multiple of ``FRAME`` samples, following the previous call's)."""
        batch = frames.reshape(-1, FRAME)
        context = np.concatenate([self._context[None, :], batch[:-1, -_CONTEXT:]])
        out, self._h, self._c = self._session.run(
            None, {"input": np.concatenate([context, batch], axis=1), "h": self._h, "c": self._c}
        )
        self._context = batch[-1, -_CONTEXT:].copy()
        return np.asarray(out, dtype=np.float32).reshape(-1)


# -- scheduling ---------------------------------------------------------------------------------------------
class DecodeGate:
    """Engine slots shared by every stream of a server: finals wait for one (first come, first served), interims
    only take a free one when no final waits."""

    def __init__(self, slots: int) -> None:
        self._free = slots
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def try_interim(self) -> bool:
        """Take a slot for an interim decode when one is free and no final waits; the caller must ``release``."""
        if self._waiters or self._free == 0:
            return False
        self._free -= 1
        return True

    @contextlib.asynccontextmanager
    async def final(self) -> AsyncIterator[None]:
        """Hold a slot for a final decode (waits, ahead of any new interim)."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
        else:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter  # release() hands its slot over: _free is not incremented for us
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self.release()  # the slot was handed to us as we were cancelled: pass it on
                else:
                    with contextlib.suppress(ValueError):  # release() may have dropped it already
                        self._waiters.remove(waiter)
                raise
        try:
            yield
        finally:
            self.release()

    def release(self) -> None:
        """Give a slot back: to the first waiting final, else to the pool."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1

    @property
    def free(self) -> int:
        return self._free


def agreed_prefix(previous: str, current: str) -> str:
    """The words ``previous`` and ``current`` share from the start (LocalAgreement-2), ignoring case and
    punctuation when comparing; the words are returned as ``current`` spells them."""

    def key(word: str) -> str:
        return "".join(ch for ch in word.lower() if ch.isalnum())

    out: list[str] = []
    for a, b in zip(previous.split(), current.split(), strict=False):
        if key(a) != key(b):
            break
        out.append(b)
    return " ".join(out)


def transcript_text(transcript: Transcript) -> str:
    return " ".join(seg.text.strip() for seg in transcript.segments if seg.text.strip())


# -- the session --------------------------------------------------------------------------------------------
_END: Final = object()
_MAX_PENDING_CHUNKS: Final = 1024  # decoded chunks waiting for the session (one gRPC message each)


def _consume(task: asyncio.Task[Transcript]) -> None:
    """Retrieve a speculative decode's outcome, so a stale one that failed logs nothing as 'never retrieved'."""
    if not task.cancelled() and task.exception() is not None:
        logger.debug("early final decode failed", exc_info=task.exception())


class StreamingSession:
    """VAD, interim and final decoding of one stream; see the module docstring."""

    def __init__(
        self, options: StreamOptions, recognize: Recognizer, gate: DecodeGate, vad: VadModel | None = None
    ) -> None:
        self.options = options
        self.stats = StreamStats()
        self._recognize = recognize
        self._gate = gate
        self._scorer = SileroStream(vad if vad is not None else silero_model())
        self._events: asyncio.Queue[StreamEvent | object | BaseException] = asyncio.Queue()
        # Audio kept from absolute sample ``_base`` on: the current utterance plus some pre-roll.
        self._buffer = np.zeros(0, dtype=np.float32)
        self._base = 0
        self._received = 0
        self._scored = 0  # absolute index of the next frame to score
        # Utterance state.
        self._in_speech = False
        self._utt_start = 0
        self._last_voice = 0
        self._silence = 0
        self._voiced = 0
        self._probs: list[tuple[int, float]] = []
        self._utt_index = 0
        self._last_interim = 0
        self._previous_hypothesis = ""
        self._previous_final = options.recognition.initial_prompt or ""
        self._interim: asyncio.Task[None] | None = None
        self._interim_dropped = False  # the due interim could not start (engine busy): retried on the next chunk
        # A final decode started early, in the silence that may end the utterance: (end sample, task).
        self._speculative: tuple[int, asyncio.Task[Transcript]] | None = None
        self._done = False
        rec = options.recognition
        # Without word times a final is decoded over the utterance's own length (see RecognitionOptions.quick).
        self._final_options = dataclasses.replace(
            rec, vad_filter=False, condition_on_previous_text=False, quick=not rec.word_timestamps
        )
        self._interim_options = dataclasses.replace(
            rec,
            vad_filter=False,
            condition_on_previous_text=False,
            beam_size=1,
            word_timestamps=False,
            temperature=0.0,
            quick=True,
        )

    # -- public ------------------------------------------------------------------------------
    async def run(self, chunks: AsyncIterator[FloatArray]) -> AsyncIterator[StreamEvent]:
        """Consume 16 kHz chunks and yield events. An error of ``chunks`` (a bad request, the idle timeout) is
        raised after the audio before it has been recognized."""
        # Bounded: while a final decodes, chunks wait here; when it is full, reading stops and gRPC flow control
        # holds the sender back (audio is never dropped, and a stream never buffers without limit).
        audio: asyncio.Queue[FloatArray | object | BaseException] = asyncio.Queue(maxsize=_MAX_PENDING_CHUNKS)

        async def pump() -> None:
            try:
                async for chunk in chunks:
                    await audio.put(chunk)
                await audio.put(_END)
            except Exception as exc:
                await audio.put(exc)

        async def work() -> None:
            try:
                while not self._done:
                    item = await audio.get()
                    if item is _END or isinstance(item, BaseException):
                        await self._flush()
                        if isinstance(item, BaseException):
                            raise item
                        break
                    assert isinstance(item, np.ndarray)
                    await self._push(item)
                await self._await_interim()
                self._events.put_nowait(_END)
            except Exception as exc:
                self._events.put_nowait(exc)

        pumper = asyncio.ensure_future(pump())
        worker = asyncio.ensure_future(work())
        try:
            while True:
                event = await self._events.get()
                if event is _END:
                    return
                if isinstance(event, BaseException):
                    raise event
                assert isinstance(event, SpeechEvent | StreamResult)
                yield event
        finally:
            speculative = self._speculative[1] if self._speculative else None
            for task in (pumper, worker, self._interim, speculative):
                if task is not None and not task.done():
                    task.cancel()
            logger.info(
                "stream ended",
                extra={
                    "audio_s": round(self.stats.audio_s, 2),
                    "finals": self.stats.finals,
                    "interims": self.stats.interims,
                    "dropped_interims": self.stats.dropped_interims,
                },
            )

    # -- audio and VAD -------------------------------------------------------------------------
    async def _push(self, chunk: FloatArray) -> None:
        self._received += chunk.size
        self.stats.audio_s = self._received / SAMPLE_RATE
        if self.stats.audio_s > self.options.max_audio_s:
            raise OutOfRangeError(
                f"the stream is longer than the {self.options.max_audio_s:g} s this server accepts; start a new stream"
            )
        self._buffer = np.concatenate([self._buffer, chunk])
        end = self._base + self._buffer.size
        count = (end - self._scored) // FRAME
        if count > 0:
            start = self._scored - self._base
            frames = self._buffer[start : start + count * FRAME]
            for i, prob in enumerate(self._scorer(frames)):
                await self._frame(self._scored + i * FRAME, float(prob))
                if self._done:
                    return
            self._scored += count * FRAME
        if self._in_speech:
            self._maybe_interim()
            extra = self._utt_start - self._base
            if extra > 0:  # after a forced cut: the audio before the new utterance is done with
                self._buffer = self._buffer[extra:].copy()
                self._base += extra
        else:
            self._trim()

    async def _frame(self, at: int, prob: float) -> None:
        o = self.options
        threshold = o.vad_threshold
        pad = int(o.speech_pad_s * SAMPLE_RATE)
        if not self._in_speech:
            if prob >= threshold:
                self._in_speech = True
                self._utt_start = max(self._base, at - int(o.preroll_s * SAMPLE_RATE))
                self._last_voice = at + FRAME
                self._silence = self._voiced = 0
                self._probs = []
                self._last_interim = at - int(o.interim_interval_s * SAMPLE_RATE)  # first interim: once voiced
                self._previous_hypothesis = ""
                self._emit(SpeechEvent("begin", at / SAMPLE_RATE))
            return
        self._probs.append((at, prob))
        if prob >= threshold:
            self._silence = 0
            self._voiced += FRAME
            self._last_voice = at + FRAME
            self._speculative = None  # the utterance goes on: an early final decode is stale (it ends unread)
        elif prob < threshold - 0.15:
            self._silence += FRAME
            needed = self._needed_silence(at)
            if self._speculative is None and self._silence >= min(o.speculate_s, needed - 0.1) * SAMPLE_RATE:
                self._speculate(min(self._last_voice + pad, at + FRAME))
            if self._silence >= needed * SAMPLE_RATE:
                self._in_speech = False
                self._emit(SpeechEvent("end", self._last_voice / SAMPLE_RATE))
                await self._finalize(min(self._last_voice + pad, at + FRAME), speech_ended=True)
                return
        if at + FRAME - self._utt_start >= o.max_utterance_s * SAMPLE_RATE:
            # Cut at the quietest frame of the last two seconds, and go on with a new utterance from there.
            recent = [(p, a) for a, p in self._probs if a >= at - 2 * SAMPLE_RATE and a > self._utt_start]
            cut = min(recent)[1] + FRAME // 2 if recent else at + FRAME
            self._emit(SpeechEvent("end_of_utterance", cut / SAMPLE_RATE))
            await self._finalize(cut, speech_ended=False)
            self._utt_start = cut
            self._probs = [(a, p) for a, p in self._probs if a >= cut]
            self._voiced = sum(FRAME for _, p in self._probs if p >= threshold)
            self._last_interim = cut

    def _needed_silence(self, at: int) -> float:
        """Seconds of silence that end the utterance now: ``silence_s`` while it is short, falling linearly to
        ``min_silence_s`` as it grows to ``long_utterance_s`` (a long utterance ends at the next sentence pause,
        rather than running into the ``max_utterance_s`` cut and a slow final)."""
        o = self.options
        floor = min(o.min_silence_s, o.silence_s)
        short = 2.0
        length = (at - self._utt_start) / SAMPLE_RATE
        frac = min(max((length - short) / max(o.long_utterance_s - short, 1e-3), 0.0), 1.0)
        return o.silence_s - frac * (o.silence_s - floor)

    def _trim(self) -> None:
        """Outside speech keep only the pre-roll the next utterance may start with."""
        keep = int(self.options.preroll_s * SAMPLE_RATE) + FRAME
        extra = self._buffer.size - keep
        if extra > 0:
            self._buffer = self._buffer[extra:].copy()
            self._base += extra

    def _audio(self, start: int, end: int) -> FloatArray:
        return self._buffer[max(start - self._base, 0) : max(end - self._base, 0)].copy()

    async def _flush(self) -> None:
        """End of the input: finish the utterance in progress."""
        if self._in_speech and not self._done:
            self._in_speech = False
            end = self._base + self._buffer.size
            if self._speculative is not None:  # silence since it started: its final stands
                end = self._speculative[0]
            self._emit(SpeechEvent("end", min(self._last_voice, end) / SAMPLE_RATE))
            await self._finalize(end, speech_ended=True)

    # -- decoding --------------------------------------------------------------------------------
    def _maybe_interim(self) -> None:
        o = self.options
        now = self._base + self._buffer.size
        if not o.interim_results or now - self._last_interim < o.interim_interval_s * SAMPLE_RATE:
            return
        if self._voiced < max(o.min_speech_s, FIRST_INTERIM_VOICE_S) * SAMPLE_RATE or self._silence > 0:
            return  # too little voice yet, or the utterance may be ending: leave the engine to its final
        if (self._interim is not None and not self._interim.done()) or not self._gate.try_interim():
            # Busy: this interim is dropped (counted once) and the next chunk tries again.
            if not self._interim_dropped:
                self.stats.dropped_interims += 1
                self._interim_dropped = True
            return
        self._interim_dropped = False
        self._last_interim = now
        task = asyncio.ensure_future(self._run_interim(self._audio(self._utt_start, now), self._utt_start, now))
        task.add_done_callback(lambda _: self._gate.release())
        self._interim = task

    async def _run_interim(self, audio: FloatArray, start: int, end: int) -> None:
        index = self._utt_index
        options = dataclasses.replace(self._interim_options, initial_prompt=self._previous_final or None)
        try:
            transcript = await self._recognize(audio, options, CallControl())
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("interim decode failed; the final will follow", exc_info=True)
            return
        if index != self._utt_index or self._done:
            return
        text = transcript_text(transcript)
        if not text:
            return
        stable = agreed_prefix(self._previous_hypothesis, text)
        self._previous_hypothesis = text
        self.stats.interims += 1
        self._emit(
            StreamResult(
                text=text,
                is_final=False,
                start_s=start / SAMPLE_RATE,
                end_s=end / SAMPLE_RATE,
                utterance_index=index,
                language=transcript.language,
                stable_text=stable,
            )
        )

    async def _await_interim(self) -> None:
        if self._interim is not None and not self._interim.done():
            with contextlib.suppress(Exception):
                await self._interim

    def _speculate(self, end: int) -> None:
        """Start the final decode of ``[utterance start, end)`` now, in the silence that may end the utterance;
        if the utterance does end there, its final is ready (nearly) when the end is confirmed."""
        start = self._utt_start
        if self._voiced < self.options.min_speech_s * SAMPLE_RATE or end <= start:
            return
        task = asyncio.ensure_future(self._decode_final(self._audio(start, end)))
        task.add_done_callback(_consume)
        self._speculative = (end, task)

    async def _decode_final(self, audio: FloatArray) -> Transcript:
        options = dataclasses.replace(self._final_options, initial_prompt=self._previous_final or None)
        async with self._gate.final():
            return await self._recognize(audio, options, CallControl())

    async def _finalize(self, end: int, *, speech_ended: bool) -> None:
        """Decode ``[utterance start, end)`` with the full settings and emit the final result."""
        speculative, self._speculative = self._speculative, None
        await self._await_interim()
        start = self._utt_start
        voiced = self._voiced
        self._previous_hypothesis = ""
        if voiced < self.options.min_speech_s * SAMPLE_RATE or end <= start:
            return  # a click or a breath: no utterance
        if self.options.single_utterance and speech_ended:
            # As Google's END_OF_SINGLE_UTTERANCE: the client may stop sending now; the final follows.
            self._emit(SpeechEvent("end_of_utterance", end / SAMPLE_RATE))
        if speculative is not None and speculative[0] == end:
            transcript = await speculative[1]
        else:
            transcript = await self._decode_final(self._audio(start, end))
        text = transcript_text(transcript)
        if not text:
            return
        offset = start / SAMPLE_RATE
        words = tuple(
            dataclasses.replace(w, start=round(w.start + offset, 3), end=round(w.end + offset, 3))
            for seg in transcript.segments
            for w in seg.words
        )
        self._emit(
            StreamResult(
                text=text,
                is_final=True,
                start_s=offset,
                end_s=end / SAMPLE_RATE,
                utterance_index=self._utt_index,
                language=transcript.language,
                stable_text=text,
                words=words if self.options.recognition.word_timestamps else (),
            )
        )
        self.stats.finals += 1
        self._utt_index += 1
        self._previous_final = text[-400:]
        self._maybe_lock_language(transcript, (end - start) / SAMPLE_RATE)
        if self.options.single_utterance:
            self._done = True

    def _maybe_lock_language(self, transcript: Transcript, seconds: float) -> None:
        """With language detection on, keep the language of the first confident final for the rest of the stream:
        a short utterance alone is easily misheard as another language."""
        if self._final_options.language is not None or not transcript.language:
            return
        if seconds >= LOCK_LANGUAGE_MIN_S and transcript.language_probability >= LOCK_LANGUAGE_MIN_PROBABILITY:
            self._final_options = dataclasses.replace(self._final_options, language=transcript.language)
            self._interim_options = dataclasses.replace(self._interim_options, language=transcript.language)

    def _emit(self, event: StreamEvent) -> None:
        self._events.put_nowait(event)
