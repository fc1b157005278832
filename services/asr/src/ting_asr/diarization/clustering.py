"""Cluster L2-normalized speaker embeddings with an automatic speaker count.

Two methods, both plain numpy (the ASR service depends on numpy, not scipy or scikit-learn):

* ``"agglomerative"``: average linkage on cosine distance, merging until the closest pair of clusters is
  farther apart than ``threshold`` (or until the count fits ``[min, max]`` / equals the exact count).
* ``"spectral"`` (the default): the count is the largest k whose eigengap of the normalized Laplacian of the dense
  affinity ``max(cos, 0) ** 2`` is clear (:func:`gap_count`; ``count_rule="nme"`` reads NME-SC's maximum gap
  instead), and the partition is NME-SC's (Park et al., 2019, "Auto-tuning spectral clustering for speaker
  diarization using normalized maximum eigengap"): the cosine affinity is p-pruned (each row keeps its ``p``
  largest entries, as ones), symmetrized, the pruning ``p`` is the one whose gap is clearest, and k-means clusters
  the spectral embedding.

Given ``groups`` (the speech region of each window, windows in time order), the clustering runs in a space
whitened per recording by the within-speaker covariance, estimated from the differences of consecutive windows of
one region (:func:`within_whitening`): an unsupervised stand-in for the LDA/PLDA back ends trained on labelled
speakers. It shrinks what one voice varies in (words, intonation) and spreads look-alike voices apart. Other
per-window features (``extra``: the engine passes spectral-envelope features, :mod:`.envelope`) are standardized,
whitened the same way and joined to that space (:func:`clustering_space`).

A recording is one speaker when the two halves of a two-way split have raw centroids nearly as alike as random
halves of the same windows (``single_speaker_ratio``; eigengaps cannot say "one"). Then the clean-up: clusters
whose raw centroids are more alike than ``merge_similarity`` are joined (given ``extra`` features, only when their
centroids in the clustering space are alike too, ``merge_space_similarity``), tiny clusters are folded into their
nearest neighbour, and every embedding moves to its nearest centroid. Above ``max_points`` embeddings a regular
subsample is clustered and the rest go to the nearest centroid, which bounds time and memory (``max_points²``
floats) on long recordings.

:func:`resegment` then re-labels windows by their nearest centroid in the whitened space with a cost per change of
speaker inside a region (a light VBx-style pass; the engine runs it after clustering).

The constants were calibrated on the ``dev`` split of ``bench/diarization_data.py`` (40, later 80 meetings) and on
one-speaker recordings cut from it (each speaker's turns alone); the ``test`` split was only scored.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ting_asr.diarization import MAX_SPEAKERS, FloatArray

IntArray = npt.NDArray[np.int64]
Method = Literal["agglomerative", "spectral"]


@dataclass(frozen=True)
class ClusteringSettings:
    """Tuning of :func:`cluster` (defaults calibrated on the ``dev`` split of ``bench/diarization_data.py``)."""

    method: Method = "spectral"
    #: Agglomerative: stop merging when the average cosine distance between the closest clusters exceeds this.
    threshold: float = 0.2
    #: Both: one speaker when the two halves of a two-way split have raw centroids more alike than this, whatever
    #: ``single_speaker_ratio`` says (no dev meeting's halves were more alike than 0.956).
    single_speaker_similarity: float = 0.97
    #: Both: one speaker when the two-way split's halves are less than this many times as unalike as random
    #: halves of the same rows (see :func:`_one_voice`). On dev the ratio was 4.0-33 for the 80 meetings (5 %
    #: under 5.3) and 0.63-3.3 for the 216 one-voice recordings of ``bench/diarization.py --one-voice`` (95 %
    #: under 2.3): at 3.5 no meeting is taken for one speaker and every one-voice recording stays whole. The raw
    #: limit of 0.93 it replaces took 2 meetings for one speaker and kept 85 % (short recordings have noisy halves).
    single_speaker_ratio: float = 3.5
    #: ``single_speaker_ratio``'s random halves are made of blocks of this many consecutive rows (fewer when
    #: there are under four blocks' worth)...
    block_rows: int = 4
    #: ... drawn this many times (seeded by ``seed``: the same input gives the same answer).
    baseline_draws: int = 20
    #: Both: join clusters whose centroids have a cosine similarity above this (unless that goes below min).
    merge_similarity: float = 0.95
    #: ... and (with ``groups`` and ``extra``) whose centroids in the clustering space are this alike too: look-alike
    #: voices that only the extra features tell apart stay apart. (On the GE2E space alone this check lost more
    #: over-split voices than it kept apart on dev, so it needs ``extra``.)
    merge_space_similarity: float = 0.6
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
    #: Whitening by the within-speaker covariance (see :func:`within_whitening`), shrunk this far towards a
    #: multiple of the identity (1.0: centering only). Used when :func:`cluster` is given ``groups``.
    within_shrinkage: float = 0.5
    #: Spectral: how the count is read: ``"gap"`` (:func:`gap_count` on the dense affinity's normalized Laplacian)
    #: or ``"nme"`` (NME-SC's maximum eigengap, which tends to stop at groups of look-alike voices).
    count_rule: Literal["gap", "nme"] = "gap"
    #: Spectral, ``"gap"``: the smallest eigengap that counts as clear (flat between 0.10 and 0.16 on dev).
    count_gap: float = 0.14
    #: Spectral: the dense affinity is ``max(cos, 0) ** affinity_power``.
    affinity_power: float = 2.0
    #: Spectral: the partition for a count: ``"nme"`` (NME-SC's p-pruned graph) or ``"njw"`` (k-means on the dense
    #: Laplacian's eigenvectors, Ng-Jordan-Weiss; the one-speaker test always splits this way).
    partition: Literal["njw", "nme"] = "nme"
    #: Weight of the extra per-window features (``extra``, e.g. :mod:`.envelope`) in the clustering space, next to
    #: the whitened embeddings (weight 1); 0 leaves them out. See :func:`clustering_space`.
    extra_weight: float = 1.0


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
    groups: npt.ArrayLike | None = None,
    extra: npt.ArrayLike | None = None,
) -> IntArray:
    """A cluster index ``0..k-1`` for each row of ``embeddings`` (``(n, dim)``, L2-normalized); every index in
    ``0..k-1`` is used. ``speaker_count > 0`` asks for exactly that many (fewer when there are fewer rows).

    ``groups`` (one id per row, rows in time order) marks rows that surely hold one voice when consecutive and of
    one group, such as overlapping windows of one speech region: their differences estimate how one voice varies,
    and the clustering space is whitened by that (:func:`within_whitening`). ``extra`` (a row of other features
    per embedding, used only with ``groups``) joins that space (:func:`clustering_space`); the one-speaker test and
    the clean-up still compare the embeddings alone."""
    s = settings or ClusteringSettings()
    n = int(embeddings.shape[0])
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    x = _normalize(embeddings.astype(np.float64))
    low, high = speaker_bounds(n, speaker_count, min_speakers, max_speakers)
    if n == 1 or high == 1:
        return np.zeros(n, dtype=np.int64)
    # Centering removes what all voices of the recording share (channel, language, the TTS engine), which
    # spreads the speakers apart; whitening also scales down the directions in which one voice wanders. The
    # one-speaker test and the clean-up compare centroids of the raw embeddings.
    if groups is not None:
        full = clustering_space(x, np.asarray(groups).reshape(-1), extra, s)
    elif s.center:
        full = _normalize(x - x.mean(axis=0))
    else:
        full = x
    if n > s.max_points:
        picked = np.linspace(0, n - 1, s.max_points).round().astype(np.int64)
        sub, space = x[picked], full[picked]
    else:
        sub, space = x, full
    if low == 1:
        # One speaker or more? Split in two (Ng-Jordan-Weiss on the dense graph: with three or more voices it
        # keeps each voice on one side, where a two-way cut of NME-SC's pruned graph can mix them) and compare
        # the halves' raw centroids: one voice's halves stay alike.
        if _one_voice(sub, _split(space, 2, 2, replace(s, partition="njw")), s):
            return np.zeros(n, dtype=np.int64)
        low = 2
    labels = _split(space, low, high, s)
    labels = _clean_up(sub, labels, low, s, space if groups is not None and extra is not None else None)
    centroids = _centroids(space, labels)
    if sub is not x:
        labels = np.argmax(full @ centroids.T, axis=1).astype(np.int64)
        labels = _compact(labels)
    return labels


def _one_voice(x: npt.NDArray[np.float64], halves: IntArray, s: ClusteringSettings) -> bool:
    """Whether the two ``halves`` (labels 0 and 1) of the best two-way split of ``x`` (rows in time order) are
    one voice.

    How alike two halves of one voice look depends on how many windows they average (a short recording's
    centroids are noisy), so the dissimilarity of the halves' raw centroids (1 - cosine) is read against a baseline
    from the same rows: the mean dissimilarity of random halves of the same sizes, made of whole blocks of
    consecutive rows (neighbouring windows overlap, so single rows would look too alike). Random halves mix every
    voice evenly, so their centroids differ only by that noise; a split that follows real voices differs many times
    more. One voice when the ratio is below ``s.single_speaker_ratio``, or when the halves are more alike than
    ``s.single_speaker_similarity`` whatever the ratio (rows without a low-dimensional structure, such as pure
    noise, can be split cleanly along any direction, which the ratio alone would take for two voices)."""
    centroids = _centroids(x, halves)
    split_similarity = float(centroids[0] @ centroids[1])
    if split_similarity > s.single_speaker_similarity:
        return True
    n = x.shape[0]
    first = int(np.count_nonzero(halves == 0))
    if min(first, n - first) < s.min_cluster_fraction * n:
        return True  # the clean-up would fold the smaller half back in
    # cluster() only asks with two rows or more, so there are always two blocks or more.
    blocks = np.arange(n) // max(1, min(s.block_rows, n // 4))
    count = int(blocks[-1]) + 1
    sizes = np.bincount(blocks)
    rng = np.random.default_rng(s.seed)
    dissimilar = []
    for _ in range(s.baseline_draws):
        order = rng.permutation(count)
        # Blocks in random order go to the first half until it holds as many rows as the split's first half.
        taken = min(int(np.searchsorted(np.cumsum(sizes[order]), first)) + 1, count - 1)
        side = np.ones(count, dtype=np.int64)
        side[order[:taken]] = 0
        random_halves = _centroids(x, side[blocks])
        dissimilar.append(1.0 - float(random_halves[0] @ random_halves[1]))
    baseline = max(float(np.mean(dissimilar)), 1e-9)
    return (1.0 - split_similarity) / baseline < s.single_speaker_ratio


def clustering_space(
    x: npt.NDArray[np.float64], groups: npt.NDArray[Any], extra: npt.ArrayLike | None, settings: ClusteringSettings
) -> npt.NDArray[np.float64]:
    """The space the windows are clustered (and re-segmented) in: ``x`` by :func:`within_whitening` and, when
    ``extra`` is given, those features standardized over the recording, whitened the same way and appended with
    weight ``settings.extra_weight`` (each part has unit rows before the weighting); rows are L2-normalized."""
    space = within_whitening(x, groups, settings.within_shrinkage)
    if extra is None or settings.extra_weight <= 0.0:
        return space
    features = np.asarray(extra, dtype=np.float64).reshape(x.shape[0], -1)
    if features.shape[1] == 0:
        return space
    standard = (features - features.mean(axis=0)) / np.maximum(features.std(axis=0), 1e-9)
    other = within_whitening(_normalize(standard), groups, settings.within_shrinkage)
    return _normalize(np.hstack([space, settings.extra_weight * other]))


def within_whitening(x: npt.NDArray[np.float64], groups: npt.NDArray[Any], shrinkage: float) -> npt.NDArray[np.float64]:
    """``x`` centred, whitened by its within-speaker covariance and L2-normalized again.

    Consecutive rows of one group are taken to be one voice (overlapping windows of a speech region), so half the
    mean outer product of their differences estimates the within-speaker covariance ``W`` without any labels; it is
    shrunk towards ``trace(W) / dim * I`` by ``shrinkage`` (it has far fewer samples than dimensions) and ``x`` is
    multiplied by ``W^-1/2``. Directions in which one voice wanders (what is being said, intonation) shrink and
    those that tell voices apart grow: an unsupervised, per-recording version of the LDA that speaker-recognition
    back ends train on labelled speakers. Without such pairs (or ``shrinkage >= 1``) it only centres."""
    centred = x - x.mean(axis=0)
    pairs = np.flatnonzero(groups[1:] == groups[:-1]) if groups.shape[0] == x.shape[0] else np.zeros(0, np.int64)
    if pairs.size < 2 or shrinkage >= 1.0:
        return _normalize(centred)
    within = np.zeros((x.shape[1], x.shape[1]))
    for first in range(0, pairs.size, 4096):  # a block of differences at a time: memory stays O(dim²)
        block = pairs[first : first + 4096]
        d = x[block + 1] - x[block]
        within += d.T @ d
    within /= 2.0 * pairs.size
    scale = float(np.trace(within)) / within.shape[0]
    if scale <= 0.0:
        return _normalize(centred)
    shrink = min(max(shrinkage, 0.0), 1.0)
    shrunk = (1.0 - shrink) * within + shrink * scale * np.eye(within.shape[0])
    values, vectors = np.linalg.eigh(shrunk)
    transform = vectors / np.sqrt(np.maximum(values, 1e-12 * scale))
    out: npt.NDArray[np.float64] = centred @ transform
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out


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
    """The count by ``s.count_rule``, the partition by ``s.partition`` (see :class:`ClusteringSettings`)."""
    n = x.shape[0]
    values: npt.NDArray[np.floating[Any]] | None = None
    vectors: npt.NDArray[np.float64] | None = None
    if s.partition == "njw":
        values, vectors = np.linalg.eigh(_normalized_laplacian(x, s.affinity_power))
    elif s.count_rule == "gap" and low < high:
        values = np.linalg.eigvalsh(_normalized_laplacian(x, s.affinity_power))
    if low == high:
        k = low
    elif s.count_rule == "gap" and values is not None:
        k = gap_count(values, low, high, s.count_gap)
    else:
        k = _nme(x, low, high, s)[0]
    embedding = vectors[:, :k] if vectors is not None else _nme(x, k, k, s)[1]
    embedding = embedding / np.maximum(np.linalg.norm(embedding, axis=1, keepdims=True), 1e-12)
    return _compact(_kmeans(embedding, k, s.seed)) if k < n else np.arange(n, dtype=np.int64)


def _normalized_laplacian(x: npt.NDArray[np.float64], power: float) -> npt.NDArray[np.float64]:
    """``I - D^-1/2 A D^-1/2`` of the dense affinity ``A = max(cos, 0) ** power`` (zero diagonal)."""
    aff = np.maximum(x @ x.T, 0.0) ** power
    np.fill_diagonal(aff, 0.0)
    inv = 1.0 / np.sqrt(np.maximum(aff.sum(axis=1), 1e-12))
    lap: npt.NDArray[np.float64] = np.eye(x.shape[0]) - inv[:, None] * aff * inv[None, :]
    return lap


def gap_count(values: npt.NDArray[np.floating[Any]], low: int, high: int, threshold: float) -> int:
    """The largest k in ``[max(low, 2), high]`` whose eigengap ``values[k] - values[k-1]`` (ascending eigenvalues
    of a normalized Laplacian) reaches ``threshold``; the largest gap's k when none does.

    Unlike the single maximum gap, this keeps a speaker whose voice is close to another's: voices form groups
    (two low voices, two high ones), the largest gap often separates the groups, and the one that separates the
    last two look-alikes is smaller but still clear of the noise gaps above the true count."""
    if low == high:
        return low
    upper = min(high, len(values) - 1)
    gaps = np.diff(values[: upper + 1])
    ks = np.arange(1, upper + 1)
    allowed = ks >= max(low, 2)
    if not np.any(allowed):
        return max(low, 1)
    clear = allowed & (gaps >= threshold)
    if np.any(clear):
        return int(ks[clear].max())
    return int(ks[allowed][int(np.argmax(gaps[allowed]))])


def _nme(x: npt.NDArray[np.float64], low: int, high: int, s: ClusteringSettings) -> tuple[int, npt.NDArray[np.float64]]:
    """NME-SC: the pruning p with the clearest normalized maximum eigengap; its count and spectral embedding."""
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
    return k, vectors[:, :k]


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


def _clean_up(
    x: npt.NDArray[np.float64],
    labels: IntArray,
    low: int,
    s: ClusteringSettings,
    space: npt.NDArray[np.float64] | None = None,
) -> IntArray:
    """Join look-alike clusters, fold tiny ones into their nearest neighbour, then move every embedding to its
    nearest centroid; never below ``low`` clusters. Given the clustering ``space`` (rows as ``x``), two clusters
    are joined only when their centroids there are also alike (``s.merge_space_similarity``)."""
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
        mergeable = sims > s.merge_similarity
        if space is not None and np.any(mergeable):
            in_space = _centroids(space, labels)
            mergeable &= in_space @ in_space.T > s.merge_space_similarity
        if not np.any(mergeable):
            break
        i, j = np.unravel_index(int(np.argmax(np.where(mergeable, sims, -np.inf))), sims.shape)
        labels = _compact(np.where(labels == j, i, labels))
    k = int(labels.max()) + 1
    if k > 1:
        moved = np.argmax(x @ _centroids(x, labels).T, axis=1).astype(np.int64)
        # Keep the count: only accept the move when no cluster empties.
        if len(np.unique(moved)) == k:
            labels = _compact(moved)
    return labels


def resegment(
    space: npt.NDArray[np.float64],
    labels: IntArray,
    groups: npt.NDArray[Any],
    switch_penalty: float,
    *,
    fit: npt.NDArray[np.bool_] | None = None,
    iterations: int = 2,
) -> IntArray:
    """Re-label rows (in time order) by their nearest cluster centroid with a cost for changing speaker.

    A light VBx-like pass: the centroids come from ``labels`` (rows where ``fit`` is true; all by default), each
    row scores its cosine similarity to every centroid, and within each run of rows of one group (a speech
    region) a Viterbi path maximises the total score minus ``switch_penalty`` per change of label. Rows of
    different groups are independent (a pause may change speaker freely). Repeated ``iterations`` times with the
    centroids of the new labels. The count never changes: a pass that empties a cluster is not taken."""
    out = _compact(labels.astype(np.int64))
    k = int(out.max()) + 1 if out.size else 0
    if k < 2:
        return out
    mask = np.ones(out.shape[0], dtype=bool) if fit is None else np.asarray(fit, dtype=bool)
    for _ in range(max(iterations, 1)):
        if not all(np.any(mask & (out == j)) for j in range(k)):
            break
        centroids = np.zeros((k, space.shape[1]))
        np.add.at(centroids, out[mask], space[mask])
        scores = space @ _normalize(centroids).T
        new = np.empty_like(out)
        start = 0
        n = out.shape[0]
        while start < n:
            end = start + 1
            while end < n and groups[end] == groups[start]:
                end += 1
            new[start:end] = _viterbi(scores[start:end], switch_penalty)
            start = end
        if len(np.unique(new)) < k or np.array_equal(new, out):
            break
        out = new
    return out


def _viterbi(scores: npt.NDArray[np.float64], penalty: float) -> IntArray:
    """The label path maximising the sum of ``scores[t, label]`` minus ``penalty`` per change of label."""
    steps, k = scores.shape
    total = scores[0].copy()
    back = np.zeros((steps, k), dtype=np.int64)
    for t in range(1, steps):
        best = int(np.argmax(total))
        stay = total
        switch = total[best] - penalty
        back[t] = np.where(stay >= switch, np.arange(k), best)
        total = np.maximum(stay, switch) + scores[t]
    path = np.empty(steps, dtype=np.int64)
    path[-1] = int(np.argmax(total))
    for t in range(steps - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path
