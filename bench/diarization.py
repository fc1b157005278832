"""Diarization quality and speed of the embedded GE2E diarizer.

Scores :class:`ting_asr.diarization.engine.GE2EDiarizer` on

* the synthetic meetings of ``bench/diarization_data.py`` (``--split test`` by default; ``dev`` is the set the
  engine's thresholds were calibrated on; ``long`` has six-minute meetings and ``zh`` Mandarin voices through
  Opus, two sets no constant was calibrated on), and
* ``../shared/eval/meeting_en.ogg`` and ``meeting_zh.ogg`` with the speaker turns of their ``.json`` (skipped
  when absent),

with ``pyannote.metrics``: DER (``DiarizationErrorRate(collar=0.25, skip_overlap=False)``) and JER
(``JaccardErrorRate(collar=0.25)``), per file and over the set (pyannote's accumulated figure), plus speaker-count
accuracy, RTFx (audio seconds per diarization second; model loading is not counted) and peak RSS (``VmHWM``).
The speaker count is automatic (``max_speakers=8``) unless ``--oracle-count`` gives the engine the true count.

    python bench/diarization.py [--split test|dev|long|zh] [--count N] [--method spectral|agglomerative]
        [--window-s 1.0] [--hop-s 0.5] [--oracle-count] [--no-envelope] [--no-shared] [--one-voice] [--explain]
        [--json]

``--explain`` says, for each file whose speaker count is wrong, what went wrong: each reference speaker goes to
the output speaker that holds most of its time, and a reference speaker who shares that output speaker with one
who speaks more is *missed* (merged into it; a *brief* one when it has under 2 s of speech), while an output
speaker that holds no reference speaker's majority is a *split* (of the one it holds most of). A tally follows.

``--one-voice`` also counts how often one voice is taken for one speaker (automatic count): on recordings of
each speaker of the split's meetings alone (their turns that nobody overlaps, at least 6 s) and on the one-voice
clips of ``../shared/eval/asr`` (8-14 s each, five languages, five containers).

``--no-envelope`` clusters on the GE2E embeddings alone (without the spectral-envelope features), to measure
what those add.

With ``--json`` the last line is one JSON object over the synthetic set: ``{"der", "jer",
"speaker_count_accuracy", "rtfx", "rss_mb"}`` (DER and JER are means over its meetings, as fractions).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from pyannote.core import Annotation, Segment  # type: ignore[import-untyped]
from pyannote.metrics.diarization import DiarizationErrorRate, JaccardErrorRate

from ting_asr.diarization import Diarization, DiarizationOptions
from ting_asr.diarization.clustering import ClusteringSettings, Method
from ting_asr.diarization.engine import GE2EDiarizer
from ting_common.audio import decode_audio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.diarization_data import SPLIT_SEEDS, Meeting, RefTurn, load_meetings, one_voice_recordings  # noqa: E402

SHARED_EVAL = ROOT.parent / "shared" / "eval"
SHARED_MEETINGS = ("meeting_en", "meeting_zh")


#: A reference speaker with less speech than this (seconds) is "brief" in ``--explain``.
BRIEF_S = 2.0


@dataclass
class Result:
    """One file's figures."""

    name: str
    duration: float
    ref_speakers: int
    hyp_speakers: int
    der: float
    jer: float
    seconds: float
    ref: tuple[tuple[float, float, str], ...]
    hyp: tuple[tuple[float, float, str], ...]


@dataclass(frozen=True)
class CountError:
    """One reason a file's speaker count is wrong (see ``--explain``)."""

    kind: str  # "missed" (merged into another speaker's output speaker, or given none) or "split"
    speaker: str  # the reference speaker missed or split
    hyp: str  # the output speaker it went to ("" for none), or the extra one
    other: str  # the reference speaker it was merged with, or the output speaker it was split from
    speech_s: float  # the reference speaker's speech, seconds

    def __str__(self) -> str:
        if self.kind == "missed":
            brief = "brief " if self.speech_s < BRIEF_S else ""
            if not self.hyp:
                return f"{brief}{self.speaker} ({self.speech_s:.1f} s) has no output speaker"
            return f"{brief}{self.speaker} ({self.speech_s:.1f} s) merged with {self.other} in {self.hyp}"
        return f"{self.speaker} ({self.speech_s:.1f} s) split over {self.other} and {self.hyp}"


def count_errors(ref: Sequence[tuple[float, float, str]], hyp: Sequence[tuple[float, float, str]]) -> list[CountError]:
    """Why the output speakers ``hyp`` (turns ``(start, end, speaker)``) do not match the reference speakers
    ``ref`` one to one: each reference speaker goes to the output speaker holding most of its time; one that
    shares it with a reference speaker who speaks more is missed, and an output speaker that is nobody's is a
    split of the reference speaker it holds most of."""
    overlap: dict[tuple[str, str], float] = {}
    for r_start, r_end, r_speaker in ref:
        for h_start, h_end, h_speaker in hyp:
            seconds = min(r_end, h_end) - max(r_start, h_start)
            if seconds > 0:
                overlap[r_speaker, h_speaker] = overlap.get((r_speaker, h_speaker), 0.0) + seconds
    speech: dict[str, float] = {}
    for start, end, speaker in ref:
        speech[speaker] = speech.get(speaker, 0.0) + end - start
    hyp_speakers = list(dict.fromkeys(speaker for _, _, speaker in hyp))
    best = {
        r: max(hyp_speakers, key=lambda h: overlap.get((r, h), 0.0))
        for r in speech
        if any(overlap.get((r, h), 0.0) > 0 for h in hyp_speakers)
    }
    owners: dict[str, str] = {}  # output speaker -> the reference speaker with the most speech that went to it
    for r, h in sorted(best.items(), key=lambda item: -speech[item[0]]):
        owners.setdefault(h, r)
    errors = [CountError("missed", r, h, owners[h], speech[r]) for r, h in best.items() if owners[h] != r]
    errors += [CountError("missed", r, "", "", speech[r]) for r in speech if r not in best]
    for h in hyp_speakers:
        if h not in owners:
            r = max(speech, key=lambda name: overlap.get((name, h), 0.0))
            errors.append(CountError("split", r, h, best.get(r, "?"), speech[r]))
    return errors


def annotation(turns: list[tuple[float, float, str]]) -> Annotation:
    """A pyannote annotation of ``(start, end, speaker)`` turns."""
    ann = Annotation()
    for i, (start, end, speaker) in enumerate(turns):
        if end > start:
            ann[Segment(start, end), f"t{i}"] = speaker
    return ann


def hypothesis(result: Diarization) -> list[tuple[float, float, str]]:
    return [(t.start, t.end, t.speaker) for t in result.turns]


def shared_meeting(name: str) -> Meeting | None:
    """A shared meeting (audio + reference turns from its segments), or None when ../shared lacks it."""
    audio, ref = SHARED_EVAL / f"{name}.ogg", SHARED_EVAL / f"{name}.json"
    if not (audio.is_file() and ref.is_file()):
        return None
    segments = json.loads(ref.read_text())["segments"]
    turns = tuple(RefTurn(float(s["start"]), float(s["end"]), str(s["speaker"])) for s in segments)
    return Meeting(name, decode_audio(str(audio)).samples, turns)


def peak_rss_mb() -> float:
    """The process's peak resident set (``VmHWM``), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def score(engine: GE2EDiarizer, meetings: list[Meeting], oracle_count: bool) -> tuple[list[Result], float, float]:
    """Per-meeting results and the accumulated DER / JER over ``meetings``."""
    der_total = DiarizationErrorRate(collar=0.25, skip_overlap=False)
    jer_total = JaccardErrorRate(collar=0.25, skip_overlap=False)  # type: ignore[no-untyped-call]
    results = []
    for m in meetings:
        options = DiarizationOptions(speaker_count=len(m.speakers) if oracle_count else 0, max_speakers=8)
        start = time.perf_counter()
        out = engine.diarize(m.audio, options)
        seconds = time.perf_counter() - start
        ref_turns = [(t.start, t.end, t.speaker) for t in m.turns]
        hyp_turns = hypothesis(out)
        ref, hyp = annotation(ref_turns), annotation(hyp_turns)
        der = float(der_total(ref, hyp))
        jer = float(jer_total(ref, hyp))
        results.append(
            Result(
                m.name,
                m.duration,
                len(m.speakers),
                len(out.speakers),
                der,
                jer,
                seconds,
                tuple(ref_turns),
                tuple(hyp_turns),
            )
        )
    return results, float(abs(der_total)), float(abs(jer_total))


def summary(results: list[Result]) -> dict[str, float]:
    audio = sum(r.duration for r in results)
    seconds = sum(r.seconds for r in results)
    return {
        "der": float(np.mean([r.der for r in results])),
        "jer": float(np.mean([r.jer for r in results])),
        "speaker_count_accuracy": float(np.mean([r.ref_speakers == r.hyp_speakers for r in results])),
        "rtfx": audio / seconds if seconds > 0 else 0.0,
    }


def print_table(title: str, results: list[Result], der_all: float, jer_all: float) -> None:
    print(f"\n{title}")
    print(f"{'file':<12} {'dur s':>7} {'ref':>4} {'hyp':>4} {'DER %':>7} {'JER %':>7} {'RTFx':>7}")
    for r in results:
        rtfx = r.duration / r.seconds if r.seconds > 0 else 0.0
        print(
            f"{r.name:<12} {r.duration:7.1f} {r.ref_speakers:4d} {r.hyp_speakers:4d} "
            f"{100 * r.der:7.2f} {100 * r.jer:7.2f} {rtfx:7.1f}"
        )
    s = summary(results)
    print(
        f"{'mean':<12} {sum(r.duration for r in results):7.1f} {'':4} {'':4} {100 * s['der']:7.2f} "
        f"{100 * s['jer']:7.2f} {s['rtfx']:7.1f}   count right {100 * s['speaker_count_accuracy']:.0f} %"
    )
    print(f"{'accumulated':<12} {'':7} {'':4} {'':4} {100 * der_all:7.2f} {100 * jer_all:7.2f}")


def explain(results: list[Result]) -> None:
    """Print :func:`count_errors` for each file whose count is wrong, and a tally of the kinds."""
    tally = {"brief speaker missed": 0, "speaker missed": 0, "speaker split": 0}
    wrong = [r for r in results if r.ref_speakers != r.hyp_speakers]
    print(f"\nwhy counts are wrong ({len(wrong)} of {len(results)} files)")
    for r in wrong:
        errors = count_errors(r.ref, r.hyp)
        print(f"  {r.name}: {r.ref_speakers} -> {r.hyp_speakers}: " + "; ".join(map(str, errors)))
        for e in errors:
            if e.kind == "split":
                tally["speaker split"] += 1
            else:
                tally["brief speaker missed" if e.speech_s < BRIEF_S else "speaker missed"] += 1
    print("  " + ", ".join(f"{kind}: {n}" for kind, n in tally.items()))


def one_voice(engine: GE2EDiarizer, meetings: list[Meeting]) -> None:
    """Print how many one-voice recordings come out as one speaker, and the counts of those that do not."""
    sets = {"each speaker of the meetings alone": one_voice_recordings(meetings)}
    manifest = SHARED_EVAL / "asr" / "manifest.jsonl"
    if manifest.is_file():
        clips = [str(json.loads(line)["audio"]) for line in manifest.read_text().splitlines() if line.strip()]
        sets["../shared/eval/asr clips"] = [
            Meeting(name, decode_audio(str(SHARED_EVAL / "asr" / name)).samples, ()) for name in clips
        ]
    print("\none-voice recordings taken for one speaker (automatic count)")
    for title, recordings in sets.items():
        counts = {r.name: len(engine.diarize(r.audio, DiarizationOptions(max_speakers=8)).speakers) for r in recordings}
        ones = sum(n == 1 for n in counts.values())
        split = {name: n for name, n in counts.items() if n != 1}
        print(f"  {title}: {ones} of {len(counts)} ({100 * ones / max(len(counts), 1):.1f} %)  others: {split}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=sorted(SPLIT_SEEDS), default="test")
    parser.add_argument("--count", type=int, default=None, help="meetings of the split (default: all)")
    parser.add_argument("--method", choices=["spectral", "agglomerative"], default=None)
    parser.add_argument("--window-s", type=float, default=1.0)
    parser.add_argument("--hop-s", type=float, default=0.5)
    parser.add_argument("--oracle-count", action="store_true", help="give the engine the true speaker count")
    parser.add_argument("--no-envelope", action="store_true", help="leave out the spectral-envelope features")
    parser.add_argument("--no-shared", action="store_true", help="skip the meetings of ../shared/eval")
    parser.add_argument("--one-voice", action="store_true", help="also score one-voice recordings (see above)")
    parser.add_argument("--explain", action="store_true", help="say why each wrong speaker count is wrong")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the synthetic-set figures")
    args = parser.parse_args()

    meetings = load_meetings(args.split, args.count)
    clustering = ClusteringSettings()
    if args.method is not None:
        method: Method = args.method
        clustering = replace(clustering, method=method)
    engine = GE2EDiarizer(
        window_s=args.window_s, hop_s=args.hop_s, clustering=clustering, envelope=not args.no_envelope
    )
    engine.diarize(meetings[0].audio[: 16_000 * 5], DiarizationOptions())  # warm-up: VAD session, BLAS

    print(
        f"GE2EDiarizer: {clustering.method} clustering, window {args.window_s} s, hop {args.hop_s} s, "
        f"{'oracle' if args.oracle_count else 'automatic'} speaker count, "
        f"{'GE2E embeddings only' if args.no_envelope else 'GE2E embeddings + spectral envelope'}"
    )
    results, der_all, jer_all = score(engine, meetings, args.oracle_count)
    print_table(f"synthetic meetings ({args.split}, {len(meetings)})", results, der_all, jer_all)
    if args.explain:
        explain(results)
    figures = summary(results)

    if not args.no_shared:
        found = [m for m in map(shared_meeting, SHARED_MEETINGS) if m is not None]
        if found:
            shared_results, der_s, jer_s = score(engine, found, args.oracle_count)
            print_table(f"shared eval ({', '.join(m.name for m in found)})", shared_results, der_s, jer_s)
            if args.explain:
                explain(shared_results)
        else:
            print(f"\nshared eval: {', '.join(SHARED_MEETINGS)} not found in {SHARED_EVAL}, skipped")

    if args.one_voice:
        one_voice(engine, meetings)

    rss = peak_rss_mb()
    print(f"\npeak RSS {rss:.0f} MB")
    if args.json:
        print(json.dumps({**{k: round(v, 4) for k, v in figures.items()}, "rss_mb": rss}))


if __name__ == "__main__":
    main()
