"""The ``learned`` engine's optional U-Net mask: a short JAX training run, its ONNX export (the same numbers as the
JAX network), blockwise inference, bad model files, the averaged mask in the engine, and the server's settings."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import jax
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from ting_common.errors import FailedPreconditionError
from ting_separate.config import SeparateSettings
from ting_separate.engines import CallControl, SeparationOptions
from ting_separate.engines.dsp import stft
from ting_separate.engines.learned import LearnedEngine, LearnedSettings, separate_chunk
from ting_separate.learned import train as mlp_training
from ting_separate.learned import train_conv
from ting_separate.learned.conv import CONTEXT_FRAMES, CONV_BINS, ConvMaskNet, conv_inputs
from ting_separate.learned.model import BINS, N_FFT, SAMPLE_RATE, MaskNet
from ting_separate.learned.synth import SongMaker
from ting_separate.server import create_engines


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[train_conv.Params, dict[str, object], Path]:
    """A two-level U-Net trained for a few steps on a few short songs (tests of the pipeline, not of quality)."""
    params, meta = train_conv.train(
        songs=3, seconds=2.0, steps=40, batch_size=2, patch_frames=16, channels=(4, 8, 8), seed=5, log_every=1000
    )
    path = tmp_path_factory.mktemp("conv") / "unet.onnx"
    train_conv.export_onnx(params, meta, path)
    return params, meta, path


@pytest.fixture(scope="module")
def tiny_mlp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    net = mlp_training.train(songs=4, seconds=2.0, steps=20, batch_size=64, hidden=16, seed=3, log_every=1000)
    path = tmp_path_factory.mktemp("mlp") / "mlp.npz"
    net.save(path)
    return path


def mixture(seed: int, seconds: float) -> np.ndarray:
    song = SongMaker(seed=seed).song(seconds)
    return (song.vocals + song.accompaniment).astype(np.float32)


def test_a_short_run_lowers_the_loss_and_writes_its_figures(trained: tuple[train_conv.Params, dict, Path]) -> None:
    _, meta, path = trained
    assert float(meta["final_loss"]) < float(meta["first_loss"])
    net = ConvMaskNet.load(path)
    assert net.meta["steps"] == 40 and net.meta["levels"] == 2 and net.multiple == 4


def test_the_onnx_graph_computes_what_jax_trained(trained: tuple[train_conv.Params, dict, Path]) -> None:
    params, _, path = trained
    x = conv_inputs(stft(mixture(41, 2.0), N_FFT))[:, :48]
    expected = np.asarray(train_conv.forward(params, jax.numpy.asarray(np.moveaxis(x, 0, -1)[None])))[0]
    net = ConvMaskNet.load(path)
    got = net.session.run(None, {net.input_name: x[None]})[0][0, 0]
    assert got.shape == (48, CONV_BINS)
    np.testing.assert_allclose(got, expected, atol=2e-5)


def test_mask_shape_range_and_blocks(trained: tuple[train_conv.Params, dict, Path]) -> None:
    net = ConvMaskNet.load(trained[2])
    spec = stft(mixture(42, 4.0), N_FFT)  # 177 frames: not a multiple of the block or of 2 ** levels
    whole = net.mask(spec)
    assert whole.shape == (BINS, spec.shape[2]) and whole.dtype == np.float32
    assert whole.min() >= 0.0 and whole.max() <= 1.0 and np.ptp(whole) > 0.0
    np.testing.assert_array_equal(whole[CONV_BINS], whole[CONV_BINS - 1])
    # Blocks of 20 frames with CONTEXT_FRAMES on each side give the same mask: the receptive field fits the context.
    assert CONTEXT_FRAMES >= 16
    np.testing.assert_allclose(net.mask(spec, block=20), whole, atol=1e-5)
    # Mono input is a centred stereo one.
    mono = stft(mixture(42, 4.0).mean(axis=0, keepdims=True), N_FFT)
    np.testing.assert_allclose(net.mask(mono), net.mask(np.repeat(mono, 2, axis=0)), atol=1e-6)


def test_bad_model_files(tmp_path: Path) -> None:
    with pytest.raises(FailedPreconditionError, match="no convolutional mask"):
        ConvMaskNet.load(tmp_path / "missing.onnx")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not an onnx graph")
    with pytest.raises(FailedPreconditionError, match="unreadable"):
        ConvMaskNet.load(garbage)
    # A valid graph that is not ours (no metadata, another input shape).
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "other",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    foreign = tmp_path / "foreign.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(foreign))
    with pytest.raises(FailedPreconditionError, match="is not a"):
        ConvMaskNet.load(foreign)


def test_the_engine_averages_the_two_masks(trained: tuple[train_conv.Params, dict, Path], tiny_mlp: Path) -> None:
    conv_path = trained[2]
    audio = mixture(43, 3.0)
    mlp, conv = MaskNet.load(tiny_mlp), ConvMaskNet.load(conv_path)
    spec = stft(audio, N_FFT)

    def vocals(share: float, with_conv: bool = True) -> np.ndarray:
        settings = LearnedSettings(model_path=tiny_mlp, conv_model_path=conv_path, conv_share=share)
        return separate_chunk(audio, SAMPLE_RATE, mlp, settings, conv if with_conv else None)

    alone = vocals(0.5, with_conv=False)
    np.testing.assert_allclose(vocals(0.0), alone, atol=1e-6)
    from ting_separate.engines.dsp import istft

    np.testing.assert_allclose(vocals(1.0), istft(spec * conv.mask(spec)[None], N_FFT, audio.shape[1]), atol=1e-5)
    half = vocals(0.5)
    np.testing.assert_allclose(half, 0.5 * (vocals(0.0) + vocals(1.0)), atol=1e-5)  # the STFT is linear
    engine = LearnedEngine(LearnedSettings(model_path=tiny_mlp, conv_model_path=conv_path, chunk_s=1.0))
    out = engine.separate(audio, SAMPLE_RATE, SeparationOptions(), CallControl())
    np.testing.assert_allclose(out["vocals"] + out["accompaniment"], audio, atol=1e-5)
    assert "U-Net" in engine.info().description and "mask-unet" in engine.info().model


def test_server_settings_for_the_unet(
    trained: tuple[train_conv.Params, dict, Path], tiny_mlp: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TING_SEPARATE_LEARNED_CONV_MODEL_PATH", raising=False)
    set_up = Path(sys.prefix) / "models" / "separate" / "mask_unet.onnx"
    assert SeparateSettings().learned_conv_weights == set_up == train_conv.default_conv_path()
    engines = create_engines(SeparateSettings(learned_model_path=tiny_mlp, learned_conv_model_path=trained[2]))
    learned = next(e for e in engines if e.name == "learned")
    assert isinstance(learned, LearnedEngine) and learned.conv is not None
    with pytest.raises(FailedPreconditionError, match="no convolutional mask"):
        create_engines(SeparateSettings(learned_model_path=tiny_mlp, learned_conv_model_path=tmp_path / "no.onnx"))
    monkeypatch.setenv("TING_SEPARATE_LEARNED_CONV_MODEL_PATH", str(tmp_path / "u.onnx"))
    assert SeparateSettings().learned_conv_weights == tmp_path / "u.onnx" == train_conv.default_conv_path()


def test_training_cli_defaults_are_the_train_functions() -> None:
    args = train_conv.cli().parse_args([])
    defaults = {name: p.default for name, p in inspect.signature(train_conv.train).parameters.items()}
    assert (args.songs, args.seconds, args.steps, args.batch, args.seed) == (
        defaults["songs"],
        defaults["seconds"],
        defaults["steps"],
        defaults["batch_size"],
        defaults["seed"],
    )
    assert tuple(int(c) for c in args.channels.split(",")) == tuple(defaults["channels"])
    with pytest.raises(ValueError, match="multiple of 4"):
        train_conv.train(songs=1, seconds=1.0, steps=1, patch_frames=10, channels=(4, 8, 8))
