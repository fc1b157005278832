"""Separation quality and speed: per-stem SDR of each engine next to the oracle mask and the mixture.

For every item of the evaluation set (``manifest.json`` with ``mixture`` / ``vocals`` /
``accompaniment`` per item, as in ``../shared/eval/separation``) this runs each engine in process on
the stereo mixture, downmixes estimates and references to mono and scores them with
``mir_eval.separation.bss_eval_sources`` (BSS-eval v3 SDR, the metric of the eval README's reference
figures). Next to the engines it scores

* the **oracle** ideal ratio mask |S_j| / sum |S_k| on a 2048-point STFT (the ceiling of mask methods),
* the **mixture** itself as the estimate of every stem (the floor),

``--synthetic N`` scores N songs made by the learned engine's training synthesizer from seeds it never trains
on instead (the learned engine's held-out figure; the shared set is its out-of-distribution one). The
``learned`` engine loads the weights ``make setup`` trained (``--learned-model`` for others) and, as the service
does, averages their mask with the optional U-Net's when ``make separator-unet`` wrote one
(``--learned-conv-model`` for another, ``--no-conv`` for the MLP alone). The JSON's
``default_engine`` is the one the service picks by default with these engines (``auto``: learned when present).

It reports each engine's RTFx (audio seconds separated per wall second, CPU) and the process's peak
RSS. ``--ablation`` also scores the DSP engine with each cue switched off / changed. ``--stream-minutes N``
instead streams N synthetic minutes of 44.1 kHz stereo through each engine's ``separate_stream`` (one-second
input blocks, output dropped as it comes, as the service encodes it) and prints RTFx and the peak RSS growth
(Linux), next to what the decoded input and two float32 stems would take.

    python bench/separation.py [--data DIR] [--engines learned,dsp] [--ablation] [--json]
    python bench/separation.py --synthetic 12 [--learned-model PATH]   # held-out songs of the training synthesizer
    python bench/separation.py --stream-minutes 10 [--engines dsp]
    python bench/separation.py --onnx-model htdemucs.onnx [--onnx-stems drums,bass,other,vocals]
        [--onnx-sample-rate 44100] [--onnx-channels 2] [--onnx-segment-s 7.8] [--onnx-overlap 0.25]
        [--onnx-batch-size 4] [--onnx-threads 0]

``--onnx-model`` adds the ``onnx`` engine (a separator exported to ONNX, input [batch, channels, samples],
output [batch, stems, channels, samples]; see ``ting_separate.engines.onnx``) next to the others.

With ``--json`` the last line is one JSON object: ``{"default_engine", "engines": {NAME: {"vocals_sdr",
"accompaniment_sdr", "rtfx", "rss_mb"}}, "oracle": {...}, "mixture": {...}}`` (mean dB over the set).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import mir_eval
import numpy as np
import numpy.typing as npt

from ting_common.audio import decode_audio_multichannel
from ting_common.errors import TingError
from ting_separate.config import SeparateSettings
from ting_separate.engines import CallControl, SeparationEngine, SeparationOptions, StemName
from ting_separate.engines.dsp import DspEngine, DspSettings, istft, stft
from ting_separate.engines.learned import LearnedEngine, LearnedSettings
from ting_separate.learned.synth import SongMaker
from ting_separate.server import create_engines

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "eval" / "separation"
STEMS: tuple[StemName, ...] = ("vocals", "accompaniment")
FloatArray = npt.NDArray[np.float32]


@dataclass
class Item:
    """One mixture with its true stems, float32 ``(channels, samples)``."""

    name: str
    sample_rate: int
    mixture: FloatArray
    stems: dict[StemName, FloatArray]


def load(data: Path) -> list[Item]:
    """Read the manifest and decode every mixture and stem."""
    manifest = json.loads((data / "manifest.json").read_text())
    items = []
    for entry in manifest["items"]:
        mix = decode_audio_multichannel((data / entry["mixture"]).read_bytes())
        stems = {s: decode_audio_multichannel((data / entry[s]).read_bytes()).samples for s in STEMS}
        items.append(Item(entry["name"], mix.sample_rate, mix.samples, stems))
    return items


HELD_OUT_SEED = 7_000_000  # training uses seed * 100_000 + i for small seeds; these songs are never trained on


def synthetic_items(count: int, seconds: float = 8.0) -> list[Item]:
    """``count`` songs from the training synthesizer with seeds training never uses (22.05 kHz stereo)."""
    items = []
    for i in range(count):
        song = SongMaker(seed=HELD_OUT_SEED + i).song(seconds)
        stems: dict[StemName, FloatArray] = {"vocals": song.vocals, "accompaniment": song.accompaniment}
        items.append(Item(f"synthetic_{i}", song.sample_rate, song.vocals + song.accompaniment, stems))
    return items


def sdr(references: dict[StemName, FloatArray], estimates: dict[StemName, FloatArray]) -> dict[str, float]:
    """BSS-eval v3 SDR per stem on mono downmixes."""
    ref = np.stack([references[s].mean(axis=0) for s in STEMS]).astype(np.float64)
    est = np.stack([estimates[s].mean(axis=0) for s in STEMS]).astype(np.float64)
    values, _, _, _ = mir_eval.separation.bss_eval_sources(ref, est, compute_permutation=False)
    return {s: float(v) for s, v in zip(STEMS, values, strict=True)}


def oracle(item: Item, n_fft: int = 2048) -> dict[StemName, FloatArray]:
    """Ideal ratio mask estimates |S_j| / sum_k |S_k| applied to the mixture STFT."""
    specs = {s: stft(item.stems[s], n_fft) for s in STEMS}
    total = sum(np.abs(v) for v in specs.values()) + 1e-10
    mix = stft(item.mixture, n_fft)
    length = item.mixture.shape[1]
    return {s: istft(mix * (np.abs(specs[s]) / total), n_fft, length) for s in STEMS}


def mean_scores(rows: list[dict[str, float]]) -> dict[str, float]:
    """Mean SDR per stem, rounded to 0.01 dB."""
    return {f"{s}_sdr": round(float(np.mean([r[s] for r in rows])), 2) for s in STEMS}


def run_engine(engine: SeparationEngine, items: list[Item], verbose: bool) -> dict[str, float]:
    """Separate and score every item; mean SDR per stem plus RTFx."""
    rows = []
    audio_s = wall_s = 0.0
    for item in items:
        started = time.perf_counter()
        out = engine.separate(item.mixture, item.sample_rate, SeparationOptions(stems=STEMS), CallControl())
        wall_s += time.perf_counter() - started
        audio_s += item.mixture.shape[1] / item.sample_rate
        rows.append(sdr(item.stems, {s: out[s] for s in STEMS}))
        if verbose:
            print(f"  {engine.name:<22} {item.name:<20} " + " ".join(f"{s} {rows[-1][s]:6.2f}" for s in STEMS))
    return {**mean_scores(rows), "rtfx": round(audio_s / wall_s, 2)}


def stream_figures(engine: SeparationEngine, minutes: float, rate: int = 44100) -> dict[str, float]:
    """Stream ``minutes`` of a synthetic stereo mix through ``engine``; RTFx and peak RSS growth in MiB."""
    rng = np.random.default_rng(0)
    bed = (0.05 * rng.standard_normal((2, 2 * rate))).astype(np.float32)
    seconds = round(minutes * 60)

    def blocks() -> Iterator[FloatArray]:
        for second in range(seconds):
            t = second + np.arange(rate) / rate
            voice = (0.2 * np.sin(2 * np.pi * 220 * t) * np.abs(np.sin(np.pi * 3 * t))).astype(np.float32)
            yield bed[:, (second % 2) * rate : (second % 2 + 1) * rate] + voice

    status = Path("/proc/self/status")
    resident = status.exists()
    if resident:
        Path("/proc/self/clear_refs").write_text("5")  # peak RSS := current RSS
        idle = _status_kib("VmRSS")
    started = time.perf_counter()
    for _ in engine.separate_stream(blocks(), rate, SeparationOptions(stems=STEMS), CallControl(), seconds * rate):
        pass
    wall = time.perf_counter() - started
    growth = (_status_kib("VmHWM") - idle) / 1024 if resident else float("nan")
    return {"rtfx": round(seconds / wall, 2), "peak_growth_mib": round(growth, 1)}


def _status_kib(field: str) -> int:
    line = next(li for li in Path("/proc/self/status").read_text().splitlines() if li.startswith(field + ":"))
    return int(line.split()[1])


def ablations() -> dict[str, DspSettings]:
    """The DSP engine with one idea changed at a time (and the cues built up one by one)."""
    base = DspSettings()
    return {
        "no cues (mask 0.5)": replace(base, pan=False, repet=False, band=False),
        "pan": replace(base, repet=False, band=False),
        "pan+band": replace(base, repet=False),
        "pan+band+repet (default)": base,
        "default, no pan": replace(base, pan=False),
        "default, no band": replace(base, band=False),
        "default, no repet": replace(base, repet=False),
        "default + hpss": replace(base, hpss=True),
        "default + wiener x1": replace(base, wiener_iterations=1),
        "default + wiener x2": replace(base, wiener_iterations=2),
        "default, logit combination": replace(base, combine="logit"),
        "default, window 46 ms": replace(base, window_ms=46.0),
        "default, pan width 0.4": replace(base, pan_width=0.4),
    }


def onnx_engine(args: argparse.Namespace) -> SeparationEngine:
    """The onnx engine as the service would load it from the same ``TING_SEPARATE_ONNX_*`` settings."""
    settings = SeparateSettings(
        onnx_model_path=args.onnx_model,
        onnx_stems=args.onnx_stems,
        onnx_sample_rate=args.onnx_sample_rate,
        onnx_channels=args.onnx_channels,
        onnx_segment_s=args.onnx_segment_s,
        onnx_overlap=args.onnx_overlap,
        onnx_batch_size=args.onnx_batch_size,
        onnx_intra_op_threads=args.onnx_threads,
    )
    return next(engine for engine in create_engines(settings) if engine.name == "onnx")


def learned_engine(args: argparse.Namespace) -> LearnedEngine:
    """The learned engine as the service builds it: set-up's MLP, averaged with the U-Net when there is one."""
    settings = SeparateSettings(learned_model_path=args.learned_model, learned_conv_model_path=args.learned_conv_model)
    conv = None if args.no_conv else settings.learned_conv_in_use
    return LearnedEngine(LearnedSettings(model_path=settings.learned_weights, conv_model_path=conv))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="evaluation set folder (manifest.json)")
    parser.add_argument("--engines", default="learned,dsp", help="comma-separated engines to run (learned, dsp, onnx)")
    parser.add_argument(
        "--learned-model", type=Path, default=None, help="weights of the learned engine (default: set-up's)"
    )
    parser.add_argument(
        "--learned-conv-model",
        type=Path,
        default=None,
        help="the learned engine's optional U-Net (default: `make separator-unet`'s, when it is there)",
    )
    parser.add_argument("--no-conv", action="store_true", help="the learned engine without its U-Net (MLP alone)")
    parser.add_argument(
        "--synthetic",
        type=int,
        default=0,
        help="score on this many songs made by the training synthesizer from seeds it never trains on, "
        "instead of --data",
    )
    onnx = parser.add_argument_group("onnx engine (TING_SEPARATE_ONNX_* of the service)")
    onnx.add_argument("--onnx-model", type=Path, help="ONNX separator; adds the onnx engine to --engines")
    onnx.add_argument("--onnx-stems", default="drums,bass,other,vocals", help="the model output's stems, in order")
    onnx.add_argument("--onnx-sample-rate", type=int, default=44100, help="the model's sample rate, Hz")
    onnx.add_argument("--onnx-channels", type=int, default=2, choices=(1, 2), help="channels the model takes")
    onnx.add_argument("--onnx-segment-s", type=float, default=7.8, help="segment length, seconds")
    onnx.add_argument("--onnx-overlap", type=float, default=0.25, help="segment overlap, share of a segment")
    onnx.add_argument("--onnx-batch-size", type=int, default=4, help="segments per session.run")
    onnx.add_argument("--onnx-threads", type=int, default=0, help="onnxruntime intra-op threads (0: its default)")
    parser.add_argument("--ablation", action="store_true", help="also score the DSP engine with cues switched off")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the figures")
    parser.add_argument("--verbose", action="store_true", help="per-item scores")
    parser.add_argument(
        "--stream-minutes", type=float, default=0.0, help="only stream this many synthetic minutes (memory figures)"
    )
    args = parser.parse_args()
    if args.stream_minutes > 0:
        whole = 3 * args.stream_minutes * 60 * 44100 * 2 * 4 / 2**20
        print(f"{args.stream_minutes:g} min of 44.1 kHz stereo; input + 2 float32 stems held whole: {whole:.0f} MiB")
        for name in (n for n in args.engines.split(",") if n):
            if name == "onnx":
                engine = onnx_engine(args)
            elif name == "learned":
                engine = learned_engine(args)
            else:
                engine = DspEngine()
            figures = stream_figures(engine, args.stream_minutes)
            print(f"{name:<8} RTFx {figures['rtfx']:6.1f}  peak RSS growth {figures['peak_growth_mib']:6.1f} MiB")
        return 0
    if args.synthetic > 0:
        items = synthetic_items(args.synthetic)
        print(f"{len(items)} held-out synthetic songs (seeds {HELD_OUT_SEED}+)")
    elif not (args.data / "manifest.json").is_file():
        print(f"no evaluation set at {args.data} (manifest.json missing); pass --data DIR", file=sys.stderr)
        return 2
    else:
        items = load(args.data)
        print(f"{len(items)} items from {args.data}")

    names = [name for name in args.engines.split(",") if name]
    if args.onnx_model is not None and "onnx" not in names:
        names.append("onnx")
    engines: dict[str, SeparationEngine] = {}
    for name in names:
        if name == "dsp":
            engines[name] = DspEngine()
        elif name == "learned":
            try:
                engines[name] = learned_engine(args)
            except TingError as exc:
                print(f"cannot load the learned engine: {exc}", file=sys.stderr)
                return 2
        elif name == "onnx" and args.onnx_model is not None:
            try:
                engines[name] = onnx_engine(args)
            except (TingError, ValueError) as exc:
                print(f"cannot load the onnx engine: {exc}", file=sys.stderr)
                return 2
        elif name == "onnx":
            print("the onnx engine needs --onnx-model PATH", file=sys.stderr)
            return 2
        else:
            print(f"unknown engine {name!r} (available: learned, dsp, onnx)", file=sys.stderr)
            return 2

    results: dict[str, dict[str, float]] = {}
    for name, engine in engines.items():
        results[name] = run_engine(engine, items, args.verbose)
        results[name]["rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    floor = mean_scores([sdr(item.stems, {s: item.mixture for s in STEMS}) for item in items])
    ceiling = mean_scores([sdr(item.stems, oracle(item)) for item in items])

    print(f"{'':<34} {'vocals':>8} {'accomp':>8} {'RTFx':>7} {'RSS MB':>8}")
    print(f"{'mixture (floor)':<34} {floor['vocals_sdr']:8.2f} {floor['accompaniment_sdr']:8.2f}")
    print(f"{'oracle IRM, STFT 2048 (ceiling)':<34} {ceiling['vocals_sdr']:8.2f} {ceiling['accompaniment_sdr']:8.2f}")
    for name, r in results.items():
        print(f"{name:<34} {r['vocals_sdr']:8.2f} {r['accompaniment_sdr']:8.2f} {r['rtfx']:7.1f} {r['rss_mb']:8.0f}")
    if args.ablation:
        print("\nablation (dsp engine)")
        for label, settings in ablations().items():
            r = run_engine(DspEngine(settings), items, args.verbose)
            print(f"{label:<34} {r['vocals_sdr']:8.2f} {r['accompaniment_sdr']:8.2f} {r['rtfx']:7.1f}")
    if args.json:
        default = SeparateSettings().default_for(list(engines))
        summary = {"default_engine": default, "engines": results, "oracle": ceiling, "mixture": floor}
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
