"""Scores with exact expectations on constructed data, and reproducible maps."""

from __future__ import annotations

import numpy as np
import pytest

from shrooms.analysis import (CLUSTERERS, cluster_labels, cluster_scores, hungarian_accuracy, knn_accuracy,
                              matched_confusion, probe_accuracy)
from shrooms.maps import TagMap


def blobs(k: int = 4, n: int = 25, dim: int = 16, spread: float = 0.3, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 10, (k, dim))
    x = np.concatenate([c + rng.normal(0, spread, (n, dim)) for c in centres])
    return x, np.repeat([f"label{i}" for i in range(k)], n)


def test_hungarian_accuracy_on_a_hand_made_table() -> None:
    y_true = np.array(["a", "a", "a", "b", "b", "c"])
    y_pred = np.array([1, 1, 0, 0, 0, 2])
    # best one-to-one matching: 1→a (2 right), 0→b (2 right), 2→c (1 right): 5 of 6
    assert hungarian_accuracy(y_true, y_pred) == pytest.approx(5 / 6)
    assert hungarian_accuracy(y_true, np.zeros(6, int)) == pytest.approx(3 / 6)  # one cluster: the majority
    confusion = matched_confusion(y_true, y_pred)
    assert list(confusion.index) == ["a", "b", "c"] and list(confusion.columns) == ["a", "b", "c"]
    assert confusion.to_numpy().tolist() == [[2, 1, 0], [0, 2, 0], [0, 0, 1]]


def test_more_clusters_than_labels_keep_unmatched_columns() -> None:
    confusion = matched_confusion(np.array(["a", "a", "b", "b"]), np.array([0, 1, 2, 2]))
    assert list(confusion.columns) == ["a", "b", "cluster 1"] and confusion.to_numpy().sum() == 4


@pytest.mark.parametrize("method", CLUSTERERS)
def test_separated_blobs_score_one_and_permuting_names_changes_nothing(method) -> None:
    x, y = blobs()
    clusters = cluster_labels(x, 4, method, seed=0)
    assert hungarian_accuracy(y, clusters) == 1.0
    renamed = np.array(["zeta", "alpha", "mu", "beta"])[np.unique(y, return_inverse=True)[1]]
    assert hungarian_accuracy(renamed, clusters) == 1.0
    assert hungarian_accuracy(y, (clusters + 1) % 4) == 1.0


def test_cluster_scores_on_blobs_and_on_noise() -> None:
    x, y = blobs()
    perfect = cluster_scores(x, y, 4, seeds=(0, 1))
    assert all(perfect[m].mean == pytest.approx(1.0) and perfect[m].std == 0 for m in ("hungarian_kmeans", "nmi", "ari"))
    rng = np.random.default_rng(1)
    noise = cluster_scores(rng.normal(size=(100, 8)), y, 4, seeds=(0, 1, 2))
    assert noise["ari"].mean < 0.1 and noise["hungarian_kmeans"].mean < 0.5


def test_knn_and_probe_accuracy() -> None:
    x, y = blobs()
    assert knn_accuracy(x, y, k=5) == 1.0 and probe_accuracy(x, y, seed=0) == 1.0
    # two tight pairs with swapped labels: every point's nearest neighbour has the other label
    x2 = np.array([[1, 0], [1, 0.01], [0, 1], [0.01, 1]], float)
    assert knn_accuracy(x2, np.array(["a", "b", "c", "d"]), k=1) == 0.0
    assert knn_accuracy(x2, np.array(["a", "a", "b", "b"]), k=1) == 1.0


@pytest.mark.parametrize("method,dims", [("tsne", 2), ("tsne", 3), ("pca", 2), ("pca", 3)])
def test_maps_are_reproducible_and_transform_is_batch_independent(method, dims) -> None:
    x, _ = blobs(n=30)
    a, b = TagMap(method, dims, seed=3).fit(x), TagMap(method, dims, seed=3).fit(x)
    assert a.embedding_.shape == (120, dims) and np.array_equal(a.embedding_, b.embedding_)
    new = x[:5] + 0.05
    together = a.transform(new)
    alone = np.concatenate([a.transform(new[i:i + 1]) for i in range(5)])
    assert together.shape == (5, dims) and np.array_equal(together, alone)
    # a point placed next to a collection track lands nearer to it than to the other blobs
    d = np.linalg.norm(a.embedding_ - together[0], axis=1)
    assert np.argsort(d)[:5].max() < 30
