"""What the app shows, assembled from the store as plain data (no Streamlit here, so it is testable
alone): map frames and colours, joint maps, trajectories and segments, the taggers' status, the score and
hubness tables, playable audio, study tables."""

from __future__ import annotations

import copy
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from ..analysis import cluster_labels, distinguishing_tags, preprocessed, short_tags, tag_profiles
from ..audio import SAMPLE_RATE, chunk_starts, decode, fs_path
from ..collections import Collection
from ..errors import ShroomsError
from ..export import m3u8
from ..maps import PROJECTION_NAMES as MAP_NAMES
from ..maps import features, get_map, segment_points, tag_axes, trajectory
from ..precompute import precompute
from ..status import BAD_WEIGHTS, NO_WEIGHTS, TaggerStatus, statuses
from ..store import Store, StoredResults
from ..study import model_study, ood_collection
from ..taggers import TAGGERS, load_tagger
from .figures import clock, short_tag

PLAYABLE = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".flac": "audio/flac"}


def tagger_status(collection: Collection, states: dict[str, TaggerStatus] | None = None) -> pd.DataFrame:
    """Per tagger (`shrooms.status`; `states`: `statuses(collection)` already computed): its state (ready,
    no weights, bad weights, not computed), whether its weights load, and how many of the collection's
    tracks have stored embeddings."""
    rows = []
    for key, state in (statuses(collection) if states is None else states).items():
        spec = TAGGERS[key]
        weights = {NO_WEIGHTS: "weights not available", BAD_WEIGHTS: "bad weights"}.get(state.state, "available")
        rows.append({"key": spec.key, "tagger": spec.name, "status": state.state, "weights": weights,
                     "embeddings": f"{state.stored} / {state.total}", "complete": state.stored == state.total,
                     "embedding": f"{spec.embedding_dim}-d, {spec.embedding_layer}", "paper": spec.paper})
    return pd.DataFrame(rows)


def waiting_files(states: dict[str, TaggerStatus], unreadable: int = 0) -> int:
    """How many of the collection's files wait for a precompute: the most tracks any tagger that has been
    computed on it (its weights load, ≥ 1 stored track) still lacks: new files, and files changed since
    (their rows no longer match), less the `unreadable` ones (known failures, never stored)."""
    lacking = [s.total - s.stored for s in states.values() if s.has_weights and s.stored > 0]
    return max(max(lacking, default=0) - unreadable, 0)
SCORE_COLUMNS = {"hungarian_kmeans": "Hungarian k-means", "hungarian_gmm": "Hungarian GMM", "nmi": "NMI",
                 "ari": "ARI", "ami": "AMI", "silhouette": "silhouette", "knn_accuracy": "kNN accuracy",
                 "probe_accuracy": "probe accuracy"}


def score_table(report: dict) -> pd.DataFrame:
    """One row per tagger; each cell `mean ± std` (or a value), the best per column (ties too) marked ★."""
    means = pd.DataFrame({TAGGERS[key].name: {col: (s[m]["mean"] if isinstance(s[m], dict) else s[m])
                                              for m, col in SCORE_COLUMNS.items()}
                          for key, s in report["models"].items()}).T
    table = means.copy().astype(object)
    for key, s in report["models"].items():
        for m, col in SCORE_COLUMNS.items():
            value = s[m]
            table.loc[TAGGERS[key].name, col] = (f"{value['mean']:.3f} ± {value['std']:.3f}" if isinstance(value, dict)
                                                 else "n/a" if value is None else f"{value:.3f}")
    if len(means) > 1:
        for col in SCORE_COLUMNS.values():
            values = means[col].astype(float)
            for best in values.index[values == values.max()]:  # every tagger tied for best
                table.loc[best, col] = f"★ {table.loc[best, col]}"
    return table


def hubness_table(summaries: dict[str, dict]) -> pd.DataFrame:
    """One row per tagger of `analysis.collection_hubness` summaries ({key: summary}): the skewness of its
    k-occurrence, plain and with each hubness-reduced neighbour list, and its top hubs as `id (N_k)`."""
    def cell(value) -> str:
        return "n/a" if value is None else f"{value:.2f}"
    rows = {}
    for key, hub in summaries.items():
        mp, csls = hub["reduced"]["mp"] or {}, hub["reduced"]["csls"] or {}
        rows[TAGGERS[key].name] = {
            f"skewness of the {hub['k']}-occurrence": cell(hub["skewness"]),
            "with mutual proximity": cell(mp.get("skewness")), "with CSLS": cell(csls.get("skewness")),
            "top hubs (times among others' nearest)": ", ".join(f"{h['id']} ({h['k_occurrence']})" for h in hub["top"])}
    return pd.DataFrame.from_dict(rows, orient="index")


def playable(path: str | Path) -> tuple[bytes, str]:
    """Bytes a browser can play and their MIME type: the file itself where browsers read its format,
    else (e.g. GTZAN's .au) decoded and re-encoded as WAV in memory. `path` may be a collection frame's
    text (`audio.text_path`: a name that is not UTF-8 written with \\xNN escapes)."""
    path = fs_path(path)
    if path.suffix.lower() in PLAYABLE:
        return path.read_bytes(), PLAYABLE[path.suffix.lower()]
    data, sr = sf.read(os.fsencode(path), dtype="int16")  # bytes: any file name
    buffer = io.BytesIO()
    sf.write(buffer, data, sr, format="WAV", subtype="PCM_16")
    return buffer.getvalue(), "audio/wav"


# t-SNE, UMAP, PCA, or two tags' probabilities as the axes (`maps.tag_axes`)
PROJECTIONS = ("tsne", "umap", "pca", "tags")
PROJECTION_NAMES = MAP_NAMES  # the learned maps (`maps.METHODS`): t-SNE, UMAP, PCA
SPACE_NAMES = {"embedding": "embedding", "taggram": "taggram (50 tag probabilities)"}


def projected(collection: Collection, key: str, rows: np.ndarray, space: str, method: str, dims: int,
              tags: tuple[str, str] | None = None, many: bool = False,
              results: StoredResults | None = None) -> np.ndarray:
    """Rows of `space` (n, D or 50) placed on a map: the fitted map's transform (`trajectory`; `many`:
    `segment_points`, all in one call), or for `method="tags"` the two tags' probabilities (rows must
    then be tag probabilities). The map is the one fitted on `results` (the stored rows the caller shows;
    read here when not given)."""
    if method == "tags":
        return tag_axes(rows, *tags, names=TAGGERS[key].tags)
    fitted = get_map(collection, key, method, dims, space=space, results=results)
    return segment_points(fitted, rows) if many else trajectory(fitted, rows)


def map_frame(collection: Collection, key: str, method: str = "tsne", dims: int = 2, space: str = "embedding",
              tags: tuple[str, str] | None = None, results: StoredResults | None = None) -> pd.DataFrame:
    """One row per stored track: id, label, path, x, y(, z), its top tag and a hover text with the top 3.
    `method` is "tsne", "umap" or "pca" (of `space`: "embedding" or "taggram"), or "tags": x = P(tags[0]),
    y = P(tags[1]) exactly (2-D only). The store is read once (not at all with `results`, the rows already
    read): the map is fitted on the very rows the frame lists."""
    results = Store(collection).load(key) if results is None else results
    if method == "tags":
        coords = tag_axes(results.tags, *tags, names=TAGGERS[key].tags)
    else:
        fitted = get_map(collection, key, method, dims, space=space, results=results)
        position = {track_id: i for i, track_id in enumerate(fitted.ids_)}
        coords = fitted.embedding_[[position[i] for i in results.tracks["id"]]]
    names = TAGGERS[key].tags
    top3 = np.argsort(-results.tags, axis=1)[:, :3]
    frame = results.tracks[["id", "label", "path"]].copy()
    frame["label"] = frame["label"].fillna("(unlabelled)")
    for axis, values in zip("xyz", coords.T):
        frame[axis] = values
    frame["top tag"] = [short_tag(names[row[0]]) for row in top3]
    frame["hover"] = [f"<b>{i}</b><br>label: {lab}<br>" + "<br>".join(
        f"{short_tag(names[j])}: {results.tags[n, j]:.2f}" for j in row)
        for n, (i, lab, row) in enumerate(zip(frame["id"], frame["label"], top3))]
    return frame


def joint_frame(collection: Collection, key: str, frame: pd.DataFrame, embeddings: np.ndarray,
                results: StoredResults | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """The 2-D t-SNE map with new tracks added to it (`TagMap.partial_fit`, the study's joint map): `frame`
    (from `map_frame`, same rows) with the collection's joint coordinates, and the new tracks' (m, 2)."""
    results = Store(collection).load(key) if results is None else results
    fitted = get_map(collection, key, "tsne", 2, results=results)
    joint = copy.deepcopy(fitted).partial_fit(embeddings)
    position = {track_id: i for i, track_id in enumerate(fitted.ids_)}
    coords = joint.embedding_[[position[i] for i in frame["id"]]]
    out = frame.copy()
    out["x"], out["y"] = coords[:, 0], coords[:, 1]
    return out, np.array(joint.embedding_[len(fitted.ids_):])


def cluster_captions(tags: np.ndarray, clusters: np.ndarray, key: str, n: int = 3) -> dict:
    """{cluster id: "cluster 3: metal, electricguitar, energetic"}: each k-means cluster named by the `n`
    tags most raised in it above the collection mean (`analysis.tag_profiles`)."""
    profile = tag_profiles(tags, clusters)
    names = short_tags(key)
    return {c: f"cluster {c}: " + (", ".join(distinguishing_tags(profile, i, names, n)) or "(no raised tag)")
            for i, c in enumerate(profile.groups)}


def colour_values(collection: Collection, key: str, frame: pd.DataFrame, by: str, tag: str | None = None,
                  k: int | None = None, space: str = "embedding", results: StoredResults | None = None) -> pd.Series:
    """The value each point is coloured by: its label, k-means cluster (of `space`, named by its
    distinguishing tags: the legend then reads "cluster 3: metal, electricguitar, energetic"), top tag, or
    one tag's probability. `results`: the rows `frame` was made of (`map_frame(results=…)`); read here
    when not given, and refused when they are not the frame's tracks."""
    if by == "label":
        return frame["label"]
    if by == "top tag":
        return frame["top tag"]
    results = Store(collection).load(key) if results is None else results
    if list(results.tracks["id"]) != list(frame["id"]):
        raise ShroomsError(f"{collection.name}: the stored {key} rows changed while the map was drawn: reload")
    if by == "tag probability":
        return pd.Series(results.tags[:, TAGGERS[key].tags.index(tag)], index=frame.index)
    k = min(k or max(2, len(collection.labels) or 8), len(frame))  # never more clusters than stored tracks
    clusters = cluster_labels(preprocessed(features(results, space)), k, "kmeans")
    captions = cluster_captions(results.tags, clusters, key)
    return pd.Series([captions[c] for c in clusters], index=frame.index)


def track_trajectory(collection: Collection, key: str, track_id: str, method: str = "tsne", dims: int = 2,
                     space: str = "embedding", tags: tuple[str, str] | None = None,
                     results: StoredResults | None = None) -> pd.DataFrame:
    """A stored track's path over the map: one row per chunk in time order (chunk, start in s, x, y(, z)),
    each chunk placed with the map's own transform (`maps.trajectory`; the map of `results`, the rows
    shown, when given)."""
    out = Store(collection).read(key, track_id)
    if out is None:
        raise ShroomsError(f"{track_id} has no stored {key} chunks")
    row = next(t for t in collection.tracks if t.id == track_id)
    n_samples = round((row.duration or 0) * SAMPLE_RATE)
    starts = np.array(chunk_starts(n_samples, TAGGERS[key].input_length)[:len(out.chunk_tags)]) / SAMPLE_RATE
    return chunk_path(collection, key, out, starts, method, dims, space, tags, results)


def upload_trajectory(collection: Collection, key: str, data: bytes, name: str = "upload",
                      method: str = "tsne", dims: int = 2, space: str = "embedding",
                      tags: tuple[str, str] | None = None, results: StoredResults | None = None) -> pd.DataFrame:
    """A new song's path over a collection's map (`track_trajectory` for audio that is not stored): the
    song tagged chunk by chunk by `key`, each chunk placed with the map's transform (of `results`)."""
    samples = decode(data, name=name).samples
    out = load_tagger(key).tag(samples)
    starts = np.array(chunk_starts(len(samples), TAGGERS[key].input_length)[:len(out.chunk_tags)]) / SAMPLE_RATE
    return chunk_path(collection, key, out, starts, method, dims, space, tags, results)


def chunk_path(collection: Collection, key: str, out, starts: np.ndarray, method: str, dims: int, space: str,
               tags: tuple[str, str] | None, results: StoredResults | None = None) -> pd.DataFrame:
    """A TrackOutput's chunks (in `space`) placed on a map (of `results`), as a frame: chunk, start (s),
    x, y(, z)."""
    rows = out.chunk_tags if (space == "taggram" or method == "tags") else out.chunk_embeddings
    coords = projected(collection, key, rows, space, method, dims, tags, results=results)
    frame = pd.DataFrame({"chunk": np.arange(len(coords)), "start": np.asarray(starts, dtype=float)})
    for axis, values in zip("xyz", np.asarray(coords).T):
        frame[axis] = values
    return frame


def segments_frame(collection: Collection, key: str, method: str = "tsne", dims: int = 2,
                   space: str = "embedding", tags: tuple[str, str] | None = None,
                   results: StoredResults | None = None) -> pd.DataFrame:
    """Every stored chunk as its own point (`maps.segment_points`): id, label, path, chunk, start (s),
    x, y(, z) and a hover text; placed on the map of `results` (the rows shown)."""
    frame, embs, chunk_tags = Store(collection).segments(key)
    rows = chunk_tags if (space == "taggram" or method == "tags") else embs
    coords = projected(collection, key, rows, space, method, dims, tags, many=True, results=results)
    frame["label"] = frame["label"].fillna("(unlabelled)")
    for axis, values in zip("xyz", coords.T):
        frame[axis] = values
    frame["hover"] = [f"<b>{i}</b><br>label: {lab}<br>chunk {c} · from {clock(s)}"
                      for i, lab, c, s in zip(frame["id"], frame["label"], frame["chunk"], frame["start"])]
    return frame


def chunks_per_track(collection: Collection, key: str) -> float:
    """The median number of stored chunks per track (1 for taggers that hear a whole clip at once)."""
    frame = Store(collection).segments(key)[0]
    return float(frame.groupby("id").size().median()) if len(frame) else 0.0


def novelty_line(novelty: float) -> str:
    """A placed song's novelty percentile (`neighbours.novelty_percentile`) as a sentence."""
    return f"further from the collection than {novelty:.0f}% of its tracks"


def mix_line(mix: dict[str, float]) -> str:
    """A neighbour label mix {label: fraction} as `60% jazz · 40% blues`."""
    return " · ".join(f"{f:.0%} {lab}" for lab, f in mix.items())


def selection_files(frame: pd.DataFrame, ids: list[str]) -> tuple[str, bytes]:
    """A selection of a map's tracks (in the order given, duplicates dropped) as an M3U8 playlist
    (`export.m3u8`) and as CSV rows of `frame` (id, label, path, x, y…)."""
    ids = list(dict.fromkeys(i for i in ids if i in set(frame["id"])))
    rows = frame.set_index("id").loc[ids].reset_index()
    columns = [c for c in ("id", "label", "path", "x", "y", "z", "top tag") if c in rows.columns]
    return m3u8(list(rows["path"]), titles=ids), rows[columns].to_csv(index=False).encode()


def study_models(collection: Collection, folder: str | Path, keys: list[str], seed: int = 0,
                 space: str = "embedding", results: dict[str, StoredResults] | None = None,
                 method: str = "tsne") -> tuple[Collection, dict]:
    """`shrooms.study` for the app: the OOD folder (sub-folders = groups) and its result, with every new
    track's place on each tagger's 2-D `method` map (and on the t-SNE joint map). `keys`: taggers ready on
    `collection` (the app's `stored_keys`); `results`: their stored rows ({key: rows}) when read already."""
    ood = ood_collection(folder)
    precompute(ood, keys, show_bar=False)
    given = results or {}
    return ood, {key: model_study(collection, ood, key, seed, space, 10, results=given.get(key), method=method)
                 for key in keys}


def study_table(models: dict) -> pd.DataFrame:
    """One row per tagger and group: tracks, median novelty, own-neighbour fraction, silhouette and the
    label mix of its nearest collection tracks."""
    rows = [{"tagger": TAGGERS[key].name, "group": group, "tracks": s["n"], "novelty (median %)": s["novelty_median"],
             "own neighbour": s["own_neighbour_fraction"],
             "own neighbour (joint map)": s.get("own_neighbour_fraction_joint"),
             "own neighbour (placed)": s.get("own_neighbour_fraction_placed"), "silhouette": s["silhouette"],
             "neighbour labels": mix_line(dict(list(s["neighbour_labels"].items())[:3]))}
            for key, m in models.items() for group, s in m["groups"].items()]
    return pd.DataFrame(rows, columns=["tagger", "group", "tracks", "novelty (median %)", "own neighbour",
                                       "own neighbour (joint map)", "own neighbour (placed)", "silhouette",
                                       "neighbour labels"])
