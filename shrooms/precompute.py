"""Precompute: every selected tagger's tags and embeddings for every track of a collection, into the store.

Each track is decoded and resampled once (in a background thread, overlapping inference) and fed to every
tagger that lacks a valid record for it. Records are written per track, atomically, as soon as a group of
tracks is done: kill the run at any moment and the next one resumes where it stopped. Unreadable tracks
are skipped and listed with their reason; taggers without weights are skipped with a note.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
from tqdm import tqdm

from .audio import chunk, load_audio
from .collections import Collection, Track
from .errors import AudioError
from .store import Store
from .taggers import Tagger, available_taggers, pool

GROUP = 8      # tracks whose chunks share forward passes; at most this much work is lost on a kill
PREFETCH = 4   # decoded tracks waiting ahead of inference: bounds memory for any collection size

Progress = Callable[[int, int, float], None]  # (tracks done, tracks to do, seconds elapsed)


@dataclass
class Summary:
    """What a precompute run did."""

    collection: str
    computed: int = 0
    cached: int = 0
    failed: list[dict] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    audio_seconds: float = 0.0

    def lines(self) -> list[str]:
        out = [f"{self.collection}: {self.computed} tracks computed, {self.cached} already cached, "
               f"{len(self.failed)} unreadable, in {self.seconds:.1f} s"
               + (f" ({self.audio_seconds / self.seconds:.0f} s of audio per second)" if self.computed else "")]
        out += [f"  skipped {f['id']}: {f['reason']}" for f in self.failed]
        out += [f"  skipped tagger {key}: weights not available (`shrooms data weights {key}`)"
                for key in self.unavailable]
        return out


def decoded(tracks: list[Track]) -> Iterator[tuple[Track, np.ndarray | AudioError]]:
    """Tracks with their 16-kHz samples (or the decoding error), decoded ahead in a worker thread."""
    with ThreadPoolExecutor(max_workers=1) as decoder:
        pending = [decoder.submit(load_audio, t.path) for t in tracks[:PREFETCH]]
        for i, track in enumerate(tracks):
            if i + PREFETCH < len(tracks):
                pending.append(decoder.submit(load_audio, tracks[i + PREFETCH].path))
            try:
                yield track, pending[i].result()
            except AudioError as exc:
                yield track, exc
            pending[i] = None  # free the samples


def run_group(group: list[tuple[Track, np.ndarray]], tagger: Tagger, store: Store, valid: set[str]) -> None:
    """All chunks of a group of tracks through one tagger together, then one record per track; `valid`
    (the ids already stored) grows as records are written."""
    todo = [(t, x) for t, x in group if t.id not in valid]
    if not todo:
        return
    chunks = [chunk(x, tagger.spec.input_length) for _, x in todo]
    tags, embs = tagger.predict_chunks(np.concatenate(chunks))
    bounds = np.cumsum([0] + [len(c) for c in chunks])
    for (track, _), a, b in zip(todo, bounds[:-1], bounds[1:]):
        store.write(track, tagger, pool(tags[a:b], embs[a:b]))
        valid.add(track.id)


def precompute(collection: Collection, keys: list[str] | None = None, progress: Progress | None = None,
               show_bar: bool = True) -> Summary:
    """Fill the store for `collection` and the taggers `keys` (default: all with weights)."""
    start = time.perf_counter()
    taggers, missing = available_taggers(keys)
    summary = Summary(collection.name, unavailable=missing)
    store = Store(collection)
    valid = {key: store.valid_ids(tagger) for key, tagger in taggers.items()}
    todo = [t for t in collection.tracks if not all(t.id in ids for ids in valid.values())]
    summary.cached = len(collection.tracks) - len(todo)
    bar = tqdm(total=len(todo), unit="track", desc=f"precompute {collection.name}", disable=not show_bar or None)
    group: list[tuple[Track, np.ndarray]] = []

    def flush() -> None:
        for key, tagger in taggers.items():
            run_group(group, tagger, store, valid[key])
        summary.computed += len(group)
        summary.audio_seconds += sum(len(x) for _, x in group) / 16000
        bar.update(len(group))
        bar.set_postfix(audio_x=f"{summary.audio_seconds / max(time.perf_counter() - start, 1e-9):.0f}")
        if progress:
            progress(summary.computed + len(summary.failed), len(todo), time.perf_counter() - start)
        group.clear()

    if taggers and todo:
        for track, samples in decoded(todo):
            if isinstance(samples, AudioError):
                summary.failed.append({"id": track.id, "path": str(track.path), "reason": str(samples)})
                bar.update(1)
                continue
            group.append((track, samples))
            if len(group) >= GROUP:
                flush()
        flush()
    bar.close()
    for key, tagger in taggers.items():
        if summary.computed or not (store.folder(key) / "pooled.npz").is_file():
            store.pack(tagger, valid[key])
    store.write_failures(summary.failed)
    summary.seconds = time.perf_counter() - start
    return summary
