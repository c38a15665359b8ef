"""2-D and 3-D maps of a collection as a tagger hears it: t-SNE (openTSNE), UMAP (umap-learn) or PCA, cached
and reusable.

Every map is drawn from the tagger's space (`shrooms.space`: the rows neighbours are measured in): t-SNE
(openTSNE, PCA initialisation, perplexity min(30, (n - 1) / 3), a fixed seed; openTSNE's "auto" gradients,
which are Barnes-Hut below 10,000 points and FFT above in 2-D, Barnes-Hut always in 3-D), UMAP (umap-learn,
`umap_model`: n_neighbors min(15, n - 1), min_dist 0.1, spectral initialisation (PCA's below dims + 2
rows), euclidean, a fixed seed, which makes it single-threaded and reproducible; umap-learn, and numba
with it, is imported only when a UMAP map is fitted) or the first 2 or 3 principal components of those
rows (instant, and linear).

New tracks are placed (`TagMap.transform`) by **locally linear placement**, LLE's out-of-sample rule
(Saul & Roweis 2003): the weights that best rebuild the new row from its PLACEMENT_NEIGHBOURS nearest
collection rows in the space (affine: they sum to 1; regularised) put it at the same weighted sum of
those tracks' map points — of those that lie together on the map and carry most of the weight, when the
map has split them (`locally_linear_point`) — plus the map's first-order response to the part of the row
those neighbours do not rebuild (`residual_offset`: a ridge regression of map points on rows over the
PLACEMENT_RESIDUAL_NEIGHBOURS nearest). So a song lands among the tracks listed as its nearest, a
collection track's own audio lands on its own point (its weight is all but 1), two different songs land
where their differences put them, and one row is placed on its own (same spot whatever it is placed
with), in microseconds. UMAP maps place new tracks the same way (README, "t-SNE, UMAP or PCA", measures
umap-learn's own learned `transform` beside it). openTSNE's `transform` (an optimisation against the fixed
map) snapped new music unlike the collection onto one existing point, away from the neighbours it listed
(README, "Where a new song lands"). `TagMap.partial_fit` adds rows to the map itself (the study's joint
map): t-SNE re-optimised from the current layout with the new rows in the affinities (t-SNE and PCA maps).

A map can be drawn from a tagger's embeddings (`space="embedding"`) or from its 50 tag probabilities
(`space="taggram"`), and `tag_axes` gives the plainest map of all: two tags' probabilities as x and y.
"""

from __future__ import annotations

import hashlib
import pickle

import numpy as np
from openTSNE import TSNE, TSNEEmbedding
from openTSNE.affinity import PerplexityBasedNN
from scipy.optimize import nnls
from sklearn.neighbors import NearestNeighbors
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .collections import Collection
from .config import cache_dir
from .errors import ShroomsError
from .space import TaggerSpace
from .store import StoredResults, Store, atomic_write
from .taggers import JAMENDO_TAGS

METHODS = ("tsne", "umap", "pca")
PROJECTION_NAMES = {"tsne": "t-SNE", "umap": "UMAP", "pca": "PCA"}
SPACES = ("embedding", "taggram")
MAP_VERSION = "5"  # bump when map fitting changes: cached maps are then refitted
MIN_ROWS = 4
# Locally linear placement (module docstring): a new row is rebuilt from its 5 nearest collection rows in the
# space, the neighbours `place` lists first. Measured on the five-style Debian collection, each style held
# out in turn and Wesnoth's orchestral music (benchmarks/placement.py, README): 3-6 neighbours and a
# regularisation of 0.001-0.1 all put the listed neighbours among the placed point's 10 nearest map points
# 0.80-0.83 of the time, 5 neighbours gave the most distinct spots (0.94). Placing among the group of listed
# neighbours that lie together on the map (within twice its local scale) and carry most of the convex
# weight took FCN from 0.75 to 0.79 (its neighbours were often split between two clusters, the point
# landing in the gap between them); convex weights within the group lost distinct spots. The regularisation pulls the
# weights towards equal ones, so 0.01 left a collection track's own audio (not bit-equal to its stored row)
# up to 1.5% of the extent from its point (CRNN, 3-D), 0.001 ten times less.
# The affine rebuild drops the part of a row off its neighbours' hull, so different songs with the same
# neighbours could land on one spot (Musicnn: 0.89 of held-out tracks on a spot of their own, one style 0.67):
# the residual is mapped by a ridge regression of the 15 nearest rows' map points on their rows (ridge 3 ×
# the mean squared row distance), which took distinct spots to 0.96/0.93/0.96 (FCN/Musicnn/CRNN) with the
# listed neighbours still 0.78/0.84/0.93 among the 10 nearest (10 rows or ridge 1 cost FCN 0.04 of them;
# ridge 10 left CRNN's Wesnoth 0.58 distinct); a collection track's own row has no residual and stays on its point.
# The offset is at most the map's local scale long: on UMAP maps, which pack a style tighter, an unbounded one
# took FCN's listed neighbours from 0.75 to 0.71 (bounded: 0.73); on t-SNE maps bounding it changed nothing
# measurable (0.78/0.84/0.93 listed, 0.96/0.93/0.96 distinct).
PLACEMENT_NEIGHBOURS = 5
PLACEMENT_REG = 1e-3
PLACEMENT_RESIDUAL_NEIGHBOURS = 15
PLACEMENT_RESIDUAL_REG = 3.0
PLACEMENT = (f"locally linear among the {PLACEMENT_NEIGHBOURS} nearest (LLE weights, regularisation {PLACEMENT_REG}; "
             "those lying together on the map with most of the weight; the residual by the local linear map "
             f"of the {PLACEMENT_RESIDUAL_NEIGHBOURS} nearest)")
# partial_fit: t-SNE gradient descent on the affinities of all rows together (the fit's perplexity), from
# the current layout with the new rows placed, the collection's points held in place after every step of
# PARTIAL_FIT_STEP iterations. Re-optimising every point moved the collection's layout (Procrustes disparity
# 0.10-0.36 on the five-style Debian collection with Wesnoth's music added: the fitted map is no minimum of the
# joint objective), and without exaggeration the new rows stayed where placement put them (own-neighbour
# fraction 0.67-0.75); exaggeration 4 on the held map gathered them (0.83-1.00). README, "Where a new song lands".
PARTIAL_FIT_ITER = 250
PARTIAL_FIT_STEP = 10
PARTIAL_FIT_EXAGGERATION = 4.0
PARTIAL_FIT_LEARNING_RATE = 50.0
UMAP_NEIGHBOURS = 15  # umap-learn's default, capped at n - 1 for small collections
UMAP_MIN_DIST = 0.1


def umap_model(n_rows: int, dims: int = 2, seed: int = 0):
    """The UMAP estimator `TagMap(method="umap")` fits (umap-learn, imported here: numba is slow to import).

    Parameters
    ----------
    n_rows : int
        Rows it will be fitted on (n_neighbors is min(UMAP_NEIGHBOURS, n_rows - 1)).
    dims : int
        Map dimensions.
    seed : int
        `random_state`: umap-learn then runs single-threaded, and same rows and seed give identical coordinates.

    Returns
    -------
    umap.UMAP
    """
    import warnings

    from umap import UMAP
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*n_jobs.*overridden.*")
        return UMAP(n_components=dims, n_neighbors=max(2, min(UMAP_NEIGHBOURS, n_rows - 1)),
                    min_dist=UMAP_MIN_DIST, metric="euclidean",
                    # spectral (umap-learn's default) needs more rows than dimensions + 1
                    init="spectral" if n_rows > dims + 1 else "pca", random_state=seed,
                    transform_seed=seed, n_jobs=1)


def fit_umap(rows: np.ndarray, dims: int, seed: int):
    """`umap_model` fitted on `rows` (its warnings about small data and seeded single-threading silenced)."""
    import warnings
    model = umap_model(len(rows), dims, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(rows)
    return model


def placement_weights(row: np.ndarray, neighbours: np.ndarray, reg: float = PLACEMENT_REG,
                      convex: bool = False) -> np.ndarray:
    """The weights that best rebuild `row` from its `neighbours` (LLE's reconstruction weights).

    Minimises ‖row − Σ_j w_j neighbours_j‖² + λ‖w‖² subject to Σ_j w_j = 1 (and, `convex`, w ≥ 0), with
    λ = `reg` × trace(G) / k (G the neighbours' local Gram matrix), as scikit-learn's
    `LocallyLinearEmbedding` regularises.

    Parameters
    ----------
    row : np.ndarray, shape (d,)
    neighbours : np.ndarray, shape (k, d)
        The row's nearest rows, nearest first.
    reg : float
        Regularisation, relative to the neighbourhood's spread.
    convex : bool
        Non-negative weights (a point inside the neighbours' hull), by non-negative least squares.

    Returns
    -------
    np.ndarray, shape (k,)
        Weights summing to 1. A neighbour equal to `row` takes all but ~`reg` of the weight; k equal
        neighbours share it equally.
    """
    d = neighbours - row
    gram = d @ d.T
    k = len(neighbours)
    trace = float(np.trace(gram))
    if trace <= 0.0:  # every neighbour is the row itself
        return np.full(k, 1.0 / k)
    lam = reg * trace / k
    if convex:
        big = 1e3 * np.sqrt(trace)  # the sum-to-one constraint as a heavily weighted equation
        a = np.vstack([d.T, np.full((1, k), big), np.sqrt(lam) * np.eye(k)])
        w = nnls(a, np.concatenate([np.zeros(d.shape[1]), [big], np.zeros(k)]))[0]
    else:
        w = np.linalg.solve(gram + lam * np.eye(k), np.ones(k))
    return w / w.sum()


def map_scale(coords: np.ndarray) -> float:
    """The map's local scale: the median distance from a point to its 5th nearest other point."""
    k = min(5, len(coords) - 1)
    gaps = np.sort(np.linalg.norm(coords[:, None] - coords[None], axis=2), axis=1)[:, k] if len(coords) <= 5000 \
        else NearestNeighbors(n_neighbors=k + 1).fit(coords).kneighbors(coords)[0][:, k]
    return float(np.median(gaps))


def residual_offset(residual: np.ndarray, rows: np.ndarray, points: np.ndarray, centre: np.ndarray,
                    at: np.ndarray, reg: float = PLACEMENT_RESIDUAL_REG) -> np.ndarray:
    """The map's first-order response to `residual`, a displacement in the space from `centre`, which lands at `at`.

    Fits the local linear map from the space to the map, through (`centre`, `at`), by ridge regression of
    the neighbours' displacements on the map (`points` − `at`) on their displacements in the space (`rows` −
    `centre`), in dual form with ridge `reg` × their mean squared length, and applies it to `residual`.

    Parameters
    ----------
    residual : np.ndarray, shape (d,)
    rows : np.ndarray, shape (k, d)
        The nearest rows in the space.
    points : np.ndarray, shape (k, dims)
        Their map points.
    centre : np.ndarray, shape (d,)
        Where the residual starts (the neighbours' affine rebuild of the row).
    at : np.ndarray, shape (dims,)
        Where `centre` lands on the map.
    reg : float

    Returns
    -------
    np.ndarray, shape (dims,)
        Zero for a zero residual.
    """
    z = rows - centre
    gram = z @ z.T
    lam = reg * max(float(np.trace(gram)) / len(rows), 1e-12)
    coef = np.linalg.solve(gram + lam * np.eye(len(rows)), points - at)
    return (z @ residual) @ coef


def locally_linear_point(row: np.ndarray, neighbours: np.ndarray, points: np.ndarray, scale: float,
                         k: int = PLACEMENT_NEIGHBOURS) -> np.ndarray:
    """Where a row lands among its nearest rows' map points (locally linear placement).

    The k nearest neighbours' map points may lie in two places when the map could not keep them together.
    The row goes to the group that carries most of its (convex) reconstruction weight — the neighbours whose
    points lie within 2 × `scale` of one of them — and lands at the affine reconstruction from that group
    alone, plus `residual_offset` of what that reconstruction misses, fitted on all the given neighbours and
    at most `scale` long (so the row stays among its neighbours).

    Parameters
    ----------
    row : np.ndarray, shape (d,)
        The row in the space.
    neighbours : np.ndarray, shape (m, d)
        Its nearest rows in the space, nearest first (m ≥ k; PLACEMENT_RESIDUAL_NEIGHBOURS of them).
    points : np.ndarray, shape (m, dims)
        Their map points.
    scale : float
        The map's local scale (`map_scale`).
    k : int
        How many of the nearest rebuild the row.

    Returns
    -------
    np.ndarray, shape (dims,)
    """
    near, at = neighbours[:k], points[:k]
    weight = placement_weights(row, near, convex=True)
    together = np.linalg.norm(at[:, None] - at[None], axis=2) <= 2 * scale
    group = together[int(np.argmax(together @ weight + 1e-12 * weight))]
    w = placement_weights(row, near[group])
    rebuilt = w @ near[group]
    landed = w @ at[group]
    offset = residual_offset(row - rebuilt, neighbours, points, rebuilt, landed)
    length = float(np.linalg.norm(offset))
    return landed + (offset if length <= scale else offset * (scale / length))


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
    """A 2-D or 3-D map of tracks (t-SNE, UMAP or PCA) that places new tracks where they belong.

    Parameters
    ----------
    method : {"tsne", "umap", "pca"}
        openTSNE t-SNE or umap-learn UMAP (non-linear), or the first principal components of the space
        (linear).
    dims : {2, 3}
        Map dimensions.
    seed : int
        Random seed: same data and seed give identical coordinates.
    perplexity : float or None
        t-SNE perplexity; None chooses min(30, (n - 1) / 3). Unused by UMAP and PCA.

    Attributes
    ----------
    embedding_ : np.ndarray, shape (n, dims)
        Map coordinates of the fitted rows (after `partial_fit`: the n old rows, then the added ones).
        Read-only.
    space_ : shrooms.space.TaggerSpace
        The tagger's space (standardisation + PCA to ≤ 50 components), fitted on the rows of `fit`;
        `partial_fit` measures added rows in it unchanged.
    rows_ : np.ndarray, shape (n, k)
        The mapped rows in the space: what new rows are placed against.
    tsne_ : openTSNE.TSNEEmbedding or None
        The fitted t-SNE embedding (None for UMAP and PCA).
    scale_ : float
        The t-SNE or UMAP map's local scale (`map_scale`), which decides which placed neighbours lie together.
    perplexity_ : float or None
        The perplexity used (None for UMAP and PCA).
    n_neighbors_ : int or None
        UMAP's n_neighbors (None for t-SNE and PCA). The fitted umap-learn model is not kept: new rows are
        placed by locally linear placement, and a cached map loads without importing umap-learn.
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
            raise ShroomsError(f"unknown map {self.method!r} in {self.dims}-D: choose tsne, umap or pca, "
                               "2 or 3 dimensions")
        x = checked_rows(X, min_rows=MIN_ROWS)
        self.n_features_in_ = x.shape[1]
        self.space_ = TaggerSpace().fit(x)
        self.rows_ = self.space_.rows_
        self.tsne_, self.perplexity_, self.n_neighbors_ = None, None, None
        if self.method == "pca":
            self._coords = pad_columns(self.rows_, self.dims)
            return self
        if self.method == "umap":
            model = fit_umap(self.rows_, self.dims, self.seed)
            self.n_neighbors_ = int(model.n_neighbors)
            self._coords = np.asarray(model.embedding_, dtype=np.float64)
            self.scale_ = map_scale(self._coords)
            return self
        self.perplexity_ = float(self.perplexity or min(30.0, (len(x) - 1) / 3.0))
        tsne = TSNE(n_components=self.dims, perplexity=self.perplexity_, initialization="pca",
                    random_state=self.seed, negative_gradient_method="bh" if self.dims == 3 else "auto",
                    n_jobs=2, verbose=False).fit(self.rows_)
        self.tsne_ = tsne
        self._coords = np.array(tsne)
        self.scale_ = map_scale(self._coords)
        return self

    @property
    def embedding_(self) -> np.ndarray:
        check_is_fitted(self, "space_")
        view = self._coords.view(np.ndarray)
        view.flags.writeable = False
        return view

    def transform(self, X) -> np.ndarray:
        """Place new rows on the fitted map, without changing it.

        Each row is placed on its own by locally linear placement (module docstring): at the weighted sum
        of its PLACEMENT_NEIGHBOURS nearest mapped rows' points, with the weights that best rebuild it from
        them in the space, plus the map's local response to what they do not rebuild. A track therefore lands at exactly the same spot whatever it is placed with, and
        a fitted row placed again lands on its own point. PCA maps: the linear projection, exactly. t-SNE
        and UMAP maps alike.

        Parameters
        ----------
        X : np.ndarray, shape (n_new, d)
            Finite rows with the fitted number of columns.

        Returns
        -------
        np.ndarray, shape (n_new, dims)
        """
        check_is_fitted(self, "space_")
        x = checked_rows(X, min_rows=0, n_features=self.n_features_in_)
        if not len(x):
            return np.zeros((0, self.dims))
        # one row at a time, also into the space: a matrix product's last bits depend on how many rows it
        # multiplies, and a track must land on the same spot whatever it is placed with
        z = np.concatenate([self.space_.transform(row[None, :]) for row in x])
        if self.method == "pca":
            return pad_columns(z, self.dims)
        return self.placed(z)

    def placed(self, z: np.ndarray) -> np.ndarray:
        """Rows already in the space (m, k) → map coordinates (m, dims) by locally linear placement, each
        row on its own: its exact nearest mapped rows (euclidean, ties to the lower index), their weights."""
        k = min(PLACEMENT_NEIGHBOURS, len(self.rows_))
        m = min(PLACEMENT_RESIDUAL_NEIGHBOURS, len(self.rows_))
        coords = np.asarray(self._coords)
        out = np.empty((len(z), coords.shape[1]))
        for i, row in enumerate(z):
            near = np.argsort(((self.rows_ - row) ** 2).sum(axis=1), kind="stable")[:m]
            out[i] = locally_linear_point(row, self.rows_[near], coords[near], self.scale_, k)
        return out

    def partial_fit(self, X, y=None) -> "TagMap":
        """Add rows to the map itself: the study's joint map, without losing the map the user knows.

        The new rows are measured in the fitted space (unchanged) and placed by `transform`; then t-SNE is
        run on the affinities of all n + m rows together (the fit's perplexity), from that layout, with the
        collection's points held where they are (module constants PARTIAL_FIT_*): the new rows feel the
        collection and each other, so a new style can gather into its own island while the map the user
        knows does not move. PCA maps: the new rows' projections are appended. Same map, rows and seed →
        identical coordinates. UMAP maps: not supported (one clear ShroomsError); place rows with `transform`.

        Parameters
        ----------
        X : np.ndarray, shape (m, d)
            Finite rows with the fitted number of columns.

        Returns
        -------
        self : TagMap
            With `embedding_` (n + m, dims): the n old rows, then the m new ones.
        """
        check_is_fitted(self, "space_")
        if self.method == "umap":
            raise ShroomsError("partial_fit (the joint map) is t-SNE's and PCA's: a UMAP map places new tracks "
                               "with transform")
        x = checked_rows(X, min_rows=0, n_features=self.n_features_in_)
        if not len(x):
            return self
        z = self.space_.transform(x)
        rows = np.concatenate([self.rows_, z])
        if self.method == "pca":
            self.rows_, self._coords = rows, np.concatenate([self._coords, pad_columns(z, self.dims)])
            return self
        old = np.asarray(self._coords)
        affinities = PerplexityBasedNN(rows, perplexity=self.perplexity_, method="exact" if len(rows) < 1000 else "auto",
                                       n_jobs=1, random_state=self.seed)
        joint = TSNEEmbedding(np.concatenate([old, self.placed(z)]), affinities, random_state=self.seed, n_jobs=1,
                              negative_gradient_method="bh" if self.dims == 3 else "auto")
        for _ in range(PARTIAL_FIT_ITER // PARTIAL_FIT_STEP):
            joint.optimize(PARTIAL_FIT_STEP, exaggeration=PARTIAL_FIT_EXAGGERATION, momentum=0.8,
                           learning_rate=PARTIAL_FIT_LEARNING_RATE, inplace=True)
            joint[: len(old)] = old  # the collection stays where the user knows it
        self.rows_, self.tsne_ = rows, joint
        self._coords = np.array(joint)
        self.scale_ = map_scale(self._coords)
        return self

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
    """Every chunk of a collection as its own point on the map (a segments view): each chunk placed by the
    map's `transform` (locally linear placement, one row at a time), so a chunk lands exactly where
    `trajectory` puts it.

    Parameters
    ----------
    tag_map : TagMap
    chunk_embeddings : np.ndarray, shape (n_chunks, d)

    Returns
    -------
    np.ndarray, shape (n_chunks, dims)
    """
    check_is_fitted(tag_map, "space_")
    x = checked_rows(chunk_embeddings, "chunk_embeddings", n_features=tag_map.n_features_in_)
    return tag_map.transform(x)


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
