"""Streaming recognition: one :class:`StreamingSession` per ``StreamingRecognize`` call.

Audio arrives as headerless PCM chunks (LINEAR16 or FLOAT32, 8-48 kHz, interleaved channels). It is downmixed and
resampled to 16 kHz mono with libswresample, which keeps its filter state between chunks, so chunk boundaries leave no
clicks and chunk sizes do not matter.

Voice activity: Silero VAD (the ONNX model shipped in the faster-whisper wheel, on onnxruntime) scores every 32 ms
frame once, as it arrives, with the previous frame's tail as context; a small state machine with hysteresis (speech
at ``threshold``, silence below ``threshold - 0.15``) turns the scores into utterances. An utterance ends after
``silence_s`` of silence, or is cut at ``max_utterance_s`` (at the quietest frame of its last two seconds).

While an utterance grows, every ``interim_interval_s`` the utterance so far is re-decoded cheaply (greedy, no word
times) and sent as an interim result. Its stable prefix is the words two consecutive hypotheses agree on
(LocalAgreement-2). Interims only run when an engine slot is free and no final waits for one; otherwise they are
dropped (never audio). When the utterance ends it is decoded once with the caller's full settings, conditioned on the
previous final's text, and sent as the final result.

Nothing here imports protobuf: the servicer translates the events below to ``StreamingRecognizeResponse``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Literal, Protocol

import numpy as np
import numpy.typing as npt
from av.audio.frame import AudioFrame
from av.audio.resampler import AudioResampler

from ting_asr.engines import CallControl, RecognitionOptions
from ting_common.audio import AudioEncoding
from ting_common.errors import InvalidArgumentError, OutOfRangeError, UnimplementedError
from ting_common.transcript import Transcript, Word

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
SAMPLE_RATE: Final = 16_000
FRAME: Final = 512  # Silero's frame at 16 kHz (32 ms)
_CONTEXT: Final = 64  # samples of the previous frame Silero sees
MIN_SAMPLE_RATE: Final = 8_000
MAX_SAMPLE_RATE: Final = 48_000
MAX_CHANNELS: Final = 8
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
    silence_s: float = 0.6
    interim_interval_s: float = 0.7
    vad_threshold: float = 0.5
    speech_pad_s: float = 0.2
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


# -- audio --------------------------------------------------------------------------------------------------
class PcmDecoder:
    """Headerless PCM chunks -> 16 kHz mono float32, with state across chunks (partial frames, resampler)."""

    def __init__(self, encoding: AudioEncoding, sample_rate: int, channels: int) -> None:
        if encoding not in (AudioEncoding.LINEAR16, AudioEncoding.FLOAT32):
            raise UnimplementedError(
                f"streaming accepts LINEAR16 or FLOAT32 PCM chunks; {encoding.name} is not served in streams yet "
                "(send Ogg/WebM Opus files to Recognize, or decode to LINEAR16 first)"
            )
        if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
            raise InvalidArgumentError(
                f"audio_format.sample_rate_hertz must be between {MIN_SAMPLE_RATE} and {MAX_SAMPLE_RATE} for "
                f"streaming, got {sample_rate}"
            )
        if not 1 <= channels <= MAX_CHANNELS:
            raise InvalidArgumentError(f"audio_format.channel_count must be 1..{MAX_CHANNELS}, got {channels}")
        self._dtype = np.dtype("<i2") if encoding is AudioEncoding.LINEAR16 else np.dtype("<f4")
        self._frame_bytes = self._dtype.itemsize * channels
        self._channels = channels
        self._rate = sample_rate
        self._pending = b""
        self._pts = 0
        self._resampler = (
            None if sample_rate == SAMPLE_RATE else AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        )

    def push(self, data: bytes) -> FloatArray:
        """Decode one chunk; bytes of an incomplete sample frame wait for the next chunk."""
        data = self._pending + data
        usable = len(data) - len(data) % self._frame_bytes
        self._pending = data[usable:]
        if usable == 0:
            return np.zeros(0, dtype=np.float32)
        raw = np.frombuffer(data[:usable], dtype=self._dtype).reshape(-1, self._channels)
        scale = 32768.0 if self._dtype.kind == "i" else 1.0
        mono = (raw.astype(np.float32).mean(axis=1) / scale).astype(np.float32)
        return self._resample(mono)

    def flush(self) -> FloatArray:
        """The resampler's last samples, at the end of the stream."""
        if self._resampler is None:
            return np.zeros(0, dtype=np.float32)
        return self._collect(self._resampler.resample(None))

    def _resample(self, mono: FloatArray) -> FloatArray:
        if self._resampler is None:
            return np.clip(mono, -1.0, 1.0)
        frame = AudioFrame.from_ndarray(mono.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = self._rate
        frame.pts = self._pts
        self._pts += mono.size
        return self._collect(self._resampler.resample(frame))

    @staticmethod
    def _collect(frames: list[AudioFrame]) -> FloatArray:
        if not frames:
            return np.zeros(0, dtype=np.float32)
        out = np.concatenate([np.asarray(f.to_ndarray(), dtype=np.float32).reshape(-1) for f in frames])
        clipped: FloatArray = np.clip(out, -1.0, 1.0)
        return clipped


class FrameScorer(Protocol):
    """Speech probability of each ``FRAME``-sample frame (Silero's ``SileroVADModel`` fits)."""

    def __call__(self, audio: FloatArray, num_samples: int = ..., context_size_samples: int = ...) -> FloatArray: ...


def silero_scorer() -> FrameScorer:
    """The Silero VAD model inside the faster-whisper wheel (loaded once per process)."""
    from faster_whisper.vad import get_vad_model

    model: FrameScorer = get_vad_model()
    return model


# -- scheduling ---------------------------------------------------------------------------------------------
class DecodeGate:
    """Engine slots shared by every stream of a server: finals wait for one, interims only take a free one."""

    def __init__(self, slots: int) -> None:
        self._slots = asyncio.Semaphore(slots)
        self._finals_waiting = 0

    def try_interim(self) -> bool:
        """Take a slot for an interim decode when one is free and no final waits; the caller must ``release``."""
        if self._finals_waiting or self._slots.locked():
            return False
        # A free slot and no waiter: acquire() would not suspend, so take it synchronously.
        self._slots._value -= 1
        return True

    @contextlib.asynccontextmanager
    async def final(self) -> AsyncIterator[None]:
        """Hold a slot for a final decode (waits, ahead of any new interim)."""
        self._finals_waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._finals_waiting -= 1
        try:
            yield
        finally:
            self._slots.release()

    def release(self) -> None:
        self._slots.release()


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


class StreamingSession:
    """VAD, interim and final decoding of one stream; see the module docstring."""

    def __init__(
        self, options: StreamOptions, recognize: Recognizer, gate: DecodeGate, scorer: FrameScorer | None = None
    ) -> None:
        self.options = options
        self.stats = StreamStats()
        self._recognize = recognize
        self._gate = gate
        self._scorer = scorer if scorer is not None else silero_scorer()
        self._events: asyncio.Queue[StreamEvent | object | BaseException] = asyncio.Queue()
        # Audio kept from absolute sample ``_base`` on: the current utterance plus some pre-roll.
        self._buffer = np.zeros(0, dtype=np.float32)
        self._base = 0
        self._received = 0
        self._scored = 0  # absolute index of the next frame to score
        self._last_frame = np.zeros(FRAME, dtype=np.float32)
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
        self._done = False
        rec = options.recognition
        self._final_options = dataclasses.replace(rec, vad_filter=False, condition_on_previous_text=False)
        self._interim_options = dataclasses.replace(
            rec, vad_filter=False, condition_on_previous_text=False, beam_size=1, word_timestamps=False, temperature=0.0
        )

    # -- public ------------------------------------------------------------------------------
    async def run(self, chunks: AsyncIterator[FloatArray]) -> AsyncIterator[StreamEvent]:
        """Consume 16 kHz chunks and yield events. An error of ``chunks`` (a bad request, the idle timeout) is
        raised after the audio before it has been recognized."""
        audio: asyncio.Queue[FloatArray | object | BaseException] = asyncio.Queue()

        async def pump() -> None:
            try:
                async for chunk in chunks:
                    audio.put_nowait(chunk)
                audio.put_nowait(_END)
            except Exception as exc:
                audio.put_nowait(exc)

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
            for task in (pumper, worker, self._interim):
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
            # Score with the previous frame first so the first new frame sees its real context; drop its score.
            probs = self._scorer(np.concatenate([self._last_frame, frames]), FRAME, _CONTEXT)[1:]
            self._last_frame = frames[-FRAME:].copy()
            for i, prob in enumerate(np.asarray(probs, dtype=np.float32).reshape(-1)):
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
                self._utt_start = max(self._base, at - pad)
                self._last_voice = at + FRAME
                self._silence = self._voiced = 0
                self._probs = []
                self._last_interim = at
                self._previous_hypothesis = ""
                self._emit(SpeechEvent("begin", at / SAMPLE_RATE))
            return
        self._probs.append((at, prob))
        if prob >= threshold:
            self._silence = 0
            self._voiced += FRAME
            self._last_voice = at + FRAME
        elif prob < threshold - 0.15:
            self._silence += FRAME
            if self._silence >= o.silence_s * SAMPLE_RATE:
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

    def _trim(self) -> None:
        """Outside speech keep only the pre-roll the next utterance may start with."""
        keep = int(self.options.speech_pad_s * SAMPLE_RATE) + FRAME
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
            self._emit(SpeechEvent("end", min(self._last_voice, end) / SAMPLE_RATE))
            await self._finalize(end, speech_ended=True)

    # -- decoding --------------------------------------------------------------------------------
    def _maybe_interim(self) -> None:
        o = self.options
        now = self._base + self._buffer.size
        if not o.interim_results or now - self._last_interim < o.interim_interval_s * SAMPLE_RATE:
            return
        if self._voiced < o.min_speech_s * SAMPLE_RATE:
            return
        self._last_interim = now
        if (self._interim is not None and not self._interim.done()) or not self._gate.try_interim():
            self.stats.dropped_interims += 1
            return
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

    async def _finalize(self, end: int, *, speech_ended: bool) -> None:
        """Decode ``[utterance start, end)`` with the full settings and emit the final result."""
        await self._await_interim()
        start = self._utt_start
        voiced = self._voiced
        self._previous_hypothesis = ""
        if voiced < self.options.min_speech_s * SAMPLE_RATE or end <= start:
            return  # a click or a breath: no utterance
        options = dataclasses.replace(self._final_options, initial_prompt=self._previous_final or None)
        audio = self._audio(start, end)
        async with self._gate.final():
            transcript = await self._recognize(audio, options, CallControl())
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
        if self.options.single_utterance:
            if speech_ended:
                self._emit(SpeechEvent("end_of_utterance", end / SAMPLE_RATE))
            self._done = True

    def _emit(self, event: StreamEvent) -> None:
        self._events.put_nowait(event)
