"""Neighbourhoods of tracks in a tagger's space, on plain arrays: how novel a track is for a collection,
the label mix of its nearest collection tracks, whether a group's tracks are each other's nearest
neighbours, and how much two spaces agree on who neighbours whom.

Rows are given in the tagger's space (`shrooms.space`: standardised, PCA to ≤ 50 components; `in_space`
puts a collection's raw rows there) and distances are euclidean in it: the space the maps are fitted on,
so every neighbour these functions name is a neighbour the map was drawn from. Nearest-neighbour searches
are exact (brute force)."""

from __future__ import annotations

import numpy as np
from scipy.stats import percentileofscore
from sklearn.neighbors import NearestNeighbors

from .errors import ShroomsError

from .space import METRIC, in_space  # noqa: F401  (in_space: re-exported for callers)


def check_rows(x: np.ndarray, name: str = "x", min_rows: int = 1) -> np.ndarray:
    """`x` as a finite float64 array of shape (n, d) with at least `min_rows` rows, or one clear error."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) < min_rows or not np.isfinite(x).all():
        raise ShroomsError(f"{name} must be a finite 2-D array of at least {min_rows} rows, got shape {x.shape}")
    return x


def nearest_distances(reference: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Distance from each query to its nearest reference row.

    Parameters
    ----------
    reference : np.ndarray, shape (n, d)
    queries : np.ndarray, shape (m, d)

    Returns
    -------
    np.ndarray, shape (m,)
        Euclidean distances in the space.
    """
    reference, queries = check_rows(reference, "reference"), check_rows(queries, "queries", 0)
    if len(queries) == 0:
        return np.zeros(0)
    return NearestNeighbors(n_neighbors=1, algorithm="brute", metric=METRIC).fit(reference).kneighbors(queries)[0][:, 0]


def loo_nearest_distances(x: np.ndarray) -> np.ndarray:
    """Leave-one-out nearest-neighbour distance of every row: the distance to its nearest *other* row.

    Parameters
    ----------
    x : np.ndarray, shape (n, d), n ≥ 2

    Returns
    -------
    np.ndarray, shape (n,)
        Euclidean distances in the space.
    """
    x = check_rows(x, "x", 2)
    dist, idx = NearestNeighbors(n_neighbors=2, algorithm="brute", metric=METRIC).fit(x).kneighbors(x)
    # a duplicate row can come back before the row itself: take the first neighbour that is not the row
    own = idx[:, 0] == np.arange(len(x))
    return np.where(own, dist[:, 1], dist[:, 0])


def novelty_percentile(reference: np.ndarray, queries: np.ndarray, baseline: np.ndarray | None = None) -> np.ndarray:
    """How far each query lies from a collection, as a percentile of the collection's own spacing.

    The query's nearest-reference distance is ranked among the reference's leave-one-out nearest-neighbour
    distances: the percentage of reference tracks whose nearest other track is *strictly* closer than the
    query's nearest reference track (`scipy.stats.percentileofscore`, kind="strict"). 97 reads "further
    from the collection than 97 % of its tracks are from the rest"; a typical collection track scores about 50.

    Parameters
    ----------
    reference : np.ndarray, shape (n, d), n ≥ 2
    queries : np.ndarray, shape (m, d)
    baseline : np.ndarray, shape (n,), optional
        `loo_nearest_distances(reference)`, when already known: it costs n nearest-neighbour queries
        (minutes at 100,000 tracks), the queries themselves only m.

    Returns
    -------
    np.ndarray, shape (m,)
        Percentiles in [0, 100].
    """
    if baseline is None:
        own = loo_nearest_distances(reference)
    else:
        own = np.asarray(baseline, dtype=np.float64)
        if own.shape != (len(reference),):
            raise ShroomsError(f"baseline must have one distance per reference row ({len(reference)}), "
                               f"got shape {own.shape}")
    return np.array([percentileofscore(own, d, kind="strict") for d in nearest_distances(reference, queries)])


def self_novelty(x: np.ndarray) -> np.ndarray:
    """The novelty percentile of every collection row against the rest (its leave-one-out distance ranked
    among everyone's), shape (n,): the baseline a placed song is compared with; its median is about 50."""
    own = loo_nearest_distances(x)
    return np.array([percentileofscore(own, d, kind="strict") for d in own])


def label_mix(labels: np.ndarray) -> dict[str, float]:
    """Fractions of each label among `labels` (n,), largest first, ties by name; None counts as
    "(unlabelled)". Fractions sum to 1 (an empty input gives {})."""
    names = ["(unlabelled)" if v is None or v != v else str(v) for v in labels]
    if not names:
        return {}
    values, counts = np.unique(names, return_counts=True)
    order = sorted(range(len(values)), key=lambda i: (-counts[i], values[i]))
    return {str(values[i]): float(counts[i] / len(names)) for i in order}


def neighbour_indices(reference: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Indices of each query's `k` nearest reference rows (fewer if the reference is smaller), nearest
    first: shape (m, min(k, n))."""
    reference, queries = check_rows(reference, "reference"), check_rows(queries, "queries")
    k = min(k, len(reference))
    return NearestNeighbors(n_neighbors=k, algorithm="brute", metric=METRIC).fit(reference).kneighbors(queries)[1]


def knn_sets(x: np.ndarray, k: int = 10) -> np.ndarray:
    """Each row's `k` nearest other rows (leave-one-out), shape (n, min(k, n - 1)), nearest first."""
    x = check_rows(x, "x", 2)
    k = min(k, len(x) - 1)
    idx = NearestNeighbors(n_neighbors=k + 1, algorithm="brute", metric=METRIC).fit(x).kneighbors(x)[1]
    return np.array([[j for j in row if j != i][:k] for i, row in enumerate(idx)])


def knn_overlap(x: np.ndarray, y: np.ndarray, k: int = 10) -> np.ndarray:
    """Per track, the Jaccard overlap of its `k` nearest neighbours in two spaces of the same tracks.

    Parameters
    ----------
    x : np.ndarray, shape (n, d1)
    y : np.ndarray, shape (n, d2)
        The same n tracks, in the same order, in two spaces (two taggers, or embedding and taggram).
    k : int
        Neighbours per track (capped at n - 1).

    Returns
    -------
    np.ndarray, shape (n,)
        |N_x(i) ∩ N_y(i)| / |N_x(i) ∪ N_y(i)|, in [0, 1]; 1 where both spaces agree exactly.
    """
    x, y = check_rows(x, "x", 2), check_rows(y, "y", 2)
    if len(x) != len(y):
        raise ShroomsError(f"k-NN overlap needs the same tracks in both spaces, got {len(x)} and {len(y)} rows")
    a, b = knn_sets(x, k), knn_sets(y, k)
    return np.array([len(set(p) & set(q)) / len(set(p) | set(q)) for p, q in zip(a, b)])


def own_neighbour_fraction(reference: np.ndarray, group: np.ndarray) -> float:
    """Fraction of a group's rows whose nearest neighbour among reference ∪ group (itself excluded) is
    another row of the group: near 1 when the group forms its own region, near 0 when it dissolves into
    the reference.

    Parameters
    ----------
    reference : np.ndarray, shape (n, d)
    group : np.ndarray, shape (m, d), m ≥ 2

    Returns
    -------
    float in [0, 1]
    """
    reference, group = check_rows(reference, "reference"), check_rows(group, "group", 2)
    nearest = knn_sets(np.concatenate([reference, group]), k=1)[len(reference):, 0]
    return float(np.mean(nearest >= len(reference)))
