"""Graph centrality, MMR selection and topic segmentation over sentence/segment vectors (numpy)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


def normalize_rows(matrix: FloatArray) -> FloatArray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    out: FloatArray = (matrix / np.maximum(norms, 1e-12)).astype(np.float32)
    return out


def tfidf(documents: Sequence[Sequence[str]]) -> FloatArray:
    """Unit TF-IDF rows of tokenized ``documents``: sublinear term frequency ``1 + ln tf`` times the smoothed
    inverse document frequency ``ln(1 + n / df)`` (a term in every document keeps a small weight)."""
    n = len(documents)
    df: Counter[str] = Counter(t for doc in documents for t in set(doc))
    vocab = {t: i for i, t in enumerate(sorted(df))}
    matrix = np.zeros((n, max(1, len(vocab))), dtype=np.float32)
    for row, doc in enumerate(documents):
        for term, count in Counter(doc).items():
            matrix[row, vocab[term]] = (1.0 + math.log(count)) * math.log(1.0 + n / df[term])
    return normalize_rows(matrix)


def pool_neighbours(vectors: FloatArray, radius: int) -> FloatArray:
    """Each row summed with its ``radius`` neighbours on either side, then scaled to unit length.

    TextTiling's block comparison in a form the partition search can use: one short transcript segment
    shares few terms with the next even inside a topic, a block of neighbours shares many.
    """
    if radius <= 0 or vectors.shape[0] < 2:
        return vectors
    prefix = np.vstack([np.zeros((1, vectors.shape[1])), np.cumsum(vectors, axis=0, dtype=np.float64)])
    n = vectors.shape[0]
    low = np.clip(np.arange(n) - radius, 0, n)
    high = np.clip(np.arange(n) + radius + 1, 0, n)
    return normalize_rows((prefix[high] - prefix[low]).astype(np.float32))


def textrank(similarity: FloatArray, damping: float = 0.85, iterations: int = 100, tol: float = 1e-6) -> FloatArray:
    """PageRank over a weighted similarity graph (negative weights and self-loops dropped); sums to 1."""
    n = similarity.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    weights = np.clip(similarity, 0.0, None).astype(np.float64)
    np.fill_diagonal(weights, 0.0)
    out = weights.sum(axis=1, keepdims=True)
    transition = np.where(out > 0, weights / np.maximum(out, 1e-12), 1.0 / n)
    rank = np.full(n, 1.0 / n)
    for _ in range(iterations):
        new = (1 - damping) / n + damping * (transition.T @ rank)
        if np.abs(new - rank).sum() < tol:
            rank = new
            break
        rank = new
    ranks: FloatArray = (rank / rank.sum()).astype(np.float32)
    return ranks


def mmr(
    relevance: Sequence[float],
    vectors: FloatArray,
    k: int,
    candidates: Sequence[int],
    selected: Sequence[int] = (),
    diversity: float = 0.3,
) -> list[int]:
    """Maximal marginal relevance: pick up to ``k`` of ``candidates`` maximizing
    ``(1 - diversity) * relevance - diversity * max cosine to anything already selected``.

    ``relevance`` is rescaled to [0, 1] over the candidates; ``selected`` counts as already chosen.
    """
    pool = [i for i in candidates if i not in selected]
    if not pool or k <= 0:
        return []
    rel = np.asarray([relevance[i] for i in pool], dtype=np.float64)
    span = rel.max() - rel.min()
    rel = (rel - rel.min()) / span if span > 0 else np.ones_like(rel)
    chosen: list[int] = []
    taken = list(selected)
    while pool and len(chosen) < k:
        if taken:
            sims = vectors[pool] @ vectors[taken].T
            redundancy = sims.max(axis=1)
        else:
            redundancy = np.zeros(len(pool))
        scores = (1 - diversity) * rel - diversity * redundancy
        best = int(np.argmax(scores))
        chosen.append(pool[best])
        taken.append(pool[best])
        pool.pop(best)
        rel = np.delete(rel, best)
    return chosen


def segment_topics(
    vectors: FloatArray,
    starts: Sequence[float],
    end: float,
    max_parts: int,
    min_duration: float,
    min_gain_ratio: float = 0.5,
) -> list[int]:
    """Optimal contiguous partition of unit vectors into at most ``max_parts`` topics.

    The cost of a part is its dispersion, ``sum ||v - mean||^2 = n - ||sum v||^2 / n`` (k-means with
    contiguity, solved exactly by dynamic programming over prefix sums; Fisher's optimal partition).
    Parts shorter than ``min_duration`` seconds are not allowed. Parts are added while each extra
    split lowers the cost by at least ``min_gain_ratio`` of the largest gain so far: a real topic
    change gains about as much as the first one did, a split inside a topic much less.
    Returns the unit indices where parts 2.. start.
    """
    n = vectors.shape[0]
    if n < 2 or max_parts <= 1:
        return []
    prefix = np.vstack([np.zeros((1, vectors.shape[1])), np.cumsum(vectors, axis=0)]).astype(np.float64)
    gram = prefix @ prefix.T
    diag = np.diag(gram)
    length = np.arange(n + 1)[None, :] - np.arange(n + 1)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        cost = length - (diag[:, None] + diag[None, :] - 2 * gram) / length
    times = np.asarray([*starts, end], dtype=np.float64)
    span = times[None, :] - times[:, None]
    cost[(length <= 0) | (span < min_duration)] = np.inf
    best = np.full((max_parts + 1, n + 1), np.inf)
    back = np.zeros((max_parts + 1, n + 1), dtype=np.int64)
    best[0, 0] = 0.0
    for k in range(1, max_parts + 1):
        total = best[k - 1][:, None] + cost
        back[k] = np.argmin(total, axis=0)
        best[k] = total[back[k], np.arange(n + 1)]
    feasible = [k for k in range(1, max_parts + 1) if np.isfinite(best[k, n])]
    if not feasible:
        return []
    k = 1
    strongest = 0.0
    for parts in range(2, max(feasible) + 1):
        gain = float(best[parts - 1, n] - best[parts, n])
        if gain <= 0 or gain < min_gain_ratio * strongest:
            break
        strongest = max(strongest, gain)
        k = parts
    cuts: list[int] = []
    i = n
    for level in range(k, 0, -1):
        i = int(back[level, i])
        cuts.append(i)
    return sorted(c for c in cuts if c > 0)


def snap_to_cues(cuts: Sequence[int], cues: Sequence[int], reach: int = 2) -> list[int]:
    """Move each chapter start in ``cuts`` to the nearest topic-transition cue within ``reach`` units.

    ``cues[i]`` is +1 when unit ``i`` closes a topic (the next chapter starts at ``i + 1``), -1 when it opens
    one (a chapter starts at ``i``), else 0. A cut moves only where the result keeps every chapter non-empty;
    among equally near cues the cut that stays put wins, then the earlier one.
    """
    n = len(cues)
    out = list(cuts)
    for k, cut in enumerate(out):
        low = (out[k - 1] if k else 0) + 1
        high = (out[k + 1] if k + 1 < len(out) else n) - 1
        starts = {i + 1 for i in range(max(0, cut - reach - 1), min(n, cut + reach)) if cues[i] > 0}
        starts |= {i for i in range(max(0, cut - reach), min(n, cut + reach + 1)) if cues[i] < 0}
        options = sorted((abs(s - cut), s) for s in starts if low <= s <= high and abs(s - cut) <= reach)
        if options:
            out[k] = options[0][1]
    return out
