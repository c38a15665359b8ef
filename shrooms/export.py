"""Getting results out: one row per track (id, label, map position, cluster, top tags) as CSV, JSON or
Parquet, and M3U8 playlists of a selection of tracks."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from .analysis import checked_k, cluster_labels, preprocessed, short_tags
from .collections import Collection
from .errors import ShroomsError
from .maps import features, get_map
from .store import Store, StoredResults

FORMATS = ("csv", "json", "parquet")


def export_frame(collection: Collection, key: str, space: str = "embedding", method: str = "tsne",
                 clusters: int | None = None, seed: int = 0, top: int = 3,
                 results: StoredResults | None = None) -> pd.DataFrame:
    """One row per stored track of one tagger: id, label, path, x, y (the 2-D `method` map of `space`),
    its k-means cluster (of the preprocessed rows; k = `clusters`, default the number of labels, at least
    2) and its `top` tags, most probable first, joined by ";". The store is read once (`results`: the
    rows already read), so the map and the table hold the same tracks."""
    results = Store(collection).load(key) if results is None else results
    if len(results.tracks) < 4:
        raise ShroomsError(f"{collection.name} needs at least 4 precomputed {key} tracks: run "
                           f"`shrooms precompute --collection {collection.source} --models {key}` first")
    x = features(results, space)
    fitted = get_map(collection, key, method, 2, seed=seed, space=space, results=results)
    where = {i: n for n, i in enumerate(fitted.ids_)}
    xy = fitted.embedding_[[where[i] for i in results.tracks["id"]]]
    k = checked_k(clusters or max(2, results.tracks["label"].nunique()), len(x))
    names = short_tags(key)
    frame = results.tracks[["id", "label", "path"]].copy()
    frame["x"], frame["y"] = xy[:, 0], xy[:, 1]
    frame["cluster"] = cluster_labels(preprocessed(x), k, "kmeans", seed)
    frame["top_tags"] = [";".join(names[j] for j in row) for row in np.argsort(-results.tags, axis=1)[:, :top]]
    frame.insert(0, "model", key)
    return frame


def write_frame(frame: pd.DataFrame, fmt: str) -> bytes:
    """The frame as CSV (with header), JSON (a list of records) or Parquet bytes."""
    if fmt == "csv":
        return frame.to_csv(index=False).encode()
    if fmt == "json":
        return (frame.to_json(orient="records", indent=1) + "\n").encode()
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401 -- the engine pandas writes Parquet with
        except ImportError:
            raise ShroomsError("Parquet export needs pyarrow: pip install 'shrooms[parquet]' (or choose csv or "
                               "json)") from None
        return frame.to_parquet(index=False, engine="pyarrow")
    raise ShroomsError(f"unknown format {fmt!r}: choose {', '.join(FORMATS)}")


def json_safe(value, why: str = "not a number: undefined for these tracks"):
    """`value` (nested dicts, lists, numbers) ready for strict JSON: every NaN or infinite float becomes None
    (JSON null), and a dict holding one gets a ``notes`` entry {key: why} unless it has a note for that
    key already. What `--json` prints and JSON exports go through this (`json.dumps(..., allow_nan=False)`
    then never meets a NaN)."""
    if isinstance(value, dict):
        out, notes = {}, dict(value.get("notes") or {})
        for key, item in value.items():
            if isinstance(item, (float, np.floating)) and not math.isfinite(item):
                out[key] = None
                notes.setdefault(key, why)
            elif key != "notes":
                out[key] = json_safe(item, why)
        if notes:
            out["notes"] = notes
        return out
    if isinstance(value, (list, tuple)):
        return [None if isinstance(v, (float, np.floating)) and not math.isfinite(v) else json_safe(v, why)
                for v in value]
    return value


def m3u8(paths: list[str | Path], titles: list[str] | None = None,
         durations: list[float | None] | None = None) -> str:
    """An extended M3U playlist (UTF-8) of `paths`, in order: `#EXTM3U`, then per track an
    `#EXTINF:<whole seconds, -1 if unknown>,<title (default: the file name without extension)>` line and
    its path."""
    titles = titles or [Path(p).stem for p in paths]
    durations = durations or [None] * len(paths)
    if not len(paths) == len(titles) == len(durations):
        raise ShroomsError("a playlist needs as many titles and durations as paths")
    lines = ["#EXTM3U"]
    for path, title, seconds in zip(paths, titles, durations):
        length = -1 if seconds is None or seconds != seconds else int(round(seconds))
        lines += [f"#EXTINF:{length},{title}", str(path)]
    return "\n".join(lines) + "\n"
