"""The notebook API: tag audio, embed a collection, with inputs checked at the edge (one clear error).

Everything here is re-exported from `shrooms` itself::

    import shrooms
    out = shrooms.tag("song.mp3", models=["fcn"])["fcn"]      # TrackOutput: tags (50,), embedding (64,)
    emb = shrooms.embed("path/to/folder", models=["fcn", "musicnn"], cache_dir="~/shrooms-cache")
    xy = shrooms.TagMap(seed=0).fit(emb.embeddings["fcn"]).embedding_
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .audio import SAMPLE_RATE, load_audio, resample
from . import collections, maps
from . import place as placing
from .collections import Collection
from .config import using_cache
from .errors import ShroomsError
from .precompute import precompute
from .status import status
from .store import Store
from .taggers import TAGGERS, TrackOutput, get_spec, load_tagger
from .taggers.inference import tag_file

MIN_SR, MAX_SR = 1_000, 768_000

# `shrooms.place` and `shrooms.status` are functions of the public API and modules too: loading a module
# sets the package's attribute to it, so drop those so that `shrooms.place(...)` gets the function (the
# package's lazy __getattr__ hands it out) even when this module loaded `shrooms.place` first.
for _name in ("place", "status"):
    if isinstance(vars(sys.modules[__package__]).get(_name), type(sys)):
        del vars(sys.modules[__package__])[_name]


MAX_CHANNELS = 32  # a 2-D array's channel axis is the one of at most this size (22.2 audio has 24)


def valid_audio(y: np.ndarray, sr: int | None) -> np.ndarray:
    """Check an audio array as librosa's ``valid_audio`` does, and return it as 16-kHz mono float32.

    Parameters
    ----------
    y : np.ndarray, shape (n,), (n, channels) or (channels, n)
        Samples, floating point, finite. A 2-D array may come as soundfile returns it, (n, channels), or as
        librosa does, (channels, n): the channel axis is the one of at most 32 (`MAX_CHANNELS`), and the
        channels are averaged. A shape where both or neither axis could be the channels is an error.
    sr : int
        The sample rate of `y` in Hz (1,000 to 768,000).

    Returns
    -------
    np.ndarray, shape (m,), float32
        Mono samples at 16 kHz.

    Raises
    ------
    ShroomsError
        One line saying what is wrong with `y` or `sr`.
    """
    if not isinstance(y, np.ndarray):
        raise ShroomsError(f"audio must be a numpy array, got {type(y).__name__}")
    if sr is None:
        raise ShroomsError("an audio array needs its sample rate: pass sr= (in Hz)")
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or not MIN_SR <= sr <= MAX_SR:
        raise ShroomsError(f"sr must be a whole number of Hz from {MIN_SR:,} to {MAX_SR:,}, got {sr!r}")
    if not np.issubdtype(y.dtype, np.floating):
        raise ShroomsError(f"audio must be floating point (e.g. float32 in [-1, 1]), got dtype {y.dtype}")
    if y.ndim not in (1, 2):
        raise ShroomsError(f"audio must have shape (n,), (n, channels) or (channels, n), got shape {y.shape}")
    if y.size == 0:
        raise ShroomsError(f"audio is empty (0 samples{'' if y.ndim == 1 else f', shape {y.shape}'})")
    mono = y if y.ndim == 1 else y.mean(axis=channel_axis(y.shape))
    if not np.all(np.isfinite(mono)):
        raise ShroomsError("audio contains NaN or infinite samples")
    return resample(mono.astype(np.float32), int(sr))


def channel_axis(shape: tuple[int, int]) -> int:
    """The channel axis of a 2-D audio array: 1 for soundfile's (n, channels), 0 for librosa's (channels, n);
    one clear ShroomsError when the shape does not say (both axes, or neither, of at most MAX_CHANNELS)."""
    small = [size <= MAX_CHANNELS for size in shape]
    if small == [False, True]:
        return 1
    if small == [True, False]:
        return 0
    raise ShroomsError(f"audio of shape {shape} is ambiguous: pass (n, channels) as soundfile.read returns it or "
                       f"(channels, n) as librosa.load(mono=False) does, with more than {MAX_CHANNELS} samples and "
                       f"at most {MAX_CHANNELS} channels")


def model_list(models: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """`None`/`"all"` → every tagger key; a key or a list of keys → checked keys."""
    if models is None or models == "all":
        return list(TAGGERS)
    if isinstance(models, str):
        models = [m.strip() for m in models.split(",") if m.strip()]
    return [get_spec(m).key for m in models]


def tag(audio, sr: int | None = None, models: str | list[str] | None = None, cache_dir=None) -> dict[str, TrackOutput]:
    """Tag one song with each tagger: pooled and per-chunk tags and embeddings.

    Parameters
    ----------
    audio : str, path-like, bytes or np.ndarray
        A file (any format soundfile reads: wav, flac, ogg, mp3, …), its bytes, or samples of shape (n,),
        (n, channels) as ``soundfile.read`` returns them or (channels, n) as ``librosa.load(mono=False)``
        does — then `sr` is required (see `valid_audio`).
    sr : int, optional
        Sample rate of an array in Hz; it is resampled to the taggers' 16 kHz. Not used with files (their
        header says it).
    models : str or list of str, optional
        Tagger keys (default: every tagger whose weights are on this machine).
    cache_dir : path-like, optional
        The cache whose ``weights/`` is searched after ``$SHROOMS_WEIGHTS_DIR`` (default: see `load_collection`).

    Returns
    -------
    dict of str to TrackOutput
        Per tagger: ``tags`` (50,) probabilities in ``shrooms.JAMENDO_TAGS`` order, ``embedding`` (D,),
        ``chunk_tags`` (n_chunks, 50) and ``chunk_embeddings`` (n_chunks, D).

    Raises
    ------
    ShroomsError
        Unreadable file, invalid array or sample rate, unknown tagger, or a named tagger without usable
        weights.

    Examples
    --------
    >>> out = shrooms.tag("country.00000.wav", models="fcn")["fcn"]      # doctest: +SKIP
    >>> out.tags.shape, out.embedding.shape                               # doctest: +SKIP
    ((50,), (64,))
    """
    if isinstance(audio, (str, bytes, os.PathLike)) or hasattr(audio, "read"):
        if sr is not None:
            raise ShroomsError("sr= is for audio arrays; a file's sample rate comes from its header")
        if isinstance(audio, (str, os.PathLike)):  # a file: streamed through the taggers, memory flat in its length
            with using_cache(cache_dir):
                return tag_file(Path(os.fspath(audio)) if isinstance(audio, os.PathLike) else audio,
                                {key: load_tagger(key) for key in usable(models)})[0]
        samples = load_audio(audio)
    else:
        samples = valid_audio(audio, sr)
    with using_cache(cache_dir):
        return {key: load_tagger(key).tag(samples) for key in usable(models)}


def usable(models) -> list[str]:
    """The taggers to run: those named (each must have loadable weights), or all that do."""
    keys = model_list(models)
    if models is None or models == "all":
        keys = [k for k in keys if tagger_loads(k)]
        if not keys:
            raise ShroomsError("no tagger has weights on this machine: run `shrooms data weights`")
        return keys
    for key in keys:
        load_tagger(key)  # raises WeightsUnavailable / ShroomsError with the reason
    return keys


def tagger_loads(key: str) -> bool:
    try:
        load_tagger(key)
    except ShroomsError:
        return False
    return True


@dataclass
class Embeddings:
    """Embeddings of a set of tracks, aligned row by row.

    Attributes
    ----------
    tracks : pandas.DataFrame
        One row per track: ``id``, ``path``, ``label`` (None when unlabelled), ``duration`` (s).
    embeddings : dict of str to np.ndarray, each (n_tracks, D)
    tags : dict of str to np.ndarray, each (n_tracks, 50)
    failed : list of dict
        Tracks that could not be read: ``{"id", "path", "reason"}``.
    """

    tracks: pd.DataFrame
    embeddings: dict[str, np.ndarray]
    tags: dict[str, np.ndarray]
    failed: list[dict] = field(default_factory=list)

    @property
    def labels(self) -> np.ndarray:
        """(n_tracks,) labels as strings (``""`` where unlabelled)."""
        return self.tracks["label"].fillna("").to_numpy(dtype=str)


def embed(collection_or_paths, models: str | list[str] | None = None, cache_dir=None,
          progress: bool = True) -> Embeddings:
    """Embeddings and tags of a collection (through the store) or of a list of files (in memory).

    Parameters
    ----------
    collection_or_paths : Collection, str, path-like or list of paths
        A collection, what ``--collection`` takes (``demo``, ``gtzan``, a folder whose sub-folders are
        labels) — computed into the store and reused next time — or a list of audio files, tagged in
        memory and not stored.
    models : str or list of str, optional
        Tagger keys (default: every tagger whose weights are on this machine).
    cache_dir : path-like, optional
        The cache holding the store (default: ``$SHROOMS_CACHE``, a checkout's ``cache/``, else the
        per-user cache folder).
    progress : bool
        Show a progress bar while computing.

    Returns
    -------
    Embeddings
        Rows are the tracks every requested tagger has results for, in collection order.

    Raises
    ------
    ShroomsError
        Unknown tagger, a named tagger without usable weights, a folder that does not exist.
    """
    keys = usable(models)
    if isinstance(collection_or_paths, (list, tuple)):
        return embed_files([Path(os.fspath(p)) for p in collection_or_paths], keys)
    with using_cache(cache_dir):
        coll = collection_or_paths if isinstance(collection_or_paths, Collection) \
            else collections.load_collection(os.fspath(collection_or_paths))
        summary = precompute(coll, keys, show_bar=progress)
        store = Store(coll)
        results = {key: store.load(key) for key in keys}
    common = set.intersection(*(set(r.tracks["id"]) for r in results.values()))
    frame = coll.frame()
    tracks = frame[frame["id"].isin(common)].reset_index(drop=True)

    def aligned(key: str, what: str) -> np.ndarray:
        r = results[key]
        where = {i: n for n, i in enumerate(r.tracks["id"])}
        return getattr(r, what)[[where[i] for i in tracks["id"]]]

    return Embeddings(tracks, {k: aligned(k, "embeddings") for k in keys}, {k: aligned(k, "tags") for k in keys},
                      summary.failed)


def embed_files(paths: list[Path], keys: list[str]) -> Embeddings:
    """Tag files in memory (nothing stored); unreadable files are listed in `failed`."""
    rows, failed = [], []
    embs: dict[str, list] = {k: [] for k in keys}
    tags: dict[str, list] = {k: [] for k in keys}
    for path in paths:
        try:
            samples = load_audio(path)
        except ShroomsError as exc:
            failed.append({"id": path.stem, "path": str(path), "reason": str(exc)})
            continue
        rows.append({"id": path.stem, "path": str(path), "label": None, "duration": len(samples) / SAMPLE_RATE})
        for key in keys:
            out = load_tagger(key).tag(samples)
            embs[key].append(out.embedding)
            tags[key].append(out.tags)
    tracks = pd.DataFrame(rows, columns=["id", "path", "label", "duration"])
    return Embeddings(tracks, {k: np.array(v, np.float32).reshape(len(rows), -1) for k, v in embs.items()},
                      {k: np.array(v, np.float32).reshape(len(rows), -1) for k, v in tags.items()}, failed)


def load_embeddings(collection: Collection | str, tagger: str, cache_dir=None) -> tuple[pd.DataFrame, np.ndarray]:
    """(tracks, embeddings (n, D)) stored for `collection` and `tagger`, without computing anything.

    Raises
    ------
    ShroomsError
        When the tagger has no usable weights or the collection is not computed for it (the message says
        what to run), instead of returning an empty frame.
    """
    with using_cache(cache_dir):
        coll = collection if isinstance(collection, Collection) else collections.load_collection(collection)
        state = status(coll, tagger)
        if not state.ready:
            raise ShroomsError(state.message)
        results = Store(coll).load(get_spec(tagger).key)
    return results.tracks, results.embeddings


def report(collection: Collection | str, models: str | list[str] | None = None, k: int | None = None,
           seeds=(0, 1, 2, 3, 4), space: str = "embedding", cache_dir=None,
           hubness_reduction: str = "none") -> dict:
    """The score table of a computed, labelled collection: a thin wrapper of `shrooms.analysis.report`.

    Parameters
    ----------
    collection : Collection or str
        A collection, or what ``--collection`` takes.
    models : str or list of str, optional
        Tagger keys (default: every tagger that is ready on the collection, see `shrooms.status`).
    k : int, optional
        Clusters (default: the number of labels).
    seeds : sequence of int
        Seeds of the seeded scores (reported as mean ± std).
    space : {"embedding", "taggram"}
    cache_dir : path-like, optional
    hubness_reduction : {"none", "mp", "csls"}
        The neighbour list the k-NN score votes with (`shrooms.hubness`): euclidean in the tagger's space
        (default), mutual proximity or CSLS. Every report lists the hubness of all three.

    Returns
    -------
    dict
        As ``shrooms report --json`` prints it.
    """
    from .analysis import report as collection_report
    with using_cache(cache_dir):
        coll = collection if isinstance(collection, Collection) else collections.load_collection(collection)
        keys = [key for key in model_list(models) if models not in (None, "all") or status(coll, key).ready]
        for key in keys:
            state = status(coll, key)
            if not state.ready:
                raise ShroomsError(state.message)
        if not keys:
            raise ShroomsError(f"{coll.name}: no tagger is ready: run `shrooms precompute --collection {coll.source}`")
        return collection_report(coll, keys, k, tuple(seeds), space, reduction=hubness_reduction)


def load_collection(source: str | os.PathLike | None = "demo", cache_dir=None) -> Collection:
    """A collection, from what ``--collection`` takes.

    Parameters
    ----------
    source : str or path-like
        ``demo`` (generated into the cache on first use), ``gtzan`` (found at ``$SHROOMS_GTZAN`` or in the
        cache's ``datasets/gtzan``) or a music folder whose sub-folders are labels.
    cache_dir : path-like, optional
        The cache (default: ``$SHROOMS_CACHE``, a checkout's ``cache/``, else the per-user cache folder).

    Returns
    -------
    Collection

    Raises
    ------
    ShroomsError
        A folder that does not exist or holds no audio, GTZAN not found.
    """
    with using_cache(cache_dir):
        return collections.load_collection(source if source is None or isinstance(source, str) else os.fspath(source))


def get_map(collection: Collection | str, key: str, method: str = "tsne", dims: int = 2, seed: int = 0,
            space: str = "embedding", results=None, cache_dir=None) -> maps.TagMap:
    """The fitted map of a precomputed collection and tagger (`shrooms.maps.get_map`), read from or saved to
    the cache's ``maps/``.

    Parameters
    ----------
    collection : Collection or str
        A collection, or what ``--collection`` takes.
    key : str
        A tagger key.
    method : {"tsne", "umap", "pca"}
    dims : {2, 3}
    seed : int
    space : {"embedding", "taggram"}
    results : StoredResults, optional
        The stored rows, when the caller has read them already.
    cache_dir : path-like, optional

    Returns
    -------
    TagMap
        Fitted, with ``ids_`` (track ids in row order).
    """
    with using_cache(cache_dir):
        coll = collection if isinstance(collection, Collection) else collections.load_collection(collection)
        return maps.get_map(coll, get_spec(key).key, method, dims, seed, space, results)


def place(sources, collection: Collection | str, keys: list[str] | None = None, k: int = 10,
          names: list[str] | None = None, progress=None, cache_dir=None,
          method: str = "tsne") -> list[placing.Placement]:
    """Place songs on a collection's maps (`shrooms.place.place`): per tagger, map coordinates, top tags,
    nearest tracks, their label mix and the song's novelty.

    Parameters
    ----------
    sources : list of str, path-like, bytes or file objects
    collection : Collection or str
        A precomputed collection, or what ``--collection`` takes.
    keys : list of str, optional
        Tagger keys (default: every tagger with weights and stored rows).
    k : int
        Nearest tracks per song.
    names : list of str, optional
        What to call each song in messages (default: its path, or ``upload N``).
    progress : callable, optional
        ``progress(done, total)`` after each tagger.
    cache_dir : path-like, optional
    method : {"tsne", "umap", "pca"}
        The maps' projection (default t-SNE).

    Returns
    -------
    list of Placement
        One per source, in order; an unreadable source has a one-line ``error`` and no models.
    """
    with using_cache(cache_dir):
        coll = collection if isinstance(collection, Collection) else collections.load_collection(collection)
        return placing.place(list(sources), coll, keys, k, names, progress, method)
