"""2-D and 3-D maps of a collection as a tagger hears it: t-SNE (openTSNE) or PCA, cached and reusable.

Preprocessing, the same for every map: standardise each input dimension (zero mean, unit variance over
the collection), then PCA to min(50, dims, n - 1) components. t-SNE: openTSNE with PCA initialisation,
perplexity min(30, (n - 1) / 3), a fixed seed, Barnes-Hut gradients in 3-D (openTSNE's FFT method is 2-D
only). The fitted openTSNE embedding is kept, so new tracks are placed with `TSNEEmbedding.transform`
without refitting (settings: PLACEMENT_PERPLEXITY, PLACEMENT_EXAGGERATION). PCA maps are the first 2 or
3 components: instant, and linear.

A map can be drawn from a tagger's embeddings (`space="embedding"`) or from its 50 tag probabilities
(`space="taggram"`), and `tag_axes` gives the plainest map of all: two tags' probabilities as x and y.
"""

from __future__ import annotations

import hashlib
import pickle

import numpy as np
from openTSNE import TSNE
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from .collections import Collection
from .config import cache_dir
from .errors import ShroomsError
from .store import StoredResults, Store, atomic_write
from .taggers import JAMENDO_TAGS

METHODS = ("tsne", "pca")
SPACES = ("embedding", "taggram")
MAP_VERSION = "2"  # bump when map fitting changes: cached maps are then refitted
MIN_ROWS = 4
# How openTSNE places a new row (`TSNEEmbedding.transform`). Its defaults (perplexity 5, exaggeration 1.5)
# put a collection track's own audio up to 3-4% of the map's extent away from its own point (36 real clips;
# fcn, musicnn, crnn; 2-D and 3-D): that is where the placement objective's optimum lies, not a convergence
# problem (starting from the nearest track, or twice the iterations, land on the same spots). Affinities
# concentrated on the nearest tracks and a stronger pull towards them put it within 0.5% of its point
# (tests/test_maps.py asserts 1%), and a new song next to the tracks it sounds most like, as the neighbour
# list says. Perplexity 2 was not enough in 3-D (crnn 2.2%).
PLACEMENT_PERPLEXITY = 1.5
PLACEMENT_EXAGGERATION = 4.0


def fit_projector(x: np.ndarray) -> Pipeline:
    """Standardise, then PCA to at most 50 components (see the module docstring)."""
    n_components = max(1, min(50, x.shape[1], x.shape[0] - 1))
    return make_pipeline(StandardScaler(), PCA(n_components=n_components, random_state=0)).fit(x)


def pad_columns(z: np.ndarray, dims: int) -> np.ndarray:
    """The first `dims` columns, zero-filled when PCA kept fewer (a tiny collection)."""
    out = np.zeros((len(z), dims))
    out[:, : min(dims, z.shape[1])] = z[:, :dims]
    return out


def checked_rows(x, what: str = "X", min_rows: int = 1, n_features: int | None = None) -> np.ndarray:
    """`x` as a float64 (n, d) array, or one clear ShroomsError: not 2-D, not finite, too few rows, or
    not the `n_features` columns the map was fitted on."""
    try:
        x = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ShroomsError(f"{what} must be a numeric array of shape (n, features)") from None
    if x.ndim != 2:
        raise ShroomsError(f"{what} must be a 2-D array (n, features), got shape {x.shape}")
    if len(x) < min_rows:
        raise ShroomsError(f"a map needs at least {min_rows} tracks, got {len(x)}")
    if n_features is not None and x.shape[1] != n_features:
        raise ShroomsError(f"{what} has {x.shape[1]} features but the map was fitted on {n_features}")
    if not np.isfinite(x).all():
        raise ShroomsError(f"{what} contains NaN or infinite values")
    return x


class TagMap(TransformerMixin, BaseEstimator):
    """A 2-D or 3-D map of tracks (t-SNE or PCA) that places new tracks where they belong.

    Parameters
    ----------
    method : {"tsne", "pca"}
        openTSNE t-SNE (non-linear; new rows placed by optimisation) or the first PCA components (linear).
    dims : {2, 3}
        Map dimensions.
    seed : int
        Random seed: same data and seed give identical coordinates.
    perplexity : float or None
        t-SNE perplexity; None chooses min(30, (n - 1) / 3).

    Attributes
    ----------
    embedding_ : np.ndarray, shape (n, dims)
        Map coordinates of the fitted rows. Read-only; for t-SNE a view of `tsne_` itself, so it is always
        the map that `transform` places new rows on (also after unpickling).
    projector_ : sklearn.pipeline.Pipeline
        Standardisation + PCA to ≤ 50 components, fitted on X.
    tsne_ : openTSNE.TSNEEmbedding or None
        The fitted t-SNE embedding (None for PCA), centred on its midrange as `transform` expects.
    perplexity_ : float or None
        The perplexity used (None for PCA).
    n_features_in_ : int
        Columns of X.
    """

    def __init__(self, method: str = "tsne", dims: int = 2, seed: int = 0, perplexity: float | None = None):
        self.method = method
        self.dims = dims
        self.seed = seed
        self.perplexity = perplexity

    def fit(self, X, y=None) -> "TagMap":
        """Fit the map.

        Parameters
        ----------
        X : np.ndarray, shape (n, d)
            One row per track (n ≥ 4), finite.
        y : ignored

        Returns
        -------
        self : TagMap
        """
        if self.method not in METHODS or self.dims not in (2, 3):
            raise ShroomsError(f"unknown map {self.method!r} in {self.dims}-D: choose tsne or pca, 2 or 3 dimensions")
        x = checked_rows(X, min_rows=MIN_ROWS)
        self.n_features_in_ = x.shape[1]
        self.projector_ = fit_projector(x)
        z = self.projector_.transform(x)
        if self.method == "pca":
            self.tsne_, self.perplexity_ = None, None
            self._coords = pad_columns(z, self.dims)
            return self
        self.perplexity_ = float(self.perplexity or min(30.0, (len(x) - 1) / 3.0))
        tsne = TSNE(n_components=self.dims, perplexity=self.perplexity_, initialization="pca",
                    random_state=self.seed, negative_gradient_method="bh" if self.dims == 3 else "auto",
                    n_jobs=2, verbose=False).fit(z)
        # openTSNE's transform re-centres the embedding on its midrange, in place: do it once now, so the
        # coordinates never move afterwards (fit leaves them mean-centred)
        tsne -= (tsne.max(axis=0) + tsne.min(axis=0)) / 2
        # placing one row is serial work: openTSNE's worker threads only wait on each other (one row took
        # 1.2 s with 1 thread, 38 s with 2, identical results, on the shared 2-core machine)
        tsne.gradient_descent_params["n_jobs"] = 1
        self.tsne_ = tsne
        self._coords = tsne  # the same object: pickling keeps one copy
        return self

    @property
    def embedding_(self) -> np.ndarray:
        check_is_fitted(self, "projector_")
        view = self._coords.view(np.ndarray)
        view.flags.writeable = False
        return view

    def transform(self, X) -> np.ndarray:
        """Place new rows on the fitted map, without refitting.

        Each row is placed on its own (t-SNE: openTSNE's `transform` against the fitted points only), so a
        track lands at exactly the same spot whatever it is placed with, and a fitted row placed again lands
        on (t-SNE: next to) its own point.

        Parameters
        ----------
        X : np.ndarray, shape (n_new, d)
            Finite rows with the fitted number of columns.

        Returns
        -------
        np.ndarray, shape (n_new, dims)
        """
        check_is_fitted(self, "projector_")
        x = checked_rows(X, min_rows=0, n_features=self.n_features_in_)
        if not len(x):
            return np.zeros((0, self.dims))
        return np.concatenate([self.place_one(row[None, :]) for row in x])

    def place_one(self, row: np.ndarray) -> np.ndarray:
        """One validated row (1, d) → (1, dims)."""
        z = self.projector_.transform(row)
        if self.tsne_ is None:
            return pad_columns(z, self.dims)
        return self.placed(z)

    def placed(self, z: np.ndarray) -> np.ndarray:
        """Projected rows (n_new, k) → t-SNE coordinates (n_new, dims), all in one openTSNE `transform`
        call (each row placed against the fitted points only; bit-exact only one row at a time)."""
        perplexity = min(PLACEMENT_PERPLEXITY, (len(self._coords) - 1) / 3.0)  # capped as for the fit
        before = np.array(self._coords)
        try:
            return np.array(self.tsne_.transform(z, perplexity=perplexity, exaggeration=PLACEMENT_EXAGGERATION))
        finally:
            self.tsne_[:] = before  # undo transform's in-place re-centring (rounding only, as fit centred it)

    def fit_transform(self, X, y=None) -> np.ndarray:
        """Fit, then return `embedding_` (n, dims) as a writable copy."""
        return np.array(self.fit(X).embedding_)


def tag_axes(tags: np.ndarray, tag_a: str, tag_b: str, names=JAMENDO_TAGS) -> np.ndarray:
    """Two tags' probabilities as map coordinates.

    Not a learned map but a projection onto two readable axes: a track's position reads "how `tag_a`
    × how `tag_b`" (e.g. how rock × how electronic), so the corners mean something and new tracks need no
    placement.

    Parameters
    ----------
    tags : np.ndarray, shape (n, n_tags)
        Tag probabilities in [0, 1], columns in the order of `names`.
    tag_a, tag_b : str
        Tag names, in full (``genre---rock``) or short (``rock``) when the short name is unique.
    names : sequence of str
        Column names of `tags` (default: the MTG-Jamendo top 50).

    Returns
    -------
    np.ndarray, shape (n, 2)
        Columns (P(tag_a), P(tag_b)).
    """
    tags = np.asarray(tags)
    if tags.ndim != 2 or tags.shape[1] != len(names):
        raise ShroomsError(f"tags must be an (n, {len(names)}) array, got shape {tags.shape}")
    return np.stack([tags[:, tag_column(t, names)] for t in (tag_a, tag_b)], axis=1).astype(np.float64)


def tag_column(tag: str, names) -> int:
    """The column of `tag` (full or unique short name) in `names`, or one clear ShroomsError."""
    names = list(names)
    if tag in names:
        return names.index(tag)
    short = [i for i, name in enumerate(names) if name.split("---")[-1] == tag]
    if len(short) == 1:
        return short[0]
    raise ShroomsError(f"unknown tag {tag!r}: choose one of " + ", ".join(n.split("---")[-1] for n in names))


def trajectory(tag_map: TagMap, chunk_embeddings: np.ndarray) -> np.ndarray:
    """A track's path over the map: each chunk placed with the map's own `transform`, in time order.

    Parameters
    ----------
    tag_map : TagMap
        A fitted map (on the same space as the chunks: embeddings or tag probabilities).
    chunk_embeddings : np.ndarray, shape (n_chunks, d)
        The track's per-chunk rows in time order.

    Returns
    -------
    np.ndarray, shape (n_chunks, dims)
        Row i is where chunk i lands; a one-chunk track's trajectory is exactly its placement.
    """
    return tag_map.transform(chunk_embeddings)


def segment_points(tag_map: TagMap, chunk_embeddings: np.ndarray) -> np.ndarray:
    """Every chunk of a collection as its own point on the map (a segments view).

    t-SNE maps place all chunks in ONE openTSNE `transform` call: one at a time (as `trajectory` does)
    took ~100× longer (360 chunks: 3.9 s against 456 s; `benchmarks/segments.py`). Each chunk is still
    optimised against the fitted tracks only, so it lands where `trajectory` puts it up to floating-point
    rounding (measured: at most 5e-14 % of the map's extent), not bit for bit. PCA maps: exactly.

    Parameters
    ----------
    tag_map : TagMap
    chunk_embeddings : np.ndarray, shape (n_chunks, d)

    Returns
    -------
    np.ndarray, shape (n_chunks, dims)
    """
    check_is_fitted(tag_map, "projector_")
    x = checked_rows(chunk_embeddings, "chunk_embeddings", n_features=tag_map.n_features_in_)
    if tag_map.tsne_ is None or not len(x):
        return tag_map.transform(x)
    return tag_map.placed(tag_map.projector_.transform(x))


def results_digest(results: StoredResults, space: str) -> str:
    """Identifies the exact rows a map was fitted on."""
    h = hashlib.sha256(MAP_VERSION.encode())
    h.update("\n".join(results.tracks["id"]).encode())
    h.update(np.ascontiguousarray(features(results, space)).tobytes())
    return h.hexdigest()[:16]


def features(results: StoredResults, space: str) -> np.ndarray:
    """The rows a map of `space` is fitted on: embeddings (n, D) or tag probabilities (n, 50)."""
    if space not in SPACES:
        raise ShroomsError(f"unknown map space {space!r}: choose embedding or taggram")
    return results.embeddings if space == "embedding" else results.tags


def get_map(collection: Collection, key: str, method: str = "tsne", dims: int = 2, seed: int = 0,
            space: str = "embedding", results: StoredResults | None = None) -> TagMap:
    """The fitted map of a precomputed collection and tagger, with `.ids_` (track ids in row order).

    Loaded from `cache/maps/` when it was fitted on these exact rows and settings, else fitted once and
    saved (atomically; kept in memory only when the cache cannot be written). `results` are the stored
    rows (`Store.load(key)`) when the caller has them already.
    """
    results = Store(collection).load(key) if results is None else results
    if len(results.tracks) == 0:
        raise ShroomsError(f"{collection.name} has no {key} embeddings yet: run "
                           f"`shrooms precompute --collection {collection.source} --models {key}`")
    path = (cache_dir() / "maps" / collection.key / key /
            f"{space}-{method}-{dims}d-seed{seed}-{results_digest(results, space)}.pkl")
    if path.is_file():
        try:
            with open(path, "rb") as f:
                return pickle.load(f)
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            pass  # from an incompatible version: refit, and overwrite below
    fitted = TagMap(method, dims, seed).fit(features(results, space))
    fitted.ids_ = list(results.tracks["id"])
    try:
        atomic_write(path, pickle.dumps(fitted, protocol=pickle.HIGHEST_PROTOCOL))
    except OSError:
        pass  # a read-only cache: the map is still right, only not kept
    return fitted
