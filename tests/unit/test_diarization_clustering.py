"""Clustering of speaker embeddings on synthetic embeddings: counts, bounds, degenerate inputs."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from ting_asr.diarization.clustering import ClusteringSettings, Method, cluster, speaker_bounds

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
