"""Clustering of speaker embeddings on synthetic embeddings: counts, bounds, degenerate inputs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import numpy.typing as npt
import pytest

from ting_asr.diarization.clustering import (
    ClusteringSettings,
    Method,
    _centroids,
    _split,
    _viterbi,
    cluster,
    clustering_space,
    gap_count,
    resegment,
    speaker_bounds,
    within_whitening,
)

METHODS: tuple[Method, ...] = ("spectral", "agglomerative")


def blobs(
    k: int, per: int, *, noise: float = 0.35, dim: int = 256, seed: int = 0
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """``k`` well-separated speakers, ``per`` L2-normalized embeddings each, interleaved as turns would be."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dim))
    truth = np.tile(np.arange(k), per)
    x = centres[truth] / np.sqrt(dim) + rng.normal(size=(k * per, dim)) * noise / np.sqrt(dim)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), truth.astype(np.int64)


def agree(labels: npt.NDArray[np.int64], truth: npt.NDArray[np.int64]) -> bool:
    """Same partition up to renaming."""
    pairs = set(zip(labels.tolist(), truth.tolist(), strict=True))
    return len(pairs) == len(set(labels.tolist())) == len(set(truth.tolist()))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("k", [2, 3, 5])
def test_clear_clusters_give_the_right_count(method: Method, k: int) -> None:
    x, truth = blobs(k, 12, seed=k)
    labels = cluster(x, settings=ClusteringSettings(method=method))
    assert agree(labels, truth)


@pytest.mark.parametrize("method", METHODS)
def test_one_voice_is_one_speaker(method: Method) -> None:
    rng = np.random.default_rng(3)
    centre = rng.normal(size=256)
    x = centre + rng.normal(size=(40, 256)) * 0.3
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    assert set(cluster(x.astype(np.float32), settings=ClusteringSettings(method=method)).tolist()) == {0}


@pytest.mark.parametrize("method", METHODS)
def test_identical_embeddings_are_one_speaker(method: Method) -> None:
    x = np.tile(blobs(1, 1)[0], (30, 1))
    assert cluster(x, settings=ClusteringSettings(method=method)).tolist() == [0] * 30


@pytest.mark.parametrize("method", METHODS)
def test_exact_count_is_honoured(method: Method) -> None:
    x, _ = blobs(3, 10, seed=7)
    settings = ClusteringSettings(method=method)
    assert int(cluster(x, speaker_count=2, settings=settings).max()) + 1 == 2
    assert int(cluster(x, speaker_count=4, settings=settings).max()) + 1 == 4


@pytest.mark.parametrize("method", METHODS)
def test_min_and_max_are_honoured(method: Method) -> None:
    settings = ClusteringSettings(method=method)
    x, _ = blobs(5, 8, seed=11)
    assert int(cluster(x, max_speakers=3, settings=settings).max()) + 1 == 3
    one, _ = blobs(1, 30, seed=12)
    assert int(cluster(one, min_speakers=2, settings=settings).max()) + 1 == 2


def test_single_window_and_empty_input() -> None:
    x, _ = blobs(1, 1)
    assert cluster(x).tolist() == [0]
    assert cluster(x, speaker_count=3).tolist() == [0]
    assert cluster(np.zeros((0, 256), dtype=np.float32)).shape == (0,)


def test_exact_count_above_the_number_of_windows_is_clamped() -> None:
    x, _ = blobs(3, 1, seed=5)
    labels = cluster(x, speaker_count=6)
    assert sorted(labels.tolist()) == [0, 1, 2]


def test_labels_are_compact_in_order_of_first_appearance() -> None:
    x, _ = blobs(3, 10, seed=2)
    labels = cluster(x)
    assert labels[0] == 0
    assert set(labels.tolist()) == {0, 1, 2}
    firsts = [int(np.flatnonzero(labels == k)[0]) for k in range(3)]
    assert firsts == sorted(firsts)


def test_long_inputs_are_subsampled_and_every_row_labelled() -> None:
    x, truth = blobs(3, 400, seed=9)
    labels = cluster(x, settings=ClusteringSettings(max_points=300))
    assert labels.shape == (1200,)
    assert agree(labels, truth)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((10, 0, 1, 8), (1, 8)),
        ((10, 3, 1, 8), (3, 3)),
        ((2, 5, 1, 8), (2, 2)),
        ((10, 0, 6, 4), (4, 4)),
        ((10, 0, 0, 0), (1, 10)),
        ((100, 50, 1, 8), (20, 20)),
    ],
)
def test_speaker_bounds_clamp(args: tuple[int, int, int, int], expected: tuple[int, int]) -> None:
    assert speaker_bounds(*args) == expected


# --- count by the largest clear eigengap -------------------------------------------------------------------------


def test_gap_count_takes_the_largest_clear_gap_not_the_largest_gap() -> None:
    # gaps for k = 1..6: 0.01, 0.59, 0.02, 0.28, 0.02, 0.03. The largest is at k=2 (two groups of voices); the
    # last clear one, at k=4, separates the look-alikes inside a group.
    values = np.array([0.0, 0.01, 0.6, 0.62, 0.9, 0.92, 0.95])
    assert gap_count(values, 1, 6, 0.14) == 4
    assert gap_count(values, 1, 6, 0.3) == 2
    assert gap_count(values, 1, 3, 0.14) == 2  # never above high


def test_gap_count_without_a_clear_gap_falls_back_to_the_largest() -> None:
    values = np.array([0.0, 0.02, 0.05, 0.13, 0.15, 0.2])
    assert gap_count(values, 1, 5, 0.5) == 3
    assert gap_count(values, 4, 5, 0.5) == 5  # the largest gap within [low, high]
    assert gap_count(values, 3, 3, 0.5) == 3


# --- within-speaker whitening ------------------------------------------------------------------------------------


def voices_with_drift(
    k: int, turns: int, per_turn: int, *, seed: int = 0, dim: int = 64
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``k`` look-alike voices (a shared base plus a small voice-specific offset) whose windows wander along four
    shared nuisance axes (what is being said), per turn and from window to window, further than the voices lie
    apart. Windows of one turn share a group; turns rotate through the voices."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=dim)
    voices = base + 0.4 * rng.normal(size=(k, dim))
    nuisance = rng.normal(size=(4, dim))
    rows, truth, groups = [], [], []
    for t in range(turns * k):
        turn = 0.15 * rng.normal(size=4)
        for _ in range(per_turn):
            rows.append(voices[t % k] + (turn + 0.15 * rng.normal(size=4)) @ nuisance + 0.05 * rng.normal(size=dim))
            truth.append(t % k)
            groups.append(t)
    x = np.asarray(rows)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, np.asarray(truth, dtype=np.int64), np.asarray(groups, dtype=np.int64)


def test_within_whitening_brings_out_the_voices_under_a_larger_drift() -> None:
    x, truth, groups = voices_with_drift(3, 5, 6, seed=4)

    def ratio(space: npt.NDArray[np.float64]) -> float:
        """Mean cosine to the own speaker's windows over the mean cosine to others' (higher: voices stand out)."""
        sim = space @ space.T
        same = truth[:, None] == truth[None, :]
        np.fill_diagonal(same, False)
        other = truth[:, None] != truth[None, :]
        return float(np.mean(sim[same]) - np.mean(sim[other]))

    white = within_whitening(x, groups, 0.5)
    assert np.allclose(np.linalg.norm(white, axis=1), 1.0)
    assert ratio(white) > ratio(x - x.mean(axis=0)) + 0.2


def test_within_whitening_without_pairs_only_centres() -> None:
    x, _ = blobs(2, 5, seed=1)
    raw = x.astype(np.float64)
    centred = raw - raw.mean(axis=0)
    expected = centred / np.linalg.norm(centred, axis=1, keepdims=True)
    assert np.allclose(within_whitening(raw, np.arange(10), 0.5), expected)  # every row its own group
    assert np.allclose(within_whitening(raw, np.zeros(10, dtype=np.int64), 1.0), expected)  # no shrinkage left


@pytest.mark.parametrize("k", [3, 4])
def test_groups_let_look_alike_voices_be_counted(k: int) -> None:
    # 30 random meetings, so that the contrast does not hinge on one borderline case (which flips with the BLAS
    # kernels of the CPU): on an AMD EPYC, k=3 26 vs 5 and k=4 23 vs 1.
    with_groups = without = 0
    for seed in range(30):
        x, truth, groups = voices_with_drift(k, 4, 6, seed=seed)
        with_groups += agree(cluster(x.astype(np.float32), groups=groups), truth)
        without += agree(cluster(x.astype(np.float32)), truth)
    assert with_groups >= 18, (with_groups, without)
    assert without <= 8, (with_groups, without)


def short_recording(
    k: int, seed: int, *, apart: float, noise: float = 0.15, dim: int = 64
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``k`` voices (a shared unit base plus an offset of length ``apart`` each), four turns each of four noisy
    windows (``noise`` per coordinate), turns rotating through the voices: a short recording, 16 windows a voice."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=dim)
    offsets = rng.normal(size=(k, dim))
    voices = base / np.linalg.norm(base) + apart * offsets / np.linalg.norm(offsets, axis=1, keepdims=True)
    turns = np.repeat(np.arange(4 * k), 4)
    truth = turns % k
    x = voices[truth] + noise * rng.normal(size=(truth.size, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, truth.astype(np.int64), turns.astype(np.int64)


def test_a_short_recording_of_one_voice_is_one_speaker() -> None:
    # Few windows make noisy halves: their raw centroids are only about 0.85 alike here, under the fixed limit of
    # 0.93 that used to decide (it split all 30); measured against random halves of the same rows they are one voice.
    ones = 0
    for seed in range(30):
        x, _, groups = short_recording(1, seed, apart=0.0)
        halves = _centroids(x, cluster_two_ways(x, groups))
        assert float(halves[0] @ halves[1]) < 0.93
        ones += set(cluster(x.astype(np.float32), groups=groups).tolist()) == {0}
    assert ones == 30


def test_two_voices_in_a_short_recording_are_still_two() -> None:
    found = 0
    for seed in range(30):
        x, truth, groups = short_recording(2, seed, apart=1.5)
        found += agree(cluster(x.astype(np.float32), groups=groups), truth)
    assert found >= 27


def cluster_two_ways(x: npt.NDArray[np.float64], groups: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The two-way split the one-speaker test makes (Ng-Jordan-Weiss in the whitened space)."""
    settings = replace(ClusteringSettings(), partition="njw")
    return _split(clustering_space(x, groups, None, settings), 2, 2, settings)


def test_three_equal_voices_are_not_taken_for_one() -> None:
    # A two-way cut of three equal voices must keep each voice on one side, or its halves look alike.
    x, truth = blobs(3, 100, seed=9)
    assert agree(cluster(x, settings=ClusteringSettings(max_points=150)), truth)


# --- re-segmentation ---------------------------------------------------------------------------------------------


def two_voices_in_regions() -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Two orthogonal voices; rows 0-5 are region 0 (voice 0), rows 6-11 region 1 (voice 1)."""
    a, b = np.eye(8)[0], np.eye(8)[1]
    x = np.asarray([a] * 6 + [b] * 6, dtype=np.float64)
    truth = np.asarray([0] * 6 + [1] * 6, dtype=np.int64)
    return x, truth, np.asarray([0] * 6 + [1] * 6, dtype=np.int64)


def test_viterbi_pays_for_each_change() -> None:
    scores = np.asarray([[1.0, 0.0], [0.4, 0.6], [1.0, 0.0]])
    assert _viterbi(scores, 0.0).tolist() == [0, 1, 0]
    assert _viterbi(scores, 0.3).tolist() == [0, 0, 0]  # two changes cost 0.6, more than the 0.2 gained


def test_resegment_moves_windows_to_their_voice() -> None:
    x, truth, groups = two_voices_in_regions()
    noisy = truth.copy()
    noisy[[2, 9]] = 1 - noisy[[2, 9]]  # one wrong window in each region
    assert resegment(x, noisy, groups, 0.1).tolist() == truth.tolist()


def test_resegment_smooths_within_a_region_but_not_across_regions() -> None:
    a, b = np.eye(8)[0], np.eye(8)[1]
    blend = (0.45 * a + 0.55 * b) / np.linalg.norm(0.45 * a + 0.55 * b)
    x = np.asarray([a, a, blend, a, a, b, b, b], dtype=np.float64)
    labels = np.asarray([0, 0, 1, 0, 0, 1, 1, 1], dtype=np.int64)
    # Alone inside region 0, the ambiguous window goes with its neighbours under a switch cost ...
    assert resegment(x, labels, np.asarray([0, 0, 0, 0, 0, 1, 1, 1]), 0.3).tolist() == [0, 0, 0, 0, 0, 1, 1, 1]
    # ... but as its own region (between pauses) it keeps the voice it is closest to.
    assert resegment(x, labels, np.asarray([0, 0, 1, 2, 2, 3, 3, 3]), 0.3).tolist() == [0, 0, 1, 0, 0, 1, 1, 1]


def test_resegment_never_changes_the_count() -> None:
    x, truth, groups = two_voices_in_regions()
    labels = truth.copy()
    labels[11] = 2  # a third cluster of one window that sits on voice 1
    out = resegment(x, labels, groups, 0.1, fit=np.ones(12, dtype=bool))
    assert int(out.max()) + 1 == 3
    one = resegment(x, np.zeros(12, dtype=np.int64), groups, 0.1)
    assert one.tolist() == [0] * 12


def twins_and_a_third(
    seed: int,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Three voices taking turns (4 turns each, 6 windows a turn): voices 0 and 1 have the same embeddings (as GE2E
    gives some look-alike voices) but other extra features (their spectral envelopes, which also drift per turn);
    voice 2 differs in both. Returns embeddings, extra features, the truth and the groups (turn numbers)."""
    rng = np.random.default_rng(seed)
    turns, per_turn = 12, 6
    groups = np.repeat(np.arange(turns), per_turn)
    truth = groups % 3
    base = rng.normal(size=(3, 256))
    emb = base[np.where(truth == 1, 0, truth)] + 0.5 * rng.normal(size=(truth.size, 256))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    offsets = rng.normal(size=(3, 38))
    extra = offsets[truth] + 0.3 * rng.normal(size=(turns, 38))[groups] + 0.3 * rng.normal(size=(truth.size, 38))
    return emb.astype(np.float32), extra.astype(np.float32), truth.astype(np.int64), groups.astype(np.int64)


def right_share(labels: npt.NDArray[np.int64], truth: npt.NDArray[np.int64]) -> float:
    """Share of rows whose label is their truth under the best one-to-one renaming (greedy is enough here)."""
    counts = np.zeros((int(labels.max()) + 1, int(truth.max()) + 1))
    np.add.at(counts, (labels, truth), 1)
    right = 0.0
    while counts.size and counts.max() > 0:
        i, j = np.unravel_index(int(np.argmax(counts)), counts.shape)
        right += counts[i, j]
        counts[i, :] = 0
        counts[:, j] = 0
    return right / labels.size


@pytest.mark.parametrize("seed", range(5))
def test_extra_features_tell_apart_voices_the_embeddings_confuse(seed: int) -> None:
    emb, extra, truth, groups = twins_and_a_third(seed)
    with_extra = cluster(emb, min_speakers=2, groups=groups, extra=extra)
    assert int(with_extra.max()) + 1 == 3
    assert right_share(with_extra, truth) >= 0.9
    # Without them the twins are one speaker; with them but without the clean-up's check in the clustering
    # space, the raw centroids (alike) join the twins again.
    assert int(cluster(emb, min_speakers=2, groups=groups).max()) + 1 == 2
    no_veto = ClusteringSettings(merge_space_similarity=-1.0)
    assert int(cluster(emb, min_speakers=2, groups=groups, extra=extra, settings=no_veto).max()) + 1 == 2


def test_extra_features_are_left_out_at_weight_zero() -> None:
    emb, extra, _, groups = twins_and_a_third(0)
    off = ClusteringSettings(extra_weight=0.0)
    assert np.array_equal(
        cluster(emb, min_speakers=2, groups=groups, extra=extra, settings=off),
        cluster(emb, min_speakers=2, groups=groups, settings=off),
    )
