"""The ASR runner wire format (``ting_asr.engines.remote``): options, transcripts and models through JSON, and the
runner-side handler's answers (never an exception), with a fake hosted engine and once with real Whisper."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from ting_asr.diarization import DiarizationOptions
from ting_asr.engines import CallControl, ModelDescription, RecognitionOptions, VadOptions
from ting_asr.engines.remote import (
    RunnerHandler,
    models_from_wire,
    models_to_wire,
    options_from_wire,
    options_to_wire,
    transcribe_request,
    transcript_from_wire,
    transcript_to_wire,
)
from ting_common.errors import (
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    TingError,
)
from ting_common.runners import parse_answer
from ting_common.transcript import Segment, Transcript, Word

from ..conftest import SAMPLES

MODELS = [
    ModelDescription(
        name="base",
        description="multilingual",
        multilingual=True,
        languages=("en", "es"),
        loaded=True,
        default=True,
        engine="fake",
        device="cpu",
        compute_type="int8",
    ),
    ModelDescription(
        name="tiny.en",
        description="English only",
        multilingual=False,
        languages=("en",),
        loaded=False,
        default=False,
        engine="fake",
        device="cpu",
        compute_type="int8",
    ),
]

TRANSCRIPT = Transcript(
    language="es",
    language_probability=0.93,
    duration=2.5,
    segments=(
        Segment(
            id=0,
            start=0.0,
            end=1.25,
            text="Hola, ¿qué tal?",
            words=(Word(0.0, 0.5, " Hola,", 0.9), Word(0.5, 1.25, " ¿qué tal?", 0.75)),
            avg_logprob=-0.2,
            no_speech_prob=0.01,
            compression_ratio=1.1,
            temperature=0.0,
        ),
        Segment(id=1, start=1.25, end=2.5, text="Bien.", avg_logprob=-0.4),
    ),
    task="transcribe",
    model="base",
    language_candidates=(("es", 0.93), ("pt", 0.05)),
    metadata={"note": "x"},
)


@dataclass
class FakeEngine:
    """A :class:`~ting_asr.engines.remote.HostedEngine` without a model: answers :data:`TRANSCRIPT`."""

    name: str = "fake"
    device: str = "cpu"
    compute_type: str = "int8"
    concurrency: int = 1
    received: list[tuple[npt.NDArray[np.float32], RecognitionOptions]] = field(default_factory=list)

    def list_models(self) -> list[ModelDescription]:
        return list(MODELS)

    def validate(self, options: RecognitionOptions) -> None:
        if options.model not in ("", "base", "tiny.en", "boom"):
            raise NotFoundError(f"unknown model '{options.model}'")

    def transcribe(
        self, audio: npt.NDArray[np.float32], options: RecognitionOptions, control: CallControl
    ) -> Transcript:
        if options.model == "boom":
            raise RuntimeError("kaboom")
        self.received.append((audio, options))
        return TRANSCRIPT


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def handler(engine: FakeEngine) -> RunnerHandler:
    return RunnerHandler(engine, max_audio_s=10.0)


def through_json(value: Any) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False))


# -- options -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "options",
    [
        RecognitionOptions(),
        RecognitionOptions(
            model="tiny.en",
            language="en",
            task="translate",
            word_timestamps=True,
            vad_filter=True,
            vad=VadOptions(threshold=0.3, min_silence_duration_ms=400, speech_pad_ms=50, min_speech_duration_ms=100),
            beam_size=2,
            initial_prompt="Ting, gRPC.",
            temperature=0.2,
            condition_on_previous_text=False,
            quick=True,
        ),
    ],
)
def test_options_round_trip(options: RecognitionOptions) -> None:
    assert options_from_wire(through_json(options_to_wire(options))) == options


def test_diarization_stays_with_the_servicer() -> None:
    options = RecognitionOptions(language="en", diarization=DiarizationOptions())
    wire = options_to_wire(options)
    assert "diarization" not in wire
    assert options_from_wire(through_json(wire)).diarization is None
    assert json.loads(transcribe_request(options)) == {"op": "transcribe", "options": through_json(wire)}


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ([], "JSON object"),
        ({"beam_size": True}, "beam_size"),
        ({"beam_size": "5"}, "beam_size"),
        ({"word_timestamps": "yes"}, "word_timestamps"),
        ({"task": "summarize"}, "unknown task"),
        ({"vad": [1]}, "vad"),
        ({"vad": {"threshold": "high"}}, "threshold"),
        ({"temperature": False}, "temperature"),
    ],
)
def test_bad_options_are_invalid_argument(raw: Any, needle: str) -> None:
    with pytest.raises(InvalidArgumentError, match=needle):
        options_from_wire(raw)


def test_empty_language_means_detect() -> None:
    assert options_from_wire({"language": ""}).language is None
    assert options_from_wire({"temperature": 0}).temperature == 0.0


# -- transcripts and models --------------------------------------------------------------------------------------
def test_transcript_round_trip_keeps_words_candidates_and_metadata() -> None:
    back = transcript_from_wire(through_json(transcript_to_wire(TRANSCRIPT)))
    assert back == TRANSCRIPT
    assert back.segments[0].words[1].word == " ¿qué tal?"
    assert isinstance(back.language_candidates[0], tuple)


def test_models_round_trip() -> None:
    assert models_from_wire(through_json(models_to_wire(MODELS))) == MODELS
    with pytest.raises(FailedPreconditionError):
        models_from_wire({"base": {}})


# -- the runner-side handler ---------------------------------------------------------------------------------------
def test_handler_transcribes_and_passes_samples_and_options(handler: RunnerHandler, engine: FakeEngine) -> None:
    audio = np.linspace(-1, 1, 16_000, dtype=np.float32)
    options = RecognitionOptions(language="es", word_timestamps=True, beam_size=3)
    answer = handler.handle(transcribe_request(options), audio)
    assert transcript_from_wire(parse_answer(answer, "runner")) == TRANSCRIPT
    (got_audio, got_options) = engine.received[0]
    assert got_audio.dtype == np.float32
    np.testing.assert_array_equal(got_audio, audio)
    assert got_options == options


def test_handler_accepts_raw_float32_bytes_as_the_bento_runner_reads_them(handler: RunnerHandler) -> None:
    audio = np.random.default_rng(0).uniform(-1, 1, 8000).astype(np.float32)
    samples = np.frombuffer(audio.astype("<f4").tobytes(), dtype="<f4")
    answer = parse_answer(handler.handle(transcribe_request(RecognitionOptions()), samples), "runner")
    assert answer["language"] == "es"


def test_handler_describes_the_engine(handler: RunnerHandler) -> None:
    answer = parse_answer(handler.handle(b'{"op": "describe"}', None), "runner")
    assert (answer["engine"], answer["device"], answer["compute_type"]) == ("fake", "cpu", "int8")
    assert models_from_wire(answer["models"]) == MODELS


@pytest.mark.parametrize(
    ("request_json", "audio", "error", "needle"),
    [
        (b"{not json", np.zeros(16, np.float32), InvalidArgumentError, "not JSON"),
        (b"[1, 2]", np.zeros(16, np.float32), InvalidArgumentError, "JSON object"),
        (b'{"op": "explode"}', np.zeros(16, np.float32), InvalidArgumentError, "unknown op"),
        (b'{"op": "transcribe"}', None, InvalidArgumentError, "no audio"),
        (b'{"op": "transcribe"}', np.zeros(0, np.float32), InvalidArgumentError, "no audio"),
        (b'{"op": "transcribe"}', np.array([0.0, np.nan], np.float32), InvalidArgumentError, "NaN"),
        (b'{"op": "transcribe"}', np.zeros(11 * 16_000, np.float32), InvalidArgumentError, "limit of 10 s"),
        (b'{"options": {"beam_size": "x"}}', np.zeros(16, np.float32), InvalidArgumentError, "beam_size"),
        (b'{"options": {"model": "large-v9"}}', np.zeros(16, np.float32), NotFoundError, "large-v9"),
        (b'{"options": {"model": "boom"}}', np.zeros(16, np.float32), InternalError, "kaboom"),
    ],
)
def test_handler_answers_errors_instead_of_raising(
    handler: RunnerHandler,
    request_json: bytes,
    audio: npt.NDArray[np.float32] | None,
    error: type[TingError],
    needle: str,
) -> None:
    answer = handler.handle(request_json, audio)
    payload = json.loads(answer)
    assert set(payload) == {"error"}
    assert payload["error"]["code"] == error.grpc_code.name
    with pytest.raises(error, match=needle) as info:
        parse_answer(answer, "runner")
    assert type(info.value) is error


# -- with the real engine ----------------------------------------------------------------------------------------
def test_handler_with_real_whisper_matches_the_engine_itself(asr_engine: Any) -> None:
    from ting_common.audio import decode_audio

    audio = np.asarray(decode_audio(str(SAMPLES / "es_weather.wav")).samples[: 16_000 * 4], dtype=np.float32)
    options = RecognitionOptions(language="es", beam_size=1, temperature=0.0, word_timestamps=True)
    direct = asr_engine.transcribe(audio, options, CallControl())
    wire_audio = np.frombuffer(audio.astype("<f4").tobytes(), dtype="<f4")
    answer = RunnerHandler(asr_engine).handle(transcribe_request(options), wire_audio)
    assert transcript_from_wire(parse_answer(answer, "runner")) == direct
    assert direct.text.strip()
    described = parse_answer(RunnerHandler(asr_engine).handle(b'{"op": "describe"}', None), "runner")
    assert {m.name for m in models_from_wire(described["models"])} >= {"base", "tiny.en"}
