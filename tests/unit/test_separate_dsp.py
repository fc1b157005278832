"""Pure logic of the separation service: chunk cross-fades and the DSP engine's masks."""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest

from ting_common.errors import FailedPreconditionError
from ting_separate.engines import CallControl, FloatArray, SeparationOptions, StemName, StopRequested
from ting_separate.engines.chunking import chunk_plan, fade_in, separate_in_chunks
from ting_separate.engines.dsp import (
    DspEngine,
    DspSettings,
    band_cue,
    centre_cue,
    combine_cues,
    istft,
    repeating_cue,
    stft,
    vocal_mask,
    wiener,
)

RATE = 22050
rng = np.random.default_rng(7)


def noise(channels: int, seconds: float) -> FloatArray:
    return (0.3 * rng.standard_normal((channels, round(seconds * RATE)))).astype(np.float32)


@pytest.mark.parametrize(("total", "chunk", "overlap"), [(100, 30, 10), (30, 30, 5), (31, 30, 5), (7, 30, 5)])
def test_chunk_plan_covers_input_with_exact_overlaps(total: int, chunk: int, overlap: int) -> None:
    plan = chunk_plan(total, chunk, overlap)
    assert plan[0][0] == 0
    assert plan[-1][1] == total
    for (_, end), (start, _) in itertools.pairwise(plan):
        assert end - start == overlap
    assert all(0 < e - s <= chunk for s, e in plan)


def test_fades_are_complementary() -> None:
    ramp = fade_in(1000)
    np.testing.assert_allclose(ramp + ramp[::-1], 1.0, atol=1e-6)


def test_identity_separator_reconstructs_through_crossfades() -> None:
    audio = noise(2, 3.3)
    calls: list[int] = []

    def identity(piece: FloatArray) -> dict[StemName, FloatArray]:
        calls.append(piece.shape[1])
        return {"vocals": piece, "accompaniment": np.zeros_like(piece)}

    progress: list[int] = []
    control = CallControl(on_progress=lambda done, total: progress.append(done))
    out = separate_in_chunks(
        audio, ("vocals", "accompaniment"), identity, chunk=RATE, overlap=RATE // 5, control=control
    )
    np.testing.assert_allclose(out["vocals"], audio, atol=1e-6)
    assert not out["accompaniment"].any()
    assert len(calls) == 4
    assert progress == sorted(progress)
    assert progress[-1] == audio.shape[1]


def test_stop_flag_stops_between_chunks() -> None:
    control = CallControl(stop=threading.Event())
    seen: list[int] = []

    def stop_after_first(piece: FloatArray) -> dict[StemName, FloatArray]:
        seen.append(1)
        control.stop.set()
        return {"vocals": piece}

    with pytest.raises(StopRequested):
        separate_in_chunks(noise(1, 3), ("vocals",), stop_after_first, chunk=RATE, overlap=0, control=control)
    assert len(seen) == 1


def test_stft_roundtrip_is_exact() -> None:
    audio = noise(2, 1.0)
    np.testing.assert_allclose(istft(stft(audio, 1024), 1024, audio.shape[1]), audio, atol=1e-5)


def test_centre_cue_prefers_centre_over_hard_pan() -> None:
    centre = stft(np.stack([noise(1, 0.5)[0]] * 2), 512)
    left_only = stft(np.stack([noise(1, 0.5)[0], np.zeros(round(0.5 * RATE), np.float32)]), 512)
    assert centre_cue(centre, 0.25).mean() > 0.99
    assert centre_cue(left_only, 0.25).mean() < 0.01


def test_band_cue_removes_lows() -> None:
    cue = band_cue(1025, RATE / 2048, 80.0)
    assert cue[: int(80 / (RATE / 2048))].max() == 0.0
    assert cue[int(200 / (RATE / 2048)) :].min() == 1.0


def test_repeating_cue_finds_a_loop() -> None:
    loop = np.abs(rng.standard_normal((64, 10))).astype(np.float32)
    mag = np.tile(loop, (1, 8))
    assert repeating_cue(mag, neighbours=5, min_distance=3).mean() > 0.99


def test_combine_cues_stays_a_probability() -> None:
    a, b = rng.random((10, 20)).astype(np.float32), rng.random((10, 20)).astype(np.float32)
    for how in ("product", "logit"):
        mask = combine_cues([a, b], how)
        assert mask.min() >= 0.0
        assert mask.max() <= 1.0


@pytest.mark.parametrize("iterations", [0, 1, 2])
def test_vocal_and_accompaniment_gains_sum_to_the_mixture(iterations: int) -> None:
    audio = noise(2, 1.0)
    spec = stft(audio, 1024)
    mask = vocal_mask(spec, RATE, 1024, DspSettings())
    assert mask.shape == spec.shape[1:]
    assert 0.0 <= mask.min() <= mask.max() <= 1.0
    vocals = wiener(spec, mask, iterations)
    accompaniment = spec - vocals
    np.testing.assert_allclose(vocals + accompaniment, spec, atol=1e-5)
    # Each source gets a share of the power, never more than the mixture has.
    assert np.mean(np.abs(vocals) ** 2) <= np.mean(np.abs(spec) ** 2) * 1.01


@pytest.mark.parametrize("channels", [1, 2])
def test_engine_keeps_shape_and_stems_sum_back(channels: int) -> None:
    audio = noise(channels, 2.5)
    options = SeparationOptions(stems=("accompaniment", "vocals"), segment_ms=1000)
    out = DspEngine().separate(audio, RATE, options, CallControl())
    assert list(out) == ["accompaniment", "vocals"]
    for stem in out.values():
        assert stem.shape == audio.shape
        assert stem.dtype == np.float32
    np.testing.assert_allclose(out["vocals"] + out["accompaniment"], audio, atol=1e-4)


def test_engine_refuses_stems_it_cannot_make() -> None:
    with pytest.raises(FailedPreconditionError, match="vocals, accompaniment"):
        DspEngine().separate(noise(2, 0.5), RATE, SeparationOptions(stems=("drums",)), CallControl())
