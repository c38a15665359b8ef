"""What the app shows, as plain data and plotly figures (no Streamlit here, so it is testable alone):
map frames, map/tag/confusion figures, the taggers' status and the score table."""

from __future__ import annotations

import copy

import io
import os
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import soundfile as sf
from plotly.colors import qualitative

from .audio import SAMPLE_RATE, chunk_starts, decode, fs_path
from .analysis import cluster_labels, distinguishing_tags, preprocessed, short_tags, tag_profiles
from .collections import Collection
from .errors import ShroomsError
from .export import m3u8
from .maps import PROJECTION_NAMES as MAP_NAMES, features, get_map, segment_points, tag_axes, trajectory
from .precompute import precompute
from .status import BAD_WEIGHTS, NO_WEIGHTS, TaggerStatus, statuses
from .store import Store, StoredResults
from .study import model_study, ood_collection
from .taggers import TAGGERS, load_tagger

COLOUR_BY = ("label", "cluster", "top tag", "tag probability")
PALETTE = qualitative.Dark24 + qualitative.Light24
PLAYABLE = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".flac": "audio/flac"}
UPLOAD_COLOUR = "#ff1493"
SVG_MAX_POINTS = 5000  # up to this many points a map is SVG: no WebGL context (browsers allow ~16 per page)


def short_tag(tag: str) -> str:
    """`genre---rock` → `rock`."""
    return tag.split("---")[-1]


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


def map_figure(frame: pd.DataFrame, colour: pd.Series, dims: int = 2, title: str = "",
               highlight: set[str] | None = None, uploads: list[dict] | None = None,
               height: int = 600) -> go.Figure:
    """The collection as 2-D points (SVG up to `SVG_MAX_POINTS`, WebGL above) or a 3-D scatter, identified by
    `customdata` = track id. `highlight` enlarges those tracks and fades the rest; `uploads` ({name, xy|xyz})
    are drawn on top. The 2-D axes span the data (so the points fill the frame whatever its shape), the 3-D
    scene is a cube, and the legend sits right of the plot, below the modebar."""
    fig = go.Figure()
    trace = (go.Scattergl if len(frame) > SVG_MAX_POINTS else go.Scatter) if dims == 2 else go.Scatter3d
    axes = ["x", "y"] if dims == 2 else ["x", "y", "z"]
    size = 7 if dims == 2 else 3
    def marker(rows: pd.Series, **extra) -> dict:
        if highlight:
            on = frame["id"][rows].isin(highlight).to_numpy()
            return dict(size=np.where(on, size * 2, size), opacity=1.0,
                        line=dict(width=np.where(on, 1.5, 0).tolist(), color="black"), **extra)
        return dict(size=size, opacity=0.85, **extra)
    if pd.api.types.is_numeric_dtype(colour):
        rows = pd.Series(True, index=frame.index)
        fig.add_trace(trace(**{a: frame[a] for a in axes}, mode="markers", customdata=frame["id"],
                            hovertext=frame["hover"], hoverinfo="text", name="tracks", showlegend=False,
                            marker=marker(rows, color=colour, colorscale="Viridis", showscale=True,
                                          colorbar=dict(title="p"))))
    else:
        for n, value in enumerate(sorted(colour.unique(), key=str)):
            rows = colour == value
            fig.add_trace(trace(**{a: frame[a][rows] for a in axes}, mode="markers",
                                customdata=frame["id"][rows], hovertext=frame["hover"][rows], hoverinfo="text",
                                name=str(value), marker=marker(rows, color=PALETTE[n % len(PALETTE)])))
    for up in uploads or []:
        point = up["xy"] if dims == 2 else up["xyz"]
        fig.add_trace(trace(**{a: [v] for a, v in zip(axes, point)}, mode="markers+text", text=[up["name"]],
                            textposition="top center", name=f"upload: {up['name']}", customdata=[f"upload:{up['name']}"],
                            hovertext=[f"<b>{up['name']}</b> (your track)"], hoverinfo="text",
                            marker=dict(size=18 if dims == 2 else 9, color=UPLOAD_COLOUR, symbol="diamond",
                                        line=dict(width=2, color="black"))))
    fig.update_layout(title=dict(text=title, y=0.98, yanchor="top"), height=height,
                      margin=dict(l=0, r=0, t=40, b=0),  # the modebar lives in the top margin, above the legend
                      legend=dict(itemsizing="constant", y=1, yanchor="top"),
                      dragmode="pan" if dims == 2 else "orbit", uirevision=title)
    if dims == 2:
        for axis, update in (("x", fig.update_xaxes), ("y", fig.update_yaxes)):
            values = np.concatenate([frame[axis].to_numpy(float)]
                                    + [[u["xy"]["xy".index(axis)]] for u in uploads or []])
            low, high = float(values.min()), float(values.max())
            pad = 0.04 * (high - low or 1.0)
            update(showticklabels=False, title=None, range=[low - pad, high + pad], zeroline=False)
    else:
        fig.update_scenes(aspectmode="cube")
    return fig


def tags_figure(top: list[tuple[str, float]], title: str = "top tags") -> go.Figure:
    """Horizontal bars of (tag, probability), highest on top."""
    top = list(reversed(top))
    fig = go.Figure(go.Bar(x=[p for _, p in top], y=[short_tag(t) for t, _ in top], orientation="h",
                           marker_color="#6a3d9a"))
    fig.update_layout(title=title, height=40 + 26 * len(top), margin=dict(l=0, r=0, t=30, b=0),
                      xaxis=dict(range=[0, 1], title="probability"))
    return fig


def confusion_figure(confusion: pd.DataFrame, title: str) -> go.Figure:
    """Heatmap of a Hungarian-matched confusion matrix (true labels down, matched clusters across)."""
    fig = go.Figure(go.Heatmap(z=confusion.to_numpy(), x=list(confusion.columns), y=list(confusion.index),
                               colorscale="Blues", text=confusion.to_numpy(), texttemplate="%{text}",
                               showscale=False))
    fig.update_layout(title=title, height=360, margin=dict(l=0, r=0, t=40, b=0),
                      xaxis_title="matched cluster", yaxis_title="label", yaxis_autorange="reversed")
    return fig


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


# --- What the taggers learn: spaces, tag axes, trajectories, segments, profiles, agreement, export, study ---

# t-SNE, UMAP, PCA, or two tags' probabilities as the axes (`maps.tag_axes`)
PROJECTIONS = ("tsne", "umap", "pca", "tags")
PROJECTION_NAMES = MAP_NAMES  # the learned maps (`maps.METHODS`): t-SNE, UMAP, PCA
SPACE_NAMES = {"embedding": "embedding", "taggram": "taggram (50 tag probabilities)"}
TRAJECTORY = "trajectory"  # the name (prefix) of a track's trajectory trace


def clock(seconds: float) -> str:
    """Seconds as `m:ss`."""
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


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


def add_trajectory(fig: go.Figure, path: pd.DataFrame, name: str, dims: int = 2,
                   colour: str = "black") -> go.Figure:
    """Draw a trajectory (`track_trajectory`) on a map: chunks joined in time order, lines and markers,
    the first chunk larger; each point's `customdata` is `chunk:<i>` and its hover the chunk's start time."""
    trace = go.Scatter if dims == 2 else go.Scatter3d
    axes = ["x", "y"] if dims == 2 else ["x", "y", "z"]
    sizes = [14 if i == 0 else 9 for i in range(len(path))] if dims == 2 else 4
    fig.add_trace(trace(**{a: path[a] for a in axes}, mode="lines+markers", name=f"{TRAJECTORY}: {name}",
                        customdata=[f"chunk:{c}" for c in path["chunk"]],
                        hovertext=[f"<b>{name}</b><br>chunk {c} · from {clock(s)}"
                                   for c, s in zip(path["chunk"], path["start"])], hoverinfo="text",
                        line=dict(color=colour, width=2),
                        marker=dict(size=sizes, color=colour, symbol="circle-open" if dims == 2 else "circle")))
    return fig


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


def label_tag_figure(collection: Collection, key: str, measure: str = "lift",
                     results: StoredResults | None = None) -> go.Figure:
    """A labels × tags heatmap of the collection's tag profiles (`analysis.tag_profiles`): each label's mean
    tag probability as a lift over (inside / overall) or difference from (inside - overall) the collection's
    (of `results`, the stored rows, when read already)."""
    results = Store(collection).load(key) if results is None else results
    mask = results.tracks["label"].notna().to_numpy()
    if mask.sum() < 2:
        raise ShroomsError(f"{collection.name} has no labels: the label × tag profile needs sub-folders")
    profile = tag_profiles(results.tags[mask], results.tracks["label"][mask].to_numpy(dtype=str))
    z = profile.lift if measure == "lift" else profile.difference
    fig = go.Figure(go.Heatmap(z=z, x=short_tags(key), y=[str(g) for g in profile.groups],
                               colorscale="RdBu_r", zmid=1.0 if measure == "lift" else 0.0,
                               colorbar=dict(title=measure),
                               hovertemplate="%{y} · %{x}: " + measure + " %{z:.2f}<extra></extra>"))
    fig.update_layout(title=f"{TAGGERS[key].name}: what each label raises ({measure} over the collection mean)",
                      height=120 + 22 * len(profile.groups), margin=dict(l=0, r=0, t=40, b=0),
                      xaxis=dict(tickangle=-60), yaxis_autorange="reversed")
    return fig


def agreement_figure(agreement: dict, keys: list[str]) -> go.Figure:
    """Two heatmaps over every pair of `keys`: linear CKA and mean k-NN overlap (`agreement.model_agreement`),
    1 on the diagonal (a tagger agrees with itself)."""
    from plotly.subplots import make_subplots
    n = len(keys)
    cka, overlap = np.eye(n), np.eye(n)
    index = {k: i for i, k in enumerate(keys)}
    for pair in agreement["pairs"]:
        a, b = index[pair["a"]], index[pair["b"]]
        cka[a, b] = cka[b, a] = pair["cka"]
        overlap[a, b] = overlap[b, a] = pair["knn_overlap"]
    names = [TAGGERS[k].name for k in keys]
    fig = make_subplots(1, 2, subplot_titles=["linear CKA", f"mean {agreement['k']}-NN overlap (Jaccard)"],
                        horizontal_spacing=0.12)
    for col, z in ((1, cka), (2, overlap)):
        fig.add_trace(go.Heatmap(z=z, x=names, y=names, zmin=0, zmax=1, colorscale="Greens", showscale=col == 2,
                                 text=np.round(z, 2), texttemplate="%{text}", name="cka" if col == 1 else "knn"),
                      1, col)
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=160 + 40 * n, margin=dict(l=0, r=0, t=40, b=0),
                      title=f"Do the taggers hear the collection alike? ({agreement['space']})")
    return fig


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
