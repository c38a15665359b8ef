"""Do two taggers hear a collection alike? Linear CKA of their representations (Kornblith et al. 2019,
"Similarity of Neural Network Representations Revisited") and the overlap of every track's nearest
neighbours, plus the tracks on which they disagree most."""

from __future__ import annotations

from itertools import combinations

import numpy as np
from sklearn.preprocessing import StandardScaler

from .collections import Collection
from .errors import ShroomsError
from .maps import features
from .neighbours import check_rows, knn_overlap
from .space import in_space
from .store import Store


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear centred kernel alignment of two representations of the same examples.

    CKA(X, Y) = ‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F) after centring every column. 1 for representations equal up
    to an orthogonal transform and isotropic scaling (to which it is invariant), 0 for orthogonal ones;
    not invariant to arbitrary invertible linear maps (so standardising columns first changes it).

    Parameters
    ----------
    x : np.ndarray, shape (n, d1)
    y : np.ndarray, shape (n, d2)
        The same n examples in the same order.

    Returns
    -------
    float in [0, 1]
    """
    x, y = check_rows(x, "x", 2), check_rows(y, "y", 2)
    if len(x) != len(y):
        raise ShroomsError(f"CKA needs the same examples in both representations, got {len(x)} and {len(y)} rows")
    x, y = x - x.mean(axis=0), y - y.mean(axis=0)
    denominator = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    if denominator == 0:
        raise ShroomsError("CKA is undefined for a constant representation")
    return float(np.linalg.norm(y.T @ x) ** 2 / denominator)


def standardised(x: np.ndarray) -> np.ndarray:
    """Every column to zero mean and unit variance over the tracks (constant columns to zero)."""
    return StandardScaler().fit_transform(np.asarray(x, dtype=np.float64))


def model_agreement(collection: Collection, keys: list[str], space: str = "embedding", k: int = 10,
                    worst: int = 5, results: dict | None = None) -> dict:
    """Every pair of taggers on the tracks both have stored: CKA of the standardised representations,
    mean k-NN overlap (Jaccard of each track's `k` nearest neighbours, each in its tagger's space) and the `worst` tracks
    with the lowest overlap. `results`: {key: stored rows} already read (the others are read here)."""
    given = results or {}
    loaded = {key: given[key] if key in given else Store(collection).load(key) for key in keys}
    pairs = []
    for a, b in combinations(keys, 2):
        common = set(loaded[a].tracks["id"]) & set(loaded[b].tracks["id"])
        if len(common) < 4:
            continue
        rows = {}
        for key in (a, b):
            ids = loaded[key].tracks["id"]
            rows[key] = ids.isin(common).to_numpy()
        fa, fb = features(loaded[a], space)[rows[a]], features(loaded[b], space)[rows[b]]
        tracks = loaded[a].tracks[rows[a]].reset_index(drop=True)
        overlap = knn_overlap(in_space(fa), in_space(fb), k)
        order = np.argsort(overlap, kind="stable")[:worst]
        pairs.append({"a": a, "b": b, "n_tracks": len(tracks),
                      "cka": round(linear_cka(standardised(fa), standardised(fb)), 6),
                      "knn_overlap": round(float(overlap.mean()), 6),
                      "disagree": [{"id": tracks["id"][i], "label": tracks["label"][i],
                                    "overlap": round(float(overlap[i]), 6)} for i in order]})
    return {"space": space, "k": k, "pairs": pairs}
