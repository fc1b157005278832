"""The ``onnx`` separation engine on tiny models built here with ``onnx.helper``.

The model under test scales its input: stem ``k`` = ``gain_k`` x input, stacked into ``[batch, stems,
channels, time]`` (Mul / Unsqueeze / Concat). Gains summing to one make the stems sum back to the input,
so chunking, cross-fades, batching, resampling and stem mapping can all be checked against the input.
The model runs at 16 kHz and the test audio at 22.05 kHz, so both resampling directions are exercised.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np
import pytest

from ting_common.errors import FailedPreconditionError
from ting_separate.config import SeparateSettings
from ting_separate.engines import CallControl, FloatArray, SeparationOptions, StemName, StopRequested
from ting_separate.engines.onnx import OnnxEngine, OnnxSettings
from ting_separate.server import create_engines

MODEL_RATE = 16000
RATE = 22050
GAINS: dict[StemName, float] = {"drums": 0.2, "other": 0.5, "vocals": 0.3}
EDGE = 200  # samples at either end of the file where resampling sees zero padding


def build_separator(
    path: Path,
    gains: dict[StemName, float] | None = None,
    *,
    channels: int = 2,
    batch: int | str = "batch",
    time: int | str = "time",
) -> Path:
    """Write an ONNX model with input ``mix`` [batch, channels, time] and output [batch, stems, channels, time]."""
    from onnx import TensorProto, checker, helper, save

    gains = gains or GAINS
    nodes = []
    initializers = [helper.make_tensor("axis", TensorProto.INT64, [1], [1])]
    for index, gain in enumerate(gains.values()):
        initializers.append(helper.make_tensor(f"gain{index}", TensorProto.FLOAT, [], [gain]))
        nodes.append(helper.make_node("Mul", ["mix", f"gain{index}"], [f"scaled{index}"]))
        nodes.append(helper.make_node("Unsqueeze", [f"scaled{index}", "axis"], [f"stem{index}"]))
    nodes.append(helper.make_node("Concat", [f"stem{i}" for i in range(len(gains))], ["stems"], axis=1))
    graph = helper.make_graph(
        nodes,
        "tiny_separator",
        [helper.make_tensor_value_info("mix", TensorProto.FLOAT, [batch, channels, time])],
        [helper.make_tensor_value_info("stems", TensorProto.FLOAT, [batch, len(gains), channels, time])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    checker.check_model(model)
    save(model, str(path))
    return path


def music(seconds: float, channels: int = 2, rate: int = RATE, seed: int = 5) -> FloatArray:
    """Band-limited test audio (well under the model's 8 kHz Nyquist), different in each channel."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    rows = []
    for _ in range(channels):
        freqs = rng.uniform(80, 5000, size=12)
        phases = rng.uniform(0, 2 * np.pi, size=12)
        envelope = 0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.5, 3) * t)
        rows.append(envelope * np.sum(np.sin(2 * np.pi * freqs[:, None] * t + phases[:, None]), axis=0) / 12)
    return (0.5 * np.stack(rows)).astype(np.float32)


def engine(path: Path, **overrides: object) -> OnnxEngine:
    values: dict[str, object] = {
        "model_path": path,
        "stems": tuple(GAINS),
        "sample_rate": MODEL_RATE,
        "channels": 2,
        "segment_s": 0.5,
        "overlap": 0.25,
        "batch_size": 3,
        "intra_op_threads": 1,
    }
    values.update(overrides)
    return OnnxEngine(OnnxSettings(**values))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_separator(tmp_path_factory.mktemp("onnx") / "tiny.onnx")


def assert_scaled(stem: FloatArray, audio: FloatArray, gain: float, atol: float = 5e-4) -> None:
    """``stem`` is ``gain`` x ``audio`` away from the file's edges (resampling tolerance)."""
    assert stem.shape == audio.shape
    assert stem.dtype == np.float32
    np.testing.assert_allclose(stem[:, EDGE:-EDGE], gain * audio[:, EDGE:-EDGE], atol=atol)


def test_info_lists_model_stems_and_derived_accompaniment(model: Path) -> None:
    info = engine(model).info()
    assert info.name == "onnx"
    assert info.supported_stems == ("drums", "other", "vocals", "accompaniment")
    assert info.default_stems == ("vocals", "accompaniment")
    assert (info.sample_rate, info.channels, info.default_segment_ms) == (MODEL_RATE, 2, 500)
    assert info.device == "cpu"
    assert info.model == "tiny.onnx"
    assert info.loaded


def test_stems_scale_the_input_across_rates_chunks_and_batches(model: Path) -> None:
    audio = music(3.0)
    progress: list[tuple[int, int]] = []
    control = CallControl(on_progress=lambda done, total: progress.append((done, total)))
    options = SeparationOptions(stems=("vocals", "accompaniment", "drums", "other"))
    out = engine(model).separate(audio, RATE, options, control)
    assert list(out) == ["vocals", "accompaniment", "drums", "other"]
    assert_scaled(out["vocals"], audio, 0.3)
    assert_scaled(out["accompaniment"], audio, 0.7)  # drums + other: the model has no accompaniment output
    assert_scaled(out["drums"], audio, 0.2)
    total = out["vocals"] + out["accompaniment"]
    np.testing.assert_allclose(total[:, EDGE:-EDGE], audio[:, EDGE:-EDGE], atol=1e-3)
    np.testing.assert_allclose(out["drums"] + out["other"], out["accompaniment"], atol=1e-6)
    # 0.5 s segments with 25 % overlap over 3 s: about 8 chunks, 3 per session.run, one report per batch.
    chunk = MODEL_RATE // 2 * RATE // MODEL_RATE
    chunks = math.ceil((audio.shape[1] - chunk) / (chunk * 0.75)) + 1
    assert len(progress) == math.ceil(chunks / 3) >= 3
    done = [d for d, _ in progress]
    assert done == sorted(done)
    assert done[-1] == audio.shape[1]
    assert {t for _, t in progress} == {audio.shape[1]}


def test_at_the_model_rate_the_stems_sum_back_exactly(model: Path) -> None:
    audio = music(2.0, rate=MODEL_RATE)
    out = engine(model).separate(audio, MODEL_RATE, SeparationOptions(("vocals", "accompaniment")), CallControl())
    np.testing.assert_allclose(out["vocals"], 0.3 * audio, atol=1e-6)
    np.testing.assert_allclose(out["vocals"] + out["accompaniment"], audio, atol=1e-6)


def test_more_batching_gives_the_same_result(model: Path) -> None:
    audio = music(2.0)
    options = SeparationOptions(stems=("vocals",))
    one = engine(model, batch_size=1).separate(audio, RATE, options, CallControl())
    many = engine(model, batch_size=16).separate(audio, RATE, options, CallControl())
    np.testing.assert_allclose(one["vocals"], many["vocals"], atol=1e-6)


def test_request_segment_and_overlap_are_honoured(model: Path) -> None:
    audio = music(3.0)
    reports: list[int] = []
    control = CallControl(on_progress=lambda done, total: reports.append(done))
    options = SeparationOptions(stems=("vocals",), segment_ms=1500, overlap_ratio=0.0)
    out = engine(model, batch_size=1).separate(audio, RATE, options, control)
    assert len(reports) == 3  # 3 s in 1.5 s segments (less the resampler context): 3 chunks
    # Without overlap the chunk seams are not faded: the resampler's context keeps them clean.
    assert_scaled(out["vocals"], audio, 0.3)


def test_mono_input_is_upmixed_and_downmixed_back(model: Path) -> None:
    audio = music(1.5, channels=1)
    out = engine(model).separate(audio, RATE, SeparationOptions(("vocals", "accompaniment")), CallControl())
    assert_scaled(out["vocals"], audio, 0.3)
    assert_scaled(out["accompaniment"], audio, 0.7)


def test_a_mono_model_runs_each_channel(tmp_path: Path) -> None:
    path = build_separator(tmp_path / "mono.onnx", channels=1)
    audio = music(1.5)
    out = engine(path, channels=1).separate(audio, RATE, SeparationOptions(("vocals",)), CallControl())
    assert_scaled(out["vocals"], audio, 0.3)  # left and right differ, so a mix-up would show


def test_fixed_batch_and_length_in_the_graph_are_followed(tmp_path: Path) -> None:
    path = build_separator(tmp_path / "fixed.onnx", batch=1, time=6000)
    separator = engine(path, segment_s=2.0, batch_size=8)
    assert separator.info().default_segment_ms == 375  # the graph's 6000 samples at 16 kHz
    audio = music(2.0)
    reports: list[int] = []
    control = CallControl(on_progress=lambda done, total: reports.append(done))
    out = separator.separate(audio, RATE, SeparationOptions(("vocals",), segment_ms=5000), control)
    assert len(reports) > 5  # one segment per run, of the graph's length (the request's 5 s is ignored)
    assert_scaled(out["vocals"], audio, 0.3)


def test_a_vocals_only_model_gives_the_rest_as_accompaniment(tmp_path: Path) -> None:
    path = build_separator(tmp_path / "vocals.onnx", {"vocals": 0.4})
    separator = engine(path, stems=("vocals",))
    assert separator.info().supported_stems == ("vocals", "accompaniment")
    audio = music(1.5)
    out = separator.separate(audio, RATE, SeparationOptions(("vocals", "accompaniment")), CallControl())
    assert_scaled(out["accompaniment"], audio, 0.6)


def test_stops_between_batches(model: Path) -> None:
    audio = music(3.0)
    calls: list[int] = []
    control = CallControl(stop=threading.Event())

    def on_progress(done: int, total: int) -> None:
        calls.append(done)
        control.stop.set()

    control.on_progress = on_progress
    with pytest.raises(StopRequested):
        engine(model, batch_size=1).separate(audio, RATE, SeparationOptions(("vocals",)), control)
    assert len(calls) == 1


def test_stems_the_model_lacks_are_refused(model: Path) -> None:
    with pytest.raises(FailedPreconditionError, match="cannot produce bass"):
        engine(model).separate(music(0.5), RATE, SeparationOptions(("bass",)), CallControl())


def test_bad_models_fail_at_load_with_the_setting_named(model: Path, tmp_path: Path) -> None:
    with pytest.raises(FailedPreconditionError, match=r"TING_SEPARATE_ONNX_MODEL_PATH=.* is not a file"):
        engine(tmp_path / "missing.onnx")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"definitely not a protobuf" * 10)
    with pytest.raises(FailedPreconditionError, match="cannot load the ONNX separator"):
        engine(garbage)
    with pytest.raises(FailedPreconditionError, match="returns 3 stems but TING_SEPARATE_ONNX_STEMS names 2"):
        engine(model, stems=("vocals", "other"))
    mono = build_separator(tmp_path / "mono.onnx", channels=1)
    with pytest.raises(FailedPreconditionError, match="TING_SEPARATE_ONNX_CHANNELS=2"):
        engine(mono, channels=2)


def test_create_engines_loads_onnx_only_when_configured(model: Path, tmp_path: Path) -> None:
    base = {"onnx_stems": "drums,other,vocals", "onnx_sample_rate": MODEL_RATE, "learned": False}
    assert [e.name for e in create_engines(SeparateSettings(learned=False))] == ["dsp"]
    configured = create_engines(SeparateSettings(onnx_model_path=model, **base))  # type: ignore[arg-type]
    assert [e.name for e in configured] == ["dsp", "onnx"]
    default = create_engines(
        SeparateSettings(onnx_model_path=model, default_engine="onnx", **base)  # type: ignore[arg-type]
    )
    assert [e.name for e in default] == ["onnx", "dsp"]
    with pytest.raises(FailedPreconditionError, match="TING_SEPARATE_ONNX_MODEL_PATH"):
        create_engines(SeparateSettings(default_engine="onnx", learned=False))
    garbage = tmp_path / "broken.onnx"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(FailedPreconditionError, match=r"broken\.onnx"):
        create_engines(SeparateSettings(onnx_model_path=garbage, **base))  # type: ignore[arg-type]


def test_settings_check_the_stem_names() -> None:
    assert SeparateSettings(onnx_stems=" vocals, drums ").onnx_stem_names == ("vocals", "drums")
    with pytest.raises(ValueError, match="comma-separated list"):
        SeparateSettings(onnx_stems="vocals,kazoo")
    with pytest.raises(ValueError, match="named twice"):
        SeparateSettings(onnx_stems="vocals,vocals")
