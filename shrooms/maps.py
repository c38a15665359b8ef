"""2-D and 3-D maps of a collection as a tagger hears it: t-SNE (openTSNE) or PCA, cached and reusable.

Preprocessing, the same for every map: standardise each embedding dimension (zero mean, unit variance
over the collection), then PCA to min(50, dims, n - 1) components. t-SNE: openTSNE with PCA
initialisation, perplexity min(30, (n - 1) / 3), a fixed seed, Barnes-Hut gradients in 3-D (openTSNE's FFT
method is 2-D only). The fitted embedding is kept, so new tracks are placed with `TSNEEmbedding.transform`
without refitting. PCA maps are the first 2 or 3 components: instant, and linear.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass

import numpy as np
from openTSNE import TSNE, TSNEEmbedding
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from .collections import Collection
from .config import cache_dir
from .errors import ShroomsError
from .store import StoredResults, Store, atomic_write

METHODS = ("tsne", "pca")
MAP_VERSION = "1"  # bump when map fitting changes: cached maps are then refitted


def fit_projector(x: np.ndarray) -> Pipeline:
    """Standardise, then PCA to at most 50 components (see the module docstring)."""
    n_components = max(1, min(50, x.shape[1], x.shape[0] - 1))
    return make_pipeline(StandardScaler(), PCA(n_components=n_components, random_state=0)).fit(x)


@dataclass
class Map:
    """Coordinates of a collection's tracks, and what it takes to put new tracks on the same map."""

    method: str
    dims: int
    seed: int
    ids: list[str]
    coords: np.ndarray        # (n, dims)
    projector: Pipeline
    tsne: TSNEEmbedding | None

    def transform(self, embeddings: np.ndarray) -> np.ndarray:
        """Map coordinates of new embeddings (n_new, D) → (n_new, dims), without refitting. Each row is
        placed on its own, so a song lands at exactly the same spot whatever it is placed with."""
        rows = np.atleast_2d(embeddings).astype(np.float64)
        return np.concatenate([self.place_one(row[None, :]) for row in rows]) if len(rows) else \
            np.zeros((0, self.dims))

    def place_one(self, row: np.ndarray) -> np.ndarray:
        z = self.projector.transform(row)
        if self.tsne is None:
            return pad_columns(z, self.dims)
        # openTSNE's default placement perplexity, 5, capped as for the fit on collections under 16 tracks
        return np.asarray(self.tsne.transform(z, perplexity=min(5.0, (len(self.ids) - 1) / 3.0)))


def pad_columns(z: np.ndarray, dims: int) -> np.ndarray:
    """The first `dims` columns, zero-filled when PCA kept fewer (a tiny collection)."""
    out = np.zeros((len(z), dims))
    out[:, : min(dims, z.shape[1])] = z[:, :dims]
    return out


def fit_map(embeddings: np.ndarray, ids: list[str], method: str = "tsne", dims: int = 2, seed: int = 0) -> Map:
    """Fit a map of `embeddings` (n, D). Same inputs and seed → identical coordinates."""
    if method not in METHODS or dims not in (2, 3):
        raise ShroomsError(f"unknown map {method!r} in {dims}-D: choose tsne or pca, 2 or 3 dimensions")
    if len(embeddings) < 4:
        raise ShroomsError(f"a map needs at least 4 tracks, this collection has {len(embeddings)}")
    x = embeddings.astype(np.float64)
    projector = fit_projector(x)
    z = projector.transform(x)
    if method == "pca":
        return Map(method, dims, seed, list(ids), pad_columns(z, dims), projector, None)
    tsne = TSNE(n_components=dims, perplexity=min(30.0, (len(x) - 1) / 3.0), initialization="pca",
                random_state=seed, negative_gradient_method="bh" if dims == 3 else "auto", n_jobs=2,
                verbose=False).fit(z)
    return Map(method, dims, seed, list(ids), np.asarray(tsne), projector, tsne)


def results_digest(results: StoredResults) -> str:
    """Identifies the exact embeddings a map was fitted on."""
    h = hashlib.sha256(MAP_VERSION.encode())
    h.update("\n".join(results.tracks["id"]).encode())
    h.update(np.ascontiguousarray(results.embeddings).tobytes())
    return h.hexdigest()[:16]


def get_map(collection: Collection, key: str, method: str = "tsne", dims: int = 2, seed: int = 0) -> Map:
    """The map for a precomputed collection and tagger: loaded from `cache/maps/` when it was fitted on
    these exact embeddings, else fitted once and saved (atomically)."""
    results = Store(collection).load(key)
    if len(results.tracks) == 0:
        raise ShroomsError(f"{collection.name} has no {key} embeddings yet: run "
                           f"`shrooms precompute --collection {collection.source} --models {key}`")
    path = (cache_dir() / "maps" / collection.key / key /
            f"{method}-{dims}d-seed{seed}-{results_digest(results)}.pkl")
    if path.is_file():
        try:
            with open(path, "rb") as f:
                return pickle.load(f)
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            path.unlink()  # from an incompatible version: refit
    fitted = fit_map(results.embeddings, list(results.tracks["id"]), method, dims, seed)
    try:
        atomic_write(path, pickle.dumps(fitted, protocol=pickle.HIGHEST_PROTOCOL))
    except OSError:  # a read-only cache: the map lives in memory only
        pass
    return fitted
