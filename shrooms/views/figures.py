"""The app's plotly figures: maps (2-D and 3-D, SVG or WebGL by size), top tags, confusion and
agreement heatmaps, the label × tag profile, trajectories. Plain data in, figures out; no Streamlit."""

from __future__ import annotations

import numpy as np
import pandas as pd
from plotly.colors import qualitative
import plotly.graph_objects as go

from ..analysis import short_tags, tag_profiles
from ..errors import ShroomsError
from ..store import StoredResults
from ..taggers import TAGGERS

COLOUR_BY = ("label", "cluster", "top tag", "tag probability")
PALETTE = qualitative.Dark24 + qualitative.Light24
UPLOAD_COLOUR = "#ff1493"
SVG_MAX_POINTS = 5000  # up to this many points a map is SVG: no WebGL context (browsers allow ~16 per page)


def short_tag(tag: str) -> str:
    """`genre---rock` → `rock`."""
    return tag.split("---")[-1]


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
TRAJECTORY = "trajectory"  # the name (prefix) of a track's trajectory trace


def clock(seconds: float) -> str:
    """Seconds as `m:ss`."""
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


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


def label_tag_figure(results: StoredResults, key: str, measure: str = "lift", name: str = "the collection") -> go.Figure:
    """A labels × tags heatmap of a collection's tag profiles (`analysis.tag_profiles`) from its stored rows
    `results` of tagger `key`: each label's mean tag probability as a lift over (inside / overall) or
    difference from (inside - overall) the collection's. `name` names the collection in the error raised
    when it has no labels."""
    mask = results.tracks["label"].notna().to_numpy()
    if mask.sum() < 2:
        raise ShroomsError(f"{name} has no labels: the label × tag profile needs sub-folders")
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
