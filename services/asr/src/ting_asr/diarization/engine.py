"""The embedded offline diarizer: VAD → windows → GE2E embeddings → clustering → frame votes → smoothed turns.

1. Silero VAD (:mod:`.vad`) finds speech regions; only those are ever labelled.
2. Each region is covered by ``window_s`` windows every ``hop_s`` (evenly spread so the last one ends with the
   region); a region shorter than a window is one window.
3. The encoder embeds the windows in batches of ``batch_size``; between batches ``control.check()`` lets a
   cancelled call stop. With ``envelope`` (the default) each window also gets its spectral-envelope features
   (:mod:`.envelope`: cepstral means and spreads, which tell apart look-alike voices GE2E confuses). Only these
   (``n × (256 + 38)`` float32) and the VAD timeline are kept, so a two-hour recording holds a few MB besides its
   audio.
4. :func:`.clustering.cluster` labels the windows with an automatic speaker count within the asked bounds, in a
   space whitened by the within-speaker covariance that consecutive windows of one region reveal (embeddings and
   envelope features each whitened, then joined: :func:`.clustering.clustering_space`). Windows
   shorter than ``min_cluster_window_s`` (short regions) are noisy: they are labelled by the nearest centroid
   rather than clustered, unless there is nothing else.
4b. Re-segmentation (:func:`.clustering.resegment`, unless ``switch_penalty`` is None): every window goes to its
   nearest cluster centroid in that space (centroids from the clustered windows), with a cost of
   ``switch_penalty`` per change of speaker inside a region; the count never changes.
5. Every ``frame_s`` frame of a region takes the label with the largest sum of its covering windows' votes, each
   window weighted by a tent centred on it, so a speaker change lands between the centres of the windows that
   disagree.
6. Smoothing: same-speaker turns less than ``merge_gap_s`` apart are joined; a turn shorter than
   ``min_turn_s`` that touches a neighbour (gap at most ``merge_gap_s``) is absorbed by it (a short turn on its
   own, between pauses, is a real short answer and stays), then labels are renamed ``S1``, ``S2``, ... in order
   of first appearance.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits

from ting_asr.diarization import (
    MAX_SPEAKERS,
    SAMPLE_RATE,
    Diarization,
    DiarizationOptions,
    FloatArray,
    SpeakerEncoder,
    SpeakerTurn,
)
from ting_asr.diarization.clustering import ClusteringSettings, cluster, clustering_space, resegment
from ting_asr.diarization.envelope import DIM as ENVELOPE_DIM
from ting_asr.diarization.envelope import envelope_features
from ting_asr.diarization.vad import VadSettings, speech_regions

__all__ = ["GE2EDiarizer"]

logger = logging.getLogger(__name__)

_EMPTY = Diarization(turns=(), speakers=())


@dataclass
class _Turn:
    start: float
    end: float
    label: int

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class _Timeline:
    """Windows (sample ranges) with the region each belongs to."""

    regions: list[tuple[int, int]]
    windows: list[tuple[int, int]] = field(default_factory=list)
    region_of: list[int] = field(default_factory=list)


class GE2EDiarizer:
    """:class:`~ting_asr.diarization.DiarizationEngine` on GE2E speaker embeddings; see the module docstring.

    ``encoder`` defaults to :class:`~ting_asr.diarization.encoder.GE2EEncoder` on Resemblyzer's packaged
    weights. Thread-safe: it keeps no per-call state.
    """

    name = "ge2e"

    def __init__(
        self,
        encoder: SpeakerEncoder | None = None,
        *,
        window_s: float = 1.0,
        hop_s: float = 0.5,
        frame_s: float = 0.01,
        batch_size: int = 64,
        min_cluster_window_s: float = 0.6,
        merge_gap_s: float = 0.3,
        min_turn_s: float = 0.5,
        min_audio_s: float = 0.2,
        switch_penalty: float | None = 0.1,
        envelope: bool = True,
        vad: VadSettings | None = None,
        clustering: ClusteringSettings | None = None,
    ) -> None:
        if encoder is None:
            from ting_asr.diarization.encoder import GE2EEncoder

            encoder = GE2EEncoder()
        self.encoder = encoder
        self.window = max(round(window_s * SAMPLE_RATE), 1)
        self.hop = min(max(round(hop_s * SAMPLE_RATE), 1), self.window)
        self.frame = max(round(frame_s * SAMPLE_RATE), 1)
        self.batch_size = max(batch_size, 1)
        self.min_cluster_window = int(min_cluster_window_s * SAMPLE_RATE)
        self.merge_gap_s = merge_gap_s
        self.min_turn_s = min_turn_s
        self.min_audio = int(min_audio_s * SAMPLE_RATE)
        self.switch_penalty = switch_penalty
        self.envelope = envelope
        self.vad = vad or VadSettings()
        self.clustering = clustering or ClusteringSettings()

    def diarize(self, audio: FloatArray, options: DiarizationOptions, control: Any = None) -> Diarization:
        """Speaker turns of 16 kHz mono float32 ``audio``; silence or a too-short input gives no turns."""
        signal = np.asarray(audio, dtype=np.float32).reshape(-1)
        if signal.size < self.min_audio:
            return _EMPTY
        if control is not None:
            control.check()
        timeline = self._timeline(speech_regions(signal, self.vad))
        if not timeline.windows:
            return _EMPTY
        # One BLAS thread: the encoder's many small per-step matrix products lose badly to thread contention
        # (measured 78x real time with one thread vs 9-25x with two on a busy 2-core machine), and so do the
        # clustering's eigendecompositions (745 windows: 2.7 s with one thread, 45 s with two on that machine).
        with threadpool_limits(limits=1, user_api="blas"):
            embeddings, envelopes = self._embed(signal, timeline.windows, control)
            labels = self._labels(embeddings, timeline, options, envelopes)
        if control is not None:
            control.check()
        turns = self._vote(timeline, labels)
        turns = _smooth_turns(turns, self.merge_gap_s, self.min_turn_s)
        result = _finish(turns)
        logger.debug(
            "diarized %.1f s: %d speech regions, %d windows, %d speakers, %d turns",
            signal.size / SAMPLE_RATE,
            len(timeline.regions),
            len(timeline.windows),
            len(result.speakers),
            len(result.turns),
        )
        return result

    def _timeline(self, regions: list[tuple[int, int]]) -> _Timeline:
        timeline = _Timeline(regions=regions)
        for index, (start, end) in enumerate(regions):
            length = end - start
            if length <= self.window:
                starts = [start]
                width = length
            else:
                count = math.ceil((length - self.window) / self.hop) + 1
                starts = np.linspace(start, end - self.window, count).round().astype(int).tolist()
                width = self.window
            for s in starts:
                timeline.windows.append((int(s), int(s) + width))
                timeline.region_of.append(index)
        return timeline

    def _embed(
        self, audio: FloatArray, windows: list[tuple[int, int]], control: Any
    ) -> tuple[FloatArray, FloatArray | None]:
        """The windows' embeddings and (with ``envelope``) their envelope features, a batch at a time."""
        out = np.empty((len(windows), self.encoder.dim), dtype=np.float32)
        extra = np.empty((len(windows), ENVELOPE_DIM), dtype=np.float32) if self.envelope else None
        for first in range(0, len(windows), self.batch_size):
            if control is not None:
                control.check()
            batch = windows[first : first + self.batch_size]
            out[first : first + len(batch)] = self.encoder.embed(audio, batch)
            if extra is not None:
                extra[first : first + len(batch)] = envelope_features(audio, batch)
        return out, extra

    def _labels(
        self,
        embeddings: FloatArray,
        timeline: _Timeline,
        options: DiarizationOptions,
        envelopes: FloatArray | None = None,
    ) -> npt.NDArray[np.int64]:
        windows = timeline.windows
        count = min(max(options.speaker_count, 0), MAX_SPEAKERS)
        low = min(max(options.min_speakers, 1), MAX_SPEAKERS)
        high = min(max(options.max_speakers, 0), MAX_SPEAKERS) or MAX_SPEAKERS
        low = min(low, high)
        widths = np.asarray([end - start for start, end in windows])
        long = widths >= self.min_cluster_window
        if (count == 0 and int(long.sum()) < 2) or count > int(long.sum()):
            long[:] = True
        labels = np.zeros(len(windows), dtype=np.int64)
        picked = cluster(
            embeddings[long],
            speaker_count=count,
            min_speakers=low,
            max_speakers=high,
            settings=self.clustering,
            groups=np.asarray(timeline.region_of)[long],
            extra=None if envelopes is None else envelopes[long],
        )
        labels[long] = picked
        if not long.all():
            k = int(picked.max()) + 1
            centroids = np.zeros((k, embeddings.shape[1]), dtype=np.float64)
            np.add.at(centroids, picked, embeddings[long])
            labels[~long] = np.argmax(embeddings[~long] @ centroids.T, axis=1)
        if self.switch_penalty is not None and int(labels.max()) > 0:
            groups = np.asarray(timeline.region_of)
            raw = embeddings.astype(np.float64)
            raw /= np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-12)
            space = clustering_space(raw, groups, envelopes, self.clustering)
            del raw
            labels = resegment(space, labels, groups, self.switch_penalty, fit=long)
        return labels

    def _vote(self, timeline: _Timeline, labels: npt.NDArray[np.int64]) -> list[_Turn]:
        k = int(labels.max()) + 1 if labels.size else 1
        turns: list[_Turn] = []
        window_index = 0
        n_windows = len(timeline.windows)
        for index, (start, end) in enumerate(timeline.regions):
            frames = max(1, math.ceil((end - start) / self.frame))
            votes = np.zeros((frames, k), dtype=np.float32)
            centres = (np.arange(frames) + 0.5) * self.frame + start
            while window_index < n_windows and timeline.region_of[window_index] == index:
                w_start, w_end = timeline.windows[window_index]
                half = max((w_end - w_start) / 2, 1.0)
                lo = max(0, (w_start - start) // self.frame)
                hi = min(frames, -(-(w_end - start) // self.frame))
                distance = np.abs(centres[lo:hi] - (w_start + w_end) / 2) / half
                votes[lo:hi, labels[window_index]] += np.clip(1.0 - 0.9 * distance, 0.1, 1.0)
                window_index += 1
            best = np.argmax(votes, axis=1)
            changes = np.flatnonzero(np.diff(best)) + 1
            bounds = [0, *changes.tolist(), frames]
            for a, b in itertools.pairwise(bounds):
                turns.append(
                    _Turn(
                        (start + a * self.frame) / SAMPLE_RATE,
                        min(start + b * self.frame, end) / SAMPLE_RATE,
                        int(best[a]),
                    )
                )
        return turns


def _smooth_turns(turns: list[_Turn], merge_gap_s: float, min_turn_s: float) -> list[_Turn]:
    """Join same-speaker turns closer than ``merge_gap_s``; absorb turns shorter than ``min_turn_s`` that touch a
    neighbour (shortest first) into the neighbour they touch (the longer one when they touch both)."""
    out = _merge(turns, merge_gap_s)
    while len(out) > 1:
        candidates = [
            i
            for i, t in enumerate(out)
            if t.duration < min_turn_s and any(_touch(out, i, j, merge_gap_s) for j in (i - 1, i + 1))
        ]
        if not candidates:
            break
        i = min(candidates, key=lambda c: out[c].duration)
        neighbours = [j for j in (i - 1, i + 1) if _touch(out, i, j, merge_gap_s)]
        j = max(neighbours, key=lambda n: out[n].duration)
        out[i] = _Turn(out[i].start, out[i].end, out[j].label)
        out = _merge(out, merge_gap_s)
    return out


def _touch(turns: list[_Turn], i: int, j: int, gap: float) -> bool:
    if not 0 <= j < len(turns):
        return False
    a, b = (turns[i], turns[j]) if i < j else (turns[j], turns[i])
    return b.start - a.end <= gap


def _merge(turns: list[_Turn], gap: float) -> list[_Turn]:
    out: list[_Turn] = []
    for t in turns:
        if out and out[-1].label == t.label and t.start - out[-1].end < gap:
            out[-1] = _Turn(out[-1].start, max(out[-1].end, t.end), t.label)
        else:
            out.append(_Turn(t.start, t.end, t.label))
    return out


def _finish(turns: list[_Turn]) -> Diarization:
    names: dict[int, str] = {}
    result: list[SpeakerTurn] = []
    for t in turns:
        if t.end <= t.start:
            continue
        name = names.setdefault(t.label, f"S{len(names) + 1}")
        result.append(SpeakerTurn(round(t.start, 3), round(t.end, 3), name))
    return Diarization(turns=tuple(result), speakers=tuple(names.values()))
