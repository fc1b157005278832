"""Synthetic meetings for the diarization benchmark: espeak-ng voices taking turns, with reference turns.

Each meeting has 2-5 speakers, each a distinct espeak-ng voice (an English accent with a voice variant, its own
pitch ``-p`` and speed ``-s`` and a loudness offset). Turns last 0.5-8 s (about one in six is a short answer:
"Yes.", "Okay, sounds good."), pauses between turns are 0.15-1.2 s with an occasional 2-3 s silence, and about one
turn in ten starts 0.3-1 s before the previous one ends (overlapped speech). A -62 dBFS noise floor keeps the
silences from being digital zero. Reference turns are each utterance's real extent after trimming espeak-ng's
leading and trailing silence (pauses inside an utterance, at commas, stay inside its turn).

Splits with disjoint seeds: ``dev`` (calibration of the engine's thresholds) and ``test`` (the figures the
benchmark reports), plus two that only measure how the engine holds up away from the calibration set:

* ``long``: the same voices and text, 80-100 turns (about six minutes, a voice speaking for one to three of them);
* ``zh``: Mandarin, espeak-ng's ``cmn`` voice with the same twelve variants, Chinese text and short answers
  ("好的。"), sent through Opus at 16 kbit/s and decoded again (as ``../shared/eval/meeting_zh.ogg`` is coded).

All are deterministic for one espeak-ng version (and, for ``zh``, one libopus) and cached as 16 kHz PCM WAV + JSON
under ``bench/.cache/diarization/<split>/`` (git-ignored by the ``.cache/`` rule).

    python bench/diarization_data.py [--split dev|test|long|zh] [--count N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache" / "diarization"
SAMPLE_RATE = 16_000
VERSION = 1  # bump when the generator changes: cached meetings are rebuilt
SPLIT_SEEDS = {"dev": 1_000, "test": 2_000, "long": 5_000, "zh": 7_000}
DEFAULT_COUNTS = {"dev": 10, "test": 12, "long": 10, "zh": 30}

FloatArray = npt.NDArray[np.float32]

# Accent + variant. The shared meeting_en uses en-us+f3, en-gb and en-us+m3; those exact voices are left out.
VOICES = (
    "en+m1",
    "en+f2",
    "en-us+m7",
    "en-gb+f4",
    "en-gb-scotland+m2",
    "en-us+f5",
    "en-029+m4",
    "en-gb-x-rp+f1",
    "en-us-nyc+m5",
    "en-gb-x-gbclan+m6",
    "en+klatt2",
    "en-gb-x-gbcwmd+f3",
)

_PARAGRAPH = (
    "Thanks everyone for joining today. The first item on the agenda is the quarterly budget review, which we "
    "postponed last week because the numbers from the regional offices were not ready. I looked at the draft this "
    "morning and most of the lines are within the plan, but travel is about fifteen percent over. Marketing asked "
    "for another contractor until the end of the year, and I think we can afford it if we move the conference "
    "sponsorship to the spring. On the product side the new search page shipped on Tuesday. Early feedback is "
    "good, the response time went down from two seconds to under half a second for most queries. We still see "
    "timeouts on very large accounts, and the database team is looking into an index that was missing after the "
    "migration. Support reported three tickets about the export button, which does nothing in older browsers. "
    "That one is easy to fix and should be in the next patch release. For hiring, we have two open positions in "
    "the platform team and one in design. The interviews for the senior engineer role are scheduled for next week, "
    "and we have four candidates in the final round. Could somebody from the infrastructure group join the system "
    "design interview on Thursday afternoon? The office move is planned for the first weekend of next month. "
    "Please pack your desks on Friday and label every box with your name and the new room number. The movers "
    "arrive at eight in the morning, and the network should be up again by Monday at nine. Finally, the customer "
    "workshop in Lisbon went well. We collected a long list of feature requests, and the most common one is "
    "offline access on mobile devices. I will share the notes after this call so that everyone can comment."
)
TEXT = tuple(_PARAGRAPH.split())
SHORT = ("Yes.", "Okay.", "Right.", "Sure.", "No.", "Exactly.", "Okay, sounds good.", "Agreed.", "Thank you.", "Mhm.")

# The ``zh`` split: the variants above on espeak-ng's Mandarin voice, a meeting paragraph split into words.
ZH_VOICES = tuple(f"cmn+{voice.split('+')[1]}" for voice in VOICES)
_ZH_PARAGRAPH = (
    "大家好 今天 我们 讨论 新产品 发布会 的 筹备 工作 首先 请 市场部 介绍 一下 目前 的 进展 情况 我们 已经 联系 了 "
    "三家 场地 供应商 价格 都 在 预算 之内 但是 时间 安排 还 需要 确认 另外 客户 投诉 数量 比 上个 季度 增加 了 "
    "百分之 十五 主要 集中 在 物流 延迟 和 包装 破损 两个 方面 我 建议 下周 之前 完成 改进 方案 并且 和 物流 公司 "
    "重新 谈判 合同 条款 技术 团队 正在 修复 网站 的 支付 问题 预计 周五 可以 上线 请 大家 在 会后 把 意见 发给 我"
)
ZH_TEXT = tuple(_ZH_PARAGRAPH.split())
ZH_SHORT = ("好的。", "是的。", "对。", "没问题。", "可以。", "嗯。", "谢谢。", "同意。")


@dataclass(frozen=True)
class Style:
    """How a split's meetings are made: the voices drawn from, the words spoken, how many turns, and a codec."""

    voices: tuple[str, ...] = VOICES
    text: tuple[str, ...] = TEXT
    short: tuple[str, ...] = SHORT
    turns: tuple[int, int] = (12, 20)
    #: Opus bit rate of a round trip through an Ogg/Opus file (None: the PCM as synthesized).
    opus_bitrate: int | None = None


STYLES = {
    "dev": Style(),
    "test": Style(),
    "long": Style(turns=(80, 100)),
    "zh": Style(voices=ZH_VOICES, text=ZH_TEXT, short=ZH_SHORT, opus_bitrate=16_000),
}


@dataclass(frozen=True)
class Voice:
    """One speaker: espeak-ng voice, pitch (0-99), speed (words per minute), loudness offset (dB)."""

    name: str
    pitch: int
    speed: int
    gain_db: float


@dataclass(frozen=True)
class RefTurn:
    """A reference turn: seconds from the start, speaker label."""

    start: float
    end: float
    speaker: str


@dataclass(frozen=True)
class Meeting:
    """One synthetic meeting: 16 kHz mono audio and its reference turns."""

    name: str
    audio: FloatArray
    turns: tuple[RefTurn, ...]

    @property
    def speakers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.speaker for t in self.turns))

    @property
    def duration(self) -> float:
        return float(self.audio.shape[0]) / SAMPLE_RATE


def espeak_version() -> str:
    """``espeak-ng --version`` (part of the cache key: another version makes other audio)."""
    return subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True).stdout.strip()


def synthesize(text: str, voice: Voice) -> FloatArray:
    """espeak-ng speech at 16 kHz, leading/trailing silence trimmed, with the voice's gain."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice.name, "-p", str(voice.pitch), "-s", str(voice.speed), "-w", str(path), text],
            check=True,
            capture_output=True,
        )
        raw, rate = read_wav(path)
    audio = resample(raw, rate, SAMPLE_RATE)
    return trim(audio) * np.float32(10 ** (voice.gain_db / 20))


def resample(audio: FloatArray, rate: int, target: int) -> FloatArray:
    """Polyphase resampling (espeak-ng writes 22050 Hz)."""
    if rate == target:
        return audio
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(rate, target)
    out: FloatArray = resample_poly(audio, target // g, rate // g).astype(np.float32)
    return out


def trim(audio: FloatArray, frame: int = 160, floor_db: float = -45.0) -> FloatArray:
    """Cut leading and trailing frames quieter than ``floor_db`` relative to the peak frame."""
    n = audio.shape[0] // frame
    if n == 0:
        return audio
    energy = np.sqrt(np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1)) + 1e-9
    loud = np.flatnonzero(20 * np.log10(energy / energy.max()) > floor_db)
    if loud.size == 0:
        return audio[:0]
    return audio[loud[0] * frame : (loud[-1] + 1) * frame]


def read_wav(path: Path) -> tuple[FloatArray, int]:
    """Mono 16-bit PCM WAV as float32 in [-1, 1]."""
    with wave.open(str(path), "rb") as f:
        rate, channels, frames = f.getframerate(), f.getnchannels(), f.readframes(f.getnframes())
    data = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1)
    return data.astype(np.float32), rate


def write_wav(path: Path, audio: FloatArray, rate: int = SAMPLE_RATE) -> None:
    """Mono 16-bit PCM WAV."""
    pcm = np.clip(np.round(audio * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(pcm.tobytes())


def make_meeting(name: str, seed: int, style: Style | None = None) -> Meeting:
    """One meeting from its seed (deterministic); ``style`` defaults to the ``dev``/``test`` one."""
    style = style or Style()
    rng = random.Random(seed)
    noise_rng = np.random.default_rng(seed)
    n_speakers = rng.randint(2, 5)
    voices = [
        Voice(v, rng.randint(25, 75), rng.randint(145, 190), rng.uniform(-4.0, 4.0))
        for v in rng.sample(style.voices, n_speakers)
    ]
    labels = [chr(ord("A") + i) for i in range(n_speakers)]
    n_turns = rng.randint(*style.turns)
    order: list[int] = list(range(n_speakers))  # everyone speaks early
    rng.shuffle(order)
    while len(order) < n_turns:
        order.append(rng.choice([s for s in range(n_speakers) if s != order[-1]]))
    pieces: list[tuple[int, FloatArray]] = []
    cursor = 0.5
    turns: list[RefTurn] = []
    word = rng.randrange(len(style.text))
    for index, speaker in enumerate(order):
        voice = voices[speaker]
        if rng.random() < 0.17:
            text = rng.choice(style.short)
        else:
            target_s = rng.uniform(1.0, 8.0)
            n_words = max(2, round(target_s * voice.speed / 60))
            text = " ".join(style.text[(word + i) % len(style.text)] for i in range(n_words))
            word = (word + n_words) % len(style.text)
        speech = synthesize(text, voice)
        if speech.size == 0:
            continue
        length = speech.shape[0] / SAMPLE_RATE
        if index > 0 and rng.random() < 0.1 and turns:
            overlap = min(rng.uniform(0.3, 1.0), 0.5 * (turns[-1].end - turns[-1].start), 0.5 * length)
            start = turns[-1].end - overlap
        elif index > 0 and rng.random() < 0.08:
            start = cursor + rng.uniform(2.0, 3.0)
        else:
            start = cursor + (rng.uniform(0.15, 1.2) if index > 0 else 0.0)
        offset = round(start * SAMPLE_RATE)
        pieces.append((offset, speech))
        turns.append(
            RefTurn(round(offset / SAMPLE_RATE, 3), round((offset + speech.shape[0]) / SAMPLE_RATE, 3), labels[speaker])
        )
        cursor = max(cursor, turns[-1].end)
    total = round((cursor + 0.7) * SAMPLE_RATE)
    audio = np.zeros(total, dtype=np.float32)
    for offset, speech in pieces:
        audio[offset : offset + speech.shape[0]] += speech
    audio *= np.float32(0.7 / max(float(np.abs(audio).max()), 1e-6))
    audio += noise_rng.normal(0.0, 10 ** (-62 / 20), total).astype(np.float32)
    if style.opus_bitrate is not None:
        audio = opus_round_trip(audio, style.opus_bitrate)
    turns.sort(key=lambda t: (t.start, t.end))
    return Meeting(name, audio, tuple(turns))


def opus_round_trip(audio: FloatArray, bitrate: int) -> FloatArray:
    """``audio`` (16 kHz mono) encoded to an Ogg/Opus file at ``bitrate`` bit/s with PyAV and decoded again, cut
    or padded to its length (libopus takes 16 kHz as it is; the decoder drops the encoder's pre-skip)."""
    import io

    import av

    from ting_common.audio import decode_audio

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=SAMPLE_RATE, layout="mono")
        stream.bit_rate = bitrate
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(audio, dtype=np.float32)[np.newaxis, :], format="flt", layout="mono"
        )
        frame.sample_rate = SAMPLE_RATE
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    decoded = decode_audio(buffer.getvalue()).samples[: audio.shape[0]]
    out = np.zeros(audio.shape[0], dtype=np.float32)
    out[: decoded.shape[0]] = decoded
    return out


def one_voice_recordings(meetings: list[Meeting], min_seconds: float = 6.0, gap_s: float = 0.5) -> list[Meeting]:
    """One-speaker recordings cut from ``meetings``: each speaker's turns that no other voice overlaps, in order,
    with ``gap_s`` of the -62 dBFS noise floor between them; speakers with less than ``min_seconds`` of such speech
    are left out. Named ``<meeting>_<speaker>``."""
    out = []
    for m in meetings:
        gap = round(gap_s * SAMPLE_RATE)
        noise = np.random.default_rng(len(m.audio)).normal(0.0, 10 ** (-62 / 20), gap).astype(np.float32)
        for speaker in m.speakers:
            pieces: list[FloatArray] = []
            turns: list[RefTurn] = []
            cursor = 0
            for t in m.turns:
                if t.speaker != speaker or any(
                    o.speaker != speaker and o.start < t.end and o.end > t.start for o in m.turns
                ):
                    continue
                speech = m.audio[round(t.start * SAMPLE_RATE) : round(t.end * SAMPLE_RATE)]
                turns.append(RefTurn(cursor / SAMPLE_RATE, (cursor + speech.shape[0]) / SAMPLE_RATE, speaker))
                pieces += [speech, noise]
                cursor += speech.shape[0] + noise.shape[0]
            if pieces and sum(p.shape[0] for p in pieces[::2]) >= min_seconds * SAMPLE_RATE:
                out.append(Meeting(f"{m.name}_{speaker}", np.concatenate(pieces), tuple(turns)))
    return out


def load_meetings(split: str = "test", count: int | None = None, cache: Path = CACHE) -> list[Meeting]:
    """The split's meetings, built on first use and then read from ``cache``."""
    n = DEFAULT_COUNTS[split] if count is None else count
    key = hashlib.sha256(f"{VERSION}|{espeak_version()}".encode()).hexdigest()[:10]
    folder = cache / split / key
    folder.mkdir(parents=True, exist_ok=True)
    meetings = []
    for i in range(n):
        name = f"{split}_{i:02d}"
        wav, ref = folder / f"{name}.wav", folder / f"{name}.json"
        if not (wav.is_file() and ref.is_file()):
            meeting = make_meeting(name, SPLIT_SEEDS[split] + i, STYLES[split])
            write_wav(wav, meeting.audio)
            ref.write_text(json.dumps([[t.start, t.end, t.speaker] for t in meeting.turns]))
        audio, _ = read_wav(wav)
        turns = tuple(RefTurn(float(s), float(e), str(spk)) for s, e, spk in json.loads(ref.read_text()))
        meetings.append(Meeting(name, audio, turns))
    return meetings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=sorted(SPLIT_SEEDS), default="test")
    parser.add_argument("--count", type=int, default=None)
    args = parser.parse_args()
    for m in load_meetings(args.split, args.count):
        overlaps = sum(1 for a, b in zip(m.turns, m.turns[1:], strict=False) if b.start < a.end)
        print(f"{m.name}: {m.duration:6.1f} s, {len(m.speakers)} speakers, {len(m.turns)} turns, {overlaps} overlaps")


if __name__ == "__main__":
    main()
