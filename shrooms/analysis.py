"""How well does a tagger's representation organise a labelled collection? Unsupervised clusters matched
to the labels by the Hungarian algorithm (the seed study's measure), and more: NMI, ARI, AMI, silhouette,
leave-one-out k-NN accuracy, and a cross-validated linear probe as the supervised upper reference.
Seeded measures are repeated over several seeds and reported as mean ± std."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (adjusted_mutual_info_score, adjusted_rand_score, normalized_mutual_info_score,
                             silhouette_score)
from sklearn.metrics.cluster import contingency_matrix
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .collections import Collection
from .errors import ShroomsError
from .maps import fit_projector, get_map
from .store import Store

CLUSTERERS = ("kmeans", "gmm", "agglomerative")
DEFAULT_SEEDS = (0, 1, 2, 3, 4)


@dataclass
class Stat:
    mean: float
    std: float

    def as_dict(self) -> dict[str, float]:
        return {"mean": round(self.mean, 6), "std": round(self.std, 6)}


def stat(values: list[float]) -> Stat:
    return Stat(float(np.mean(values)), float(np.std(values)))


def hungarian_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Accuracy after the best one-to-one matching of clusters to labels (maximum-weight assignment
    on the contingency table)."""
    table = contingency_matrix(y_true, y_pred)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / table.sum())


def matched_confusion(y_true: np.ndarray, y_pred: np.ndarray) -> pd.DataFrame:
    """Confusion matrix with each cluster renamed to the label the Hungarian matching gives it
    (clusters left unmatched keep a `cluster N` name). Rows: true labels; columns: matched clusters."""
    labels, y = np.unique(y_true, return_inverse=True)
    clusters, c = np.unique(y_pred, return_inverse=True)
    table = contingency_matrix(y, c)
    rows, cols = linear_sum_assignment(table, maximize=True)
    names = {j: f"cluster {clusters[j]}" for j in range(len(clusters))}
    names.update({j: str(labels[i]) for i, j in zip(rows, cols)})
    order = [j for _, j in sorted(zip(rows, cols))] + [j for j in range(len(clusters)) if j not in cols]
    return pd.DataFrame(table[:, order], index=[str(v) for v in labels], columns=[names[j] for j in order])


def cluster_labels(x: np.ndarray, k: int, method: str, seed: int = 0) -> np.ndarray:
    """Unsupervised cluster ids: k-means (10 inits), a Gaussian mixture (full covariances in ≤ 10
    dimensions, diagonal above, where full ones would be underdetermined), or Ward agglomeration."""
    if method == "kmeans":
        return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(x)
    if method == "gmm":
        cov = "full" if x.shape[1] <= 10 else "diag"
        return GaussianMixture(n_components=k, covariance_type=cov, reg_covar=1e-4, n_init=2,
                               random_state=seed).fit_predict(x)
    if method == "agglomerative":
        return AgglomerativeClustering(n_clusters=k).fit_predict(x)
    raise ShroomsError(f"unknown clustering {method!r}: choose one of {', '.join(CLUSTERERS)}")


def knn_accuracy(x: np.ndarray, y: np.ndarray, k: int = 5) -> float:
    """Leave-one-out k-NN label accuracy (cosine distance, majority vote, ties to the nearest)."""
    k = min(k, len(x) - 1)
    _, idx = NearestNeighbors(n_neighbors=k + 1, metric="cosine").fit(x).kneighbors(x)
    correct = 0
    for i, row in enumerate(idx):
        votes = [j for j in row if j != i][:k]
        values, counts = np.unique(y[votes], return_counts=True)
        best = values[counts == counts.max()]
        vote = next(y[j] for j in votes if y[j] in best)
        correct += vote == y[i]
    return correct / len(x)


def probe_accuracy(x: np.ndarray, y: np.ndarray, seed: int = 0) -> float:
    """Stratified 5-fold (fewer for tiny classes) cross-validated logistic-regression accuracy."""
    folds = int(min(5, np.unique(y, return_counts=True)[1].min()))
    if folds < 2:
        return float("nan")
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return float(cross_val_score(probe, x, y, cv=StratifiedKFold(folds, shuffle=True, random_state=seed)).mean())


def cluster_scores(x: np.ndarray, y: np.ndarray, k: int, seeds=DEFAULT_SEEDS) -> dict[str, Stat]:
    """Hungarian accuracy per clusterer, and NMI/ARI/AMI of the k-means clusters, over seeds."""
    runs: dict[str, list[float]] = {name: [] for name in
                                    ("hungarian_kmeans", "hungarian_gmm", "hungarian_agglomerative", "nmi", "ari", "ami")}
    agglomerative = hungarian_accuracy(y, cluster_labels(x, k, "agglomerative"))
    for seed in seeds:
        km = cluster_labels(x, k, "kmeans", seed)
        runs["hungarian_kmeans"].append(hungarian_accuracy(y, km))
        runs["hungarian_gmm"].append(hungarian_accuracy(y, cluster_labels(x, k, "gmm", seed)))
        runs["hungarian_agglomerative"].append(agglomerative)
        runs["nmi"].append(normalized_mutual_info_score(y, km))
        runs["ari"].append(adjusted_rand_score(y, km))
        runs["ami"].append(adjusted_mutual_info_score(y, km))
    return {name: stat(values) for name, values in runs.items()}


def preprocessed(embeddings: np.ndarray) -> np.ndarray:
    """The embeddings as the maps see them too (`maps.fit_projector`: standardise, PCA to ≤ 50 dims)."""
    x = embeddings.astype(np.float64)
    return fit_projector(x).transform(x)


def labelled(collection: Collection, key: str) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The stored tracks that have labels: (tracks, embeddings, labels)."""
    results = Store(collection).load(key)
    mask = results.tracks["label"].notna().to_numpy()
    if mask.sum() < 4 or results.tracks["label"][mask].nunique() < 2:
        raise ShroomsError(f"{collection.name}: scores need at least 4 precomputed tracks in 2 or more labels "
                           f"(sub-folders); found {int(mask.sum())} labelled {key} tracks")
    return results.tracks[mask].reset_index(drop=True), results.embeddings[mask], \
        results.tracks["label"][mask].to_numpy(dtype=str)


def checked_k(k: int, n_tracks: int) -> int:
    """A cluster count that can be fitted: 2 to the number of tracks."""
    if not 2 <= k <= n_tracks:
        raise ShroomsError(f"cannot make {k} clusters of {n_tracks} tracks: choose 2 to {n_tracks}")
    return k


def model_report(collection: Collection, key: str, k: int | None = None, seeds=DEFAULT_SEEDS) -> dict:
    """Every measure for one tagger, on the (preprocessed) embeddings and on the 2-D t-SNE map."""
    tracks, emb, y = labelled(collection, key)
    k = checked_k(k or len(np.unique(y)), len(y))
    z = preprocessed(emb)
    scores = cluster_scores(z, y, k, seeds)
    tsne = get_map(collection, key, "tsne", 2)
    xy = tsne.embedding_[[tsne.ids_.index(i) for i in tracks["id"]]]
    on_map = cluster_scores(xy, y, k, seeds)
    out = {name: s.as_dict() for name, s in scores.items()}
    out["silhouette"] = round(float(silhouette_score(z, y)), 6)
    out["knn_accuracy"] = round(knn_accuracy(emb, y), 6)
    probe = stat([probe_accuracy(emb, y, seed) for seed in seeds])
    out["probe_accuracy"], out["probe_accuracy_std"] = round(probe.mean, 6), round(probe.std, 6)
    out["map_2d"] = {name: s.as_dict() for name, s in on_map.items()}
    out["n_tracks"] = len(y)
    return out


def report(collection: Collection, keys: list[str], k: int | None = None, seeds=DEFAULT_SEEDS) -> dict:
    """The score table of `keys` (taggers with stored embeddings) on a labelled collection."""
    models = {key: model_report(collection, key, k, seeds) for key in keys}
    n_labels = len(collection.labels)
    return {"collection": collection.key, "k": k or n_labels, "labels": n_labels, "chance": 1 / max(n_labels, 1),
            "seeds": list(seeds), "models": models}


def confusion_for(collection: Collection, key: str, k: int | None = None, seed: int = 0) -> pd.DataFrame:
    """The Hungarian-matched k-means confusion matrix of one tagger, for plotting."""
    _, emb, y = labelled(collection, key)
    return matched_confusion(y, cluster_labels(preprocessed(emb), checked_k(k or len(np.unique(y)), len(y)),
                                               "kmeans", seed))
