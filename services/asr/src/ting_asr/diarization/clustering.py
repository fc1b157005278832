"""Cluster L2-normalized speaker embeddings with an automatic speaker count.

Two methods, both plain numpy (the ASR service depends on numpy, not scipy or scikit-learn):

* ``"agglomerative"``: average linkage on cosine distance, merging until the closest pair of clusters is
  farther apart than ``threshold`` (or until the count fits ``[min, max]`` / equals the exact count).
* ``"spectral"``: NME-SC (Park et al., 2019, "Auto-tuning spectral clustering for speaker diarization using
  normalized maximum eigengap"): the cosine affinity is p-pruned (each row keeps its ``p`` largest entries, as
  ones), symmetrized, its Laplacian's eigengap gives the count, the pruning ``p`` is the one whose gap is
  clearest, and k-means clusters the spectral embedding.

Both end with the same clean-up: clusters whose centroids are more alike than ``merge_similarity`` are joined
(this is how spectral clustering finds a single speaker, which an eigengap cannot say), tiny clusters are folded
into their nearest neighbour, and every embedding moves to its nearest centroid. Above ``max_points`` embeddings a
regular subsample is clustered and the rest go to the nearest centroid, which bounds time and memory
(``max_points²`` floats) on long recordings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ting_asr.diarization import MAX_SPEAKERS, FloatArray

IntArray = npt.NDArray[np.int64]
Method = Literal["agglomerative", "spectral"]


@dataclass(frozen=True)
class ClusteringSettings:
    """Tuning of :func:`cluster` (defaults calibrated on the synthetic set of ``bench/diarization_data.py``)."""

    method: Method = "spectral"
    #: Agglomerative: stop merging when the average cosine distance between the closest clusters exceeds this.
    threshold: float = 0.2
    #: Both: one speaker when the two halves of a two-way split have centroids more alike than this.
    single_speaker_similarity: float = 0.9
    #: Both: join clusters whose centroids have a cosine similarity above this (unless that goes below min).
    merge_similarity: float = 0.95
    #: Both: a cluster holding less than this share of the embeddings is folded into its nearest neighbour.
    min_cluster_fraction: float = 0.03
    #: Spectral: the largest pruning ``p`` tried, as a share of the embeddings.
    max_p_fraction: float = 0.25
    #: Spectral: how many pruning values are tried between 2 and the largest.
    p_steps: int = 12
    #: Larger inputs are subsampled for clustering (memory grows with the square of this).
    max_points: int = 1500
    #: Both: cluster the embeddings minus their mean (re-normalized).
    center: bool = False
    seed: int = 0


def speaker_bounds(n: int, speaker_count: int, min_speakers: int, max_speakers: int) -> tuple[int, int]:
    """The ``(low, high)`` number of clusters to allow for ``n`` embeddings: the exact count when it is > 0, else
    the min/max range, each clamped to ``1..min(n, MAX_SPEAKERS)`` with ``low <= high``."""
    cap = max(1, min(n, MAX_SPEAKERS))
    if speaker_count > 0:
        k = min(speaker_count, cap)
        return k, k
    high = min(max(max_speakers, 1), cap) if max_speakers > 0 else cap
    low = min(max(min_speakers, 1), high)
    return low, high


def cluster(
    embeddings: FloatArray,
    *,
    speaker_count: int = 0,
    min_speakers: int = 1,
    max_speakers: int = 8,
    settings: ClusteringSettings | None = None,
) -> IntArray:
    """A cluster index ``0..k-1`` for each row of ``embeddings`` (``(n, dim)``, L2-normalized); every index in
    ``0..k-1`` is used. ``speaker_count > 0`` asks for exactly that many (fewer when there are fewer rows)."""
    s = settings or ClusteringSettings()
    n = int(embeddings.shape[0])
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    x = _normalize(embeddings.astype(np.float64))
    low, high = speaker_bounds(n, speaker_count, min_speakers, max_speakers)
    if n == 1 or high == 1:
        return np.zeros(n, dtype=np.int64)
    if n > s.max_points:
        picked = np.linspace(0, n - 1, s.max_points).round().astype(np.int64)
        sub = x[picked]
    else:
        sub = x
    # Centering removes what all voices of the recording share (channel, language, the TTS engine), which
    # spreads the speakers apart; the look-alike test of the clean-up stays on the raw embeddings.
    space = _normalize(sub - sub.mean(axis=0)) if s.center else sub
    if low == 1:
        # One speaker or more? Split in two and compare the halves: one voice's halves stay alike.
        halves = _centroids(sub, _split(space, 2, 2, s))
        if float(halves[0] @ halves[1]) > s.single_speaker_similarity:
            return np.zeros(n, dtype=np.int64)
        low = 2
    labels = _split(space, low, high, s)
    labels = _clean_up(sub, labels, low, s)
    centroids = _centroids(sub, labels)
    if sub is not x:
        labels = np.argmax(x @ centroids.T, axis=1).astype(np.int64)
        labels = _compact(labels)
    return labels


def _split(x: npt.NDArray[np.float64], low: int, high: int, s: ClusteringSettings) -> IntArray:
    if s.method == "agglomerative":
        return _agglomerative(x, low, high, s.threshold)
    return _spectral(x, low, high, s)


def _normalize(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    out: npt.NDArray[np.float64] = x / np.maximum(norms, 1e-12)
    return out


def _compact(labels: IntArray) -> IntArray:
    """Renumber labels ``0..k-1`` in order of first appearance."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    out: IntArray = order[inverse].astype(np.int64)
    return out


def _centroids(x: npt.NDArray[np.float64], labels: IntArray) -> npt.NDArray[np.float64]:
    k = int(labels.max()) + 1
    sums = np.zeros((k, x.shape[1]))
    np.add.at(sums, labels, x)
    return _normalize(sums)


def _agglomerative(x: npt.NDArray[np.float64], low: int, high: int, threshold: float) -> IntArray:
    """Average-linkage agglomerative clustering on cosine distance (Lance-Williams updates, O(n²) memory, a
    cached nearest neighbour per row so each merge costs O(n) plus the rows whose neighbour changed)."""
    n = x.shape[0]
    dist = 1.0 - x @ x.T
    np.fill_diagonal(dist, np.inf)
    sizes = np.ones(n)
    members = np.arange(n)
    active = np.ones(n, dtype=bool)
    nearest = np.argmin(dist, axis=1)
    nearest_d = dist[np.arange(n), nearest]
    clusters = n
    while clusters > low:
        i = int(np.argmin(nearest_d))
        d = float(nearest_d[i])
        if clusters <= high and d > threshold:
            break
        j = int(nearest[i])
        if j < i:
            i, j = j, i
        # Average linkage: the distance to the union is the size-weighted mean of the distances.
        merged = (sizes[i] * dist[i] + sizes[j] * dist[j]) / (sizes[i] + sizes[j])
        merged[i] = np.inf
        dist[i, :] = merged
        dist[:, i] = merged
        dist[j, :] = np.inf
        dist[:, j] = np.inf
        sizes[i] += sizes[j]
        members[members == j] = i
        active[j] = False
        nearest_d[j] = np.inf
        clusters -= 1
        # Rows whose nearest neighbour was i or j need a full look; others can only have come closer to i.
        stale = np.flatnonzero(active & ((nearest == i) | (nearest == j)))
        stale = np.union1d(stale, [i])
        for r in stale:
            nearest[r] = int(np.argmin(dist[r]))
            nearest_d[r] = dist[r, nearest[r]]
        closer = active & (dist[:, i] < nearest_d)
        closer[i] = False
        nearest[closer] = i
        nearest_d[closer] = dist[closer, i]
    return _compact(members.astype(np.int64))


def _spectral(x: npt.NDArray[np.float64], low: int, high: int, s: ClusteringSettings) -> IntArray:
    """NME-SC: choose the pruning p and the count k by the normalized maximum eigengap, then k-means."""
    n = x.shape[0]
    sim = x @ x.T
    order = np.argsort(-sim, axis=1)
    max_p = max(2, min(n - 1, round(n * s.max_p_fraction)))
    candidates = sorted({round(float(p)) for p in np.geomspace(2, max_p, num=max(1, s.p_steps))} | {max_p})
    best: tuple[float, int, npt.NDArray[np.float64]] | None = None
    for p in candidates:
        lap = _laplacian(order, n, p)
        values = np.linalg.eigvalsh(lap)
        k = _eigengap_count(values, low, high)
        gap = float(values[k] - values[k - 1]) if k < n else 0.0
        ratio = p / max(gap / max(float(values[-1]), 1e-12), 1e-12)
        if best is None or ratio < best[0]:
            best = (ratio, p, lap)
    assert best is not None
    _, _, lap = best
    values, vectors = np.linalg.eigh(lap)
    k = _eigengap_count(values, low, high)
    embedding = vectors[:, :k]
    embedding = embedding / np.maximum(np.linalg.norm(embedding, axis=1, keepdims=True), 1e-12)
    return _compact(_kmeans(embedding, k, s.seed))


def _laplacian(order: npt.NDArray[np.int64], n: int, p: int) -> npt.NDArray[np.float64]:
    """Unnormalized Laplacian of the p-pruned, binarized, symmetrized affinity."""
    aff = np.zeros((n, n))
    rows = np.repeat(np.arange(n), p)
    aff[rows, order[:, :p].reshape(-1)] = 1.0
    aff = 0.5 * (aff + aff.T)
    np.fill_diagonal(aff, 0.0)
    lap: npt.NDArray[np.float64] = np.diag(aff.sum(axis=1)) - aff
    return lap


def _eigengap_count(values: npt.NDArray[np.floating[Any]], low: int, high: int) -> int:
    """The k in ``[low, high]`` with the largest gap between the k-th and (k+1)-th smallest eigenvalues."""
    if low == high:
        return low
    upper = min(high, len(values) - 1)
    gaps = np.diff(values[: upper + 1])  # gaps[k-1] = values[k] - values[k-1]
    ks = np.arange(1, upper + 1)
    # k = 1 is never read off a gap (a connected graph always has one); the clean-up's merge finds one speaker.
    allowed = ks >= max(low, 2)
    if not np.any(allowed):
        return max(low, 1)
    return int(ks[allowed][int(np.argmax(gaps[allowed]))])


def _kmeans(x: npt.NDArray[np.float64], k: int, seed: int, restarts: int = 8, iterations: int = 50) -> IntArray:
    """k-means++ seeded Lloyd iterations, best of a few restarts (deterministic for a seed)."""
    n = x.shape[0]
    if k >= n:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    best_labels = np.zeros(n, dtype=np.int64)
    best_cost = np.inf
    for _ in range(restarts):
        centres = [x[int(rng.integers(n))]]
        for _ in range(1, k):
            d2 = np.min(((x[:, None, :] - np.asarray(centres)[None]) ** 2).sum(-1), axis=1)
            total = float(d2.sum())
            probs = d2 / total if total > 0 else np.full(n, 1.0 / n)
            centres.append(x[int(rng.choice(n, p=probs))])
        c = np.asarray(centres)
        labels = np.zeros(n, dtype=np.int64)
        for it in range(iterations):
            d2 = ((x[:, None, :] - c[None]) ** 2).sum(-1)
            new = np.argmin(d2, axis=1).astype(np.int64)
            if it > 0 and np.array_equal(new, labels):
                break
            labels = new
            for j in range(k):
                if np.any(labels == j):
                    c[j] = x[labels == j].mean(axis=0)
        cost = float(((x - c[labels]) ** 2).sum())
        if cost < best_cost:
            best_cost, best_labels = cost, labels
    return best_labels


def _clean_up(x: npt.NDArray[np.float64], labels: IntArray, low: int, s: ClusteringSettings) -> IntArray:
    """Join look-alike clusters, fold tiny ones into their nearest neighbour, then move every embedding to its
    nearest centroid; never below ``low`` clusters."""
    labels = _compact(labels)
    n = x.shape[0]
    while True:
        k = int(labels.max()) + 1
        if k <= low:
            break
        centroids = _centroids(x, labels)
        counts = np.bincount(labels, minlength=k)
        sims = centroids @ centroids.T
        np.fill_diagonal(sims, -np.inf)
        small = int(np.argmin(counts))
        if counts[small] < s.min_cluster_fraction * n:
            target = int(np.argmax(sims[small]))
            labels = _compact(np.where(labels == small, target, labels))
            continue
        i, j = np.unravel_index(int(np.argmax(sims)), sims.shape)
        if sims[i, j] <= s.merge_similarity:
            break
        labels = _compact(np.where(labels == j, i, labels))
    k = int(labels.max()) + 1
    if k > 1:
        moved = np.argmax(x @ _centroids(x, labels).T, axis=1).astype(np.int64)
        # Keep the count: only accept the move when no cluster empties.
        if len(np.unique(moved)) == k:
            labels = _compact(moved)
    return labels
