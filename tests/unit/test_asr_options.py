"""Validation of RecognitionConfig -> engine options, and proto <-> domain conversion."""

from __future__ import annotations

import pytest

from ting.asr.v1 import asr_service_pb2 as pb
from ting_asr.convert import diarization_from_proto, options_from_proto
from ting_asr.diarization import DiarizationOptions
from ting_common.errors import InvalidArgumentError, OutOfRangeError
from ting_common.transcript import Segment, Transcript, Word
from ting_common.transcript_proto import transcript_from_proto, transcript_to_proto


def test_defaults() -> None:
    opts = options_from_proto(pb.RecognitionConfig(), default_beam_size=5)
    assert opts.language is None
    assert opts.task == "transcribe"
    assert opts.beam_size == 5
    assert opts.temperature is None
    assert opts.condition_on_previous_text is True
    assert opts.vad.threshold is None


def test_explicit_values() -> None:
    config = pb.RecognitionConfig(
        language_code="ZH-cn",
        task=pb.TASK_TRANSLATE,
        beam_size=2,
        temperature=0.0,
        condition_on_previous_text=False,
        enable_vad_filter=True,
        vad=pb.VadConfig(threshold=0.6, min_silence_duration_ms=500),
        initial_prompt="Ting",
    )
    opts = options_from_proto(config, default_beam_size=5)
    assert opts.language == "zh"
    assert opts.task == "translate"
    assert opts.beam_size == 2
    assert opts.temperature == 0.0  # set explicitly: not the fallback schedule
    assert opts.condition_on_previous_text is False
    assert opts.vad.threshold == pytest.approx(0.6)
    assert opts.vad.min_silence_duration_ms == 500
    assert opts.initial_prompt == "Ting"


@pytest.mark.parametrize("lang", ["auto", "", "AUTO"])
def test_auto_language(lang: str) -> None:
    assert options_from_proto(pb.RecognitionConfig(language_code=lang), 5).language is None


@pytest.mark.parametrize(
    ("config", "error"),
    [
        (pb.RecognitionConfig(beam_size=21), OutOfRangeError),
        (pb.RecognitionConfig(temperature=-0.1), OutOfRangeError),
        (pb.RecognitionConfig(temperature=float("nan")), OutOfRangeError),
        (pb.RecognitionConfig(vad=pb.VadConfig(threshold=1.0)), OutOfRangeError),
        (pb.RecognitionConfig(vad=pb.VadConfig(speech_pad_ms=-5)), OutOfRangeError),
        (pb.RecognitionConfig(language_code="en us!"), InvalidArgumentError),
        (pb.RecognitionConfig(initial_prompt="p" * 1001), InvalidArgumentError),
        (pb.RecognitionConfig(task=9), InvalidArgumentError),  # type: ignore[arg-type]
    ],
)
def test_rejected(config: pb.RecognitionConfig, error: type[Exception]) -> None:
    with pytest.raises(error):
        options_from_proto(config, 5)


def D(**kwargs: int) -> pb.DiarizationConfig:
    return pb.DiarizationConfig(enable_speaker_diarization=True, **kwargs)


def test_diarization_options() -> None:
    assert diarization_from_proto(pb.DiarizationConfig(), 8) is None
    assert diarization_from_proto(D(), 8) == DiarizationOptions(0, 1, 8)
    assert diarization_from_proto(D(speaker_count=3), 8) == DiarizationOptions(3, 1, 8)
    assert diarization_from_proto(D(speaker_count=12), 8) == DiarizationOptions(12, 1, 12)
    assert diarization_from_proto(D(min_speaker_count=2, max_speaker_count=4), 8) == DiarizationOptions(0, 2, 4)
    assert diarization_from_proto(D(min_speaker_count=10), 8) == DiarizationOptions(0, 10, 10)


@pytest.mark.parametrize(
    "config",
    [
        D(min_speaker_count=5, max_speaker_count=2),
        D(speaker_count=21),
        D(max_speaker_count=-1),
        D(speaker_count=6, min_speaker_count=1, max_speaker_count=4),
    ],
)
def test_bad_diarization_options(config: pb.DiarizationConfig) -> None:
    with pytest.raises(InvalidArgumentError):
        diarization_from_proto(config, 8)


def test_transcript_round_trip_in_milliseconds() -> None:
    t = Transcript(
        language="en",
        duration=3.2504,
        language_probability=0.9,
        segments=(Segment(0, 0.0, 1.5, "Hello world", (Word(0.0, 0.5, " Hello", 0.9), Word(0.6, 1.5, " world", 0.8))),),
        language_candidates=(("en", 0.9), ("de", 0.05)),
    )
    proto = transcript_to_proto(t)
    assert proto.duration_ms == 3250
    assert proto.text == "Hello world"
    assert [w.end_ms for w in proto.segments[0].words] == [500, 1500]
    back = transcript_from_proto(proto)
    assert back.segments[0].words[1].start == pytest.approx(0.6)
    assert back.language_candidates[1][0] == "de"
