"""Hubness: in a high-dimensional space a few tracks ("hubs") are among almost everyone's nearest neighbours
and crowd every neighbour list, while others ("anti-hubs") are nobody's (Radovanović et al. 2010, "Hubs in
space"). Measured here by the k-occurrence N_k of every row (how many other rows list it among their `k`
nearest) and its skewness: about 0 for a space without hubs, large and positive when a few rows collect
most of the neighbour slots.

Two hubness reductions give a neighbour list in which hubs count less; both re-rank the exact euclidean
distances of the tagger's space (`shrooms.space`), so they change *who* is listed, not the space:

- ``"mp"``, empirical **mutual proximity** (Schnitzer, Flexer, Schedl & Widmer 2012, "Local and global
  scaling reduce hubs in space", JMLR 13): two tracks are close when each is close to the other *by the
  other's own standard*, MP(x, y) = P(d(x, ·) > d(x, y) and d(y, ·) > d(x, y)), counted exactly over the
  collection's other tracks; the distance is 1 - MP. Parameter-free; exact brute force costs O(n³) time
  (3.6 s at 1,000 tracks on one AMD EPYC core; `MP_MAX_TRACKS` bounds it) and O(n²) memory.
- ``"csls"``, **cross-domain similarity local scaling** (Conneau, Lample, Ranzato, Denoyer & Jégou 2018,
  "Word translation without parallel data", ICLR) on distances, as scikit-hubness applies it:
  2 d(x, y) - r(x) - r(y), with r the mean distance of a track to its `k` nearest others: a track in a
  dense region (a hub's) is pushed away. O(n²).

Rows are given in the tagger's space (`shrooms.space.in_space`); every search is exact (brute force).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import skew
from sklearn.metrics import pairwise_distances
from sklearn.neighbors import NearestNeighbors

from .errors import ShroomsError
from .neighbours import check_rows
from .space import METRIC

REDUCTIONS = ("none", "mp", "csls")
REDUCTION_NAMES = {"none": "euclidean", "mp": "mutual proximity", "csls": "CSLS"}
K = 10             # the k of the k-occurrence, as in the hubness literature and music-explore
TOP = 5            # hubs listed per tagger
MP_MAX_TRACKS = 2000  # exact empirical mutual proximity is O(n³): 3.6 s at 1,000 tracks, ~30 s at 2,000 (AMD EPYC)


def checked_reduction(reduction: str) -> str:
    """`reduction` if it is one of `REDUCTIONS`, else one clear error."""
    if reduction not in REDUCTIONS:
        raise ShroomsError(f"unknown hubness reduction {reduction!r}: choose one of {', '.join(REDUCTIONS)}")
    return reduction


def _square(distances: np.ndarray) -> np.ndarray:
    d = np.asarray(distances, dtype=np.float64)
    if d.ndim != 2 or d.shape[0] != d.shape[1] or len(d) < 2 or not np.isfinite(d).all() or (d < 0).any():
        raise ShroomsError(f"distances must be a finite, non-negative square matrix of at least 2 rows, "
                           f"got shape {d.shape}")
    return d


def distances(x: np.ndarray) -> np.ndarray:
    """Euclidean distances between all rows.

    Parameters
    ----------
    x : np.ndarray, shape (n, d)
        Rows in the tagger's space.

    Returns
    -------
    np.ndarray, shape (n, n)
        Symmetric, zero diagonal.
    """
    d = pairwise_distances(check_rows(x, "x", 2), metric=METRIC)
    np.fill_diagonal(d, 0.0)
    return (d + d.T) / 2  # exactly symmetric: ties between i→j and j→i stay ties


def mutual_proximity(distances: np.ndarray) -> np.ndarray:
    """Empirical mutual proximity distances (Schnitzer et al. 2012), exact.

    1 - |{m ≠ i, j : d(i, m) > d(i, j) and d(j, m) > d(i, j)}| / (n - 2): the fraction of the other tracks
    that are *not* further from both i and j than they are from each other.

    Parameters
    ----------
    distances : np.ndarray, shape (n, n), n ≥ 3
        Symmetric, non-negative, zero diagonal (`distances(x)`).

    Returns
    -------
    np.ndarray, shape (n, n)
        In [0, 1], symmetric, zero diagonal.
    """
    d = _square(distances)
    n = len(d)
    if n < 3:
        raise ShroomsError(f"mutual proximity needs at least 3 tracks, got {n}")
    if n > MP_MAX_TRACKS:
        raise ShroomsError(f"exact mutual proximity costs O(n³): {n} tracks is above {MP_MAX_TRACKS}; use csls")
    d = (d + d.T) / 2  # MP is symmetric: count each pair once (j > i) and mirror
    counts = np.zeros_like(d)
    for i in range(n - 1):
        threshold = d[i, i + 1:, None]  # d(i, j) for every j > i, against every m
        # m = i and m = j never count: d(i, i) = 0 and d(i, j) > d(i, j) are both false
        counts[i, i + 1:] = np.count_nonzero((d[i][None, :] > threshold) & (d[i + 1:] > threshold), axis=1)
    out = 1.0 - (counts + counts.T) / (n - 2)
    np.fill_diagonal(out, 0.0)
    return out


def csls(distances: np.ndarray, k: int = K) -> np.ndarray:
    """CSLS distances (Conneau et al. 2018) on a distance matrix: 2 d(i, j) - r(i) - r(j), r = the mean
    distance to the `k` nearest other rows (k capped at n - 1), shifted by one constant so the smallest
    off-diagonal value is 0 (a neighbour list's order is unchanged by the shift).

    Parameters
    ----------
    distances : np.ndarray, shape (n, n)
        Symmetric, non-negative, zero diagonal.
    k : int

    Returns
    -------
    np.ndarray, shape (n, n)
        Non-negative, symmetric, zero diagonal.
    """
    d = _square(distances)
    k = min(int(k), len(d) - 1)
    if k < 1:
        raise ShroomsError(f"k must be at least 1, got {k}")
    near = NearestNeighbors(n_neighbors=k, algorithm="brute", metric="precomputed").fit(d).kneighbors()[0]
    r = near.mean(axis=1)
    out = 2 * d - r[:, None] - r[None, :]
    off = ~np.eye(len(d), dtype=bool)
    out -= out[off].min()
    np.fill_diagonal(out, 0.0)
    return out


def reduced_distances(x: np.ndarray, reduction: str = "none", k: int = K) -> np.ndarray:
    """The distance matrix a neighbour list ranks by: euclidean (``"none"``), mutual proximity (``"mp"``)
    or CSLS (``"csls"``, r over `k` neighbours) of rows `x` (n, d) in the tagger's space. Shape (n, n)."""
    d = distances(x)
    reduction = checked_reduction(reduction)
    return d if reduction == "none" else mutual_proximity(d) if reduction == "mp" else csls(d, k)


def k_nearest(x: np.ndarray, k: int = K, metric: str = METRIC) -> np.ndarray:
    """Each row's `k` nearest other rows (self excluded, k capped at n - 1), nearest first.

    Parameters
    ----------
    x : np.ndarray, shape (n, d), or (n, n) with ``metric="precomputed"``
        Rows in the tagger's space, or a distance matrix (`reduced_distances`).
    k : int
    metric : str
        ``"euclidean"`` (the space's) or ``"precomputed"``.

    Returns
    -------
    np.ndarray, shape (n, min(k, n - 1)), int
    """
    x = _square(x) if metric == "precomputed" else check_rows(x, "x", 2)
    if k < 1:
        raise ShroomsError(f"k must be at least 1, got {k}")
    k = min(int(k), len(x) - 1)
    # kneighbors() without queries: each fitted row's neighbours, the row itself excluded
    return NearestNeighbors(n_neighbors=k, algorithm="brute", metric=metric).fit(x).kneighbors()[1]


def k_occurrence(x: np.ndarray, k: int = K, metric: str = METRIC) -> np.ndarray:
    """N_k: how many other rows list each row among their `k` nearest (self excluded).

    Parameters
    ----------
    x : np.ndarray, shape (n, d), or (n, n) with ``metric="precomputed"``
    k : int
        Capped at n - 1.
    metric : str
        ``"euclidean"`` or ``"precomputed"``.

    Returns
    -------
    np.ndarray, shape (n,), int
        Sums to n · min(k, n - 1); its mean is min(k, n - 1).
    """
    neighbours = k_nearest(x, k, metric)
    return np.bincount(neighbours.ravel(), minlength=len(neighbours))


def occurrence_skewness(counts: np.ndarray) -> float:
    """Skewness of k-occurrence `counts` (n,) (`scipy.stats.skew`, biased estimator); 0.0 when every row
    occurs equally often."""
    return 0.0 if np.all(counts == counts[0]) else float(skew(counts))


def top_rows(counts: np.ndarray, top: int = TOP) -> np.ndarray:
    """Indices of the `top` largest k-occurrence `counts` (n,), largest first, ties by row order."""
    return np.argsort(-counts, kind="stable")[:top]


def skewness(x: np.ndarray, k: int = K, metric: str = METRIC) -> float:
    """Skewness of the k-occurrence (`scipy.stats.skew`, biased estimator): about 0 without hubs, large
    and positive when a few rows are everyone's neighbours. 0.0 when every row occurs equally often."""
    return occurrence_skewness(k_occurrence(x, k, metric))


def hubs(x: np.ndarray, k: int = K, top: int = TOP, metric: str = METRIC) -> tuple[np.ndarray, np.ndarray]:
    """The `top` rows of largest k-occurrence: (row indices (top,), their k-occurrences (top,)), largest
    first, ties by row order."""
    counts = k_occurrence(x, k, metric)
    order = top_rows(counts, top)
    return order, counts[order]
