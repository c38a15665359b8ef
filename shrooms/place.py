"""Placing new songs on an existing collection's maps: for every available tagger, the song's tags,
embedding, 2-D and 3-D t-SNE coordinates (openTSNE `transform`, no refit) and its nearest collection
tracks by cosine distance, the label mix of those neighbours and the song's novelty (how far it lies from
the collection, as a percentile of the collection's own nearest-neighbour distances; `neighbours.py`).
Placing several songs at once gives the same result as one at a time."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np
from sklearn.neighbors import NearestNeighbors

from .audio import decode
from .collections import Collection
from .errors import AudioError, ShroomsError
from .config import cache_dir
from .maps import get_map, results_digest
from .neighbours import label_mix, loo_nearest_distances, novelty_percentile
from .status import status
from .store import Store, StoredResults, atomic_write
from .taggers import TAGGERS, Tagger, available_taggers, top_tags


@dataclass
class Neighbour:
    id: str
    label: str | None
    path: str
    distance: float


@dataclass
class ModelPlacement:
    key: str
    tags: np.ndarray         # (50,)
    embedding: np.ndarray    # (D,)
    xy: np.ndarray           # (2,) on the 2-D t-SNE map
    xyz: np.ndarray          # (3,) on the 3-D t-SNE map
    neighbours: list[Neighbour]
    novelty: float = float("nan")    # 0-100: further from the collection than this % of its own tracks
    neighbour_labels: dict[str, float] = field(default_factory=dict)  # label → fraction of the neighbours

    def top_tags(self, n: int = 5) -> list[tuple[str, float]]:
        return top_tags(self.tags, n, TAGGERS[self.key].tags)


@dataclass
class Placement:
    """One song: where each tagger puts it, or `error` (one line) when the song could not be decoded;
    `warnings` are lines about a song that decoded but not as its header promised (e.g. truncated)."""

    name: str
    models: dict[str, ModelPlacement] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


def nearest(results: StoredResults, embeddings: np.ndarray, k: int) -> list[list[Neighbour]]:
    """The k nearest of the stored tracks `results` to each embedding, by cosine distance."""
    index = NearestNeighbors(n_neighbors=min(k, len(results.tracks)), metric="cosine").fit(results.embeddings)
    dist, idx = index.kneighbors(embeddings)
    rows = results.tracks.to_dict("records")
    return [[Neighbour(rows[j]["id"], rows[j]["label"], rows[j]["path"], float(d)) for j, d in zip(i_row, d_row)]
            for i_row, d_row in zip(idx, dist)]


def novelty_baseline(collection: Collection, key: str, results: StoredResults) -> np.ndarray:
    """Every stored track's distance to its nearest other track (`neighbours.loo_nearest_distances`), shape
    (n,): what a placed song's novelty is ranked against. Computed once per set of stored rows and kept
    beside the maps in `cache/maps/` (at 100,000 tracks it is 100,000 neighbour queries)."""
    path = (cache_dir() / "maps" / collection.key / key /
            f"novelty-baseline-{results_digest(results, 'embedding')}.npy")
    try:
        baseline = np.load(path)
        if baseline.shape == (len(results.tracks),):
            return baseline
    except (OSError, ValueError):
        pass
    baseline = loo_nearest_distances(results.embeddings)
    buffer = io.BytesIO()
    np.save(buffer, baseline)
    try:
        atomic_write(path, buffer.getvalue())
    except OSError:
        pass  # a read-only cache: computed again next time
    return baseline


def place_on(collection: Collection, tagger: Tagger, samples: list[np.ndarray], k: int) -> list[ModelPlacement]:
    """One tagger: tag every song, then transform and search them together (each independently)."""
    key = tagger.spec.key
    outs = [tagger.tag(x) for x in samples]
    emb = np.stack([o.embedding for o in outs])
    results = Store(collection).load(key)
    xy = get_map(collection, key, "tsne", 2, results=results).transform(emb)
    xyz = get_map(collection, key, "tsne", 3, results=results).transform(emb)
    near = nearest(results, emb, k)
    novelty = novelty_percentile(results.embeddings, emb, novelty_baseline(collection, key, results))
    return [ModelPlacement(key, o.tags, o.embedding, xy[i], xyz[i], near[i], float(novelty[i]),
                           label_mix(np.array([n.label for n in near[i]], dtype=object)))
            for i, o in enumerate(outs)]


def place(sources: list[str | Path | bytes | BinaryIO], collection: Collection, keys: list[str] | None = None,
          k: int = 10, names: list[str] | None = None,
          progress: Callable[[int, int], None] | None = None) -> list[Placement]:
    """Place songs (paths, bytes or file objects) on `collection`'s maps for every tagger in `keys` that has
    weights and stored embeddings; `progress(done, total)` is called after each tagger. A song that cannot be
    decoded does not stop the others: its Placement carries the one-line `error` and no models."""
    names = names or [str(s) if isinstance(s, (str, Path)) else f"upload {i + 1}" for i, s in enumerate(sources)]
    placements, samples = [], []
    for source, name in zip(sources, names):
        try:
            decoded = decode(source, name=name)
        except AudioError as exc:
            placements.append(Placement(name, error=str(exc)))
            continue
        placements.append(Placement(name, warnings=list(decoded.warnings)))
        samples.append(decoded.samples)
    readable = [p for p in placements if p.error is None]
    if not readable:
        return placements
    taggers, missing = available_taggers(keys)
    for done, (key, tagger) in enumerate(taggers.items(), start=1):
        if progress:
            progress(done - 1, len(taggers))
        state = status(collection, key)
        if not state.ready:
            missing[key] = state.message
            continue
        for placement, where in zip(readable, place_on(collection, tagger, samples, k)):
            placement.models[key] = where
    for placement in readable:
        placement.unavailable = dict(missing)
    if not any(p.models for p in readable):
        if taggers:
            raise ShroomsError(f"{collection.name} needs at least 4 tracks with embeddings to place songs on: run "
                               f"`shrooms precompute --collection {collection.source} --models {','.join(taggers)}` first")
        raise ShroomsError("no tagger could place these songs: " + "; ".join(missing.values()))
    return placements
