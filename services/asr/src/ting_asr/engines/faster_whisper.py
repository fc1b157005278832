"""The embedded default engine: faster-whisper (CTranslate2) with packaged Whisper weights.

Models load once (the default at start-up, others on first use) and are shared by all calls;
CTranslate2 runs ``concurrency`` recognitions in parallel (``num_workers``). Decoding yields one
segment at a time, so a stopped call ends after the 30-second window it is decoding.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ting_asr.engines import CallControl, ModelDescription, RecognitionOptions, StopRequested
from ting_asr.models import PACKAGED_MODELS, resolve_model
from ting_common.errors import NotFoundError
from ting_common.transcript import Segment, Transcript, Word

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
WINDOW_FRAMES = 3000  # Whisper's 30 s window in mel frames
QUICK_MAX_SECONDS = 28.0  # quick decodes fit the window with a second to spare
QUICK_TOKENS_PER_SECOND = 10
BATCH_MIN_SECONDS = 30.0  # batched decoding only for audio longer than one window


def cut_loop(text: str) -> tuple[str, bool]:
    """``text`` up to the end of the first round of a repetition loop (a phrase said again at once, or a single word
    three times in a row, ignoring case and punctuation), and whether there was one."""
    words = text.split()
    keys = ["".join(ch for ch in w.lower() if ch.isalnum()) for w in words]
    for i in range(len(keys)):
        for n in range(1, (len(keys) - i) // 2 + 1):
            again = keys[i : i + n] == keys[i + n : i + 2 * n]
            if again and (n > 1 or keys[i + 2 * n : i + 3 * n] == keys[i : i + n]) and any(keys[i : i + n]):
                return " ".join(words[: i + n]), True
    return text, False


TEMPERATURE_FALLBACK = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


def whisper_languages() -> tuple[str, ...]:
    """Language codes Whisper knows (from faster-whisper's tokenizer table)."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return tuple(_LANGUAGE_CODES)


def cuda_available() -> bool:
    """True when CTranslate2 sees a CUDA device."""
    try:
        import ctranslate2

        return bool(ctranslate2.get_cuda_device_count() > 0)
    except Exception:
        return False


class FasterWhisperEngine:
    """:class:`~ting_asr.engines.AsrEngine` on faster-whisper."""

    name = "faster-whisper"

    def __init__(
        self,
        default_model: str = "base",
        *,
        cache_dir: Path,
        device: str = "auto",
        device_index: int = 0,
        compute_type: str = "auto",
        cpu_threads: int = 0,
        concurrency: int = 1,
        batch_size: int = 0,
        allow_model_paths: bool = False,
        preload: tuple[str, ...] = (),
    ) -> None:
        self.cache_dir = cache_dir
        self.device = ("cuda" if cuda_available() else "cpu") if device == "auto" else device
        self.device_index = device_index
        self.compute_type = ("float16" if self.device == "cuda" else "int8") if compute_type == "auto" else compute_type
        self.cpu_threads = cpu_threads
        self.concurrency = concurrency
        self.batch_size = batch_size
        self.allow_model_paths = allow_model_paths
        self._models: dict[str, tuple[Any, bool]] = {}
        self._lock = threading.Lock()
        self._languages = whisper_languages()
        self.default_model, _, _ = resolve_model(default_model, cache_dir, allow_paths=True)
        self._load(default_model, allow_paths=True)
        for extra in preload:
            self._load(extra, allow_paths=True)

    # -- models -------------------------------------------------------------------------------
    def _canonical(self, name: str, *, allow_paths: bool) -> tuple[str, Path, bool]:
        return resolve_model(name or self.default_model, self.cache_dir, allow_paths=allow_paths)

    def _load(self, name: str, *, allow_paths: bool) -> tuple[str, Any, bool]:
        canonical, path, multilingual = self._canonical(name, allow_paths=allow_paths)
        with self._lock:
            if canonical not in self._models:
                from faster_whisper import WhisperModel

                logger.info(
                    "loading model",
                    extra={"model": canonical, "device": self.device, "compute_type": self.compute_type},
                )
                model = WhisperModel(
                    str(path),
                    device=self.device,
                    device_index=self.device_index,
                    compute_type=self.compute_type,
                    cpu_threads=self.cpu_threads,
                    num_workers=self.concurrency,
                    local_files_only=True,
                )
                self._models[canonical] = (model, multilingual)
            model, multilingual = self._models[canonical]
        return canonical, model, multilingual

    def list_models(self) -> list[ModelDescription]:
        names = [self.default_model, *[n for n in PACKAGED_MODELS if n != self.default_model]]
        names += [n for n in self._models if n not in names]
        out = []
        for name in names:
            packaged = PACKAGED_MODELS.get(name)
            multilingual = packaged.multilingual if packaged else self._models.get(name, (None, True))[1]
            out.append(
                ModelDescription(
                    name=name,
                    description=packaged.description if packaged else f"CTranslate2 Whisper model at {name}",
                    multilingual=multilingual,
                    languages=self._languages if multilingual else ("en",),
                    loaded=name in self._models,
                    default=name == self.default_model,
                    engine=self.name,
                    device=self.device,
                    compute_type=self.compute_type,
                )
            )
        return out

    def validate(self, options: RecognitionOptions) -> None:
        from ting_asr.engines.remote import check_options

        _, _, multilingual = self._canonical(options.model, allow_paths=self.allow_model_paths)
        check_options(options, options.model or self.default_model, multilingual, self._languages)

    # -- inference ----------------------------------------------------------------------------
    def transcribe(
        self, audio: npt.NDArray[np.float32], options: RecognitionOptions, control: CallControl
    ) -> Transcript:
        try:
            canonical, model, multilingual = self._load(options.model, allow_paths=self.allow_model_paths)
        except NotFoundError:
            raise
        control.check()
        if options.quick and not options.word_timestamps and audio.size <= QUICK_MAX_SECONDS * SAMPLE_RATE:
            quick = self._quick(model, canonical, multilingual, audio, options)
            if quick is not None or options.beam_size <= 1:
                return quick or Transcript(language=options.language or "", duration=audio.size / SAMPLE_RATE)
            # A final whose quick decode looked like a repetition loop: the full window decides.
        vad_parameters: dict[str, Any] | None = None
        if options.vad_filter:
            vad_parameters = {
                k: v
                for k, v in (
                    ("threshold", options.vad.threshold),
                    ("min_silence_duration_ms", options.vad.min_silence_duration_ms),
                    ("speech_pad_ms", options.vad.speech_pad_ms),
                    ("min_speech_duration_ms", options.vad.min_speech_duration_ms),
                )
                if v is not None
            }
        temperature: float | tuple[float, ...] = (
            TEMPERATURE_FALLBACK if options.temperature is None else options.temperature
        )
        language = options.language if multilingual else "en"
        if self.batch_size > 0 and audio.size > BATCH_MIN_SECONDS * SAMPLE_RATE:
            # Batched decoding of VAD chunks (faster-whisper's BatchedInferencePipeline): the chunks of one long
            # recording go through the model ``batch_size`` at a time, which pays on a GPU. Each chunk is decoded on
            # its own (no conditioning on the previous chunk's text), so the text can differ a little from the
            # sequential decode; off (0) by default. One pipeline per call: it keeps per-call state.
            from faster_whisper import BatchedInferencePipeline

            segments_iter, info = BatchedInferencePipeline(model).transcribe(
                audio,
                language=language,
                task=options.task,
                beam_size=options.beam_size,
                word_timestamps=options.word_timestamps,
                vad_filter=True,
                vad_parameters=vad_parameters,
                initial_prompt=options.initial_prompt,
                temperature=temperature,
                batch_size=self.batch_size,
            )
            return self._collect(segments_iter, info, options, canonical, control)
        segments_iter, info = model.transcribe(
            audio,
            language=language,
            task=options.task,
            beam_size=options.beam_size,
            word_timestamps=options.word_timestamps,
            vad_filter=options.vad_filter,
            vad_parameters=vad_parameters,
            initial_prompt=options.initial_prompt,
            temperature=temperature,
            condition_on_previous_text=options.condition_on_previous_text,
        )
        return self._collect(segments_iter, info, options, canonical, control)

    def _collect(
        self, segments_iter: Any, info: Any, options: RecognitionOptions, canonical: str, control: CallControl
    ) -> Transcript:
        """Turn faster-whisper's lazy segments into a transcript, reporting each and checking the stop flag."""
        segments: list[Segment] = []
        for raw in segments_iter:
            control.check()
            seg = Segment(
                id=len(segments),
                start=float(raw.start),
                end=float(raw.end),
                text=raw.text.strip(),
                words=tuple(
                    Word(float(w.start), float(w.end), w.word, float(w.probability)) for w in (raw.words or ())
                ),
                avg_logprob=float(raw.avg_logprob),
                no_speech_prob=float(raw.no_speech_prob),
                compression_ratio=float(raw.compression_ratio),
                temperature=float(raw.temperature or 0.0),
            )
            segments.append(seg)
            if control.on_segment is not None:
                control.on_segment(seg, float(raw.end))
        control.check()
        candidates = tuple((lang, float(p)) for lang, p in (info.all_language_probs or [])[:5])
        return Transcript(
            language=info.language,
            language_probability=float(info.language_probability),
            duration=float(info.duration),
            segments=tuple(segments),
            task=options.task,
            model=canonical,
            language_candidates=candidates,
        )

    def _quick(
        self,
        model: Any,
        canonical: str,
        multilingual: bool,
        audio: npt.NDArray[np.float32],
        options: RecognitionOptions,
    ) -> Transcript | None:
        """Decode (``options.beam_size``) with the encoder run over the audio's own length, rounded up to whole
        seconds plus one, instead of Whisper's 30 s window (as whisper.cpp's ``audio_ctx``): on a few seconds of
        audio 3-10x cheaper, with nearly the same text. No timestamps, no temperature fallback; ``None`` when the
        text looks like a repetition loop."""
        from faster_whisper.tokenizer import Tokenizer

        features = model.feature_extractor(audio)  # (n_mels, frames), 100 frames a second
        frames = min(WINDOW_FRAMES, (features.shape[1] // 100 + 2) * 100)
        padded = np.zeros((features.shape[0], frames), dtype=np.float32)
        used = min(frames, features.shape[1])
        padded[:, :used] = features[:, :used]
        encoded = model.encode(padded)
        language = options.language if multilingual else "en"
        probability = 1.0
        if language is None:
            token, probability = model.model.detect_language(encoded)[0][0]
            language = token[2:-2]  # "<|es|>"
        tokenizer = Tokenizer(model.hf_tokenizer, multilingual, task=options.task, language=language)
        previous = tokenizer.encode(" " + options.initial_prompt.strip()) if options.initial_prompt else []
        prompt = model.get_prompt(tokenizer, previous, without_timestamps=True)
        duration = audio.size / SAMPLE_RATE
        # Short windows invite Whisper's repetition loops: the length is bounded by the audio's (speech is well
        # under QUICK_TOKENS_PER_SECOND), and a loop is cut after its first round (an interim) or sends a final to
        # the full window.
        budget = len(prompt) + int(QUICK_TOKENS_PER_SECOND * duration) + 8
        result = model.model.generate(
            encoded,
            [prompt],
            beam_size=max(1, options.beam_size),
            max_length=min(model.max_length, budget),
            suppress_blank=True,
            suppress_tokens=[-1],
        )[0]
        text = tokenizer.decode([t for t in result.sequences_ids[0] if t < tokenizer.eot]).strip()
        text, looped = cut_loop(text)
        if looped and options.beam_size > 1:
            return None
        segments = (Segment(id=0, start=0.0, end=duration, text=text),) if text else ()
        return Transcript(
            language=language,
            language_probability=float(probability),
            duration=duration,
            segments=segments,
            task=options.task,
            model=canonical,
        )

    def close(self) -> None:
        with self._lock:
            self._models.clear()


__all__ = ["FasterWhisperEngine", "StopRequested", "whisper_languages"]
