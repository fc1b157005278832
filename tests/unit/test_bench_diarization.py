"""The diarization benchmark's own logic: why a speaker count is wrong (``--explain``) and the meeting styles."""

from __future__ import annotations

import numpy as np
import pytest

from bench.diarization import BRIEF_S, CountError, count_errors
from bench.diarization_data import STYLES, VOICES, ZH_VOICES, opus_round_trip

Turns = list[tuple[float, float, str]]


def test_a_right_partition_has_no_errors() -> None:
    ref: Turns = [(0.0, 5.0, "A"), (5.5, 9.0, "B"), (9.5, 12.0, "A")]
    hyp: Turns = [(0.0, 5.1, "S1"), (5.4, 9.0, "S2"), (9.5, 12.0, "S1")]
    assert count_errors(ref, hyp) == []


def test_a_brief_speaker_merged_into_a_neighbour_is_missed() -> None:
    ref: Turns = [(0.0, 6.0, "A"), (6.2, 7.5, "B"), (8.0, 14.0, "C")]
    hyp: Turns = [(0.0, 7.5, "S1"), (8.0, 14.0, "S2")]
    errors = count_errors(ref, hyp)
    assert errors == [CountError("missed", "B", "S1", "A", pytest.approx(1.3))]
    assert str(errors[0]).startswith("brief B (1.3 s) merged with A in S1")


def test_the_speaker_with_more_speech_keeps_the_output_speaker() -> None:
    # B speaks more than A, so A is the one missed, whatever the order of appearance.
    ref: Turns = [(0.0, 3.0, "A"), (3.5, 12.0, "B")]
    hyp: Turns = [(0.0, 12.0, "S1")]
    (error,) = count_errors(ref, hyp)
    assert (error.kind, error.speaker, error.other) == ("missed", "A", "B")
    assert error.speech_s >= BRIEF_S
    assert "brief" not in str(error)


def test_an_output_speaker_nobody_owns_is_a_split() -> None:
    ref: Turns = [(0.0, 10.0, "A"), (10.5, 20.0, "B")]
    hyp: Turns = [(0.0, 6.0, "S1"), (6.0, 10.0, "S3"), (10.5, 20.0, "S2")]
    assert count_errors(ref, hyp) == [CountError("split", "A", "S3", "S1", 10.0)]


def test_a_speaker_without_any_output_speaker_is_missed() -> None:
    ref: Turns = [(0.0, 10.0, "A"), (11.0, 11.4, "B")]
    hyp: Turns = [(0.0, 10.0, "S1")]
    (error,) = count_errors(ref, hyp)
    assert (error.kind, error.speaker, error.hyp) == ("missed", "B", "")
    assert str(error) == "brief B (0.4 s) has no output speaker"


def test_styles_keep_the_english_splits_and_add_mandarin() -> None:
    assert STYLES["dev"] == STYLES["test"]
    assert STYLES["dev"].voices == VOICES and STYLES["dev"].opus_bitrate is None
    assert STYLES["long"].turns[0] > STYLES["dev"].turns[1]
    assert STYLES["zh"].voices == ZH_VOICES
    assert all(v.startswith("cmn+") for v in ZH_VOICES) and len(set(ZH_VOICES)) == len(VOICES)


def test_opus_round_trip_keeps_length_and_timing() -> None:
    rate = 16_000
    t = np.arange(3 * rate) / rate
    audio = (0.3 * np.sin(2 * np.pi * 220 * t) * (t >= 1.0)).astype(np.float32)
    coded = opus_round_trip(audio, 16_000)
    assert coded.shape == audio.shape and coded.dtype == np.float32
    assert abs(int(np.argmax(np.abs(coded) > 0.05)) - rate) < 80  # the tone still starts at 1 s (within 5 ms)
    assert 0.5 < float(np.std(coded[rate:])) / float(np.std(audio[rate:])) < 1.5
    assert not np.array_equal(coded, audio)  # it was coded
