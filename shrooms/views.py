"""What the app shows, as plain data and plotly figures (no Streamlit here, so it is testable alone):
map frames, map/tag/confusion figures, the taggers' status and the score table."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import soundfile as sf
from plotly.colors import qualitative

from .analysis import cluster_labels, preprocessed
from .collections import Collection
from .maps import get_map
from .store import Store
from .taggers import TAGGERS, find_weights

COLOUR_BY = ("label", "cluster", "top tag", "tag probability")
PALETTE = qualitative.Dark24 + qualitative.Light24
PLAYABLE = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".flac": "audio/flac"}
UPLOAD_COLOUR = "#ff1493"
SVG_MAX_POINTS = 5000  # up to this many points a map is SVG: no WebGL context (browsers allow ~16 per page)


def short_tag(tag: str) -> str:
    """`genre---rock` → `rock`."""
    return tag.split("---")[-1]


def tagger_status(collection: Collection) -> pd.DataFrame:
    """Per tagger: weights available, and how many of the collection's tracks have cached embeddings."""
    store = Store(collection)
    rows = []
    for spec in TAGGERS.values():
        cached = len(store.load(spec.key).tracks)
        rows.append({"key": spec.key, "tagger": spec.name,
                     "weights": "available" if find_weights(spec) else "weights not available",
                     "embeddings": f"{cached} / {len(collection.tracks)}", "complete": cached == len(collection.tracks),
                     "embedding": f"{spec.embedding_dim}-d, {spec.embedding_layer}", "paper": spec.paper})
    return pd.DataFrame(rows)


def map_frame(collection: Collection, key: str, method: str = "tsne", dims: int = 2) -> pd.DataFrame:
    """One row per stored track: id, label, path, x, y(, z), its top tag and a hover text with the top 3."""
    results = Store(collection).load(key)
    fitted = get_map(collection, key, method, dims)
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


def colour_values(collection: Collection, key: str, frame: pd.DataFrame, by: str, tag: str | None = None,
                  k: int | None = None) -> pd.Series:
    """The value each point is coloured by: its label, k-means cluster, top tag, or one tag's probability."""
    if by == "label":
        return frame["label"]
    if by == "top tag":
        return frame["top tag"]
    results = Store(collection).load(key)
    if by == "tag probability":
        return pd.Series(results.tags[:, TAGGERS[key].tags.index(tag)], index=frame.index)
    k = min(k or max(2, len(collection.labels) or 8), len(frame))  # never more clusters than stored tracks
    clusters = cluster_labels(preprocessed(results.embeddings), k, "kmeans")
    return pd.Series([f"cluster {c}" for c in clusters], index=frame.index)


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
            table.loc[TAGGERS[key].name, col] = (f"{value['mean']:.3f} ± {value['std']:.3f}"
                                                 if isinstance(value, dict) else f"{value:.3f}")
    if len(means) > 1:
        for col in SCORE_COLUMNS.values():
            values = means[col].astype(float)
            for best in values.index[values == values.max()]:  # every tagger tied for best
                table.loc[best, col] = f"★ {table.loc[best, col]}"
    return table


def playable(path: str | Path) -> tuple[bytes, str]:
    """Bytes a browser can play and their MIME type: the file itself where browsers read its format,
    else (e.g. GTZAN's .au) decoded and re-encoded as WAV in memory."""
    path = Path(path)
    if path.suffix.lower() in PLAYABLE:
        return path.read_bytes(), PLAYABLE[path.suffix.lower()]
    data, sr = sf.read(path, dtype="int16")
    buffer = io.BytesIO()
    sf.write(buffer, data, sr, format="WAV", subtype="PCM_16")
    return buffer.getvalue(), "audio/wav"
