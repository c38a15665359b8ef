"""How well does a tagger's representation organise a labelled collection? Unsupervised clusters matched
to the labels by the Hungarian algorithm (the seed study's measure), and more: NMI, ARI, AMI, silhouette,
leave-one-out k-NN accuracy, and a cross-validated linear probe as the supervised upper reference.
Seeded measures are repeated over several seeds and reported as mean ± std."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import NamedTuple

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
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from .audio import file_state
from .store import CHUNKING_VERSION, checksum
from .collections import Collection
from .errors import ShroomsError
from .agreement import model_agreement
from .maps import SPACES, features, get_map
from .space import in_space
from .hubness import (K as HUB_K, MP_MAX_TRACKS, REDUCTION_NAMES, REDUCTIONS, TOP as HUB_TOP, checked_reduction,
                      k_nearest, k_occurrence, occurrence_skewness, reduced_distances, top_rows)
from .neighbours import check_rows, knn_sets, label_mix, neighbour_indices
from .store import Store, StoredResults
from .taggers import TAGGER_VERSION, TAGGERS, current_sha256, default_precision, get_spec

# Every score of `model_report`, with the label tables (CLI and app) show it under.
SCORE_LABELS = {"hungarian_kmeans": "Hungarian k-means", "hungarian_gmm": "Hungarian GMM", "nmi": "NMI", "ari": "ARI",
                "ami": "AMI", "silhouette": "silhouette", "knn_accuracy": "kNN accuracy",
                "probe_accuracy": "probe accuracy"}


def score_cell(value: dict | float | None) -> str:
    """A score as a table shows it: `mean ± std` for seeded scores, else the value (3 decimals); "n/a" for
    a score that could not be computed (None: the report's `notes` say why)."""
    if value is None:
        return "n/a"
    return f"{value['mean']:.3f} ± {value['std']:.3f}" if isinstance(value, dict) else f"{value:.3f}"


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


def majority_vote(neighbour_labels: np.ndarray) -> str:
    """The most common label among neighbours (nearest first); a tie goes to the nearest tied label."""
    values, counts = np.unique(neighbour_labels, return_counts=True)
    best = values[counts == counts.max()]
    return next(v for v in neighbour_labels if v in best)


def knn_accuracy(x: np.ndarray, y: np.ndarray, k: int = 5, reduction: str = "none",
                 distances: np.ndarray | None = None) -> float:
    """Leave-one-out k-NN label accuracy of rows `x` in the tagger's space (`in_space`; euclidean, majority
    vote, ties to the nearest). `reduction`: rank neighbours by a hubness-reduced distance instead
    (`shrooms.hubness`: "mp" mutual proximity, "csls"); `distances`: `reduced_distances(x, reduction)`
    (n, n), when already computed."""
    if checked_reduction(reduction) == "none":
        votes = knn_sets(x, k)
    else:
        d = reduced_distances(x, reduction) if distances is None else distances
        votes = k_nearest(d, k, metric="precomputed")
    return float(np.mean([majority_vote(y[row]) == y[i] for i, row in enumerate(votes)]))


def split_knn_accuracy(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                       k: int = 5, reduction: str = "none") -> float:
    """k-NN accuracy on a held-out test set: each test row votes among its `k` nearest training rows
    (rows in the tagger's space, euclidean, majority, ties to the nearest). With a hubness `reduction` the
    reduced distances are computed over train and test rows together (no labels involved)."""
    if checked_reduction(reduction) == "none":
        idx = neighbour_indices(x_train, x_test, k)
    else:
        d = reduced_distances(np.concatenate([check_rows(x_train, "x_train"), check_rows(x_test, "x_test")]),
                              reduction)
        n = len(x_train)
        idx = NearestNeighbors(n_neighbors=min(k, n), algorithm="brute", metric="precomputed").fit(
            d[:n, :n]).kneighbors(d[n:, :n])[1]
    return float(np.mean([majority_vote(y_train[row]) == y for row, y in zip(idx, y_test)]))


def hub_rows(counts: np.ndarray, tracks: pd.DataFrame, top: int = HUB_TOP) -> list[dict]:
    """The `top` tracks of largest k-occurrence `counts` (n,) as the report names tracks: [{id, label,
    k_occurrence}], largest first, ties in collection order."""
    return [{"id": str(tracks["id"][i]), "label": None if tracks["label"][i] != tracks["label"][i]
             else tracks["label"][i], "k_occurrence": int(counts[i])} for i in top_rows(counts, top)]


def hubness_summary(z: np.ndarray, tracks: pd.DataFrame, knn=None, k: int = HUB_K, top: int = HUB_TOP) -> dict:
    """Hubness of a tagger's space and of the two hubness-reduced neighbour lists (`shrooms.hubness`).

    Parameters
    ----------
    z : np.ndarray, shape (n, p)
        The tracks' rows in the tagger's space.
    tracks : pd.DataFrame
        Their ``id`` and ``label`` columns, in row order.
    knn : callable, optional
        (reduction, its distances (n, n) or None) → k-NN accuracy (the report's evaluation); without it
        no accuracies are reported.
    k, top : int
        The k of the k-occurrence (capped at n - 1) and how many hubs to list.

    Returns
    -------
    dict
        ``k``, ``skewness`` (of the k-occurrence, `scipy.stats.skew`), ``top`` ([{id, label,
        k_occurrence}]), ``knn_accuracy`` and ``reduced``: {"mp" | "csls": {skewness, knn_accuracy, top}}
        (``None`` for mutual proximity above `hubness.MP_MAX_TRACKS` tracks, with a ``note``).
    """
    counts = k_occurrence(z, k)
    out = {"k": int(min(k, len(z) - 1)), "skewness": round(occurrence_skewness(counts), 6),
           "top": hub_rows(counts, tracks, top),
           "knn_accuracy": None if knn is None else round(knn("none", None), 6), "reduced": {}}
    for reduction in REDUCTIONS[1:]:
        if reduction == "mp" and len(z) > MP_MAX_TRACKS:
            out["reduced"][reduction] = None
            out["note"] = (f"mutual proximity not computed: exact MP costs O(n³) and {len(z)} tracks is above "
                           f"{MP_MAX_TRACKS}")
            continue
        d = reduced_distances(z, reduction, k)
        reduced = k_occurrence(d, k, metric="precomputed")
        out["reduced"][reduction] = {"skewness": round(occurrence_skewness(reduced), 6),
                                     "knn_accuracy": None if knn is None else round(knn(reduction, d), 6),
                                     "top": hub_rows(reduced, tracks, top)}
    return out


def probe() -> Pipeline:
    """The linear probe: standardise, then multinomial logistic regression."""
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def probe_accuracy(x: np.ndarray, y: np.ndarray, seed: int = 0) -> float:
    """Stratified 5-fold (fewer for tiny classes) cross-validated logistic-regression accuracy."""
    folds = int(min(5, np.unique(y, return_counts=True)[1].min()))
    if folds < 2:
        return float("nan")
    return float(cross_val_score(probe(), x, y, cv=StratifiedKFold(folds, shuffle=True, random_state=seed)).mean())


def split_probe_accuracy(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray) -> float:
    """Linear-probe accuracy trained on one set and tested on another (deterministic: no seed)."""
    return float(probe().fit(x_train, y_train).score(x_test, y_test))


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
    """The rows in the tagger's space (`shrooms.space.in_space`: standardise, PCA to ≤ 50 dims), where the
    maps, the neighbour lists and every score measure distances."""
    return in_space(embeddings)


def labelled(collection: Collection, key: str, space: str = "embedding",
             results: StoredResults | None = None) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The stored tracks that have labels: (tracks, their rows in `space` (n, D or 50), labels (n,)).
    `results`: the stored rows (`Store.load(key)`) when the caller has read them already."""
    results = Store(collection).load(key) if results is None else results
    x = features(results, space)
    mask = results.tracks["label"].notna().to_numpy()
    if mask.sum() < 4 or results.tracks["label"][mask].nunique() < 2:
        raise ShroomsError(f"{collection.name}: scores need at least 4 precomputed tracks in 2 or more labels "
                           f"(sub-folders); found {int(mask.sum())} labelled {key} tracks")
    return results.tracks[mask].reset_index(drop=True), x[mask], results.tracks["label"][mask].to_numpy(dtype=str)


def collection_hubness(collection: Collection, key: str, space: str = "embedding",
                       results: StoredResults | None = None, k: int = HUB_K, top: int = HUB_TOP) -> dict:
    """`hubness_summary` of every stored track of a tagger (labelled or not; no k-NN accuracies), in its
    space over `space` ("embedding" or "taggram"). `results`: its stored rows, when read already."""
    results = Store(collection).load(key) if results is None else results
    x = features(results, space)
    if len(x) < 3:
        raise ShroomsError(f"{collection.name}: hubness needs at least 3 precomputed {key} tracks, found {len(x)}")
    return hubness_summary(in_space(x), results.tracks.reset_index(drop=True), None, k, top)


def checked_k(k: int, n_tracks: int) -> int:
    """A cluster count that can be fitted: 2 to the number of tracks."""
    if not 2 <= k <= n_tracks:
        raise ShroomsError(f"cannot make {k} clusters of {n_tracks} tracks: choose 2 to {n_tracks}")
    return k


class TagProfile(NamedTuple):
    """Mean tag probabilities of groups of tracks against the whole collection."""

    groups: np.ndarray       # (g,) group names (labels or cluster ids), sorted
    sizes: np.ndarray        # (g,) tracks per group
    inside: np.ndarray       # (g, T) mean probability of each tag inside each group
    overall: np.ndarray      # (T,) mean probability of each tag over all tracks
    lift: np.ndarray         # (g, T) inside / overall (nan where the overall mean is 0)
    difference: np.ndarray   # (g, T) inside - overall


def tag_profiles(tags: np.ndarray, groups: np.ndarray) -> TagProfile:
    """What distinguishes each group of tracks: its mean tag probabilities against the collection's.

    Parameters
    ----------
    tags : np.ndarray, shape (n, T)
        Tag probabilities in [0, 1] (a tagger's taggram, T = 50 for the Jamendo taggers).
    groups : np.ndarray, shape (n,)
        A group per track: its label, or its cluster.

    Returns
    -------
    TagProfile
        groups (g,), sizes (g,), inside (g, T), overall (T,), lift (g, T) and difference (g, T).
    """
    tags = check_rows(tags, "tags")
    groups = np.asarray(groups)
    if groups.shape != (len(tags),) or tags.min() < 0 or tags.max() > 1:
        raise ShroomsError(f"tag profiles need probabilities in [0, 1] (n, T) and one group per track, got "
                           f"{tags.shape} tags and {groups.shape} groups")
    names, index, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    overall = tags.mean(axis=0)
    inside = np.stack([tags[index == g].mean(axis=0) for g in range(len(names))])
    lift = np.divide(inside, overall, out=np.full_like(inside, np.nan), where=overall > 0)
    return TagProfile(names, sizes, inside, overall, lift, inside - overall)


def distinguishing_tags(profile: TagProfile, group: int, names: list[str], n: int = 3) -> list[str]:
    """The `n` tags most raised in group number `group` above the collection mean (largest difference
    first; only tags that are raised at all)."""
    order = np.argsort(-profile.difference[group], kind="stable")[:n]
    return [names[j] for j in order if profile.difference[group, j] > 0]


def short_tags(key: str) -> list[str]:
    """A tagger's tag names without their category: `genre---rock` → `rock`."""
    return [t.split("---")[-1] for t in TAGGERS[key].tags]


def rounded(values: np.ndarray) -> list[float | None]:
    """JSON-ready: rounded to 4 decimals, nan as None."""
    return [None if v != v else round(float(v), 4) for v in values]


def profile_report(tracks: pd.DataFrame, tags: np.ndarray, x: np.ndarray, key: str, k: int, seed: int = 0) -> dict:
    """Tag profiles of the labels (a label × tag table of lift and difference) and of k-means clusters
    (of the preprocessed rows `x`), each cluster with a one-line caption and its label mix."""
    names = short_tags(key)
    by_label = tag_profiles(tags, tracks["label"].to_numpy(dtype=str))
    clusters = cluster_labels(preprocessed(x), k, "kmeans", seed)
    by_cluster = tag_profiles(tags, clusters)
    labels = tracks["label"].to_numpy(dtype=str)
    return {
        "tags": names, "collection_mean": rounded(by_label.overall),
        "labels": {str(g): {"n": int(by_label.sizes[i]), "top": distinguishing_tags(by_label, i, names),
                            "lift": rounded(by_label.lift[i]), "difference": rounded(by_label.difference[i])}
                   for i, g in enumerate(by_label.groups)},
        "clusters": {str(c): {"n": int(by_cluster.sizes[i]), "top": distinguishing_tags(by_cluster, i, names),
                              "caption": f"cluster {c}: " + ", ".join(distinguishing_tags(by_cluster, i, names)),
                              "labels": {lab: round(f, 4) for lab, f in label_mix(labels[clusters == c]).items()},
                              "lift": rounded(by_cluster.lift[i])}
                     for i, c in enumerate(by_cluster.groups)},
    }


def left_out(collection: Collection, key: str, scored: set[str], precision: str | None = None) -> dict:
    """What a tagger's scores leave out of `collection`, and why: its tracks not in `scored` (the ids the
    scores used) and the tracks stored for it whose files are gone.

    Reasons: ``unlabelled`` (a file directly in the folder), ``unreadable`` (its file could not be decoded),
    ``not computed``, ``computed with other weights or code``, ``changed since computed`` (the file's size
    or mtime differ from those it was computed from), ``damaged row`` (the stored arrays fail their
    checksum), ``stored after the scores were read``, ``file gone`` (a row whose file is no longer in the
    collection, e.g. a label folder removed), or why an entry named like audio is no file (a FIFO, a
    symbolic link loop, a folder named *.wav, …).

    Returns
    -------
    dict
        ``n`` (tracks left out), ``reasons`` ({reason: count}), ``tracks`` ([{id, label, reason}], in
        collection order) and ``labels`` ({label: tracks}: the labels none of whose tracks was scored).
    """
    store = Store(collection)
    precision = precision or default_precision()
    where = "collection = ? AND tagger = ? AND precision = ?"
    args = (collection.key, key, precision)
    rows = {r[0]: r[1:] for r in store.query("SELECT track, size, mtime_ns, weights_sha256, tagger_version, "
                                             f"chunking_version FROM results WHERE {where}", args)}
    current = (current_sha256(get_spec(key)), TAGGER_VERSION, CHUNKING_VERSION)
    failed = {f["id"] for f in store.failures()}
    tracks, candidates = [], []
    for t in collection.tracks:
        if t.id in scored:
            continue
        row = rows.get(t.id)
        if t.id in failed:
            why = "unreadable"
        elif row is None:
            why = "not computed"
        elif tuple(row[2:]) != current:
            why = "computed with other weights or code"
        elif tuple(row[:2]) != file_state(t.path):
            why = "changed since computed"
        else:  # a valid row: unlabelled, or stored since the scores read the store; or a damaged one
            candidates.append(t)
            continue
        tracks.append({"id": t.id, "label": t.label, "reason": why})
    if candidates:
        intact = set()
        for start in range(0, len(candidates), 500):
            ids = [t.id for t in candidates[start:start + 500]]
            intact |= {r[0] for r in store.query(
                "SELECT track, tags, embedding, chunk_tags, chunk_embeddings, checksum FROM results WHERE "
                f"{where} AND track IN ({', '.join('?' * len(ids))})", args + tuple(ids))
                if r[5] == checksum(*r[1:5])}
        tracks += [{"id": t.id, "label": t.label,
                    "reason": ("unlabelled" if t.label is None else "stored after the scores were read")
                    if t.id in intact else "damaged row"} for t in candidates]
    order = {t.id: n for n, t in enumerate(collection.tracks)}
    tracks.sort(key=lambda r: order[r["id"]])
    known = set(order)
    tracks += [{"id": s["id"], "label": s["label"], "reason": s["reason"]} for s in collection.skipped]
    known |= {s["id"] for s in collection.skipped}
    tracks += [{"id": i, "label": label_of(collection, i), "reason": "file gone"} for i in sorted(rows)
               if i not in known]
    used = {t.label for t in collection.tracks if t.id in scored}
    labels: dict[str, int] = {}
    for r in tracks:
        if r["label"] is not None and r["label"] not in used:
            labels[r["label"]] = labels.get(r["label"], 0) + 1
    reasons: dict[str, int] = {}
    for r in tracks:
        reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
    return {"n": len(tracks), "reasons": reasons, "tracks": tracks, "labels": dict(sorted(labels.items()))}


def label_of(collection: Collection, track_id: str) -> str | None:
    """The label a track id of `collection` has (for ids whose files are gone): GTZAN's genre prefix, else
    the id's first folder (None for a file directly in the folder)."""
    if collection.kind == "gtzan":
        return track_id.split(".")[0]
    return track_id.split("/")[0] if "/" in track_id else None


def left_out_lines(left: dict, most: int = 10) -> list[str]:
    """`left_out`'s answer as text: one line with the count per reason and the ids (at most `most` per
    reason), and one naming the labels none of whose tracks was scored; no lines when nothing is left out."""
    if not left["n"]:
        return []
    parts = []
    for reason, n in left["reasons"].items():
        ids = [r["id"] for r in left["tracks"] if r["reason"] == reason]
        more = f" and {len(ids) - most} more (--json lists all)" if len(ids) > most else ""
        parts.append(f"{n} {reason}: {', '.join(ids[:most])}{more}")
    lines = [f"left out: {left['n']} track{'s' if left['n'] != 1 else ''} (" + "; ".join(parts) + ")"]
    if left["labels"]:
        lines.append("labels left out entirely: " + ", ".join(f"{label} ({n} track{'s' if n != 1 else ''})"
                                                               for label, n in left["labels"].items()))
    return lines


SPLITS = ("cv", "filtered")
GTZAN_SPLIT_PARTS = ("train", "valid", "test")


def gtzan_filtered_split() -> dict[str, str]:
    """GTZAN's fault-filtered, artist-disjoint split (Kereliuk, Sturm & Larsen 2015), shipped as package
    data: {track id like `blues.00012`: "train" | "valid" | "test"}, 443 / 197 / 290 = 930 clips."""
    folder = resources.files("shrooms.data") / "gtzan_filtered"
    return {line.strip(): part for part in GTZAN_SPLIT_PARTS
            for line in (folder / f"{part}.txt").read_text().splitlines() if line.strip() and not line.startswith("#")}


def split_masks(collection: Collection, ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(train+valid mask, test mask) of the filtered split over `ids`; a one-line error off GTZAN."""
    if collection.kind != "gtzan":
        raise ShroomsError(f"--split filtered is GTZAN's artist-disjoint split; {collection.name} is not GTZAN")
    part = ids.map(gtzan_filtered_split())
    train, test = part.isin(["train", "valid"]).to_numpy(), (part == "test").to_numpy()
    if train.sum() < 2 or test.sum() < 1:
        raise ShroomsError(f"{collection.name}: the filtered split needs precomputed train and test tracks; "
                           f"found {int(train.sum())} train+valid and {int(test.sum())} test")
    return train, test


def model_report(collection: Collection, key: str, k: int | None = None, seeds=DEFAULT_SEEDS,
                 space: str = "embedding", split: str = "cv", results: StoredResults | None = None,
                 reduction: str = "none") -> dict:
    """Every measure for one tagger, on the (preprocessed) embeddings or taggrams and on the 2-D t-SNE
    map, with the tag profiles of labels and clusters and the space's hubness (`hubness_summary`).
    `split="filtered"` (GTZAN only) scores k-NN and the probe trained on the filtered train+valid and
    tested on the artist-disjoint test set. `reduction` ("none", "mp", "csls"): the neighbour list the
    k-NN score votes with (`shrooms.hubness`). The store is read once (or not at all, given `results`):
    scores, map and profiles describe the same rows."""
    checked_reduction(reduction)
    results = Store(collection).load(key) if results is None else results
    tracks, x, y = labelled(collection, key, space, results)
    k = checked_k(k or len(np.unique(y)), len(y))
    train, test = split_masks(collection, tracks["id"]) if split == "filtered" else (None, None)
    z = preprocessed(x)
    scores = cluster_scores(z, y, k, seeds)
    tsne = get_map(collection, key, "tsne", 2, space=space, results=results)
    xy = tsne.embedding_[[tsne.ids_.index(i) for i in tracks["id"]]]
    on_map = cluster_scores(xy, y, k, seeds)
    out = {name: s.as_dict() for name, s in scores.items()}
    out["silhouette"] = round(float(silhouette_score(z, y)), 6)
    if split == "filtered":  # reduced over the split's train and test rows (z also holds tracks outside it)
        def knn(r: str, d: np.ndarray | None) -> float:
            return split_knn_accuracy(z[train], y[train], z[test], y[test], reduction=r)
    else:
        def knn(r: str, d: np.ndarray | None) -> float:
            return knn_accuracy(z, y, reduction=r, distances=d)
    hub = out["hubness"] = hubness_summary(z, tracks, knn)
    out["knn_neighbours"] = REDUCTION_NAMES[reduction]
    reduced = hub["reduced"].get(reduction) if reduction != "none" else hub
    # MP above its size limit was left out of the summary: asked for, it says why in one line
    out["knn_accuracy"] = reduced["knn_accuracy"] if reduced else round(knn(reduction, None), 6)
    if split == "filtered":
        out["probe_accuracy"] = round(split_probe_accuracy(x[train], y[train], x[test], y[test]), 6)
        out["probe_accuracy_std"] = 0.0
        out["evaluation"] = f"filtered split: train+valid {int(train.sum())}, test {int(test.sum())} (artist-disjoint)"
    else:
        # the probe standardises the raw rows itself (the space before its PCA rotation): standardising the
        # PCA components again would blow up the noise components (FCN, 36 clips: 0.19 against 0.97)
        probe_runs = stat([probe_accuracy(x, y, seed) for seed in seeds])
        out["probe_accuracy"], out["probe_accuracy_std"] = round(probe_runs.mean, 6), round(probe_runs.std, 6)
        if probe_runs.mean != probe_runs.mean:  # a label with one track: no stratified fold can hold it out
            names, counts = np.unique(y, return_counts=True)
            why = (f"not computed: label {str(names[counts.argmin()])!r} has {counts.min()} track; the probe's "
                   f"stratified cross-validation needs at least 2 tracks in every label")
            out["probe_accuracy"] = out["probe_accuracy_std"] = None
            out["notes"] = {"probe_accuracy": why, "probe_accuracy_std": why}
        out["evaluation"] = "leave-one-out k-NN, stratified 5-fold probe (not artist-disjoint)"
    if reduction != "none":
        out["evaluation"] += f"; k-NN neighbours ranked by {REDUCTION_NAMES[reduction]}"
    out["map_2d"] = {name: s.as_dict() for name, s in on_map.items()}
    out["n_tracks"], out["labels"], out["k"] = len(y), len(np.unique(y)), k
    out["left_out"] = left_out(collection, key, set(tracks["id"]))
    out["tag_profiles"] = profile_report(tracks, labelled(collection, key, "taggram", results)[1], x, key, k,
                                       seeds[0])
    return out


def report(collection: Collection, keys: list[str], k: int | None = None, seeds=DEFAULT_SEEDS,
           space: str = "embedding", split: str = "cv", results: dict[str, StoredResults] | None = None,
           reduction: str = "none") -> dict:
    """The score table of `keys` (taggers with stored embeddings) on a labelled collection, in `space`
    ("embedding" or "taggram"), with tag profiles, each tagger's hubness and the agreement of every pair
    of taggers; `reduction` is the neighbour list the k-NN scores vote with ("none": euclidean). Each
    tagger's rows are read from the store once (`results`: {key: rows} already read), so every part of
    the report describes the same rows even while a precompute writes."""
    checked_reduction(reduction)
    if space not in SPACES or split not in SPLITS:
        raise ShroomsError(f"unknown space {space!r} or split {split!r}: choose {' or '.join(SPACES)}, "
                           f"{' or '.join(SPLITS)}")
    given = results or {}
    read = Store(collection).load_many([key for key in keys if key not in given])  # one snapshot
    results = {key: given[key] if key in given else read[key] for key in keys}
    models = {key: model_report(collection, key, k, seeds, space, split, results[key], reduction) for key in keys}
    # the labels of the tracks the scores used (a label whose files are all unreadable is not one of them)
    n_labels = max(m["labels"] for m in models.values()) if models else 0
    return {"collection": collection.key, "k": k or n_labels, "labels": n_labels, "chance": 1 / max(n_labels, 1),
            "seeds": list(seeds), "space": space, "split": split, "hubness_reduction": reduction, "models": models,
            "agreement": model_agreement(collection, keys, space, results=results)}


def confusion_for(collection: Collection, key: str, k: int | None = None, seed: int = 0,
                  space: str = "embedding", results: StoredResults | None = None) -> pd.DataFrame:
    """The Hungarian-matched k-means confusion matrix of one tagger, for plotting (`results`: its stored
    rows, when read already)."""
    _, x, y = labelled(collection, key, space, results)
    return matched_confusion(y, cluster_labels(preprocessed(x), checked_k(k or len(np.unique(y)), len(y)),
                                               "kmeans", seed))
