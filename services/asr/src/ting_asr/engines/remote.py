"""ASR on a model runner: the wire format both runners speak, the runner-side handler and the client-side engine base.

A runner (the Triton python-backend model ``services/asr/runners/triton/whisper``, the BentoML service
``services/asr/runners/bento/service.py``) hosts a :class:`~ting_asr.engines.faster_whisper.FasterWhisperEngine` and
answers two operations, both as one JSON object:

* ``{"op": "transcribe", "options": {...}}`` plus 16 kHz mono float32 audio → a transcript (:func:`transcript_to_wire`);
* ``{"op": "describe"}`` → ``{"engine", "device", "compute_type", "models": [...]}`` (what ``ListModels`` reports).

Failures are ``{"error": {"code", "message"}}`` (:mod:`ting_common.runners`), so an unknown model is NOT_FOUND and
a bad language INVALID_ARGUMENT whichever engine answers. Diarization is not sent: the ASR servicer runs it on the
transcript it gets back, as it does for the in-process engine.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ting_asr.engines import CallControl, ModelDescription, RecognitionOptions, VadOptions
from ting_common.errors import FailedPreconditionError, InvalidArgumentError, TingError, UnavailableError
from ting_common.runners import error_to_wire, parse_answer
from ting_common.transcript import Segment, Transcript, Word

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
_TASKS = ("transcribe", "translate")


# -- options ---------------------------------------------------------------------------------------------------
def options_to_wire(options: RecognitionOptions) -> dict[str, Any]:
    """The recognition options a runner needs (everything but diarization, which stays with the servicer)."""
    out = dataclasses.asdict(dataclasses.replace(options, diarization=None))
    out.pop("diarization")
    return out


def _field(raw: dict[str, Any], name: str, kinds: type | tuple[type, ...], default: Any) -> Any:
    value = raw.get(name, default)
    if value is None or value is default:
        return value
    if isinstance(value, bool) and kinds in (int, float, (int, float)):
        raise InvalidArgumentError(f"option '{name}' must be a number, not {value!r}")
    if not isinstance(value, kinds):
        raise InvalidArgumentError(f"option '{name}' has the wrong type: {type(value).__name__}")
    return value


def options_from_wire(raw: Any) -> RecognitionOptions:
    """:class:`RecognitionOptions` from their JSON form; INVALID_ARGUMENT when a field has the wrong type."""
    if not isinstance(raw, dict):
        raise InvalidArgumentError("'options' must be a JSON object")
    vad_raw = raw.get("vad") or {}
    if not isinstance(vad_raw, dict):
        raise InvalidArgumentError("option 'vad' must be a JSON object")
    vad = VadOptions(
        threshold=_field(vad_raw, "threshold", (int, float), None),
        min_silence_duration_ms=_field(vad_raw, "min_silence_duration_ms", int, None),
        speech_pad_ms=_field(vad_raw, "speech_pad_ms", int, None),
        min_speech_duration_ms=_field(vad_raw, "min_speech_duration_ms", int, None),
    )
    task = _field(raw, "task", str, "transcribe")
    if task not in _TASKS:
        raise InvalidArgumentError(f"unknown task '{task}'; use transcribe or translate")
    temperature = _field(raw, "temperature", (int, float), None)
    return RecognitionOptions(
        model=_field(raw, "model", str, ""),
        language=_field(raw, "language", str, None) or None,
        task=task,
        word_timestamps=bool(_field(raw, "word_timestamps", bool, False)),
        vad_filter=bool(_field(raw, "vad_filter", bool, False)),
        vad=vad,
        beam_size=int(_field(raw, "beam_size", int, 5)),
        initial_prompt=_field(raw, "initial_prompt", str, None),
        temperature=None if temperature is None else float(temperature),
        condition_on_previous_text=bool(_field(raw, "condition_on_previous_text", bool, True)),
        quick=bool(_field(raw, "quick", bool, False)),
    )


# -- transcripts and models ------------------------------------------------------------------------------------
def transcript_to_wire(transcript: Transcript) -> dict[str, Any]:
    """A transcript as plain JSON (tuples become lists)."""
    return dataclasses.asdict(transcript)


def transcript_from_wire(raw: dict[str, Any]) -> Transcript:
    """The inverse of :func:`transcript_to_wire`."""
    segments = tuple(
        Segment(
            **{k: v for k, v in seg.items() if k != "words"},
            words=tuple(Word(**word) for word in seg.get("words") or ()),
        )
        for seg in raw.get("segments") or ()
    )
    return Transcript(
        **{k: v for k, v in raw.items() if k not in ("segments", "language_candidates", "metadata")},
        segments=segments,
        language_candidates=tuple((str(lang), float(p)) for lang, p in raw.get("language_candidates") or ()),
        metadata=dict(raw.get("metadata") or {}),
    )


def models_to_wire(models: list[ModelDescription]) -> list[dict[str, Any]]:
    """Model descriptions as JSON."""
    return [dataclasses.asdict(m) for m in models]


def models_from_wire(raw: Any) -> list[ModelDescription]:
    """The inverse of :func:`models_to_wire`."""
    if not isinstance(raw, list):
        raise FailedPreconditionError("the model runner's description has no model list")
    return [ModelDescription(**{**m, "languages": tuple(m.get("languages") or ())}) for m in raw]


def check_options(
    options: RecognitionOptions, model_label: str, multilingual: bool, languages: tuple[str, ...]
) -> None:
    """Raise INVALID_ARGUMENT when ``options`` ask a model for what it cannot do (a language it does not know,
    another language or translation from an English-only model). Shared by every engine."""
    if options.language is not None and options.language not in languages:
        raise InvalidArgumentError(
            f"unknown language code '{options.language}'; use an ISO 639-1 code such as en, zh, es, de, fr "
            "(or leave it empty to detect the language)"
        )
    if not multilingual:
        if options.language not in (None, "en"):
            raise InvalidArgumentError(
                f"model '{model_label}' is English-only; it cannot recognize '{options.language}' "
                "(use a multilingual model such as 'base')"
            )
        if options.task == "translate":
            raise InvalidArgumentError(
                f"model '{model_label}' is English-only and cannot translate; use a multilingual model such as 'base'"
            )


# -- runner side -----------------------------------------------------------------------------------------------
class HostedEngine(Protocol):
    """What a runner needs of the engine it hosts (the in-process faster-whisper engine)."""

    name: str
    device: str
    compute_type: str
    concurrency: int

    def list_models(self) -> list[ModelDescription]: ...

    def validate(self, options: RecognitionOptions) -> None: ...

    def transcribe(
        self, audio: npt.NDArray[np.float32], options: RecognitionOptions, control: CallControl
    ) -> Transcript: ...


class RunnerHandler:
    """Answers runner requests with a hosted engine. Never raises: every failure becomes an error answer."""

    def __init__(self, engine: HostedEngine, max_audio_s: float = 4 * 3600.0) -> None:
        self.engine = engine
        self.max_audio_s = max_audio_s

    def describe(self) -> dict[str, Any]:
        """The ``describe`` answer."""
        return {
            "engine": self.engine.name,
            "device": self.engine.device,
            "compute_type": self.engine.compute_type,
            "models": models_to_wire(self.engine.list_models()),
        }

    def handle(self, request: bytes | str, audio: npt.NDArray[np.float32] | None) -> str:
        """One request (its JSON and its audio) → the JSON answer."""
        try:
            return json.dumps(self._handle(request, audio), ensure_ascii=False)
        except Exception as exc:
            if not isinstance(exc, TingError):
                logger.exception("runner request failed")
            return json.dumps(error_to_wire(exc), ensure_ascii=False)

    def _handle(self, request: bytes | str, audio: npt.NDArray[np.float32] | None) -> dict[str, Any]:
        try:
            body = json.loads(request or b"{}")
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidArgumentError(f"the request is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise InvalidArgumentError("the request must be a JSON object")
        op = body.get("op", "transcribe")
        if op == "describe":
            return self.describe()
        if op != "transcribe":
            raise InvalidArgumentError(f"unknown op '{op}'; use transcribe or describe")
        options = options_from_wire(body.get("options") or {})
        samples = np.asarray(audio if audio is not None else (), dtype=np.float32).reshape(-1)
        if samples.size == 0:
            raise InvalidArgumentError("no audio: send 16 kHz mono float32 samples")
        if samples.size > self.max_audio_s * SAMPLE_RATE:
            raise InvalidArgumentError(f"audio longer than this runner's limit of {self.max_audio_s:.0f} s")
        if not np.isfinite(samples).all():
            raise InvalidArgumentError("audio contains NaN or infinite samples")
        self.engine.validate(options)
        transcript = self.engine.transcribe(samples, options, CallControl())
        return transcript_to_wire(transcript)


def transcribe_request(options: RecognitionOptions) -> bytes:
    """The JSON of a ``transcribe`` request."""
    return json.dumps({"op": "transcribe", "options": options_to_wire(options)}, ensure_ascii=False).encode()


DESCRIBE_REQUEST = b'{"op": "describe"}'


# -- client side -----------------------------------------------------------------------------------------------
class RemoteAsrEngine:
    """Base of the runner engines: caches the runner's model list, validates locally where it can, and turns the
    runner's JSON answers into transcripts and domain errors. Subclasses implement :meth:`_call`."""

    name = "remote"
    runner_label = "a model runner"

    def __init__(self) -> None:
        self._described: dict[str, Any] | None = None
        self._lock = threading.Lock()

    # Subclasses: send one request (JSON + optional audio) and return the JSON answer (raising
    # RunnerUnavailableError / UnavailableError when the runner cannot be reached, StopRequested when
    # ``control.stop`` was set while waiting).
    def _call(self, request: bytes, audio: npt.NDArray[np.float32] | None, control: CallControl | None) -> bytes:
        raise NotImplementedError

    def _describe(self, refresh: bool = False) -> dict[str, Any]:
        with self._lock:
            if self._described is None or refresh:
                answer = parse_answer(self._call(DESCRIBE_REQUEST, None, None), self.runner_label)
                models_from_wire(answer.get("models"))  # checks the shape once
                self._described = answer
            return self._described

    def connect(self) -> None:
        """Ask the runner for its models now (start-up); logs and carries on when it is not reachable yet."""
        try:
            self._describe(refresh=True)
        except UnavailableError as exc:
            logger.warning("model runner not reachable yet; will ask again on use", extra={"error": str(exc)})

    def list_models(self) -> list[ModelDescription]:
        described = self._describe()
        suffix = f" — served by {self.runner_label}"
        return [
            dataclasses.replace(m, engine=self.name, description=m.description + suffix)
            for m in models_from_wire(described.get("models"))
        ]

    def validate(self, options: RecognitionOptions) -> None:
        models = {m.name: m for m in models_from_wire(self._describe().get("models"))}
        default = next((m for m in models.values() if m.default), None)
        model = models.get(options.model) if options.model else default
        if model is None:
            return  # a name or path the runner may still resolve; it answers NOT_FOUND otherwise
        known = tuple(sorted({lang for m in models.values() for lang in m.languages}))
        check_options(options, options.model or model.name, model.multilingual, known)

    def transcribe(
        self, audio: npt.NDArray[np.float32], options: RecognitionOptions, control: CallControl
    ) -> Transcript:
        control.check()
        answer = parse_answer(self._call(transcribe_request(options), audio, control), self.runner_label)
        transcript = transcript_from_wire(answer)
        if control.on_segment is not None:
            for segment in transcript.segments:
                control.on_segment(segment, segment.end)
        control.check()
        return transcript

    def close(self) -> None:
        """Nothing held here; subclasses close their clients."""


__all__ = [
    "DESCRIBE_REQUEST",
    "RemoteAsrEngine",
    "RunnerHandler",
    "check_options",
    "models_from_wire",
    "models_to_wire",
    "options_from_wire",
    "options_to_wire",
    "transcribe_request",
    "transcript_from_wire",
    "transcript_to_wire",
]
