"""Out-of-distribution study: how do the taggers place music the collection does not contain?

A folder of new music, one sub-folder per group, is tagged like a collection of its own (cached under its
own key, never in the studied collection's rows) and placed on the collection: per tagger and group, the
label mix of the group's nearest collection tracks, its median novelty percentile (`neighbours.py`), the
fraction of its tracks whose nearest neighbour is one of its own, and its silhouette against the
collection's labels, all in the tagger's space (`shrooms.space`); plus two maps: the joint map (the
collection's t-SNE map re-optimised with the new tracks in it, `TagMap.partial_fit`: the study's method,
where a new style can show its own island) and the placed-only view (each new track placed on the
unchanged map by `TagMap.transform`: the t-SNE map, or the UMAP or PCA map with `method`; the joint map is
always t-SNE's). Same inputs and seed → identical numbers.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from scipy.spatial import procrustes
from sklearn.metrics import silhouette_samples

from .collections import Collection, folder_collection
from .errors import ShroomsError
from .maps import METHODS, PROJECTION_NAMES, features, get_map
from .space import TaggerSpace, in_space
from .neighbours import (METRIC, check_rows, label_mix, neighbour_indices, novelty_percentile,
                         own_neighbour_fraction, self_novelty)
from .precompute import precompute
from .status import status
from .store import Store, StoredResults, atomic_write
from .taggers import TAGGERS

COLLECTION_GROUP = "(collection)"


def group_scores(reference: np.ndarray, reference_labels: np.ndarray, others: np.ndarray, group: np.ndarray,
                 k: int = 10) -> dict:
    """How one group of new tracks sits against a collection.

    Parameters
    ----------
    reference : np.ndarray, shape (n, d)
        The collection's rows.
    reference_labels : np.ndarray, shape (n,)
        The collection's labels (None for unlabelled tracks).
    others : np.ndarray, shape (m, d)
        The other new groups' rows (m may be 0): they count as neighbours, not as the group's own.
    group : np.ndarray, shape (g, d), g ≥ 2
    k : int
        Nearest collection tracks per new track for the label mix.

    Returns
    -------
    dict
        n, novelty_median (0-100), novelty (g,), own_neighbour_fraction (0-1), silhouette (-1 to 1, the
        group as one more label among the collection's) and neighbour_labels {label: fraction}, all in the
        tagger's space fitted on `reference` (`shrooms.space`).
    """
    reference, group = check_rows(reference, "reference", 2), check_rows(group, "group", 2)
    space = TaggerSpace().fit(reference)
    reference, group = space.rows_, space.transform(group)
    others = space.transform(others) if len(others) else np.zeros((0, reference.shape[1]))
    novelty = novelty_percentile(reference, group)
    near = neighbour_indices(reference, group, k)
    names = np.array(["(unlabelled)" if v is None else str(v) for v in reference_labels], dtype=object)
    together = np.concatenate([reference, group])
    labels = np.concatenate([names, np.full(len(group), "(new group)", dtype=object)]).astype(str)
    silhouette = silhouette_samples(together, labels, metric=METRIC)[len(reference):].mean()
    return {"n": len(group), "novelty_median": round(float(np.median(novelty)), 4),
            "novelty": [round(float(v), 4) for v in novelty],
            "own_neighbour_fraction": round(own_neighbour_fraction(np.concatenate([reference, others]), group), 4),
            "silhouette": round(float(silhouette), 4),
            "neighbour_labels": {lab: round(f, 4) for lab, f in label_mix(names[near.ravel()]).items()}}


def ood_collection(folder: str | Path) -> Collection:
    """The OOD folder as a collection whose labels are its sub-folders (files directly inside are ignored)."""
    ood = folder_collection(folder)
    ood.tracks = [t for t in ood.tracks if t.label is not None]
    if not ood.tracks:
        raise ShroomsError(f"{folder}: --ood needs sub-folders of audio files, one per group")
    return ood


def study(collection: Collection, folder: str | Path, keys: list[str], seed: int = 0, space: str = "embedding",
          k: int = 10, out: Path | None = None, method: str = "tsne") -> dict:
    """Place the groups of `folder` on `collection` for every tagger in `keys` with stored collection
    rows; with `out`, also place every new track on the t-SNE maps and write one map per tagger
    (`map-<key>.html`, self-contained: plotly's static image export needs kaleido and a browser). `method`:
    the map the new tracks are placed on (tsne, umap or pca); the joint map is t-SNE's."""
    if method not in METHODS:
        raise ShroomsError(f"unknown map {method!r}: choose one of {', '.join(METHODS)}")
    ood = ood_collection(folder)
    rows = {key: Store(collection).load(key) for key in keys}  # read once: scores and maps share these rows
    keys = [key for key in keys if status(collection, key, results=rows[key]).ready]
    if not keys:
        raise ShroomsError(f"{collection.name} needs at least 4 precomputed tracks: run `shrooms precompute "
                           f"--collection {collection.source}` first")
    summary = precompute(ood, keys, show_bar=False)
    result = {"collection": collection.key, "ood": str(Path(folder).resolve()), "seed": seed, "space": space,
              "projection": method, "k": k, "unreadable": [f["path"] for f in summary.failed], "models": {}}
    for key in keys:
        result["models"][key] = model_study(collection, ood, key, seed, space, k, with_map=True,
                                            results=rows[key], method=method)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        result["figures"] = {}
        for key in keys:
            for view, suffix in (("joint", ""), ("placed", "-placed")):
                path = out / f"map-{key}{suffix}.html"
                atomic_write(path, study_figure(collection, ood, key, result["models"][key], seed, space, rows[key],
                                                view).to_html(include_plotlyjs=True, full_html=True).encode())
            result["figures"][key] = str(out / f"map-{key}.html")
    return result


def model_study(collection: Collection, ood: Collection, key: str, seed: int, space: str, k: int,
                with_map: bool = True, results: StoredResults | None = None, method: str = "tsne") -> dict:
    """One tagger: the collection's own novelty baseline, every group's scores and, `with_map`, the new
    tracks on the 2-D t-SNE map twice: placed one by one on the collection's map (`xy`, the map unchanged)
    and on the joint map (`xy_joint`: `TagMap.partial_fit` of the collection's map with every new track,
    the study's method), with each group's own-neighbour fraction on both maps next to the one in the space
    and the Procrustes disparity between the collection's points before and after (`joint`).
    `results`: the collection's stored rows when read already (the map is fitted on the same rows).
    `method`: the map `xy` is placed on (tsne, umap or pca; `projection` in the result); the joint map is t-SNE's."""
    base, new = Store(collection).load(key) if results is None else results, Store(ood).load(key)
    if len(new.tracks) == 0:
        raise ShroomsError(f"{ood.name}: none of the OOD files could be read")
    x, y = features(base, space), features(new, space)
    groups = new.tracks["label"].to_numpy(dtype=str)
    out = {"collection_novelty_median": round(float(np.median(self_novelty(in_space(x)))), 4), "groups": {}}
    for group in sorted(set(groups)):
        inside = groups == group
        if inside.sum() < 2:
            continue
        out["groups"][group] = group_scores(x, base.tracks["label"].to_numpy(dtype=object), y[~inside], y[inside], k)
    if with_map:
        out["projection"] = method
        tag_map = get_map(collection, key, "tsne", 2, seed=seed, space=space, results=base)
        placed_map = tag_map if method == "tsne" else get_map(collection, key, method, 2, seed=seed, space=space,
                                                               results=base)
        xy = placed_map.transform(y)
        joint = copy.deepcopy(tag_map).partial_fit(y)
        old, xy_joint = joint.embedding_[:len(x)], joint.embedding_[len(x):]
        for group, scores in out["groups"].items():
            inside = groups == group
            scores["own_neighbour_fraction_placed"] = round(
                own_neighbour_fraction(np.concatenate([placed_map.embedding_, xy[~inside]]), xy[inside]), 4)
            scores["own_neighbour_fraction_joint"] = round(
                own_neighbour_fraction(np.concatenate([old, xy_joint[~inside]]), xy_joint[inside]), 4)
        out["joint"] = {"procrustes": round(float(procrustes(tag_map.embedding_, old)[2]), 6),
                        "collection": {i: [round(float(v), 3) for v in p] for i, p in zip(tag_map.ids_, old)}}
        out["tracks"] = [{"id": i, "group": g, "xy": [round(float(v), 3) for v in p],
                          "xy_joint": [round(float(v), 3) for v in q]}
                         for i, g, p, q in zip(new.tracks["id"], groups, xy, xy_joint)]
    return out


def study_figure(collection: Collection, ood: Collection, key: str, scores: dict, seed: int = 0,
                 space: str = "embedding", results: StoredResults | None = None, view: str = "joint") -> go.Figure:
    """The collection's map, coloured by label, with the OOD tracks as stars, one colour per group.
    `view="joint"`: the t-SNE joint map (collection and new tracks re-optimised together, `TagMap.partial_fit`);
    `"placed"`: the collection's own map (of `scores["projection"]`, t-SNE by default) with every new track
    placed on it (`results`: the collection's
    stored rows when read already: the map and its points are one read)."""
    if view not in ("joint", "placed"):
        raise ShroomsError(f"unknown study view {view!r}: choose joint or placed")
    results = Store(collection).load(key) if results is None else results
    tracks = results.tracks
    method = "tsne" if view == "joint" else scores.get("projection", "tsne")
    if view == "joint":
        coords = np.array([scores["joint"]["collection"][i] for i in tracks["id"]])
    else:
        fitted = get_map(collection, key, method, 2, seed=seed, space=space, results=results)
        where = {i: n for n, i in enumerate(fitted.ids_)}
        coords = fitted.embedding_[[where[i] for i in tracks["id"]]]
    at_key = "xy_joint" if view == "joint" else "xy"
    labels = tracks["label"].fillna("(unlabelled)").to_numpy(dtype=str)
    fig = go.Figure()
    palette = qualitative.Pastel + qualitative.Set3
    for n, label in enumerate(sorted(set(labels))):
        at = labels == label
        fig.add_scatter(x=coords[at, 0], y=coords[at, 1], mode="markers", name=label, text=tracks["id"][at],
                        marker={"size": 7, "color": palette[n % len(palette)]})
    for n, group in enumerate(sorted({t["group"] for t in scores["tracks"]})):
        rows = [t for t in scores["tracks"] if t["group"] == group]
        median = scores["groups"].get(group, {}).get("novelty_median")
        fig.add_scatter(x=[t[at_key][0] for t in rows], y=[t[at_key][1] for t in rows], mode="markers",
                        name=f"new: {group}" + (f" (novelty {median:.0f})" if median is not None else ""),
                        text=[t["id"] for t in rows],
                        marker={"size": 13, "symbol": "star", "color": qualitative.Dark24[n % 24],
                                "line": {"width": 1, "color": "black"}})
    how = "mapped with" if view == "joint" else "placed on"
    fig.update_layout(title=f"{TAGGERS[key].name}: {ood.name} {how} {collection.name} ({space}, "
                            f"{PROJECTION_NAMES[method]} seed {seed})",
                      template="plotly_white", width=900, height=700)
    return fig
