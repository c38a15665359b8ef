"""Scores, agreement, novelty, tag profiles and playlists with exact expectations on constructed data; the
shipped GTZAN split; reproducible maps."""

from __future__ import annotations

import re

import numpy as np
import pytest

from shrooms.agreement import linear_cka
from shrooms.analysis import (CLUSTERERS, cluster_labels, cluster_scores, distinguishing_tags, gtzan_filtered_split,
                              hungarian_accuracy, knn_accuracy, matched_confusion, probe_accuracy,
                              split_knn_accuracy, split_probe_accuracy, tag_profiles)
from shrooms.collections import GTZAN_GENRES
from shrooms.errors import ShroomsError
from shrooms.export import m3u8
from shrooms.maps import TagMap
from shrooms.neighbours import (knn_overlap, label_mix, loo_nearest_distances, novelty_percentile,
                                own_neighbour_fraction, self_novelty)


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


# --- spaces' agreement, neighbourhoods, tag profiles, the GTZAN split -------------------------------------

def test_linear_cka_is_one_for_itself_invariant_to_rotation_and_scale_and_matches_a_hand_computed_case() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 6)), rng.normal(size=(40, 9))
    rotation, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    assert linear_cka(x, x) == pytest.approx(1.0)
    assert linear_cka(x, 3.5 * x @ rotation) == pytest.approx(1.0)
    assert linear_cka(x @ rotation * 0.2, y) == pytest.approx(linear_cka(x, y))
    assert linear_cka(x, y * 7) == pytest.approx(linear_cka(x, y))
    # centred x = (-1, 0, 1), y = (0, -1, 1): ‖yᵀx‖² = 1, ‖xᵀx‖ = ‖yᵀy‖ = 2 → 1/4 (the squared correlation)
    assert linear_cka(np.array([[1.0], [2], [3]]), np.array([[1.0], [0], [2]])) == pytest.approx(0.25)
    assert linear_cka(x, y) < 0.5
    with pytest.raises(ShroomsError, match="same examples"):
        linear_cka(x, y[:10])


def test_knn_overlap_of_identical_and_of_constructed_spaces() -> None:
    x, _ = blobs(k=3, n=10)
    assert np.array_equal(knn_overlap(x, x, k=5), np.ones(30))
    rotation, _ = np.linalg.qr(np.random.default_rng(2).normal(size=(16, 16)))
    assert np.array_equal(knn_overlap(x, 2 * x @ rotation, k=5), np.ones(30))  # cosine: rotation-invariant
    # four tracks as unit vectors at 0°, 10°, 90°, 100° (nearest: 1, 0, 3, 2) and at 0°, 80°, 90°, 170°
    # (nearest: 1, 2, 1, 2): with k = 1 the two spaces agree on tracks 0 and 3 only
    angles = np.radians([[0, 10, 90, 100], [0, 80, 90, 170]])
    a, b = (np.stack([np.cos(t), np.sin(t)], axis=1) for t in angles)
    assert knn_overlap(a, b, k=1).tolist() == [1.0, 0.0, 0.0, 1.0]


def test_novelty_percentile_on_a_constructed_case() -> None:
    # unit vectors at 0°, 10°, 30°, 60°, 100°: leave-one-out nearest gaps 10°, 10°, 20°, 30°, 40°
    unit = lambda degrees: np.stack([np.cos(np.radians(degrees)), np.sin(np.radians(degrees))], axis=1)
    reference = unit(np.array([0, 10, 30, 60, 100]))
    # 150° is 50° from the nearest (further than all 5), 45° is 15° away (further than 2 of 5), 0° is on a track
    assert novelty_percentile(reference, unit(np.array([150, 45, 0]))).tolist() == [100.0, 40.0, 0.0]
    # rows are given in the space, distances euclidean: chords of the unit circle, 2 sin(gap / 2)
    assert np.allclose(loo_nearest_distances(reference), 2 * np.sin(np.radians([10, 10, 20, 30, 40]) / 2))
    assert self_novelty(reference).tolist() == [0.0, 0.0, 40.0, 60.0, 80.0]
    # a known baseline (the leave-one-out distances) gives the same percentiles without recomputing it
    baseline = loo_nearest_distances(reference)
    assert novelty_percentile(reference, unit(np.array([150, 45, 0])), baseline).tolist() == [100.0, 40.0, 0.0]
    with pytest.raises(ShroomsError, match=r"^baseline must have one distance per reference row \(5\), "
                                           r"got shape \(4,\)$"):
        novelty_percentile(reference, unit(np.array([45])), baseline[:4])


def test_label_mix_and_own_neighbour_fraction() -> None:
    assert label_mix(np.array(["hiphop", "reggae", "hiphop", None, "hiphop"], dtype=object)) == \
        {"hiphop": 0.6, "(unlabelled)": 0.2, "reggae": 0.2}
    x, _ = blobs(k=2, n=10)
    assert own_neighbour_fraction(x[:10], x[10:]) == 1.0    # a separate blob: each other's neighbours
    assert own_neighbour_fraction(x[:10], x[[0, 1]] + 1e-3) == 0.0  # copies of collection tracks: theirs


def test_tag_profiles_on_a_constructed_case() -> None:
    tags = np.array([[0.9, 0.1, 0.2], [0.7, 0.1, 0.2], [0.1, 0.5, 0.2], [0.1, 0.3, 0.2]])
    profile = tag_profiles(tags, np.array(["metal", "metal", "jazz", "jazz"]))
    assert profile.groups.tolist() == ["jazz", "metal"] and profile.sizes.tolist() == [2, 2]
    assert np.allclose(profile.overall, [0.45, 0.25, 0.2])
    assert np.allclose(profile.inside, [[0.1, 0.4, 0.2], [0.8, 0.1, 0.2]])
    assert np.allclose(profile.lift, [[0.1 / 0.45, 1.6, 1.0], [0.8 / 0.45, 0.4, 1.0]])
    assert np.allclose(profile.difference, [[-0.35, 0.15, 0.0], [0.35, -0.15, 0.0]])
    names = ["electricguitar", "piano", "drums"]
    assert distinguishing_tags(profile, 1, names) == ["electricguitar"]   # only tags that are raised
    assert distinguishing_tags(profile, 0, names) == ["piano"]
    with pytest.raises(ShroomsError, match="probabilities"):
        tag_profiles(tags * 3, np.array(["a", "a", "b", "b"]))


def test_split_knn_and_probe_accuracy() -> None:
    x, y = blobs(k=3, n=12)
    train = np.arange(len(x)) % 3 != 0
    assert split_knn_accuracy(x[train], y[train], x[~train], y[~train]) == 1.0
    assert split_probe_accuracy(x[train], y[train], x[~train], y[~train]) == 1.0
    assert split_knn_accuracy(x[train], y[train], x[~train], y[~train][::-1]) < 0.5


def test_gtzan_filtered_split_is_well_formed_and_disjoint() -> None:
    split = gtzan_filtered_split()
    assert len(split) == 930 and all(re.fullmatch(r"[a-z]+\.000\d\d", i) for i in split)
    parts = {part: {i for i, p in split.items() if p == part} for part in ("train", "valid", "test")}
    assert {p: len(ids) for p, ids in parts.items()} == {"train": 443, "valid": 197, "test": 290}
    assert sum(len(ids) for ids in parts.values()) == len(set().union(*parts.values())) == 930  # disjoint
    assert {i.split(".")[0] for i in split} == set(GTZAN_GENRES)
    assert all({i.split(".")[0] for i in ids} == set(GTZAN_GENRES) for ids in parts.values())
    assert split["blues.00012"] == "test" and split["blues.00000"] == "valid" and split["blues.00029"] == "train"
    assert "jazz.00054" in split and "reggae.00086" not in split  # a kept clip, and one of the 70 filtered out


def test_m3u8_playlist_text() -> None:
    text = m3u8(["/music/a song.flac", "rel/b.mp3"], durations=[29.6, None])
    assert text == "#EXTM3U\n#EXTINF:30,a song\n/music/a song.flac\n#EXTINF:-1,b\nrel/b.mp3\n"
    assert m3u8(["x.wav"], titles=["Title, with comma"], durations=[3.0]) == "#EXTM3U\n#EXTINF:3,Title, with comma\nx.wav\n"
    assert m3u8([]) == "#EXTM3U\n"
