"""The ``learned`` separator: its training songs, features, weights file, grid mapping, a short training run,
and the weights ``make setup`` trains (when they are there)."""

from __future__ import annotations

import inspect
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from ting_common.errors import FailedPreconditionError
from ting_separate.config import SeparateSettings
from ting_separate.engines import CallControl, SeparationOptions
from ting_separate.engines.dsp import istft, stft
from ting_separate.engines.learned import LearnedEngine, LearnedSettings, mask_on_grid
from ting_separate.learned import train as training
from ting_separate.learned.model import BINS, FEATURES, N_FFT, SAMPLE_RATE, MaskNet, frame_features
from ting_separate.learned.synth import SongMaker
from ting_separate.server import create_engines

HELD_OUT = 5_000_000  # seeds the trainer never uses (it uses seed * 100_000 + i with small seeds)


def snr(ref: np.ndarray, est: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(ref**2) / np.sum((ref - est) ** 2)))


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained for a few steps on a few songs (tests of the pipeline, not of quality)."""
    net = training.train(songs=6, seconds=3.0, steps=40, batch_size=64, hidden=32, seed=3, log_every=1000)
    path = tmp_path_factory.mktemp("learned") / "tiny.npz"
    net.save(path)
    return path


def test_songs_are_reproducible_and_sane() -> None:
    a, b = SongMaker(seed=11).song(3.0), SongMaker(seed=11).song(3.0)
    other = SongMaker(seed=12).song(3.0)
    assert np.array_equal(a.vocals, b.vocals) and np.array_equal(a.accompaniment, b.accompaniment)
    assert not np.array_equal(a.vocals, other.vocals)
    for song in (a, other):
        assert song.vocals.shape == song.accompaniment.shape == (2, 3 * SAMPLE_RATE)
        mix = song.vocals + song.accompaniment
        assert np.isfinite(mix).all() and 0.2 < np.max(np.abs(mix)) < 1.0
        assert np.sqrt(np.mean(song.vocals**2)) > 1e-3 and np.sqrt(np.mean(song.accompaniment**2)) > 1e-3


def test_songs_without_espeak_use_the_synthetic_singer() -> None:
    song = SongMaker(seed=4, use_espeak=False).song(2.0)
    assert np.sqrt(np.mean(song.vocals**2)) > 1e-3


def test_features_do_not_depend_on_the_level() -> None:
    song = SongMaker(seed=21).song(2.0)
    spec = stft(song.vocals + song.accompaniment, N_FFT)
    quiet, _ = frame_features(spec)
    loud, _ = frame_features((spec * 20).astype(np.complex64))
    assert quiet.shape == (spec.shape[2], FEATURES)
    np.testing.assert_allclose(quiet, loud, atol=2e-4)


def test_mono_and_centred_stereo_have_the_same_features() -> None:
    song = SongMaker(seed=22).song(2.0)
    mono = (song.vocals + song.accompaniment).mean(axis=0, keepdims=True)
    one, _ = frame_features(stft(mono, N_FFT))
    two, _ = frame_features(stft(np.repeat(mono, 2, axis=0), N_FFT))
    np.testing.assert_allclose(one, two, atol=1e-4)


def test_training_frames_are_the_engine_features() -> None:
    frames = training.song_frames(seed=9, seconds=2.0, variants=2)
    feats, mix, voc, acc = (np.asarray(x, dtype=np.float32) for x in frames)
    song = SongMaker(seed=9).song(2.0)
    spec = stft(song.vocals + song.accompaniment, N_FFT)
    want, mag, level = frame_features(spec, with_level=True)
    n = spec.shape[2]
    assert feats.shape == (2 * n, FEATURES) and mix.shape == voc.shape == acc.shape == (2 * n, BINS)
    np.testing.assert_allclose(feats[:n], want, atol=0.02, rtol=2e-3)  # the first mix is the song as made
    np.testing.assert_allclose(mix[:n], mag / level, rtol=2e-3, atol=1e-4)
    # |V| + |A| >= |V + A| per channel, so the stems' magnitudes at least cover the mixture's
    assert np.all(voc + acc >= mix * 0.99 - 1e-3)
    batch = training.batch(training.Corpus(*frames), np.random.default_rng(0), 16)
    assert [b.shape for b in batch] == [(16, FEATURES), (16, BINS), (16, BINS), (16, BINS)]
    assert all(b.dtype == np.float32 for b in batch)


def test_a_short_training_run_lowers_the_loss(tiny_model: Path) -> None:
    net = MaskNet.load(tiny_model)
    assert net.meta["steps"] == 40
    assert float(net.meta["final_loss"]) < float(net.meta["first_loss"])


def test_weights_round_trip_and_bad_files(tiny_model: Path, tmp_path: Path) -> None:
    net = MaskNet.load(tiny_model)
    copy = tmp_path / "copy.npz"
    net.save(copy)
    again = MaskNet.load(copy)
    assert all(np.array_equal(a, b) for a, b in zip(net.weights, again.weights, strict=True))
    with pytest.raises(FailedPreconditionError, match="no learned separator weights"):
        MaskNet.load(tmp_path / "missing.npz")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a numpy file")
    with pytest.raises(FailedPreconditionError, match="unreadable"):
        MaskNet.load(garbage)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, something=np.zeros(3))
    with pytest.raises(FailedPreconditionError):
        MaskNet.load(foreign)


def test_mask_grid_mapping() -> None:
    rng = np.random.default_rng(0)
    mask = rng.random((BINS, 40)).astype(np.float32)
    assert mask_on_grid(mask, SAMPLE_RATE, N_FFT, 40) is mask
    # 44.1 kHz with a 4096 window: the same hop in seconds and the same Hz per bin, so the lower half is the mask.
    mapped = mask_on_grid(mask, 44100, 4096, 40)
    assert mapped.shape == (2049, 40)
    np.testing.assert_allclose(mapped[:BINS], mask, atol=1e-6)
    want = np.broadcast_to(mask[BINS // 2 :].mean(axis=0), (2049 - BINS, 40))
    np.testing.assert_allclose(mapped[BINS:], want, rtol=1e-5)
    # 16 kHz with a 1024 window: interpolated, within the mask's range.
    low = mask_on_grid(mask, 16000, 1024, 55)
    assert low.shape == (513, 55) and low.min() >= mask.min() - 1e-6 and low.max() <= mask.max() + 1e-6


@pytest.mark.parametrize(("rate", "channels"), [(22050, 2), (44100, 2), (16000, 1), (48000, 3)])
def test_engine_keeps_shape_and_sums_to_the_mixture(tiny_model: Path, rate: int, channels: int) -> None:
    rng = np.random.default_rng(rate)
    audio = (0.1 * rng.standard_normal((channels, int(rate * 2.5)))).astype(np.float32)
    engine = LearnedEngine(LearnedSettings(model_path=tiny_model, chunk_s=1.0, crossfade_s=0.2))
    out = engine.separate(audio, rate, SeparationOptions(), CallControl())
    assert set(out) == {"vocals", "accompaniment"}
    for stem in out.values():
        assert stem.shape == audio.shape and stem.dtype == np.float32 and np.isfinite(stem).all()
    np.testing.assert_allclose(out["vocals"] + out["accompaniment"], audio, atol=1e-5)


def test_engine_refuses_other_stems(tiny_model: Path) -> None:
    engine = LearnedEngine(LearnedSettings(model_path=tiny_model))
    with pytest.raises(FailedPreconditionError, match="supports vocals, accompaniment"):
        engine.plan(SAMPLE_RATE, 2, SeparationOptions(stems=("drums",)))


def test_server_engines_and_default(tiny_model: Path, tmp_path: Path) -> None:
    names = [e.name for e in create_engines(SeparateSettings(learned_model_path=tiny_model))]
    assert names == ["learned", "dsp"]
    names = [e.name for e in create_engines(SeparateSettings(learned_model_path=tiny_model, default_engine="dsp"))]
    assert names == ["dsp", "learned"]
    assert [e.name for e in create_engines(SeparateSettings(learned=False))] == ["dsp"]
    with pytest.raises(FailedPreconditionError, match="no learned separator weights"):
        create_engines(SeparateSettings(learned_model_path=tmp_path / "missing.npz"))
    with pytest.raises(FailedPreconditionError, match="learned engine has no weights"):
        create_engines(SeparateSettings(learned=False, default_engine="learned"))


def setup_weights() -> Path | None:
    path = training.default_weights_path()
    return path if path.is_file() else None


def test_set_up_weights_separate_songs_they_never_saw() -> None:
    """The weights ``make setup`` trained: on held-out synthesized songs the vocals come out at least 6 dB
    cleaner than in the mixture, and better than an even split (mask 0.5)."""
    path = setup_weights()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"no set-up weights at {training.default_weights_path()}; `make setup` trains them")
        pytest.skip("no learned separator weights; run `make setup`")
    net = MaskNet.load(path)
    gains, halves = [], []
    for i in range(4):
        song = SongMaker(seed=HELD_OUT + i).song(6.0)
        mix = song.vocals + song.accompaniment
        spec = stft(mix, N_FFT)
        vocals = istft(spec * net.mask(spec)[None], N_FFT, mix.shape[1])
        gains.append(snr(song.vocals, vocals) - snr(song.vocals, mix))
        halves.append(snr(song.vocals, vocals) - snr(song.vocals, 0.5 * mix))
    assert np.mean(gains) > 6.0, gains
    assert np.mean(halves) > 3.0, halves


def test_weights_path_is_resolved_once_by_the_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The service and the training CLI read the same path: the configured one, else set-up's in the venv."""
    monkeypatch.delenv("TING_SEPARATE_LEARNED_MODEL_PATH", raising=False)
    set_up = Path(sys.prefix) / "models" / "separate" / "mask_mlp.npz"
    assert SeparateSettings().learned_weights == set_up == training.default_weights_path()
    monkeypatch.setenv("TING_SEPARATE_LEARNED_MODEL_PATH", str(tmp_path / "w.npz"))
    assert SeparateSettings().learned_weights == tmp_path / "w.npz" == training.default_weights_path()


def test_training_cli_defaults_are_the_train_functions() -> None:
    args = training.cli().parse_args([])
    defaults = {name: p.default for name, p in inspect.signature(training.train).parameters.items()}
    assert (args.songs, args.seconds, args.steps, args.batch, args.hidden, args.seed) == (
        defaults["songs"],
        defaults["seconds"],
        defaults["steps"],
        defaults["batch_size"],
        defaults["hidden"],
        defaults["seed"],
    )
    assert training.cli().parse_args(["--steps", "10"]).steps == 10
