"""Training songs for the ``learned`` separator: random vocals over random accompaniment, with the true stems.

Nothing is downloaded and no evaluation file is read: every song is synthesized from a seed.

* **Accompaniment**: a random tempo, key, mode and groove; drums (pitched-sweep kick, noisy snare, hats,
  shaker, toms), a bass line, chord pads (detuned saw / additive / organ), plucked arpeggios and strums
  (Karplus-Strong), sometimes a lead synth line or a noise texture; each instrument panned somewhere in the
  stereo field, with random levels and brightness.
* **Vocals**: espeak-ng speech in many languages and voice variants (rap / spoken lines, or syllables sung
  on a melody by changing the pitch per syllable) and a source-filter singer (a glottal-like harmonic
  source with vibrato through vowel formants, male or female range); panned near the centre with an echo,
  or, on some songs, mono; sometimes doubled.

espeak-ng is optional: without it the vocals are the source-filter singer only (and the model is weaker on
speech). Every random choice comes from one ``numpy`` generator, so a seed gives the same song.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy import signal

Float = npt.NDArray[np.float64]

ESPEAK_VOICES: Final = (
    "en-us", "en-gb", "en-gb-scotland", "en-029", "es", "es-419", "de", "fr", "it", "pt", "pt-br", "nl", "sv",
    "pl", "ru", "cs", "ro", "hu", "fi", "da", "nb", "tr", "id", "cmn", "ja", "hi", "vi", "el", "uk", "sw",
)  # fmt: skip
VARIANTS: Final = ("", "+m1", "+m2", "+m3", "+m4", "+m5", "+m6", "+m7", "+f1", "+f2", "+f3", "+f4", "+f5")
SYLLABLES: Final = (
    "la", "na", "do", "re", "mi", "so", "ti", "ka", "ma", "yo", "be", "lu", "sha", "oh", "ay", "wo", "da", "ni",
    "go", "ri", "te", "ba", "ho", "ve", "zu", "fa", "kee", "moo", "lay", "rah",
)  # fmt: skip
WORDS: Final = (
    "time", "night", "light", "heart", "city", "river", "money", "dream", "fire", "road", "home", "world", "rain",
    "we", "you", "never", "always", "again", "tonight", "hold", "run", "fly", "fall", "rise", "gold", "stone",
    "baby", "street", "summer", "winter", "open", "the", "door", "sky", "love", "lost", "found", "back", "down",
    "morning", "ocean", "shadow", "ready", "listen", "music", "dance", "feel", "move", "slow", "fast", "together",
    "yeah", "come", "on", "stay", "with", "me", "till", "end", "of", "line", "blue", "red", "golden", "echo",
)  # fmt: skip
VOWELS: Final = {  # formant centre frequencies (Hz) of a male voice; a female voice scales them up
    "a": (730, 1090, 2440),
    "e": (530, 1840, 2480),
    "i": (270, 2290, 3010),
    "o": (570, 840, 2410),
    "u": (300, 870, 2240),
    "ae": (660, 1720, 2410),
    "er": (490, 1350, 1690),
}


def espeak_available() -> bool:
    """Whether the espeak-ng command is on PATH."""
    return shutil.which("espeak-ng") is not None


def espeak(text: str, voice: str, sample_rate: int, speed: int = 160, pitch: int = 50) -> Float:
    """Speak ``text`` with espeak-ng; mono float64 at ``sample_rate`` (empty when espeak-ng fails)."""
    proc = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text],
        capture_output=True,
        timeout=30,
        check=False,
    )
    data = proc.stdout
    if proc.returncode != 0 or len(data) < 46 or data[:4] != b"RIFF":
        return np.zeros(0)
    rate = int.from_bytes(data[24:28], "little")
    pcm = np.frombuffer(data[44 : 44 + (len(data) - 44) // 2 * 2], dtype="<i2").astype(np.float64) / 32768.0
    if rate != sample_rate:
        g = np.gcd(rate, sample_rate)
        pcm = signal.resample_poly(pcm, sample_rate // g, rate // g)
    return trim(pcm)


def trim(x: Float, floor_db: float = -45.0) -> Float:
    """Cut leading and trailing near-silence."""
    if x.size == 0:
        return x
    level = np.abs(x)
    keep = np.flatnonzero(level > np.max(level) * 10 ** (floor_db / 20))
    return x[keep[0] : keep[-1] + 1] if keep.size else x[:0]


def midi_hz(m: float) -> float:
    """Frequency of MIDI note ``m``."""
    return float(440.0 * 2 ** ((m - 69) / 12))


def pan(x: Float, position: float) -> Float:
    """Constant-power pan of mono ``x`` to ``(2, n)``; ``position`` -1 (left) .. 1 (right)."""
    angle = (position + 1) * np.pi / 4
    return np.stack([x * np.cos(angle), x * np.sin(angle)])


def add(out: Float, x: Float, start: int) -> None:
    """Mix ``x`` (``(2, n)``) into ``out`` from sample ``start``, clipped to ``out``'s length."""
    if start >= out.shape[1] or start + x.shape[1] <= 0:
        return
    a, b = max(start, 0), min(start + x.shape[1], out.shape[1])
    out[:, a:b] += x[:, a - start : b - start]


def envelope(n: int, sr: int, attack: float, decay: float, sustain: float, release: float) -> Float:
    """Piecewise-linear ADSR over ``n`` samples (release inside the note)."""
    t = np.arange(n) / sr
    dur = n / sr
    env = np.where(t < attack, t / max(attack, 1e-4), 1.0)
    after = t - attack
    env = np.where((t >= attack) & (after < decay), 1 - (1 - sustain) * after / max(decay, 1e-4), env)
    env = np.where(after >= decay, sustain, env)
    rel_start = max(dur - release, 0.0)
    env = np.where(t > rel_start, env * np.clip((dur - t) / max(release, 1e-4), 0, 1), env)
    return np.asarray(env, dtype=np.float64)


def harmonic_tone(freq: float, n: int, sr: int, tilt: float, rng: np.random.Generator, odd: bool = False) -> Float:
    """A harmonic tone with a spectral tilt (dB per octave, negative), random harmonic phases."""
    t = np.arange(n) / sr
    out = np.zeros(n)
    k = 1
    while k * freq < min(sr / 2 - 500, 9000) and k <= 40:
        if not odd or k % 2 == 1:
            out += 10 ** (tilt * np.log2(k) / 20) * np.sin(2 * np.pi * k * freq * t + rng.uniform(0, 2 * np.pi))
        k += 1
    return out


def karplus(freq: float, n: int, sr: int, rng: np.random.Generator, damping: float, brightness: float) -> Float:
    """A plucked string: a noise burst circulating through a damped averaging delay line."""
    period = max(int(sr / freq), 2)
    burst = np.zeros(n)
    b, a = signal.butter(1, min(0.98, 0.05 + 0.9 * brightness), btype="low")
    burst[:period] = signal.lfilter(b, a, rng.uniform(-1, 1, period))
    # y[i] = x[i] + damping * (y[i - P] + y[i - P - 1]) / 2, as one IIR filter.
    denominator = np.zeros(period + 2)
    denominator[0] = 1.0
    denominator[period] = denominator[period + 1] = -damping / 2
    return np.asarray(signal.lfilter([1.0], denominator, burst), dtype=np.float64)


def noise_hit(n: int, sr: int, rng: np.random.Generator, low: float, high: float, decay: float) -> Float:
    """Band-passed noise with an exponential decay (snares, hats, shakers)."""
    noise = rng.standard_normal(n)
    hi = min(high, sr / 2 * 0.95)
    sos = signal.butter(2, [low, hi], btype="band", fs=sr, output="sos")
    return np.asarray(signal.sosfilt(sos, noise) * np.exp(-np.arange(n) / sr / decay), dtype=np.float64)


def kick(sr: int, rng: np.random.Generator) -> Float:
    """A sine sweeping down (~150 to ~45 Hz) with a click."""
    n = int(sr * rng.uniform(0.25, 0.5))
    t = np.arange(n) / sr
    f0, f1 = rng.uniform(110, 180), rng.uniform(40, 60)
    freq = f1 + (f0 - f1) * np.exp(-t / rng.uniform(0.02, 0.06))
    phase = 2 * np.pi * np.cumsum(freq) / sr
    click = noise_hit(n, sr, rng, 1000, 6000, 0.004) * rng.uniform(0.1, 0.5)
    return np.asarray(np.sin(phase) * np.exp(-t / rng.uniform(0.1, 0.3)) + click, dtype=np.float64)


def snare(sr: int, rng: np.random.Generator) -> Float:
    """Noise plus a short tone body."""
    n = int(sr * 0.3)
    t = np.arange(n) / sr
    body = np.sin(2 * np.pi * rng.uniform(160, 240) * t) * np.exp(-t / 0.05)
    return body * rng.uniform(0.3, 0.8) + noise_hit(n, sr, rng, 1200, 9000, rng.uniform(0.06, 0.15))


@dataclass(frozen=True)
class Song:
    """One training song: stereo float32 stems ``(2, n)`` at ``sample_rate``."""

    vocals: npt.NDArray[np.float32]
    accompaniment: npt.NDArray[np.float32]
    sample_rate: int


SCALES: Final = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "pentatonic": (0, 2, 4, 7, 9, 12, 14),
}


class SongMaker:
    """Random songs from one seed (see the module docstring). ``use_espeak=False`` leaves espeak-ng out."""

    def __init__(self, sample_rate: int = 22050, seed: int = 0, use_espeak: bool | None = None) -> None:
        self.sr = sample_rate
        self.rng = np.random.default_rng(seed)
        self.use_espeak = espeak_available() if use_espeak is None else use_espeak

    # -- accompaniment ---------------------------------------------------------------------------
    def accompaniment(self, n: int, tempo: float, root: int, scale: Sequence[int]) -> Float:
        rng, sr = self.rng, self.sr
        out = np.zeros((2, n))
        beat = 60.0 / tempo
        step = beat / 4
        steps = int(n / sr / step) + 1
        swing = rng.uniform(0, 0.15) if rng.random() < 0.3 else 0.0

        def at(i: int) -> int:
            return int((i * step + (swing * step if i % 2 else 0.0)) * sr)

        degrees = rng.choice([0, 3, 4, 5, 1], size=4, replace=True) if rng.random() < 0.7 else rng.integers(0, 7, 4)
        degrees[0] = 0

        def chord(i: int) -> list[int]:
            d = int(degrees[(i // 16) % len(degrees)])
            notes = [root + scale[(d + k) % 7] + 12 * ((d + k) // 7) for k in (0, 2, 4)]
            return notes

        if rng.random() < 0.9:  # drums
            drums = np.zeros((2, n))
            k_pat = rng.random(16) < np.array([0.95, 0, 0.1, 0.1, 0.1, 0, 0.3, 0.1, 0.7, 0, 0.2, 0.2, 0.1, 0, 0.3, 0.1])
            if rng.random() < 0.3:
                k_pat = np.arange(16) % 4 == 0
            s_pat = np.zeros(16, bool)
            s_pat[[4, 12]] = True
            s_pat |= rng.random(16) < 0.06
            h_div = int(rng.choice([1, 2, 4]))
            h_pat = np.arange(16) % h_div == 0
            kicks = [kick(sr, rng) for _ in range(2)]
            snares = [snare(sr, rng) for _ in range(2)]
            hat_decay = rng.uniform(0.02, 0.08)
            hat_pan = rng.uniform(-0.6, 0.6)
            levels = rng.uniform(0.5, 1.0, 3)
            for i in range(steps):
                p = i % 16
                vel = rng.uniform(0.75, 1.0)
                if k_pat[p]:
                    add(drums, pan(kicks[i % 2] * levels[0] * vel, rng.uniform(-0.1, 0.1)), at(i))
                if s_pat[p] and rng.random() < 0.95:
                    add(drums, pan(snares[i % 2] * levels[1] * 0.7 * vel, rng.uniform(-0.2, 0.2)), at(i))
                if h_pat[p]:
                    open_ = rng.random() < 0.08
                    hit = noise_hit(int(sr * 0.25), sr, rng, 6000, 14000, 0.2 if open_ else hat_decay)
                    add(drums, pan(hit * levels[2] * 0.35 * vel, hat_pan), at(i))
            if rng.random() < 0.35:  # shaker
                for i in range(0, steps, 2 if rng.random() < 0.5 else 1):
                    hit = noise_hit(int(sr * 0.1), sr, rng, 3000, 10000, 0.03) * 0.15
                    add(drums, pan(hit, 0.5 * rng.choice([-1, 1])), at(i))
            out += drums * rng.uniform(0.5, 1.2)

        if rng.random() < 0.9:  # bass
            tilt = rng.uniform(-12, -4)
            pattern = rng.random(16) < rng.uniform(0.25, 0.6)
            pattern[0] = True
            length = step * rng.choice([1, 2, 4])
            bass = np.zeros((2, n))
            for i in range(steps):
                if not pattern[i % 16]:
                    continue
                m = chord(i)[0] - 24 + (12 if rng.random() < 0.15 else 0)
                m_n = int(length * sr)
                tone = harmonic_tone(midi_hz(m), m_n, sr, tilt, rng, odd=rng.random() < 0.3)
                tone *= envelope(m_n, sr, 0.005, 0.1, 0.6, 0.03)
                add(bass, pan(tone, 0.0), at(i))
            out += bass * rng.uniform(0.3, 0.7)

        if rng.random() < 0.7:  # pad chords
            pad = np.zeros((2, n))
            tilt = rng.uniform(-14, -5)
            detune = rng.uniform(0, 12)
            width = rng.uniform(0.2, 0.9)
            bar = 16 * step
            for b in range(int(n / sr / bar) + 1):
                nn = int(bar * sr)
                for j, m in enumerate(chord(b * 16)):
                    f = midi_hz(m + rng.choice([0, 12]))
                    for side in (-1, 1):
                        cents = side * detune
                        tone = harmonic_tone(f * 2 ** (cents / 1200), nn, sr, tilt, rng)
                        tone *= envelope(nn, sr, rng.uniform(0.05, 0.4), 0.3, 0.8, 0.2)
                        add(pad, pan(tone * 0.12, side * width * (0.5 + 0.25 * j)), int(b * bar * sr))
            out += pad * rng.uniform(0.3, 0.9)

        if rng.random() < 0.65:  # plucked arpeggio
            pluck = np.zeros((2, n))
            position = rng.uniform(-0.8, 0.8)
            rate = int(rng.choice([1, 2, 4]))
            order = rng.integers(0, 4, 8)
            bright, damp = rng.uniform(0.2, 0.9), rng.uniform(0.990, 0.998)
            for k, i in enumerate(range(0, steps, rate)):
                notes = chord(i)
                m = notes[int(order[k % 8]) % 3] + 12 * (int(order[k % 8]) // 3) + 12
                nn = int(sr * rng.uniform(0.3, 0.8))
                add(pluck, pan(karplus(midi_hz(m), nn, sr, rng, damp, bright) * 0.4, position), at(i))
            out += pluck * rng.uniform(0.4, 1.0)

        if rng.random() < 0.3:  # strums
            strum = np.zeros((2, n))
            position = rng.uniform(-0.7, 0.7)
            for i in range(0, steps, int(rng.choice([4, 8]))):
                for j, m in enumerate([*chord(i), chord(i)[0] + 12]):
                    nn = int(sr * 0.9)
                    tone = karplus(midi_hz(m), nn, sr, rng, 0.995, rng.uniform(0.3, 0.8)) * 0.25
                    add(strum, pan(tone, position), at(i) + int(j * 0.012 * sr))
            out += strum * rng.uniform(0.4, 1.0)

        if rng.random() < 0.2:  # a lead synth line (an instrument that plays a melody too)
            lead = np.zeros((2, n))
            position = rng.uniform(-0.7, 0.7)
            tilt = rng.uniform(-10, -3)
            for i in range(0, steps, int(rng.choice([2, 4]))):
                if rng.random() < 0.3:
                    continue
                m = root + 12 + scale[int(rng.integers(0, 7))]
                nn = int(step * 2 * sr)
                tone = harmonic_tone(midi_hz(m), nn, sr, tilt, rng, odd=rng.random() < 0.5)
                add(lead, pan(tone * envelope(nn, sr, 0.01, 0.1, 0.7, 0.05) * 0.2, position), at(i))
            out += lead * rng.uniform(0.2, 0.6)

        if rng.random() < 0.15:  # a noise texture (vinyl, wind)
            sos = signal.butter(2, rng.uniform(300, 3000), btype="low", fs=sr, output="sos")
            tex = signal.sosfilt(sos, rng.standard_normal((2, n)), axis=-1)
            out += tex * 0.02 * rng.uniform(0.2, 1.0)
        return out

    # -- vocals ----------------------------------------------------------------------------------
    def sung_note(self, midi: float, nn: int, vowel: str, female: bool) -> Float:
        rng, sr = self.rng, self.sr
        t = np.arange(nn) / sr
        onset = rng.uniform(0.0, 0.3)
        depth = rng.uniform(0.1, 0.5)
        vib = depth * np.sin(2 * np.pi * rng.uniform(4.5, 6.5) * t) * np.clip((t - onset) / 0.25, 0, 1)
        f0 = midi_hz(midi) * 2 ** ((vib + rng.normal(0, 0.03)) / 12)
        phase = 2 * np.pi * np.cumsum(f0) / sr
        source = np.zeros(nn)
        tilt = rng.uniform(0.7, 1.4)
        for k in range(1, 40):
            if k * midi_hz(midi) > sr / 2 - 800:
                break
            source += np.sin(k * phase) / k**tilt
        source += rng.standard_normal(nn) * rng.uniform(0.005, 0.05)  # breath
        scale = rng.uniform(1.1, 1.25) if female else rng.uniform(0.92, 1.05)
        voiced = np.zeros(nn)
        for i, (f, bw) in enumerate(zip(VOWELS[vowel], (80, 100, 120), strict=True)):
            fc = min(f * scale, sr / 2 * 0.9)
            b, a = signal.iirpeak(fc, fc / bw, fs=sr)
            voiced += signal.lfilter(b, a, source) * (1.0, 0.6, 0.3)[i]
        voiced *= envelope(nn, sr, rng.uniform(0.02, 0.08), 0.1, 0.85, rng.uniform(0.05, 0.15))
        voiced /= np.max(np.abs(voiced)) + 1e-9
        consonant = int(sr * rng.uniform(0.02, 0.06))
        if nn > 3 * consonant and rng.random() < 0.6:  # a fricative or plosive onset
            low = rng.uniform(1500, 4000)
            sos = signal.butter(2, [low, min(low * rng.uniform(1.8, 3.5), sr / 2 * 0.95)], "band", fs=sr, output="sos")
            burst = signal.sosfilt(sos, rng.standard_normal(consonant)) * np.linspace(1, 0, consonant)
            voiced[:consonant] += rng.uniform(0.1, 0.4) * burst / (np.max(np.abs(burst)) + 1e-9)
        return voiced

    def vocals(self, n: int, tempo: float, root: int, scale: Sequence[int]) -> Float:
        rng, sr = self.rng, self.sr
        mono = np.zeros(n)
        beat = 60.0 / tempo
        style = rng.choice(["speech", "chant", "sung"], p=[0.35, 0.25, 0.4] if self.use_espeak else [0, 0, 1])
        female = bool(rng.random() < 0.5)
        base = root + (rng.integers(0, 5) + (12 if female else 0))
        t = rng.uniform(0, 1.0)
        if style == "sung":
            while t < n / sr:
                dur = beat * float(rng.choice([0.5, 1, 1, 2, 3]))
                if rng.random() < 0.2:
                    t += dur
                    continue
                m = base + scale[int(rng.integers(0, 7))] - (12 if rng.random() < 0.2 else 0)
                nn = int(dur * sr * rng.uniform(0.85, 1.0))
                note = self.sung_note(float(m), nn, str(rng.choice(list(VOWELS))), female)
                add(mono[None], note[None], int(t * sr))
                t += dur
        else:
            voice = str(rng.choice(ESPEAK_VOICES)) + str(rng.choice(VARIANTS))
            speed = int(rng.integers(110, 200))
            while t < n / sr:
                if style == "speech":
                    text = " ".join(rng.choice(WORDS, size=int(rng.integers(3, 9))))
                    x = espeak(text, voice, sr, speed=speed, pitch=int(rng.integers(10, 90)))
                    gap = beat * float(rng.choice([0.5, 1, 2]))
                else:  # syllables whose pitch follows a melody
                    syl = str(rng.choice(SYLLABLES))
                    step = int(rng.integers(0, 7))
                    x = espeak(syl, voice, sr, speed=int(rng.integers(80, 140)), pitch=int(20 + 10 * step))
                    gap = 0.0 if rng.random() < 0.7 else beat
                    if x.size:
                        x = x[: int(beat * sr * float(rng.choice([0.5, 1, 1.5])))]
                if x.size:
                    add(mono[None], x[None], int(t * sr))
                    t += x.size / sr
                t += gap
        stereo = pan(mono, float(rng.uniform(-0.15, 0.15)))
        if rng.random() < 0.6:  # an echo / slap-back, a little wider than the voice
            delay = int(sr * rng.uniform(0.08, 0.35))
            echo = np.zeros_like(stereo)
            echo[:, delay:] = stereo[::-1, :-delay] * rng.uniform(0.1, 0.35)
            stereo += echo
        if rng.random() < 0.15:  # a double-tracked voice panned apart
            shift = int(sr * rng.uniform(0.01, 0.03))
            dub = np.zeros_like(mono)
            dub[shift:] = mono[:-shift]
            stereo = stereo * 0.7 + pan(dub, float(rng.choice([-0.6, 0.6]))) * 0.5
        if rng.random() < 0.3:  # a low-pass or a telephone band
            low = rng.uniform(150, 400) if rng.random() < 0.5 else 60.0
            sos = signal.butter(2, [low, rng.uniform(3500, 9000)], btype="band", fs=sr, output="sos")
            stereo = signal.sosfilt(sos, stereo, axis=-1)
        return stereo

    def song(self, seconds: float) -> Song:
        """One random song of ``seconds``, vocals scaled to a random vocal-to-accompaniment ratio."""
        rng, sr = self.rng, self.sr
        n = int(seconds * sr)
        tempo = float(rng.uniform(65, 150))
        root = int(rng.integers(45, 57))
        scale = SCALES[str(rng.choice(list(SCALES)))]
        acc = self.accompaniment(n, tempo, root, scale)
        voc = self.vocals(n, tempo, root, scale)
        if rng.random() < 0.15:  # mono songs: no stereo cue at all
            acc = np.repeat(acc.mean(axis=0, keepdims=True), 2, axis=0)
            voc = np.repeat(voc.mean(axis=0, keepdims=True), 2, axis=0)
        ratio_db = rng.uniform(-9, 6)
        v_rms, a_rms = np.sqrt(np.mean(voc**2)) + 1e-9, np.sqrt(np.mean(acc**2)) + 1e-9
        voc *= a_rms / v_rms * 10 ** (ratio_db / 20)
        peak = np.max(np.abs(voc + acc)) + 1e-9
        gain = rng.uniform(0.3, 0.95) / peak
        return Song((voc * gain).astype(np.float32), (acc * gain).astype(np.float32), sr)
