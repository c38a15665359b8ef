"""The one space per tagger and collection in which shrooms measures who sounds like whom.

A tagger's embeddings (or tag probabilities) are standardised over the collection (zero mean, unit
variance per dimension) and projected on their first min(50, dims, n - 1) principal components; distances
are **euclidean** in that space. Everything that talks about "near" uses it: the t-SNE and PCA maps are
fitted on exactly these rows, the neighbour lists of `place` and the app are the exact nearest rows in it,
and so are novelty, the k-NN and cluster scores, the study's own-neighbour fraction and the k-NN overlap of
two taggers. The map is then a picture of the very space the neighbour lists come from, and a placed song's
listed neighbours are the rows its position on the map is computed from.

Why this space (measured on real music, `benchmarks/placement.py`, README "Where a new song lands"): the
map is fitted on exactly these rows, so the neighbour lists and the picture cannot disagree about the
space; against cosine distance on the raw embeddings (the lists' metric before) it put the listed
neighbours of held-out music among the placed point's nearest map points more often (0.82 against 0.79,
five-style Debian collection, every style held out in turn), while its 5-NN label accuracy was within two
tracks of cosine's (FCN 0.633 against 0.667, Musicnn 0.683 against 0.717, 60 tracks).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

SPACE = "standardised, PCA to at most 50 components"
METRIC = "euclidean"
MAX_COMPONENTS = 50


def in_space(x: np.ndarray) -> np.ndarray:
    """A collection's rows (n, d) in its own space, shape (n, min(50, d, n - 1))."""
    return TaggerSpace().fit(x).rows_


def describe() -> dict[str, str]:
    """The documented space and metric, as `place --json` and the app print them."""
    return {"space": SPACE, "metric": METRIC}


class TaggerSpace(TransformerMixin, BaseEstimator):
    """Standardise, then PCA to at most 50 components: the space shrooms measures neighbours in.

    Attributes
    ----------
    pipeline_ : sklearn.pipeline.Pipeline
        StandardScaler + PCA, fitted on the collection's rows.
    rows_ : np.ndarray, shape (n, k)
        The fitted rows in the space (k ≤ 50).
    n_features_in_ : int
    """

    def fit(self, X, y=None) -> "TaggerSpace":
        """Fit on the collection's rows X, shape (n, d), n ≥ 2."""
        x = np.asarray(X, dtype=np.float64)
        n_components = max(1, min(MAX_COMPONENTS, x.shape[1], x.shape[0] - 1))
        self.pipeline_ = make_pipeline(StandardScaler(), PCA(n_components=n_components, svd_solver="full")).fit(x)
        self.rows_ = self.pipeline_.transform(x)
        self.n_features_in_ = x.shape[1]
        return self

    def transform(self, X) -> np.ndarray:
        """Rows (m, d) → (m, k) in the space."""
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.transform(np.asarray(X, dtype=np.float64))

    def kneighbors(self, X, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The exact `k` nearest fitted rows of each row of X (m, d): (distances (m, k'), indices (m, k')),
        nearest first, k' = min(k, n); ties broken by row order."""
        check_is_fitted(self, "pipeline_")
        k = min(k, len(self.rows_))
        index = NearestNeighbors(n_neighbors=k, algorithm="brute", metric=METRIC).fit(self.rows_)
        return index.kneighbors(self.transform(X))
