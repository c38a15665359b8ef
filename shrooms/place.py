"""Placing new songs on an existing collection's maps: for every available tagger, the song's tags, embedding, 2-D and
3-D map coordinates (t-SNE by default, or UMAP or PCA; `TagMap.transform`: locally linear placement among the listed
neighbours, no refit), its exact nearest collection tracks in the tagger's space (`shrooms.space`), with the tags
each neighbour shares with it and the tags that separate them ("why here?"), the label mix of those neighbours and
the song's novelty (how far it lies from the collection, as a percentile of the collection's own nearest-neighbour
distances; `neighbours.py`). Placing several songs at once gives the same result as one at a time."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np

from .audio import decode
from .collections import Collection
from .errors import AudioError, ShroomsError
from .config import cache_dir
from .maps import METHODS, TagMap, get_map, results_digest
from .neighbours import label_mix, loo_nearest_distances, novelty_percentile
from .status import status
from .store import Store, StoredResults, atomic_write
from .taggers import TAGGERS, Tagger, available_taggers, top_tags


@dataclass
class Neighbour:
    id: str
    label: str | None
    path: str
    distance: float  # euclidean, in the tagger's space (`shrooms.space`)
    shared_tags: list = field(default_factory=list)      # [(tag, p_placed, p_neighbour)]: heard in both
    separating_tags: list = field(default_factory=list)  # [(tag, p_placed, p_neighbour)]: heard differently


@dataclass
class ModelPlacement:
    key: str
    tags: np.ndarray         # (50,)
    embedding: np.ndarray    # (D,)
    xy: np.ndarray           # (2,) on the 2-D map (of `method`)
    xyz: np.ndarray          # (3,) on the 3-D map
    neighbours: list[Neighbour]
    novelty: float = float("nan")    # 0-100: further from the collection than this % of its own tracks
    neighbour_labels: dict[str, float] = field(default_factory=dict)  # label → fraction of the neighbours
    method: str = "tsne"     # the projection of xy and xyz (`maps.METHODS`)

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


def nearest(results: StoredResults, tag_map: TagMap, embeddings: np.ndarray,
            k: int) -> tuple[list[list[Neighbour]], np.ndarray]:
    """The exact k nearest stored tracks to each embedding (m, D) in the tagger's space (`tag_map.space_`,
    fitted on `results`: the rows the map is drawn from), nearest first: (neighbours per embedding, their
    row indices in `results`, shape (m, k))."""
    dist, idx = tag_map.space_.kneighbors(embeddings, k)
    rows = results.tracks.to_dict("records")
    return [[Neighbour(rows[j]["id"], rows[j]["label"], rows[j]["path"], float(d)) for j, d in zip(i_row, d_row)]
            for i_row, d_row in zip(idx, dist)], idx


def why_here(tags: np.ndarray, neighbour_tags: np.ndarray, names: list[str], n: int = 3) -> tuple[list, list]:
    """The tags a placed track and one neighbour share most, and the tags that separate them most.

    Parameters
    ----------
    tags, neighbour_tags : np.ndarray, shape (n_tags,)
        Tag probabilities of the track and of the neighbour.
    names : list of str
        Tag names (columns).
    n : int
        Tags of each kind.

    Returns
    -------
    shared : list of (tag, p_track, p_neighbour)
        The `n` tags with the highest min(p_track, p_neighbour): what both are heard as.
    separating : list of (tag, p_track, p_neighbour)
        The `n` tags with the largest |p_track - p_neighbour|: where the tagger hears them differ.
    """
    both = np.minimum(tags, neighbour_tags)
    gap = np.abs(tags - neighbour_tags)
    row = lambda j: (names[j].split("---")[-1], round(float(tags[j]), 4), round(float(neighbour_tags[j]), 4))  # noqa: E731
    return ([row(j) for j in np.argsort(-both, kind="stable")[:n]],
            [row(j) for j in np.argsort(-gap, kind="stable")[:n]])


def novelty_baseline(collection: Collection, key: str, results: StoredResults, tag_map: TagMap) -> np.ndarray:
    """Every stored track's distance to its nearest other track in the tagger's space (`tag_map.rows_`;
    `neighbours.loo_nearest_distances`), shape (n,): what a placed song's novelty is ranked against. Computed
    once per set of stored rows and kept beside the maps in `cache/maps/` (at 100,000 tracks it is 100,000
    neighbour queries)."""
    path = (cache_dir() / "maps" / collection.key / key /
            f"novelty-baseline-{results_digest(results, 'embedding')}.npy")
    try:
        baseline = np.load(path)
        if baseline.shape == (len(results.tracks),):
            return baseline
    except (OSError, ValueError):
        pass
    baseline = loo_nearest_distances(tag_map.rows_)
    buffer = io.BytesIO()
    np.save(buffer, baseline)
    try:
        atomic_write(path, buffer.getvalue())
    except OSError:
        pass  # a read-only cache: computed again next time
    return baseline


def place_on(collection: Collection, tagger: Tagger, samples: list[np.ndarray], k: int,
             method: str = "tsne") -> list[ModelPlacement]:
    """One tagger: tag every song, then place and search each (on its own) in the tagger's space and on its
    2-D and 3-D `method` maps."""
    key = tagger.spec.key
    outs = [tagger.tag(x) for x in samples]
    emb = np.stack([o.embedding for o in outs])
    results = Store(collection).load(key)
    flat = get_map(collection, key, method, 2, results=results)
    xy = flat.transform(emb)
    xyz = get_map(collection, key, method, 3, results=results).transform(emb)
    near, idx = nearest(results, flat, emb, k)
    novelty = novelty_percentile(flat.rows_, flat.space_.transform(emb),
                                 novelty_baseline(collection, key, results, flat))
    names = TAGGERS[key].tags
    for o, row_near, row_idx in zip(outs, near, idx):
        for neighbour, j in zip(row_near, row_idx):
            neighbour.shared_tags, neighbour.separating_tags = why_here(o.tags, results.tags[j], names)
    return [ModelPlacement(key, o.tags, o.embedding, xy[i], xyz[i], near[i], float(novelty[i]),
                           label_mix(np.array([n.label for n in near[i]], dtype=object)), method)
            for i, o in enumerate(outs)]


def place(sources: list[str | Path | bytes | BinaryIO], collection: Collection, keys: list[str] | None = None,
          k: int = 10, names: list[str] | None = None,
          progress: Callable[[int, int], None] | None = None, method: str = "tsne") -> list[Placement]:
    """Place songs (paths, bytes or file objects) on `collection`'s maps (`method`: tsne, umap or pca) for every
    tagger in `keys` that has weights and stored embeddings; `progress(done, total)` is called after each
    tagger. A song that cannot be decoded does not stop the others: its Placement carries the one-line
    `error` and no models."""
    if method not in METHODS:
        raise ShroomsError(f"unknown map {method!r}: choose one of {', '.join(METHODS)}")
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
        for placement, where in zip(readable, place_on(collection, tagger, samples, k, method)):
            placement.models[key] = where
    for placement in readable:
        placement.unavailable = dict(missing)
    if not any(p.models for p in readable):
        if taggers:
            raise ShroomsError(f"{collection.name} needs at least 4 tracks with embeddings to place songs on: run "
                               f"`shrooms precompute --collection {collection.source} --models {','.join(taggers)}` first")
        raise ShroomsError("no tagger could place these songs: " + "; ".join(missing.values()))
    return placements
